//! What a replay says about the current rollout: `summary.json`'s `rollout`
//! section and its lines in the terminal summary.
//!
//! # Contract
//! - [`RolloutPlan`] is fixed when the run starts: the flag state in use (one
//!   snapshot, so the whole run sees one rollout), or why it is unknown.
//! - [`RolloutTally::observe`] takes each compared record with its
//!   [`Decision`]; memory is constant.
//! - [`RolloutTally::finish`] gives the counts (`candidate_serves`, of those
//!   `candidate_serves_differing`: the user-visible differences at this
//!   percentage, counted like the promotion evidence counts them: mismatched,
//!   errors and timeouts; `shadowed`, `legacy_only`, `without_key`,
//!   `without_state`) and the evidence of the whole run judged by
//!   [`super::evidence`], with the percentage it supports.
//! - Identity: `records = candidate_serves + legacy_serves` and
//!   `legacy_serves >= without_key + without_state`.

use super::evidence::{Evidence, Gate};
use super::state::{FlagView, Snapshot};
use super::{Basis, Decision, FlagNames};
use crate::compare::Outcome;
use crate::target::Side;
use crate::terminal::counted;
use serde::{Deserialize, Serialize};

/// The flag state a run uses, fixed at its start.
#[derive(Debug, Clone)]
pub struct RolloutPlan {
    pub migration: String,
    pub names: FlagNames,
    pub stickiness: String,
    /// `file PATH` or `server URL`.
    pub source: String,
    pub snapshot: Option<std::sync::Arc<Snapshot>>,
    /// Why there is no state, when there is none.
    pub unknown_reason: Option<String>,
    pub gate: Gate,
    pub ladder: Vec<u8>,
}

/// `summary.json`'s `rollout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutReport {
    pub migration: String,
    pub shadow_flag: String,
    pub serve_flag: String,
    pub stickiness: String,
    pub source: String,
    /// `known` (a state was loaded) or `unknown` (legacy only).
    pub state: String,
    /// Where the state came from (`file`, `server`, `cache`) and when.
    pub state_origin: Option<String>,
    pub state_fetched_at: Option<String>,
    pub unknown_reason: Option<String>,
    /// The flags' percentages, when each is one number.
    pub serve_percent: Option<f64>,
    pub shadow_percent: Option<f64>,
    pub records: u64,
    pub candidate_serves: u64,
    /// Of `candidate_serves`, records whose answers differ (mismatched,
    /// errors, timeouts): what users would see at this rollout.
    pub candidate_serves_differing: u64,
    pub legacy_serves: u64,
    /// Records whose non-serving side is mirrored and compared.
    pub shadowed: u64,
    /// Records neither served by the candidate nor shadowed.
    pub legacy_only: u64,
    pub without_key: u64,
    pub without_state: u64,
    pub evidence: Evidence,
    /// What `cutover flags promote` would set now (see `flags::evidence`).
    pub supported_percent: f64,
}

/// Counts a run's decisions.
#[derive(Debug)]
pub struct RolloutTally {
    plan: RolloutPlan,
    records: u64,
    candidate_serves: u64,
    candidate_serves_differing: u64,
    shadowed: u64,
    legacy_only: u64,
    without_key: u64,
    without_state: u64,
}

/// Outcomes a user served by the candidate would notice.
pub fn differs(outcome: Outcome) -> bool {
    !matches!(outcome, Outcome::Match | Outcome::Accepted | Outcome::Noisy)
}

impl RolloutTally {
    pub fn new(plan: RolloutPlan) -> Self {
        RolloutTally {
            plan,
            records: 0,
            candidate_serves: 0,
            candidate_serves_differing: 0,
            shadowed: 0,
            legacy_only: 0,
            without_key: 0,
            without_state: 0,
        }
    }

    pub fn observe(&mut self, decision: Decision, outcome: Outcome) {
        self.records += 1;
        match decision.basis {
            Basis::WithoutKey => self.without_key += 1,
            Basis::NoState => self.without_state += 1,
            Basis::Flags => {}
        }
        if decision.serving == Side::Candidate {
            self.candidate_serves += 1;
            self.candidate_serves_differing += u64::from(differs(outcome));
        }
        if decision.mirrored {
            self.shadowed += 1;
        } else if decision.serving == Side::Legacy {
            self.legacy_only += 1;
        }
    }

    pub fn finish(self, counts: &crate::report::Counts) -> RolloutReport {
        let plan = self.plan;
        let view = |name: &str| {
            plan.snapshot
                .as_ref()
                .map(|s| FlagView::of(&s.features, name))
        };
        let serve = view(&plan.names.serve);
        let shadow = view(&plan.names.shadow);
        let serve_percent = serve.as_ref().and_then(|v| v.percent);
        let evidence = Evidence::judge(counts, plan.gate);
        let supported_percent = evidence.supported(&plan.ladder, serve_percent.unwrap_or(0.0));
        RolloutReport {
            migration: plan.migration,
            shadow_flag: plan.names.shadow,
            serve_flag: plan.names.serve,
            stickiness: plan.stickiness,
            source: plan.source,
            state: if plan.snapshot.is_some() {
                "known"
            } else {
                "unknown"
            }
            .into(),
            state_origin: plan.snapshot.as_ref().map(|s| s.origin.to_string()),
            state_fetched_at: plan.snapshot.as_ref().map(|s| {
                s.fetched_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            }),
            unknown_reason: plan.unknown_reason,
            serve_percent,
            shadow_percent: shadow.and_then(|v| v.percent),
            records: self.records,
            candidate_serves: self.candidate_serves,
            candidate_serves_differing: self.candidate_serves_differing,
            legacy_serves: self.records - self.candidate_serves,
            shadowed: self.shadowed,
            legacy_only: self.legacy_only,
            without_key: self.without_key,
            without_state: self.without_state,
            evidence,
            supported_percent,
        }
    }
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(
        || "mixed".into(),
        |p| format!("{}%", super::state::percent_text(p)),
    )
}

/// The terminal summary's lines about the rollout.
pub fn render(report: &RolloutReport) -> String {
    let r = report;
    let mut out = String::new();
    if r.state == "unknown" {
        out.push_str(&format!(
            "  rollout     unknown ({}): legacy serves every record, none shadowed\n",
            r.unknown_reason.as_deref().unwrap_or("no flag state")
        ));
    } else {
        out.push_str(&format!(
            "  rollout     serve {} / shadow {} ({}): candidate serves {}, {} of them differ; {} shadowed; {} without key\n",
            pct(r.serve_percent),
            pct(r.shadow_percent),
            r.state_origin.as_deref().unwrap_or(&r.source),
            counted(r.candidate_serves, "record", "records"),
            r.candidate_serves_differing,
            r.shadowed,
            r.without_key
        ));
    }
    let e = &r.evidence;
    let verdict = if e.passes {
        format!(
            "supports serve {}%",
            super::state::percent_text(r.supported_percent)
        )
    } else {
        format!(
            "supports serve 0% ({})",
            e.needed.as_deref().unwrap_or("the gate does not pass")
        )
    };
    out.push_str(&format!(
        "  evidence    {} of {} against the candidate, upper 95% bound {:.4}% (max {:.4}%, min {}): {verdict}\n",
        e.against,
        counted(e.records, "record", "records"),
        e.upper_bound * 100.0,
        e.max_mismatch_bound * 100.0,
        counted(e.min_records, "record", "records")
    ));
    out
}
