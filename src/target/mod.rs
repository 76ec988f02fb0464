//! Targets: the two implementations under comparison, behind one trait.
//!
//! # Contract
//! A [`Target`] takes one input (JSON text) and gives one [`Answer`]: the
//! output, the error the implementation reported, or a timeout. Failures of the
//! plumbing around an implementation (a crashed worker, a garbled response, an
//! unreachable URL) are answers too, as errors whose type starts with
//! `cutover.`, so every record gets an outcome. The only `Err` a target returns
//! is [`TargetError`]: the target as a whole cannot work (its program does not
//! exist, its workers die before answering anything); the run then stops.
//!
//! Specs ([`TargetSpec`]) are written `builtin:NAME`, `worker:COMMAND LINE`,
//! `exec:COMMAND LINE`, an `http://` / `https://` URL, or `recorded` (the
//! responses the capture recorded from production). Command lines are split
//! like a POSIX shell splits words (quotes, backslashes) but are never run
//! through a shell.
//!
//! # Non-goals
//! Targets do not compare, retry across targets, or know about records: they
//! answer calls.

mod builtin;
mod exec;
mod http;
mod lines_async;
mod process;
mod recorded;
mod spec;
mod worker;

pub use builtin::BUILTINS;
pub use process::kill_all as kill_all_processes;
pub use spec::{CommandLine, TargetSpec};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which side of the comparison a target is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Legacy,
    Candidate,
}

impl Side {
    pub fn flag(self) -> &'static str {
        match self {
            Side::Legacy => "--legacy",
            Side::Candidate => "--candidate",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Legacy => "legacy",
            Side::Candidate => "candidate",
        })
    }
}

/// An error reported by an implementation (or by the plumbing around it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

impl AppError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        AppError {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

/// What one call to a target gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Output(Value),
    Error(AppError),
    /// No answer within the timeout.
    Timeout(Duration),
}

/// Counters a target keeps about its own plumbing.
#[derive(Debug, Default)]
pub struct TargetCounters {
    /// Calls sent again after the process serving them died.
    pub retries: AtomicU64,
    /// Worker processes started to replace one that died or was killed.
    pub restarts: AtomicU64,
    /// Processes killed because a call timed out.
    pub timeout_kills: AtomicU64,
    /// Response lines that broke the worker protocol.
    pub protocol_errors: AtomicU64,
}

/// A snapshot of [`TargetCounters`], for reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TargetStats {
    pub retries: u64,
    pub restarts: u64,
    pub timeout_kills: u64,
    pub protocol_errors: u64,
}

impl TargetCounters {
    pub fn snapshot(&self) -> TargetStats {
        TargetStats {
            retries: self.retries.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            timeout_kills: self.timeout_kills.load(Ordering::Relaxed),
            protocol_errors: self.protocol_errors.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A target that cannot work at all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TargetError {
    #[error("{flag} {spec:?}: {reason}")]
    BadSpec {
        flag: &'static str,
        spec: String,
        reason: String,
    },
    #[error("{flag}: the {what} `{command}` cannot start: {reason}")]
    CannotStart {
        flag: &'static str,
        /// What the command is: "worker" or "exec program".
        what: &'static str,
        command: String,
        reason: String,
    },
}

/// What a target is asked: one record's input, and the response production
/// gave for it when the capture recorded one. The input is shared, so a
/// target that queues it (a worker) holds it without copying it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub input: &'a Arc<RawValue>,
    pub recorded: Option<&'a RawValue>,
}

/// One side of the comparison.
///
/// # Invariants
/// - `call` always resolves, within about `timeout` for targets that run
///   outside the process, and never panics on any input or response.
/// - Calls are independent: no state from one input influences another's answer
///   (workers hold no per-call state the harness relies on).
/// - `shutdown` is called once, after the last call; it releases processes.
pub trait Target: Send + Sync {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, TargetError>>;
    fn stats(&self) -> TargetStats {
        TargetStats::default()
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Settings shared by all targets of a run.
#[derive(Debug, Clone)]
pub struct TargetOptions {
    /// Per-call timeout (worker, exec, http).
    pub timeout: Duration,
    /// How long a fresh worker process may take to give its first answer
    /// before the calls waiting on it time out (worker targets).
    pub startup_timeout: Duration,
    /// Processes per `worker:` target.
    pub workers: usize,
    /// Times a call is re-sent after its worker died.
    pub retries: u32,
    /// Longest accepted response, in bytes.
    pub max_response_bytes: usize,
    /// The sides whose `http(s)://` target follows redirects, to the same
    /// origin only (`--follow-redirects`); the others answer with the 3xx.
    pub follow_redirects: Vec<Side>,
}

/// A whole response (`what`: "stdout", "response body") as an answer: its JSON,
/// or a `cutover.bad_output` error quoting its start.
pub(crate) fn parse_output(bytes: &[u8], what: &str) -> Answer {
    match serde_json::from_slice(bytes) {
        Ok(value) => Answer::Output(value),
        Err(e) => Answer::Error(AppError::new(
            "cutover.bad_output",
            format!(
                "{what} is not JSON ({e}): {}",
                crate::traffic::excerpt(bytes)
            ),
        )),
    }
}

/// The error for a response over `--max-record-bytes`.
pub(crate) fn too_large(what: &str, max: usize) -> Answer {
    Answer::Error(AppError::new(
        "cutover.output_too_large",
        format!("{what} is over {max} bytes (--max-record-bytes)"),
    ))
}

/// Builds the target a spec describes. Checks what can be checked up front
/// (the program exists, the builtin is known) so that mistakes stop the run
/// before any record is read.
pub fn build(
    spec: &TargetSpec,
    side: Side,
    options: &TargetOptions,
) -> Result<Arc<dyn Target>, TargetError> {
    Ok(match spec {
        TargetSpec::Builtin(name) => Arc::new(builtin::Builtin::new(name, side)?),
        TargetSpec::Worker(command) => {
            Arc::new(worker::WorkerPool::start(command.clone(), side, options)?)
        }
        TargetSpec::Exec(command) => Arc::new(exec::Exec::new(command.clone(), side, options)?),
        TargetSpec::Http(url) => Arc::new(http::Http::new(url, side, options)?),
        TargetSpec::Recorded => Arc::new(recorded::Recorded),
    })
}
