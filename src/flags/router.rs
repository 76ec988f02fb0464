//! The library API: a [`Router`] a Rust service embeds to cut over, in the
//! manner of GitHub's Scientist.
//!
//! Give it the request's key, its input and the two implementations; it asks
//! the flags who serves, calls the serving side (and, when the shadow flag is
//! on for the key, the other side too, concurrently), returns the serving
//! side's answer, and hands the comparison to a bounded sink.
//!
//! ```
//! use cutover::flags::state::{parse_features, Origin, Snapshot};
//! use cutover::flags::{Evaluator, FlagNames, Router, Stickiness};
//! use cutover::model::Answer;
//! use serde_json::{json, value::RawValue};
//! use std::sync::Arc;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let names = FlagNames::derived("normalize");
//! let eval = Arc::new(Evaluator::offline(names, Stickiness::UserId).unwrap());
//! // Usually a file_source::watch or a ServerSource keeps this current.
//! eval.load(Snapshot {
//!     features: parse_features(&std::fs::read("flags.json").unwrap()).unwrap(),
//!     origin: Origin::File { path: "flags.json".into() },
//!     fetched_at: chrono::Utc::now(),
//! })
//! .unwrap();
//! let (router, mut comparisons) = Router::with_sink(eval, 1024);
//! let input = RawValue::from_string(r#"{"items": [" a "]}"#.into()).unwrap();
//! let answer = router
//!     .run(
//!         Some("user-7"),
//!         &input,
//!         |_| async { Answer::Output(json!({"accepted": ["a"], "rejected": []})) },
//!         |_| async { Answer::Output(json!({"accepted": ["a"], "rejected": []})) },
//!     )
//!     .await;
//! assert!(matches!(answer, Answer::Output(_)));
//! // The bundled flags.json shadows every key: the comparison was recorded.
//! let comparison = comparisons.try_recv().unwrap();
//! assert!(comparison.verdict.is_clean());
//! # });
//! ```
//!
//! # Contract
//! - The decision is [`Evaluator::decide`]'s: no state or no key ⇒ the legacy
//!   serves and nothing is mirrored.
//! - The answer returned is always the serving side's, whatever the other
//!   side does (an error, a timeout, a different output never leaks to the
//!   caller). With mirroring, `run` returns when both sides are done: bound
//!   the slower one with its own timeout.
//! - Comparisons go to the sink with `try_send`: a full sink never slows a
//!   request; the comparison is dropped and counted in
//!   [`RouterStats::dropped`]. Counters are atomics; the router holds no
//!   per-request state.

use super::{Basis, Decision, Evaluator};
use crate::compare::judge;
use crate::model::{Answer, Side, Verdict};
use serde::Serialize;
use serde_json::value::RawValue;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One mirrored request, compared.
#[derive(Debug)]
pub struct Comparison {
    pub key: Option<String>,
    pub decision: Decision,
    pub input: Box<RawValue>,
    pub legacy: Answer,
    pub candidate: Answer,
    pub verdict: Verdict,
}

/// What a router has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouterStats {
    pub requests: u64,
    pub served_by_candidate: u64,
    pub mirrored: u64,
    /// Mirrored requests whose two answers differed.
    pub differed: u64,
    /// Requests without a key (legacy served, not mirrored).
    pub without_key: u64,
    /// Requests before any flag state was loaded (legacy served).
    pub without_state: u64,
    /// Comparisons dropped because the sink was full or gone.
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    served_by_candidate: AtomicU64,
    mirrored: AtomicU64,
    differed: AtomicU64,
    without_key: AtomicU64,
    without_state: AtomicU64,
    dropped: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Routes requests between the legacy and the candidate by the flags.
pub struct Router {
    eval: Arc<Evaluator>,
    sink: Option<mpsc::Sender<Comparison>>,
    counters: Counters,
}

impl Router {
    /// A router that compares mirrored requests but keeps no comparisons.
    pub fn new(eval: Arc<Evaluator>) -> Self {
        Router {
            eval,
            sink: None,
            counters: Counters::default(),
        }
    }

    /// A router handing comparisons to a channel of `capacity` (at least 1).
    pub fn with_sink(eval: Arc<Evaluator>, capacity: usize) -> (Self, mpsc::Receiver<Comparison>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Router {
                eval,
                sink: Some(tx),
                counters: Counters::default(),
            },
            rx,
        )
    }

    pub fn evaluator(&self) -> &Arc<Evaluator> {
        &self.eval
    }

    /// The decision for a key, counted.
    pub fn decide(&self, key: Option<&str>) -> Decision {
        let decision = self.eval.decide(key);
        let c = &self.counters;
        bump(&c.requests);
        match decision.basis {
            Basis::WithoutKey => bump(&c.without_key),
            Basis::NoState => bump(&c.without_state),
            Basis::Flags => {}
        }
        if decision.serving == Side::Candidate {
            bump(&c.served_by_candidate);
        }
        if decision.mirrored {
            bump(&c.mirrored);
        }
        decision
    }

    /// Serves one request: calls the side the flags pick (and mirrors the
    /// other when the shadow flag is on), returns the serving side's answer.
    pub async fn run<'i, L, LF, C, CF>(
        &self,
        key: Option<&str>,
        input: &'i RawValue,
        legacy: L,
        candidate: C,
    ) -> Answer
    where
        L: FnOnce(&'i RawValue) -> LF,
        LF: Future<Output = Answer>,
        C: FnOnce(&'i RawValue) -> CF,
        CF: Future<Output = Answer>,
    {
        let decision = self.decide(key);
        if !decision.mirrored {
            return match decision.serving {
                Side::Legacy => legacy(input).await,
                Side::Candidate => candidate(input).await,
            };
        }
        let (legacy, candidate) = tokio::join!(legacy(input), candidate(input));
        let verdict = judge(&legacy, &candidate);
        if !verdict.is_clean() {
            bump(&self.counters.differed);
        }
        let served = match decision.serving {
            Side::Legacy => legacy.clone(),
            Side::Candidate => candidate.clone(),
        };
        if let Some(sink) = &self.sink {
            let comparison = Comparison {
                key: key.map(str::to_owned),
                decision,
                input: input.to_owned(),
                legacy,
                candidate,
                verdict,
            };
            if sink.try_send(comparison).is_err() {
                bump(&self.counters.dropped);
            }
        }
        served
    }

    pub fn stats(&self) -> RouterStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RouterStats {
            requests: get(&c.requests),
            served_by_candidate: get(&c.served_by_candidate),
            mirrored: get(&c.mirrored),
            differed: get(&c.differed),
            without_key: get(&c.without_key),
            without_state: get(&c.without_state),
            dropped: get(&c.dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::state::{parse_features, Origin, Snapshot};
    use crate::flags::{FlagNames, Stickiness};
    use crate::model::AppError;
    use serde_json::json;

    fn eval(serve: u32, shadow: u32) -> Arc<Evaluator> {
        let names = FlagNames::derived("m");
        let flag = |name: &str, pct: u32| {
            format!(
                r#"{{"name":"{name}","enabled":true,"strategies":[{{"name":"flexibleRollout","parameters":{{"rollout":"{pct}","stickiness":"userId","groupId":"{name}"}}}}]}}"#
            )
        };
        let doc = format!(
            r#"{{"version":2,"features":[{},{}]}}"#,
            flag(&names.serve, serve),
            flag(&names.shadow, shadow)
        );
        let e = Evaluator::offline(names, Stickiness::UserId).unwrap();
        e.load(Snapshot {
            features: parse_features(doc.as_bytes()).unwrap(),
            origin: Origin::File { path: "t".into() },
            fetched_at: chrono::Utc::now(),
        })
        .unwrap();
        Arc::new(e)
    }

    fn input() -> Box<RawValue> {
        RawValue::from_string("{}".into()).unwrap()
    }

    async fn call(router: &Router, key: Option<&str>) -> Answer {
        let input = input();
        router
            .run(
                key,
                &input,
                |_| async { Answer::Output(json!("legacy")) },
                |_| async { Answer::Error(AppError::new("E", "candidate failed")) },
            )
            .await
    }

    #[tokio::test]
    async fn the_serving_side_answers_and_the_other_is_only_compared() {
        let (router, mut rx) = Router::with_sink(eval(0, 100), 8);
        assert_eq!(
            call(&router, Some("u1")).await,
            Answer::Output(json!("legacy"))
        );
        let c = rx.try_recv().unwrap();
        assert_eq!(c.verdict.outcome, crate::model::Outcome::CandidateError);

        let (router, mut rx) = Router::with_sink(eval(100, 0), 8);
        assert!(matches!(call(&router, Some("u1")).await, Answer::Error(_)));
        assert!(rx.try_recv().is_err(), "no mirroring with shadow off");
    }

    #[tokio::test]
    async fn no_key_and_no_state_serve_legacy_without_mirroring() {
        let (router, mut rx) = Router::with_sink(eval(100, 100), 8);
        assert_eq!(call(&router, None).await, Answer::Output(json!("legacy")));
        let empty =
            Arc::new(Evaluator::offline(FlagNames::derived("m"), Stickiness::UserId).unwrap());
        let (cold, mut cold_rx) = Router::with_sink(empty, 8);
        assert_eq!(
            call(&cold, Some("u1")).await,
            Answer::Output(json!("legacy"))
        );
        assert!(rx.try_recv().is_err() && cold_rx.try_recv().is_err());
        assert_eq!(
            (router.stats().without_key, cold.stats().without_state),
            (1, 1)
        );
    }

    #[tokio::test]
    async fn a_full_sink_drops_and_counts_instead_of_blocking() {
        let (router, _rx) = Router::with_sink(eval(0, 100), 1);
        for _ in 0..3 {
            call(&router, Some("u1")).await;
        }
        let stats = router.stats();
        assert_eq!((stats.mirrored, stats.differed, stats.dropped), (3, 3, 2));
    }
}
