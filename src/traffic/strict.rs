//! Strict JSON: what a capture line must also be, beyond valid JSON syntax.
//!
//! # Contract
//! [`check`] takes a line that serde_json has already accepted as JSON and
//! rejects, with a reason in words, what the two sides could not both
//! represent:
//! - a lone UTF-16 surrogate escape (`"\ud800"` without its `\udc00`-`\udfff`
//!   partner, or a low one alone): Python's `json.loads` accepts it and the
//!   legacy echoes it back, but Rust strings (the port, and cutover reading
//!   the answer) cannot hold it;
//! - arrays and objects nested deeper than [`MAX_DEPTH`] levels, the line's
//!   own object being level 1: serde_json (the port, and cutover reading any
//!   answer) refuses documents that deep.
//!
//! It looks only at the `\ud` and `\uD` of a line (found 16 bytes at a
//! time, [`crate::model::scan`]),
//! and walks a line to measure its depth only when it has
//! more than [`MAX_DEPTH`] brackets: most lines cost one such scan and a
//! count of brackets.
//! Non-goal: syntax errors (serde_json reports those first).

/// Deepest nesting of arrays and objects accepted, counting the line's object.
pub const MAX_DEPTH: usize = 128;

/// Checks an already-parsed JSON line (see the module contract).
pub fn check(json: &[u8]) -> Result<(), String> {
    let brackets = memchr::memchr2_iter(b'[', b'{', json).count();
    if brackets > MAX_DEPTH {
        check_depth(json)?;
    }
    // A surrogate escape starts `\ud` or `\uD`: most lines have none.
    check_surrogates(json)
}

/// Nesting depth, brackets inside strings not counted.
fn check_depth(json: &[u8]) -> Result<(), String> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (at, &b) in json.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "nesting deeper than {MAX_DEPTH}: arrays and objects are nested more than {MAX_DEPTH} levels deep at column {} (the line's own object is level 1); neither side could read it",
                        at + 1
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Every surrogate escape must be half of a pair
/// ([`crate::model::lone_surrogate`], shared with the check of outputs
/// given as text).
fn check_surrogates(json: &[u8]) -> Result<(), String> {
    match crate::model::lone_surrogate(json) {
        None => Ok(()),
        Some(at) => Err(format!(
            "lone surrogate {} at column {} (a UTF-16 surrogate escape without its other half is not a character); neither side could read it",
            String::from_utf8_lossy(&json[at..(at + 6).min(json.len())]),
            at + 1
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code unit of the `\uXXXX` escape at `at`, if a surrogate:
    /// `Some(true)` for a high one.
    fn surrogate_at(json: &[u8], at: usize) -> Option<bool> {
        match json.get(at + 1..at + 4)? {
            [b'u', b'd' | b'D', b'8' | b'9' | b'a' | b'b' | b'A' | b'B'] => Some(true),
            [b'u', b'd' | b'D', b'c'..=b'f' | b'C'..=b'F'] => Some(false),
            _ => None,
        }
    }

    /// The earlier check, every backslash visited: the reference.
    fn every_backslash(json: &[u8]) -> Result<(), usize> {
        let mut resume = 0;
        for at in memchr::memchr_iter(b'\\', json) {
            if at < resume {
                continue;
            }
            resume = match surrogate_at(json, at) {
                Some(true) if surrogate_at(json, at + 6) == Some(false) => at + 12,
                Some(_) => return Err(at),
                None => at + 2,
            };
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn surrogates_are_judged_as_visiting_every_backslash_judges_them(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "ud800", "\\ud83d", "\\ude00", "\\uD800", "\\uDC00", "\\udbff", "\\u0041",
                "\\ud7ff", "\\\\", "a", "d", "u", "\\\"",
            ]), 0..12),
        ) {
            let line = format!("{{\"input\":\"{}\"}}", parts.concat());
            let bytes = line.as_bytes();
            let got = check_surrogates(bytes).map_err(|e| e.split(" at column ").nth(1).map(str::to_owned));
            let want = every_backslash(bytes).map_err(|at| {
                Some(format!("{} (a UTF-16 surrogate escape without its other half is not a character); neither side could read it", at + 1))
            });
            proptest::prop_assert_eq!(got, want, "{}", line);
        }
    }

    fn nest(levels: usize) -> String {
        // The line's object is level 1, `input` holds the rest.
        format!(
            "{{\"input\":{}1{}}}",
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    }

    #[test]
    fn nesting_is_counted_from_the_lines_object_and_not_inside_strings() {
        assert!(check(nest(MAX_DEPTH).as_bytes()).is_ok());
        let e = check(nest(MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert!(e.starts_with("nesting deeper than 128"), "{e}");
        let brackets = format!("{{\"input\":\"{}\"}}", "[".repeat(500));
        assert!(check(brackets.as_bytes()).is_ok());
        let escaped_quote = format!("{{\"a\":\"\\\"{}\",\"b\":[]}}", "{".repeat(300));
        assert!(check(escaped_quote.as_bytes()).is_ok());
    }

    #[test]
    fn lone_surrogates_are_found_and_pairs_are_not() {
        for lone in [
            r#"{"input":"\ud800"}"#,
            r#"{"input":"\uDBFFx"}"#,
            r#"{"input":"a\udc00"}"#,
            r#"{"input":"\ud800\ud800\udc00"}"#,
            r#"{"input":"\ud83d\ude00\ude00"}"#,
            r#"{"input":"\\\ud800"}"#,
            r#"{"input":"\ud800\u0041"}"#,
        ] {
            let e = check(lone.as_bytes()).unwrap_err();
            assert!(e.starts_with("lone surrogate \\u"), "{lone}: {e}");
        }
        let e = check(br#"{"input":["ok","\ud800"]}"#).unwrap_err();
        assert!(e.starts_with("lone surrogate \\ud800 at column 17"), "{e}");
        for fine in [
            r#"{"input":"\ud83d\ude00"}"#,
            r#"{"input":"\\ud800"}"#,
            r#"{"input":"\\\\ud800"}"#,
            r#"{"input":"\u00e9\u2003"}"#,
            r#"{"input":"\uD83D\uDE00 and \ud800\udc00"}"#,
        ] {
            assert!(check(fine.as_bytes()).is_ok(), "{fine}");
        }
    }
}
