//! A diff of two texts as data: hunks of lines, each line cut into segments
//! with the changed characters marked, in unified and side-by-side layouts.
//!
//! # Contract
//! - Input: the two texts [`crate::compare::render_answer`] makes (pretty JSON,
//!   keys sorted), or any two texts (a string's own contents, for
//!   [`super::strings`]). Output: a [`DiffView`] that the terminal renderer,
//!   `diffs.txt` and the HTML report all draw, so they show the same diff.
//! - Lines are diffed with `similar` (three lines of context, like
//!   `diffs.txt`), under a deadline ([`DIFF_TIME_LIMIT`]); past it, what is
//!   left is shown removed and added whole and [`DiffView::cut_at_deadline`]
//!   says so. Inside a changed block, each removed line is paired with the
//!   added line in the same place and the two are diffed again *by
//!   character* (common prefix and suffix first, then `similar`'s char diff
//!   of the middle under the same deadline), so `<p><em>£</em>b</p>` against
//!   `<p>£b</p>` marks exactly `<em>` and `</em>`, not the whole word.
//!   When two lines share less than half their characters the line is one
//!   plain segment; when their changed middles are over [`MAX_INLINE_BYTES`]
//!   or not worth a char diff ([`worth_char_diff`]), the middle is one
//!   emphasized run.
//! - Bounded: a diff of texts longer than [`MAX_DIFF_BYTES`] per side is made
//!   of their first [`MAX_DIFF_BYTES`] and says so in [`DiffView::truncated`];
//!   a line longer than [`MAX_LINE_CHARS`] characters is shown as a window of
//!   that many around its first change, the cut parts replaced by a
//!   `…(N chars)` marker ([`DiffView::cut_lines`] counts them), so a 230 KB
//!   line never prints whole.
//! - Pure, and deterministic except for where a deadline cut falls.

use super::unified::DIFF_TIME_LIMIT;
use serde::Serialize;
use similar::{ChangeTag, DiffOp, DiffTag, TextDiff};
use std::time::{Duration, Instant};

/// Lines of context around each change.
pub const CONTEXT: usize = 3;
/// Bytes of each side diffed at most.
pub const MAX_DIFF_BYTES: usize = 256 * 1024;
/// Characters of a line shown at most; a longer line is a window around its
/// first change.
pub const MAX_LINE_CHARS: usize = 500;
/// Characters shown before a long line's first change.
pub const LINE_CONTEXT_CHARS: usize = 60;
/// Bytes of each side's changed middle diffed by character at most.
pub const MAX_INLINE_BYTES: usize = 16 * 1024;

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

/// A run of text within a line; `emphasized` marks the characters that changed.
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
    /// Set (to the limit, in milliseconds) when the diff ran past its
    /// deadline: what was left is shown removed and added whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_after_ms: Option<u64>,
    /// Lines longer than [`MAX_LINE_CHARS`], shown as a window.
    #[serde(skip_serializing_if = "is_zero")]
    pub cut_lines: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Segments being built: adjacent runs of the same emphasis are merged,
/// empty runs dropped.
#[derive(Debug, Default)]
pub(crate) struct Segments(pub(crate) Vec<Segment>);

impl Segments {
    pub(crate) fn push(&mut self, text: &str, emphasized: bool) {
        let text = text.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.emphasized == emphasized => last.text.push_str(text),
            _ => self.0.push(Segment {
                text: text.to_owned(),
                emphasized,
            }),
        }
    }
}

/// The byte length of the longest common prefix of `a` and `b`, at a char
/// boundary.
pub(crate) fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
        .min(b.len())
}

/// The byte length of the longest common suffix of `a` and `b`, at a char
/// boundary.
pub(crate) fn common_suffix(a: &str, b: &str) -> usize {
    let mut n = 0;
    for (x, y) in a.chars().rev().zip(b.chars().rev()) {
        if x != y {
            break;
        }
        n += x.len_utf8();
    }
    n
}

/// Char-diff steps (characters times edits, `similar`'s Myers is
/// O((N+M)·D)) a pair of changed middles may be estimated to cost.
pub const CHAR_DIFF_BUDGET: usize = 250_000;

/// Whether two changed middles are worth a char diff: its cost, estimated
/// from the fewest edits it can find (the characters the two do not share,
/// counted as multisets), is within [`CHAR_DIFF_BUDGET`]. Otherwise they
/// are one replacement, which is then mostly what a char diff would say
/// too, at a fraction of the cost.
pub fn worth_char_diff(a: &str, b: &str) -> bool {
    let (n, m) = (a.chars().count(), b.chars().count());
    if n == 0 || m == 0 {
        return true;
    }
    let mut counts: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for c in a.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let mut common = 0;
    for c in b.chars() {
        if let Some(k) = counts.get_mut(&c) {
            if *k > 0 {
                *k -= 1;
                common += 1;
            }
        }
    }
    let edits = n + m - 2 * common;
    (n + m).saturating_mul(edits) <= CHAR_DIFF_BUDGET
}

/// A removed line and the added line that replaces it, diffed by character:
/// their segments, or `None` when they share less than half their
/// characters (the lines are then shown plain).
pub(crate) fn inline_pair(
    old: &str,
    new: &str,
    deadline: Instant,
) -> Option<(Vec<Segment>, Vec<Segment>)> {
    let p = common_prefix(old, new);
    let s = common_suffix(&old[p..], &new[p..]);
    let (om, nm) = (&old[p..old.len() - s], &new[p..new.len() - s]);
    let (mut o, mut n) = (Segments::default(), Segments::default());
    o.push(&old[..p], false);
    n.push(&new[..p], false);
    let mut same = old[..p].chars().count() + old[old.len() - s..].chars().count();
    if om.len() > MAX_INLINE_BYTES
        || nm.len() > MAX_INLINE_BYTES
        || Instant::now() >= deadline
        || !worth_char_diff(om, nm)
    {
        o.push(om, true);
        n.push(nm, true);
    } else {
        let diff = TextDiff::configure().deadline(deadline).diff_chars(om, nm);
        for change in diff.iter_all_changes() {
            match change.tag() {
                ChangeTag::Equal => {
                    o.push(change.value(), false);
                    n.push(change.value(), false);
                    same += 1;
                }
                ChangeTag::Delete => o.push(change.value(), true),
                ChangeTag::Insert => n.push(change.value(), true),
            }
        }
    }
    o.push(&old[old.len() - s..], false);
    n.push(&new[new.len() - s..], false);
    let total = old.chars().count() + new.chars().count();
    if 4 * same < total {
        return None;
    }
    Some((o.0, n.0))
}

/// One plain segment of a whole line.
fn plain(text: &str) -> Vec<Segment> {
    let mut s = Segments::default();
    s.push(text, false);
    s.0
}

/// A line's segments cut to a window of [`MAX_LINE_CHARS`] characters
/// around its first change, with `…(N chars)` markers where text was left
/// out; the flag says whether it was cut.
pub(crate) fn clip(segments: Vec<Segment>) -> (Vec<Segment>, bool) {
    let total: usize = segments.iter().map(|s| s.text.chars().count()).sum();
    if total <= MAX_LINE_CHARS {
        return (segments, false);
    }
    let mut first = 0;
    for s in &segments {
        if s.emphasized {
            break;
        }
        first += s.text.chars().count();
    }
    if first >= total {
        first = 0;
    }
    let start = first.saturating_sub(LINE_CONTEXT_CHARS);
    let end = (start + MAX_LINE_CHARS).min(total);
    let mut out = Segments::default();
    if start > 0 {
        out.push(&format!("…({start} chars)"), false);
    }
    let mut at = 0;
    for s in &segments {
        let len = s.text.chars().count();
        let (from, to) = (start.max(at), end.min(at + len));
        if from < to {
            let piece: String = s.text.chars().skip(from - at).take(to - from).collect();
            out.push(&piece, s.emphasized);
        }
        at += len;
    }
    if end < total {
        out.push(&format!("…({} chars)", total - end), false);
    }
    (out.0, true)
}

/// Adds `segments` as a line of `lines`, clipped; counts a cut in `cut`.
pub(crate) fn push_line(
    lines: &mut Vec<DiffLine>,
    cut: &mut usize,
    kind: LineKind,
    (legacy_line, candidate_line): (Option<usize>, Option<usize>),
    segments: Vec<Segment>,
) {
    let (segments, was_cut) = clip(segments);
    *cut += usize::from(was_cut);
    lines.push(DiffLine {
        kind,
        legacy_line,
        candidate_line,
        segments,
    });
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
    /// Diffs `legacy` against `candidate`, cut after [`DIFF_TIME_LIMIT`].
    pub fn new(legacy: &str, candidate: &str) -> Self {
        Self::within(legacy, candidate, DIFF_TIME_LIMIT)
    }

    /// Diffs `legacy` against `candidate`, cut after `limit`.
    pub fn within(legacy: &str, candidate: &str, limit: Duration) -> Self {
        let deadline = Instant::now() + limit;
        let (old, cut_old) = cut(legacy);
        let (new, cut_new) = cut(candidate);
        let diff = TextDiff::configure()
            .deadline(deadline)
            .diff_lines(old, new);
        let (olds, news) = (diff.old_slices(), diff.new_slices());
        let mut cut_lines = 0;
        let mut hunks = Vec::new();
        for ops in diff.grouped_ops(CONTEXT) {
            if ops.is_empty() {
                continue;
            }
            let header = similar::udiff::UnifiedHunkHeader::new(&ops).to_string();
            let mut lines = Vec::new();
            for op in &ops {
                let (tag, o, n) = op.as_tag_tuple();
                let at = |i: usize, j: usize| (Some(i + 1), Some(j + 1));
                match tag {
                    DiffTag::Equal => {
                        for (i, j) in o.clone().zip(n.clone()) {
                            push_line(
                                &mut lines,
                                &mut cut_lines,
                                LineKind::Same,
                                at(i, j),
                                plain(olds[i]),
                            );
                        }
                    }
                    _ => {
                        let pairs = o.len().min(n.len());
                        let paired: Vec<Option<(Vec<Segment>, Vec<Segment>)>> =
                            if matches!(op, DiffOp::Replace { .. }) {
                                (0..pairs)
                                    .map(|k| {
                                        let (a, b) = (olds[o.start + k], news[n.start + k]);
                                        let trim =
                                            |t: &'_ str| t.trim_end_matches(['\n', '\r']).len();
                                        inline_pair(&a[..trim(a)], &b[..trim(b)], deadline)
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            };
                        let mut added = Vec::new();
                        for (k, i) in o.clone().enumerate() {
                            let segs = match paired.get(k) {
                                Some(Some((left, right))) => {
                                    added.push(Some(right.clone()));
                                    left.clone()
                                }
                                _ => {
                                    added.push(None);
                                    plain(olds[i])
                                }
                            };
                            push_line(
                                &mut lines,
                                &mut cut_lines,
                                LineKind::Removed,
                                (Some(i + 1), None),
                                segs,
                            );
                        }
                        for (k, j) in n.clone().enumerate() {
                            let segs = match added.get(k) {
                                Some(Some(right)) => right.clone(),
                                _ => plain(news[j]),
                            };
                            push_line(
                                &mut lines,
                                &mut cut_lines,
                                LineKind::Added,
                                (None, Some(j + 1)),
                                segs,
                            );
                        }
                    }
                }
            }
            hunks.push(Hunk { header, lines });
        }
        DiffView {
            hunks,
            truncated: cut_old || cut_new,
            cut_after_ms: (Instant::now() >= deadline).then_some(limit.as_millis() as u64),
            cut_lines,
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
        if let Some(ms) = self.cut_after_ms {
            out.push_str(&format!(
                "(diff cut after {}: what was left is shown removed and added whole; the full answers are in mismatches.csv)\n",
                humantime::format_duration(Duration::from_millis(ms))
            ));
        }
        out.push_str("--- legacy\n+++ candidate\n");
        push_hunks(&mut out, &self.hunks);
        out.push_str(&self.notes());
        out
    }

    /// What was cut, one `(...)` line each (empty when nothing was).
    pub fn notes(&self) -> String {
        let mut out = String::new();
        if self.cut_lines > 0 {
            out.push_str(&format!(
                "({} longer than {MAX_LINE_CHARS} characters shown as a window around the first change)\n",
                if self.cut_lines == 1 { "1 line".to_owned() } else { format!("{} lines", self.cut_lines) }
            ));
        }
        if self.truncated {
            out.push_str("(the diff covers the first 256 KiB of each side)\n");
        }
        out
    }
}

/// Appends hunks as plain unified text: each header, then each line after
/// ` `, `-` or `+`, made inert ([`crate::util::escape::escape`]: the lines
/// of a string's own diff are traffic, not JSON-escaped).
pub(crate) fn push_hunks(out: &mut String, hunks: &[Hunk]) {
    for hunk in hunks {
        out.push_str(&hunk.header);
        out.push('\n');
        for line in &hunk.lines {
            out.push(match line.kind {
                LineKind::Same => ' ',
                LineKind::Removed => '-',
                LineKind::Added => '+',
            });
            out.push_str(&crate::util::escape::escape(&line.text()));
            out.push('\n');
        }
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
        let (l, c) = (
            crate::model::Answer::output(serde_json::json!({"accepted": ["sep"], "rejected": []})),
            crate::model::Answer::output(
                serde_json::json!({"accepted": ["\u{1c}sep"], "rejected": []}),
            ),
        );
        let whole = crate::compare::unified_diff(&l, &c);
        assert!(
            whole.starts_with(&view.unified_text()),
            "diffs.txt starts with the same text: {whole}"
        );
        assert!(
            whole.contains("--- string /accepted/0 (characters; legacy 3 bytes, candidate 4 bytes)\n@@ -1,3 +1,4 @@\n-sep\n+\\x1csep\n"),
            "then the diff inside the string, escaped: {whole}"
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
