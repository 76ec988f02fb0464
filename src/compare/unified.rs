//! Human-readable diffs: a unified diff of the two answers, pretty-printed.
//!
//! # Contract
//! [`render_answer`] turns an answer into stable text: pretty JSON (object keys
//! sorted, as serde_json's map is ordered) for an output, `{"error": {...}}` for
//! an error, a one-line note for a timeout. [`unified_diff`] diffs the two
//! renderings line by line with `similar`, three lines of context, headers
//! `legacy` and `candidate`. Both are deterministic.

use crate::target::Answer;
use serde_json::json;
use similar::TextDiff;

/// A stable, pretty text form of an answer.
pub fn render_answer(answer: &Answer) -> String {
    let value = match answer {
        Answer::Output(v) => v.clone(),
        Answer::Error(e) => json!({ "error": e }),
        Answer::Timeout(d) => json!({ "timeout": format!("no answer within {d:?}") }),
    };
    let mut text =
        serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("<unprintable: {e}>"));
    text.push('\n');
    text
}

/// A unified diff of the two answers (empty when their renderings are equal).
pub fn unified_diff(legacy: &Answer, candidate: &Answer) -> String {
    let (a, b) = (render_answer(legacy), render_answer(candidate));
    TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header("legacy", "candidate")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_the_changed_line() {
        let text = unified_diff(
            &Answer::Output(json!({"accepted": ["a"], "rejected": []})),
            &Answer::Output(json!({"accepted": ["a "], "rejected": []})),
        );
        assert!(text.starts_with("--- legacy\n+++ candidate\n"), "{text}");
        assert!(text.contains("-    \"a\"\n+    \"a \"\n"), "{text}");
    }
}
