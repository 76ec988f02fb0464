//! Mismatch signatures: what kind of difference a non-matching record shows.
//!
//! # Contract
//! [`signature`] is a pure function of a record's outcome and answers, and two
//! records that differ "in the same way" get the same text:
//! - `mismatch`: the sorted, de-duplicated set of differing paths with every
//!   array index (and any all-digit key) generalised to `*`, each with its
//!   kind, e.g. `mismatch /accepted/* changed, /rejected/* removed`;
//! - errors: the error types, e.g. `legacy_error AttributeError`,
//!   `both_error KeyError vs TypeError`;
//! - `timeout`: which side timed out.
//!
//! Values never appear in a signature, so one bug gives one group however many
//! different inputs trigger it. Non-goal: telling apart two bugs that touch the
//! same paths the same way.

use crate::model::{Answer, Outcome, Verdict};
use std::collections::BTreeSet;

/// The group signature of a non-matching record (`""` for a match).
pub fn signature(verdict: &Verdict, legacy: &Answer, candidate: &Answer) -> String {
    let error_type = |a: &Answer| match a {
        Answer::Error(e) => e.kind.clone(),
        Answer::Output(_) => "output".to_owned(),
        Answer::Timeout(_) => "timeout".to_owned(),
    };
    match verdict.outcome {
        Outcome::Match => String::new(),
        Outcome::Mismatch | Outcome::Accepted | Outcome::Noisy => {
            let paths: BTreeSet<String> = verdict
                .differences
                .iter()
                .map(|d| format!("{} {}", generalise(&d.path), d.kind.as_str()))
                .collect();
            format!(
                "{} {}",
                verdict.outcome.as_str(),
                paths.into_iter().collect::<Vec<_>>().join(", ")
            )
        }
        Outcome::LegacyError => format!("legacy_error {}", error_type(legacy)),
        Outcome::CandidateError => format!("candidate_error {}", error_type(candidate)),
        Outcome::BothError => format!(
            "both_error {} vs {}",
            error_type(legacy),
            error_type(candidate)
        ),
        Outcome::Timeout => {
            let side = match (legacy, candidate) {
                (Answer::Timeout(_), Answer::Timeout(_)) => "both",
                (Answer::Timeout(_), _) => "legacy",
                _ => "candidate",
            };
            format!("timeout {side}")
        }
    }
}

/// `/accepted/3/name` → `/accepted/*/name`.
pub fn generalise(path: &str) -> String {
    path.split('/')
        .map(|token| {
            if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                token
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::judge;
    use crate::model::AppError;
    use serde_json::json;

    #[test]
    fn indexes_are_generalised_and_values_ignored() {
        let a = judge(
            &Answer::Output(json!({"accepted": ["a", "b"], "rejected": []})),
            &Answer::Output(json!({"accepted": ["a", "c"], "rejected": []})),
        );
        let b = judge(
            &Answer::Output(json!({"accepted": ["x"], "rejected": []})),
            &Answer::Output(json!({"accepted": ["y"], "rejected": []})),
        );
        let out = Answer::Output(json!(null));
        assert_eq!(signature(&a, &out, &out), "mismatch /accepted/* changed");
        assert_eq!(signature(&a, &out, &out), signature(&b, &out, &out));
    }

    #[test]
    fn errors_are_grouped_by_type() {
        let e = |t: &str, m: &str| Answer::Error(AppError::new(t, m));
        let v = judge(&e("KeyError", "'items'"), &e("TypeError", "x"));
        assert_eq!(
            signature(&v, &e("KeyError", "'items'"), &e("TypeError", "x")),
            "both_error KeyError vs TypeError"
        );
    }
}
