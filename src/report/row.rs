//! One row of `mismatches.csv`: the schema both the run (writing) and the
//! review commands (reading) use, so there is one definition of the file.
//!
//! # Contract
//! - Columns, in order: [`COLUMNS`]. The first nine are the historic ones;
//!   `signature` (the record's own group signature, also for records in the
//!   `g0` overflow group) and `input` (the record's input as compact JSON text,
//!   exactly as the capture gave it) come last, so readers that pick columns by
//!   name keep working.
//! - `legacy` and `candidate` hold each side's answer as compact JSON: the
//!   output, or `{"error": {"type", "message"}}`, or `{"timeout": "..."}`.
//!   [`MismatchRow::answer_value`] reads a cell back as the JSON value that
//!   [`crate::compare::render_answer`] would print for that answer, so a diff
//!   made from the file is the diff made during the run.
//! - Every cell is bounded by what the run bounds: inputs by
//!   `--max-record-bytes` (longer capture lines are rejected before they
//!   become records), answers by the same limit on responses, paths by
//!   [`crate::compare::MAX_DIFFERENCES`] per record.
//! - Reading is streaming ([`RowReader`]): one row in memory at a time.
//!   The reader is told how many rows the run wrote (its summary's
//!   non-matching records) and checks the file against it: a file that does
//!   not end with a line break (its last row cut mid-way) fails at open, and
//!   a file with fewer rows fails at its end, one with more at the first row
//!   too many, each a [`RowError::Damaged`] naming the file. A reader that
//!   stops early (it found what it wanted) checks only the rows it read.

use super::csv_sink::{answer_cell, paths_cell};
use crate::model::RecordResult;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The columns of `mismatches.csv`, in order.
pub const COLUMNS: [&str; 11] = [
    "id",
    "key",
    "outcome",
    "group",
    "paths",
    "legacy",
    "candidate",
    "source",
    "line",
    "signature",
    "input",
];

/// One non-matching record, as `mismatches.csv` stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MismatchRow {
    pub id: String,
    /// `""` when the capture gave no key.
    pub key: String,
    pub outcome: String,
    pub group: String,
    pub paths: String,
    pub legacy: String,
    pub candidate: String,
    pub source: String,
    pub line: u64,
    pub signature: String,
    pub input: String,
}

/// The cells of one record, borrowed where they can be.
pub struct RowCells<'a> {
    result: &'a RecordResult,
    group: &'a str,
    signature: &'a str,
    paths: String,
    legacy: String,
    candidate: String,
    line: String,
}

impl<'a> RowCells<'a> {
    pub fn new(result: &'a RecordResult, group: &'a str, signature: &'a str) -> Self {
        RowCells {
            result,
            group,
            signature,
            paths: paths_cell(result),
            legacy: answer_cell(&result.legacy.answer),
            candidate: answer_cell(&result.candidate.answer),
            line: result.origin.line.to_string(),
        }
    }

    /// The cells in [`COLUMNS`] order.
    pub fn as_record(&self) -> [&str; 11] {
        let r = self.result;
        [
            r.id.as_str(),
            r.key.as_deref().unwrap_or(""),
            r.verdict.outcome.as_str(),
            self.group,
            &self.paths,
            &self.legacy,
            &self.candidate,
            &r.origin.source,
            &self.line,
            self.signature,
            r.input.get(),
        ]
    }

    pub fn to_row(&self) -> MismatchRow {
        let r = self.result;
        MismatchRow {
            id: r.id.clone(),
            key: r.key.clone().unwrap_or_default(),
            outcome: r.verdict.outcome.as_str().to_owned(),
            group: self.group.to_owned(),
            paths: self.paths.clone(),
            legacy: self.legacy.clone(),
            candidate: self.candidate.clone(),
            source: r.origin.source.to_string(),
            line: r.origin.line,
            signature: self.signature.to_owned(),
            input: r.input.get().to_owned(),
        }
    }
}

impl MismatchRow {
    /// A side's answer cell as the JSON value the run rendered for it (an
    /// output, `{"error": ...}` or `{"timeout": ...}`); a cell that is not
    /// JSON (a damaged file) comes back as a string, never a panic.
    pub fn answer_value(cell: &str) -> serde_json::Value {
        serde_json::from_str(cell).unwrap_or_else(|_| serde_json::Value::String(cell.to_owned()))
    }

    /// The key, `None` when the capture gave none.
    pub fn key(&self) -> Option<&str> {
        (!self.key.is_empty()).then_some(self.key.as_str())
    }
}

/// A problem reading `mismatches.csv` back.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("cannot read {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {message}. The file is damaged or was written by an older cutover; re-run `cutover replay`")]
    Bad {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "damaged: {path} {message}. It was cut or changed after the run; re-run `cutover replay`"
    )]
    Damaged { path: PathBuf, message: String },
}

/// Streams the rows of a run's `mismatches.csv`, in input order.
pub struct RowReader {
    path: PathBuf,
    reader: csv::DeserializeRecordsIntoIter<BufReader<File>, MismatchRow>,
    /// Rows the run wrote, and rows read so far.
    expected: u64,
    rows: u64,
    /// Set once the end (or damage) was reported.
    done: bool,
}

/// Whether the file ends with a line break (or is empty), leaving it at its start.
fn ends_a_line(file: &mut File) -> std::io::Result<bool> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut last = [b'\n'];
    if len > 0 {
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(last[0] == b'\n')
}

impl RowReader {
    /// Opens the run's `mismatches.csv`, which must hold `expected` rows
    /// ([`super::Summary::non_matching`] of the run's summary).
    pub fn open(run_dir: &Path, expected: u64) -> Result<Self, RowError> {
        let path = run_dir.join(super::MISMATCHES_FILE);
        let open_err = |source| RowError::Open {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(open_err)?;
        if !ends_a_line(&mut file).map_err(open_err)? {
            return Err(RowError::Damaged {
                path,
                message: "ends without a line break: its last row is cut mid-way".into(),
            });
        }
        let mut reader = csv::Reader::from_reader(BufReader::with_capacity(1 << 16, file));
        let headers = reader.headers().map_err(|e| RowError::Bad {
            path: path.clone(),
            line: 1,
            message: e.to_string(),
        })?;
        if let Some(missing) = COLUMNS.iter().find(|c| !headers.iter().any(|h| h == **c)) {
            return Err(RowError::Bad {
                path,
                line: 1,
                message: format!("the header has no `{missing}` column"),
            });
        }
        Ok(RowReader {
            path,
            reader: reader.into_deserialize(),
            expected,
            rows: 0,
            done: false,
        })
    }

    fn damaged(&mut self, at_least: &str) -> RowError {
        use crate::util::text::counted;
        self.done = true;
        RowError::Damaged {
            path: self.path.clone(),
            message: format!(
                "has {at_least}{}, but its summary.json counts {} that did not match",
                counted(self.rows, "row", "rows"),
                counted(self.expected, "record", "records")
            ),
        }
    }
}

impl Iterator for RowReader {
    type Item = Result<MismatchRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some(next) = self.reader.next() else {
            if self.rows == self.expected {
                self.done = true;
                return None;
            }
            return Some(Err(self.damaged("")));
        };
        self.rows += 1;
        if self.rows > self.expected {
            return Some(Err(self.damaged("at least ")));
        }
        Some(next.map_err(|e| RowError::Bad {
            path: self.path.clone(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        }))
    }
}
