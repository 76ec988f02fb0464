//! What rules say about two differing values at one path: the leaf
//! semantics of `ignore`, `tolerance`, `scrub`, `text` and
//! `case_insensitive`.
//!
//! # Contract
//! [`covering`] is given the rules in play at a node where two values of
//! the same JSON type differ (in declaration order, each with whether its
//! pattern matches exactly here or at an ancestor) and returns the first
//! rule that covers the difference, if any:
//! - `ignore` covers it when its pattern matches here or above;
//! - `tolerance` when its pattern matches here and the two numbers are
//!   within `absolute`, or within `relative` of the larger magnitude;
//! - string rules compose on one pair: every `scrub` and `text` rule in
//!   play (here or above) rewrites both strings, in declaration order, and
//!   covers the difference when they are then equal; a `case_insensitive` rule whose
//!   pattern matches here compares what every scrub in play leaves, ignoring
//!   case ([`lowercase_eq`], Unicode lower-casing, allocation-free in the
//!   common cases), and is credited when that makes them equal;
//! - `unordered` never covers a leaf (it orders arrays: see [`super::walk`]).
//!
//! Pure: same values and rules, same answer.

use super::rules::Action;
use serde_json::Value;
use std::borrow::Cow;

/// One rule in play at a leaf.
#[derive(Debug, Clone, Copy)]
pub(super) struct InPlay<'r> {
    /// The rule's index in declaration order.
    pub rule: usize,
    pub action: &'r Action,
    /// Its whole pattern matches exactly at this node.
    pub here: bool,
    /// Its pattern matched an ancestor and the rule reaches below it.
    pub below: bool,
}

/// The first rule that covers the difference between `a` and `b` (two
/// values of the same type), per the module contract.
pub(super) fn covering(in_play: &[InPlay<'_>], a: &Value, b: &Value) -> Option<usize> {
    let mut strings = match (a, b) {
        (Value::String(x), Value::String(y)) => {
            Some((Cow::Borrowed(x.as_str()), Cow::Borrowed(y.as_str())))
        }
        _ => None,
    };
    let mut case_rule = None;
    for (n, p) in in_play.iter().enumerate() {
        let covered = match p.action {
            Action::Ignore => p.here || p.below,
            Action::Tolerance { absolute, relative } => {
                p.here && within(a, b, *absolute, *relative)
            }
            Action::Scrub(re) if p.here || p.below => match &mut strings {
                Some((x, y)) => {
                    for s in [&mut *x, &mut *y] {
                        if let Cow::Owned(scrubbed) = re.replace_all(s, "<scrubbed>") {
                            *s = Cow::Owned(scrubbed);
                        }
                    }
                    x == y
                }
                None => false,
            },
            Action::Text(norm) if p.here || p.below => match &mut strings {
                Some((x, y)) => {
                    for s in [&mut *x, &mut *y] {
                        if let Cow::Owned(normalised) = norm.apply(s) {
                            *s = Cow::Owned(normalised);
                        }
                    }
                    x == y
                }
                None => false,
            },
            Action::CaseInsensitive if p.here && strings.is_some() => {
                case_rule = case_rule.or(Some(p.rule));
                // Decide now unless a scrub in play comes later. (The
                // lower-cased text is never needed by a later rule, so it
                // is compared, not built.)
                !scrub_later(&in_play[n + 1..]) && strings_lowercase_eq(&strings)
            }
            Action::Scrub(_)
            | Action::Text(_)
            | Action::CaseInsensitive
            | Action::Unordered { .. } => false,
        };
        if covered {
            return Some(p.rule);
        }
    }
    case_rule.filter(|_| strings_lowercase_eq(&strings))
}

/// Whether a rewriting rule (`scrub`, `text`) in `rest` acts at this node.
fn scrub_later(rest: &[InPlay<'_>]) -> bool {
    rest.iter()
        .any(|p| matches!(p.action, Action::Scrub(_) | Action::Text(_)) && (p.below || p.here))
}

fn strings_lowercase_eq(strings: &Option<(Cow<str>, Cow<str>)>) -> bool {
    strings.as_ref().is_some_and(|(x, y)| lowercase_eq(x, y))
}

/// Two numbers within `absolute` or within `relative` of the larger magnitude.
pub(super) fn within(a: &Value, b: &Value, absolute: f64, relative: f64) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => {
            let gap = (x - y).abs();
            gap <= absolute || gap <= relative * x.abs().max(y.abs())
        }
        _ => false,
    }
}

/// `x.to_lowercase() == y.to_lowercase()`, without allocating in the common
/// cases. Characters lower-case one by one except the Greek capital sigma,
/// whose small form depends on its neighbours; with that choice folded away
/// (`ς` → `σ`) the comparison is char by char, so a common prefix and suffix
/// can be skipped, ASCII compares in place, and unequal strings are rejected
/// at their first difference. Only strings that pass are lower-cased whole,
/// to confirm.
pub(super) fn lowercase_eq(x: &str, y: &str) -> bool {
    fn fold(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars()
            .flat_map(char::to_lowercase)
            .map(|c| if c == 'ς' { 'σ' } else { c })
    }
    let (mut u, mut v) = (x.as_bytes(), y.as_bytes());
    let prefix = common_prefix(u, v);
    // Back to the start of the character the prefix ends in (the same
    // offset is a boundary in both, as the bytes before it are equal).
    let prefix = (0..=prefix)
        .rev()
        .find(|&i| x.is_char_boundary(i))
        .unwrap_or(0);
    (u, v) = (&u[prefix..], &v[prefix..]);
    let suffix = common_suffix(u, v);
    // Forward to a character start inside the common suffix.
    let keep = |s: &[u8]| {
        (s.len() - suffix..=s.len())
            .find(|&i| i == s.len() || (s[i] as i8) >= -0x40)
            .unwrap_or(s.len())
    };
    let (ku, kv) = (keep(u), keep(v));
    let (a, b) = (&x[prefix..prefix + ku], &y[prefix..prefix + kv]);
    let folded_equal = if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold(a).eq(fold(b))
    };
    folded_equal && x.to_lowercase() == y.to_lowercase()
}

/// How many leading bytes `a` and `b` share (16 at a time, then byte by byte).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 16 <= n && a[i..i + 16] == b[i..i + 16] {
        i += 16;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// How many trailing bytes `a` and `b` share.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + 16 <= n && a[n - i - 16..n - i] == b[n - i - 16..n - i] {
        i += 16;
    }
    while i < n && a[n - i - 1] == b[n - i - 1] {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ends_are_counted_exactly() {
        let long = "x".repeat(40);
        for (a, b, p, s) in [
            ("", "", 0, 0),
            ("abc", "abd", 2, 0),
            ("abc", "zbc", 0, 2),
            (
                &*format!("{long}1{long}"),
                &*format!("{long}2{long}"),
                40,
                40,
            ),
            (&*long, &*format!("{long}y"), 40, 0),
        ] {
            assert_eq!(common_prefix(a.as_bytes(), b.as_bytes()), p, "{a} {b}");
            assert_eq!(common_suffix(a.as_bytes(), b.as_bytes()), s, "{a} {b}");
        }
    }

    #[test]
    fn agrees_with_lowercasing_whole_strings() {
        let words = [
            "",
            "a",
            "A",
            "abc",
            "ABC",
            "aBc",
            "abd",
            "é",
            "É",
            "éa",
            "Éa",
            "ΟΔΟΣ",
            "οδος",
            "οδoς",
            "ὈΔΥΣΣΕΎΣ",
            "ὀδυσσεύς",
            "İ",
            "i̇",
            "i",
            "ß",
            "SS",
            "ǅ",
            "ǆ",
            "\u{1e}é",
            "é\u{1e}",
            "xΣ",
            "xσ",
            "xς",
            "Σx",
            "σx",
            "a\u{2028}B",
            "A\u{2028}b",
        ];
        for x in words {
            for y in words {
                assert_eq!(
                    lowercase_eq(x, y),
                    x.to_lowercase() == y.to_lowercase(),
                    "{x:?} vs {y:?}"
                );
            }
        }
    }
}
