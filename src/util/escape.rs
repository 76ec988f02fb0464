//! Inert text: what cutover shows of captured traffic, of what sides
//! answered and of run directories (ids, keys, signatures, paths, error
//! messages, worker stderr, diffs) is made inert here, and the command
//! lines cutover suggests are quoted here. `cli/` prints everything through
//! it; the library uses it where an error message quotes hostile text.
//!
//! # Contract
//! - [`escape`] replaces every character a terminal may act on with a visible
//!   escape: C0 controls (`\t`, `\n`, `\r`, and `\x1b` style for the others),
//!   DEL (`\x7f`), C1 controls (`\u{9b}`) and the Unicode bidirectional
//!   controls that reorder what is shown (`\u{202e}`, also U+061C, U+200E,
//!   U+200F, U+202A..U+202E, U+2066..U+2069). Everything else is kept as is,
//!   backslashes included (the result is for reading, not for parsing back).
//!   Its output holds none of those characters, so escaping twice is escaping
//!   once, and text with none of them is returned borrowed, unchanged.
//! - [`escape_lines`] is the same but keeps `\n`, for text that is meant to
//!   span lines (an error with its causes, a multi-line message); `\r` is
//!   still escaped, so no line can be rewritten.
//! - [`command_line`] makes a command a user can paste into a POSIX shell:
//!   each word is escaped, then quoted with `shell-words`, so pasting it never
//!   runs anything but cutover with those words. (A word that held control
//!   characters is pasted as its escaped spelling, not the original.)
//! - Non-goals: colour (`cli/text/style.rs`), JSON output (serde escapes it
//!   already), HTML (askama escapes it).

use std::borrow::Cow;
use std::fmt::Write;

/// Whether a terminal may act on `c` (so it must not reach one raw).
fn unsafe_char(c: char, keep_newline: bool) -> bool {
    match c {
        '\n' => !keep_newline,
        '\0'..='\x1f' | '\x7f'..='\u{9f}' => true,
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

fn escape_with(text: &str, keep_newline: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| unsafe_char(c, keep_newline)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c, keep_newline) {
            out.push(c);
            continue;
        }
        let _ = match c {
            '\t' => out.write_str("\\t"),
            '\n' => out.write_str("\\n"),
            '\r' => out.write_str("\\r"),
            '\0'..='\x7f' => write!(out, "\\x{:02x}", c as u32),
            _ => write!(out, "\\u{{{:x}}}", c as u32),
        };
    }
    Cow::Owned(out)
}

/// `text` with every character a terminal may act on shown as an escape
/// (`\x1b`, `\r`, `\n`, `\u{202e}`); see the module docs.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_with(text, false)
}

/// [`escape`], but line breaks (`\n`) are kept.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_with(text, true)
}

/// A command line to suggest: the words escaped and shell-quoted.
pub fn command_line<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> String {
    let escaped: Vec<String> = words
        .into_iter()
        .map(|w| escape(w.as_ref()).into_owned())
        .collect();
    shell_words::join(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_shown_not_sent() {
        assert_eq!(escape("\x1b[2J\x1b]0;t\x07"), "\\x1b[2J\\x1b]0;t\\x07");
        assert_eq!(escape("a\rb\nc\td"), "a\\rb\\nc\\td");
        assert_eq!(escape("\x7f\u{9b}31m"), "\\x7f\\u{9b}31m");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("\u{2066}\u{200f}"), "\\u{2066}\\u{200f}");
        assert_eq!(escape_lines("one\r\ntwo\x1b"), "one\\r\ntwo\\x1b");
        // Plain text (also non-ASCII) is kept, borrowed.
        assert!(matches!(
            escape("größe ✓ \\n"),
            Cow::Borrowed("größe ✓ \\n")
        ));
        // Escaping twice is escaping once.
        let once = escape("\x1b\u{202e}\r").into_owned();
        assert_eq!(escape(&once), once);
    }

    #[test]
    fn suggested_commands_quote_each_word() {
        assert_eq!(
            command_line(["cutover", "report", "show", "run-1", "x; touch PWNED"]),
            "cutover report show run-1 'x; touch PWNED'"
        );
        assert_eq!(command_line(["a\x1bb"]), "'a\\x1bb'");
        assert_eq!(command_line(["it's"]), "'it'\\''s'");
    }
}
