//! Flaky or deterministic: the labels `cutover recheck` gives non-matching
//! records, as files in the run directory.
//!
//! # Contract
//! - `recheck.jsonl`: one [`RecheckRecord`] per row of `mismatches.csv`, in
//!   the same order (`row` is the 0-based row index), so the two files can be
//!   read in lockstep without loading either.
//! - `recheck.json`: the [`RecheckSummary`]: totals and per-group counts,
//!   what `cutover report` prints without reading any per-record file.
//!   Written last and atomically, so a `recheck.json` that exists describes a
//!   complete `recheck.jsonl`.
//! - A record is `deterministic` when every re-run gave the same group
//!   signature as the run did, `flaky` when at least one did not (another
//!   signature, or a match), and `unchecked` when a limit left it out.

use super::{write_err, ReportError};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

pub const RECHECK_SUMMARY_FILE: &str = "recheck.json";
pub const RECHECK_RECORDS_FILE: &str = "recheck.jsonl";

/// Other signatures kept per record (the count of re-runs stays exact).
pub const SEEN_SIGNATURES: usize = 3;

/// What re-running one record showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Deterministic,
    Flaky,
    Unchecked,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Deterministic => "deterministic",
            Label::Flaky => "flaky",
            Label::Unchecked => "unchecked",
        }
    }
}

/// One line of `recheck.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecheckRecord {
    /// 0-based row of `mismatches.csv`.
    pub row: u64,
    pub id: String,
    pub group: String,
    pub label: Label,
    /// Re-runs that gave the run's signature again, out of `runs`.
    pub reproduced: u32,
    pub runs: u32,
    /// Other signatures the re-runs gave (`match` for a match), at most
    /// [`SEEN_SIGNATURES`].
    pub seen: Vec<String>,
}

/// Per-group counts in `recheck.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLabels {
    pub group: String,
    pub signature: String,
    pub deterministic: u64,
    pub flaky: u64,
    pub unchecked: u64,
}

/// `recheck.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecheckSummary {
    /// Re-runs per record.
    pub times: u32,
    pub started_at: String,
    pub duration_seconds: f64,
    pub deterministic: u64,
    pub flaky: u64,
    pub unchecked: u64,
    /// In the order of `summary.json`'s groups (largest first).
    pub groups: Vec<GroupLabels>,
}

impl RecheckSummary {
    /// The counts of one group, by label.
    pub fn group(&self, label: &str) -> Option<&GroupLabels> {
        self.groups.iter().find(|g| g.group == label)
    }

    pub fn write(&self, run_dir: &Path) -> Result<(), ReportError> {
        let path = run_dir.join(RECHECK_SUMMARY_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| write_err(&path)(e.into()))?;
        super::write_redacted(&path, &text)
    }

    /// The run's recheck summary, `None` when it was never rechecked.
    pub fn read(run_dir: &Path) -> Result<Option<Self>, LabelError> {
        let path = run_dir.join(RECHECK_SUMMARY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| LabelError::Bad {
                    path,
                    line: e.line() as u64,
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LabelError::Read { path, source }),
        }
    }
}

/// A recheck file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {message}. Run `cutover recheck` again to rewrite it")]
    Bad {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// Streams `recheck.jsonl` by row, for reading beside `mismatches.csv`.
pub struct LabelReader {
    path: PathBuf,
    lines: Option<std::io::Lines<BufReader<std::fs::File>>>,
    line: u64,
    pending: Option<RecheckRecord>,
}

impl LabelReader {
    /// Opens the run's labels; a run with no complete recheck gives a reader
    /// that has no labels.
    pub fn open(run_dir: &Path) -> Result<Self, LabelError> {
        let path = run_dir.join(RECHECK_RECORDS_FILE);
        let complete = run_dir.join(RECHECK_SUMMARY_FILE).is_file();
        let lines = match std::fs::File::open(&path) {
            Ok(file) if complete => Some(BufReader::new(file).lines()),
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(LabelError::Read { path, source }),
        };
        Ok(LabelReader {
            path,
            lines,
            line: 0,
            pending: None,
        })
    }

    /// The label of row `row`; rows must be asked for in increasing order.
    pub fn label_of(&mut self, row: u64) -> Result<Option<RecheckRecord>, LabelError> {
        loop {
            if let Some(pending) = &self.pending {
                if pending.row == row {
                    return Ok(self.pending.take());
                }
                if pending.row > row {
                    return Ok(None);
                }
            }
            let Some(lines) = &mut self.lines else {
                return Ok(None);
            };
            let Some(next) = lines.next() else {
                self.lines = None;
                return Ok(None);
            };
            self.line += 1;
            let text = next.map_err(|source| LabelError::Read {
                path: self.path.clone(),
                source,
            })?;
            self.pending = Some(serde_json::from_str(&text).map_err(|e| LabelError::Bad {
                path: self.path.clone(),
                line: self.line,
                message: e.to_string(),
            })?);
        }
    }
}
