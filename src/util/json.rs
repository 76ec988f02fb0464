//! Pieces of JSON's string syntax shared by the hand-written scanners
//! (`compare/text.rs`'s token walk, `normalize`'s text path).
//!
//! # Contract
//! [`unescape_short`] maps the byte after a backslash to the character of
//! JSON's two-byte escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`)
//! and gives `None` for anything else (`u` included: `\uXXXX` escapes are the
//! caller's, because what to do with a lone surrogate differs).

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

#[cfg(test)]
mod tests {
    use super::*;

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
