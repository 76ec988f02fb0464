//! A diff of two answers on a terminal: unified, or side by side with long
//! lines wrapped, the changed characters highlighted; and the diffs inside
//! a record's strings ([`strings`]).
//!
//! # Contract
//! Draws a [`DiffView`] (the same one the HTML page draws); every piece of
//! text is escaped ([`crate::util::escape::escape`]) and painted through a
//! [`Palette`] (plain when colour is off). Widths are display columns.

use super::style::{Palette, Role};
use crate::compare::strings::StringDiffs;
use crate::report::diffview::{DiffLine, DiffView, Hunk, LineKind};
use crate::util::escape::escape as esc;
use std::fmt::Write;
use unicode_width::UnicodeWidthChar;

/// How diffs are laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub side_by_side: bool,
    pub width: usize,
}

fn segments(p: Palette, line: &DiffLine, plain: Role, word: Role) -> String {
    line.segments
        .iter()
        .map(|s| p.paint(if s.emphasized { word } else { plain }, &s.text))
        .collect()
}

/// A unified diff, coloured, with the changed characters highlighted, and
/// its notes (what was cut).
pub fn unified(view: &DiffView, p: Palette) -> String {
    let mut out = String::new();
    if view.is_empty() {
        return out;
    }
    let _ = writeln!(out, "{}", p.paint(Role::Removed, "--- legacy"));
    let _ = writeln!(out, "{}", p.paint(Role::Added, "+++ candidate"));
    out.push_str(&hunks(&view.hunks, p));
    for note in view.notes().lines() {
        let _ = writeln!(out, "{}", p.paint(Role::Muted, note));
    }
    out
}

/// Hunks, coloured, with the changed characters highlighted.
pub fn hunks(hunks: &[Hunk], p: Palette) -> String {
    let mut out = String::new();
    for hunk in hunks {
        let _ = writeln!(out, "{}", p.paint(Role::Hunk, &hunk.header));
        for line in &hunk.lines {
            let text = match line.kind {
                LineKind::Same => format!(" {}", esc(&line.text())),
                LineKind::Removed => format!(
                    "{}{}",
                    p.paint(Role::Removed, "-"),
                    segments(p, line, Role::Removed, Role::RemovedWord)
                ),
                LineKind::Added => format!(
                    "{}{}",
                    p.paint(Role::Added, "+"),
                    segments(p, line, Role::Added, Role::AddedWord)
                ),
            };
            let _ = writeln!(out, "{text}");
        }
    }
    out
}

/// The diffs inside a record's strings under an `inside strings` heading
/// (nothing when there are none): per field its heading, its hunks
/// (unified, or side by side) and its notes.
pub fn strings(diffs: &StringDiffs, p: Palette, layout: Layout) -> String {
    let mut out = String::new();
    if diffs.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{}",
        p.paint(Role::Heading, "inside strings (legacy → candidate)")
    );
    for field in &diffs.fields {
        let _ = writeln!(out, "{}", p.paint(Role::Heading, &field.heading()));
        if layout.side_by_side {
            let view = DiffView {
                hunks: field.hunks.clone(),
                truncated: false,
                cut_after_ms: None,
                cut_lines: 0,
            };
            out.push_str(&side_by_side(&view, p, layout.width));
        } else {
            out.push_str(&hunks(&field.hunks, p));
        }
        for note in field.footer() {
            let _ = writeln!(out, "{}", p.paint(Role::Muted, &note));
        }
    }
    if let Some(note) = diffs.omitted_note() {
        let _ = writeln!(out, "{}", p.paint(Role::Muted, &note));
    }
    out
}

/// Cuts a line's segments, escaped, into pieces of at most `width` display
/// columns.
fn wrap(line: &DiffLine, width: usize) -> Vec<Vec<(bool, String)>> {
    let mut rows: Vec<Vec<(bool, String)>> = vec![Vec::new()];
    let mut used = 0;
    for seg in &line.segments {
        for ch in esc(&seg.text).chars() {
            let w = ch.width().unwrap_or(0);
            if used + w > width && used > 0 {
                rows.push(Vec::new());
                used = 0;
            }
            let row = rows.last_mut().expect("never empty");
            match row.last_mut() {
                Some((e, text)) if *e == seg.emphasized => text.push(ch),
                _ => row.push((seg.emphasized, ch.to_string())),
            }
            used += w;
        }
    }
    rows
}

fn cell(p: Palette, piece: Option<&Vec<(bool, String)>>, kind: LineKind, width: usize) -> String {
    let (plain, word) = match kind {
        LineKind::Same => (Role::Muted, Role::Muted),
        LineKind::Removed => (Role::Removed, Role::RemovedWord),
        LineKind::Added => (Role::Added, Role::AddedWord),
    };
    let mut used = 0;
    let mut text = String::new();
    for (emphasized, s) in piece.into_iter().flatten() {
        used += s.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>();
        let role = if *emphasized { word } else { plain };
        text.push_str(&if kind == LineKind::Same {
            s.clone()
        } else {
            p.paint(role, s)
        });
    }
    text.push_str(&" ".repeat(width.saturating_sub(used)));
    text
}

/// Legacy on the left, candidate on the right, long lines wrapped.
pub fn side_by_side(view: &DiffView, p: Palette, width: usize) -> String {
    let mut out = String::new();
    if view.is_empty() {
        return out;
    }
    // "NNNN │" on each side, a space between the halves.
    let col = (width.saturating_sub(15) / 2).max(10);
    let _ = writeln!(
        out,
        "{}",
        p.paint(
            Role::Heading,
            &format!("{:>5} {:<col$} │{:>5} {}", "", "legacy", "", "candidate")
        )
    );
    for hunk in &view.hunks {
        let _ = writeln!(out, "{}", p.paint(Role::Hunk, &hunk.header));
        for row in hunk.side_by_side() {
            let left = row.left.map(|l| wrap(l, col)).unwrap_or_default();
            let right = row.right.map(|l| wrap(l, col)).unwrap_or_default();
            for i in 0..left.len().max(right.len()).max(1) {
                let number = |line: Option<&DiffLine>, n: Option<usize>| match (i, line, n) {
                    (0, Some(_), Some(n)) => format!("{n:>5}"),
                    _ => "     ".to_owned(),
                };
                let lk = row.left.map_or(LineKind::Same, |l| l.kind);
                let rk = row.right.map_or(LineKind::Same, |l| l.kind);
                let mark = |kind: LineKind, present: bool| match (kind, present && i == 0) {
                    (LineKind::Removed, true) => p.paint(Role::Removed, "-"),
                    (LineKind::Added, true) => p.paint(Role::Added, "+"),
                    _ => " ".to_owned(),
                };
                let left_no = number(row.left, row.left.and_then(|l| l.legacy_line));
                let right_no = number(row.right, row.right.and_then(|l| l.candidate_line));
                let _ = writeln!(
                    out,
                    "{}{}{} │{}{}{}",
                    p.paint(Role::Muted, &left_no),
                    mark(lk, row.left.is_some()),
                    cell(p, left.get(i), lk, col),
                    p.paint(Role::Muted, &right_no),
                    mark(rk, row.right.is_some()),
                    cell(p, right.get(i), rk, col).trim_end()
                );
            }
        }
    }
    out
}
