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
