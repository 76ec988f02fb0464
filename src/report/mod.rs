//! Reports: what a run writes for people and machines to review, and how a
//! finished run is read back.
//!
//! # Contract
//! Each output is a sink ([`sink`]); the one run-summary model both the
//! terminal and the page draw is [`model`]. A run's directory holds:
//! - `summary.json`: the run's spec, counts, per-side latency percentiles,
//!   side stats, how the run ended, mismatch groups, the rule audit, drift
//!   from recorded responses and the rollout ([`Summary`]); written last,
//!   atomically (temp file + rename), so a `summary.json` that exists is
//!   complete;
//! - `mismatches.csv`: one row per non-matching record, in input order, with
//!   its mismatch group (see [`GroupTable`]: labelled by size, `g1` the
//!   largest; streamed with provisional labels and rewritten once at the
//!   end, by `rewrite`), its signature and its input (schema: [`row`]);
//! - `index.html`: the run as one self-contained page ([`html`]), written
//!   just before `summary.json` unless `--no-html`;
//! - `diffs.txt`: a unified diff per non-matching record, the first
//!   `max_diffs` of them (the file says how many more there are), each made
//!   by the engine and cut after [`crate::compare::DIFF_TIME_LIMIT`];
//! - `rejected.jsonl`: one line per rejected capture line (source, line, reason);
//! - `legacy-shape.json`: the bounded shape of the legacy's answers, and,
//!   with a behaviour contract, `contract.jsonl`: each record it found
//!   something in ([`contract`]);
//! - for a run merged from partial reports ([`merge`], a cluster run), the
//!   same files, written by replaying the partials' events ([`partial`])
//!   through the same sinks in `seq` order;
//! - after `cutover recheck`: `recheck.jsonl` and `recheck.json` ([`labels`]);
//! - while a run writes it, `.cutover.lock` ([`RunLock`]): one run at a time
//!   per directory; the [`Sinks`] are made from a held lock and keep it
//!   until `summary.json` is written.
//!
//! The read side: [`resolve_run`], [`latest_run`] and [`read_summary`]
//! (`runs.rs`) find and check finished runs; [`row`] and [`labels`] stream
//! their per-record files.
//!
//! `summary.json` and `index.html` get the mode the other files get (0666
//! less the umask; see [`crate::util::atomic_file`]).
//!
//! Whole files (`summary.json`, `index.html`, `recheck.json`, JUnit) are
//! written by [`write_redacted`]: no registered secret reaches them
//! ([`crate::util::redact`]).
//!
//! Everything but timing fields is a function of the events, which arrive in
//! input order, so two runs over the same traffic write identical
//! `mismatches.csv`, `diffs.txt` and `rejected.jsonl` whatever the concurrency
//! (but for where a diff that ran out of time was cut, which says so).
//! Counts satisfy `read = rejected + compared + errored` by construction, also
//! for an interrupted or aborted run.

//!
//! Names [`crate::model`], [`crate::spec`], [`crate::engine`]'s neighbours
//! below it ([`crate::traffic`], [`crate::sides`], [`crate::compare`]),
//! [`crate::flags`] (the rollout section) and [`crate::util`]; prints
//! nothing.

mod audit;
pub mod contract;
mod csv_sink;
mod diffs_sink;
pub use crate::compare::diffview;
mod groups;
pub mod html;
pub mod junit_sink;
pub mod labels;
mod lock;
pub mod merge;
pub mod model;
mod noise;
pub mod partial;
mod rejected_sink;
pub mod rollout;
pub mod row;
mod runs;
pub mod sink;
mod summary;

pub use audit::{KnownAudit, KnownReport, RuleAudit, RuleReport, AUDIT_SAMPLES};
pub use csv_sink::answer_cell;
pub use groups::{Group, GroupTable, Relabel, MAX_GROUPS, SAMPLE_IDS};
pub use lock::{RunLock, LOCK_FILE};
pub use merge::{MergeReport, MissingChunk};
pub use noise::{NoiseAudit, NoisePath, NoiseReport, MAX_NOISE_PATHS};
pub use runs::{latest_run, read_summary, resolve_run, RunError};
pub use sink::{Sink, Sinks};
pub use summary::{
    Drift, LatencyBucket, LatencyStats, LiveStats, RunStatus, Settings, SideLatency, Summary,
    SummaryBuilder,
};

use std::io;
use std::path::{Path, PathBuf};

/// File names inside a run directory.
pub const SUMMARY_FILE: &str = "summary.json";
pub const MISMATCHES_FILE: &str = "mismatches.csv";
pub const DIFFS_FILE: &str = "diffs.txt";
pub const REJECTED_FILE: &str = "rejected.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot create report directory {path}: {source}. Pick another with --out")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("report directory {dir} is in use by another run: process {pid} ({command:?}) holds its lock. Wait for that run to end{advice}")]
    Locked {
        dir: PathBuf,
        pid: String,
        command: String,
        /// What else to do, for the command that was refused.
        advice: &'static str,
    },
    #[error("cannot lock {path}: {cause}. Pick another report directory with --out")]
    Lock { path: PathBuf, cause: io::Error },
    #[error("cannot write the {flag} file {path}: {cause}. Pick a path this user can write")]
    Output {
        flag: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
}

pub fn write_err(path: &Path) -> impl FnOnce(io::Error) -> ReportError + '_ {
    move |source| ReportError::Write {
        path: path.to_owned(),
        source,
    }
}

/// Writes a whole report file atomically ([`crate::util::atomic_file::write`]),
/// with every secret taken out ([`crate::util::redact::text`]): the text may
/// quote a server's or a side's answers.
pub fn write_redacted(path: &Path, text: &str) -> Result<(), ReportError> {
    crate::util::atomic_file::write(path, crate::util::redact::text(text).as_bytes())
        .map_err(write_err(path))
}

/// Rewrites the report file `path` in one streaming pass: `edit` reads the
/// old file and writes the new one into a temp file beside it, which keeps
/// the old file's permissions and is renamed over it, so a reader sees the
/// old file or the new one, never a mix.
pub(crate) fn rewrite(
    path: &Path,
    edit: impl FnOnce(
        io::BufReader<std::fs::File>,
        &mut io::BufWriter<&std::fs::File>,
    ) -> io::Result<()>,
) -> Result<(), ReportError> {
    let run = || -> io::Result<()> {
        let old = std::fs::File::open(path)?;
        let permissions = old.metadata()?.permissions();
        let tmp = tempfile::NamedTempFile::new_in(path.parent().unwrap_or(Path::new(".")))?;
        tmp.as_file().set_permissions(permissions)?;
        {
            let mut out = io::BufWriter::with_capacity(1 << 16, tmp.as_file());
            edit(io::BufReader::with_capacity(1 << 16, old), &mut out)?;
            io::Write::flush(&mut out)?;
        }
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    run().map_err(write_err(path))
}

/// A finished summary with the given groups, for unit tests.
#[cfg(test)]
pub(crate) fn test_summary(groups: Vec<Group>) -> Summary {
    SummaryBuilder::new(crate::spec::test_spec()).finish(
        RunStatus {
            state: crate::model::RunState::Complete,
            abort_reason: None,
            signal: None,
            pace: None,
            legacy_target: Default::default(),
            candidate_target: Default::default(),
        },
        groups,
        Vec::new(),
        Vec::new(),
        None,
    )
}
