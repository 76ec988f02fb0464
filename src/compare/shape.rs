//! Edit shapes: what changed inside a string, abstracted so that one cause
//! gives one description whatever the text around it.
//!
//! # Contract
//! [`edit_shapes`] is a pure, deterministic function of two strings (the
//! legacy's and the candidate's value at one path). It returns the sorted,
//! de-duplicated set of the *shapes* of the changes between them, at most
//! [`MAX_SHAPES`] (a last entry `…more` says the set was cut). Signatures
//! ask for them only at paths without an array index: an array element may
//! be another element shifted into its place, so its path alone says what
//! changed.
//!
//! 1. **Tokens.** Both strings are split into markup tags (`<...>`, no `<`
//!    inside, at most 1 KiB), entities (`&name;`, `&#123;`, `&#x1F;`), words
//!    (letters, digits and `_`, at least one not a digit), numbers (ASCII
//!    digits), control and format characters (`control`), whitespace runs (a run holding a line break is a *break*,
//!    others are *spaces*) and single punctuation characters.
//! 2. **Diff.** The token sequences are diffed with `similar` (Myers, a
//!    [`SHAPE_TIME_LIMIT`] deadline). Past the deadline `similar` gives a
//!    coarser but still correct diff, so the shapes may be coarser (one large
//!    replacement) and depend on the machine's speed; strings of more than
//!    [`MAX_SHAPE_TOKENS`] tokens are not diffed at all and get the one shape
//!    `long text changed`, so a 1 MB string never stalls a run. Two changes
//!    of markup (a tag on a side of each) at most [`MERGE_GAP`] equal units
//!    apart (a token, or a run of text whatever its length) are one change
//!    (a tag swapped around a word is one change, not four); a change is then trimmed of
//!    the tokens its sides start and end with alike, and whitespace only one
//!    side has at its start or end is split off as a change of its own (so
//!    a line break next to a change has the shape of one alone).
//! 3. **Shapes.** Each change hunk is one shape: `inserted X`, `deleted X`
//!    or `X → Y`, where X and Y are the hunk's tokens abstracted:
//!    - literal structure is kept where it carries the cause: a tag becomes
//!      its name and its attribute names (`<img alt src />`, values dropped),
//!      an entity stays itself (`&amp;`), punctuation stays itself (`"\""`),
//!      whitespace stays itself when short (`"\n"`, `"\t"`), else its kind
//!      (`breaks`; plain spaces are always `spaces`, as their number follows
//!      the text);
//!    - content is abstracted: words (and runs of words, numbers and spaces)
//!      become `text`, a number that is a whole side `digits`;
//!    - a label repeated side by side is kept once (`"~" "~"` is `"~"`);
//!    - a long side (more than [`SHORT_HUNK`] tokens) keeps only its
//!      structure: everything but tags, entities and breaks folds into
//!      `text`, and each label is kept once, in order of first appearance, so
//!      an inserted table of 2 rows and one of 9 rows have one shape.
//!
//!    A replacement that changes case alone, in text or tags, is `case
//!    changed` (no anchor). One whose two sides abstract alike is named by
//!    what changed: `digits changed` (only numbers differ), `text changed`,
//!    or `<a href> attributes changed`.
//! 4. **Anchor.** Insertions and deletions of whitespace, and of other text
//!    and text-only replacements only by a tag or entity neighbour, say where
//!    they happened by the nearest structural neighbour: `before </p>` (the
//!    next token, when it is a tag or entity), else `at end`, else `after
//!    <p>` (the previous token, when it is a tag), else `at start`, else the
//!    next token's label (`before text`). Replacements of structure and
//!    inserted or deleted tags carry their cause in themselves and get no
//!    anchor (so the block that happens to follow does not split a group).
//!
//! So "inserted `"\n"` before `</code>`", "`<p>` → `<pre>`" and "digits
//! changed after `<td>`" are three shapes, and a string with two causes has
//! (at least) two shapes. Shapes never hold words or numbers of the values.
//!
//! Non-goals: understanding a markup language (a tag is a token, not a tree),
//! telling apart two causes that make the same edit at the same anchor.

use similar::{capture_diff_slices_deadline, Algorithm, DiffOp};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Shapes kept per string; past it the set ends with [`MORE`].
pub const MAX_SHAPES: usize = 8;
/// How long the token diff of one string may take.
pub const SHAPE_TIME_LIMIT: Duration = Duration::from_millis(100);
/// Tokens per string past which it is not diffed (`long text changed`).
pub const MAX_SHAPE_TOKENS: usize = 100_000;
/// Tokens a hunk side may have and still be shown token by token.
pub const SHORT_HUNK: usize = 6;
/// Equal units (tokens, a run of text counting one) between two changes of
/// markup that still make them one change.
pub const MERGE_GAP: usize = 2;
/// The last shape of a set that was cut at [`MAX_SHAPES`].
pub const MORE: &str = "…more";
/// Characters one shape may have (longer ones are cut, ending in `…`).
const MAX_SHAPE_CHARS: usize = 160;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    Tag,
    Entity,
    Word,
    Digits,
    Spaces,
    Break,
    Control,
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Token<'a> {
    text: &'a str,
    class: Class,
}

impl Token<'_> {
    fn structural(self) -> bool {
        matches!(self.class, Class::Tag | Class::Entity)
    }

    fn is_text(self) -> bool {
        matches!(self.class, Class::Word | Class::Digits | Class::Spaces)
    }
}

/// Splits `s` into tokens (see the module docs); the tokens concatenate to `s`.
fn tokenize(s: &str) -> Vec<Token<'_>> {
    let bytes = s.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i..].chars().next().expect("i is on a char boundary");
        let (len, class) = if c == '<' {
            match tag_len(&bytes[i..]) {
                Some(n) => (n, Class::Tag),
                None => (1, Class::Punct),
            }
        } else if c == '&' {
            match entity_len(&bytes[i..]) {
                Some(n) => (n, Class::Entity),
                None => (1, Class::Punct),
            }
        } else if c.is_whitespace() {
            let n = run_len(&s[i..], char::is_whitespace);
            let class = match s[i..i + n].contains(['\n', '\r']) {
                true => Class::Break,
                false => Class::Spaces,
            };
            (n, class)
        } else if invisible(c) {
            (c.len_utf8(), Class::Control)
        } else if c.is_alphanumeric() || c == '_' {
            let n = run_len(&s[i..], |c| c.is_alphanumeric() || c == '_');
            let class = match s[i..i + n].bytes().all(|b| b.is_ascii_digit()) {
                true => Class::Digits,
                false => Class::Word,
            };
            (n, class)
        } else {
            (c.len_utf8(), Class::Punct)
        };
        tokens.push(Token {
            text: &s[i..i + len],
            class,
        });
        i += len;
    }
    tokens
}

/// Control and format characters: invisible, told apart by no reader.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

fn run_len(s: &str, keep: impl Fn(char) -> bool) -> usize {
    s.char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(s.len(), |(i, _)| i)
}

/// `<` then a letter, `/`, `!` or `?`, up to the first `>` (no `<` before it).
fn tag_len(b: &[u8]) -> Option<usize> {
    let next = *b.get(1)?;
    if !(next.is_ascii_alphabetic() || matches!(next, b'/' | b'!' | b'?')) {
        return None;
    }
    let end = b
        .iter()
        .take(1024)
        .skip(1)
        .position(|&c| c == b'>' || c == b'<')?
        + 1;
    (b[end] == b'>').then_some(end + 1)
}

/// `&name;`, `&#123;` or `&#x1F;`.
fn entity_len(b: &[u8]) -> Option<usize> {
    let body = |from: usize, ok: fn(u8) -> bool, max: usize| {
        let n = b[from..]
            .iter()
            .take(max + 1)
            .take_while(|&&c| ok(c))
            .count();
        (n > 0 && n <= max && b.get(from + n) == Some(&b';')).then_some(from + n + 1)
    };
    match (b.get(1), b.get(2)) {
        (Some(b'#'), Some(b'x' | b'X')) => body(3, |c| c.is_ascii_hexdigit(), 8),
        (Some(b'#'), _) => body(2, |c| c.is_ascii_digit(), 8),
        (Some(c), _) if c.is_ascii_alphabetic() => body(1, |c| c.is_ascii_alphanumeric(), 32),
        _ => None,
    }
}

/// A tag as its name and attribute names: `<a href="x" id=y>` → `<a href id>`.
fn tag_label(tag: &str) -> String {
    let inner = &tag[1..tag.len() - 1];
    if inner.starts_with("!--") {
        return "<!--…-->".to_owned();
    }
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => ("/", rest),
        None => ("", inner),
    };
    let self_closing = inner.trim_end().ends_with('/');
    let name_len = run_len(inner, |c| !(c.is_whitespace() || c == '/'));
    let mut label = format!("<{closing}{}", &inner[..name_len]);
    let mut rest = &inner[name_len..];
    // Attribute names: skip quoted values and `=value`s.
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            break;
        }
        let n = run_len(rest, |c| !(c.is_whitespace() || c == '=' || c == '/'));
        let n = n.max(rest.chars().next().map_or(1, char::len_utf8));
        label.push(' ');
        label.push_str(&rest[..n]);
        rest = rest[n..].trim_start();
        if let Some(value) = rest.strip_prefix('=') {
            let value = value.trim_start();
            rest = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].find(q).map_or("", |e| &value[e + 2..]),
                _ => &value[run_len(value, |c| !c.is_whitespace())..],
            };
        }
    }
    if self_closing {
        label.push_str(" /");
    }
    label.push('>');
    label
}

/// The label of one token in a shape.
fn label(t: Token<'_>) -> String {
    match t.class {
        Class::Tag => tag_label(t.text),
        Class::Entity => t.text.to_owned(),
        Class::Word => "text".to_owned(),
        Class::Digits => "digits".to_owned(),
        Class::Control => "control".to_owned(),
        // Runs of plain spaces vary with the text (alignment, tab stops).
        Class::Spaces if t.text.bytes().all(|b| b == b' ') => "spaces".to_owned(),
        Class::Spaces | Class::Break if t.text.chars().count() > 4 => match t.class {
            Class::Break => "breaks".to_owned(),
            _ => "spaces".to_owned(),
        },
        Class::Spaces | Class::Break | Class::Punct => quoted(t.text),
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

/// One hunk side as labels: runs of words, numbers and spaces become one
/// `text` (a number alone stays `digits`); a long side keeps its structure only.
fn side(tokens: &[Token<'_>]) -> Vec<String> {
    let long = tokens.len() > SHORT_HUNK;
    let mut labels: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        let folds = |t: Token<'_>| match long {
            true => !(t.structural() || t.class == Class::Break),
            false => t.is_text(),
        };
        if folds(t) {
            let n = tokens[i..].iter().take_while(|&&t| folds(t)).count();
            // A number is `digits` only as a whole side ("digits changed").
            let lone = !long
                && n == 1
                && match t.class {
                    Class::Digits => tokens.len() == 1,
                    class => matches!(class, Class::Spaces | Class::Punct | Class::Control),
                };
            labels.push(match lone {
                true => label(t),
                false => "text".to_owned(),
            });
            i += n;
        } else {
            labels.push(label(t));
            i += 1;
        }
    }
    if long {
        let mut seen = BTreeSet::new();
        labels.retain(|l| seen.insert(l.clone()));
    }
    // A label repeated side by side is one: how many times follows the
    // input, not the cause.
    labels.dedup();
    labels
}

fn joined(labels: &[String]) -> String {
    labels.join(" ")
}

/// Where a hunk at `old[start..end]` is, by its nearest structural neighbour.
fn anchor(old: &[Token<'_>], start: usize, end: usize) -> String {
    match (old.get(end), start.checked_sub(1).map(|i| old[i])) {
        (Some(next), _) if next.structural() => format!("before {}", label(*next)),
        (None, _) => "at end".to_owned(),
        (_, Some(prev)) if prev.class == Class::Tag => format!("after {}", label(prev)),
        (_, None) => "at start".to_owned(),
        (Some(next), _) if next.is_text() && next.class != Class::Spaces => {
            "before text".to_owned()
        }
        (Some(next), _) => format!("before {}", label(*next)),
    }
}

/// Whether an anchor names a tag or entity.
fn structural_anchor(at: &str) -> bool {
    at.starts_with("before <") || at.starts_with("before &") || at.starts_with("after <")
}

fn bounded(mut shape: String) -> String {
    if shape.chars().count() > MAX_SHAPE_CHARS {
        let cut = shape
            .char_indices()
            .nth(MAX_SHAPE_CHARS - 1)
            .map_or(shape.len(), |(i, _)| i);
        shape.truncate(cut);
        shape.push('…');
    }
    shape
}

/// The shape of one hunk: `old[o]` replaced by `new[n]`.
fn hunk_shape(
    old: &[Token<'_>],
    new: &[Token<'_>],
    o: (usize, usize),
    n: (usize, usize),
) -> String {
    let (a, b) = (&old[o.0..o.1], &new[n.0..n.1]);
    let at = || anchor(old, o.0, o.1);
    // Inserted or deleted markup carries its cause; anything else says where.
    // Whitespace says where it went wherever that is; other text only by a
    // structural neighbour (where a character lands in plain text follows
    // the values).
    let placed = |side: String, tokens: &[Token<'_>]| {
        let ws = tokens
            .iter()
            .all(|t| matches!(t.class, Class::Spaces | Class::Break));
        match (tokens.iter().any(|t| t.class == Class::Tag), ws, at()) {
            (true, _, _) => side,
            (false, true, at) => format!("{side} {at}"),
            (false, false, at) if structural_anchor(&at) => format!("{side} {at}"),
            _ => side,
        }
    };
    let shape = match (a.is_empty(), b.is_empty()) {
        (true, _) => placed(format!("inserted {}", joined(&side(b))), b),
        (_, true) => placed(format!("deleted {}", joined(&side(a))), a),
        _ => {
            let (sa, sb) = (side(a), side(b));
            let text = |ts: &[Token<'_>]| ts.iter().map(|t| t.text).collect::<String>();
            if text(a).to_lowercase() == text(b).to_lowercase() {
                // Case alone is the cause, in text or in tags, wherever it is.
                "case changed".to_owned()
            } else if sa != sb {
                format!("{} → {}", joined(&sa), joined(&sb))
            } else if a.len() == 1 && a[0].class == Class::Tag {
                format!("{} attributes changed", sa[0])
            } else {
                let digits_only = a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| {
                        x == y || (x.class == Class::Digits && y.class == Class::Digits)
                    });
                let what = match digits_only {
                    true => "digits",
                    false => "text",
                };
                // Only a structural neighbour: where in plain text a change
                // falls follows the values (which digits of a time changed).
                match anchor(old, o.0, o.1) {
                    at if structural_anchor(&at) => format!("{what} changed {at}"),
                    _ => format!("{what} changed"),
                }
            }
        }
    };
    bounded(shape)
}

/// Old and new token ranges of one change.
type Hunk = ((usize, usize), (usize, usize));

/// The changes of a diff; two changes of markup (each has a tag on a side)
/// at most [`MERGE_GAP`] equal units apart are taken as one, a unit being a
/// token or a run of text (a tag swapped around a word is one change, not
/// four, whatever the word).
fn merged(ops: &[DiffOp], a: &[Token<'_>], b: &[Token<'_>]) -> Vec<Hunk> {
    let tagged = |h: &Hunk| {
        a[h.0 .0..h.0 .1]
            .iter()
            .chain(&b[h.1 .0..h.1 .1])
            .any(|t| t.class == Class::Tag)
    };
    let units = |from: usize, to: usize| {
        let between = &a[from..to];
        between
            .iter()
            .enumerate()
            .filter(|(i, t)| !(t.is_text() && *i > 0 && between[i - 1].is_text()))
            .count()
    };
    let mut hunks: Vec<Hunk> = Vec::new();
    for op in ops {
        if let DiffOp::Equal { .. } = op {
            continue;
        }
        let (o, n) = (op.old_range(), op.new_range());
        let hunk = ((o.start, o.end), (n.start, n.end));
        match hunks.last_mut() {
            Some(last)
                if tagged(last) && tagged(&hunk) && units(last.0 .1, o.start) <= MERGE_GAP =>
            {
                last.0 .1 = o.end;
                last.1 .1 = n.end;
            }
            _ => hunks.push(hunk),
        }
    }
    hunks
}

/// A change without the tokens its two sides start or end with alike (a
/// merged change holds the equal tokens between its parts).
fn trimmed(a: &[Token<'_>], b: &[Token<'_>], hunk: Hunk) -> Hunk {
    let ((mut o0, mut o1), (mut n0, mut n1)) = hunk;
    while o0 < o1 && n0 < n1 && a[o0] == b[n0] {
        o0 += 1;
        n0 += 1;
    }
    while o0 < o1 && n0 < n1 && a[o1 - 1] == b[n1 - 1] {
        o1 -= 1;
        n1 -= 1;
    }
    ((o0, o1), (n0, n1))
}

/// A change split into the whitespace only one side has at its start or
/// end (an inserted or deleted line break of its own) and the rest, so
/// that a line break next to a change is the same shape as one alone.
fn split_edges(a: &[Token<'_>], b: &[Token<'_>], hunk: Hunk) -> Vec<Hunk> {
    let ((mut o0, mut o1), (mut n0, mut n1)) = hunk;
    let ws = |t: &Token<'_>| matches!(t.class, Class::Spaces | Class::Break);
    let mut parts = Vec::new();
    // Markup inserted or deleted whole: the whitespace around it is its
    // layout, part of the same change, except at the string's very start or
    // end, where it stays a change of its own (the final newline of one side).
    let (side, from, to) = match (o0 == o1, n0 == n1) {
        (true, false) => (b, n0, n1),
        (false, true) => (a, o0, o1),
        _ => (a, 0, 0),
    };
    if to > from && side[from..to].iter().any(|t| t.class == Class::Tag) {
        let lead = side[from..to].iter().take_while(|t| ws(t)).count();
        let trail = side[from + lead..to]
            .iter()
            .rev()
            .take_while(|t| ws(t))
            .count();
        let at_edge = o0 == 0 || o1 == a.len();
        let (core_from, core_to) = (from + lead, to - trail);
        let mut edge = |f: usize, t: usize| {
            if at_edge && t > f {
                parts.push(match o0 == o1 {
                    true => ((o0, o0), (f, t)),
                    false => ((f, t), (n0, n0)),
                });
            }
        };
        edge(from, core_from);
        edge(core_to, to);
        parts.push(match o0 == o1 {
            true => ((o0, o0), (core_from, core_to)),
            false => ((core_from, core_to), (n0, n0)),
        });
        return parts;
    }
    // Leading.
    let lead = |from: &[Token<'_>], other: &[Token<'_>]| match other.first().is_some_and(ws) {
        true => 0,
        false => from.iter().take_while(|t| ws(t)).count(),
    };
    let (la, lb) = (lead(&a[o0..o1], &b[n0..n1]), lead(&b[n0..n1], &a[o0..o1]));
    if la > 0 && la < o1 - o0 {
        parts.push(((o0, o0 + la), (n0, n0)));
        o0 += la;
    } else if lb > 0 && lb < n1 - n0 {
        parts.push(((o0, o0), (n0, n0 + lb)));
        n0 += lb;
    }
    // Trailing.
    let trail = |from: &[Token<'_>], other: &[Token<'_>]| match other.last().is_some_and(ws) {
        true => 0,
        false => from.iter().rev().take_while(|t| ws(t)).count(),
    };
    let (ta, tb) = (trail(&a[o0..o1], &b[n0..n1]), trail(&b[n0..n1], &a[o0..o1]));
    if ta > 0 && ta < o1 - o0 {
        parts.push(((o1 - ta, o1), (n1, n1)));
        o1 -= ta;
    } else if tb > 0 && tb < n1 - n0 {
        parts.push(((o1, o1), (n1 - tb, n1)));
        n1 -= tb;
    }
    parts.push(((o0, o1), (n0, n1)));
    parts
}

/// The edit shapes that turn `old` into `new` (see the module docs); empty
/// when they are equal.
pub fn edit_shapes(old: &str, new: &str) -> Vec<String> {
    if old == new {
        return Vec::new();
    }
    let (a, b) = (tokenize(old), tokenize(new));
    if a.len().max(b.len()) > MAX_SHAPE_TOKENS {
        return vec!["long text changed".to_owned()];
    }
    let deadline = Instant::now() + SHAPE_TIME_LIMIT;
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &a, &b, Some(deadline));
    let mut shapes = BTreeSet::new();
    for hunk in merged(&ops, &a, &b) {
        for part in split_edges(&a, &b, trimmed(&a, &b, hunk)) {
            let (o, n) = trimmed(&a, &b, part);
            if a[o.0..o.1] != b[n.0..n.1] {
                shapes.insert(hunk_shape(&a, &b, o, n));
            }
        }
    }
    let mut shapes: Vec<String> = shapes.into_iter().collect();
    if shapes.len() > MAX_SHAPES {
        shapes.truncate(MAX_SHAPES - 1);
        shapes.push(MORE.to_owned());
    }
    shapes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(a: &str, b: &str) -> Vec<String> {
        edit_shapes(a, b)
    }

    #[test]
    fn tokens_concatenate_to_the_string_and_know_markup() {
        let s = "<p class=\"x\">£5 &amp; &#39;ok&#x27;</p>\n\t<br/> a<b";
        let t = tokenize(s);
        assert_eq!(t.iter().map(|t| t.text).collect::<String>(), s);
        let classes: Vec<Class> = t.iter().map(|t| t.class).collect();
        assert_eq!(
            &classes[..6],
            [
                Class::Tag,
                Class::Punct,
                Class::Digits,
                Class::Spaces,
                Class::Entity,
                Class::Spaces
            ]
        );
        assert_eq!(tag_label("<p class=\"x\">"), "<p class>");
        assert_eq!(tag_label("<img alt=\"a b\" src='c' />"), "<img alt src />");
        assert_eq!(tag_label("</blockquote>"), "</blockquote>");
        assert!(t.iter().any(|t| t.text == "<" && t.class == Class::Punct));
    }

    #[test]
    fn each_kind_of_shape_is_named_without_the_values() {
        assert_eq!(
            shapes("<p>a</p>", "<p>a</p>\n"),
            ["inserted \"\\n\" at end"]
        );
        assert_eq!(
            shapes(
                "<blockquote><p>Hi there</p></blockquote>",
                "<blockquote><p>Hi there</p>\n</blockquote>"
            ),
            ["inserted \"\\n\" before </blockquote>"]
        );
        assert_eq!(
            shapes("<p>x</p>", "<pre>x</pre>"),
            ["<p> text </p> → <pre> text </pre>"]
        );
        assert_eq!(
            shapes("<td>12</td>", "<td>13</td>"),
            ["digits changed before </td>"]
        );
        assert_eq!(shapes("<h1>Hello</h1>", "<h1>hello</h1>"), ["case changed"]);
        assert_eq!(shapes("a &copy; b", "a © b"), ["&copy; → \"©\""]);
        assert_eq!(
            shapes("say \"hi\"", "say &quot;hi&quot;"),
            ["\"\\\"\" → &quot;"]
        );
        assert_eq!(shapes("tab\there", "tab here"), ["\"\\t\" → spaces"]);
        assert_eq!(shapes("a b", "a\u{1e}\u{1e} b"), ["inserted control"]);
        assert_eq!(
            shapes("<img alt=\"a\" src=\"b\" />", "<img src=\"b\" alt=\"a\" />"),
            ["<img alt src /> → <img src alt />"]
        );
        assert_eq!(
            shapes("<a href=\"x\">", "<a href=\"y\">"),
            ["<a href> attributes changed"]
        );
    }

    #[test]
    fn one_cause_gives_one_shape_whatever_the_text() {
        let one = shapes("<p>The cat sat</p>", "<p>The cat sat</p>\n");
        let two = shapes(
            "<p>Another sentence, longer, 42.</p>",
            "<p>Another sentence, longer, 42.</p>\n",
        );
        assert_eq!(one, two);
        let table = |rows: usize| {
            let body: String = (0..rows)
                .map(|i| format!("<tr><td>{i}</td><td>x y</td></tr>\n"))
                .collect();
            shapes("<p>a</p>", &format!("<p>a</p><table>\n{body}</table>"))
        };
        assert_eq!(table(2), table(9));
    }

    #[test]
    fn two_causes_in_one_string_give_two_shapes() {
        let s = shapes("<p>x</p><p>&copy; 1</p>", "<p>x</p>\n<p>© 1</p>");
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s, ["&copy; → \"©\"", "inserted \"\\n\" before <p>"]);
    }

    #[test]
    fn sets_are_bounded_and_a_huge_string_is_not_diffed() {
        let a: String = (0..40).map(|i| format!("<t{i}>")).collect();
        let b: String = (0..40)
            .map(|i| format!("<u{i}>"))
            .collect::<Vec<_>>()
            .join("x x x x x x x x");
        let s = shapes(&a, &b);
        assert!(s.len() <= MAX_SHAPES, "{s:?}");
        let huge_a = "a ".repeat(MAX_SHAPE_TOKENS);
        let huge_b = format!("{huge_a}b");
        let started = Instant::now();
        assert_eq!(shapes(&huge_a, &huge_b), ["long text changed"]);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
