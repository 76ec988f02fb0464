//! The pool: which worker a call goes to, its deadline, and what happens
//! when its worker dies.
//!
//! # Contract
//! - A call, or a batch of calls ([`Implementation::call_many`]: the
//!   records of one engine batch), goes to the live worker with the fewest
//!   calls in flight, whole: one pick, one lock, one message to the writer
//!   and one wake-up of the caller when the last answer is in, not one per
//!   call (on a 2-core worker replay that was 15% of the CPU). Dead workers
//!   are replaced first, lazily, on the next call (`restarts`).
//! - Deadlines: see the module docs of [`super`]. A call past its deadline
//!   is answered `Timeout` and its worker killed, unless an older call on the
//!   same worker is still waiting (then that one is blamed and this one is
//!   retried when the worker dies). The calls of a batch are sent together,
//!   so they share one deadline and one timer; only the first of them still
//!   waiting can be the oldest on its worker.
//! - Each call of a batch ends on its own: its answer, its timeout, or its
//!   retries, which go out together with the batch's other calls whose
//!   worker died, to a fresh pick, the suspect last: a fresh worker answers
//!   the bystanders before it meets the call that may kill it, so a poison
//!   record is not taken for a command that cannot start.
//! - Retries follow [`RetryPolicy`], a pure function of a call's history:
//!   the suspect of a death spends `--retries`, a bystander up to
//!   [`BYSTANDER_RETRIES`]; past either, the call is answered
//!   `cutover.worker_died` with how many attempts it had.
//! - Once [`super::process::SILENT_DEATH_LIMIT`] workers in a row died
//!   before answering anything, every call gets
//!   [`SideError::CannotStart`]: the command cannot work.

use super::super::events::{CallRetried, InternalEvent, WorkerKilledOnTimeout, WorkerRestarted};
use super::super::{
    Called, CommandLine, Ended, Implementation, Request, SideCounters, SideError, SideOptions,
};
use super::pending::{lock, Fate, Replies};
use super::process::{spawn, Worker};
use super::protocol::{Framing, WireBatch};
use crate::model::{Answer, AppError, Side, SideStats};
use crate::util::text::counted;
use futures::future::BoxFuture;
use serde_json::value::RawValue;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TrySendError};

/// Retries allowed to a call that was never the suspect of its worker's death.
pub const BYSTANDER_RETRIES: u32 = 5;
/// How long a worker gets to exit after its stdin closes.
pub const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How often a call may be sent again after the worker serving it died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RetryPolicy {
    /// `--retries`: what a suspect may spend.
    pub retries: u32,
}

/// The deaths one call has lived through.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Attempts {
    suspect: u32,
    bystander: u32,
}

/// What to do with a call whose worker died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterDeath {
    Retry,
    /// Answer `cutover.worker_died`; the call had this many attempts.
    GiveUp {
        attempts: u32,
    },
}

impl RetryPolicy {
    /// Notes one more death of the call's worker (`suspect`: the call was
    /// the oldest in flight on it) and says what to do. A suspect spends the
    /// retry budget; a bystander has its own, larger allowance, so innocent
    /// calls survive sharing a worker with a poison record without retrying
    /// forever.
    pub fn after_death(&self, attempts: &mut Attempts, suspect: bool) -> AfterDeath {
        if suspect {
            attempts.suspect += 1;
        } else {
            attempts.bystander += 1;
        }
        if attempts.suspect > self.retries || attempts.bystander > BYSTANDER_RETRIES {
            AfterDeath::GiveUp {
                attempts: attempts.suspect + attempts.bystander,
            }
        } else {
            AfterDeath::Retry
        }
    }
}

/// What asking for a place in a worker's queue gave.
enum Reserved<'w> {
    Permit(mpsc::Permit<'w, WireBatch>),
    /// The writer is gone: its stdin broke.
    Gone,
    /// No place within `--timeout`: the worker stopped reading.
    TimedOut,
}

pub struct WorkerPool {
    shared: Arc<PoolShared>,
    slots: Mutex<Vec<Arc<Worker>>>,
}

/// What the pool and its workers' tasks share.
pub(super) struct PoolShared {
    pub command: CommandLine,
    pub framing: Framing,
    pub dir: Option<PathBuf>,
    pub side: Side,
    pub timeout: Duration,
    pub startup_timeout: Duration,
    pub policy: RetryPolicy,
    pub max_line: usize,
    pub counters: SideCounters,
    pub silent_deaths: AtomicU32,
    pub fatal: Mutex<Option<String>>,
}

impl PoolShared {
    /// The error that stops the run: this pool's command cannot work.
    fn cannot_start(&self, reason: String) -> SideError {
        SideError::CannotStart {
            flag: self.side.flag(),
            what: match self.framing {
                Framing::Ids => "worker",
                Framing::Ordered => "pipe program",
            },
            command: self.command.to_string(),
            reason,
        }
    }
}

impl WorkerPool {
    pub fn start(
        command: CommandLine,
        framing: Framing,
        side: Side,
        options: &SideOptions,
    ) -> Result<Self, SideError> {
        let shared = Arc::new(PoolShared {
            command: command.clone(),
            framing,
            dir: options.dir.clone(),
            side,
            timeout: options.timeout,
            startup_timeout: options.startup_timeout,
            policy: RetryPolicy {
                retries: options.retries,
            },
            max_line: options.max_response_bytes,
            counters: SideCounters::default(),
            silent_deaths: AtomicU32::new(0),
            fatal: Mutex::new(None),
        });
        command
            .resolve_program(options.dir.as_deref())
            .map_err(|reason| shared.cannot_start(reason))?;
        let workers = (0..options.workers.max(1))
            .map(|_| spawn(&shared))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| shared.cannot_start(e.to_string()))?;
        Ok(WorkerPool {
            shared,
            slots: Mutex::new(workers),
        })
    }

    fn fatal_error(&self) -> Option<SideError> {
        lock(&self.shared.fatal)
            .clone()
            .map(|reason| self.shared.cannot_start(reason))
    }

    /// The least busy live worker, replacing dead ones first.
    fn pick(&self) -> Result<Arc<Worker>, SideError> {
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
                WorkerRestarted {
                    side: self.shared.side,
                    pid: slot.pid,
                }
                .emit(&self.shared.counters);
            }
        }
        Ok(slots
            .iter()
            .min_by_key(|w| w.state.in_flight())
            .expect("a pool has at least one worker")
            .clone())
    }

    /// Sends calls to one worker together and waits for each one's fate,
    /// sending again those whose worker died, as [`RetryPolicy`] allows
    /// (those that are left go together again, to a fresh pick): one
    /// [`Ended`] per input, in order. A call's slot wait
    /// ([`Called::waited`]) runs from when it was queued (a retry:
    /// re-queued) until the worker answered the call before it, when that
    /// was later.
    async fn call_all(&self, inputs: &[&Arc<RawValue>]) -> Vec<Ended> {
        let mut ended: Vec<Option<Ended>> = inputs.iter().map(|_| None).collect();
        // The calls still to end, with the deaths each has lived through.
        let mut left: Vec<(usize, Attempts)> = (0..inputs.len())
            .map(|i| (i, Attempts::default()))
            .collect();
        while !left.is_empty() {
            let queued = Instant::now();
            let batch = left.iter().map(|&(i, _)| inputs[i].clone()).collect();
            let fates = match self.attempt(batch).await {
                Ok(fates) => fates,
                Err(e) => {
                    let at = Instant::now();
                    for (i, _) in left {
                        ended[i] = Some(Ended {
                            result: Err(e.clone()),
                            at,
                        });
                    }
                    break;
                }
            };
            // Sent again: the bystanders first, the suspect last, so a
            // fresh worker answers the innocent calls before it meets the
            // one that may kill it (a worker that dies before answering
            // anything counts towards `SILENT_DEATH_LIMIT`, which stops the
            // run as a command that cannot start).
            let (mut again, mut suspects) = (Vec::new(), Vec::new());
            for ((i, mut attempts), fate) in left.into_iter().zip(fates) {
                match fate {
                    Fate::Answered {
                        answer,
                        previous,
                        at,
                    } => {
                        let waited = previous
                            .map_or(Duration::ZERO, |p| p.saturating_duration_since(queued));
                        ended[i] = Some(Ended {
                            result: Ok(Called { answer, waited }),
                            at,
                        });
                    }
                    Fate::Died { reason, suspect } => {
                        match self.after_death(&reason, suspect, &mut attempts) {
                            Some(result) => {
                                ended[i] = Some(Ended {
                                    result,
                                    at: Instant::now(),
                                })
                            }
                            None if suspect => suspects.push((i, attempts)),
                            None => again.push((i, attempts)),
                        }
                    }
                }
            }
            again.append(&mut suspects);
            left = again;
        }
        ended
            .into_iter()
            .map(|e| e.expect("every call ends: answered, given up or failed"))
            .collect()
    }

    /// What a call whose worker died ends with (`None`: send it again).
    fn after_death(
        &self,
        died: &str,
        suspect: bool,
        attempts: &mut Attempts,
    ) -> Option<Result<Called, SideError>> {
        if let Some(e) = self.fatal_error() {
            return Some(Err(e));
        }
        match self.shared.policy.after_death(attempts, suspect) {
            AfterDeath::GiveUp { attempts } => Some(Ok(Called::now(Answer::Error(AppError::new(
                "cutover.worker_died",
                format!(
                    "the worker died while handling this call ({}): {died}",
                    counted(attempts.into(), "attempt", "attempts")
                ),
            ))))),
            AfterDeath::Retry => {
                CallRetried {
                    side: self.shared.side,
                    reason: died,
                }
                .emit(&self.shared.counters);
                None
            }
        }
    }

    /// Sends calls to one worker, together, and waits for their fates (in
    /// order). The waiter is woken once, when the last one is in, or at the
    /// deadline.
    async fn attempt(&self, inputs: Vec<Arc<RawValue>>) -> Result<Vec<Fate>, SideError> {
        let calls = inputs.len();
        let replies = Replies::new(calls);
        let mut inputs = Some(inputs);
        let (worker, first) = loop {
            let worker = self.pick()?;
            let queued = match self.reserve(&worker).await {
                Reserved::TimedOut => {
                    let answer =
                        self.kill_for_timeout(&worker, "it accepted no request for longer");
                    let at = Instant::now();
                    return Ok((0..calls)
                        .map(|_| Fate::Answered {
                            answer: answer.clone(),
                            previous: None,
                            at,
                        })
                        .collect());
                }
                // The writer is gone (stdin broke): doom the worker so the
                // next pick replaces it instead of choosing it again.
                Reserved::Gone => {
                    worker.state.kill_with(String::new());
                    None
                }
                // Wire ids are taken and the requests queued under one lock,
                // so on each worker a smaller id was always written earlier.
                // A worker that died since pick never sees the calls: pick
                // again.
                Reserved::Permit(permit) => {
                    let mut first = None;
                    let (taken, given) = (&mut inputs, &mut first);
                    let registered = worker.state.register(&replies, calls, move |id| {
                        *given = Some(id);
                        permit.send(WireBatch {
                            first: id,
                            inputs: taken.take().unwrap_or_default(),
                        });
                    });
                    registered.then_some(first).flatten()
                }
            };
            match queued {
                Some(first) => break (worker, first),
                // Dead or doomed: let its tasks notice, then pick again.
                None => tokio::task::yield_now().await,
            }
        };
        // Calls queued behind an older call on the same worker are not the
        // ones stuck: the oldest one times out first, kills the worker, and
        // these get `Died` and are retried. Wait for that (bounded: the
        // oldest call's deadline ends it, and a killed worker's calls are
        // told within moments). Only the first call of this batch still
        // waiting can be the oldest on the worker.
        let mut wait = self.first_wait(&worker);
        while !replies.wait(wait).await {
            wait = self.shared.timeout;
            let Some(index) = replies.first_missing() else {
                break;
            };
            let id = first + index as u64;
            if worker.state.must_wait(id) {
                continue;
            }
            // Its deadline passed: kill its worker (it may be stuck) and
            // answer `Timeout`, unless the answer raced the deadline.
            if let Some(slot) = worker
                .state
                .expire(id, self.timeout_reason("a call on it took longer"))
            {
                self.killed_on_timeout(&worker);
                slot.tell(Fate::Answered {
                    answer: Answer::Timeout(self.shared.timeout),
                    previous: None,
                    at: Instant::now(),
                });
            }
        }
        Ok(replies.take())
    }

    /// A place in `worker`'s queue: at once when there is room, else within
    /// `--timeout` (the queue is bounded, and a worker that stopped reading
    /// must not hold calls past their deadline).
    async fn reserve<'w>(&self, worker: &'w Worker) -> Reserved<'w> {
        match worker.requests.try_reserve() {
            Ok(permit) => Reserved::Permit(permit),
            Err(TrySendError::Closed(())) => Reserved::Gone,
            Err(TrySendError::Full(())) => {
                match tokio::time::timeout(self.shared.timeout, worker.requests.reserve()).await {
                    Ok(Ok(permit)) => Reserved::Permit(permit),
                    Ok(Err(_)) => Reserved::Gone,
                    Err(_) => Reserved::TimedOut,
                }
            }
        }
    }

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
        self.killed_on_timeout(worker);
        worker.state.kill_for_timeout(self.timeout_reason(what));
        Answer::Timeout(self.shared.timeout)
    }

    /// Logs and counts that `worker` is killed for a missed deadline.
    fn killed_on_timeout(&self, worker: &Worker) {
        WorkerKilledOnTimeout {
            side: self.shared.side,
            pid: worker.pid,
            timeout: self.shared.timeout,
            answered: worker.state.answered.load(Ordering::Relaxed),
            in_flight: worker.state.in_flight(),
        }
        .emit(&self.shared.counters);
    }
}

impl Implementation for WorkerPool {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        Box::pin(async move { self.call_timed(request).await.map(|c| c.answer) })
    }

    fn call_timed<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Called, SideError>> {
        Box::pin(async move {
            let mut ended = self.call_all(&[request.input]).await;
            ended.pop().expect("one call, one end").result
        })
    }

    fn call_many<'a>(&'a self, requests: &'a [Request<'a>]) -> BoxFuture<'a, Vec<Ended>> {
        Box::pin(async move {
            let inputs: Vec<&Arc<RawValue>> = requests.iter().map(|r| r.input).collect();
            self.call_all(&inputs).await
        })
    }

    fn stats(&self) -> SideStats {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspect_spends_the_retries_and_a_bystander_its_own_allowance() {
        let policy = RetryPolicy { retries: 1 };
        let mut poison = Attempts::default();
        assert_eq!(policy.after_death(&mut poison, true), AfterDeath::Retry);
        assert_eq!(
            policy.after_death(&mut poison, true),
            AfterDeath::GiveUp { attempts: 2 }
        );
        let mut innocent = Attempts::default();
        for _ in 0..BYSTANDER_RETRIES {
            assert_eq!(policy.after_death(&mut innocent, false), AfterDeath::Retry);
        }
        assert_eq!(
            policy.after_death(&mut innocent, false),
            AfterDeath::GiveUp {
                attempts: BYSTANDER_RETRIES + 1
            }
        );
        // Both kinds of death count in the attempts reported.
        let mut mixed = Attempts::default();
        assert_eq!(policy.after_death(&mut mixed, false), AfterDeath::Retry);
        assert_eq!(policy.after_death(&mut mixed, true), AfterDeath::Retry);
        assert_eq!(
            policy.after_death(&mut mixed, true),
            AfterDeath::GiveUp { attempts: 3 }
        );
        let none = RetryPolicy { retries: 0 };
        assert_eq!(
            none.after_death(&mut Attempts::default(), true),
            AfterDeath::GiveUp { attempts: 1 }
        );
    }
}
