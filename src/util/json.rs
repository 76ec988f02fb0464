//! Pieces of JSON syntax shared by the hand-written scanners
//! (`compare/text.rs`'s token walk, `normalize`'s text path, `contract`'s
//! shapes, `compare/pointer.rs`'s rule paths), and raw JSON values made
//! without a second copy.
//!
//! # Contract
//! - [`unescape_short`] maps the byte after a backslash to the character of
//!   JSON's two-byte escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`)
//!   and gives `None` for anything else (`u` included: `\uXXXX` escapes are
//!   the caller's, because what to do with a lone surrogate differs).
//! - [`string_end`], [`container_end`] and [`literal_end`] find where a
//!   string, an array or object, or a literal that starts at an index of
//!   valid JSON text ends, without checking it (readers of text already
//!   checked: `contract`'s shapes, `compare`'s rule paths). A text cut off
//!   ends them at its end; never a panic, whatever the bytes.
//! - [`shared_raw_unchecked`] copies text its caller vouches for into an
//!   `Arc<RawValue>` once (serde_json makes a `Box<RawValue>`, which an
//!   `Arc` copies again: measured, that second copy and its allocation were
//!   5% of an identity replay's CPU). It checks nothing, as
//!   `RawValue::from_string_unchecked` does not.

use serde_json::value::RawValue;
use std::sync::Arc;

/// The character of a two-byte escape, `\` then `byte`; `None` if there is
/// no such escape.
pub fn unescape_short(byte: u8) -> Option<char> {
    Some(match byte {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        _ => return None,
    })
}

/// The end (one past the closing quote) of the string whose opening quote is
/// at `at`: the first quote after an even run of backslashes, found with
/// memchr (a quote inside a string is rare; a scan eight bytes at a time
/// was slower on the long `\uXXXX` runs of `ensure_ascii` answers).
pub fn string_end(b: &[u8], at: usize) -> usize {
    let body = at + 1;
    let mut from = body;
    while let Some(k) = b.get(from..).and_then(|rest| memchr::memchr(b'"', rest)) {
        let quote = from + k;
        let run = b[body..quote]
            .iter()
            .rev()
            .take_while(|&&c| c == b'\\')
            .count();
        if run % 2 == 0 {
            return quote + 1;
        }
        from = quote + 1;
    }
    b.len()
}

/// The end of the array or object that starts at `at`.
pub fn container_end(b: &[u8], mut at: usize) -> usize {
    let mut depth = 0usize;
    while let Some(&c) = b.get(at) {
        match c {
            b'"' => {
                at = string_end(b, at);
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return at + 1;
                }
            }
            _ => {}
        }
        at += 1;
    }
    at
}

/// The end of the literal (`null`, `true`, `false` or a number) at `at`.
pub fn literal_end(b: &[u8], mut at: usize) -> usize {
    while let Some(&c) = b.get(at) {
        if matches!(c, b',' | b']' | b'}' | b':' | b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        at += 1;
    }
    at
}

/// `text` as a shared raw JSON value, copied once (see the module contract).
///
/// # Safety
/// As for `RawValue::from_string_unchecked`: `text` must be one JSON value,
/// without whitespace around it.
pub unsafe fn shared_raw_unchecked(text: &str) -> Arc<RawValue> {
    let text: Arc<str> = Arc::from(text);
    // SAFETY: `RawValue` is `#[repr(transparent)]` over `str` (serde_json
    // transmutes `&str` and `Box<str>` to it the same way), so an `Arc<str>`'s
    // allocation is an `Arc<RawValue>`'s, with the same layout and length.
    unsafe { Arc::from_raw(Arc::into_raw(text) as *const RawValue) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte reading [`string_end`] must agree with: a
    /// backslash covers the byte after it.
    fn byte_by_byte(b: &[u8], at: usize) -> usize {
        let mut at = at + 1;
        while let Some(&c) = b.get(at) {
            match c {
                b'"' => return at + 1,
                b'\\' => at += 2,
                _ => at += 1,
            }
        }
        b.len()
    }

    proptest::proptest! {
        /// Runs of backslashes of every length before a quote, and text
        /// that ends inside a string.
        #[test]
        fn a_strings_end_is_where_reading_it_a_byte_at_a_time_ends(
            bytes in proptest::collection::vec(proptest::prop_oneof![
                20 => proptest::strategy::Just(b'a'),
                12 => proptest::strategy::Just(b'\\'),
                1 => proptest::strategy::Just(b'"'),
            ], 0..300),
        ) {
            let text = [&b"\""[..], &bytes].concat();
            proptest::prop_assert_eq!(string_end(&text, 0), byte_by_byte(&text, 0));
        }
    }

    #[test]
    fn a_strings_end_is_found_wherever_its_quotes_and_escapes_are_short_or_long() {
        for before in (0..24).chain([47, 62, 63, 64, 65, 79, 80, 127, 128]) {
            for inner in [
                r"ab\ncd\\",
                "",
                r#"\""#,
                r"\\",
                r"\u0022",
                r"\u005c",
                "é",
                "\u{80}\u{ff}",
            ] {
                for after in 0..12 {
                    let text = format!(
                        "\"{}{inner}{}\" , \"x\"",
                        "a".repeat(before),
                        "b".repeat(after)
                    );
                    let b = text.as_bytes();
                    assert_eq!(string_end(b, 0), byte_by_byte(b, 0), "{text}");
                    // Cut short: the end of the text.
                    let cut = &b[..b.len() - 7];
                    assert_eq!(string_end(cut, 0), byte_by_byte(cut, 0), "{text}");
                }
            }
        }
    }

    #[test]
    fn a_shared_raw_value_holds_the_text_and_frees_it_once() {
        let text = r#"{"items": ["\u00e9 a", 1.5, null]}"#;
        // SAFETY: the text above is one JSON value.
        let raw = unsafe { shared_raw_unchecked(text) };
        let again = raw.clone();
        assert_eq!(raw.get(), text);
        assert_eq!(Arc::strong_count(&raw), 2);
        drop(raw);
        assert_eq!(again.get(), text);
        let value: serde_json::Value = serde_json::from_str(again.get()).unwrap();
        assert_eq!(value["items"][0], "\u{e9} a");
        assert_eq!(serde_json::to_string(&*again).unwrap(), text);
    }

    #[test]
    fn the_eight_short_escapes_and_nothing_else() {
        let known: Vec<(u8, char)> = (0..=255u8)
            .filter_map(|b| unescape_short(b).map(|c| (b, c)))
            .collect();
        assert_eq!(
            known,
            vec![
                (b'"', '"'),
                (b'/', '/'),
                (b'\\', '\\'),
                (b'b', '\u{8}'),
                (b'f', '\u{c}'),
                (b'n', '\n'),
                (b'r', '\r'),
                (b't', '\t'),
            ]
        );
    }
}
