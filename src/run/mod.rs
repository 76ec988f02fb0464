//! One replay, wired end to end: a [`RunSpec`] in, a finished run directory
//! and its [`Summary`] out.
//!
//! # Contract
//! [`replay`] checks everything that can be checked before reading a record
//! (sources open, each once: the reader reads the handles opened here; no
//! other run holds the report directory, the `--junit` path can be written,
//! the rules and the contract compile, both sides build and can be reached) and returns a
//! [`RunError`] for those: the run did not happen (exit 2). The report
//! directory is locked ([`crate::report::RunLock`]) from that check until
//! `summary.json` is written; the `--junit` file is written atomically after
//! it. Once records flow, it always finishes with a complete report
//! directory and a [`Summary`] whose counts account for every line read,
//! including after a stop ([`Stop`]: reading stops, in-flight records
//! finish, the run is `interrupted` with the signal's exit status) and after
//! a side failure (reported as `aborted`). A stop requested before the first
//! record is read still gives that report, with nothing read.
//!
//! The flag state is loaded once, at the start, so the whole run sees one
//! rollout; an unavailable source is said once (a warning in the log) and
//! the run goes on, legacy only.
//!
//! It prints nothing: progress goes to the caller's [`Observer`], the
//! summary is returned.

use crate::engine::{self, RunPlan};
use crate::model::{Event, RunState, Stop};
use crate::report::junit_sink::JunitFile;
use crate::report::rollout::RolloutTally;
use crate::report::{ReportError, RunLock, RunStatus, Sinks, Summary};
use crate::sides::{self, SideError};
use crate::spec::RunSpec;
use crate::traffic::{self, ReaderProgress, TrafficError};
use std::path::PathBuf;
use tokio::sync::mpsc;

/// What a finished replay left.
#[derive(Debug)]
pub struct RunOutcome {
    pub summary: Summary,
    /// The run directory.
    pub dir: PathBuf,
}

/// Why a replay did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    #[error(transparent)]
    Side(#[from] SideError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Rule(#[from] crate::compare::RuleError),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
}

/// Follows a replay as it goes (a progress bar, a test).
pub trait Observer: Send {
    /// Before the first record: the traffic's size, when every source is a
    /// file of known size.
    fn started(&mut self, _total_bytes: Option<u64>) {}
    /// After each record delivered to the report (`done` so far).
    fn progress(&mut self, _reader: &ReaderProgress, _done: u64) {}
    /// When the last record was delivered.
    fn finished(&mut self) {}
}

/// Follows nothing.
impl Observer for () {}

/// Runs one replay of `spec`; `stop` ends it early (see the module docs).
pub async fn replay(
    spec: &RunSpec,
    stop: &Stop,
    mut observer: impl Observer + 'static,
) -> Result<RunOutcome, RunError> {
    // Each source is opened once, here, and read from this handle: a FIFO
    // opened twice would lose its writer.
    let sources = traffic::open_sources(&spec.traffic)?;
    let lock = RunLock::acquire(&spec.out)?;
    let junit = spec.junit.as_deref().map(JunitFile::create).transpose()?;
    let rules = spec.compile_rules()?;
    let known = spec.compile_known()?;
    let contract = spec.compile_contract()?.map(std::sync::Arc::new);
    let options = spec.side_options();
    let (legacy, candidate) = sides::build_pair(&spec.legacy, &spec.candidate, &options)?;
    // An upstream that cannot be reached stops the run before it starts.
    let (legacy_ready, candidate_ready) = tokio::join!(legacy.ready(), candidate.ready());
    legacy_ready?;
    candidate_ready?;
    let rollout = match &spec.flags {
        Some(settings) => Some(RolloutTally::open(settings).await),
        None => None,
    };
    let mut sinks = Sinks::open(lock, spec, &rules, &known, rollout)?;
    if let Some(junit) = junit {
        sinks = sinks.with(Box::new(junit));
    }
    let dir = sinks.dir().to_owned();

    // The report is written by one blocking thread, in input order.
    let (events_tx, mut events_rx) = mpsc::channel::<Vec<Event>>(4);
    let writer = tokio::task::spawn_blocking(move || -> Result<Sinks, ReportError> {
        while let Some(batch) = events_rx.blocking_recv() {
            for event in &batch {
                sinks.accept(event)?;
            }
        }
        Ok(sinks)
    });

    observer.started(traffic::total_bytes(&sources));
    let mut done = 0u64;
    let plan = RunPlan {
        traffic: sources,
        read: spec.read.clone(),
        legacy: legacy.clone(),
        candidate: candidate.clone(),
        check_drift: spec.legacy_is_live(),
        rules,
        known,
        noise_probe: spec.noise_probe,
        contract,
        concurrency: spec.concurrency,
        max_diffs: spec.max_diffs,
        max_inflight_bytes: spec.max_inflight_bytes,
        pace: spec.pace,
        redact_headers: spec.redacted_headers(),
    };
    // The engine's loop runs as a task on the runtime's workers, not on the
    // thread that awaits this (a `block_on`): every comparison task that
    // finishes wakes it, and waking a parked `block_on` thread is a system
    // call each time (40% of a fast replay's futex calls), where a worker
    // that is running anyway picks the wake-up from its queue.
    let token = stop.token().clone();
    let ran = tokio::spawn(async move {
        let ran = engine::run(plan, events_tx, token, |reader, _| {
            done += 1;
            observer.progress(reader, done);
        })
        .await;
        observer.finished();
        ran
    })
    .await
    .unwrap_or_else(|e| Err(engine::EngineError::Task(e.to_string())));
    tokio::join!(legacy.shutdown(), candidate.shutdown());
    let sinks = writer
        .await
        .map_err(|e| engine::EngineError::Task(e.to_string()))??;
    let end = ran?;
    let state = if end.aborted.is_some() {
        RunState::Aborted
    } else if end.interrupted {
        RunState::Interrupted
    } else {
        RunState::Complete
    };
    let summary = sinks.finish(RunStatus {
        state,
        signal: (state == RunState::Interrupted)
            .then(|| stop.signal())
            .flatten(),
        abort_reason: end.aborted.map(|e| e.to_string()),
        pace: end.pace.clone(),
        legacy_target: legacy.stats(),
        candidate_target: candidate.stats(),
    })?;
    Ok(RunOutcome { summary, dir })
}
