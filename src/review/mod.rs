//! Reviewing runs: `cutover report` and its subcommands, the read side of a
//! run directory, for people (terminal) and machines (`--json`, JUnit XML).
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
//! - Exit status, like the rest of cutover (0 / 1 / 2):
//!   `report`: 0 the run found no differences, 1 it did (mismatches, errors,
//!   timeouts or rejected lines: the run's own exit status), 2 cannot read it;
//!   `report show`: 0 shown, 1 no non-matching record has that id (it matched,
//!   or is not in the capture), 2 cannot read the run;
//!   `report group`: 0 shown, 2 no such group or cannot read the run;
//!   `report diff`: 0 no group appeared or grew, 1 some did, 2 cannot read.
//! - Non-goals: changing a run (only `cutover recheck` adds labels, and
//!   `report --html` makes `index.html` again).

pub mod command;
pub mod diffview;
pub mod junit;
pub mod records;
pub mod rundiff;
pub mod style;
pub mod text;

/// Mismatch groups the replay lists when it ends (`cutover report` shows more).
pub const TOP_GROUPS: usize = 5;

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
    #[error("no group {group:?} in run {run}: its groups are {known}. `{}` lists them with their signatures", crate::terminal::command_line(["cutover", "report", .run.as_str()]))]
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
    Config(#[from] crate::config::ConfigError),
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
                run: self.summary.run_id.clone(),
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
