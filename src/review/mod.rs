//! Reviewing runs: what `cutover report` and its subcommands show, as data
//! (the terminal and `--json` renderings are `cli/`'s).
//!
//! # Contract
//! - A run is named as everywhere else: `latest`, a run id under the reports
//!   directory, or a run directory ([`crate::report::resolve_run`]).
//! - `cutover report [RUN]` reads `summary.json` and, when the run was
//!   rechecked, `recheck.json`: nothing proportional to the number of
//!   records, so it answers at once whatever the size of the run.
//!   `report show` and `report group` stream `mismatches.csv` (one row in
//!   memory at a time); `report diff` reads two summaries.
//! - Errors are [`ReviewError`]s naming the run, record, group or file and
//!   saying what to do; nothing panics on a damaged or foreign run directory.
//! - Functions return data ([`Run`], [`records::RecordView`],
//!   [`rundiff::RunDiff`]); they never print, and never read `cutover.toml`:
//!   where runs are is the caller's to say.
//! - Non-goals: changing a run (only `cutover recheck` adds labels, and
//!   `report --html` makes `index.html` again).
//!
//! Names [`crate::model`], [`crate::report`], [`crate::spec`] and
//! [`crate::util`].

pub mod records;
pub mod rundiff;

use crate::report::labels::{LabelError, RecheckSummary};
use crate::report::row::RowError;
use crate::report::{read_summary, resolve_run, RunError, Summary};
use std::path::{Path, PathBuf};

/// What can go wrong while reviewing.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Rows(#[from] RowError),
    #[error(transparent)]
    Labels(#[from] LabelError),
    /// `run` is the run's directory, as it was named.
    #[error("no group {group:?} in run {run}: its groups are {known}. `{}` lists them with their signatures", crate::util::escape::command_line(["cutover", "report", .run.as_str()]))]
    NoGroup {
        group: String,
        run: String,
        known: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Html(#[from] crate::report::html::RegenerateError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

/// A finished run, as review commands read it.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    pub summary: Summary,
    /// `recheck.json`, when `cutover recheck` ran on it.
    pub recheck: Option<RecheckSummary>,
}

impl Run {
    /// Finds and reads the run a user named.
    pub fn open(reports_dir: &Path, what: &str) -> Result<Run, ReviewError> {
        let dir = resolve_run(reports_dir, what)?;
        let summary = read_summary(&dir)?;
        let recheck = RecheckSummary::read(&dir)?;
        Ok(Run {
            dir,
            summary,
            recheck,
        })
    }

    /// Streams the run's `mismatches.csv`, checked against its summary's
    /// count of non-matching records.
    pub fn rows(&self) -> Result<crate::report::row::RowReader, RowError> {
        crate::report::row::RowReader::open(&self.dir, self.summary.non_matching())
    }

    /// The group a user named by label (`g3`) or by its exact signature.
    pub fn group(&self, what: &str) -> Result<&crate::report::Group, ReviewError> {
        let groups = &self.summary.groups;
        groups
            .iter()
            .find(|g| g.group == what)
            .or_else(|| groups.iter().find(|g| g.signature == what))
            .ok_or_else(|| ReviewError::NoGroup {
                group: what.to_owned(),
                run: self.dir.display().to_string(),
                known: if groups.is_empty() {
                    "none (every record matched)".to_owned()
                } else {
                    let mut labels: Vec<&str> =
                        groups.iter().take(20).map(|g| g.group.as_str()).collect();
                    if groups.len() > 20 {
                        labels.push("…");
                    }
                    labels.join(", ")
                },
            })
    }
}
