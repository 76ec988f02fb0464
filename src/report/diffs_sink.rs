//! `diffs.txt`: unified diffs of the non-matching records, for people (a
//! [`Sink`]).
//!
//! Each entry starts with a `=== ` header naming the record (id, key, outcome,
//! source and line) and its differing paths, followed by the unified diff of
//! the two pretty-printed answers. Only the first `max` entries are written, so
//! the file stays readable and bounded; the last line says how many were left
//! out (all of them are in `mismatches.csv`).
//!
//! Headers are streamed with the record's provisional group label (by first
//! appearance); the sink keeps where each label lies in the file (one offset
//! per entry written, so at most `max`) and, at the end, rewrites the file
//! once with the final labels (by size, [`super::groups`]): a streaming copy
//! into a temp file renamed over it. Only those offsets are touched, so no
//! text of a diff is ever parsed. Nothing is rewritten when no label changes.
//!
//! The diff text is the one the engine made for the record
//! ([`RecordResult::diff`]), off this single writer's thread; a record
//! without one (a caller that did not ask the engine for it) is diffed here.

use super::csv_sink::paths_cell;
use super::sink::{Mismatch, Sink};
use super::{write_err, Relabel, ReportError, Summary, DIFFS_FILE};
use crate::compare::unified_diff;
use crate::model::RecordResult;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub struct DiffsFile {
    path: PathBuf,
    out: BufWriter<File>,
    max: usize,
    written: usize,
    omitted: u64,
    /// Bytes written so far.
    at: u64,
    /// Where each header's provisional group label starts, and the label.
    labels: Vec<(u64, String)>,
    relabel: Option<Relabel>,
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
            at: 0,
            labels: Vec::new(),
            relabel: None,
        })
    }

    fn write(&mut self, result: &RecordResult, group: &str) -> Result<(), ReportError> {
        if self.written >= self.max {
            self.omitted += 1;
            return Ok(());
        }
        self.written += 1;
        let paths = paths_cell(result);
        let head = format!(
            "=== id={:?} key={} outcome={} group=",
            result.id,
            result
                .key
                .as_deref()
                .map_or_else(|| "-".to_owned(), |k| format!("{k:?}")),
            result.verdict.outcome.as_str(),
        );
        self.labels
            .push((self.at + head.len() as u64, group.to_owned()));
        let text = format!(
            "{head}{group} ({}:{}){}\n{}\n",
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
        self.at += text.len() as u64;
        self.out
            .write_all(text.as_bytes())
            .map_err(write_err(&self.path))
    }
}

/// Copies `old` to `new` with each label at its offset replaced by its final
/// label.
fn relabel_copy(
    mut old: impl Read,
    new: &mut impl Write,
    labels: &[(u64, String)],
    relabel: &Relabel,
) -> std::io::Result<()> {
    let mut at = 0u64;
    for (offset, label) in labels {
        at += std::io::copy(&mut old.by_ref().take(offset - at), new)?;
        let mut skipped = vec![0; label.len()];
        old.read_exact(&mut skipped)?;
        debug_assert_eq!(skipped, label.as_bytes());
        at += label.len() as u64;
        new.write_all(relabel.label(label).as_bytes())?;
    }
    std::io::copy(&mut old, new)?;
    Ok(())
}

impl Sink for DiffsFile {
    fn mismatch(&mut self, mismatch: &Mismatch<'_>) -> Result<(), ReportError> {
        self.write(mismatch.result, mismatch.group)
    }

    fn checkpoint(&mut self, _: &Summary, _: &Path) -> Result<(), ReportError> {
        self.out.flush().map_err(write_err(&self.path))
    }

    fn relabel(&mut self, relabel: &Relabel) {
        self.relabel = Some(relabel.clone());
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
        self.out.flush().map_err(write_err(&self.path))?;
        match self.relabel.take() {
            Some(relabel) if !relabel.is_identity() && !self.labels.is_empty() => {
                let labels = std::mem::take(&mut self.labels);
                super::rewrite(&self.path, |old, new| {
                    relabel_copy(old, new, &labels, &relabel)
                })
            }
            _ => Ok(()),
        }
    }
}
