//! The floor: the least any replay of a capture must do. Reads a capture
//! (JSON Lines, `{"id", "key", "input"}` per line) with a 64 KiB buffer, parses
//! every line with serde_json into a small struct (the input kept as raw
//! text), counts the lines and prints the count. Nothing else.
//!
//!     cargo run --release --example parse_floor -- bench-out/traffic-1000000.jsonl
//!
//! `scripts/bench` compares `builtin:normalize` vs `builtin:normalize` replay
//! time against this program's time.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

#[derive(Deserialize)]
#[allow(dead_code)] // the fields are parsed, never read: parsing is the point
struct Record {
    id: Option<String>,
    key: Option<String>,
    input: Box<RawValue>,
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse_floor CAPTURE.jsonl");
        return ExitCode::from(2);
    };
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("parse_floor: {}: {e}", path.to_string_lossy());
            return ExitCode::from(2);
        }
    };
    let mut reader = BufReader::with_capacity(64 << 10, file);
    let mut line = String::new();
    let mut count: u64 = 0;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("parse_floor: read error after line {count}: {e}");
                return ExitCode::from(2);
            }
        }
        count += 1;
        if let Err(e) = serde_json::from_str::<Record>(&line) {
            eprintln!("parse_floor: line {count}: {e}");
            return ExitCode::from(2);
        }
    }
    println!("{count}");
    ExitCode::SUCCESS
}
