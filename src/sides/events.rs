//! The sides' internal events, in the manner of vector's `internal_events`:
//! one struct per event, whose [`InternalEvent::emit`] both logs it
//! (`tracing`, target `cutover::worker`) and counts it in the side's
//! [`SideCounters`], so a count in `summary.json` and the log lines behind
//! it can never disagree.

use super::SideCounters;
use crate::model::Side;
use std::time::Duration;

/// An event of a side's plumbing.
pub(super) trait InternalEvent {
    fn emit(self, counters: &SideCounters);
}

/// A call is sent again after the worker serving it died.
pub(super) struct CallRetried<'a> {
    pub side: Side,
    pub reason: &'a str,
}

impl InternalEvent for CallRetried<'_> {
    fn emit(self, counters: &SideCounters) {
        tracing::debug!(target: "cutover::worker", side = %self.side, reason = self.reason, "call retried on a fresh worker");
        SideCounters::bump(&counters.retries);
    }
}

/// A dead worker was replaced by a new process.
pub(super) struct WorkerRestarted {
    pub side: Side,
    pub pid: u32,
}

impl InternalEvent for WorkerRestarted {
    fn emit(self, counters: &SideCounters) {
        tracing::debug!(target: "cutover::worker", side = %self.side, pid = self.pid, "worker restarted");
        SideCounters::bump(&counters.restarts);
    }
}

/// A worker was killed because a call on it missed its deadline.
pub(super) struct WorkerKilledOnTimeout {
    pub side: Side,
    pub pid: u32,
    pub timeout: Duration,
    pub answered: u64,
    pub in_flight: usize,
}

impl InternalEvent for WorkerKilledOnTimeout {
    fn emit(self, counters: &SideCounters) {
        tracing::debug!(
            target: "cutover::worker",
            side = %self.side,
            pid = self.pid,
            timeout = ?self.timeout,
            answered = self.answered,
            in_flight = self.in_flight,
            "a call timed out; its worker is killed"
        );
        SideCounters::bump(&counters.timeout_kills);
    }
}

/// A worker broke the protocol (and is killed for it).
pub(super) struct ProtocolError<'a> {
    pub side: Side,
    pub pid: u32,
    pub violation: &'a str,
}

impl InternalEvent for ProtocolError<'_> {
    fn emit(self, counters: &SideCounters) {
        tracing::debug!(target: "cutover::worker", side = %self.side, pid = self.pid, "worker broke the protocol: it {}", self.violation);
        SideCounters::bump(&counters.protocol_errors);
    }
}
