//! `/metrics`: the live proxy's metric families, in OpenMetrics text
//! through the `prometheus-client` crate (nothing hand-formatted).
//!
//! # Contract
//! - Families (names as exposed): `cutover_requests_total{served_by}`
//!   (`legacy`, `candidate`, `legacy_without_key`),
//!   `cutover_shadow_total{outcome}` (`compared`, `shed_queue_full`,
//!   `body_too_large`, `method_skipped`, `timeout`, `error`),
//!   `cutover_shadow_mismatches_total{group}`,
//!   `cutover_mirror_queue_depth`, `cutover_mirrors_in_flight`,
//!   `cutover_upstream_duration_seconds{side}` (histograms),
//!   `cutover_accepted_total`, `cutover_rejected_total`,
//!   `cutover_retried_total`, `cutover_mismatch_rate_upper_bound`,
//!   `cutover_serve_percent`, `cutover_rollbacks_total`.
//! - `group` has bounded cardinality: the first [`TOP_GROUPS`] signatures
//!   seen get a label of their own (made inert: letters, digits and
//!   ` /*_.-` only, at most 120 bytes); every later one counts as `other`.
//! - The per-request series (`served_by`, `side`, `compared`) are looked
//!   up once, when the metrics are made: a request costs atomic adds and a
//!   histogram observation, no label built and no family lookup.
//! - Counters the router keeps itself ([`crate::flags::RouterStats`]) are
//!   carried over at each scrape as the increase since the last one, so
//!   both say the same.

use crate::flags::{Basis, Decision, RouterStats};
use crate::model::Side;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

/// Mismatch groups with a label of their own at most.
pub const TOP_GROUPS: usize = 20;
/// The content type `/metrics` answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServedBy {
    served_by: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabel {
    group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SideLabel {
    side: String,
}

fn upstream_histogram() -> Histogram {
    // 100 µs .. about 13 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// The serve metrics (see the module docs).
pub struct Metrics {
    registry: Registry,
    shadow: Family<OutcomeLabel, Counter>,
    mismatches: Family<GroupLabel, Counter>,
    queue_depth: Gauge,
    in_flight: Gauge,
    accepted: Counter,
    rejected: Counter,
    retried: Counter,
    bound: Gauge<f64, AtomicU64>,
    serve_percent: Gauge<f64, AtomicU64>,
    rollbacks: Counter,
    /// `served_by` legacy, candidate, legacy_without_key.
    served_by: [Counter; 3],
    compared: Counter,
    /// `side` legacy, candidate.
    took: [Histogram; 2],
    groups: Mutex<HashSet<String>>,
    last: Mutex<RouterStats>,
    last_retries: Mutex<u64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<ServedBy, Counter>::default();
        registry.register(
            "cutover_requests",
            "Requests answered, by the side that served them",
            requests.clone(),
        );
        let shadow = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "cutover_shadow",
            "Mirrors, by what became of them",
            shadow.clone(),
        );
        let mismatches = Family::<GroupLabel, Counter>::default();
        registry.register(
            "cutover_shadow_mismatches",
            "Mirrored requests whose answers differed, by group signature (top groups, then other)",
            mismatches.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "cutover_mirror_queue_depth",
            "Comparisons waiting for the live report",
            queue_depth.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "cutover_mirrors_in_flight",
            "Mirrored calls running now",
            in_flight.clone(),
        );
        let upstream = Family::<SideLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            upstream_histogram as fn() -> Histogram,
        );
        registry.register(
            "cutover_upstream_duration_seconds",
            "Time each side took to answer",
            upstream.clone(),
        );
        let accepted = Counter::default();
        registry.register("cutover_accepted", "Requests accepted", accepted.clone());
        let rejected = Counter::default();
        registry.register(
            "cutover_rejected",
            "Requests refused (bad or too large body, shutting down)",
            rejected.clone(),
        );
        let retried = Counter::default();
        registry.register(
            "cutover_retried",
            "Calls re-sent by a side after its worker died",
            retried.clone(),
        );
        let bound = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "cutover_mismatch_rate_upper_bound",
            "Wilson 95% upper bound on the share of mirrored requests against the candidate, over the rollback window",
            bound.clone(),
        );
        let serve_percent = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "cutover_serve_percent",
            "The serve flag's rollout percentage (0 while the local rollback override holds)",
            serve_percent.clone(),
        );
        let rollbacks = Counter::default();
        registry.register(
            "cutover_rollbacks",
            "Automatic rollbacks",
            rollbacks.clone(),
        );
        let served_by = ["legacy", "candidate", "legacy_without_key"].map(|by| {
            requests
                .get_or_create(&ServedBy {
                    served_by: by.to_owned(),
                })
                .clone()
        });
        let compared = shadow
            .get_or_create(&OutcomeLabel {
                outcome: "compared".to_owned(),
            })
            .clone();
        let took = [Side::Legacy, Side::Candidate].map(|side| {
            upstream
                .get_or_create(&SideLabel {
                    side: side.to_string(),
                })
                .clone()
        });
        Metrics {
            served_by,
            compared,
            took,
            registry,
            shadow,
            mismatches,
            queue_depth,
            in_flight,
            accepted,
            rejected,
            retried,
            bound,
            serve_percent,
            rollbacks,
            groups: Mutex::new(HashSet::new()),
            last: Mutex::new(RouterStats::default()),
            last_retries: Mutex::new(0),
        }
    }

    /// One request, by the side that serves it (`served_by`).
    pub fn served(&self, decision: &Decision) {
        let by = match (decision.serving, decision.basis) {
            (Side::Legacy, Basis::WithoutKey) => 2,
            (Side::Legacy, _) => 0,
            (Side::Candidate, _) => 1,
        };
        self.served_by[by].inc();
    }

    /// One mirror compared.
    pub fn compared(&self) {
        self.compared.inc();
    }

    pub fn shadow(&self, outcome: &str) {
        self.shadow_by(outcome, 1);
    }

    /// How many mirrors ended with `outcome` so far.
    pub fn shadow_count(&self, outcome: &str) -> u64 {
        self.shadow
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .get()
    }

    fn shadow_by(&self, outcome: &str, n: u64) {
        let counter = self.shadow.get_or_create(&OutcomeLabel {
            outcome: outcome.to_owned(),
        });
        if n > 0 {
            counter.inc_by(n);
        }
    }

    /// A mirrored request whose answers differed, in the group `signature`.
    pub fn mismatch(&self, signature: &str) {
        let label = {
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            let inert = inert_label(signature);
            if groups.contains(&inert) {
                inert
            } else if groups.len() < TOP_GROUPS {
                groups.insert(inert.clone());
                inert
            } else {
                "other".to_owned()
            }
        };
        self.mismatches
            .get_or_create(&GroupLabel { group: label })
            .inc();
    }

    pub fn upstream(&self, side: Side, took: Duration) {
        let i = match side {
            Side::Legacy => 0,
            Side::Candidate => 1,
        };
        self.took[i].observe(took.as_secs_f64());
    }

    pub fn accepted(&self) {
        self.accepted.inc();
    }

    pub fn rejected(&self) {
        self.rejected.inc();
    }

    pub fn rollback(&self) {
        self.rollbacks.inc();
    }

    pub fn set_bound(&self, bound: f64) {
        self.bound.set(bound);
    }

    pub fn set_serve_percent(&self, percent: f64) {
        self.serve_percent.set(percent);
    }

    /// Carries the router's own counters and gauges over (see the module
    /// docs), with the sides' retries so far.
    pub fn sync(&self, stats: &RouterStats, queue_depth: usize, in_flight: usize, retries: u64) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let up = |now: u64, before: u64| now.saturating_sub(before);
        self.shadow_by(
            "shed_queue_full",
            up(stats.shed, last.shed) + up(stats.dropped, last.dropped),
        );
        self.shadow_by("timeout", up(stats.mirror_timeouts, last.mirror_timeouts));
        self.shadow_by("error", up(stats.panicked, last.panicked));
        *last = stats.clone();
        let mut last_retries = self.last_retries.lock().unwrap_or_else(|p| p.into_inner());
        self.retried.inc_by(up(retries, *last_retries));
        *last_retries = retries;
        self.queue_depth.set(queue_depth as i64);
        self.in_flight.set(in_flight as i64);
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// A signature as a label value: inert characters only, bounded.
fn inert_label(signature: &str) -> String {
    let mut label: String = signature
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " /*_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    label.truncate(120);
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_past_the_top_count_as_other_and_labels_are_inert() {
        let m = Metrics::new();
        for i in 0..(TOP_GROUPS + 5) {
            m.mismatch(&format!("mismatch /a{i} changed"));
        }
        m.mismatch("mismatch /\"evil\"\n changed");
        let text = m.encode();
        let lines = text
            .lines()
            .filter(|l| l.starts_with("cutover_shadow_mismatches_total{"))
            .count();
        assert_eq!(lines, TOP_GROUPS + 1, "{text}");
        assert!(text.contains("group=\"other\"} 6"), "{text}");
        assert!(!text.contains("evil\""), "{text}");
    }
}
