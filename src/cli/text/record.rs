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
    if !r.strings.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.paint(Role::Heading, "inside strings (legacy → candidate)")
        );
        out.push_str(&strings(&r.strings, p, layout));
    }
    out
}
