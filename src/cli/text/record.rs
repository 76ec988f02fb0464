//! One non-matching record on a terminal: where it came from, its group,
//! its recheck label, its input, the diff of its answers and the diffs inside
//! their strings.

use super::diff::{side_by_side, strings, unified, Layout};
use super::style::{Palette, Role};
use crate::report::labels::Label;
use crate::review::records::{pretty, RecordView};
use crate::util::escape::{escape as esc, escape_lines};
use crate::util::text::counted;
use std::fmt::Write;

fn label_role(label: Label) -> Role {
    match label {
        Label::Deterministic => Role::Good,
        Label::Flaky => Role::Warn,
        Label::Unchecked => Role::Muted,
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// One record: where it came from, its group, its input and the diff.
pub fn record_text(r: &RecordView, p: Palette, layout: Layout) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}{}  ({}:{})",
        p.paint(Role::Heading, "record"),
        p.paint(Role::Id, &r.id),
        r.key
            .as_deref()
            .map_or_else(String::new, |k| format!("  key {}", esc(k))),
        esc(&r.source),
        r.line
    );
    let _ = writeln!(
        out,
        "  outcome  {}   group {}: {}",
        p.paint(Role::Bad, &r.outcome),
        esc(&r.group),
        esc(&r.signature)
    );
    if let Some(label) = &r.recheck {
        let mut text = format!(
            "  recheck  {} ({} of {} gave this signature)",
            p.paint(label_role(label.label), label.label.as_str()),
            label.reproduced,
            counted(label.runs.into(), "re-run", "re-runs")
        );
        if !label.seen.is_empty() {
            let _ = write!(text, "; also seen: {}", esc(&label.seen.join(" | ")));
        }
        let _ = writeln!(out, "{text}");
    }
    if !r.paths.is_empty() {
        let _ = writeln!(out, "  paths    {}", esc(&r.paths));
    }
    let _ = writeln!(out, "{}", p.paint(Role::Heading, "input"));
    out.push_str(&escape_lines(&indent(&pretty(&r.input))));
    let _ = writeln!(
        out,
        "{}",
        p.paint(Role::Heading, "diff (legacy → candidate)")
    );
    if r.view.is_empty() {
        let _ = writeln!(
            out,
            "  (the two answers print the same; the difference is in how they were classified)"
        );
    } else if layout.side_by_side {
        out.push_str(&side_by_side(&r.view, p, layout.width));
    } else {
        out.push_str(&unified(&r.view, p));
    }
    out.push_str(&strings(&r.strings, p, layout));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::row::MismatchRow;
    use serde_json::json;

    #[test]
    fn a_230_kb_string_difference_prints_a_few_kib_with_the_change_in_it() {
        let a = format!("<p>{}</p>", "lorem ipsum ".repeat(20_000));
        assert!(a.len() > 230_000);
        let mut b = a.clone();
        b.replace_range(120_000..120_005, "CHANGED");
        let row = MismatchRow {
            id: "big".into(),
            key: String::new(),
            outcome: "mismatch".into(),
            group: "g1".into(),
            paths: "/html changed".into(),
            legacy: json!({ "html": a }).to_string(),
            candidate: json!({ "html": b }).to_string(),
            source: "t.jsonl".into(),
            line: 1,
            signature: "mismatch /html changed".into(),
            input: "{}".into(),
        };
        let r = RecordView::new(0, row, None);
        for side_by_side in [false, true] {
            let text = record_text(
                &r,
                Palette { color: false },
                Layout {
                    side_by_side,
                    width: 120,
                },
            );
            assert!(text.len() < 8 * 1024, "{} bytes:\n{text}", text.len());
            assert!(text.contains("CHANGED"), "{text}");
            assert!(text.contains("string /html (characters;"), "{text}");
        }
        // The text diffs.txt and --json's `diff` carry.
        assert!(r.diff.len() < 8 * 1024, "{} bytes", r.diff.len());
        assert!(
            r.diff.contains("CHANGED") && r.diff.contains("@@ -119961,"),
            "{}",
            r.diff
        );
    }
}
