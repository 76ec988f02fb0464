//! A diff of two answers as data: hunks of lines, each line cut into segments
//! with the changed words marked, in unified and side-by-side layouts.
//!
//! # Contract
//! - Input: the two texts [`crate::compare::render_answer`] makes (pretty JSON,
//!   keys sorted), or any two texts. Output: a [`DiffView`] that the terminal
//!   renderer and the HTML report both draw, so the two show the same diff.
//! - Lines are diffed with `similar` (three lines of context, like
//!   `diffs.txt`); inside a changed block, words are diffed again
//!   (`similar`'s inline diff) and the differing words are `emphasized`.
//!   When two lines share too little for a word diff to help, the whole line
//!   is one plain segment.
//! - Bounded: a diff of texts longer than [`MAX_DIFF_BYTES`] per side is made
//!   of their first [`MAX_DIFF_BYTES`] and says so in [`DiffView::truncated`].
//!   The word diff has a deadline, so a pathological pair cannot hang a page.
//! - Pure and deterministic.

use serde::Serialize;
use similar::{ChangeTag, TextDiff};
use std::time::Duration;

/// Lines of context around each change.
pub const CONTEXT: usize = 3;
/// Bytes of each side diffed at most.
pub const MAX_DIFF_BYTES: usize = 256 * 1024;

/// What a line is in the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// On both sides.
    Same,
    /// Legacy only.
    Removed,
    /// Candidate only.
    Added,
}

/// A run of text within a line; `emphasized` marks the words that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub text: String,
    pub emphasized: bool,
}

/// One line of a hunk (without its newline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub kind: LineKind,
    /// 1-based line numbers on each side, where the line exists.
    pub legacy_line: Option<usize>,
    pub candidate_line: Option<usize>,
    pub segments: Vec<Segment>,
}

impl DiffLine {
    /// `same`, `removed` or `added`: the CSS class of the HTML report.
    pub fn css_class(&self) -> &'static str {
        match self.kind {
            LineKind::Same => "same",
            LineKind::Removed => "removed",
            LineKind::Added => "added",
        }
    }

    /// The line's text without markup.
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.as_str()).collect()
    }
}

/// A hunk: `@@ -a,b +c,d @@` and its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hunk {
    pub header: String,
    pub lines: Vec<DiffLine>,
}

/// A row of the side-by-side layout: legacy on the left, candidate on the right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideRow<'a> {
    pub left: Option<&'a DiffLine>,
    pub right: Option<&'a DiffLine>,
}

/// The diff of two texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffView {
    pub hunks: Vec<Hunk>,
    /// True when a side was longer than [`MAX_DIFF_BYTES`] and was cut.
    pub truncated: bool,
}

fn cut(text: &str) -> (&str, bool) {
    if text.len() <= MAX_DIFF_BYTES {
        return (text, false);
    }
    let mut end = MAX_DIFF_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

impl DiffView {
    /// Diffs `legacy` against `candidate`.
    pub fn new(legacy: &str, candidate: &str) -> Self {
        let (old, cut_old) = cut(legacy);
        let (new, cut_new) = cut(candidate);
        let diff = TextDiff::configure()
            .timeout(Duration::from_millis(500))
            .diff_lines(old, new);
        let hunks = diff
            .grouped_ops(CONTEXT)
            .into_iter()
            .filter(|ops| !ops.is_empty())
            .map(|ops| {
                let header = similar::udiff::UnifiedHunkHeader::new(&ops).to_string();
                let mut lines = Vec::new();
                for op in &ops {
                    for change in diff.iter_inline_changes(op) {
                        let kind = match change.tag() {
                            ChangeTag::Equal => LineKind::Same,
                            ChangeTag::Delete => LineKind::Removed,
                            ChangeTag::Insert => LineKind::Added,
                        };
                        let mut segments: Vec<Segment> = Vec::new();
                        for (emphasized, text) in change.iter_strings_lossy() {
                            let text = text.trim_end_matches(['\n', '\r']);
                            if text.is_empty() {
                                continue;
                            }
                            match segments.last_mut() {
                                Some(last) if last.emphasized == emphasized => {
                                    last.text.push_str(text)
                                }
                                _ => segments.push(Segment {
                                    text: text.to_owned(),
                                    emphasized,
                                }),
                            }
                        }
                        lines.push(DiffLine {
                            kind,
                            legacy_line: change.old_index().map(|i| i + 1),
                            candidate_line: change.new_index().map(|i| i + 1),
                            segments,
                        });
                    }
                }
                Hunk { header, lines }
            })
            .collect();
        DiffView {
            hunks,
            truncated: cut_old || cut_new,
        }
    }

    /// True when the two texts are equal.
    pub fn is_empty(&self) -> bool {
        self.hunks.is_empty()
    }

    /// The plain unified diff (`--- legacy`, `+++ candidate`, hunks), as
    /// `diffs.txt` has it.
    pub fn unified_text(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            return out;
        }
        out.push_str("--- legacy\n+++ candidate\n");
        for hunk in &self.hunks {
            out.push_str(&hunk.header);
            out.push('\n');
            for line in &hunk.lines {
                out.push(match line.kind {
                    LineKind::Same => ' ',
                    LineKind::Removed => '-',
                    LineKind::Added => '+',
                });
                out.push_str(&line.text());
                out.push('\n');
            }
        }
        out
    }
}

impl Hunk {
    /// The hunk's lines paired for a side-by-side layout: unchanged lines on
    /// both sides, each block of removed lines beside the added lines that
    /// replace it.
    pub fn side_by_side(&self) -> Vec<SideRow<'_>> {
        fn flush<'a>(
            rows: &mut Vec<SideRow<'a>>,
            removed: &mut Vec<&'a DiffLine>,
            added: &mut Vec<&'a DiffLine>,
        ) {
            let n = removed.len().max(added.len());
            let (mut r, mut a) = (removed.drain(..), added.drain(..));
            for _ in 0..n {
                rows.push(SideRow {
                    left: r.next(),
                    right: a.next(),
                });
            }
        }
        let mut rows = Vec::new();
        let mut removed: Vec<&DiffLine> = Vec::new();
        let mut added: Vec<&DiffLine> = Vec::new();
        for line in &self.lines {
            match line.kind {
                LineKind::Removed => {
                    if !added.is_empty() {
                        flush(&mut rows, &mut removed, &mut added);
                    }
                    removed.push(line)
                }
                LineKind::Added => added.push(line),
                LineKind::Same => {
                    flush(&mut rows, &mut removed, &mut added);
                    rows.push(SideRow {
                        left: Some(line),
                        right: Some(line),
                    });
                }
            }
        }
        flush(&mut rows, &mut removed, &mut added);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_changed_words_and_pairs_the_lines() {
        let legacy = "{\n  \"accepted\": [\n    \"sep\"\n  ],\n  \"rejected\": []\n}\n";
        let candidate = "{\n  \"accepted\": [\n    \"\\u001csep\"\n  ],\n  \"rejected\": []\n}\n";
        let view = DiffView::new(legacy, candidate);
        assert_eq!(view.hunks.len(), 1);
        let hunk = &view.hunks[0];
        assert_eq!(hunk.header, "@@ -1,6 +1,6 @@");
        let removed = hunk
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Removed)
            .unwrap();
        let added = hunk
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Added)
            .unwrap();
        assert_eq!(removed.text(), "    \"sep\"");
        assert_eq!(added.text(), "    \"\\u001csep\"");
        assert!(added.segments.iter().any(|s| s.emphasized), "{added:?}");
        assert!(
            added.segments.iter().any(|s| !s.emphasized),
            "only the changed word is emphasized: {added:?}"
        );
        let rows = hunk.side_by_side();
        assert_eq!(rows.len(), 6, "one row per line of the 6-line answers");
        let changed = rows.iter().find(|r| r.left != r.right).unwrap();
        assert_eq!(changed.left.unwrap().legacy_line, Some(3));
        assert_eq!(changed.right.unwrap().candidate_line, Some(3));
        assert_eq!(
            view.unified_text(),
            crate::compare::unified_diff(
                &crate::model::Answer::Output(
                    serde_json::json!({"accepted": ["sep"], "rejected": []})
                ),
                &crate::model::Answer::Output(
                    serde_json::json!({"accepted": ["\u{1c}sep"], "rejected": []})
                )
            ),
            "the same text as diffs.txt"
        );
    }

    #[test]
    fn equal_texts_have_no_hunks_and_huge_ones_are_cut() {
        assert!(DiffView::new("a\n", "a\n").is_empty());
        let big = "x".repeat(MAX_DIFF_BYTES + 10);
        let view = DiffView::new(&big, "y\n");
        assert!(view.truncated);
    }
}
