//! One worker's calls in flight, and how each one ends.
//!
//! # Contract
//! - A call is registered under its wire id before its request is queued;
//!   it then ends exactly once, with a [`Fate`]: its answer, or the news that
//!   the worker died with it in flight (`suspect` when it was the oldest
//!   call, the one a worker answering in order was busy with).
//! - Once the worker is dead (killed, or its calls told), no call can be
//!   registered on it any more, so a call never waits on a dead worker.
//! - [`WorkerState::must_wait`] and [`WorkerState::expire`] read and change
//!   the calls under one lock, so when two calls on one worker pass their
//!   deadlines together, exactly one (the oldest) is blamed and the worker
//!   is killed once.

use super::super::process::StderrTail;
use crate::model::Answer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// How one call to one worker ended.
#[derive(Debug)]
pub(super) enum Fate {
    /// The worker answered it (or it timed out: an answer too); with when
    /// the worker had answered the call before this one, if it had (a
    /// worker serves its calls one at a time, in order: this call's service
    /// started then, or when it was sent, whichever is later).
    Answered(Answer, Option<Instant>),
    /// The worker died with this call in flight. `suspect` is true for the
    /// call most likely to have caused it: the oldest one in flight, which a
    /// worker answering in order was working on.
    Died { reason: String, suspect: bool },
}

impl Fate {
    /// What a call whose worker went away without telling it gets.
    pub(super) fn vanished() -> Fate {
        Fate::Died {
            reason: "it went away without a word".to_owned(),
            suspect: true,
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one worker's tasks and its callers share.
#[derive(Default)]
pub(super) struct WorkerState {
    /// Calls in flight by wire id; `None` once the worker is dead.
    pub pending: Mutex<Option<HashMap<u64, oneshot::Sender<Fate>>>>,
    pub answered: AtomicU64,
    /// When the worker last answered a call.
    pub last_answer: Mutex<Option<Instant>>,
    /// Why cutover killed it, when it did.
    pub kill_reason: Mutex<Option<String>>,
    pub killed_for_timeout: AtomicBool,
    pub kill: CancellationToken,
    /// Stop writing and close stdin (graceful shutdown).
    pub close: CancellationToken,
    /// Cancelled when the worker is gone and its calls have been told.
    pub finished: CancellationToken,
    /// Cancelled when the process has exited (and its group was killed).
    pub exited: CancellationToken,
    pub stderr_tail: StderrTail,
}

impl WorkerState {
    pub fn new() -> Self {
        WorkerState {
            pending: Mutex::new(Some(HashMap::new())),
            ..Default::default()
        }
    }

    /// Dead or doomed: killed (cleanup may still be running) or gone.
    pub fn is_dead(&self) -> bool {
        self.kill.is_cancelled() || lock(&self.pending).is_none()
    }

    pub fn in_flight(&self) -> usize {
        lock(&self.pending)
            .as_ref()
            .map_or(usize::MAX, HashMap::len)
    }

    /// Registers a call; false when the worker is already dead.
    pub fn register(&self, id: u64, reply: oneshot::Sender<Fate>) -> bool {
        match lock(&self.pending).as_mut() {
            Some(map) if !self.kill.is_cancelled() => {
                map.insert(id, reply);
                true
            }
            _ => false,
        }
    }

    /// Hands the answer for wire id `id` to its call; false when no call
    /// waits for that id (never sent, or answered twice).
    pub fn answer(&self, id: u64, answer: Answer) -> bool {
        let reply = lock(&self.pending).as_mut().and_then(|m| m.remove(&id));
        let Some(reply) = reply else {
            return false;
        };
        self.answered.fetch_add(1, Ordering::Relaxed);
        let previous = lock(&self.last_answer).replace(Instant::now());
        let _ = reply.send(Fate::Answered(answer, previous));
        true
    }

    /// Hands `answer` to the oldest call in flight (a `pipe:` program
    /// answers in order); false when no call waits.
    pub fn answer_oldest(&self, answer: Answer) -> bool {
        let oldest = lock(&self.pending)
            .as_ref()
            .and_then(|m| m.keys().min().copied());
        oldest.is_some_and(|id| self.answer(id, answer))
    }

    /// Whether the call `id`, past its deadline, is a victim rather than the
    /// culprit: a call sent before it is still waiting here, or the worker is
    /// already doomed (an older call timed out and killed it). Read under the
    /// same lock [`Self::expire`] holds, so it sees the older call or the kill,
    /// never neither.
    pub fn must_wait(&self, id: u64) -> bool {
        let pending = lock(&self.pending);
        self.kill.is_cancelled()
            || pending
                .as_ref()
                .is_some_and(|m| m.keys().any(|&other| other < id))
    }

    /// Takes the call `id` out (it missed its deadline) and dooms the worker,
    /// in one step under the pending lock; false if the call was no longer
    /// waiting (its answer raced the deadline, or the worker died).
    pub fn expire(&self, id: u64, reason: String) -> bool {
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
    pub fn kill_for_timeout(&self, reason: String) {
        self.killed_for_timeout.store(true, Ordering::Relaxed);
        self.kill_with(reason);
    }

    /// Kills the worker. `reason` says why for error messages; an empty one
    /// lets the exit status speak.
    pub fn kill_with(&self, reason: String) {
        if !reason.is_empty() {
            lock(&self.kill_reason).get_or_insert(reason);
        }
        self.kill.cancel();
    }

    /// The worker is gone: takes its calls still in flight (none can be
    /// registered any more), to be told with [`Orphans::tell`] once the
    /// pool has taken note of the death.
    pub fn orphans(&self) -> Orphans {
        let calls = lock(&self.pending).take().unwrap_or_default();
        let timed_out = self.killed_for_timeout.load(Ordering::Relaxed);
        // After a timeout kill the culprit already has its answer: everyone
        // left is a bystander. Otherwise the oldest call in flight is the
        // suspect.
        let suspect = if timed_out {
            None
        } else {
            calls.keys().min().copied()
        };
        Orphans {
            never_answered: self.answered.load(Ordering::Relaxed) == 0
                && !timed_out
                && !self.close.is_cancelled(),
            calls,
            suspect,
        }
    }
}

/// The calls a dead worker left in flight.
pub(super) struct Orphans {
    calls: HashMap<u64, oneshot::Sender<Fate>>,
    suspect: Option<u64>,
    /// The worker died before answering anything, and not because cutover
    /// killed it for a timeout or closed it: a start-up failure.
    pub never_answered: bool,
}

impl Orphans {
    /// Tells every call why its worker died.
    pub fn tell(self, reason: &str) {
        for (id, reply) in self.calls {
            let _ = reply.send(Fate::Died {
                reason: reason.to_owned(),
                suspect: Some(id) == self.suspect,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_call_is_the_suspect_and_a_dead_worker_takes_no_calls() {
        let state = WorkerState::new();
        let (tx3, rx3) = oneshot::channel();
        let (tx5, rx5) = oneshot::channel();
        assert!(state.register(5, tx5));
        assert!(state.register(3, tx3));
        assert!(state.must_wait(5) && !state.must_wait(3));
        let orphans = state.orphans();
        assert!(orphans.never_answered);
        orphans.tell("worker exited with status 1");
        let fate = |rx: oneshot::Receiver<Fate>| match rx.blocking_recv().unwrap() {
            Fate::Died { suspect, .. } => suspect,
            Fate::Answered(..) => panic!("answered"),
        };
        assert!(fate(rx3), "the oldest call is the suspect");
        assert!(!fate(rx5), "the others are bystanders");
        let (tx, _rx) = oneshot::channel();
        assert!(!state.register(7, tx), "a dead worker takes no calls");
    }

    #[test]
    fn after_a_timeout_kill_nobody_left_is_the_suspect() {
        let state = WorkerState::new();
        let (tx1, _rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        state.register(1, tx1);
        state.register(2, tx2);
        assert!(state.expire(1, "too slow".into()));
        assert!(!state.expire(1, "again".into()), "blamed once");
        assert!(
            state.must_wait(2),
            "the worker is doomed: 2 waits for its fate"
        );
        let orphans = state.orphans();
        assert!(
            !orphans.never_answered,
            "a timeout kill is no start-up failure"
        );
        orphans.tell("killed");
        assert!(matches!(
            rx2.blocking_recv().unwrap(),
            Fate::Died { suspect: false, .. }
        ));
    }
}
