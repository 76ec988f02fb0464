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
//!
//! Rows are streamed with each record's provisional group label (by first
//! appearance); at the end the file is rewritten once with the final labels
//! (by size, [`super::groups`]): read row by row and written to a temp file
//! beside it, which is renamed over it, so memory stays one row and a reader
//! sees the old file or the new one. Nothing is rewritten when no label
//! changes.

use super::sink::{Mismatch, Sink};
use super::Relabel;
use super::{write_err, ReportError, Summary, MISMATCHES_FILE};
use crate::model::{Answer, RecordResult};
use serde_json::json;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub struct MismatchCsv {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    relabel: Option<Relabel>,
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
            relabel: None,
        })
    }
}

/// The column of `mismatches.csv` that holds the group label.
const GROUP_COLUMN: usize = 3;

/// Rewrites the finished `path` with each row's final group label, one row
/// in memory at a time ([`super::rewrite`]).
fn rewrite_labels(path: &Path, relabel: &Relabel) -> Result<(), ReportError> {
    debug_assert_eq!(super::row::COLUMNS[GROUP_COLUMN], "group");
    super::rewrite(path, |old, new| {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(old);
        let mut writer = csv::Writer::from_writer(new);
        let (mut row, mut out) = (csv::ByteRecord::new(), csv::ByteRecord::new());
        let mut header = true;
        while reader.read_byte_record(&mut row)? {
            if std::mem::take(&mut header) {
                writer.write_byte_record(&row)?;
                continue;
            }
            out.clear();
            for (i, cell) in row.iter().enumerate() {
                match std::str::from_utf8(cell) {
                    Ok(label) if i == GROUP_COLUMN => {
                        out.push_field(relabel.label(label).as_bytes())
                    }
                    _ => out.push_field(cell),
                }
            }
            writer.write_byte_record(&out)?;
        }
        writer.flush()
    })
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

    fn relabel(&mut self, relabel: &Relabel) {
        self.relabel = Some(relabel.clone());
    }

    fn finish(mut self: Box<Self>, _: &Summary, _: &Path) -> Result<(), ReportError> {
        self.writer.flush().map_err(write_err(&self.path))?;
        match self.relabel.take() {
            Some(relabel) if !relabel.is_identity() => rewrite_labels(&self.path, &relabel),
            _ => Ok(()),
        }
    }
}
