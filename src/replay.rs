//! `cutover replay`: one run of the pipeline, wired end to end.
//!
//! # Contract
//! [`replay`] checks everything that can be checked before reading a record
//! (sources open, each once: the reader reads the handles opened here; no
//! other run holds the report directory, every output path can be written,
//! targets build) and returns a [`ReplayError`] for those: the run did not
//! happen (exit 2). The report directory is locked
//! ([`crate::report::RunLock`]) from that check until `summary.json` is
//! written; the `--junit` file is written atomically after it. Once
//! records flow, it always finishes with a complete report directory and a
//! [`Summary`] whose counts account for every line read, including after a
//! stop ([`Stop`]: SIGINT or SIGTERM; reading stops, in-flight records finish,
//! the run is `interrupted` with the signal's exit status) and after a target
//! failure (reported as `aborted`). A stop requested before the first record
//! is read still gives that report, with nothing read.

use crate::engine::{self, Event, RunPlan};
use crate::report::{
    Progress, ReportError, ReportWriter, RunStatus, Settings, Summary, SummaryBuilder,
};
use crate::stop::Stop;
use crate::target::{self, Side, TargetError, TargetOptions, TargetSpec};
use crate::traffic::{self, ReadOptions, TrafficError, TrafficSpec};
use std::path::PathBuf;
use tokio::sync::mpsc;

/// A fully resolved replay configuration.
#[derive(Debug)]
pub struct ReplayOptions {
    pub traffic: Vec<TrafficSpec>,
    pub legacy: TargetSpec,
    pub candidate: TargetSpec,
    pub concurrency: usize,
    /// Bytes of memory records in flight may hold (`--max-inflight-bytes`).
    pub max_inflight_bytes: u64,
    pub targets: TargetOptions,
    pub read: ReadOptions,
    pub max_diffs: usize,
    pub out: PathBuf,
    pub run_id: String,
    pub progress: bool,
    pub config_file: Option<PathBuf>,
    pub rules: crate::compare::RuleSet,
    pub known: crate::compare::KnownSet,
    pub noise_probe: bool,
    /// The rollout's flags (`None` with `--no-flags`, or when no source is
    /// configured and the default flag file does not exist).
    pub flags: Option<crate::flags::FlagSettings>,
    /// Write JUnit XML here after the run.
    pub junit: Option<PathBuf>,
    /// Write `index.html`.
    pub html: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error("cannot write the {flag} file {path}: {cause}. Pick a path this user can write")]
    Output {
        flag: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// A new run id: the UTC start time, sortable (`2026-11-25T04-47-01.123Z`).
pub fn new_run_id() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H-%M-%S%.3fZ")
        .to_string()
}

/// Runs one replay; the caller requests `stop` on SIGINT or SIGTERM.
pub async fn replay(options: ReplayOptions, stop: Stop) -> Result<(Summary, PathBuf), ReplayError> {
    // Each source is opened once, here, and read from this handle: a FIFO
    // opened twice would lose its writer.
    let sources = traffic::open_sources(&options.traffic)?;
    let lock = crate::report::RunLock::acquire(&options.out)?;
    if let Some(path) = &options.junit {
        crate::atomic_file::check_writable(path).map_err(|cause| ReplayError::Output {
            flag: "--junit",
            path: path.clone(),
            cause,
        })?;
    }
    let legacy = target::build(&options.legacy, Side::Legacy, &options.targets)?;
    let candidate = target::build(&options.candidate, Side::Candidate, &options.targets)?;
    let settings = Settings {
        legacy: options.legacy.to_string(),
        candidate: options.candidate.to_string(),
        traffic: options
            .traffic
            .iter()
            .map(TrafficSpec::display_name)
            .collect(),
        concurrency: options.concurrency,
        workers: options.targets.workers,
        timeout_ms: options.targets.timeout.as_millis(),
        startup_timeout_ms: options.targets.startup_timeout.as_millis(),
        retries: options.targets.retries,
        max_record_bytes: options.read.max_record_bytes,
        max_inflight_bytes: options.max_inflight_bytes,
        max_diffs: options.max_diffs,
        noise_probe: options.noise_probe,
        config_file: options
            .config_file
            .as_ref()
            .map(|p| p.display().to_string()),
        follow_redirects: options.targets.follow_redirects.clone(),
    };
    let flags = match &options.flags {
        Some(settings) => Some(crate::flags::load_for_run(settings).await),
        None => None,
    };
    let mut writer = ReportWriter::create(
        lock,
        SummaryBuilder::new(options.run_id.clone(), settings),
        options.max_diffs,
        crate::report::RuleAudit::new(&options.rules),
        crate::report::KnownAudit::new(&options.known),
    )?;
    if let Some((_, plan)) = &flags {
        writer = writer.with_rollout(crate::flags::rollout::RolloutTally::new(plan.clone()));
    }
    if !options.html {
        writer = writer.without_html();
    }
    let junit = options.junit.clone();

    // Sink: a blocking thread that writes the report files in input order.
    let (events_tx, mut events_rx) = mpsc::channel::<Vec<Event>>(4);
    let sink = tokio::task::spawn_blocking(move || -> Result<ReportWriter, ReportError> {
        while let Some(batch) = events_rx.blocking_recv() {
            for event in &batch {
                writer.accept(event)?;
            }
        }
        Ok(writer)
    });

    let total_bytes = traffic::total_bytes(&sources);
    let progress = Progress::new(total_bytes, options.progress);
    let mut done = 0u64;
    let plan = RunPlan {
        traffic: sources,
        read: options.read,
        legacy: legacy.clone(),
        candidate: candidate.clone(),
        check_drift: options.legacy != TargetSpec::Recorded,
        flags: flags.map(|(evaluator, _)| evaluator),
        rules: options.rules,
        known: options.known,
        noise_probe: options.noise_probe,
        concurrency: options.concurrency,
        max_diffs: options.max_diffs,
        max_inflight_bytes: options.max_inflight_bytes,
    };
    let ran = engine::run(plan, events_tx, stop.token().clone(), |reader, _| {
        done += 1;
        progress.tick(reader, done);
    })
    .await;
    progress.finish();
    tokio::join!(legacy.shutdown(), candidate.shutdown());
    let writer = sink
        .await
        .map_err(|e| engine::EngineError::Task(e.to_string()))??;
    let end = ran?;
    let state = if end.aborted.is_some() {
        "aborted"
    } else if end.interrupted {
        "interrupted"
    } else {
        "complete"
    }
    .to_owned();
    let dir = writer.dir().to_owned();
    let summary = writer.finish(RunStatus {
        state,
        signal: end
            .interrupted
            .then(|| stop.signal())
            .flatten()
            .filter(|_| end.aborted.is_none()),
        abort_reason: end.aborted.map(|e| e.to_string()),
        legacy_target: legacy.stats(),
        candidate_target: candidate.stats(),
    })?;
    if let Some(path) = junit {
        let run = crate::review::Run {
            dir: dir.clone(),
            summary: summary.clone(),
            recheck: None,
        };
        let xml = crate::review::junit::junit_xml(&run);
        crate::atomic_file::write(&path, crate::redact::text(&xml).as_bytes()).map_err(
            |cause| ReplayError::Output {
                flag: "--junit",
                path: path.clone(),
                cause,
            },
        )?;
    }
    Ok((summary, dir))
}
