//! One worker's calls in flight, and how each one ends.
//!
//! # Contract
//! - Calls are registered in batches (a single call is a batch of one):
//!   [`WorkerState::register`] gives a batch's calls the worker's next wire
//!   ids, consecutive, and queues their requests under the same lock, so on
//!   each worker a smaller id was always written earlier and "oldest" is
//!   well defined. Wire ids are the worker's own count from 0, so the calls
//!   in flight sit in a ring indexed by id: registering, answering and
//!   finding the oldest call cost the same however many are in flight.
//! - Each call then ends exactly once, with a [`Fate`] written into its
//!   batch's [`Replies`]: its answer, or the news that the worker died with
//!   it in flight (`suspect` when it was the oldest call, the one a worker
//!   answering in order was busy with). A call whose slot is dropped
//!   without a word (it cannot be, short of a bug) ends as
//!   [`Fate::vanished`], so no batch waits forever. The batch's waiter is
//!   woken once, when its last call ends, not once per call.
//! - Once the worker is dead (killed, or its calls told), no call can be
//!   registered on it any more, so a call never waits on a dead worker.
//! - [`WorkerState::must_wait`] and [`WorkerState::expire`] read and change
//!   the calls under one lock, so when two calls on one worker pass their
//!   deadlines together, exactly one (the oldest) is blamed and the worker
//!   is killed once.

use super::super::process::StderrTail;
use crate::model::Answer;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How one call to one worker ended.
#[derive(Debug)]
pub(super) enum Fate {
    /// The worker answered it (or it timed out: an answer too).
    Answered {
        answer: Answer,
        /// When the worker had answered the call before this one, if it
        /// had (a worker serves its calls one at a time, in order: this
        /// call's service started then, or when it was sent, whichever is
        /// later).
        previous: Option<Instant>,
        /// When the answer arrived.
        at: Instant,
    },
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

/// The fates of one batch of calls, filled in as they end; its waiter is
/// woken when the last one is in.
pub(super) struct Replies {
    inner: Mutex<RepliesInner>,
    done: Notify,
}

struct RepliesInner {
    fates: Vec<Option<Fate>>,
    missing: usize,
}

impl Replies {
    pub fn new(calls: usize) -> Arc<Replies> {
        Arc::new(Replies {
            inner: Mutex::new(RepliesInner {
                fates: (0..calls).map(|_| None).collect(),
                missing: calls,
            }),
            done: Notify::new(),
        })
    }

    /// Ends call `index` with `fate`; false (and `fate` dropped) when it
    /// had already ended.
    pub fn fill(&self, index: usize, fate: Fate) -> bool {
        let mut inner = lock(&self.inner);
        let Some(slot @ None) = inner.fates.get_mut(index) else {
            return false;
        };
        *slot = Some(fate);
        inner.missing -= 1;
        let last = inner.missing == 0;
        drop(inner);
        if last {
            // A permit is kept when the waiter is not waiting yet.
            self.done.notify_one();
        }
        true
    }

    /// The first call that has not ended yet (the batch's oldest waiting).
    pub fn first_missing(&self) -> Option<usize> {
        lock(&self.inner).fates.iter().position(Option::is_none)
    }

    /// Waits until every call has ended, at most `wait`; true when they have.
    pub async fn wait(&self, wait: Duration) -> bool {
        if lock(&self.inner).missing == 0 {
            return true;
        }
        let _ = tokio::time::timeout(wait, self.done.notified()).await;
        lock(&self.inner).missing == 0
    }

    /// The fates, in call order; taken once every call has ended (a call
    /// that has not is [`Fate::vanished`], which [`Replies::wait`] rules
    /// out).
    pub fn take(&self) -> Vec<Fate> {
        let mut inner = lock(&self.inner);
        inner.missing = 0;
        inner
            .fates
            .drain(..)
            .map(|fate| fate.unwrap_or_else(Fate::vanished))
            .collect()
    }
}

/// Where one call in flight ends: its place in its batch's [`Replies`].
/// Dropped without being told, it ends the call as [`Fate::vanished`].
pub(super) struct Slot {
    replies: Option<Arc<Replies>>,
    index: usize,
}

impl Slot {
    /// Ends the call with `fate`.
    pub fn tell(mut self, fate: Fate) {
        if let Some(replies) = self.replies.take() {
            replies.fill(self.index, fate);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(replies) = self.replies.take() {
            replies.fill(self.index, Fate::vanished());
        }
    }
}

/// The calls in flight on one worker, by wire id: `slots[i]` is id
/// `front + i`, `None` once answered. The front slot is always a call
/// still waiting (answered ones are dropped from the front at once).
#[derive(Default)]
pub(super) struct Calls {
    front: u64,
    slots: VecDeque<Option<Slot>>,
    live: usize,
}

impl Calls {
    /// The next wire id this worker gives.
    fn next_id(&self) -> u64 {
        self.front + self.slots.len() as u64
    }

    fn push(&mut self, slot: Slot) {
        self.slots.push_back(Some(slot));
        self.live += 1;
    }

    /// Takes the call `id` out; `None` when no call waits for it.
    fn take(&mut self, id: u64) -> Option<Slot> {
        let index = usize::try_from(id.checked_sub(self.front)?).ok()?;
        let slot = self.slots.get_mut(index)?.take()?;
        self.live -= 1;
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.front += 1;
        }
        Some(slot)
    }

    /// The wire id of the oldest call still waiting.
    fn oldest(&self) -> Option<u64> {
        (self.live > 0).then_some(self.front)
    }

    /// Every call still waiting, oldest first.
    fn drain(&mut self) -> impl Iterator<Item = (u64, Slot)> + '_ {
        let front = self.front;
        self.live = 0;
        self.slots
            .drain(..)
            .zip(front..)
            .filter_map(|(slot, id)| slot.map(|s| (id, s)))
    }
}

/// What one worker's tasks and its callers share.
#[derive(Default)]
pub(super) struct WorkerState {
    /// Calls in flight; `None` once the worker is dead.
    pub pending: Mutex<Option<Calls>>,
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
            pending: Mutex::new(Some(Calls::default())),
            ..Default::default()
        }
    }

    /// Dead or doomed: killed (cleanup may still be running) or gone.
    pub fn is_dead(&self) -> bool {
        self.kill.is_cancelled() || lock(&self.pending).is_none()
    }

    pub fn in_flight(&self) -> usize {
        lock(&self.pending).as_ref().map_or(usize::MAX, |c| c.live)
    }

    /// Registers the batch `replies` (all its calls) under the worker's
    /// next wire ids and, under the same lock, hands the first id to
    /// `queue`, which sends the requests; false when the worker is already
    /// dead (nothing registered, `queue` not called).
    pub fn register(&self, replies: &Arc<Replies>, calls: usize, queue: impl FnOnce(u64)) -> bool {
        let mut pending = lock(&self.pending);
        match pending.as_mut() {
            Some(map) if !self.kill.is_cancelled() => {
                let first = map.next_id();
                for index in 0..calls {
                    map.push(Slot {
                        replies: Some(replies.clone()),
                        index,
                    });
                }
                queue(first);
                true
            }
            _ => false,
        }
    }

    /// Hands the answer for wire id `id` to its call; false when no call
    /// waits for that id (never sent, or answered twice).
    pub fn answer(&self, id: u64, answer: Answer) -> bool {
        let slot = lock(&self.pending).as_mut().and_then(|m| m.take(id));
        let Some(slot) = slot else {
            return false;
        };
        self.answered.fetch_add(1, Ordering::Relaxed);
        let at = Instant::now();
        let previous = lock(&self.last_answer).replace(at);
        slot.tell(Fate::Answered {
            answer,
            previous,
            at,
        });
        true
    }

    /// Hands `answer` to the oldest call in flight (a `pipe:` program
    /// answers in order); false when no call waits.
    pub fn answer_oldest(&self, answer: Answer) -> bool {
        let oldest = lock(&self.pending).as_ref().and_then(Calls::oldest);
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
                .and_then(Calls::oldest)
                .is_some_and(|oldest| oldest < id)
    }

    /// Takes the call `id` out (it missed its deadline) and dooms the worker,
    /// in one step under the pending lock; false if the call was no longer
    /// waiting (its answer raced the deadline, or the worker died). The
    /// caller ends the call (its slot is given back to it un-told).
    pub fn expire(&self, id: u64, reason: String) -> Option<Slot> {
        let mut pending = lock(&self.pending);
        let slot = pending.as_mut()?.take(id)?;
        self.kill_for_timeout(reason);
        Some(slot)
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
        let mut calls = lock(&self.pending).take().unwrap_or_default();
        let timed_out = self.killed_for_timeout.load(Ordering::Relaxed);
        // After a timeout kill the culprit already has its answer: everyone
        // left is a bystander. Otherwise the oldest call in flight is the
        // suspect.
        let suspect = if timed_out { None } else { calls.oldest() };
        Orphans {
            never_answered: self.answered.load(Ordering::Relaxed) == 0
                && !timed_out
                && !self.close.is_cancelled(),
            calls: calls.drain().collect(),
            suspect,
        }
    }
}

/// The calls a dead worker left in flight.
pub(super) struct Orphans {
    calls: Vec<(u64, Slot)>,
    suspect: Option<u64>,
    /// The worker died before answering anything, and not because cutover
    /// killed it for a timeout or closed it: a start-up failure.
    pub never_answered: bool,
}

impl Orphans {
    /// Tells every call why its worker died.
    pub fn tell(self, reason: &str) {
        for (id, slot) in self.calls {
            slot.tell(Fate::Died {
                reason: reason.to_owned(),
                suspect: Some(id) == self.suspect,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registers a batch of `calls` and gives its first wire id.
    fn batch(state: &WorkerState, calls: usize) -> (Arc<Replies>, u64) {
        let replies = Replies::new(calls);
        let mut first = None;
        assert!(state.register(&replies, calls, |id| first = Some(id)));
        (replies, first.unwrap())
    }

    fn suspect(fate: &Fate) -> bool {
        match fate {
            Fate::Died { suspect, .. } => *suspect,
            Fate::Answered { .. } => panic!("answered"),
        }
    }

    #[test]
    fn the_oldest_call_is_the_suspect_and_a_dead_worker_takes_no_calls() {
        let state = WorkerState::new();
        let (older, three) = batch(&state, 1);
        let (newer, five) = batch(&state, 1);
        assert!(three < five, "ids are given in order");
        assert!(state.must_wait(five) && !state.must_wait(three));
        let orphans = state.orphans();
        assert!(orphans.never_answered);
        orphans.tell("worker exited with status 1");
        assert!(suspect(&older.take()[0]), "the oldest call is the suspect");
        assert!(!suspect(&newer.take()[0]), "the others are bystanders");
        assert!(
            !state.register(&Replies::new(1), 1, |_| panic!("queued on a dead worker")),
            "a dead worker takes no calls"
        );
    }

    #[test]
    fn after_a_timeout_kill_nobody_left_is_the_suspect() {
        let state = WorkerState::new();
        let (replies, first) = batch(&state, 2);
        let culprit = state
            .expire(first, "too slow".into())
            .expect("it was waiting");
        culprit.tell(Fate::Died {
            reason: "timed out".into(),
            suspect: true,
        });
        assert!(state.expire(first, "again".into()).is_none(), "blamed once");
        assert!(
            state.must_wait(first + 1),
            "the worker is doomed: the second call waits for its fate"
        );
        let orphans = state.orphans();
        assert!(
            !orphans.never_answered,
            "a timeout kill is no start-up failure"
        );
        orphans.tell("killed");
        assert_eq!(replies.first_missing(), None, "both ended");
        let fates = replies.take();
        assert!(!suspect(&fates[1]));
    }

    #[test]
    fn answers_in_any_order_end_each_call_once_and_wake_the_batch_when_all_are_in() {
        let state = WorkerState::new();
        let (replies, first) = batch(&state, 3);
        let out = |n: i64| Answer::output(serde_json::json!(n));
        assert!(state.answer(first + 2, out(2)));
        assert_eq!(replies.first_missing(), Some(0));
        assert!(!state.answer(first + 2, out(2)), "answered twice");
        assert!(state.must_wait(first + 1), "the oldest still waits");
        assert!(state.answer(first, out(0)));
        assert!(!state.must_wait(first + 1), "now it is the oldest");
        assert_eq!(replies.first_missing(), Some(1), "one is still missing");
        assert!(state.answer_oldest(out(1)));
        assert!(!state.answer(first + 3, out(3)), "never sent");
        assert_eq!(state.in_flight(), 0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        assert!(rt.block_on(replies.wait(Duration::from_secs(5))));
        let fates = replies.take();
        for (n, fate) in fates.iter().enumerate() {
            assert!(
                matches!(fate, Fate::Answered { answer, .. } if *answer == out(n as i64)),
                "call {n} got its own answer"
            );
        }
        // The next batch continues the ids where this one ended.
        let (_, next) = batch(&state, 1);
        assert_eq!(next, first + 3);
    }

    #[test]
    fn a_slot_dropped_untold_ends_its_call_as_vanished() {
        let replies = Replies::new(1);
        drop(Slot {
            replies: Some(replies.clone()),
            index: 0,
        });
        assert_eq!(replies.first_missing(), None, "it ended");
        let fates = replies.take();
        assert!(matches!(&fates[0], Fate::Died { suspect: true, .. }));
    }
}
