//! What `builtin:normalize` costs per record, alone: the capture is read and
//! parsed up front (not timed), then `cutover::normalize::normalize` runs over
//! every record's input in one process, round after round; the best round is
//! reported in nanoseconds per record. No I/O, no harness, no output encoding:
//! the port's own work (parsing the input, stripping, building the output
//! `Value`, dropping it).
//!
//!     cargo run --release --example normalize_cost -- [CAPTURE.jsonl] [--rounds N] [--whitespace python|unicode]
//!
//! CAPTURE defaults to the bundled `fixtures/normalize/capture.jsonl`;
//! `--rounds` (default 20) is how many passes over it, best kept. A
//! load-independent figure comes from callgrind, counting only inside the
//! port (one round):
//!
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         --toggle-collect='cutover::normalize::normalize_with*' \
//!         target/release/examples/normalize_cost --rounds 1
//!
//! prints "Collected : <instructions>"; divide by the record count this
//! program prints. `scripts/bench` runs both.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use cutover::normalize::{normalize_with, Whitespace};

// The same allocator as the `cutover` binary, so the costs are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct Record {
    input: Box<RawValue>,
}

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
            flag if flag.starts_with("--") => {
                return Err(format!(
                    "unknown flag {flag}; usage: normalize_cost [CAPTURE.jsonl] [--rounds N] [--whitespace python|unicode]"
                ))
            }
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
    let bytes: usize = inputs.iter().map(|i| i.get().len()).sum();
    let mut best = f64::INFINITY;
    let mut errors = 0;
    for _ in 0..rounds {
        errors = 0;
        let start = Instant::now();
        for input in &inputs {
            if black_box(normalize_with(black_box(input), whitespace)).is_err() {
                errors += 1;
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let n = inputs.len() as f64;
    println!(
        "{} records ({} input bytes, {errors} raise), best of {rounds} rounds: {:.3} us/record ({:.1} ns/input byte)",
        inputs.len(),
        bytes,
        best * 1e6 / n,
        best * 1e9 / bytes as f64
    );
    Ok(())
}
