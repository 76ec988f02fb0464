//! Reports: what a run writes for people and machines to review.
//!
//! # Contract
//! A run's directory holds:
//! - `summary.json`: counts, per-side latency percentiles, target stats, how
//!   the run ended, mismatch groups, the rule audit and drift from recorded
//!   responses ([`Summary`]); written last, atomically (temp file + rename),
//!   so a `summary.json` that exists is complete;
//! - `mismatches.csv`: one row per non-matching record, in input order, with
//!   its mismatch group (see [`GroupTable`]), its signature and its input
//!   (schema: [`row`]);
//! - `index.html`: the run as one self-contained page ([`html`]), written
//!   just before `summary.json` unless `--no-html`;
//! - `diffs.txt`: a unified diff per non-matching record, the first
//!   `max_diffs` of them (the file says how many more there are), each made
//!   by the engine and cut after [`crate::compare::DIFF_TIME_LIMIT`];
//! - `rejected.jsonl`: one line per rejected capture line (source, line, reason);
//! - after `cutover recheck`: `recheck.jsonl` and `recheck.json` ([`labels`]);
//! - while a run writes it, `.cutover.lock` ([`RunLock`]): one run at a time
//!   per directory; a [`ReportWriter`] is made from a held lock and keeps it
//!   until `summary.json` is written.
//!
//! `summary.json` and `index.html` get the mode the other files get (0666
//! less the umask; see [`crate::atomic_file`]).
//!
//! Whole files (`summary.json`, `index.html`, `recheck.json`) are written by
//! [`write_redacted`]: no registered secret reaches them ([`crate::redact`]).
//!
//! Everything but timing fields is a function of the events, which arrive in
//! input order, so two runs over the same traffic write identical
//! `mismatches.csv`, `diffs.txt` and `rejected.jsonl` whatever the concurrency
//! (but for where a diff that ran out of time was cut, which says so).
//! Counts satisfy `read = rejected + compared + errored` by construction, also
//! for an interrupted or aborted run.

mod audit;
mod csv_out;
mod diffs;
mod groups;
pub mod html;
pub mod labels;
mod lock;
mod noise;
mod progress;
mod rejected;
pub mod row;
mod runs;
mod summary;

pub use audit::{KnownAudit, KnownReport, RuleAudit, RuleReport, AUDIT_SAMPLES};
pub use csv_out::answer_cell;
pub use groups::{Group, GroupTable, MAX_GROUPS, SAMPLE_IDS};
pub use lock::{RunLock, LOCK_FILE};
pub use noise::{NoiseAudit, NoisePath, NoiseReport, MAX_NOISE_PATHS};
pub use progress::Progress;
pub use runs::{latest_run, read_summary, resolve_run, RunError};
pub use summary::{
    Counts, LatencyBucket, LatencyStats, RunStatus, Settings, Summary, SummaryBuilder,
};

use crate::engine::Event;
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
    #[error("report directory {dir} is in use by another run: process {pid} ({command:?}) holds its lock. Wait for that run to end, or write this one elsewhere with --out")]
    Locked {
        dir: PathBuf,
        pid: String,
        command: String,
    },
    #[error("cannot lock {path}: {cause}. Pick another report directory with --out")]
    Lock { path: PathBuf, cause: io::Error },
}

pub fn write_err(path: &Path) -> impl FnOnce(io::Error) -> ReportError + '_ {
    move |source| ReportError::Write {
        path: path.to_owned(),
        source,
    }
}

/// Writes a whole report file atomically ([`crate::atomic_file::write`]),
/// with every secret taken out ([`crate::redact::text`]): the text may
/// quote a server's or a target's answers.
pub fn write_redacted(path: &Path, text: &str) -> Result<(), ReportError> {
    crate::atomic_file::write(path, crate::redact::text(text).as_bytes()).map_err(write_err(path))
}

/// Writes one run's report directory as events arrive.
pub struct ReportWriter {
    dir: PathBuf,
    summary: SummaryBuilder,
    groups: GroupTable,
    audit: RuleAudit,
    known: KnownAudit,
    noise: NoiseAudit,
    mismatches: csv_out::MismatchCsv,
    diffs: diffs::DiffsFile,
    rejected: rejected::RejectedFile,
    rollout: Option<crate::flags::rollout::RolloutTally>,
    /// `None` with `--no-html`.
    html: Option<html::Sampler>,
    /// Held until the end of [`ReportWriter::finish`].
    _lock: RunLock,
}

impl ReportWriter {
    /// Opens the report files in the directory `lock` holds.
    pub fn create(
        lock: RunLock,
        summary: SummaryBuilder,
        max_diffs: usize,
        audit: RuleAudit,
        known: KnownAudit,
    ) -> Result<Self, ReportError> {
        let dir = lock.dir().to_owned();
        Ok(ReportWriter {
            summary,
            groups: GroupTable::default(),
            audit,
            known,
            noise: NoiseAudit::default(),
            mismatches: csv_out::MismatchCsv::create(&dir.join(MISMATCHES_FILE))?,
            diffs: diffs::DiffsFile::create(&dir.join(DIFFS_FILE), max_diffs)?,
            rejected: rejected::RejectedFile::create(&dir.join(REJECTED_FILE))?,
            rollout: None,
            html: Some(html::Sampler::default()),
            _lock: lock,
            dir,
        })
    }

    /// Also tallies what the flag rollout means (the `rollout` section).
    pub fn with_rollout(mut self, tally: crate::flags::rollout::RolloutTally) -> Self {
        self.rollout = Some(tally);
        self
    }

    /// Do not write `index.html` for this run.
    pub fn without_html(mut self) -> Self {
        self.html = None;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes one event (they must come in input order).
    pub fn accept(&mut self, event: &Event) -> Result<(), ReportError> {
        self.summary.observe(event);
        if let Event::Compared(result) = event {
            self.audit.observe(result);
            self.known.observe(result);
            self.noise.observe(result);
            if let (Some(tally), Some(route)) = (&mut self.rollout, result.route) {
                tally.observe(route, result.verdict.outcome);
            }
        }
        match event {
            Event::Compared(result) if !result.verdict.is_clean() => {
                let (group, signature) = self.groups.assign(result);
                let cells = row::RowCells::new(result, &group, &signature);
                self.mismatches.write(&cells)?;
                if let Some(sampler) = &mut self.html {
                    sampler.offer(|| cells.to_row(), &group, None);
                }
                self.diffs.write(result, &group)?;
            }
            Event::Compared(_) => {}
            Event::Rejected(rejection) => self.rejected.write(rejection)?,
        }
        Ok(())
    }

    /// Flushes every file and writes `summary.json`; returns the summary.
    pub fn finish(self, status: RunStatus) -> Result<Summary, ReportError> {
        self.mismatches.finish()?;
        self.diffs.finish()?;
        self.rejected.finish()?;
        let counts = self.summary.counts();
        let groups = self.groups.finish(counts.read - counts.rejected);
        let mut summary = self.summary.finish(
            status,
            groups,
            self.audit.finish(),
            self.known.finish(),
            self.noise.finish(),
        );
        summary.rollout = self.rollout.map(|tally| tally.finish(&summary.counts));
        if let Some(sampler) = self.html {
            let started = std::time::Instant::now();
            html::write(&self.dir, &summary, sampler, None)?;
            tracing::info!(
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "index.html written"
            );
        }
        summary.write(&self.dir.join(SUMMARY_FILE))?;
        Ok(summary)
    }
}

/// A finished summary with the given groups, for unit tests.
#[cfg(test)]
pub(crate) fn test_summary(groups: Vec<Group>) -> Summary {
    let settings = Settings {
        legacy: "worker:python3 legacy/worker.py".into(),
        candidate: "builtin:normalize-naive".into(),
        traffic: vec!["t.jsonl".into()],
        concurrency: 1,
        workers: 1,
        timeout_ms: 1,
        startup_timeout_ms: 1,
        retries: 0,
        max_record_bytes: 1,
        max_inflight_bytes: 1,
        max_diffs: 1,
        noise_probe: false,
        config_file: None,
        follow_redirects: Vec::new(),
    };
    SummaryBuilder::new("r".into(), settings).finish(
        RunStatus {
            state: "complete".into(),
            abort_reason: None,
            signal: None,
            legacy_target: Default::default(),
            candidate_target: Default::default(),
        },
        groups,
        Vec::new(),
        Vec::new(),
        None,
    )
}
