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
//! (by size, [`super::groups`]): its bytes copied to a temp file beside it,
//! only each row's group cell replaced (found by following the CSV quoting,
//! byte by byte, so no row is parsed or written again), which is renamed
//! over it, so memory stays one buffer and a reader sees the old file or
//! the new one. Nothing is rewritten when no label
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

/// Rewrites the finished `path` with each row's final group label
/// ([`super::rewrite`]): the bytes are copied as they are, except the group
/// cell of each row, which is found by following the CSV quoting byte by
/// byte (a field that starts with `"` runs to a `"` not followed by
/// another), so no row is parsed or written again.
fn rewrite_labels(path: &Path, relabel: &Relabel) -> Result<(), ReportError> {
    debug_assert_eq!(super::row::COLUMNS[GROUP_COLUMN], "group");
    super::rewrite(path, |mut old, new| {
        let mut labels = Relabeler::new(relabel);
        loop {
            let chunk = std::io::BufRead::fill_buf(&mut old)?;
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            labels.feed(chunk, new)?;
            std::io::BufRead::consume(&mut old, n);
        }
        labels.end(new)
    })
}

/// The byte-level state of [`rewrite_labels`].
struct Relabeler<'r> {
    relabel: &'r Relabel,
    /// The field of the current row, from 0.
    field: usize,
    /// At the first byte of a field.
    at_start: bool,
    /// Inside a quoted field; `quote_seen`: its last byte was a `"`, which
    /// ends the field unless another follows.
    quoted: bool,
    quote_seen: bool,
    /// The header row is copied as it is.
    header: bool,
    /// The group cell so far.
    cell: Vec<u8>,
}

impl<'r> Relabeler<'r> {
    fn new(relabel: &'r Relabel) -> Self {
        Relabeler {
            relabel,
            field: 0,
            at_start: true,
            quoted: false,
            quote_seen: false,
            header: true,
            cell: Vec::new(),
        }
    }

    fn in_group_cell(&self) -> bool {
        !self.header && self.field == GROUP_COLUMN
    }

    /// Writes the relabelled group cell once it has ended.
    fn flush_cell(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let label = match std::str::from_utf8(&self.cell) {
            Ok(text) => self.relabel.label(text).as_bytes(),
            Err(_) => &self.cell[..],
        };
        out.write_all(label)?;
        self.cell.clear();
        Ok(())
    }

    fn feed(&mut self, bytes: &[u8], out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if self.quoted {
                if self.quote_seen {
                    self.quote_seen = false;
                    if bytes[i] == b'"' {
                        i += 1;
                        continue;
                    }
                    self.quoted = false;
                } else {
                    // Inside quotes only a `"` matters.
                    match memchr::memchr(b'"', &bytes[i..]) {
                        Some(at) => {
                            self.quote_seen = true;
                            i += at + 1;
                        }
                        None => i = bytes.len(),
                    }
                    continue;
                }
            }
            if self.at_start && bytes[i] == b'"' {
                self.quoted = true;
                self.at_start = false;
                i += 1;
                continue;
            }
            self.at_start = false;
            // Outside quotes: the next separator (a `"` inside an unquoted
            // field is data).
            let Some(at) = memchr::memchr2(b',', b'\n', &bytes[i..]) else {
                break;
            };
            i += at;
            if self.in_group_cell() {
                // The cell's bytes were held back, not copied.
                self.cell.extend_from_slice(&bytes[copied..i]);
                self.flush_cell(out)?;
                copied = i;
            }
            if bytes[i] == b',' {
                self.field += 1;
            } else {
                self.field = 0;
                self.header = false;
            }
            self.at_start = true;
            if self.in_group_cell() {
                // Copy through the separator; hold the cell from here.
                out.write_all(&bytes[copied..=i])?;
                copied = i + 1;
            }
            i += 1;
        }
        if self.in_group_cell() {
            self.cell.extend_from_slice(&bytes[copied..]);
        } else {
            out.write_all(&bytes[copied..])?;
        }
        Ok(())
    }

    fn end(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        if self.in_group_cell() && !self.cell.is_empty() {
            self.flush_cell(out)?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each chunk size cuts rows, quotes and cells at every place.
    #[test]
    fn relabelling_changes_the_group_cell_alone_whatever_the_cells_hold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mismatches.csv");
        let rows: Vec<Vec<String>> = (0..40)
            .map(|i| {
                let hostile = ["plain", "a,\"b\"", "line\nbreak", "\"", ",", "g1"][i % 6];
                vec![
                    format!("id-{i}-{hostile}"),
                    hostile.to_owned(),
                    "mismatch".to_owned(),
                    format!("g{}", i % 3 + 1),
                    format!("/x changed \"{hostile}\""),
                    "{}".to_owned(),
                    "{}".to_owned(),
                    "s.jsonl".to_owned(),
                    i.to_string(),
                    "sig, \"q\"".to_owned(),
                    format!("{{\"items\": [\"{hostile}\"]}}"),
                ]
            })
            .collect();
        let write = || {
            let mut w = csv::Writer::from_path(&path).unwrap();
            w.write_record(super::super::row::COLUMNS).unwrap();
            for row in &rows {
                w.write_record(row).unwrap();
            }
            w.flush().unwrap();
        };
        write();
        let relabel = Relabel::of(&["g3", "g1", "g2"]);
        rewrite_labels(&path, &relabel).unwrap();
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let read: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(read.len(), rows.len());
        for (got, want) in read.iter().zip(&rows) {
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                if i == GROUP_COLUMN {
                    assert_eq!(g, relabel.label(w), "{got:?}");
                } else {
                    assert_eq!(g, w, "{got:?}");
                }
            }
        }
        // Fed a byte, or a few, at a time: the same bytes.
        write();
        let original = std::fs::read(&path).unwrap();
        rewrite_labels(&path, &relabel).unwrap();
        let whole = std::fs::read(&path).unwrap();
        for step in [1, 2, 3, 7, 64] {
            let mut out = Vec::new();
            let mut labels = Relabeler::new(&relabel);
            for chunk in original.chunks(step) {
                labels.feed(chunk, &mut out).unwrap();
            }
            labels.end(&mut out).unwrap();
            assert_eq!(out, whole, "chunks of {step}");
        }
    }
}
