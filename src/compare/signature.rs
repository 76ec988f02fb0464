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
//! - a `changed` path where both sides hold a string, at a path with no
//!   array index, also says *what* changed in it: its [edit shapes](super::shape) in brackets, e.g.
//!   `mismatch /html changed [<p> → <pre>; inserted "\n" at end]`, so two
//!   causes in one string field give two groups;
//! - paths learned as noise for the record (`--noise-probe`) are left out
//!   ([`signature_of`]), so a noisy field never splits a group.
//!
//! Values never appear in a signature, so one bug gives one group however many
//! different inputs trigger it. Non-goal: telling apart two bugs that make the
//! same edits at the same paths.
//!
//! [`path_signature`] is the looser form without edit shapes.

use super::shape::{edit_shapes, MAX_SHAPES, MORE};
use crate::model::{Answer, DiffKind, Difference, Outcome, Verdict};
use std::collections::{BTreeMap, BTreeSet};

/// The group signature of a non-matching record (`""` for a match).
pub fn signature(verdict: &Verdict, legacy: &Answer, candidate: &Answer) -> String {
    signature_of(verdict, legacy, candidate, &[])
}

/// [`signature`] without edit shapes: the paths and kinds alone (what
/// signatures were before edit shapes; `minimize --same group`).
pub fn path_signature(verdict: &Verdict, legacy: &Answer, candidate: &Answer) -> String {
    let none = Answer::output(serde_json::Value::Null);
    match verdict.outcome {
        Outcome::Mismatch | Outcome::Accepted | Outcome::Noisy => signature(verdict, &none, &none),
        _ => signature(verdict, legacy, candidate),
    }
}

/// The edit shapes of a changed string leaf (`None` when it is not one).
fn shapes_of(d: &Difference, legacy: &Answer, candidate: &Answer) -> Option<Vec<String>> {
    match (d.kind, legacy, candidate) {
        (DiffKind::Changed, Answer::Output(a), Answer::Output(b)) => {
            let a = a.pointer(&d.path)?.as_str()?;
            let b = b.pointer(&d.path)?.as_str()?;
            // An array element is judged by its path alone: it may be
            // another element shifted into its place, and a list of strings
            // is data, not a text (the paths already say what changed).
            // Edit shapes are for the string fields a text output lives in.
            (generalise(&d.path) == d.path).then(|| edit_shapes(a, b))
        }
        _ => None,
    }
}

/// `path kind` entries, one per generalised path and kind, each with the
/// union of its strings' edit shapes (at most [`MAX_SHAPES`]): the elements
/// of one array that changed alike are one entry.
fn describe<'a>(
    differences: impl Iterator<Item = &'a Difference>,
    legacy: &Answer,
    candidate: &Answer,
) -> Vec<String> {
    let mut entries: BTreeMap<(String, &'static str), BTreeSet<String>> = BTreeMap::new();
    for d in differences {
        let shapes = entries
            .entry((generalise(&d.path), d.kind.as_str()))
            .or_default();
        if shapes.len() < MAX_SHAPES {
            shapes.extend(shapes_of(d, legacy, candidate).unwrap_or_default());
        }
    }
    entries
        .into_iter()
        .map(|((path, kind), shapes)| match shapes.is_empty() {
            true => format!("{path} {kind}"),
            false => {
                let mut shapes: Vec<String> = shapes.into_iter().collect();
                if shapes.len() > MAX_SHAPES {
                    shapes.truncate(MAX_SHAPES - 1);
                    shapes.push(MORE.to_owned());
                }
                format!("{path} {kind} [{}]", shapes.join("; "))
            }
        })
        .collect()
}

/// [`signature`] without the paths in `noise` (learned noise for the record).
pub fn signature_of(
    verdict: &Verdict,
    legacy: &Answer,
    candidate: &Answer,
    noise: &[String],
) -> String {
    let error_type = |a: &Answer| match a {
        Answer::Error(e) => e.kind.clone(),
        Answer::Output(_) => "output".to_owned(),
        Answer::Timeout(_) => "timeout".to_owned(),
    };
    match verdict.outcome {
        Outcome::Match => String::new(),
        Outcome::Mismatch | Outcome::Accepted | Outcome::Noisy => {
            let paths = describe(
                verdict
                    .differences
                    .iter()
                    .filter(|d| verdict.outcome != Outcome::Mismatch || !noise.contains(&d.path)),
                legacy,
                candidate,
            );
            format!("{} {}", verdict.outcome.as_str(), paths.join(", "))
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
            &Answer::output(json!({"accepted": ["a", "b"], "rejected": []})),
            &Answer::output(json!({"accepted": ["a", "c"], "rejected": []})),
        );
        let b = judge(
            &Answer::output(json!({"accepted": ["x"], "rejected": []})),
            &Answer::output(json!({"accepted": ["y"], "rejected": []})),
        );
        let out = Answer::output(json!(null));
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

    /// Per kind of edit shape, two causes in one string field: each cause
    /// alone is its own group, and both together a third, naming both.
    #[test]
    fn two_causes_in_one_string_field_give_two_groups_per_kind_of_shape() {
        let sig = |a: &str, b: &str| {
            let (a, b) = (
                Answer::output(json!({"html": a})),
                Answer::output(json!({"html": b})),
            );
            signature(&judge(&a, &b), &a, &b)
        };
        // (legacy, cause A, cause B, both), for one kind of shape each.
        let kinds = [
            (
                "inserted",
                "<p>a</p>x",
                "<p>a</p>\nx",
                "<p>a</p>x<br>",
                "<p>a</p>\nx<br>",
            ),
            (
                "deleted",
                "<b>a</b> <i>b</i>.",
                "<b>a</b> <i>b</i>",
                "a <i>b</i>.",
                "a <i>b</i>",
            ),
            (
                "replaced",
                "<p>a</p> b c &copy;",
                "<pre>a</pre> b c &copy;",
                "<p>a</p> b c ©",
                "<pre>a</pre> b c ©",
            ),
            (
                "digits",
                "<td>1</td><th>x</th>",
                "<td>2</td><th>x</th>",
                "<td>1</td><th>X</th>",
                "<td>2</td><th>X</th>",
            ),
            (
                "attributes",
                "<img alt=\"a\" src=\"b\"> \"q\"",
                "<img src=\"b\" alt=\"a\"> \"q\"",
                "<img alt=\"a\" src=\"b\"> &quot;q&quot;",
                "<img src=\"b\" alt=\"a\"> &quot;q&quot;",
            ),
        ];
        for (kind, legacy, a, b, both) in kinds {
            let (sa, sb, sab) = (sig(legacy, a), sig(legacy, b), sig(legacy, both));
            assert_ne!(sa, sb, "{kind}: two causes, two groups");
            assert!(sa != sab && sb != sab, "{kind}: {sa} / {sb} / {sab}");
            for one in [&sa, &sb] {
                let shapes = one.split_once('[').unwrap().1.trim_end_matches(']');
                assert!(sab.contains(shapes), "{kind}: {sab} holds {shapes}");
            }
            // The same causes with other words: the same groups.
            let other = |s: &str| s.replace(">a<", ">zz top<");
            assert_eq!(sig(&other(legacy), &other(a)), sa, "{kind}");
        }
    }

    #[test]
    fn noisy_paths_are_left_out_of_the_signature() {
        let (a, b) = (
            Answer::output(json!({"t": 1, "v": "a"})),
            Answer::output(json!({"t": 2, "v": "b"})),
        );
        let (c, d) = (
            Answer::output(json!({"t": 1, "v": "a"})),
            Answer::output(json!({"t": 1, "v": "b"})),
        );
        let noise = ["/t".to_owned()];
        assert_eq!(
            signature_of(&judge(&a, &b), &a, &b, &noise),
            signature_of(&judge(&c, &d), &c, &d, &noise)
        );
        assert_eq!(
            signature_of(&judge(&c, &d), &c, &d, &noise),
            "mismatch /v changed [text changed]"
        );
    }
}
