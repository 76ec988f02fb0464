//! Comparison: one verdict per record from the two sides' answers, under
//! the declared rules and known differences, with a group signature and a
//! unified diff for people.
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
//!
//! # The fast path for text
//! When both outputs arrived as JSON text ([`Output::text`]: `builtin:identity`,
//! `worker:`, `pipe:`, `exec:`, `http(s)://` and `recorded` sides), equality is
//! decided first on the texts ([`same_output`]): the same bytes, or the same
//! tokens with string escapes decoded (`text.rs`, [`surely_equal`]); no
//! `Value` is built for a record found equal that way. The fast path only
//! ever answers "equal" when the values are equal; on anything it cannot
//! settle it is unsure and the values are compared as before, so a verdict
//! is never different. It is skipped when comparison rules are declared
//! (their audit reads both values of every record) and for outputs given as
//! values (`builtin:normalize`, `upstream:` exchanges); whatever needs a
//! value later (known differences, the noise probe, the contract, `group_by
//! output:`, the diff of a differing record) reads it from
//! [`Output::value`], built once.

//!
//! # Files
//! `walk.rs` (the structural walk of both outputs), `text.rs` (equality
//! of two JSON texts without values), `order.rs` (the
//! canonical order `unordered` sorts by), `leaf.rs` (what each rule says
//! about two differing values), `rules.rs` and `known.rs` (declarations,
//! compiled and applied), [`noise`] (learned noise), `signature.rs`
//! (mismatch groups), `shape.rs` (edit shapes: what changed inside a string), [`diffview`] (a diff of two texts as data, with char-level emphasis), [`strings`] (the diffs inside the strings two outputs differ in), `pointer.rs` (JSON Pointer patterns), `unified.rs`
//! (text diffs).
//!
//! Names only [`crate::model`] and [`crate::util`].

pub mod diffview;
mod group_by;
mod known;
mod leaf;
pub mod noise;
mod order;
mod pointer;
mod rules;
mod shape;
mod signature;
pub mod strings;
mod text;
mod unified;
mod walk;

/// JSON values for the property tests of the walks over values and texts.
#[cfg(test)]
pub(crate) mod arb {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// Values whose strings match `strings` and keys match `keys`,
    /// integers in `ints`, nested `depth` deep, of about `size` nodes, at
    /// most `width` children a container.
    pub(crate) fn value(
        strings: &'static str,
        keys: &'static str,
        ints: std::ops::Range<i64>,
        (depth, size, width): (u32, u32, usize),
    ) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            ints.prop_map(|n| json!(n)),
            strings.prop_map(Value::String),
        ];
        leaf.prop_recursive(depth, size, width as u32, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..width).prop_map(Value::Array),
                prop::collection::btree_map(keys, inner, 0..width)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}

pub use group_by::{ByRecord, GroupBy, GroupByError, MAX_VALUE_BYTES};
pub use known::{Known, KnownConfig, KnownSet};
pub use rules::{Declared, Rule, RuleConfig, RuleError, RuleSet, IGNORE_FLAG_PREFIX};
pub use shape::{edit_shapes, MAX_SHAPES, MAX_SHAPE_TOKENS, SHAPE_TIME_LIMIT};
pub use signature::{generalise, path_signature, signature, signature_of};
pub use text::surely_equal;
pub use unified::{
    answer_value, record_diff, render_answer, render_value, unified_diff, unified_diff_of,
    DIFF_TIME_LIMIT,
};
pub use walk::{diff, MAX_DIFFERENCES};

use crate::model::{Answer, Outcome, Output, RuleEffects, Verdict};

/// Whether two outputs are equal as JSON: for two texts, first without
/// building either value ([`surely_equal`]), and structurally only when
/// that is unsure; otherwise structurally. Exactly `a == b`, faster.
pub fn same_output(a: &Output, b: &Output) -> bool {
    if let (Some(x), Some(y)) = (a.text(), b.text()) {
        if surely_equal(x, y) {
            return true;
        }
    }
    a.value() == b.value()
}

/// One record judged as a replay judges it ([`judge_under`]).
#[derive(Debug, Clone)]
pub struct Judged {
    pub verdict: Verdict,
    /// What the rules saw and hid.
    pub rule_effects: RuleEffects,
    /// Per declared known difference: whether it covered a path.
    pub known_used: Vec<bool>,
}

/// Judges two answers the way every comparison in cutover does (a replay,
/// a re-run, a live mirror): under the rules, then the declared known
/// differences (which see the record's `input` JSON text), then the paths
/// learned to be noise (`noisy`, possibly empty).
pub fn judge_under(
    rules: &RuleSet,
    known: &KnownSet,
    input: &str,
    legacy: &Answer,
    candidate: &Answer,
    noisy: &[String],
) -> Judged {
    let (mut verdict, rule_effects) = rules.judge(legacy, candidate);
    let known_used = known.classify(&mut verdict, input, noisy);
    noise::classify(&mut verdict, noisy);
    Judged {
        verdict,
        rule_effects,
        known_used,
    }
}

/// Compares the two sides' answers for one record.
///
/// ```
/// use cutover::compare::judge;
/// use cutover::model::{Answer, Outcome};
/// use serde_json::json;
///
/// let verdict = judge(&Answer::output(json!({"x": null})), &Answer::output(json!({"x": ""})));
/// assert_eq!(verdict.outcome, Outcome::Mismatch);
/// assert_eq!(verdict.differences[0].path, "/x");
/// ```
pub fn judge(legacy: &Answer, candidate: &Answer) -> Verdict {
    let verdict = Verdict::of;
    match (legacy, candidate) {
        (Answer::Timeout(_), _) | (_, Answer::Timeout(_)) => verdict(Outcome::Timeout),
        (Answer::Output(a), Answer::Output(b)) => {
            if same_output(a, b) {
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
    use crate::model::AppError;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn outcome_table() {
        let out = |v| Answer::output(v);
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
