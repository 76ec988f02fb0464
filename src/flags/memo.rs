//! Remembering decisions per key, only where that cannot change an answer.
//!
//! # Contract
//! - [`deterministic`] says whether, for a state and the stickiness cutover
//!   uses, the SDK's answer for the migration's flags is a function of the
//!   key alone. cutover's context carries nothing but the key (no time, no
//!   address, fixed app name and environment), so the answer can vary for a
//!   fixed key only through **randomness** (`gradualRolloutRandom`, `random`
//!   stickiness, or `default` stickiness with neither `userId` nor
//!   `sessionId` in the context) or **the clock** (a `currentTime`
//!   constraint, which the SDK evaluates against now when the context has no
//!   time). Any strategy outside the known, key-determined ones counts as
//!   non-deterministic. Dependencies and segments are followed.
//! - [`key_independent`] says whether one flag gives the same answer for
//!   every key cutover passes: absent, disabled, enabled with no strategy,
//!   or only unconstrained `default` strategies and flexibleRollouts at 0%
//!   or 100% (on the key's field or `default` stickiness, with no
//!   dependency). The bundled state (shadow 100%, serve 0%) is such a pair.
//!   The constant itself is still the SDK's answer, asked once per state.
//! - [`Memo`] is a per-thread map key → decision for one evaluator and one
//!   state generation: a new state (or another evaluator) empties it, and it
//!   never holds more than [`MEMO_CAPACITY`] keys: once full, it keeps the
//!   keys it has (the first seen, usually the busiest) and asks the SDK for
//!   the others, so traffic with many more keys than that costs one lookup
//!   per decision, not an insert and an eviction. When remembering does not
//!   pay (after 8,192 lookups, fewer than one in four hit: keys rarely come
//!   back), it remembers only one miss in 16, so that keys that do come
//!   back still get in.
//!   It is used only when [`deterministic`] said yes for the loaded state, so
//!   a remembered decision is always the one the SDK would give again.

use super::{Decision, FlagNames, Stickiness};
use std::collections::{HashMap, HashSet};
use unleash_types::client_features::{ClientFeature, ClientFeatures, Constraint};

/// Keys remembered per thread at most.
pub const MEMO_CAPACITY: usize = 1 << 16;

/// Strategies whose answer depends only on the context cutover builds.
const KEY_DETERMINED: &[&str] = &[
    "default",
    "userWithId",
    "flexibleRollout",
    "gradualRolloutUserId",
    "gradualRolloutSessionId",
    "remoteAddress",
    "applicationHostname",
];

fn clock_free(constraints: &[Constraint]) -> bool {
    constraints.iter().all(|c| c.context_name != "currentTime")
}

/// Whether the answers for `names` are a function of the key alone.
pub fn deterministic(state: &ClientFeatures, names: &FlagNames, stickiness: &Stickiness) -> bool {
    let features: HashMap<&str, &ClientFeature> = state
        .features
        .iter()
        .map(|f| (f.name.as_str(), f))
        .collect();
    let segments_ok = state
        .segments
        .iter()
        .flatten()
        .all(|s| clock_free(&s.constraints));
    let has_user_or_session = !matches!(stickiness, Stickiness::Property(_));
    let mut todo = vec![names.serve.as_str(), names.shadow.as_str()];
    let mut seen = HashSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        // A flag absent from the state is off for everyone: deterministic.
        let Some(feature) = features.get(name) else {
            continue;
        };
        for strategy in feature.strategies.iter().flatten() {
            if !KEY_DETERMINED.contains(&strategy.name.as_str()) {
                return false;
            }
            if strategy.name == "flexibleRollout" {
                let stickiness = strategy
                    .parameters
                    .as_ref()
                    .and_then(|p| p.get("stickiness"))
                    .map_or("default", String::as_str);
                match stickiness {
                    "random" => return false,
                    "default" | "" if !has_user_or_session => return false,
                    _ => {}
                }
            }
            if !clock_free(strategy.constraints.as_deref().unwrap_or_default()) {
                return false;
            }
            if strategy.segments.as_ref().is_some_and(|s| !s.is_empty()) && !segments_ok {
                return false;
            }
        }
        for dependency in feature.dependencies.iter().flatten() {
            todo.push(dependency.feature.as_str());
        }
    }
    true
}

/// Whether `name`'s answer is the same for every key (see the module docs).
pub fn key_independent(state: &ClientFeatures, name: &str, stickiness: &Stickiness) -> bool {
    let Some(feature) = state.features.iter().find(|f| f.name == name) else {
        return true;
    };
    if !feature.enabled {
        return true;
    }
    if feature.dependencies.as_ref().is_some_and(|d| !d.is_empty()) {
        return false;
    }
    feature.strategies.iter().flatten().all(|strategy| {
        let plain = strategy.constraints.as_ref().is_none_or(|c| c.is_empty())
            && strategy.segments.as_ref().is_none_or(|s| s.is_empty());
        let param = |k: &str| {
            strategy
                .parameters
                .as_ref()
                .and_then(|p| p.get(k))
                .map(|v| v.trim())
        };
        plain
            && match strategy.name.as_str() {
                "default" => true,
                "flexibleRollout" => {
                    let sticky = param("stickiness").unwrap_or("default");
                    let on_our_field = sticky == stickiness.as_str()
                        || (matches!(sticky, "default" | "")
                            && !matches!(stickiness, Stickiness::Property(_)));
                    on_our_field && matches!(param("rollout"), Some("0" | "100"))
                }
                _ => false,
            }
    })
}

/// One thread's remembered decisions.
#[derive(Default)]
pub struct Memo {
    owner: u64,
    generation: u64,
    decisions: HashMap<Box<str>, Decision>,
    lookups: u64,
    hits: u64,
}

impl Memo {
    /// The decision for `key` under (`owner`, `generation`), computing and
    /// remembering it with `compute` when it is not known yet.
    pub fn get_or(
        &mut self,
        owner: u64,
        generation: u64,
        key: &str,
        compute: impl FnOnce() -> Decision,
    ) -> Decision {
        if self.owner != owner || self.generation != generation {
            self.decisions.clear();
            self.owner = owner;
            self.generation = generation;
            self.lookups = 0;
            self.hits = 0;
        }
        self.lookups += 1;
        if let Some(decision) = self.decisions.get(key) {
            self.hits += 1;
            return *decision;
        }
        let decision = compute();
        if self.decisions.len() < MEMO_CAPACITY && self.worth_remembering() {
            self.decisions.insert(key.into(), decision);
        }
        decision
    }

    /// Early on, or while one lookup in four hits, every miss is
    /// remembered; otherwise one in 16.
    fn worth_remembering(&self) -> bool {
        self.lookups < 8192 || self.hits * 4 >= self.lookups || self.lookups.is_multiple_of(16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::state::parse_features;

    fn state(strategy: &str) -> ClientFeatures {
        parse_features(
            format!(
                r#"{{"version":2,"features":[{{"name":"cutover.m.serve","enabled":true,"strategies":[{strategy}]}},{{"name":"other","enabled":true,"strategies":[{{"name":"gradualRolloutRandom","parameters":{{"percentage":"50"}}}}]}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn det(strategy: &str, stickiness: &Stickiness) -> bool {
        deterministic(&state(strategy), &FlagNames::derived("m"), stickiness)
    }

    #[test]
    fn key_determined_states_are_recognised() {
        let user = Stickiness::UserId;
        let prop = Stickiness::parse("tenant");
        let flex = |s: &str| {
            format!(
                r#"{{"name":"flexibleRollout","parameters":{{"rollout":"25","stickiness":"{s}","groupId":"g"}}}}"#
            )
        };
        assert!(det(&flex("userId"), &user));
        assert!(
            det(&flex("default"), &user),
            "default resolves to the userId cutover sets"
        );
        assert!(
            !det(&flex("default"), &prop),
            "default falls back to random without userId/sessionId"
        );
        assert!(det(&flex("tenant"), &prop));
        assert!(!det(&flex("random"), &user));
        assert!(!det(
            r#"{"name":"gradualRolloutRandom","parameters":{"percentage":"5"}}"#,
            &user
        ));
        assert!(!det(
            r#"{"name":"myCustomStrategy","parameters":{}}"#,
            &user
        ));
        assert!(!det(
            r#"{"name":"default","constraints":[{"contextName":"currentTime","operator":"DATE_AFTER","value":"2020-01-01T00:00:00Z"}]}"#,
            &user
        ));
        assert!(det(
            r#"{"name":"default","constraints":[{"contextName":"userId","operator":"IN","values":["a"]}]}"#,
            &user
        ));
        // The random flag `other` is not one of the migration's: irrelevant.
    }

    #[test]
    fn constant_flags_are_recognised() {
        let user = Stickiness::UserId;
        let one = |strategy: &str| {
            parse_features(
                format!(r#"{{"version":2,"features":[{{"name":"f","enabled":true,"strategies":[{strategy}]}}]}}"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        let flex = |pct: &str, s: &str| {
            format!(
                r#"{{"name":"flexibleRollout","parameters":{{"rollout":"{pct}","stickiness":"{s}","groupId":"g"}}}}"#
            )
        };
        assert!(key_independent(&one(&flex("100", "userId")), "f", &user));
        assert!(key_independent(&one(&flex("0", "default")), "f", &user));
        assert!(key_independent(
            &one(&flex("100", "tenant")),
            "f",
            &Stickiness::parse("tenant")
        ));
        assert!(!key_independent(&one(&flex("25", "userId")), "f", &user));
        assert!(!key_independent(
            &one(&flex("100", "sessionId")),
            "f",
            &user
        ));
        assert!(!key_independent(
            &one(&flex("100", "default")),
            "f",
            &Stickiness::parse("tenant")
        ));
        assert!(!key_independent(
            &one(
                r#"{"name":"default","constraints":[{"contextName":"userId","operator":"IN","values":["a"]}]}"#
            ),
            "f",
            &user
        ));
        assert!(key_independent(&one(r#"{"name":"default"}"#), "f", &user));
        assert!(key_independent(
            &one(r#"{"name":"default"}"#),
            "absent",
            &user
        ));
    }

    #[test]
    fn dependencies_are_followed() {
        let s = parse_features(
            br#"{"version":2,"features":[
              {"name":"cutover.m.serve","enabled":true,"strategies":[{"name":"default"}],"dependencies":[{"feature":"parent"}]},
              {"name":"parent","enabled":true,"strategies":[{"name":"gradualRolloutRandom","parameters":{"percentage":"50"}}]}]}"#,
        )
        .unwrap();
        assert!(!deterministic(
            &s,
            &FlagNames::derived("m"),
            &Stickiness::UserId
        ));
    }

    #[test]
    fn the_memo_forgets_on_a_new_generation_and_stays_bounded() {
        let mut memo = Memo::default();
        let on = Decision::from_flags(true, true);
        let off = Decision::from_flags(false, false);
        assert_eq!(memo.get_or(1, 1, "k", || on), on);
        assert_eq!(memo.get_or(1, 1, "k", || off), on, "remembered");
        assert_eq!(memo.get_or(1, 2, "k", || off), off, "a new state forgets");
        assert_eq!(
            memo.get_or(2, 2, "k", || on),
            on,
            "another evaluator forgets"
        );
        for i in 0..MEMO_CAPACITY + 10 {
            memo.get_or(2, 2, &format!("k{i}"), || off);
        }
        assert!(memo.decisions.len() <= MEMO_CAPACITY);
        // Keys that never come back: after the first 8,192 only one in 16
        // misses is remembered.
        let mut cold = Memo::default();
        for i in 0..40_000 {
            cold.get_or(1, 1, &format!("k{i}"), || off);
        }
        assert!(
            cold.decisions.len() < 8192 + 40_000 / 16 + 1,
            "{}",
            cold.decisions.len()
        );
        // Keys that do come back keep being remembered.
        let mut hot = Memo::default();
        for i in 0..40_000 {
            hot.get_or(1, 1, &format!("k{}", i % 1000), || off);
        }
        assert_eq!(hot.hits, 39_000);
    }
}
