//! `diffs.txt`: unified diffs of the non-matching records, for people (a
//! [`Sink`]).
//!
//! Each entry starts with a `=== ` header naming the record (id, key, outcome,
//! source and line) and its differing paths, followed by the unified diff of
//! the two pretty-printed answers. Only the first `max` entries are written, so
//! the file stays readable and bounded; the last line says how many were left
//! out (all of them are in `mismatches.csv`).
//!
//! The diff text is the one the engine made for the record
//! ([`RecordResult::diff`]), off this single writer's thread; a record
//! without one (a caller that did not ask the engine for it) is diffed here.

use super::csv_sink::paths_cell;
use super::sink::{Mismatch, Sink};
use super::{write_err, ReportError, Summary, DIFFS_FILE};
use crate::compare::unified_diff;
use crate::model::RecordResult;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct DiffsFile {
    path: PathBuf,
    out: BufWriter<File>,
    max: usize,
    written: usize,
    omitted: u64,
}

impl DiffsFile {
    /// Creates `diffs.txt` in `dir`; it shows the first `max` records.
    pub fn create(dir: &Path, max: usize) -> Result<Self, ReportError> {
        let path = &dir.join(DIFFS_FILE);
        let file = File::create(path).map_err(write_err(path))?;
        Ok(DiffsFile {
            path: path.to_owned(),
            out: BufWriter::new(file),
            max,
            written: 0,
            omitted: 0,
        })
    }

    fn write(&mut self, result: &RecordResult, group: &str) -> Result<(), ReportError> {
        if self.written >= self.max {
            self.omitted += 1;
            return Ok(());
        }
        self.written += 1;
        let paths = paths_cell(result);
        let text = format!(
            "=== id={:?} key={} outcome={} group={} ({}:{}){}\n{}\n",
            result.id,
            result
                .key
                .as_deref()
                .map_or_else(|| "-".to_owned(), |k| format!("{k:?}")),
            result.verdict.outcome.as_str(),
            group,
            result.origin.source,
            result.origin.line,
            if paths.is_empty() {
                String::new()
            } else {
                format!(" paths: {paths}")
            },
            match &result.diff {
                Some(diff) => std::borrow::Cow::Borrowed(diff.as_str()),
                None => unified_diff(&result.legacy.answer, &result.candidate.answer).into(),
            },
        );
        self.out
            .write_all(text.as_bytes())
            .map_err(write_err(&self.path))
    }
}

impl Sink for DiffsFile {
    fn mismatch(&mut self, mismatch: &Mismatch<'_>) -> Result<(), ReportError> {
        self.write(mismatch.result, mismatch.group)
    }

    fn checkpoint(&mut self, _: &Summary, _: &Path) -> Result<(), ReportError> {
        self.out.flush().map_err(write_err(&self.path))
    }

    fn finish(mut self: Box<Self>, _: &Summary, _: &Path) -> Result<(), ReportError> {
        if self.omitted > 0 {
            writeln!(
                self.out,
                "... {} more non-matching records are not shown here (--max-diffs {}); every one is in mismatches.csv",
                self.omitted, self.max
            )
            .map_err(write_err(&self.path))?;
        }
        self.out.flush().map_err(write_err(&self.path))
    }
}
