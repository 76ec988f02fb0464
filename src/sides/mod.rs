//! Sides: the two implementations under comparison, behind one trait.
//!
//! # Contract
//! An [`Implementation`] takes one input (JSON text) and gives one
//! [`Answer`]: the output, the error the implementation reported, or a
//! timeout. Failures of the plumbing around an implementation (a crashed
//! worker, a garbled response, an unreachable URL) are answers too, as
//! errors whose type starts with `cutover.`, so every record gets an
//! outcome. The only `Err` an implementation returns is [`SideError`]: the
//! side as a whole cannot work (its program does not exist, its workers die
//! before answering anything); the run then stops.
//!
//! Specs ([`SideSpec`]) are written in one of six forms ([`FORMS`]):
//! `builtin:NAME`, `worker:COMMAND LINE`, `pipe:COMMAND LINE` (a worker
//! pool whose programs answer in order, with no ids), `exec:COMMAND LINE`, an `http://` /
//! `https://` URL (POST the input as JSON), `upstream:http(s)://HOST:PORT` (an
//! HTTP service sent each record's whole request: [`upstream`]), or
//! `recorded` (the responses the capture recorded from production). Command lines are split like a POSIX shell splits words
//! (quotes, backslashes) but are never run through a shell, and they run in
//! the directory [`SideOptions::dir`] names (the run's working directory),
//! whoever starts them and from wherever.
//!
//! Outputs are given as the side's JSON text where a side has it
//! ([`crate::model::Output`]): `builtin:identity` (its input, shared, no
//! copy), `worker:` and `pipe:` (the response's `output` or line),
//! `exec:` and `http(s)://` (the stdout or body), `recorded` (the capture's
//! `recorded` text). Text is kept only when it surely reads as a value;
//! otherwise it is parsed at once, so every answer, error message
//! included, is what parsing it gave before. `builtin:normalize` answers a
//! value, and `upstream:` its exchange's response object (a value built
//! from status, headers and body). Which form an answer has never changes
//! a verdict, only its cost ([`crate::compare`]'s fast path for text).
//!
//! Names only [`crate::model`], [`crate::util`] and [`crate::normalize`]
//! (the builtins).
//!
//! # Non-goals
//! Sides do not compare, retry across sides, or know about records: they
//! answer calls.

mod builtin;
mod events;
mod exec;
mod http;
#[cfg(any(test, feature = "mock"))]
pub mod mock;
mod process;
mod recorded;
mod spec;
pub mod upstream;
mod worker;

pub use builtin::BUILTINS;
pub use process::kill_all as kill_all_processes;
pub use spec::{CommandLine, SideSpec, FORMS};

use crate::model::{valid, Answer, AppError, InputCheck, Output, Side, SideStats};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters a side keeps about its own plumbing (`events.rs` says what
/// bumps them).
#[derive(Debug, Default)]
pub struct SideCounters {
    /// Calls sent again after the process serving them died.
    pub retries: AtomicU64,
    /// Worker processes started to replace one that died or was killed.
    pub restarts: AtomicU64,
    /// Processes killed because a call timed out.
    pub timeout_kills: AtomicU64,
    /// Response lines that broke the worker protocol.
    pub protocol_errors: AtomicU64,
}

impl SideCounters {
    pub fn snapshot(&self) -> SideStats {
        SideStats {
            retries: self.retries.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            timeout_kills: self.timeout_kills.load(Ordering::Relaxed),
            protocol_errors: self.protocol_errors.load(Ordering::Relaxed),
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A side that cannot work at all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SideError {
    #[error("{flag} {spec:?}: {reason}")]
    BadSpec {
        flag: &'static str,
        spec: String,
        reason: String,
    },
    /// An upstream that cannot be reached before the run starts.
    #[error("{flag} upstream:{url}: {reason}")]
    Unreachable {
        flag: &'static str,
        url: String,
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

/// What a side is asked: one record's input, and the response production
/// gave for it when the capture recorded one. The input is shared, so a
/// side that queues it (a worker) holds it without copying it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub input: &'a Arc<RawValue>,
    /// [`crate::model::Record::input_check`]: what is known of the input,
    /// so a side may skip its own check of that.
    pub input_check: InputCheck,
    pub recorded: Option<&'a RawValue>,
}

/// One call's answer and the time it waited inside cutover for a slot (a
/// connection, a process) before the request left: the rest of the call's
/// time is service time.
#[derive(Debug, Clone)]
pub struct Called {
    pub answer: Answer,
    pub waited: Duration,
}

impl Called {
    /// An answer that waited for nothing.
    pub fn now(answer: Answer) -> Called {
        Called {
            answer,
            waited: Duration::ZERO,
        }
    }
}

/// One call of [`Implementation::call_many`], ended: its result, and when
/// it ended (the calls of one batch end at different times).
#[derive(Debug)]
pub struct Ended {
    pub result: Result<Called, SideError>,
    pub at: Instant,
}

/// One implementation plugged in at one side of the comparison.
///
/// # Invariants
/// - `call` always resolves and never panics on any input or response. How
///   long it may take is bounded but depends on the kind: builtins answer
///   inline; `exec:` and `http(s)://` within `timeout` of starting the call
///   (an `exec:` call may first wait for a free process slot); a worker
///   pool within `timeout` of sending the call, or until `startup_timeout`
///   after the worker started if that is later, and each retry after a
///   worker died starts that clock again (at most `retries` for the call
///   the worker was busy with, a few more for the others).
/// - Calls are independent: no state from one input influences another's answer
///   (workers hold no per-call state the harness relies on).
/// - `answer_now`, when it is `Some`, is what `call` would have answered,
///   worked out on the calling thread; the engine asks it first.
/// - `answers_at_once` is `true` only if `answer_now` is `Some` for every
///   request.
/// - `call_many` answers each of its requests as `call_timed` would, one
///   [`Ended`] per request, in their order, under the same bounds; it
///   resolves once every call has ended. Its calls are independent: one
///   call's answer, retries or death never change another's.
/// - `shutdown` is called once, after the last call; it releases processes.
pub trait Implementation: Send + Sync {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>>;
    /// The answer at once, with no future, from a side whose answer is a
    /// plain function of the request worked out on the calling thread
    /// (`builtin:`): exactly what [`Implementation::call`] would answer.
    /// `None`, the default, for every side that answers through `call`.
    fn answer_now(&self, _request: Request<'_>) -> Option<Answer> {
        None
    }
    /// Whether [`Implementation::answer_now`] answers every request (is
    /// never `None`): the engine then compares a batch's records one after
    /// another, with no future each. `false`, the default, is always safe.
    fn answers_at_once(&self) -> bool {
        false
    }
    /// [`Implementation::call`], with the time the call waited for a slot
    /// (zero for the kinds that do not say).
    fn call_timed<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Called, SideError>> {
        Box::pin(async move { self.call(request).await.map(Called::now) })
    }
    /// [`Implementation::call_timed`] for several requests at once (a batch
    /// of records), each one's result with when it ended. The default runs
    /// the calls concurrently, each on its own; a worker pool sends a
    /// batch's requests together and wakes its caller once, when the last
    /// answer is in.
    fn call_many<'a>(&'a self, requests: &'a [Request<'a>]) -> BoxFuture<'a, Vec<Ended>> {
        Box::pin(futures::future::join_all(requests.iter().map(
            |&request| async move {
                let result = self.call_timed(request).await;
                Ended {
                    result,
                    at: Instant::now(),
                }
            },
        )))
    }
    /// The capture's recorded response in the form this side answers in,
    /// for drift checks (`None`: it cannot be read so).
    fn recorded_answer(&self, recorded: &RawValue) -> Option<Answer> {
        serde_json::from_str(recorded.get())
            .ok()
            .map(Answer::Output)
    }
    /// Checks, before the run, that the side can be reached at all.
    fn ready(&self) -> BoxFuture<'_, Result<(), SideError>> {
        Box::pin(async { Ok(()) })
    }
    fn stats(&self) -> SideStats {
        SideStats::default()
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Settings shared by both sides of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideOptions {
    /// Per-call timeout (worker, exec, http).
    #[serde(with = "crate::util::serde::duration")]
    pub timeout: Duration,
    /// How long a fresh worker process may take to give its first answer
    /// before the calls waiting on it time out (worker sides).
    #[serde(with = "crate::util::serde::duration")]
    pub startup_timeout: Duration,
    /// Processes per `worker:` side, and `exec:` programs at once.
    pub workers: usize,
    /// Times a call is re-sent after its worker died.
    pub retries: u32,
    /// Longest accepted response, in bytes.
    pub max_response_bytes: usize,
    /// The sides whose `http(s)://` implementation follows redirects, to the
    /// same origin only (`--follow-redirects`); the others answer with the 3xx.
    pub follow_redirects: Vec<Side>,
    /// The directory `worker:` and `exec:` command lines run in and resolve
    /// their relative paths against (`None`: the current directory). A run
    /// sets it to its working directory, so whoever re-runs its records,
    /// from wherever, starts the same programs. Not part of the serialised
    /// form: the run spec keeps it once, as its `cwd`.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

/// A whole response (`what`: "stdout", "response body") as an answer: its JSON,
/// or a `cutover.bad_output` error quoting its start.
///
/// The output is kept as the response's JSON text where it surely reads as
/// a value: vouched for by [`valid::whole`] in one pass, or else read by
/// serde_json as text ([`Output::from_text`]); anything else takes the
/// plain parse, whose answer (the value, or the error quoting serde_json)
/// it always was.
pub(crate) fn parse_output(bytes: &[u8], what: &str) -> Answer {
    if let Some(text) = valid::whole(bytes) {
        return Answer::Output(Output::from_valid_json_text(text.to_owned()));
    }
    let text = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| serde_json::from_str::<Box<RawValue>>(text).ok())
        .and_then(|raw| Output::from_text(raw).ok());
    if let Some(output) = text {
        return Answer::Output(output);
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => Answer::output(value),
        Err(e) => Answer::Error(AppError::new(
            "cutover.bad_output",
            format!(
                "{what} is not JSON ({e}): {}",
                crate::util::text::excerpt(bytes)
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

/// Builds the implementation a spec describes. Checks what can be checked
/// up front (the program exists, the builtin is known) so that mistakes stop
/// the run before any record is read. Worker pools start their processes,
/// so this is called inside a tokio runtime.
pub fn build(
    spec: &SideSpec,
    side: Side,
    options: &SideOptions,
) -> Result<Arc<dyn Implementation>, SideError> {
    Ok(match spec {
        SideSpec::Builtin(name) => Arc::new(builtin::Builtin::new(name, side)?),
        SideSpec::Worker(command) => Arc::new(worker::WorkerPool::start(
            command.clone(),
            worker::Framing::Ids,
            side,
            options,
        )?),
        SideSpec::Pipe(command) => Arc::new(worker::WorkerPool::start(
            command.clone(),
            worker::Framing::Ordered,
            side,
            options,
        )?),
        SideSpec::Exec(command) => Arc::new(exec::Exec::new(command.clone(), side, options)?),
        SideSpec::Http(url) => Arc::new(http::Http::new(url, side, options)?),
        SideSpec::Upstream(spec) => Arc::new(upstream::Upstream::new(spec, side, options)?),
        SideSpec::Recorded => Arc::new(recorded::Recorded { exchanges: None }),
    })
}

/// The legacy and the candidate, built.
pub type Pair = (Arc<dyn Implementation>, Arc<dyn Implementation>);

/// Builds both sides of a run ([`build`]); a `recorded` side opposite an
/// `upstream:` one answers recorded HTTP responses under the upstream's
/// header policy.
pub fn build_pair(
    legacy: &SideSpec,
    candidate: &SideSpec,
    options: &SideOptions,
) -> Result<Pair, SideError> {
    let one = |spec: &SideSpec, other: &SideSpec, side: Side| match (spec, other) {
        (SideSpec::Recorded, SideSpec::Upstream(up)) => Ok(Arc::new(recorded::Recorded {
            exchanges: Some(up.headers.clone()),
        }) as Arc<dyn Implementation>),
        _ => build(spec, side, options),
    };
    Ok((
        one(legacy, candidate, Side::Legacy)?,
        one(candidate, legacy, Side::Candidate)?,
    ))
}
