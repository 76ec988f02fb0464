//! The byte budget for records in flight (`--max-inflight-bytes`): a core
//! type, since every stage that holds a record holds its charge (the
//! reader takes it, the engine settles it, the report releases it).
//!
//! # Contract
//! - Every record read holds a [`Charge`] on the run's [`Budget`] from the
//!   moment its line is read until the report writer is done with it (the
//!   charge is released when dropped), so the memory of every record
//!   anywhere in the pipeline (channels, targets, the ordering buffer, the
//!   report writer's queue) is counted.
//! - The reader admits a record ([`Budget::admit`], [`Budget::try_admit`])
//!   when its expected cost fits next to the charges already held, or when
//!   no charge is held at all: a record bigger than the whole budget is
//!   processed alone, and nothing ever waits forever. Only the reader waits.
//! - A record's expected cost is its line's length times the largest
//!   cost-per-byte learned so far ([`INITIAL_COST_PER_BYTE`] before any),
//!   plus [`RECORD_OVERHEAD`]. Once both answers are in, the engine settles the
//!   charge to what the record really holds ([`Charge::settle`]: its input
//!   and the answers as parsed, which for JSON held as `serde_json::Value`
//!   can be several times the text); a record of at least [`LEARN_BYTES`]
//!   also teaches the budget its cost per byte (the settled figure includes
//!   the unified diff the engine made for the report, if any). Settling never waits (a record in
//!   flight is never held up): it may take the total over the budget, and
//!   then the reader waits until enough is released.
//! - Non-goals: memory that is not a record's (the program, one line being
//!   read, buffers of fixed size); the budget is an estimate of heap bytes,
//!   not a measurement.

use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Expected memory per byte of line before any record taught better: the
/// input, plus two answers about as big as it, parsed.
pub const INITIAL_COST_PER_BYTE: u64 = 8;
/// What a record costs whatever its size (ids, origin, result, verdict).
pub const RECORD_OVERHEAD: u64 = 1 << 10;
/// Records at least this long teach the budget their cost per byte; shorter
/// ones keep their estimate (their cost is mostly overhead).
pub const LEARN_BYTES: u64 = 64 << 10;
/// Cost per byte is kept in 1/16ths.
const SCALE: u64 = 16;

/// A run's budget (see the module contract).
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    state: Mutex<State>,
    released: Notify,
}

#[derive(Debug)]
struct State {
    held: u64,
    /// Cost per byte of line, in 1/16ths; `None` until a record taught it.
    learned: Option<u64>,
}

impl Budget {
    pub fn new(limit: u64) -> Arc<Budget> {
        Arc::new(Budget {
            limit: limit.max(1),
            state: Mutex::new(State {
                held: 0,
                learned: None,
            }),
            released: Notify::new(),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes currently charged.
    pub fn held(&self) -> u64 {
        self.lock().held
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What a record with a `line` bytes long is expected to cost.
    fn estimate(state: &State, line: u64) -> u64 {
        let per_byte = state.learned.unwrap_or(INITIAL_COST_PER_BYTE * SCALE);
        line.saturating_mul(per_byte) / SCALE + RECORD_OVERHEAD
    }

    /// A charge for a record of `line` bytes, if it fits now.
    pub fn try_admit(self: &Arc<Self>, line: u64) -> Option<Charge> {
        let mut state = self.lock();
        let cost = Self::estimate(&state, line);
        if state.held != 0 && state.held.saturating_add(cost) > self.limit {
            return None;
        }
        state.held += cost;
        Some(Charge {
            budget: Some(self.clone()),
            bytes: cost,
            line,
        })
    }

    /// A charge for a record of `line` bytes, waiting until it fits.
    pub async fn admit(self: &Arc<Self>, line: u64) -> Charge {
        loop {
            // Created before the check, so a release in between is not missed.
            let released = self.released.notified();
            if let Some(charge) = self.try_admit(line) {
                return charge;
            }
            released.await;
        }
    }

    fn release(&self, bytes: u64) {
        let mut state = self.lock();
        state.held = state.held.saturating_sub(bytes);
        drop(state);
        self.released.notify_one();
    }
}

/// One record's share of the budget; released when dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Option<Arc<Budget>>,
    bytes: u64,
    line: u64,
}

impl Charge {
    /// A charge on no budget, for records compared outside a run.
    pub fn none() -> Charge {
        Charge {
            budget: None,
            bytes: 0,
            line: 0,
        }
    }

    /// Bytes charged.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether [`Self::settle`] is worth calling: the record is long enough
    /// for its real cost to matter, and the charge is on a budget.
    pub fn wants_settling(&self) -> bool {
        self.budget.is_some() && self.line >= LEARN_BYTES
    }

    /// Sets the charge to what the record holds now (`held`), learning from
    /// `peak` (what it held at most) the cost per byte of such records.
    pub fn settle(&mut self, peak: u64, held: u64) {
        let Some(budget) = &self.budget else { return };
        let held = held + RECORD_OVERHEAD;
        let mut state = budget.lock();
        if self.line >= LEARN_BYTES {
            let per_byte = (peak + RECORD_OVERHEAD).saturating_mul(SCALE) / self.line;
            state.learned = Some(state.learned.map_or(per_byte, |l| l.max(per_byte)));
        }
        state.held = state.held.saturating_sub(self.bytes).saturating_add(held);
        let smaller = held < self.bytes;
        self.bytes = held;
        drop(state);
        if smaller {
            budget.released.notify_one();
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(budget) = self.budget.take() {
            budget.release(self.bytes);
        }
    }
}

/// The default `--max-inflight-bytes`: 1/32 of the memory this process may
/// use (physical memory, or the cgroup's limit when lower), within
/// [`MIN_DEFAULT`, `MAX_DEFAULT`]; [`FALLBACK_DEFAULT`] when it cannot be read.
pub fn default_limit() -> u64 {
    memory_bytes()
        .map(|m| (m / 32).clamp(MIN_DEFAULT, MAX_DEFAULT))
        .unwrap_or(FALLBACK_DEFAULT)
}

pub const MIN_DEFAULT: u64 = 64 << 20;
pub const MAX_DEFAULT: u64 = 512 << 20;
pub const FALLBACK_DEFAULT: u64 = 256 << 20;

/// Physical memory (`MemTotal` in /proc/meminfo), or the cgroup v2 or v1
/// memory limit when that is lower; `None` where neither can be read.
fn memory_bytes() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let kib = text
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()?;
            Some(kib * 1024)
        });
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_bigger_than_the_budget_goes_alone() {
        let budget = Budget::new(100);
        let big = budget
            .try_admit(1 << 20)
            .expect("nothing else is in flight");
        assert!(
            budget.try_admit(1).is_none(),
            "the big one fills the budget"
        );
        drop(big);
        assert_eq!(budget.held(), 0);
        assert!(budget.try_admit(1 << 20).is_some());
    }

    #[test]
    fn settling_learns_the_cost_per_byte_and_can_go_over() {
        let budget = Budget::new(10 << 20);
        let line = LEARN_BYTES;
        let mut first = budget.try_admit(line).unwrap();
        assert_eq!(
            first.bytes(),
            line * INITIAL_COST_PER_BYTE + RECORD_OVERHEAD
        );
        assert!(first.wants_settling());
        first.settle(line * 3, line);
        assert_eq!(first.bytes(), line + RECORD_OVERHEAD);
        assert_eq!(budget.held(), line + RECORD_OVERHEAD);
        let second = budget.try_admit(line).unwrap();
        assert_eq!(second.bytes(), line * 3 + RECORD_OVERHEAD);
        // A costlier record raises the estimate; settling never waits.
        let mut third = budget.try_admit(line).unwrap();
        third.settle(100 << 20, 100 << 20);
        assert!(budget.held() > budget.limit());
        assert!(budget.try_admit(1).is_none());
        drop(third);
        assert!(budget.try_admit(line).is_none(), "the new estimate waits");
        drop((first, second));
        assert_eq!(budget.held(), 0);
        let alone = budget.try_admit(line).unwrap();
        assert!(alone.bytes() > 100 << 20);
        drop(alone);
        let small = budget.try_admit(100).unwrap();
        assert!(!small.wants_settling());
        assert!(!Charge::none().wants_settling());
    }

    #[tokio::test]
    async fn admit_waits_for_a_release() {
        let budget = Budget::new(3000);
        let first = budget.try_admit(100).unwrap();
        assert!(budget.try_admit(100).is_none());
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.admit(100).await.bytes() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(first);
        let bytes = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("a release wakes the waiter")
            .unwrap();
        assert_eq!(bytes, 100 * INITIAL_COST_PER_BYTE + RECORD_OVERHEAD);
    }

    #[test]
    fn the_default_is_a_fraction_of_memory_within_bounds() {
        let limit = default_limit();
        assert!((MIN_DEFAULT..=MAX_DEFAULT).contains(&limit), "{limit}");
    }
}
