//! The Rust candidate with no harness around it: `cutover::normalize` over a
//! capture file in a plain batch loop, the counterpart of `legacy/batch.py`.
//!
//! Reads a capture (JSON Lines, `{"id", "key", "input"}` per line) and writes,
//! per record, `{"id": ..., "output": ...}` or
//! `{"id": ..., "error": {"type": ..., "message": ...}}` to stdout, formatted
//! the way Python's `json.dumps` formats it (`", "` and `": "` separators,
//! `ensure_ascii` escapes), so `diff` against `legacy/batch.py`'s output shows
//! only real differences.
//!
//!     cargo run --release --example normalize_batch -- capture.jsonl > b
//!     cargo run --release --example normalize_batch -- --lean capture.jsonl > b
//!
//! With `--lean` it writes what `legacy/lean_batch.py` writes instead: per
//! record only the output, or `{"error": {...}}`, with compact separators (no
//! ids: the line number is the id). `scripts/bench` times
//! `lean_batch.py > a; normalize_batch --lean > b; diff a b` as the naive
//! pipeline cutover replay is measured against.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

#[derive(Deserialize)]
#[allow(dead_code)] // `key` is parsed (as the harness does), never used
struct Record {
    /// `None`: no `id` field (the line number stands in, as in batch.py);
    /// `Some(None)`: `"id": null`, echoed as `null` like Python does.
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<String>>,
    key: Option<String>,
    input: Box<RawValue>,
}

/// Tells a present field (even `null`) from a missing one.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(de: D) -> Result<Option<T>, D::Error> {
    T::deserialize(de).map(Some)
}

/// Writes `text` as a JSON string the way `json.dumps(..., ensure_ascii=True)`
/// does: printable ASCII as is, `\"` `\\` `\n` `\r` `\t` `\b` `\f`, everything
/// else as `\uxxxx` (lowercase hex, UTF-16 surrogate pairs above U+FFFF).
fn write_py_str(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let plain = (' '..='~').contains(&c) && c != '"' && c != '\\';
        if plain {
            continue;
        }
        out.write_all(&bytes[start..i])?;
        start = i + c.len_utf8();
        match c {
            '"' => out.write_all(b"\\\"")?,
            '\\' => out.write_all(b"\\\\")?,
            '\n' => out.write_all(b"\\n")?,
            '\r' => out.write_all(b"\\r")?,
            '\t' => out.write_all(b"\\t")?,
            '\u{8}' => out.write_all(b"\\b")?,
            '\u{c}' => out.write_all(b"\\f")?,
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut units = [0u16; 2];
                for &mut unit in c.encode_utf16(&mut units) {
                    let u = unit as usize;
                    out.write_all(&[
                        b'\\',
                        b'u',
                        HEX[u >> 12],
                        HEX[(u >> 8) & 0xf],
                        HEX[(u >> 4) & 0xf],
                        HEX[u & 0xf],
                    ])?;
                }
            }
        }
    }
    out.write_all(&bytes[start..])?;
    out.write_all(b"\"")
}

/// How records are written: as `legacy/batch.py` or as `legacy/lean_batch.py` does.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    /// `{"id": ..., "output": ...}`, `json.dumps`'s default separators.
    Batch,
    /// The output alone (or `{"error": ...}`), separators `,` and `:`.
    Lean,
}

impl Format {
    fn comma(self) -> &'static [u8] {
        match self {
            Format::Batch => b", ",
            Format::Lean => b",",
        }
    }

    fn colon(self) -> &'static [u8] {
        match self {
            Format::Batch => b": ",
            Format::Lean => b":",
        }
    }
}

/// Writes `value` the way `json.dumps` does with the format's separators.
fn write_py_value(out: &mut impl Write, value: &Value, format: Format) -> io::Result<()> {
    match value {
        Value::Null => out.write_all(b"null"),
        Value::Bool(true) => out.write_all(b"true"),
        Value::Bool(false) => out.write_all(b"false"),
        // normalize never puts numbers in its output; integers print alike, and
        // floats would differ from Python's repr only in rare spellings.
        Value::Number(n) => write!(out, "{n}"),
        Value::String(s) => write_py_str(out, s),
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(format.comma())?;
                }
                write_py_value(out, item, format)?;
            }
            out.write_all(b"]")
        }
        Value::Object(map) => {
            out.write_all(b"{")?;
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.write_all(format.comma())?;
                }
                write_py_str(out, key)?;
                out.write_all(format.colon())?;
                write_py_value(out, item, format)?;
            }
            out.write_all(b"}")
        }
    }
}

fn run(path: &std::ffi::OsStr, format: Format) -> Result<(), String> {
    let name = path.to_string_lossy();
    let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut reader = BufReader::with_capacity(64 << 10, file);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 << 10, stdout.lock());
    let mut line = String::new();
    let mut number: u64 = 0;
    let write_err = |e: io::Error| format!("writing stdout: {e}");
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .map_err(|e| format!("{name}: {e}"))?
            == 0
        {
            break;
        }
        number += 1;
        let record: Record =
            serde_json::from_str(&line).map_err(|e| format!("{name}: line {number}: {e}"))?;
        if format == Format::Batch {
            out.write_all(b"{\"id\": ").map_err(write_err)?;
            match &record.id {
                Some(Some(id)) => write_py_str(&mut out, id),
                Some(None) => out.write_all(b"null"),
                None => write_py_str(&mut out, &number.to_string()),
            }
            .map_err(write_err)?;
        }
        match (cutover::normalize::normalize(&record.input), format) {
            (Ok(output), Format::Batch) => {
                out.write_all(b", \"output\": ").map_err(write_err)?;
                write_py_value(&mut out, &output, format).map_err(write_err)?;
            }
            (Ok(output), Format::Lean) => {
                write_py_value(&mut out, &output, format).map_err(write_err)?;
            }
            (Err(exc), _) => {
                let head: &[u8] = match format {
                    Format::Batch => b", \"error\": ",
                    Format::Lean => b"{\"error\":",
                };
                out.write_all(head).map_err(write_err)?;
                out.write_all(b"{\"type\"").map_err(write_err)?;
                out.write_all(format.colon()).map_err(write_err)?;
                write_py_str(&mut out, exc.kind).map_err(write_err)?;
                out.write_all(format.comma()).map_err(write_err)?;
                out.write_all(b"\"message\"").map_err(write_err)?;
                out.write_all(format.colon()).map_err(write_err)?;
                write_py_str(&mut out, &exc.message).map_err(write_err)?;
                let tail: &[u8] = match format {
                    Format::Batch => b"}",
                    Format::Lean => b"}}", // the error and the line's object
                };
                out.write_all(tail).map_err(write_err)?;
            }
        }
        let end: &[u8] = match format {
            Format::Batch => b"}\n",
            Format::Lean => b"\n",
        };
        out.write_all(end).map_err(write_err)?;
    }
    out.flush().map_err(write_err)
}

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let format = if args.first().is_some_and(|a| a == "--lean") {
        args.remove(0);
        Format::Lean
    } else {
        Format::Batch
    };
    let [path] = args.as_slice() else {
        eprintln!("usage: normalize_batch [--lean] CAPTURE.jsonl > results.jsonl");
        return ExitCode::from(2);
    };
    match run(path, format) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.contains("Broken pipe") => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("normalize_batch: {e}");
            ExitCode::from(2)
        }
    }
}
