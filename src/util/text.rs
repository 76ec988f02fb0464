//! Small pieces of wording shared by every message: a count with its noun,
//! and the start of an offending line.
//!
//! # Contract
//! - [`counted`] writes `1 record`, `2 records`, `0 records`: the number
//!   with its noun in the right number.
//! - [`excerpt`] is the first [`EXCERPT_BYTES`] of a line as lossy UTF-8,
//!   with `…` when it was cut; it never panics on any bytes. What it returns
//!   may hold control characters: it is escaped where it is shown
//!   ([`super::escape`]).

/// Bytes of an offending line kept in an excerpt.
pub const EXCERPT_BYTES: usize = 200;

/// `n` with its noun: `1 record`, `2 records`, `0 records`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The start of `line`, for error reports (see the module docs).
pub fn excerpt(line: &[u8]) -> String {
    let end = line.len().min(EXCERPT_BYTES);
    let mut text = String::from_utf8_lossy(&line[..end]).into_owned();
    if line.len() > EXCERPT_BYTES {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nouns_agree_with_their_number() {
        assert_eq!(counted(1, "group", "groups"), "1 group");
        assert_eq!(counted(0, "group", "groups"), "0 groups");
        assert_eq!(counted(2, "retry", "retries"), "2 retries");
    }

    #[test]
    fn excerpts_are_bounded_and_say_when_cut() {
        assert_eq!(excerpt(b"short"), "short");
        let long = vec![b'x'; EXCERPT_BYTES + 5];
        let cut = excerpt(&long);
        assert_eq!(cut.len(), EXCERPT_BYTES + '…'.len_utf8());
        assert_eq!(excerpt(b"\xff"), "\u{fffd}");
    }
}
