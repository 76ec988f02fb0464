//! Whether serde_json surely reads a JSON text as a `Value`, found in one
//! pass without building anything: for the texts that arrive one per record
//! (a worker's answers, a command's stdout, a response body), whose syntax
//! check was a quarter of a worker replay's own cost.
//!
//! # Contract
//! - [`value_at`] looks at the one JSON value at `from` (JSON whitespace
//!   before it skipped) and gives its text and the index just past it when
//!   `serde_json::from_str::<Value>` of that text surely succeeds: the
//!   syntax serde_json reads (RFC 8259; whitespace is space, tab, CR and LF
//!   only), UTF-8, no lone surrogate escape, nesting at most
//!   [`MAX_DEPTH`] (empty containers count), every number surely in
//!   `f64`'s range (its integer digits and a positive exponent adding up to
//!   at most [`MAX_MAGNITUDE`], a negative exponent at most
//!   [`MAX_NEGATIVE_EXPONENT`], at most [`MAX_DIGITS`] digits in all). [`whole`] asks the same
//!   of a whole text, whitespace around the value allowed.
//! - Soundness is the contract: `Some` only when serde_json reads the text.
//!   `None` means "not vouched for", not "invalid": valid text beyond the
//!   limits above (a lone surrogate, deep nesting, a big exponent) gets
//!   `None` too. Callers then read the text as they did before, with
//!   serde_json, whose answer or error is the one they report; so nothing
//!   here words an error.
//! - [`is_ws`] and [`skip_ws`] tell and skip JSON whitespace, for callers
//!   reading the text around a value.
//! - [`hex_digits`] reads the four hex digits of a `\uXXXX` escape (either
//!   case), `None` if one is not a hex digit; `normalize` reads its
//!   escapes with it too.
//! - Never a panic, whatever the bytes; time linear in the bytes looked at;
//!   no allocation. The text's UTF-8 is checked only when a string held a
//!   byte with its top bit set (everything else is ASCII by the syntax).
//! - Non-goals: duplicate keys (a `Value` keeps the last one, as serde_json
//!   does, so they do not stop it reading), and anything about the value
//!   beyond whether it reads.
//!
//! Why by hand: serde_json's own check of skipped text
//! (`Deserializer::ignore_value`) restarts its search for the next quote or
//! backslash after every escape, and in `ensure_ascii` text (Python's
//! default) an escape comes every few bytes: about 90 instructions per
//! escape, against about 20 here (callgrind, a worker's answers). No crate offers a strict validator of
//! one value without building it (simd-json builds a tape in a mutable
//! copy; sonic-rs accepts an invalid escape in a skipped value).

use super::scan::{has_byte, HIGH, LOW};

/// The deepest nesting vouched for: below serde_json's recursion limit
/// (128), with room.
pub const MAX_DEPTH: u32 = 120;
/// The most digits a number may have (integer and fraction part
/// together): this only bounds the work.
pub const MAX_DIGITS: usize = 400;
/// The most a number's integer digits and its positive exponent may add up
/// to: below `10^308`, so below `f64::MAX` (about `1.8 × 10^308`).
pub const MAX_MAGNITUDE: usize = 308;
/// The largest negative exponent vouched for: anything smaller than
/// `f64`'s least value reads as zero, so this only bounds the work.
pub const MAX_NEGATIVE_EXPONENT: usize = 400;

/// The value at `from` (after JSON whitespace) when serde_json surely reads
/// it: its text and the index just past it (see the module contract).
pub fn value_at(bytes: &[u8], from: usize) -> Option<(&str, usize)> {
    let start = skip_ws(bytes, from);
    let mut high = 0;
    let end = value_end(bytes, start, &mut high)?;
    let text = &bytes[start..end];
    let text = if high & HIGH == 0 {
        // SAFETY: every byte of the text is ASCII. Outside strings only
        // ASCII bytes are accepted; every byte of a string's body that is
        // not part of an escape (whose bytes are ASCII too) was or-ed into
        // `high` by `string_end`.
        unsafe { std::str::from_utf8_unchecked(text) }
    } else {
        std::str::from_utf8(text).ok()?
    };
    Some((text, end))
}

/// The whole of `bytes` as one value (JSON whitespace around it allowed)
/// when serde_json surely reads it: the value's text.
pub fn whole(bytes: &[u8]) -> Option<&str> {
    let (text, end) = value_at(bytes, 0)?;
    (skip_ws(bytes, end) == bytes.len()).then_some(text)
}

/// Whether `byte` is JSON whitespace.
pub fn is_ws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// The index of the first byte at or after `at` that is not JSON
/// whitespace (`bytes.len()` at most).
pub fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(|&b| is_ws(b)) {
        at += 1;
    }
    at
}

/// The end of the value starting at `at` (no whitespace before it), or
/// `None`. Containers are tracked without recursion: one bit a level in
/// `objects` (1 for an object), which [`MAX_DEPTH`] keeps within 128 bits.
/// `high` gathers the top bits of strings' bytes (see [`string_end`]).
fn value_end(b: &[u8], mut at: usize, high: &mut u64) -> Option<usize> {
    let (mut depth, mut objects) = (0u32, 0u128);
    loop {
        // A value starts at `at`.
        match *b.get(at)? {
            open @ (b'{' | b'[') => {
                if depth == MAX_DEPTH {
                    return None;
                }
                let close = if open == b'{' { b'}' } else { b']' };
                at = skip_ws(b, at + 1);
                if b.get(at) == Some(&close) {
                    at += 1;
                } else {
                    depth += 1;
                    objects = objects << 1 | u128::from(open == b'{');
                    if open == b'{' {
                        at = member_value(b, at, high)?;
                    }
                    continue;
                }
            }
            b'"' => at = string_end(b, at + 1, high)?,
            b't' => at = literal(b, at, b"true")?,
            b'f' => at = literal(b, at, b"false")?,
            b'n' => at = literal(b, at, b"null")?,
            b'-' | b'0'..=b'9' => at = number_end(b, at)?,
            _ => return None,
        }
        // A value ended at `at`: close containers until one goes on.
        loop {
            if depth == 0 {
                return Some(at);
            }
            at = skip_ws(b, at);
            let in_object = objects & 1 == 1;
            match *b.get(at)? {
                b',' => {
                    at = skip_ws(b, at + 1);
                    if in_object {
                        at = member_value(b, at, high)?;
                    }
                    break;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return None,
            }
            at += 1;
            depth -= 1;
            objects >>= 1;
        }
    }
}

/// Past an object member's key and colon (the key starts at `at`): where
/// its value starts.
fn member_value(b: &[u8], at: usize, high: &mut u64) -> Option<usize> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let at = skip_ws(b, string_end(b, at + 1, high)?);
    (b.get(at) == Some(&b':')).then(|| skip_ws(b, at + 1))
}

fn literal(b: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    b[at..].starts_with(word).then_some(at + word.len())
}

/// The end of a number's text starting at `at` (see the module contract
/// for the numbers vouched for).
fn number_end(b: &[u8], mut at: usize) -> Option<usize> {
    let digits_from = |at: usize| at + b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    if b[at] == b'-' {
        at += 1;
    }
    let int_end = match b.get(at)? {
        b'0' => at + 1,
        b'1'..=b'9' => digits_from(at),
        _ => return None,
    };
    let int_digits = int_end - at;
    let mut digits = int_digits;
    at = int_end;
    if b.get(at) == Some(&b'.') {
        let end = digits_from(at + 1);
        if end == at + 1 {
            return None;
        }
        digits += end - at - 1;
        at = end;
    }
    if matches!(b.get(at), Some(b'e' | b'E')) {
        at += 1;
        let negative = b.get(at) == Some(&b'-');
        if matches!(b.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let end = digits_from(at);
        if end == at {
            return None;
        }
        let exponent = b[at..end].iter().try_fold(0usize, |e, &c| {
            e.checked_mul(10)?.checked_add(usize::from(c - b'0'))
        })?;
        let in_range = if negative {
            exponent <= MAX_NEGATIVE_EXPONENT
        } else {
            int_digits + exponent <= MAX_MAGNITUDE
        };
        if !in_range {
            return None;
        }
        at = end;
    }
    (digits <= MAX_DIGITS && int_digits <= MAX_MAGNITUDE).then_some(at)
}

/// The end of a string whose body starts at `at` (just past its opening
/// quote): just past its closing quote. Eight plain bytes are passed over
/// at a time; escapes are checked where they stand, a run of them (as
/// `ensure_ascii` writes every non-ASCII character) one after the other.
/// Every plain byte of the body (and maybe some bytes past the string) is
/// or-ed into `high`, so that `high & HIGH == 0` says the body is ASCII.
fn string_end(b: &[u8], mut at: usize, high: &mut u64) -> Option<usize> {
    loop {
        while let Some(word) = b.get(at..at + 8) {
            let w = u64::from_le_bytes(word.try_into().ok()?);
            *high |= w;
            // Quotes, backslashes and control characters (below 0x20; a
            // byte with its top bit set is plain here, UTF-8 is checked
            // over the whole text).
            let special =
                has_byte(w, b'"') | has_byte(w, b'\\') | (w.wrapping_sub(LOW * 0x20) & !w & HIGH);
            if special != 0 {
                at += (special.trailing_zeros() / 8) as usize;
                break;
            }
            at += 8;
        }
        match *b.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => {
                // The common escape first: `\uXXXX`, not a surrogate, its
                // digits judged two at a time (`HEX_PAIRS`).
                while let Some(&[b0, b1, c0, c1, c2, c3]) = b.get(at..at + 6).map(six) {
                    let first = HEX_PAIRS[usize::from(u16::from_le_bytes([c0, c1]))];
                    let second = HEX_PAIRS[usize::from(u16::from_le_bytes([c2, c3]))];
                    let escape = u16::from_le_bytes([b0, b1]) == u16::from_le_bytes(*b"\\u");
                    if !escape | ((first >> 1) & second & HEX_PAIR == 0) {
                        break;
                    }
                    at += 6;
                }
                if b.get(at) == Some(&b'\\') {
                    at = escape_end(b, at)?;
                }
            }
            0..=0x1f => return None,
            byte => {
                *high |= u64::from(byte);
                at += 1;
            }
        }
    }
}

/// Six bytes as an array (`bytes` is six long).
#[inline(always)]
fn six(bytes: &[u8]) -> &[u8; 6] {
    bytes.try_into().unwrap_or(&[0; 6])
}

/// The end of the escape whose backslash is at `at`; a surrogate escape
/// only as the first half of a pair.
#[inline(always)]
fn escape_end(b: &[u8], at: usize) -> Option<usize> {
    let kind = *b.get(at + 1)?;
    if kind == b'u' {
        let code = hex4(b, at + 2)?;
        if code & 0xf800 != 0xd800 {
            return Some(at + 6);
        }
        let high = code < 0xdc00;
        let low = (b.get(at + 6..at + 8)? == b"\\u").then(|| hex4(b, at + 8))??;
        return (high && low & 0xfc00 == 0xdc00).then_some(at + 12);
    }
    matches!(kind, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't').then_some(at + 2)
}

/// Each byte's value as a hex digit, or 16 for a byte that is not one.
const HEX: [u8; 256] = {
    let mut table = [16u8; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = match c as u8 {
            d @ b'0'..=b'9' => d - b'0',
            d @ b'a'..=b'f' => d - b'a' + 10,
            d @ b'A'..=b'F' => d - b'A' + 10,
            _ => 16,
        };
        c += 1;
    }
    table
};

/// In [`HEX_PAIRS`]: both bytes are hex digits.
const HEX_PAIR: u8 = 1;
/// In [`HEX_PAIRS`]: both are, and they do not start a surrogate's code
/// (`D8` to `DF`, either case), so they may start a plain `\uXXXX`. One
/// bit above [`HEX_PAIR`], so that `(first >> 1) & second & HEX_PAIR` of an
/// escape's two pairs says "four hex digits, not a surrogate".
const PLAIN_LEAD: u8 = HEX_PAIR << 1;

/// What two bytes (the index is them as a little-endian `u16`) are as
/// digits of a `\uXXXX` escape: [`HEX_PAIR`], [`PLAIN_LEAD`] or neither.
static HEX_PAIRS: [u8; 1 << 16] = {
    let mut table = [0u8; 1 << 16];
    let mut i = 0;
    while i < 1 << 16 {
        let (c0, c1) = ((i & 0xff) as u8, (i >> 8) as u8);
        if HEX[c0 as usize] < 16 && HEX[c1 as usize] < 16 {
            let surrogate = c0 | 0x20 == b'd' && c1 >= b'8';
            table[i] = HEX_PAIR | if surrogate { 0 } else { PLAIN_LEAD };
        }
        i += 1;
    }
    table
};

/// The four hex digits at `at` as a number.
#[inline(always)]
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    hex_digits(*<&[u8; 4]>::try_from(b.get(at..at + 4)?).ok()?)
}

/// Four hex digits (either case) as a number, as a `\uXXXX` escape
/// spells it; `None` if one is not a hex digit.
#[inline(always)]
pub fn hex_digits(digits: [u8; 4]) -> Option<u32> {
    let [d0, d1, d2, d3] = digits.map(|c| u32::from(HEX[usize::from(c)]));
    ((d0 | d1 | d2 | d3) < 16).then_some(d0 << 12 | d1 << 8 | d2 << 4 | d3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every `Some` is a text serde_json reads, exactly the value's own.
    fn check(bytes: &[u8]) -> Option<&str> {
        let text = whole(bytes)?;
        assert!(
            serde_json::from_str::<Value>(text).is_ok(),
            "vouched for {text:?}, which serde_json refuses"
        );
        assert_eq!(
            serde_json::from_str::<Value>(text).ok(),
            serde_json::from_slice::<Value>(bytes).ok(),
            "{text:?} is not the whole value"
        );
        Some(text)
    }

    #[test]
    fn valid_json_is_vouched_for() {
        for text in [
            "null",
            "true",
            "false",
            "0",
            "-0",
            "12.5e-3",
            "1E+2",
            "\"\"",
            "\"caf\\u00e9 \\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"",
            "\"plain text longer than eight bytes, then \\u0041 and more\"",
            "\"é ünïcödé\"",
            "[]",
            "{}",
            " [1, [2, []], {\"a\": {}, \"b\": [null]}] ",
            "{\"k\":\"v\",\"k\":1}",
            "\t\r\n{ \"a\" : [ true , false ] }\n",
        ] {
            assert_eq!(
                check(text.as_bytes()),
                Some(text.trim_matches([' ', '\t', '\r', '\n'])),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_json_is_not_vouched_for() {
        for text in [
            "",
            " ",
            "nul",
            "nulll",
            "tru",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1e+",
            "+1",
            "\"open",
            "\"bad \\x escape\"",
            "\"\\u12G4\"",
            "\"\\u12\"",
            "\"tab\there\"",
            "\"newline\nhere\"",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{1:2}",
            "{\"a\" 1}",
            "[1}",
            "{\"a\":1]",
            "[[]",
            "[]]",
            "1 2",
            "NaN",
            "Infinity",
            "\u{feff}1",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\ud800x\"",
        ] {
            assert_eq!(check(text.as_bytes()), None, "{text}");
        }
        assert_eq!(check(b"\"\xff\""), None);
        assert_eq!(check(b"\"\xc3\""), None);
    }

    /// The UTF-8 check is skipped for ASCII text, so a byte with its top
    /// bit set must be seen wherever it stands: in the eight-byte steps, in
    /// the bytes after them, next to an escape, in a key.
    #[test]
    fn a_byte_that_is_not_utf8_is_refused_wherever_it_stands_in_a_string() {
        for before in 0..20 {
            for after in 0..12 {
                let (a, b) = ("a".repeat(before), "b".repeat(after));
                for (middle, reads) in [
                    (&b"\xff"[..], false),
                    (b"\xc3", false),
                    (b"\\u00e9\xc3", false),
                    (b"\xc3\xa9", true),
                    (b"\\u00e9\xc3\xa9\\n", true),
                ] {
                    let string = [b"\"", a.as_bytes(), middle, b.as_bytes(), b"\""].concat();
                    let member = [b"{", &string[..], b":1}"].concat();
                    for text in [&string, &member] {
                        assert_eq!(
                            check(text).is_some(),
                            reads,
                            "{}",
                            String::from_utf8_lossy(text)
                        );
                    }
                }
            }
        }
    }

    /// Every `\uXXXX`, in either case, in a run of escapes: vouched for
    /// unless it is a lone surrogate; and a byte that is not a hex digit in
    /// any of the four places is never.
    #[test]
    fn every_unicode_escape_is_judged_by_its_four_digits() {
        for code in 0..=0xffffu32 {
            let surrogate = (0xd800..=0xdfff).contains(&code);
            for digits in [format!("{code:04x}"), format!("{code:04X}")] {
                let text = format!(r#""\u00e9\u{digits}\u0041""#);
                let vouched = whole(text.as_bytes()).is_some();
                assert_eq!(vouched, !surrogate, "{text}");
            }
        }
        for place in 0..4 {
            for bad in [b'g', b'G', b'/', b':', b'@', b'`', b' ', b'"', 0xc3] {
                let mut text = br#""\u00e9\u0041\u0042""#.to_vec();
                text[9 + place] = bad;
                assert_eq!(whole(&text), None, "{}", String::from_utf8_lossy(&text));
            }
        }
    }

    #[test]
    fn texts_beyond_the_limits_are_left_to_serde_json() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check(deep(MAX_DEPTH as usize).as_bytes()).is_some());
        assert!(check(deep(MAX_DEPTH as usize + 1).as_bytes()).is_none());
        let digits = |n: usize| "7".repeat(n);
        assert!(check(digits(MAX_MAGNITUDE).as_bytes()).is_some());
        assert!(check(digits(MAX_MAGNITUDE + 1).as_bytes()).is_none());
        assert!(check(format!("1.{}", digits(MAX_DIGITS - 1)).as_bytes()).is_some());
        assert!(check(format!("1.{}", digits(MAX_DIGITS)).as_bytes()).is_none());
        assert!(check(b"1e307").is_some());
        assert!(check(b"-9.99e307").is_some());
        assert!(check(b"10e307").is_none());
        assert!(check(b"1.5e308").is_none());
        assert!(check(b"1e-400").is_some());
        assert!(check(b"1e-401").is_none());
        assert!(check(b"1e99999999999999999999999").is_none());
        assert!(check(format!("{}e5", digits(304)).as_bytes()).is_none());
        assert!(check(format!("0.{}e-300", digits(299)).as_bytes()).is_some());
    }

    #[test]
    fn a_value_at_an_offset_ends_where_the_value_ends() {
        let line = br#"{"id":"7","output":{"a":["x"]} }"#;
        assert_eq!(value_at(line, 19), Some((r#"{"a":["x"]}"#, 30)));
        assert_eq!(value_at(line, 18), None);
        assert_eq!(value_at(b"", 0), None);
        assert_eq!(value_at(b"1", 5), None);
    }

    /// Whether a number in `bytes` has an exponent over 100 (`0e999`
    /// reads, as zero, but is not vouched for).
    fn big_exponent(bytes: &[u8]) -> bool {
        (1..bytes.len()).any(|i| {
            let digits = bytes[i..]
                .iter()
                .skip(1)
                .skip_while(|c| matches!(c, b'+' | b'-'));
            matches!(bytes[i], b'e' | b'E')
                && bytes[i - 1].is_ascii_digit()
                && digits
                    .take_while(|c| c.is_ascii_digit())
                    .fold(0u64, |e, c| (e * 10 + u64::from(c - b'0')).min(1 << 40))
                    > 100
        })
    }

    /// The bytes of JSON texts, close to valid and often not.
    fn json_ish() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let token = prop_oneof![
            Just(&b"{"[..]),
            Just(&b"}"[..]),
            Just(&b"["[..]),
            Just(&b"]"[..]),
            Just(&b","[..]),
            Just(&b":"[..]),
            Just(&b" "[..]),
            Just(&b"\""[..]),
            Just(&b"\"k\":"[..]),
            Just(&b"\"abc\""[..]),
            Just(&b"\\"[..]),
            Just(&b"\\u00e9"[..]),
            Just(&b"\\ud83d"[..]),
            Just(&b"\\ude00"[..]),
            Just(&b"\\n"[..]),
            Just(&b"\\q"[..]),
            Just(&b"\n"[..]),
            Just(&b"\x01"[..]),
            Just(&b"\xc3\xa9"[..]),
            Just(&b"\xc3"[..]),
            Just(&b"0"[..]),
            Just(&b"-"[..]),
            Just(&b"12"[..]),
            Just(&b"."[..]),
            Just(&b"e"[..]),
            Just(&b"E+"[..]),
            Just(&b"true"[..]),
            Just(&b"nul"[..]),
            Just(&b"null"[..]),
            Just(&b"plain text"[..]),
            // Whole strings, so that broken escapes often stand in
            // otherwise valid text.
            Just(&br#""\q""#[..]),
            Just(&br#""\ud800 ""#[..]),
            Just(&br#""\udc00""#[..]),
            Just(&br#""\ud83d\ude00""#[..]),
            Just(&br#""\ud83d\u0041""#[..]),
            Just(&br#""\u00E9\u12G4""#[..]),
            Just(&b"\"\x7f\x1f\""[..]),
        ];
        proptest::collection::vec(token, 0..40).prop_map(|parts| parts.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// Soundness on anything, and no valid text under the limits
        /// refused: every text here is under them unless it has a lone
        /// surrogate, which serde_json refuses too.
        #[test]
        fn it_vouches_for_exactly_what_serde_json_reads(bytes in json_ish()) {
            let vouched = check(&bytes).is_some();
            let reads = serde_json::from_slice::<Value>(&bytes).is_ok();
            proptest::prop_assert!(
                vouched == reads || big_exponent(&bytes),
                "vouched {} but serde_json reads: {}, {:?}", vouched, reads, String::from_utf8_lossy(&bytes)
            );
        }

        /// The same for whatever serde_json writes, strings with escapes
        /// and every length across the eight-byte steps.
        #[test]
        fn what_serde_json_writes_is_vouched_for(
            s in "[a-z\"\\\\\u{1}\u{e9}\u{1F600} ]{0,40}",
            // From 1e308 to f64::MAX is left to serde_json.
            n in proptest::strategy::Strategy::prop_filter(
                proptest::num::f64::NORMAL, "below 1e308", |n| n.abs() < 1e308),
            i in proptest::num::i64::ANY,
        ) {
            let value = serde_json::json!({"s": s, "n": n, "i": i, "a": [s, [n], {}]});
            let text = serde_json::to_string(&value).unwrap();
            proptest::prop_assert_eq!(check(text.as_bytes()), Some(text.as_str()));
            let ascii = serde_json::to_string(&serde_json::json!(s)).unwrap()
                .chars()
                .flat_map(|c| if c.is_ascii() { vec![c] } else {
                    let mut units = [0u16; 2];
                    c.encode_utf16(&mut units).iter().flat_map(|u| format!("\\u{u:04x}").chars().collect::<Vec<_>>()).collect()
                })
                .collect::<String>();
            proptest::prop_assert_eq!(check(ascii.as_bytes()), Some(ascii.as_str()));
        }
    }
}
