//! `worker:COMMAND`: a pool of persistent processes speaking the worker protocol
//! (`legacy/PROTOCOL.md`): one JSON request per line on stdin, one JSON
//! response per line on stdout, matched by `id`, many requests in flight.
//!
//! # Design
//! Each worker is a small actor: a writer task owns its stdin (requests arrive
//! over a bounded channel and are flushed once per burst, so pipelined calls
//! share syscalls), a reader task owns its stdout and completes the pending
//! call whose wire id the response names, a stderr task keeps the last lines
//! for error messages, and a supervisor task owns the process and kills it on
//! request. Wire ids are cutover's own sequence numbers, never record ids, so
//! duplicate or odd record ids cannot confuse the matching. Processes are
//! started, and their stderr kept, by [`super::process`]: each worker is a
//! process group that dies with cutover; its stderr is read as bytes, in
//! lines of bounded length.
//!
//! # Failure semantics
//! - A call is sent to the worker with the fewest calls in flight.
//! - A worker that exits, closes stdout, or breaks the protocol (a line that is
//!   not a response, an id it was never sent, a line over the size limit) is
//!   killed; when the process itself exits, its whole process group is killed
//!   at once, so a child it left holding stdout cannot hide the death (the
//!   answers already written are still read, for at most
//!   [`super::process::AFTER_EXIT`]). Every call in flight on it is
//!   **retried** on a fresh worker, up to
//!   `retries` times (each counted in `retries`), then answered with an
//!   `cutover.worker_died` error carrying the exit status and stderr tail.
//! - A call with no answer within `timeout` is answered [`Answer::Timeout`]
//!   (a call sent to a worker that has not answered anything yet may wait
//!   until `startup_timeout` after the worker started, if that is later: the
//!   worker's start-up is not the call's fault); its
//!   worker is killed (it may be stuck) and replaced; the other calls in flight
//!   on it are retried as above. Only the *oldest* call waiting on a worker is
//!   blamed: calls queued behind it are victims of the stall, and are retried.
//! - When a worker dies, the oldest call in flight on it is the *suspect* (a
//!   worker answering in order was busy with it); only the suspect spends the
//!   `retries` budget. The others are bystanders, retried up to
//!   [`BYSTANDER_RETRIES`] times, so innocent calls that shared a worker with a
//!   poison record get their answer and a poison record still ends in an error.
//! - Dead workers are replaced lazily, on the next call (`restarts`).
//! - At shutdown every worker's stdin is closed at once and all get one
//!   shared [`EXIT_GRACE`] to exit; those still running then are killed with
//!   their process groups.
//! - When workers die [`SILENT_DEATH_LIMIT`] times in a row without ever having
//!   answered, the command cannot work (wrong script, missing module): the pool
//!   returns [`TargetError::CannotStart`] and the run stops with exit status 2.

use super::lines_async::{read_line, Line};
use super::process::{self, StderrTail};
use super::{
    Answer, AppError, CommandLine, Request, Side, Target, TargetCounters, TargetError,
    TargetOptions, TargetStats,
};
use crate::traffic::present;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Consecutive deaths of never-answering workers after which the pool gives up.
pub const SILENT_DEATH_LIMIT: u32 = 3;
/// Characters of each stderr line quoted in error messages.
const STDERR_QUOTE_CHARS: usize = 300;
/// Retries allowed to a call that was never the suspect of its worker's death.
pub const BYSTANDER_RETRIES: u32 = 5;
/// Requests queued per worker before callers wait.
const QUEUE: usize = 1024;
/// How long a worker gets to exit after its stdin closes.
const EXIT_GRACE: Duration = Duration::from_secs(2);

pub struct WorkerPool {
    shared: Arc<PoolShared>,
    slots: Mutex<Vec<Arc<Worker>>>,
    next_id: AtomicU64,
}

struct PoolShared {
    command: CommandLine,
    side: Side,
    timeout: Duration,
    startup_timeout: Duration,
    retries: u32,
    max_line: usize,
    counters: TargetCounters,
    silent_deaths: AtomicU32,
    fatal: Mutex<Option<String>>,
}

struct Worker {
    /// The process id, for logs (0 if it was not known).
    pid: u32,
    /// When the process was started.
    started: std::time::Instant,
    requests: mpsc::Sender<WireRequest>,
    /// Held while a call takes its wire id and is queued.
    order: Mutex<()>,
    state: Arc<WorkerState>,
}

enum Reply {
    Answer(Answer),
    /// The worker died with this call in flight. `suspect` is true for the
    /// call most likely to have caused it: the oldest one in flight, which a
    /// worker answering in order was working on.
    Died {
        reason: String,
        suspect: bool,
    },
}

#[derive(Default)]
struct WorkerState {
    /// Calls in flight by wire id; `None` once the worker is dead.
    pending: Mutex<Option<HashMap<u64, oneshot::Sender<Reply>>>>,
    answered: AtomicU64,
    /// Why cutover killed it, when it did.
    kill_reason: Mutex<Option<String>>,
    killed_for_timeout: AtomicBool,
    kill: CancellationToken,
    /// Stop writing and close stdin (graceful shutdown).
    close: CancellationToken,
    /// Cancelled when the worker is gone and its calls have been told.
    finished: CancellationToken,
    /// Cancelled when the process has exited (and its group was killed).
    exited: CancellationToken,
    stderr_tail: StderrTail,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl WorkerState {
    fn new() -> Self {
        WorkerState {
            pending: Mutex::new(Some(HashMap::new())),
            ..Default::default()
        }
    }

    /// Dead or doomed: killed (cleanup may still be running) or gone.
    fn is_dead(&self) -> bool {
        self.kill.is_cancelled() || lock(&self.pending).is_none()
    }

    fn in_flight(&self) -> usize {
        lock(&self.pending)
            .as_ref()
            .map_or(usize::MAX, HashMap::len)
    }

    /// Registers a call; false when the worker is already dead.
    fn register(&self, id: u64, reply: oneshot::Sender<Reply>) -> bool {
        match lock(&self.pending).as_mut() {
            Some(map) if !self.kill.is_cancelled() => {
                map.insert(id, reply);
                true
            }
            _ => false,
        }
    }

    /// Whether the call `id`, past its deadline, is a victim rather than the
    /// culprit: a call sent before it is still waiting here, or the worker is
    /// already doomed (an older call timed out and killed it). Read under the
    /// same lock [`Self::expire`] holds, so it sees the older call or the kill,
    /// never neither.
    fn must_wait(&self, id: u64) -> bool {
        let pending = lock(&self.pending);
        self.kill.is_cancelled()
            || pending
                .as_ref()
                .is_some_and(|m| m.keys().any(|&other| other < id))
    }

    /// Takes the call `id` out (it missed its deadline) and dooms the worker,
    /// in one step under the pending lock; false if the call was no longer
    /// waiting (its answer raced the deadline, or the worker died).
    fn expire(&self, id: u64, reason: String) -> bool {
        let mut pending = lock(&self.pending);
        let Some(map) = pending.as_mut() else {
            return false;
        };
        if map.remove(&id).is_none() {
            return false;
        }
        self.kill_for_timeout(reason);
        true
    }

    /// Kills the worker because a deadline passed: its calls left in flight
    /// are bystanders, and its death is not a start-up failure.
    fn kill_for_timeout(&self, reason: String) {
        self.killed_for_timeout.store(true, Ordering::Relaxed);
        self.kill_with(reason);
    }

    /// Kills the worker. `reason` says why for error messages; an empty one
    /// lets the exit status speak.
    fn kill_with(&self, reason: String) {
        if !reason.is_empty() {
            lock(&self.kill_reason).get_or_insert(reason);
        }
        self.kill.cancel();
    }
}

impl PoolShared {
    /// The error that stops the run: this pool's command cannot work.
    fn cannot_start(&self, reason: String) -> TargetError {
        TargetError::CannotStart {
            flag: self.side.flag(),
            what: "worker",
            command: self.command.to_string(),
            reason,
        }
    }
}

impl WorkerPool {
    pub fn start(
        command: CommandLine,
        side: Side,
        options: &TargetOptions,
    ) -> Result<Self, TargetError> {
        let shared = Arc::new(PoolShared {
            command: command.clone(),
            side,
            timeout: options.timeout,
            startup_timeout: options.startup_timeout,
            retries: options.retries,
            max_line: options.max_response_bytes,
            counters: TargetCounters::default(),
            silent_deaths: AtomicU32::new(0),
            fatal: Mutex::new(None),
        });
        command
            .resolve_program()
            .map_err(|reason| shared.cannot_start(reason))?;
        let workers = (0..options.workers.max(1))
            .map(|_| spawn(&shared))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| shared.cannot_start(e.to_string()))?;
        Ok(WorkerPool {
            shared,
            slots: Mutex::new(workers),
            next_id: AtomicU64::new(0),
        })
    }

    fn fatal_error(&self) -> Option<TargetError> {
        lock(&self.shared.fatal)
            .clone()
            .map(|reason| self.shared.cannot_start(reason))
    }

    /// The least busy live worker, replacing dead ones first.
    fn pick(&self) -> Result<Arc<Worker>, TargetError> {
        if let Some(e) = self.fatal_error() {
            return Err(e);
        }
        let mut slots = lock(&self.slots);
        for slot in slots.iter_mut() {
            if slot.state.is_dead() {
                *slot = spawn(&self.shared).map_err(|e| {
                    self.shared
                        .cannot_start(format!("restarting a worker failed: {e}"))
                })?;
                TargetCounters::bump(&self.shared.counters.restarts);
            }
        }
        Ok(slots
            .iter()
            .min_by_key(|w| w.state.in_flight())
            .expect("a pool has at least one worker")
            .clone())
    }

    async fn call_inner(&self, input: &Arc<RawValue>) -> Result<Answer, TargetError> {
        let mut attempts = 0u32;
        let mut bystander = 0u32;
        loop {
            let (died, suspect) = match self.attempt(input).await? {
                Attempt::Answered(answer) => return Ok(answer),
                Attempt::Died { reason, suspect } => (reason, suspect),
            };
            if let Some(e) = self.fatal_error() {
                return Err(e);
            }
            // A suspect spends the retry budget; a bystander (another call was
            // older) has its own, larger allowance, so innocent calls survive
            // sharing a worker with a poison record without retrying forever.
            if suspect {
                attempts += 1;
            } else {
                bystander += 1;
            }
            if attempts > self.shared.retries || bystander > BYSTANDER_RETRIES {
                let attempts = attempts + bystander;
                return Ok(Answer::Error(AppError::new(
                    "cutover.worker_died",
                    format!(
                        "the worker died while handling this call ({}): {died}",
                        crate::terminal::counted(attempts as u64, "attempt", "attempts")
                    ),
                )));
            }
            TargetCounters::bump(&self.shared.counters.retries);
        }
    }

    /// Sends one call to one worker and waits for its fate.
    async fn attempt(&self, input: &Arc<RawValue>) -> Result<Attempt, TargetError> {
        let (worker, id, mut reply_rx) = loop {
            let worker = self.pick()?;
            // The queue is bounded; a worker that stopped reading must not
            // hold the call past its deadline.
            let permit =
                match tokio::time::timeout(self.shared.timeout, worker.requests.reserve()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => {
                        // The writer is gone (stdin broke): doom the worker so the
                        // next pick replaces it instead of choosing it again.
                        worker.state.kill_with(String::new());
                        tokio::task::yield_now().await;
                        continue;
                    }
                    Err(_) => {
                        return Ok(Attempt::Answered(
                            self.kill_for_timeout(&worker, "it accepted no request for longer"),
                        ))
                    }
                };
            let (reply_tx, reply_rx) = oneshot::channel();
            // Wire ids are taken and queued under one lock, so on each worker
            // a smaller id was always written earlier: "oldest" is well defined.
            let queued = {
                let _order = lock(&worker.order);
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                // A worker that died since pick never sees the call: pick again.
                worker.state.register(id, reply_tx).then(|| {
                    permit.send(WireRequest {
                        id,
                        input: input.clone(),
                    });
                    id
                })
            };
            if let Some(id) = queued {
                break (worker, id, reply_rx);
            }
        };
        // Calls queued behind an older call on the same worker are not the
        // ones stuck: the oldest one times out first, kills the worker, and
        // these get `Died` and are retried. Wait for that (bounded: every call
        // has its own deadline, so the oldest one ends, and a killed worker's
        // calls are told within moments).
        let mut wait = self.first_wait(&worker);
        let reply = loop {
            match tokio::time::timeout(wait, &mut reply_rx).await {
                Ok(reply) => break reply,
                Err(_) if worker.state.must_wait(id) => wait = self.shared.timeout,
                Err(_) => return Ok(self.timed_out(&worker, id, &mut reply_rx).await),
            }
        };
        Ok(match reply {
            Ok(Reply::Answer(answer)) => Attempt::Answered(answer),
            Ok(Reply::Died { reason, suspect }) => Attempt::Died { reason, suspect },
            Err(_) => Attempt::Died {
                reason: "it went away without a word".to_owned(),
                suspect: true,
            },
        })
    }

    /// The call's deadline passed: kill its worker (it may be stuck) and answer
    /// `Timeout`, unless the answer raced the deadline.
    async fn timed_out(
        &self,
        worker: &Worker,
        id: u64,
        reply_rx: &mut oneshot::Receiver<Reply>,
    ) -> Attempt {
        if worker
            .state
            .expire(id, self.timeout_reason("a call on it took longer"))
        {
            tracing::debug!(
                target: "cutover::worker",
                id,
                pid = worker.pid,
                answered = worker.state.answered.load(Ordering::Relaxed),
                in_flight = worker.state.in_flight(),
                "call timed out; its worker is killed"
            );
            TargetCounters::bump(&self.shared.counters.timeout_kills);
            return Attempt::Answered(Answer::Timeout(self.shared.timeout));
        }
        match reply_rx.await {
            Ok(Reply::Answer(answer)) => Attempt::Answered(answer),
            Ok(Reply::Died { reason, suspect }) => Attempt::Died { reason, suspect },
            Err(_) => Attempt::Died {
                reason: "it went away without a word".to_owned(),
                suspect: true,
            },
        }
    }
}

impl WorkerPool {
    /// How long a call just sent to `worker` waits before it counts as timed
    /// out: `--timeout`, or, while the worker has not answered anything yet,
    /// until `--startup-timeout` after it was started if that is later. A
    /// worker's start-up (an interpreter importing its modules on a loaded
    /// machine) is not the fault of the first calls it is sent.
    fn first_wait(&self, worker: &Worker) -> Duration {
        let timeout = self.shared.timeout;
        if worker.state.answered.load(Ordering::Relaxed) > 0 {
            return timeout;
        }
        timeout.max(
            self.shared
                .startup_timeout
                .saturating_sub(worker.started.elapsed()),
        )
    }

    /// Why a worker was killed for missing a deadline.
    fn timeout_reason(&self, what: &str) -> String {
        format!(
            "was killed by cutover: {what} than --timeout {:?}",
            self.shared.timeout
        )
    }

    /// Kills a worker that missed a deadline; the call that noticed gets `Timeout`.
    fn kill_for_timeout(&self, worker: &Worker, what: &str) -> Answer {
        TargetCounters::bump(&self.shared.counters.timeout_kills);
        worker.state.kill_for_timeout(self.timeout_reason(what));
        Answer::Timeout(self.shared.timeout)
    }
}

enum Attempt {
    Answered(Answer),
    Died { reason: String, suspect: bool },
}

impl Target for WorkerPool {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, TargetError>> {
        Box::pin(self.call_inner(request.input))
    }

    fn stats(&self) -> TargetStats {
        self.shared.counters.snapshot()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let workers: Vec<Arc<Worker>> = lock(&self.slots).clone();
            for worker in &workers {
                worker.state.close.cancel();
            }
            // One grace for all of them, not one after another.
            futures::future::join_all(workers.iter().map(|worker| async move {
                let state = &worker.state;
                if tokio::time::timeout(EXIT_GRACE, state.finished.cancelled())
                    .await
                    .is_err()
                {
                    state.kill_with(format!(
                        "did not exit within {EXIT_GRACE:?} of its stdin closing"
                    ));
                    state.finished.cancelled().await;
                }
            }))
            .await;
        })
    }
}

/// One request line to write: the record's input is shared with the
/// record, not copied into a line of its own (a queued request of a big
/// record would otherwise hold a second copy of it).
struct WireRequest {
    id: u64,
    input: Arc<RawValue>,
}

impl WireRequest {
    /// The line's three parts: the start, the input, the end.
    fn parts(&self) -> (String, &[u8], &'static [u8]) {
        (
            format!("{{\"id\":\"{}\",\"input\":", self.id),
            self.input.get().as_bytes(),
            b"}\n",
        )
    }
}

fn spawn(shared: &Arc<PoolShared>) -> std::io::Result<Arc<Worker>> {
    let started = std::time::Instant::now();
    let process::Spawned { mut child, group } = process::spawn(&shared.command)?;
    let (stdin, stdout, stderr) = (
        child.stdin.take().expect("stdin is piped"),
        child.stdout.take().expect("stdout is piped"),
        child.stderr.take().expect("stderr is piped"),
    );
    let state = Arc::new(WorkerState::new());
    let (requests, queue) = mpsc::channel(QUEUE);
    let (exit_tx, exit_rx) = oneshot::channel();
    let (stderr_done_tx, stderr_done_rx) = oneshot::channel();
    let pid = child.id().unwrap_or(0);
    tokio::spawn(write_requests(stdin, queue, state.clone()));
    tokio::spawn(keep_stderr(stderr, state.clone(), pid, stderr_done_tx));
    tokio::spawn(supervise(child, group, state.clone(), exit_tx));
    tokio::spawn(read_responses(
        stdout,
        state.clone(),
        shared.clone(),
        exit_rx,
        stderr_done_rx,
    ));
    Ok(Arc::new(Worker {
        pid,
        started,
        requests,
        order: Mutex::new(()),
        state,
    }))
}

async fn write_requests(
    stdin: ChildStdin,
    mut queue: mpsc::Receiver<WireRequest>,
    state: Arc<WorkerState>,
) {
    let mut out = BufWriter::with_capacity(1 << 16, stdin);
    loop {
        let line = tokio::select! {
            line = queue.recv() => line,
            _ = state.close.cancelled() => None,
            _ = state.kill.cancelled() => None,
        };
        let Some(line) = line else { break };
        let mut written = write_request(&mut out, &line).await;
        // Write the whole burst already queued, then flush once.
        while written.is_ok() {
            match queue.try_recv() {
                Ok(line) => written = write_request(&mut out, &line).await,
                Err(_) => break,
            }
        }
        if written.and(out.flush().await).is_err() {
            // Its stdin broke, so it is dead or dying: let the exit status tell.
            state.kill_with(String::new());
            break;
        }
    }
    // Dropping stdin closes it: a well-behaved worker exits on EOF.
}

async fn write_request(
    out: &mut BufWriter<ChildStdin>,
    request: &WireRequest,
) -> std::io::Result<()> {
    let (start, input, end) = request.parts();
    out.write_all(start.as_bytes()).await?;
    out.write_all(input).await?;
    out.write_all(end).await
}

async fn keep_stderr(
    stderr: ChildStderr,
    state: Arc<WorkerState>,
    pid: u32,
    done: oneshot::Sender<()>,
) {
    process::keep_stderr(stderr, &state.stderr_tail, |line| {
        tracing::debug!(target: "cutover::worker", pid, "{line}");
    })
    .await;
    let _ = done.send(());
}

/// Owns the process: waits for it to exit, or kills it (with its group) when
/// told; once it has exited, kills what is left of its group, which could
/// only be holding its pipes.
async fn supervise(
    mut child: Child,
    group: process::Group,
    state: Arc<WorkerState>,
    exit: oneshot::Sender<String>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = state.kill.cancelled() => {
            group.kill();
            let _ = child.start_kill();
            child.wait().await
        }
    };
    group.kill();
    state.exited.cancel();
    let text = match status {
        Ok(s) => describe_exit(s),
        Err(e) => format!("could not be waited for: {e}"),
    };
    let _ = exit.send(text);
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => format!("ended ({status})"),
    }
}

#[derive(Deserialize)]
struct WireResponse {
    id: String,
    #[serde(default, deserialize_with = "present")]
    output: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    error: Option<AppError>,
}

/// Parses one response line into (wire id, answer), or says how it breaks the protocol.
fn parse_response(line: &[u8]) -> Result<(u64, Answer), String> {
    let excerpt = || crate::traffic::excerpt(line);
    let wire: WireResponse = serde_json::from_slice(line).map_err(|e| {
        format!(
            "answered a line that is not a protocol response ({e}): {}",
            excerpt()
        )
    })?;
    let id = wire
        .id
        .parse::<u64>()
        .map_err(|_| format!("answered id {:?}, which cutover never sent", wire.id))?;
    match (wire.output, wire.error) {
        (Some(output), None) => Ok((id, Answer::Output(output))),
        (None, Some(error)) => Ok((id, Answer::Error(error))),
        _ => Err(format!(
            "answered a response with both or neither of `output` and `error`: {}",
            excerpt()
        )),
    }
}

async fn read_responses(
    stdout: ChildStdout,
    state: Arc<WorkerState>,
    pool: Arc<PoolShared>,
    exit: oneshot::Receiver<String>,
    stderr_done: oneshot::Receiver<()>,
) {
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    let mut buf = Vec::new();
    // Once the process has exited, what it wrote is still read, but a pipe
    // held open by something outside its group is not waited for.
    let after_exit = process::after_exit(&state.exited);
    tokio::pin!(after_exit);
    let violation = loop {
        // Once cutover has killed the worker, stop reading at once: its calls
        // must be told now, not whenever the pipe closes (a grandchild that
        // inherited stdout could keep it open long after the kill).
        let line = tokio::select! {
            line = read_line(&mut reader, &mut buf, pool.max_line) => line,
            _ = state.kill.cancelled() => break None,
            () = &mut after_exit => break None,
        };
        match line {
            Ok(Line::Complete) => {}
            Ok(Line::TooLong { .. }) => {
                break Some(format!(
                    "answered a line longer than {} bytes (--max-record-bytes)",
                    pool.max_line
                ))
            }
            Ok(Line::Eof) | Err(_) => break None,
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_response(&buf) {
            Ok((id, answer)) => {
                let reply = lock(&state.pending).as_mut().and_then(|m| m.remove(&id));
                let Some(reply) = reply else {
                    break Some(format!(
                        "answered id \"{id}\", which has no call waiting (never sent, or answered twice)"
                    ));
                };
                state.answered.fetch_add(1, Ordering::Relaxed);
                pool.silent_deaths.store(0, Ordering::Relaxed);
                let _ = reply.send(Reply::Answer(answer));
            }
            Err(reason) => break Some(reason),
        }
    };
    match violation {
        Some(v) => {
            TargetCounters::bump(&pool.counters.protocol_errors);
            state.kill_with(format!("broke the worker protocol: it {v}"));
        }
        // Stdout is closed: whatever the process does now, it cannot answer.
        None => state.kill_with(String::new()),
    }
    let status = exit.await.unwrap_or_else(|_| "vanished".to_owned());
    let _ = tokio::time::timeout(Duration::from_millis(500), stderr_done).await;
    let mut reason = match lock(&state.kill_reason).clone() {
        Some(why) => format!("worker {why}"),
        None => format!("worker {status}"),
    };
    let tail: Vec<String> = state
        .stderr_tail
        .lines()
        .into_iter()
        .map(|line| line.chars().take(STDERR_QUOTE_CHARS).collect())
        .collect();
    if !tail.is_empty() {
        reason.push_str("; its stderr ended with: ");
        reason.push_str(&tail.join(" | "));
    }
    let orphans = lock(&state.pending).take().unwrap_or_default();
    let never_answered = state.answered.load(Ordering::Relaxed) == 0;
    if never_answered
        && !state.killed_for_timeout.load(Ordering::Relaxed)
        && !state.close.is_cancelled()
    {
        let deaths = pool.silent_deaths.fetch_add(1, Ordering::Relaxed) + 1;
        if deaths >= SILENT_DEATH_LIMIT {
            lock(&pool.fatal).get_or_insert_with(|| {
                format!("{deaths} workers in a row ended before answering a single request; the last: {reason}")
            });
        }
    }
    // After a timeout kill the culprit already has its answer: everyone left
    // is a bystander. Otherwise the oldest call in flight is the suspect.
    let suspect = if state.killed_for_timeout.load(Ordering::Relaxed) {
        None
    } else {
        orphans.keys().min().copied()
    };
    for (id, reply) in orphans {
        let _ = reply.send(Reply::Died {
            reason: reason.clone(),
            suspect: Some(id) == suspect,
        });
    }
    state.finished.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_checked_against_the_protocol() {
        assert_eq!(
            parse_response(br#"{"id":"3","output":null}"#).unwrap(),
            (3, Answer::Output(Value::Null))
        );
        assert!(matches!(
            parse_response(br#"{"id":"4","error":{"type":"E","message":"m"}}"#).unwrap(),
            (4, Answer::Error(_))
        ));
        assert!(parse_response(br#"{"id":"x","output":1}"#)
            .unwrap_err()
            .contains("never sent"));
        assert!(parse_response(br#"{"id":"1"}"#)
            .unwrap_err()
            .contains("neither"));
        assert!(
            parse_response(br#"{"id":"1","output":1,"error":{"type":"E","message":"m"}}"#)
                .unwrap_err()
                .contains("both")
        );
        assert!(parse_response(b"Traceback (most recent call last):")
            .unwrap_err()
            .contains("not a protocol response"));
    }

    #[test]
    fn request_lines_embed_the_input_verbatim() {
        let input = RawValue::from_string(r#"{"items":[" a"]}"#.into()).unwrap();
        let request = WireRequest {
            id: 7,
            input: input.into(),
        };
        let (start, input, end) = request.parts();
        let line = [start.as_bytes(), input, end].concat();
        assert_eq!(line, b"{\"id\":\"7\",\"input\":{\"items\":[\" a\"]}}\n");
    }
}
