//! What `builtin:normalize` costs per record, alone: the capture is read and
//! parsed up front (not timed), then the port runs over every record's input
//! in one process, round after round; the best round is reported in
//! nanoseconds per record. No I/O, no harness: the port's own work (parsing
//! the input, stripping, building the output, dropping it). `--path` picks
//! which answer is built: `value` (the default), the `serde_json::Value` of
//! `cutover::normalize::normalize_with`; `text`, the JSON text of
//! `normalize_text_with`; `strict`, the same text for an input known to be
//! strict JSON (`normalize_text_of_strict`, which skips the port's own pass
//! for lone surrogates: what a replay's builtin side runs, since the capture
//! reader has checked every input it hands over; an input with a lone
//! surrogate, which the reader would have rejected, takes `text` here);
//! `both` (value and text) or `all`, one line each, their rounds alternated.
//!
//!     cargo run --release --example normalize_cost -- [CAPTURE.jsonl] [--rounds N] [--whitespace python|unicode] [--path value|text|strict|both|all] [--check]
//!
//! CAPTURE defaults to the bundled `fixtures/normalize/capture.jsonl`;
//! `--rounds` (default 20) is how many passes over it, best kept. `--check`
//! times nothing: it answers every record both ways and requires the same
//! exception or text that parses to the same `Value` (exit 2 naming the first
//! line that differs), and the strict text the same as the text. A
//! load-independent figure comes from callgrind, counting only inside the
//! port (one round; the text path's function is `normalize_text_with*`, the
//! strict path's `normalize_text_of_strict*`):
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

use cutover::model::lone_surrogate;
use cutover::normalize::{
    normalize_text_of_strict, normalize_text_with, normalize_with, Whitespace,
};

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
    Strict,
}

const USAGE: &str = "usage: normalize_cost [CAPTURE.jsonl] [--rounds N] [--whitespace python|unicode] [--path value|text|strict|both|all] [--check]";

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
                    Some("strict") => vec![Path::Strict],
                    Some("both") => vec![Path::Value, Path::Text],
                    Some("all") => vec![Path::Value, Path::Text, Path::Strict],
                    _ => return Err("--path needs value, text, strict, both or all".into()),
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
    // What the capture reader would have found (not timed): whether each
    // input is strict, for the `strict` path.
    let strict: Vec<bool> = inputs
        .iter()
        .map(|input| lone_surrogate(input.get().as_bytes()).is_none())
        .collect();
    let strict_text = |input: &RawValue, strict: bool| match strict {
        true => normalize_text_of_strict(input, whitespace),
        false => normalize_text_with(input, whitespace),
    };
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
            let text = normalize_text_with(input, whitespace);
            let of_strict = strict_text(input, strict[i]);
            if of_strict != text {
                return Err(format!(
                    "{path}: line {}: the strict text answer {of_strict:?} is not the text answer {text:?}",
                    i + 1
                ));
            }
        }
        println!(
            "{} records: the text answer, the strict text answer and the value answer agree on every one",
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
            for (input, &strict) in inputs.iter().zip(&strict) {
                let failed = match timed {
                    Path::Value => black_box(normalize_with(black_box(input), whitespace)).is_err(),
                    Path::Text => {
                        black_box(normalize_text_with(black_box(input), whitespace)).is_err()
                    }
                    Path::Strict => black_box(strict_text(black_box(input), strict)).is_err(),
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
            Path::Strict => "strict text",
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
