//! `cutover import FILE --out capture.jsonl`: a HAR or GoReplay capture
//! converted to cutover's JSON Lines ([`crate::traffic::import::convert`]).
//!
//! # Contract
//! - The output is written to a temporary file next to `--out` and renamed
//!   into place when the whole input is read, so a failed import leaves no
//!   half file; `--out -` writes stdout.
//! - Headers named by `--redact-headers` (default `authorization,cookie`)
//!   have their values replaced with `<redacted>`, in requests and responses.
//! - It says on stderr how many entries it read, wrote and rejected, with
//!   the first rejections' positions and reasons (escaped: they quote the
//!   capture). Exit 0 when nothing was rejected, 1 when something was, 2
//!   when the input cannot be read or the output written.

use super::args::ImportArgs;
use super::Exit;
use crate::traffic::{Format, TrafficSpec};
use anyhow::Context;
use std::io::{BufReader, BufWriter, Write};

pub fn run(args: ImportArgs) -> anyhow::Result<Exit> {
    let spec = TrafficSpec::from_arg(&args.file.to_string_lossy(), args.format);
    let format = match spec.effective_format() {
        f @ (Format::Har | Format::Gor) => f,
        other => anyhow::bail!(
            "{}: cannot tell an HTTP capture format from the name (read as {}); pass --format har or --format gor",
            args.file.display(),
            other.as_str()
        ),
    };
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    let redact: Vec<String> = args
        .redact_headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let what = || format!("cannot import {}", args.file.display());
    let mut convert = |out: &mut dyn Write| {
        crate::traffic::import::convert(format, &mut input, out, &redact, args.max_record_bytes)
            .with_context(what)
    };
    let report = if args.out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        let report = convert(&mut out)?;
        out.flush().context("cannot write <stdout>")?;
        report
    } else {
        let dir = args
            .out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let temp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        let mut out = BufWriter::new(temp);
        let report = convert(&mut out)?;
        let temp = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        temp.persist(&args.out)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        report
    };
    let mut text = format!(
        "cutover import: {} entries read from {}: {} exchanges written to {}, {} rejected\n",
        report.read,
        args.file.display(),
        report.exchanges,
        args.out.display(),
        report.rejected
    );
    for (position, reason) in &report.rejections {
        text.push_str(&format!("  rejected at {position}: {reason}\n"));
    }
    if report.rejected > report.rejections.len() as u64 {
        text.push_str(&format!(
            "  ... and {} more\n",
            report.rejected - report.rejections.len() as u64
        ));
    }
    eprint!(
        "{}",
        crate::util::escape::escape_lines(&crate::util::redact::text(&text))
    );
    Ok(if report.rejected > 0 {
        Exit::Found
    } else {
        Exit::Clean
    })
}
