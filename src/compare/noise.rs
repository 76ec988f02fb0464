//! Learned noise, Diffy-style: what differs between two calls to the legacy.
//!
//! # Contract
//! With a noise probe the legacy answers each record twice (two independent
//! calls; the worker pool sends the second to the least busy worker, usually
//! another one). [`noisy_paths`] lists the paths where those two answers
//! differ: they carry no signal for this record. [`classify`] turns a
//! `mismatch` into `noisy` when *every* differing path between legacy and
//! candidate is noisy for that record; one other path keeps it a `mismatch`,
//! so a real difference next to noise is still found. Nothing is hidden
//! without being counted: the summary gives per-path noise rates, so learned
//! noise can be turned into explicit rules.

use super::diff;
use crate::model::{Answer, Outcome, Verdict};
use std::collections::HashSet;

/// Where two answers of the legacy to the same input differ (empty when they
/// are equal or are not both outputs).
pub fn noisy_paths(first: &Answer, second: &Answer) -> Vec<String> {
    match (first, second) {
        (Answer::Output(a), Answer::Output(b)) if !super::same_output(a, b) => {
            diff(a, b).0.into_iter().map(|d| d.path).collect()
        }
        _ => Vec::new(),
    }
}

/// Marks a mismatch `noisy` when all its differing paths are noisy.
pub fn classify(verdict: &mut Verdict, noise: &[String]) {
    if verdict.outcome != Outcome::Mismatch || noise.is_empty() {
        return;
    }
    if verdict.total_differences > verdict.differences.len() {
        return; // differences past the cap are unseen: never call them noise
    }
    let noise: HashSet<&str> = noise.iter().map(String::as_str).collect();
    if verdict
        .differences
        .iter()
        .all(|d| noise.contains(d.path.as_str()))
    {
        verdict.outcome = Outcome::Noisy;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::judge;
    use serde_json::json;

    #[test]
    fn noise_hides_only_noisy_paths() {
        let out = |v| Answer::output(v);
        let noise = noisy_paths(
            &out(json!({"t": 1, "v": "a"})),
            &out(json!({"t": 2, "v": "a"})),
        );
        assert_eq!(noise, vec!["/t".to_owned()]);
        let mut only_noise = judge(
            &out(json!({"t": 1, "v": "a"})),
            &out(json!({"t": 3, "v": "a"})),
        );
        classify(&mut only_noise, &noise);
        assert_eq!(only_noise.outcome, Outcome::Noisy);
        let mut real = judge(
            &out(json!({"t": 1, "v": "a"})),
            &out(json!({"t": 3, "v": "A"})),
        );
        classify(&mut real, &noise);
        assert_eq!(real.outcome, Outcome::Mismatch);
    }
}
