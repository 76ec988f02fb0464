//! Human-readable diffs: a unified diff of the two answers, pretty-printed.
//!
//! # Contract
//! [`render_answer`] turns an answer into stable text: pretty JSON (object keys
//! sorted, as serde_json's map is ordered) for an output, `{"error": {...}}` for
//! an error, a one-line note for a timeout. [`unified_diff`] (the text of a
//! record in `diffs.txt`) is [`unified_diff_of`] the two renderings followed
//! by the diffs inside the strings they differ in ([`super::strings`]).
//! [`unified_diff_of`] diffs the two
//! renderings line by line, three lines of context, headers `legacy` and
//! `candidate` ([`unified_diff_of`] takes the renderings): the text of
//! [`super::diffview::DiffView::unified_text`], so long lines are windows
//! around their first change, as on the terminal and the page.
//!
//! Bounded: a line diff costs up to quadratic time in the lines that differ
//! (80,000 differing array elements took 40 s), so it gets [`DIFF_TIME_LIMIT`]
//! (`similar`'s deadline). Past it, what is left is shown as removed and
//! added whole, and the diff's first line says it was cut and that the full
//! answers are in `mismatches.csv`. Both functions are deterministic except
//! for where such a cut falls, which depends on the machine's speed; a diff
//! that finishes in time is always the same.

use super::strings::StringDiffs;
use crate::model::Answer;
use serde_json::{json, Value};
use std::time::Duration;

/// How long one record's line diff may take before it is cut.
pub const DIFF_TIME_LIMIT: Duration = Duration::from_millis(500);

/// An answer as the JSON value its rendering prints: the output, or
/// `{"error": {...}}`, or `{"timeout": "..."}`.
pub fn answer_value(answer: &Answer) -> Value {
    match answer {
        Answer::Output(v) => v.value().clone(),
        Answer::Error(e) => json!({ "error": e }),
        Answer::Timeout(d) => json!({ "timeout": format!("no answer within {d:?}") }),
    }
}

/// A stable, pretty text form of an answer.
pub fn render_answer(answer: &Answer) -> String {
    render_value(&answer_value(answer))
}

/// Pretty JSON text of a value, newline-terminated.
pub fn render_value(value: &Value) -> String {
    let mut text =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<unprintable: {e}>"));
    text.push('\n');
    text
}

/// The diff of two answers as `diffs.txt` shows it: the unified diff of
/// their renderings, then the diffs inside the strings they differ in
/// ([`StringDiffs::text`]); empty when they are equal.
pub fn unified_diff(legacy: &Answer, candidate: &Answer) -> String {
    let (a, b) = (answer_value(legacy), answer_value(candidate));
    record_diff(&a, &b, &render_value(&a), &render_value(&b))
}

/// [`unified_diff`] of two answer values and their renderings.
pub fn record_diff(
    legacy: &Value,
    candidate: &Value,
    legacy_text: &str,
    candidate_text: &str,
) -> String {
    let mut text = unified_diff_of(legacy_text, candidate_text);
    text.push_str(&StringDiffs::new(legacy, candidate).text());
    text
}

/// A unified diff of two renderings, cut after [`DIFF_TIME_LIMIT`].
pub fn unified_diff_of(legacy: &str, candidate: &str) -> String {
    unified_diff_within(legacy, candidate, DIFF_TIME_LIMIT)
}

fn unified_diff_within(legacy: &str, candidate: &str, limit: Duration) -> String {
    super::diffview::DiffView::within(legacy, candidate, limit).unified_text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_the_changed_line() {
        let text = unified_diff(
            &Answer::output(json!({"accepted": ["a"], "rejected": []})),
            &Answer::output(json!({"accepted": ["a "], "rejected": []})),
        );
        assert!(text.starts_with("--- legacy\n+++ candidate\n"), "{text}");
        assert!(text.contains("-    \"a\"\n+    \"a \"\n"), "{text}");
    }

    #[test]
    fn a_diff_past_its_deadline_is_cut_and_says_so() {
        let lines = |p: &str| (0..2000).map(|i| format!("{p}{i}\n")).collect::<String>();
        let (a, b) = (lines("a"), lines("b"));
        let cut = unified_diff_within(&a, &b, Duration::ZERO);
        let (note, diff) = cut.split_once('\n').unwrap();
        assert_eq!(
            note,
            "(diff cut after 0s: what was left is shown removed and added whole; the full answers are in mismatches.csv)"
        );
        assert!(diff.starts_with("--- legacy\n+++ candidate\n"), "{diff}");
        assert!(diff.contains("-a1999\n") && diff.contains("+b1999\n"));
        let whole = unified_diff_of("a\n", "b\n");
        assert_eq!(whole, "--- legacy\n+++ candidate\n@@ -1 +1 @@\n-a\n+b\n");
    }
}
