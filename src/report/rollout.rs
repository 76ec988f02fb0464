//! What a replay says about the current rollout: `summary.json`'s `rollout`
//! section.
//!
//! # Contract
//! - [`RolloutPlan`] is fixed when the run starts: the flag state in use (one
//!   snapshot, so the whole run sees one rollout), or why it is unknown.
//! - [`RolloutTally::observe`] takes each compared record, asks the
//!   run's [`Evaluator`] who serves its key (the engine knows nothing of
//!   flags: the decision is made here, as the report reads the record), and
//!   counts; memory is constant.
//! - [`RolloutTally::finish`] gives the counts (`candidate_serves`, of those
//!   `candidate_serves_differing`: the user-visible differences at this
//!   percentage, counted like the promotion evidence counts them: mismatched,
//!   errors and timeouts; `shadowed`, `legacy_only`, `without_key`,
//!   `without_state`) and the evidence of the whole run judged by
//!   [`crate::flags::evidence`], with the percentage it supports.
//! - Identity: `records = candidate_serves + legacy_serves` and
//!   `legacy_serves >= without_key + without_state`.

use crate::flags::evidence::{Evidence, Gate};
use crate::flags::state::{FlagView, Snapshot};
use crate::flags::{Basis, Evaluator, FlagNames, FlagSettings};
use crate::model::{Counts, RecordResult, Side};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

impl RolloutPlan {
    /// The plan of a run whose flags are `settings`, with the state
    /// `evaluator` holds (or why it has none).
    pub fn new(
        settings: &FlagSettings,
        evaluator: &Evaluator,
        unknown_reason: Option<String>,
    ) -> RolloutPlan {
        let snapshot = evaluator.snapshot();
        RolloutPlan {
            migration: settings.migration.clone(),
            names: settings.names.clone(),
            stickiness: settings.stickiness.as_str().to_owned(),
            source: settings.source.to_string(),
            unknown_reason: snapshot.is_none().then_some(unknown_reason).flatten(),
            snapshot,
            gate: Gate {
                min_records: settings.min_records,
                max_mismatch_bound: settings.max_mismatch_bound,
            },
            ladder: settings.ladder.clone(),
        }
    }
}

/// Counts a run's decisions.
#[derive(Clone)]
pub struct RolloutTally {
    plan: RolloutPlan,
    evaluator: Arc<Evaluator>,
    records: u64,
    candidate_serves: u64,
    candidate_serves_differing: u64,
    shadowed: u64,
    legacy_only: u64,
    without_key: u64,
    without_state: u64,
}

impl RolloutTally {
    /// The tally of a run whose flags are `settings`: the source opened
    /// once, its state fixed for the run; an unavailable source is said
    /// once (a warning in the log) and the run goes on, legacy only.
    pub async fn open(settings: &FlagSettings) -> RolloutTally {
        let opened = crate::flags::open::open(settings).await;
        if let Some(problem) = &opened.problem {
            tracing::warn!("flags: {problem}");
        }
        let plan = RolloutPlan::new(settings, &opened.evaluator, opened.problem.clone());
        RolloutTally::new(plan, opened.evaluator)
    }

    pub fn new(plan: RolloutPlan, evaluator: Arc<Evaluator>) -> Self {
        RolloutTally {
            plan,
            evaluator,
            records: 0,
            candidate_serves: 0,
            candidate_serves_differing: 0,
            shadowed: 0,
            legacy_only: 0,
            without_key: 0,
            without_state: 0,
        }
    }

    pub fn observe(&mut self, result: &RecordResult) {
        let decision = self.evaluator.decide(result.key.as_deref());
        let outcome = result.verdict.outcome;
        self.records += 1;
        match decision.basis {
            Basis::WithoutKey => self.without_key += 1,
            Basis::NoState => self.without_state += 1,
            Basis::Flags => {}
        }
        if decision.serving == Side::Candidate {
            self.candidate_serves += 1;
            self.candidate_serves_differing += u64::from(outcome.differs());
        }
        if decision.mirrored {
            self.shadowed += 1;
        } else if decision.serving == Side::Legacy {
            self.legacy_only += 1;
        }
    }

    pub fn finish(self, counts: &Counts) -> RolloutReport {
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
