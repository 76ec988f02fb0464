//! What `builtin:normalize` costs per record, alone: the capture is read and
//! parsed up front (not timed), then the port runs over every record's input
//! in one process, round after round; the best round is reported in
//! nanoseconds per record. No I/O, no harness: the port's own work (parsing
//! the input, stripping, building the output, dropping it). `--path` picks
//! which answer is built: `value` (the default), the `serde_json::Value` of
//! `cutover::normalize::normalize_with`; `text`, the JSON text of
//! `normalize_text_with`; `both`, one line each, their rounds alternated.
//!
//!     cargo run --release --example normalize_cost -- [CAPTURE.jsonl] [--rounds N] [--whitespace python|unicode] [--path value|text|both] [--check]
//!
//! CAPTURE defaults to the bundled `fixtures/normalize/capture.jsonl`;
//! `--rounds` (default 20) is how many passes over it, best kept. `--check`
//! times nothing: it answers every record both ways and requires the same
//! exception or text that parses to the same `Value` (exit 2 naming the first
//! line that differs). A load-independent figure comes from callgrind,
//! counting only inside the port (one round; the text path's function is
//! `normalize_text_with*`):
//!
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         --toggle-collect='cutover::normalize::normalize_with*' \
//!         target/release/examples/normalize_cost --rounds 1
//!
//! prints "Collected : <instructions>"; divide by the record count this
//! program prints. `scripts/bench` runs both.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use cutover::normalize::{normalize_text_with, normalize_with, Whitespace};

// The same allocator as the `cutover` binary, so the costs are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct Record {
    input: Box<RawValue>,
}

/// Which answer is timed.
#[derive(Clone, Copy)]
enum Path {
    Value,
    Text,
}

const USAGE: &str = "usage: normalize_cost [CAPTURE.jsonl] [--rounds N] [--whitespace python|unicode] [--path value|text|both] [--check]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("normalize_cost: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut path = String::from("fixtures/normalize/capture.jsonl");
    let mut rounds: u32 = 20;
    let mut whitespace = Whitespace::Python;
    let mut paths = vec![Path::Value];
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--rounds needs a positive integer")?;
            }
            "--whitespace" => {
                whitespace = match args.next().as_deref() {
                    Some("python") => Whitespace::Python,
                    Some("unicode") => Whitespace::Unicode,
                    _ => return Err("--whitespace needs python or unicode".into()),
                };
            }
            "--path" => {
                paths = match args.next().as_deref() {
                    Some("value") => vec![Path::Value],
                    Some("text") => vec![Path::Text],
                    Some("both") => vec![Path::Value, Path::Text],
                    _ => return Err("--path needs value, text or both".into()),
                };
            }
            "--check" => check = true,
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}; {USAGE}")),
            _ => path = arg,
        }
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let inputs = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str::<Record>(line)
                .map(|r| r.input)
                .map_err(|e| format!("{path}: line {}: {e}", i + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if inputs.is_empty() {
        return Err(format!("{path}: no records"));
    }
    if check {
        for (i, input) in inputs.iter().enumerate() {
            let value = normalize_with(input, whitespace);
            let answer = normalize_text_with(input, whitespace)
                .map(|text| serde_json::from_str::<Value>(&text).map_err(|e| (e, text)));
            let agree = match (&value, &answer) {
                (Ok(value), Ok(Ok(parsed))) => value == parsed,
                (Err(a), Err(b)) => a == b,
                _ => false,
            };
            if !agree {
                return Err(format!(
                    "{path}: line {}: the text answer {answer:?} is not the value answer {value:?}",
                    i + 1
                ));
            }
        }
        println!(
            "{} records: the text answer and the value answer agree on every one",
            inputs.len()
        );
        return Ok(());
    }
    let bytes: usize = inputs.iter().map(|i| i.get().len()).sum();
    let mut best = vec![f64::INFINITY; paths.len()];
    let mut errors = 0;
    for _ in 0..rounds {
        for (which, &timed) in paths.iter().enumerate() {
            errors = 0;
            let start = Instant::now();
            for input in &inputs {
                let failed = match timed {
                    Path::Value => black_box(normalize_with(black_box(input), whitespace)).is_err(),
                    Path::Text => {
                        black_box(normalize_text_with(black_box(input), whitespace)).is_err()
                    }
                };
                errors += usize::from(failed);
            }
            best[which] = best[which].min(start.elapsed().as_secs_f64());
        }
    }
    let n = inputs.len() as f64;
    for (&timed, best) in paths.iter().zip(best) {
        let name = match timed {
            Path::Value => "value",
            Path::Text => "text",
        };
        println!(
            "{} records ({} input bytes, {errors} raise), {name} path, best of {rounds} rounds: {:.3} us/record ({:.1} ns/input byte)",
            inputs.len(),
            bytes,
            best * 1e6 / n,
            best * 1e9 / bytes as f64
        );
    }
    Ok(())
}
