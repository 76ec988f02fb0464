//! A record after both sides answered and were compared: what the engine
//! hands the report, one per line read, in input order.
//!
//! # Contract
//! Every item read becomes exactly one [`Event`]: a [`RecordResult`] or a
//! [`Rejection`]. A result carries everything the report writes about the
//! record (answers and latencies, the verdict, what the rules and known
//! differences did, noise, drift, the unified diff when the report may show
//! it), so no sink needs to re-run or re-read anything. Nothing here says
//! who serves the record's key: the rollout is the report's business.

use super::{Answer, Charge, ContractFindings, Origin, Rejection, Verdict};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;

/// One side's answer and how long it took.
#[derive(Debug, Clone)]
pub struct Observed {
    pub answer: Answer,
    /// From the call to its answer, everything included.
    pub latency: Duration,
    /// The part of `latency` the call waited inside cutover for a slot (a
    /// connection of an upstream's pool) before its request left; the rest
    /// is service time ([`Observed::service`]).
    pub waited: Duration,
}

impl Observed {
    /// Service time: from the request leaving cutover to its answer.
    pub fn service(&self) -> Duration {
        self.latency.saturating_sub(self.waited)
    }
}

/// One value per comparison rule, kept inline for the first eight rules (no
/// allocation per record in the common case).
pub type PerRule<T> = smallvec::SmallVec<[T; 8]>;

/// What the comparison rules did to one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleEffects {
    /// Per rule: its pattern found a value in either output.
    pub present: PerRule<bool>,
    /// Per rule: differing paths it made disappear.
    pub suppressed: PerRule<u32>,
}

/// A record after both sides answered and were compared.
#[derive(Debug)]
pub struct RecordResult {
    pub seq: u64,
    pub id: String,
    pub key: Option<String>,
    pub origin: Origin,
    /// The record's input, as the capture gave it (JSON text).
    pub input: Arc<RawValue>,
    pub legacy: Observed,
    pub candidate: Observed,
    pub verdict: Verdict,
    /// What the comparison rules saw and hid for this record.
    pub rule_effects: RuleEffects,
    /// Per declared known difference: whether it covered a path of this record.
    pub known_used: Vec<bool>,
    /// With a noise probe: the paths where two legacy answers differed.
    pub noise: Option<Vec<String>>,
    /// With a live legacy and a recorded response: whether the legacy's answer
    /// today differs from what production recorded (`None`: nothing to check).
    pub drift: Option<bool>,
    /// What the run's behaviour contract found in this record (`None`:
    /// nothing, or no contract). Independent of the verdict.
    pub contract: Option<Box<ContractFindings>>,
    /// The unified diff of the two answers, for a non-matching record the
    /// report may show (`None` otherwise).
    pub diff: Option<String>,
    /// The record's share of the in-flight byte budget, released with the
    /// result (when the report is done with it).
    pub charge: Charge,
}

/// What the engine hands the report, one per item read, in order.
#[derive(Debug)]
pub enum Event {
    Compared(Box<RecordResult>),
    Rejected(Rejection),
}
