//! JSON Pointers (RFC 6901) and the patterns rules are written in.
//!
//! # Contract
//! - [`parse_pointer`] reads a pointer *pattern*: `""` is the whole document,
//!   otherwise `/`-separated tokens where `~0` is `~`, `~1` is `/`, and a token
//!   that is exactly `*` stands for any array index or object key. Anything
//!   else (no leading `/`, a `~` not followed by `0` or `1`) is an error in
//!   words, for the caller to attach to the rule or entry it belongs to.
//! - [`push_token`] is the inverse for one token: it appends `/token`, escaped,
//!   so paths built while walking a document round-trip through
//!   [`parse_pointer`].
//! - [`Token::selects`] says whether a token matches a child, by key or by
//!   array index (a key token matches index `i` when it reads as `i`).
//! - [`present_in_value`] says whether a pattern finds a value in a
//!   `Value`; [`present_in_text`] says it of a JSON text without building
//!   the value: the answer [`present_in_value`] gives of the value the text
//!   reads as, or `None` where it will not say (an object a `*` goes
//!   through with over [`MAX_TEXT_MEMBERS`] members or with one key twice),
//!   for the caller to walk the value instead. The text must be one valid
//!   JSON value (an [`Output`](crate::model::Output)'s text is): values the
//!   walk passes over are skipped, not checked, so on text that is not
//!   JSON the answer means nothing (never a panic, though). No allocation
//!   unless a key holds an escape or a `*` meets an object; time linear in
//!   the bytes looked at for each level of the pattern.

use crate::model::valid;
use crate::util::json;
use serde_json::Value;
use std::borrow::Cow;

/// One token of a pointer pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// `*`: any array index or object key.
    Any,
    Key(String),
}

/// A child of a JSON container, as a walk meets it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Child<'a> {
    Key(&'a str),
    Index(usize),
}

impl Token {
    pub(crate) fn selects(&self, child: Child) -> bool {
        match (self, child) {
            (Token::Any, _) => true,
            (Token::Key(k), Child::Key(name)) => k == name,
            (Token::Key(k), Child::Index(i)) => k.parse() == Ok(i),
        }
    }
}

/// Whether `tokens` find a value in `v` (a key token finds an array
/// element when it reads as its index).
pub(crate) fn present_in_value(tokens: &[Token], v: &Value) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return true;
    };
    match (first, v) {
        (Token::Key(k), Value::Object(m)) => m.get(k).is_some_and(|c| present_in_value(rest, c)),
        (Token::Key(k), Value::Array(a)) => k
            .parse::<usize>()
            .ok()
            .and_then(|i| a.get(i))
            .is_some_and(|c| present_in_value(rest, c)),
        (Token::Any, Value::Object(m)) => m.values().any(|c| present_in_value(rest, c)),
        (Token::Any, Value::Array(a)) => a.iter().any(|c| present_in_value(rest, c)),
        _ => false,
    }
}

/// The most members of one object [`present_in_text`] reads under a `*`
/// (to tell a key that comes twice) before it leaves the object to the
/// value walk.
pub(crate) const MAX_TEXT_MEMBERS: usize = 64;

/// Whether `tokens` find a value in the JSON value at `at` of `bytes`, read
/// from the text (see the module contract); `None`: walk the value instead.
pub(crate) fn present_in_text(tokens: &[Token], bytes: &[u8], at: usize) -> Option<bool> {
    let Some((first, rest)) = tokens.split_first() else {
        return Some(true);
    };
    let at = valid::skip_ws(bytes, at);
    match bytes.get(at) {
        Some(b'{') => {
            // (key, where its value starts), in order; only `*` keeps them all.
            let mut members: Vec<(Cow<str>, usize)> = Vec::new();
            let mut last = None;
            let mut pos = valid::skip_ws(bytes, at + 1);
            if bytes.get(pos) != Some(&b'}') {
                loop {
                    let end = skip_valid(bytes, pos)?;
                    let key = key_text(std::str::from_utf8(&bytes[pos..end]).ok()?)?;
                    pos = valid::skip_ws(bytes, end);
                    if bytes.get(pos) != Some(&b':') {
                        return None;
                    }
                    let start = valid::skip_ws(bytes, pos + 1);
                    let end = skip_valid(bytes, start)?;
                    match first {
                        // A `Value` keeps the last of a key given twice.
                        Token::Key(k) if *key == **k => last = Some(start),
                        Token::Key(_) => {}
                        Token::Any if members.len() == MAX_TEXT_MEMBERS => return None,
                        Token::Any => members.push((key, start)),
                    }
                    pos = valid::skip_ws(bytes, end);
                    match bytes.get(pos) {
                        Some(b',') => pos = valid::skip_ws(bytes, pos + 1),
                        Some(b'}') => break,
                        _ => return None,
                    }
                }
            }
            match first {
                Token::Key(_) => {
                    last.map_or(Some(false), |start| present_in_text(rest, bytes, start))
                }
                Token::Any => {
                    // Any member will do, so their order does not matter.
                    members.sort_unstable_by(|x, y| x.0.cmp(&y.0));
                    if members.windows(2).any(|w| w[0].0 == w[1].0) {
                        return None;
                    }
                    for (_, start) in &members {
                        if present_in_text(rest, bytes, *start)? {
                            return Some(true);
                        }
                    }
                    Some(false)
                }
            }
        }
        Some(b'[') => {
            let wanted = match first {
                Token::Key(k) => match k.parse::<usize>() {
                    Ok(i) => Some(i),
                    Err(_) => return Some(false),
                },
                Token::Any => None,
            };
            let mut pos = valid::skip_ws(bytes, at + 1);
            if bytes.get(pos) == Some(&b']') {
                return Some(false);
            }
            let mut index = 0;
            loop {
                let start = valid::skip_ws(bytes, pos);
                let end = skip_valid(bytes, start)?;
                match wanted {
                    Some(i) if i == index => return present_in_text(rest, bytes, start),
                    Some(_) => {}
                    None => {
                        if present_in_text(rest, bytes, start)? {
                            return Some(true);
                        }
                    }
                }
                index += 1;
                pos = valid::skip_ws(bytes, end);
                match bytes.get(pos) {
                    Some(b',') => pos += 1,
                    Some(b']') => return Some(false),
                    _ => return None,
                }
            }
        }
        // A scalar has no children; anything else is not text a walk reads.
        Some(b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => Some(false),
        _ => None,
    }
}

/// The end of the valid JSON value at `at` (no whitespace before it),
/// found without checking it (a value cut off ends at the text's end,
/// where the caller then finds nothing to read); `None` at the end.
fn skip_valid(bytes: &[u8], at: usize) -> Option<usize> {
    Some(match *bytes.get(at)? {
        b'"' => json::string_end(bytes, at),
        b'{' | b'[' => json::container_end(bytes, at),
        _ => json::literal_end(bytes, at),
    })
}

/// An object key's text (with its quotes) as the key a `Value` holds.
fn key_text(quoted: &str) -> Option<Cow<'_, str>> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        return serde_json::from_str::<String>(quoted).ok().map(Cow::Owned);
    }
    Some(Cow::Borrowed(inner))
}

/// Parses a pointer pattern (see the module docs).
pub(crate) fn parse_pointer(path: &str) -> Result<Vec<Token>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or_else(|| {
        format!("path {path:?} is not a JSON Pointer: it must be empty or start with '/'")
    })?;
    rest.split('/')
        .map(|token| {
            if token == "*" {
                return Ok(Token::Any);
            }
            let mut out = String::new();
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, true) => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("path {path:?}: '~' must be followed by 0 or 1")),
                    },
                    (c, false) => out.push(c),
                }
            }
            Ok(Token::Key(out))
        })
        .collect()
}

/// Appends `/token` to a JSON Pointer, escaped (`~` → `~0`, `/` → `~1`).
pub(crate) fn push_token(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tokens(path: &str) -> Vec<Token> {
        parse_pointer(path).unwrap()
    }

    fn in_text(path: &str, text: &str) -> Option<bool> {
        present_in_text(&tokens(path), text.as_bytes(), 0)
    }

    #[test]
    fn a_pattern_is_found_in_text_as_in_the_value_it_reads_as() {
        let text =
            r#" { "a" : [ {"b": "x\"]}"}, 2 ], "c\u0064": {"e": null}, "n": 1.5e3, "s": "\\" } "#;
        let value: Value = serde_json::from_str(text).unwrap();
        for path in [
            "", "/a", "/a/0", "/a/0/b", "/a/1", "/a/1/x", "/a/2", "/a/+0", "/a/x", "/a/*",
            "/a/*/b", "/cd", "/cd/e", "/cd/e/f", "/*/e", "/*/*", "/n", "/n/0", "/s", "/z",
        ] {
            assert_eq!(
                in_text(path, text),
                Some(present_in_value(&tokens(path), &value)),
                "{path}"
            );
        }
    }

    /// A key given twice: a `Value` keeps the last, and so does the text walk
    /// under a key token; under `*` it leaves the answer to the value walk.
    #[test]
    fn a_key_given_twice_counts_as_its_last_and_stops_a_star() {
        assert_eq!(in_text("/a/b", r#"{"a": {"b": 1}, "a": 2}"#), Some(false));
        assert_eq!(in_text("/a/b", r#"{"a": 2, "a": {"b": 1}}"#), Some(true));
        assert_eq!(in_text("/*/b", r#"{"a": {"b": 1}, "a": 2}"#), None);
        assert_eq!(in_text("/*/b", r#"{"a": {"b": 1}, "\u0061": 2}"#), None);
        let wide = format!(
            "{{{}}}",
            (0..=MAX_TEXT_MEMBERS)
                .map(|i| format!("\"k{i}\": 1"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(in_text("/*", &wide), None);
        assert_eq!(in_text("/k64", &wide), Some(true));
    }

    #[test]
    fn cut_off_text_is_no_panic() {
        for text in [r#"{"a": [1, "#, r#"{"a"#, r#"["\"#, r#"{"a": 1"#, "[", "{"] {
            for path in ["/a", "/*", "/0", "/a/*"] {
                let _ = in_text(path, text);
            }
        }
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        crate::compare::arb::value(
            "[ab\\\\\"\u{e9}\u{1F600}\n]{0,4}",
            "[ab01\\\\\"~/]{0,2}",
            -1000..1000,
            (4, 40, 5),
        )
    }

    fn arb_tokens() -> impl Strategy<Value = Vec<Token>> {
        let token = prop_oneof![Just(Token::Any), "[ab01\\\"~/]{0,2}".prop_map(Token::Key),];
        proptest::collection::vec(token, 0..4)
    }

    proptest! {
        /// Compact or pretty, with or without `ensure_ascii`-style escapes:
        /// the text walk gives the value walk's answer, and always one.
        #[test]
        fn the_text_walk_answers_as_the_value_walk(value in arb_value(), tokens in arb_tokens()) {
            let expected = present_in_value(&tokens, &value);
            let compact = serde_json::to_string(&value).unwrap();
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            let ascii = compact.chars().map(|c| if c.is_ascii() { c.to_string() } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units).iter().map(|u| format!("\\u{u:04x}")).collect()
            }).collect::<String>();
            for text in [&compact, &pretty, &ascii] {
                prop_assert_eq!(present_in_text(&tokens, text.as_bytes(), 0), Some(expected), "{}", text);
            }
        }
    }

    #[test]
    fn patterns_round_trip_through_push_token() {
        let mut path = String::new();
        for token in ["a/b", "~x", "*", "0"] {
            push_token(&mut path, token);
        }
        assert_eq!(path, "/a~1b/~0x/*/0");
        assert_eq!(
            parse_pointer(&path).unwrap(),
            vec![
                Token::Key("a/b".into()),
                Token::Key("~x".into()),
                Token::Any,
                Token::Key("0".into())
            ]
        );
        assert!(parse_pointer("a").unwrap_err().contains("start with '/'"));
        assert!(parse_pointer("/~2")
            .unwrap_err()
            .contains("'~' must be followed"));
    }

    #[test]
    fn key_tokens_select_keys_and_indexes() {
        assert!(Token::Key("1".into()).selects(Child::Index(1)));
        assert!(Token::Key("1".into()).selects(Child::Key("1")));
        assert!(!Token::Key("01".into()).selects(Child::Key("1")));
        assert!(Token::Any.selects(Child::Index(7)));
    }
}
