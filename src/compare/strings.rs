//! Differences inside strings: for every path where both outputs hold a
//! string and the strings differ, a diff of the strings' own contents.
//!
//! # Contract
//! - Input: the two answers as JSON values (as [`super::render_answer`]
//!   prints them, or as `mismatches.csv` stores them). The walk visits the
//!   keys both objects have (in key order) and the indexes both arrays have;
//!   a string leaf on both sides that differs gets a [`StringDiff`] under its
//!   JSON Pointer, in walk order. Structure (a missing key, a number against
//!   a string) is left to the structural diff of the whole document.
//! - A string with a line break on either side gets a **line** diff of its
//!   real lines (not one JSON-escaped line), each changed line diffed again
//!   by character ([`super::diffview::DiffView`]); a final line break on one
//!   side only is a note, not a changed line that prints the same. A single-line string gets
//!   **char** hunks: the common prefix and suffix are found first (linear
//!   time, whatever the length), then the changed window is diffed by
//!   character (when it is worth it: [`super::diffview::worth_char_diff`];
//!   else it is one replacement) and shown as hunks with [`CHAR_CONTEXT`] characters of
//!   context each side, headed `@@ -a,b +c,d @@` in 1-based character
//!   offsets. A string is never shown whole: long lines are windows
//!   ([`super::diffview::MAX_LINE_CHARS`]).
//! - Bounded, and it says what it cut ([`StringDiff::notes`],
//!   [`StringDiffs::omitted_fields`], [`StringDiff::omitted_hunks`]): at most
//!   [`MAX_STRING_FIELDS`] fields per record, [`MAX_STRING_HUNKS`] hunks and
//!   [`MAX_STRING_LINES`] lines per field; a changed window over
//!   [`MAX_CHANGE_BYTES`] per side is shown as one replacement, not diffed
//!   by character; all of a record's string diffs share one deadline
//!   ([`STRING_DIFF_TIME_LIMIT`], `similar`'s deadline): past it, what is
//!   left is shown as one replacement (char mode) or removed and added whole
//!   (line mode), and the note says so. A 1 MB string thus costs a linear
//!   scan plus at most the deadline, and its output stays a few KiB.
//! - [`StringDiffs::text`] is the plain text `diffs.txt` and `report show
//!   --json`'s `diff` carry; every piece of traffic in it is made inert with
//!   [`crate::util::escape::escape`], since the strings' contents are no
//!   longer JSON-escaped. The terminal and the page draw the hunks
//!   themselves (escaping there as they do for every diff).
//! - Pure; deterministic except for where a deadline cut falls.

use super::diffview::{
    common_prefix, common_suffix, push_hunks, push_line, worth_char_diff, DiffView, Hunk, LineKind,
    Segments,
};
use super::pointer::push_token;
use crate::util::escape::escape;
use crate::util::text::counted;
use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};
use std::time::{Duration, Instant};

/// String fields diffed per record at most.
pub const MAX_STRING_FIELDS: usize = 8;
/// Hunks shown per string field at most.
pub const MAX_STRING_HUNKS: usize = 12;
/// Lines shown per string field at most (across its hunks).
pub const MAX_STRING_LINES: usize = 120;
/// Characters of context each side of a change in a single-line string.
pub const CHAR_CONTEXT: usize = 40;
/// Bytes of each side's changed window diffed by character at most.
pub const MAX_CHANGE_BYTES: usize = 64 * 1024;
/// How long all of one record's string diffs may take.
pub const STRING_DIFF_TIME_LIMIT: Duration = Duration::from_millis(500);

/// How a string was diffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StringMode {
    /// A line diff of its lines (a line break on either side).
    Lines,
    /// Hunks of characters (a single-line string).
    Chars,
}

/// The diff inside one string field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StringDiff {
    /// The field's JSON Pointer.
    pub path: String,
    pub mode: StringMode,
    pub legacy_bytes: usize,
    pub candidate_bytes: usize,
    /// Line hunks (`lines`), or char hunks of one removed and one added
    /// line each (`chars`, no line numbers).
    pub hunks: Vec<Hunk>,
    /// Hunks past [`MAX_STRING_HUNKS`] or [`MAX_STRING_LINES`], not shown.
    pub omitted_hunks: usize,
    /// What was cut or shown coarser, in words (empty when nothing was).
    pub notes: Vec<String>,
}

/// The string diffs of one record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StringDiffs {
    pub fields: Vec<StringDiff>,
    /// Differing string fields past [`MAX_STRING_FIELDS`], not diffed.
    pub omitted_fields: usize,
}

/// `n` characters back from byte `i` of `s` (a byte index).
fn back(s: &str, i: usize, n: usize) -> usize {
    s[..i]
        .char_indices()
        .rev()
        .take(n)
        .last()
        .map_or(i, |(j, _)| j)
}

/// `n` characters on from byte `i` of `s` (a byte index).
fn forward(s: &str, i: usize, n: usize) -> usize {
    s[i..].char_indices().nth(n).map_or(s.len(), |(j, _)| i + j)
}

fn deadline_note(limit: Duration, what: &str) -> String {
    format!(
        "diffed past its deadline ({}): {what}",
        humantime::format_duration(limit)
    )
}

/// Char hunks of two single-line strings.
fn char_hunks(old: &str, new: &str, deadline: Instant, notes: &mut Vec<String>) -> Vec<Hunk> {
    let p = common_prefix(old, new);
    let s = common_suffix(&old[p..], &new[p..]);
    let start = back(old, p, CHAR_CONTEXT);
    let (old_end, new_end) = (
        forward(old, old.len() - s, CHAR_CONTEXT),
        forward(new, new.len() - s, CHAR_CONTEXT),
    );
    let (ow, nw) = (&old[start..old_end], &new[start..new_end]);
    let base = old[..start].chars().count();
    let (om, nm) = (old.len() - s - p, new.len() - s - p);
    let mut cut = 0;
    let coarse = om > MAX_CHANGE_BYTES
        || nm > MAX_CHANGE_BYTES
        || Instant::now() >= deadline
        || !worth_char_diff(&old[p..old.len() - s], &new[p..new.len() - s]);
    if coarse {
        if om > MAX_CHANGE_BYTES || nm > MAX_CHANGE_BYTES {
            notes.push(format!(
                "the changed part ({om} bytes in legacy, {nm} in candidate) is over {} KiB: shown as one replacement, not diffed by character",
                MAX_CHANGE_BYTES / 1024
            ));
        } else if Instant::now() >= deadline {
            notes.push(deadline_note(
                STRING_DIFF_TIME_LIMIT,
                "shown as one replacement",
            ));
        }
        let (mut o, mut n) = (Segments::default(), Segments::default());
        o.push(&old[start..p], false);
        n.push(&new[start..p], false);
        o.push(&old[p..old.len() - s], true);
        n.push(&new[p..new.len() - s], true);
        o.push(&old[old.len() - s..old_end], false);
        n.push(&new[new.len() - s..new_end], false);
        let header = format!(
            "@@ -{},{} +{},{} @@",
            base + 1,
            ow.chars().count(),
            base + 1,
            nw.chars().count()
        );
        let mut lines = Vec::new();
        push_line(&mut lines, &mut cut, LineKind::Removed, (None, None), o.0);
        push_line(&mut lines, &mut cut, LineKind::Added, (None, None), n.0);
        return vec![Hunk { header, lines }];
    }
    let diff = TextDiff::configure().deadline(deadline).diff_chars(ow, nw);
    let mut hunks = Vec::new();
    for ops in diff.grouped_ops(CHAR_CONTEXT) {
        let (Some(first), Some(last)) = (ops.first(), ops.last()) else {
            continue;
        };
        let (o_range, n_range) = (
            first.old_range().start..last.old_range().end,
            first.new_range().start..last.new_range().end,
        );
        let header = format!(
            "@@ -{},{} +{},{} @@",
            base + o_range.start + 1,
            o_range.len(),
            base + n_range.start + 1,
            n_range.len()
        );
        let (mut o, mut n) = (Segments::default(), Segments::default());
        for op in &ops {
            for change in diff.iter_changes(op) {
                match change.tag() {
                    ChangeTag::Equal => {
                        o.push(change.value(), false);
                        n.push(change.value(), false);
                    }
                    ChangeTag::Delete => o.push(change.value(), true),
                    ChangeTag::Insert => n.push(change.value(), true),
                }
            }
        }
        let mut lines = Vec::new();
        push_line(&mut lines, &mut cut, LineKind::Removed, (None, None), o.0);
        push_line(&mut lines, &mut cut, LineKind::Added, (None, None), n.0);
        hunks.push(Hunk { header, lines });
    }
    if Instant::now() >= deadline {
        notes.push(deadline_note(
            STRING_DIFF_TIME_LIMIT,
            "what was left is shown as one replacement",
        ));
    }
    if cut > 0 {
        notes.push(format!(
            "{cut} long {} shown as a window around the first change",
            if cut == 1 { "run" } else { "runs" }
        ));
    }
    hunks
}

/// Line hunks of two strings, one of which has a line break.
fn line_hunks(old: &str, new: &str, deadline: Instant, notes: &mut Vec<String>) -> Vec<Hunk> {
    let left = deadline.saturating_duration_since(Instant::now());
    // `x` and `x\n` would be two lines that print the same: the last line
    // break is compared apart and said in a note.
    fn ended(t: &str) -> std::borrow::Cow<'_, str> {
        if t.ends_with('\n') {
            std::borrow::Cow::Borrowed(t)
        } else {
            std::borrow::Cow::Owned(format!("{t}\n"))
        }
    }
    match (old.ends_with('\n'), new.ends_with('\n')) {
        (true, false) => notes.push("legacy ends with a line break, candidate does not".into()),
        (false, true) => notes.push("candidate ends with a line break, legacy does not".into()),
        _ => {}
    }
    let view = DiffView::within(&ended(old), &ended(new), left);
    if view.cut_after_ms.is_some() {
        notes.push(deadline_note(
            STRING_DIFF_TIME_LIMIT,
            "what was left is shown removed and added whole",
        ));
    }
    let view_notes = view.notes();
    notes.extend(
        view_notes
            .lines()
            .map(|l| l.trim_start_matches('(').trim_end_matches(')').to_owned()),
    );
    view.hunks
}

/// Keeps the hunks within [`MAX_STRING_HUNKS`] and [`MAX_STRING_LINES`]
/// (the first hunk always, its lines cut to fit); returns how many hunks
/// were left out.
fn cap(hunks: &mut Vec<Hunk>, notes: &mut Vec<String>) -> usize {
    let total = hunks.len();
    let mut lines = 0;
    let mut keep = 0;
    for (i, hunk) in hunks.iter_mut().enumerate() {
        if i >= MAX_STRING_HUNKS || (i > 0 && lines + hunk.lines.len() > MAX_STRING_LINES) {
            break;
        }
        if hunk.lines.len() > MAX_STRING_LINES {
            notes.push(format!(
                "a hunk of {} lines is cut to its first {MAX_STRING_LINES}",
                hunk.lines.len()
            ));
            hunk.lines.truncate(MAX_STRING_LINES);
        }
        lines += hunk.lines.len();
        keep += 1;
    }
    hunks.truncate(keep);
    total - keep
}

impl StringDiff {
    /// The diff inside two differing strings at `path`, by `deadline`.
    pub fn new(path: String, old: &str, new: &str, deadline: Instant) -> Self {
        let mode = if old.contains('\n') || new.contains('\n') {
            StringMode::Lines
        } else {
            StringMode::Chars
        };
        let mut notes = Vec::new();
        let mut hunks = match mode {
            StringMode::Lines => line_hunks(old, new, deadline, &mut notes),
            StringMode::Chars => char_hunks(old, new, deadline, &mut notes),
        };
        let omitted_hunks = cap(&mut hunks, &mut notes);
        StringDiff {
            path,
            mode,
            legacy_bytes: old.len(),
            candidate_bytes: new.len(),
            hunks,
            omitted_hunks,
            notes,
        }
    }

    /// The heading line, e.g. `string /html (lines; legacy 120 bytes,
    /// candidate 118 bytes)`; the path is escaped.
    pub fn heading(&self) -> String {
        format!(
            "string {} ({}; legacy {}, candidate {})",
            escape(&self.path),
            match self.mode {
                StringMode::Lines => "lines",
                StringMode::Chars => "characters",
            },
            counted(self.legacy_bytes as u64, "byte", "bytes"),
            counted(self.candidate_bytes as u64, "byte", "bytes")
        )
    }

    /// The notes and the omitted hunks, one `(...)` line each.
    pub fn footer(&self) -> Vec<String> {
        let mut out: Vec<String> = self.notes.iter().map(|n| format!("({n})")).collect();
        if self.omitted_hunks > 0 {
            out.push(format!(
                "({} more {} not shown)",
                self.omitted_hunks,
                if self.omitted_hunks == 1 {
                    "hunk"
                } else {
                    "hunks"
                }
            ));
        }
        out
    }
}

fn walk(
    path: &mut String,
    legacy: &Value,
    candidate: &Value,
    deadline: Instant,
    out: &mut StringDiffs,
) {
    match (legacy, candidate) {
        (Value::String(a), Value::String(b)) if a != b => {
            if out.fields.len() < MAX_STRING_FIELDS {
                out.fields
                    .push(StringDiff::new(path.clone(), a, b, deadline));
            } else {
                out.omitted_fields += 1;
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (key, x) in a {
                if let Some(y) = b.get(key) {
                    let len = path.len();
                    push_token(path, key);
                    walk(path, x, y, deadline, out);
                    path.truncate(len);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                push_token(path, &i.to_string());
                walk(path, x, y, deadline, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

impl StringDiffs {
    /// The diffs inside every string the two values differ in, within
    /// [`STRING_DIFF_TIME_LIMIT`].
    pub fn new(legacy: &Value, candidate: &Value) -> Self {
        Self::within(legacy, candidate, STRING_DIFF_TIME_LIMIT)
    }

    /// The same, within `limit`.
    pub fn within(legacy: &Value, candidate: &Value, limit: Duration) -> Self {
        let mut out = StringDiffs::default();
        walk(
            &mut String::new(),
            legacy,
            candidate,
            Instant::now() + limit,
            &mut out,
        );
        out
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The plain text of every string diff (empty when there are none):
    /// `--- string PATH (...)`, the hunks, the notes; traffic escaped.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for field in &self.fields {
            out.push_str(&format!("--- {}\n", field.heading()));
            push_hunks(&mut out, &field.hunks);
            for line in field.footer() {
                out.push_str(&line);
                out.push('\n');
            }
        }
        if let Some(note) = self.omitted_note() {
            out.push_str(&note);
            out.push('\n');
        }
        out
    }

    /// `(N more differing string fields not diffed ...)`, when some were.
    pub fn omitted_note(&self) -> Option<String> {
        (self.omitted_fields > 0).then(|| {
            format!(
                "({} not diffed: at most {MAX_STRING_FIELDS} per record)",
                counted(
                    self.omitted_fields as u64,
                    "more differing string field",
                    "more differing string fields"
                )
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn emphasized(line: &super::super::diffview::DiffLine) -> Vec<&str> {
        line.segments
            .iter()
            .filter(|s| s.emphasized)
            .map(|s| s.text.as_str())
            .collect()
    }

    #[test]
    fn the_em_tags_alone_are_highlighted_not_the_word_around_them() {
        let d = StringDiffs::new(
            &json!({"html": "<p><em>£</em>b</p>"}),
            &json!({"html": "<p>£b</p>"}),
        );
        assert_eq!(d.fields.len(), 1);
        let f = &d.fields[0];
        assert_eq!((f.path.as_str(), f.mode), ("/html", StringMode::Chars));
        let lines = &f.hunks[0].lines;
        assert_eq!(emphasized(&lines[0]), ["<em>", "</em>"]);
        assert!(emphasized(&lines[1]).is_empty(), "{:?}", lines[1]);
        assert_eq!(lines[1].text(), "<p>£b</p>");
        // The same inside a multi-line string, and in the JSON document view.
        let d = StringDiffs::new(
            &json!({"html": "<h1>t</h1>\n<p><em>£</em>b</p>\n"}),
            &json!({"html": "<h1>t</h1>\n<p>£b</p>\n"}),
        );
        let f = &d.fields[0];
        assert_eq!(f.mode, StringMode::Lines);
        let removed = f.hunks[0]
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Removed)
            .unwrap();
        assert_eq!(removed.text(), "<p><em>£</em>b</p>", "a real line");
        assert_eq!(emphasized(removed), ["<em>", "</em>"]);
        let doc = DiffView::new(
            "{\n  \"html\": \"<p><em>£</em>b</p>\"\n}\n",
            "{\n  \"html\": \"<p>£b</p>\"\n}\n",
        );
        let removed = doc.hunks[0]
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Removed)
            .unwrap();
        assert_eq!(emphasized(removed), ["<em>", "</em>"]);
    }

    #[test]
    fn a_230_kb_string_gives_a_small_hunk_around_the_change() {
        let a = "a".repeat(230 * 1024);
        let mut b = a.clone();
        b.replace_range(150_000..150_001, "Z");
        let d = StringDiffs::new(&json!({"s": a}), &json!({"s": b}));
        let text = d.text();
        assert!(text.len() < 1024, "{} bytes", text.len());
        assert!(text.contains("@@ -149961,81 +149961,81 @@"), "{text}");
        assert!(text.contains("Z"), "{text}");
        // A 1 MB string that changed everywhere: one coarse, bounded hunk.
        let (x, y) = ("x".repeat(1 << 20), "y".repeat(1 << 20));
        let started = Instant::now();
        let d = StringDiffs::new(&json!([x]), &json!([y]));
        assert!(started.elapsed() < Duration::from_secs(2));
        let text = d.text();
        assert!(text.len() < 4096, "{} bytes", text.len());
        assert!(text.contains("not diffed by character"), "{text}");
        assert!(text.contains("chars)"), "{text}");
    }

    #[test]
    fn fields_are_walked_in_order_bounded_and_traffic_is_escaped() {
        let many: serde_json::Map<String, Value> = (0..10)
            .map(|i| (format!("k{i}"), json!(format!("v{i}"))))
            .collect();
        let other: serde_json::Map<String, Value> = (0..10)
            .map(|i| (format!("k{i}"), json!(format!("w{i}\u{1b}[2J"))))
            .collect();
        let d = StringDiffs::new(&Value::Object(many), &Value::Object(other));
        assert_eq!(d.fields.len(), MAX_STRING_FIELDS);
        assert_eq!(d.omitted_fields, 2);
        assert_eq!(d.fields[0].path, "/k0");
        let text = d.text();
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("(2 more differing string fields not diffed: at most 8"));
        assert!(
            StringDiffs::new(&json!({"a": "x", "b": 1}), &json!({"a": "x", "b": "1"})).is_empty()
        );
    }
}
