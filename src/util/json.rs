//! Pieces of JSON's string syntax shared by the hand-written scanners
//! (`compare/text.rs`'s token walk, `normalize`'s text path), and raw JSON
//! values made without a second copy.
//!
//! # Contract
//! - [`unescape_short`] maps the byte after a backslash to the character of
//!   JSON's two-byte escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`)
//!   and gives `None` for anything else (`u` included: `\uXXXX` escapes are
//!   the caller's, because what to do with a lone surrogate differs).
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
