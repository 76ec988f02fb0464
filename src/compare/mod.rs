//! Comparison: one verdict per record from the two sides' answers.
//!
//! # Contract
//! [`judge`] is a pure function of the two [`Answer`]s: same answers, same
//! [`Verdict`], whatever the order or concurrency of the run. Outcomes:
//!
//! | legacy      | candidate   | outcome |
//! |-------------|-------------|---------|
//! | output `a`  | output `b`  | `match` if `a` and `b` are equal as JSON, else `mismatch` with the differences |
//! | error       | output      | `legacy_error` |
//! | output      | error       | `candidate_error` |
//! | error `e`   | error `f`   | `match` if type and message are equal (counted in `matched_errors`), else `both_error` |
//! | timeout on either side | | `timeout` |
//!
//! JSON equality is structural: object key order does not matter, array order
//! does, and a missing field, `null`, `""`, `0`, `[]` and `{}` are all different.
//! Numbers compare by value and representation as serde_json parses them
//! (`1` and `1.0` differ, as they print differently).

mod known;
pub mod noise;
mod pointer;
mod rules;
mod signature;
mod structural;
mod unified;

pub use known::{Known, KnownConfig, KnownSet};
pub use rules::{PerRule, Rule, RuleConfig, RuleEffects, RuleError, RuleSet, IGNORE_FLAG_PREFIX};
pub(crate) use signature::generalise;
pub use signature::signature;
pub use structural::{diff, DiffKind, Difference, MAX_DIFFERENCES};
pub use unified::{render_answer, unified_diff, unified_diff_of, DIFF_TIME_LIMIT};

use crate::target::Answer;
use serde::Serialize;

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Match,
    Mismatch,
    /// A mismatch entirely covered by declared known differences.
    Accepted,
    /// A mismatch only at paths where the legacy disagrees with itself.
    Noisy,
    LegacyError,
    CandidateError,
    BothError,
    Timeout,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Mismatch => "mismatch",
            Outcome::Accepted => "accepted",
            Outcome::Noisy => "noisy",
            Outcome::LegacyError => "legacy_error",
            Outcome::CandidateError => "candidate_error",
            Outcome::BothError => "both_error",
            Outcome::Timeout => "timeout",
        }
    }
}

/// The comparison of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// True for a `match` where both sides raised the same error.
    pub matched_error: bool,
    /// For `mismatch`: where the outputs differ (at most [`MAX_DIFFERENCES`]).
    pub differences: Vec<Difference>,
    /// For `mismatch`: how many differences there were in all.
    pub total_differences: usize,
}

impl Verdict {
    /// True when the record needs no one's attention (`match`).
    pub fn is_clean(&self) -> bool {
        self.outcome == Outcome::Match
    }
}

/// Compares the two sides' answers for one record.
///
/// ```
/// use cutover::compare::{judge, Outcome};
/// use cutover::target::Answer;
/// use serde_json::json;
///
/// let verdict = judge(&Answer::Output(json!({"x": null})), &Answer::Output(json!({"x": ""})));
/// assert_eq!(verdict.outcome, Outcome::Mismatch);
/// assert_eq!(verdict.differences[0].path, "/x");
/// ```
pub fn judge(legacy: &Answer, candidate: &Answer) -> Verdict {
    let verdict = |outcome| Verdict {
        outcome,
        matched_error: false,
        differences: Vec::new(),
        total_differences: 0,
    };
    match (legacy, candidate) {
        (Answer::Timeout(_), _) | (_, Answer::Timeout(_)) => verdict(Outcome::Timeout),
        (Answer::Output(a), Answer::Output(b)) => {
            if a == b {
                verdict(Outcome::Match)
            } else {
                let (differences, total_differences) = diff(a, b);
                Verdict {
                    outcome: Outcome::Mismatch,
                    matched_error: false,
                    differences,
                    total_differences,
                }
            }
        }
        (Answer::Error(_), Answer::Output(_)) => verdict(Outcome::LegacyError),
        (Answer::Output(_), Answer::Error(_)) => verdict(Outcome::CandidateError),
        (Answer::Error(a), Answer::Error(b)) if a == b => Verdict {
            matched_error: true,
            ..verdict(Outcome::Match)
        },
        (Answer::Error(_), Answer::Error(_)) => verdict(Outcome::BothError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::AppError;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn outcome_table() {
        let out = |v| Answer::Output(v);
        let err = |t: &str, m: &str| Answer::Error(AppError::new(t, m));
        assert_eq!(
            judge(&out(json!({"a": 1})), &out(json!({"a": 1}))).outcome,
            Outcome::Match
        );
        assert_eq!(
            judge(&out(json!({"a": 1})), &out(json!({"a": 2}))).outcome,
            Outcome::Mismatch
        );
        assert_eq!(
            judge(&err("E", "m"), &out(json!(1))).outcome,
            Outcome::LegacyError
        );
        assert_eq!(
            judge(&out(json!(1)), &err("E", "m")).outcome,
            Outcome::CandidateError
        );
        let same = judge(&err("E", "m"), &err("E", "m"));
        assert_eq!((same.outcome, same.matched_error), (Outcome::Match, true));
        assert_eq!(
            judge(&err("E", "m"), &err("E", "n")).outcome,
            Outcome::BothError
        );
        assert_eq!(
            judge(&err("E", "m"), &err("F", "m")).outcome,
            Outcome::BothError
        );
        let t = Answer::Timeout(Duration::from_secs(1));
        assert_eq!(judge(&t, &out(json!(1))).outcome, Outcome::Timeout);
        assert_eq!(judge(&out(json!(1)), &t).outcome, Outcome::Timeout);
    }
}
