//! `mismatches.csv`: one row per non-matching record, written with the `csv`
//! crate (a [`Sink`]).
//!
//! Columns: `id`, `key`, `outcome`, `group` (the mismatch group label, as in
//! `summary.json`), `paths` (each differing JSON Pointer with its
//! kind, `; `-separated, with a `(+N more)` note past the per-record cap;
//! a path learned as noise for the record (`--noise-probe`) is followed by
//! ` (noise)`, so `report show`, `diffs.txt` and the page mark it),
//! `legacy`, `candidate` (each side's answer as compact JSON: the output, or
//! `{"error": {...}}`, or `{"timeout": ...}`), `source`, `line`, `signature`
//! (the record's group signature) and `input` (the record's input JSON, so
//! every non-matching record can be shown, re-run and minimized from the run
//! directory alone). An absent key is an empty cell. No timing columns, so the
//! file is deterministic. The schema is [`super::row`].

use super::sink::{Mismatch, Sink};
use super::{write_err, ReportError, Summary, MISMATCHES_FILE};
use crate::model::{Answer, RecordResult};
use serde_json::json;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub struct MismatchCsv {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
}

fn csv_err(path: &Path) -> impl FnOnce(csv::Error) -> ReportError + '_ {
    move |e| write_err(path)(e.into())
}

/// An answer as one compact JSON cell.
pub fn answer_cell(answer: &Answer) -> String {
    match answer {
        Answer::Output(v) => v.to_string(),
        Answer::Error(e) => json!({ "error": e }).to_string(),
        Answer::Timeout(d) => json!({ "timeout": format!("no answer within {d:?}") }).to_string(),
    }
}

/// The `paths` cell.
pub fn paths_cell(result: &RecordResult) -> String {
    let verdict = &result.verdict;
    let mut cell = verdict
        .differences
        .iter()
        .map(|d| {
            let noise = result.noise.as_ref().is_some_and(|n| n.contains(&d.path));
            format!(
                "{} {}{}",
                d.path,
                d.kind.as_str(),
                if noise { " (noise)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let more = verdict
        .total_differences
        .saturating_sub(verdict.differences.len());
    if more > 0 {
        cell.push_str(&format!("; (+{more} more)"));
    }
    cell
}

impl MismatchCsv {
    /// Creates `mismatches.csv` in `dir`, with its header.
    pub fn create(dir: &Path) -> Result<Self, ReportError> {
        let path = &dir.join(MISMATCHES_FILE);
        let file = File::create(path).map_err(write_err(path))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        writer
            .write_record(super::row::COLUMNS)
            .map_err(csv_err(path))?;
        Ok(MismatchCsv {
            path: path.to_owned(),
            writer,
        })
    }
}

impl Sink for MismatchCsv {
    fn mismatch(&mut self, mismatch: &Mismatch<'_>) -> Result<(), ReportError> {
        self.writer
            .write_record(mismatch.cells.as_record())
            .map_err(csv_err(&self.path))
    }

    fn checkpoint(&mut self, _: &Summary, _: &Path) -> Result<(), ReportError> {
        self.writer.flush().map_err(write_err(&self.path))
    }

    fn finish(mut self: Box<Self>, _: &Summary, _: &Path) -> Result<(), ReportError> {
        self.writer.flush().map_err(write_err(&self.path))
    }
}
