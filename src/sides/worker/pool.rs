//! The pool: which worker a call goes to, its deadline, and what happens
//! when its worker dies.
//!
//! # Contract
//! - A call goes to the live worker with the fewest calls in flight; dead
//!   workers are replaced first, lazily, on the next call (`restarts`).
//! - Deadlines: see the module docs of [`super`]. A call past its deadline
//!   is answered `Timeout` and its worker killed, unless an older call on the
//!   same worker is still waiting (then that one is blamed and this one is
//!   retried when the worker dies).
//! - Retries follow [`RetryPolicy`], a pure function of a call's history:
//!   the suspect of a death spends `--retries`, a bystander up to
//!   [`BYSTANDER_RETRIES`]; past either, the call is answered
//!   `cutover.worker_died` with how many attempts it had.
//! - Once [`super::process::SILENT_DEATH_LIMIT`] workers in a row died
//!   before answering anything, every call gets
//!   [`SideError::CannotStart`]: the command cannot work.

use super::super::events::{CallRetried, InternalEvent, WorkerKilledOnTimeout, WorkerRestarted};
use super::super::{
    Called, CommandLine, Implementation, Request, SideCounters, SideError, SideOptions,
};
use super::pending::{lock, Fate};
use super::process::{spawn, Worker};
use super::protocol::{Framing, WireRequest};
use crate::model::{Answer, AppError, Side, SideStats};
use crate::util::text::counted;
use futures::future::BoxFuture;
use serde_json::value::RawValue;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

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

pub struct WorkerPool {
    shared: Arc<PoolShared>,
    slots: Mutex<Vec<Arc<Worker>>>,
    next_id: AtomicU64,
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
            next_id: AtomicU64::new(0),
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

    /// One call's answer, and how long it waited behind its worker's
    /// earlier calls: from when it was queued (a retry: re-queued) until
    /// the worker answered the call before it, when that was later.
    async fn call_inner(&self, input: &Arc<RawValue>) -> Result<Called, SideError> {
        let mut attempts = Attempts::default();
        loop {
            let queued = Instant::now();
            let (died, suspect) = match self.attempt(input).await? {
                Fate::Answered(answer, previous) => {
                    let waited =
                        previous.map_or(Duration::ZERO, |p| p.saturating_duration_since(queued));
                    return Ok(Called { answer, waited });
                }
                Fate::Died { reason, suspect } => (reason, suspect),
            };
            if let Some(e) = self.fatal_error() {
                return Err(e);
            }
            match self.shared.policy.after_death(&mut attempts, suspect) {
                AfterDeath::GiveUp { attempts } => {
                    return Ok(Called::now(Answer::Error(AppError::new(
                        "cutover.worker_died",
                        format!(
                            "the worker died while handling this call ({}): {died}",
                            counted(attempts.into(), "attempt", "attempts")
                        ),
                    ))))
                }
                AfterDeath::Retry => CallRetried {
                    side: self.shared.side,
                    reason: &died,
                }
                .emit(&self.shared.counters),
            }
        }
    }

    /// Sends one call to one worker and waits for its fate.
    async fn attempt(&self, input: &Arc<RawValue>) -> Result<Fate, SideError> {
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
                        return Ok(Fate::Answered(
                            self.kill_for_timeout(&worker, "it accepted no request for longer"),
                            None,
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
        Ok(reply.unwrap_or_else(|_| Fate::vanished()))
    }

    /// The call's deadline passed: kill its worker (it may be stuck) and answer
    /// `Timeout`, unless the answer raced the deadline.
    async fn timed_out(
        &self,
        worker: &Worker,
        id: u64,
        reply_rx: &mut oneshot::Receiver<Fate>,
    ) -> Fate {
        if worker
            .state
            .expire(id, self.timeout_reason("a call on it took longer"))
        {
            self.killed_on_timeout(worker);
            return Fate::Answered(Answer::Timeout(self.shared.timeout), None);
        }
        reply_rx.await.unwrap_or_else(|_| Fate::vanished())
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
        Box::pin(async move { self.call_inner(request.input).await.map(|c| c.answer) })
    }

    fn call_timed<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Called, SideError>> {
        Box::pin(self.call_inner(request.input))
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
