//! JSON Lines captures: one `{"id"?: string, "key"?: string, "input": any}` per line.
//!
//! # Contract
//! - `recorded`, when present, is the response production gave (any JSON
//!   value, `null` included), for `--legacy recorded` and drift checks.
//! - `input` is required and may be any JSON value, `null` included (a present
//!   `null` is an input, not a missing one). It is kept as JSON text.
//! - `id` and `key`, when present, must be strings (`""` is a valid id: empty is
//!   never treated as missing). A missing `id` becomes the line number.
//! - `timestamp`, when it is a number (seconds) or an RFC 3339 date-time
//!   string, is when the request was made (for `--speed`); in any other form
//!   it is ignored, as other fields are, so captures may carry metadata.
//! - Lines must be strict JSON ([`super::strict`]): a lone surrogate escape
//!   or nesting deeper than 128 levels is rejected, so no target ever sees it.
//! - A UTF-8 byte order mark is skipped at the start of a capture (by the
//!   reader); anywhere else it is rejected with a reason that says "BOM".
//! - Anything else (invalid JSON or UTF-8, a non-object line, a wrong type, a
//!   blank line) is returned as a rejection reason in words.
//!
//! # How
//! Most lines are read in one pass without serde_json ([`parse_plain`]):
//! an object whose keys are printable ASCII without escapes, each member's value vouched for
//! by [`valid::value_at`] (which also rules out what [`super::strict`]
//! rejects), each known field once, `id` and `key` strings. That pass only
//! takes lines the general reader accepts, and gives what it would; every
//! other line (an error, a duplicate field, a key with an escape) goes
//! through serde_json and the strict check as before, so every rejection's
//! reason is theirs. Measured (callgrind, identity replay of 20,000
//! generated records): serde_json's check of the input was 36% of the
//! replay's instructions, since it restarts after every `\uXXXX` escape.

use crate::model::valid;
use crate::util::serde::present;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// The parts of a capture line cutover uses.
#[derive(Debug)]
pub struct Parsed {
    pub id: Option<String>,
    pub key: Option<String>,
    pub input: Arc<RawValue>,
    pub recorded: Option<Box<RawValue>>,
    /// The `timestamp`, in seconds.
    pub at: Option<f64>,
    /// Whether serde_json surely reads `input` as a `Value`
    /// ([`valid::value_at`] vouched for it): so for lines the one-pass
    /// reader took.
    pub vouched: bool,
}

#[derive(Deserialize)]
#[serde(
    expecting = "a capture record: an object {\"id\"?: string, \"key\"?: string, \"input\": any, \"recorded\"?: any}"
)]
struct Wire {
    #[serde(default, deserialize_with = "present")]
    id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    key: Option<String>,
    #[serde(default, deserialize_with = "present")]
    input: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    recorded: Option<Box<RawValue>>,
    #[serde(default)]
    timestamp: Option<serde_json::Value>,
}

/// Seconds of a capture's `timestamp`: a number, or an RFC 3339 string.
pub fn seconds_of(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_micros() as f64 / 1e6),
        _ => None,
    }
}

/// Parses one line (without its newline).
pub fn parse(line: &[u8]) -> Result<Parsed, String> {
    match parse_plain(line) {
        Some(parsed) => Ok(parsed),
        None => parse_general(line),
    }
}

/// Parses one line with serde_json, then checks it is strict JSON.
fn parse_general(line: &[u8]) -> Result<Parsed, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err("blank line: every line of a JSON Lines capture must hold one record".into());
    }
    if line.starts_with(super::BOM) {
        return Err("the line starts with a UTF-8 byte order mark (BOM); only the start of a capture may have one: remove it".into());
    }
    let wire: Wire = serde_json::from_slice(line).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("not a capture record: {e}"),
        _ => format!("not valid JSON: {e}"),
    })?;
    let input = wire
        .input
        .ok_or("missing field `input` (a capture record is {\"id\"?, \"key\"?, \"input\"})")?;
    super::strict::check(line)?;
    Ok(Parsed {
        id: wire.id,
        key: wire.key,
        input: input.into(),
        recorded: wire.recorded,
        at: wire.timestamp.as_ref().and_then(seconds_of),
        vouched: false,
    })
}

/// The line read in one pass, when it is a capture record in the plain
/// form (see "How" in the module doc); `None` sends it to [`parse`]'s
/// general reader, which accepts or rejects it.
fn parse_plain(line: &[u8]) -> Option<Parsed> {
    let mut at = valid::skip_ws(line, 0);
    if line.get(at) != Some(&b'{') {
        return None;
    }
    let (mut id, mut key, mut input, mut recorded, mut timestamp) = (None, None, None, None, None);
    at = valid::skip_ws(line, at + 1);
    if line.get(at) == Some(&b'}') {
        return None; // no `input`: the general reader says so
    }
    loop {
        // A member: a key without escapes, a colon, a vouched-for value.
        let name = line.get(at + 1..)?;
        let close = memchr::memchr2(b'"', b'\\', name)?;
        if line[at] != b'"' || name[close] != b'"' {
            return None;
        }
        let name = &name[..close];
        if !name.iter().all(|&b| (b' '..=b'~').contains(&b)) {
            return None; // a control character or non-ASCII: the general reader checks it
        }
        at = valid::skip_ws(line, at + close + 2);
        if line.get(at) != Some(&b':') {
            return None;
        }
        let (text, end) = valid::value_at(line, at + 1)?;
        let slot = match name {
            b"id" => &mut id,
            b"key" => &mut key,
            b"input" => &mut input,
            b"recorded" => &mut recorded,
            b"timestamp" => &mut timestamp,
            _ => &mut None,
        };
        if slot.replace(text).is_some() {
            return None; // a repeated field: the general reader refuses it
        }
        at = valid::skip_ws(line, end);
        match line.get(at) {
            Some(b',') => at = valid::skip_ws(line, at + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    if valid::skip_ws(line, at + 1) != line.len() {
        return None;
    }
    // SAFETY (both): `valid::value_at` vouched that serde_json reads the
    // text as one value; it starts and ends with the value, no whitespace
    // around.
    let raw = |text: &str| unsafe { RawValue::from_string_unchecked(text.to_owned()) };
    let shared = |text: &str| unsafe { crate::util::json::shared_raw_unchecked(text) };
    let at = match timestamp {
        None => None,
        Some(text) => seconds_of(&serde_json::from_str(text).ok()?),
    };
    let string = |text: Option<&str>| match text {
        None => Some(None),
        Some(text) => plain_string(text).map(Some),
    };
    Some(Parsed {
        id: string(id)?,
        key: string(key)?,
        input: shared(input?),
        recorded: recorded.map(raw),
        at,
        vouched: true,
    })
}

/// The string a vouched-for JSON string text holds; `None` (the general
/// reader's error) when the text is not a string.
fn plain_string(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str(text).ok()
    } else {
        Some(inner.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_null_input_is_an_input() {
        let p = parse(br#"{"id":"","input":null}"#).unwrap();
        assert_eq!(p.id.as_deref(), Some(""));
        assert_eq!(p.input.get(), "null");
    }

    #[test]
    fn reasons_name_the_problem() {
        assert!(parse(br#"{"id":"1"}"#)
            .unwrap_err()
            .contains("missing field `input`"));
        assert!(parse(br#"{"id":7,"input":1}"#)
            .unwrap_err()
            .contains("expected a string"));
        assert!(parse(br#"{"id":null,"input":1}"#)
            .unwrap_err()
            .contains("expected a string"));
        assert!(parse(br#"{"input":"#)
            .unwrap_err()
            .starts_with("not valid JSON"));
        assert!(parse(br#"[1,2]"#).unwrap_err().contains("capture record"));
        assert!(parse(b"   ").unwrap_err().starts_with("blank line"));
        assert!(parse(b"\xef\xbb\xbf{\"input\":1}")
            .unwrap_err()
            .contains("(BOM)"));
        assert!(parse(br#"{"input":"\udc00"}"#)
            .unwrap_err()
            .starts_with("lone surrogate"));
        assert!(parse(b"{\"input\":\"\xff\"}")
            .unwrap_err()
            .starts_with("not valid JSON"));
    }

    fn same(a: &Parsed, b: &Parsed) -> bool {
        a.id == b.id
            && a.key == b.key
            && a.input.get() == b.input.get()
            && a.recorded.as_ref().map(|r| r.get()) == b.recorded.as_ref().map(|r| r.get())
            && a.at.map(f64::to_bits) == b.at.map(f64::to_bits)
    }

    #[test]
    fn the_one_pass_reader_takes_the_common_lines() {
        let lines = [
            r#"{"id": "req-1", "key": "user-7", "input": {"items": ["\u00e9 ", "\ud83d\ude00"]}}"#,
            r#"{"input":null}"#,
            r#" { "input" : [1, 2.5e3, true], "recorded": {"a": "b"}, "timestamp": 12.5, "meta": {"x": [null]} } "#,
            r#"{"id":"a\"b","key":"","input":"x","timestamp":"2026-12-02T05:00:00Z"}"#,
        ];
        for line in lines {
            let fast = parse_plain(line.as_bytes()).unwrap_or_else(|| panic!("not taken: {line}"));
            let general = parse_general(line.as_bytes()).unwrap();
            assert!(
                same(&fast, &general),
                "{line}: {fast:?} against {general:?}"
            );
        }
        let fast = parse_plain(lines[3].as_bytes()).unwrap();
        assert_eq!(fast.id.as_deref(), Some("a\"b"));
        assert_eq!(fast.at, Some(1_796_187_600.0));
    }

    #[test]
    fn lines_the_one_pass_reader_leaves_get_the_general_readers_reason() {
        let lines: [&[u8]; 8] = [
            br#"{"id":"1","id":"2","input":1}"#,
            br#"{"input":1,"input":2}"#,
            br#"{"timestamp":1,"timestamp":2,"input":1}"#,
            b"{\"k\x01\":1,\"input\":1}",
            b"{\"k\xff\":1,\"input\":1}",
            br#"{"i\u006eput":1}"#,
            br#"{"input":"\udc00"}"#,
            br#"{"id":7,"input":1}"#,
        ];
        for line in lines {
            assert!(
                parse_plain(line).is_none(),
                "taken: {}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(parse(lines[0])
            .unwrap_err()
            .contains("duplicate field `id`"));
        assert!(parse(lines[3]).unwrap_err().starts_with("not valid JSON"));
        assert!(parse(lines[4]).unwrap_err().starts_with("not valid JSON"));
        assert_eq!(parse(lines[5]).unwrap().input.get(), "1");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Whatever line the one-pass reader takes, the general reader
        /// takes too, with the same fields.
        #[test]
        fn the_one_pass_and_the_general_reader_agree(
            members in proptest::collection::vec((
                proptest::sample::select(vec![
                    "\"id\"", "\"key\"", "\"input\"", "\"recorded\"", "\"timestamp\"", "\"other\"",
                    "\"id\"", "\"key\"", "\"recorded\"", "\"timestamp\"", "\"other\"",
                    "\"i\\u0064\"", "\"\u{e9}\"", "\"a\u{1}\"", "id", "\"id",
                ]),
                proptest::sample::select(vec![":", ":", ":", " : ", ",", ""]),
                proptest::sample::select(vec![
                    "\"a\"", "\"\"", "\"a\\\"b\"", "\"\\u00e9\\n\"", "\"\\ud83d\\ude00\"", "\"\\ud800\"",
                    "\"\\q\"", "\"2026-12-02T05:00:00Z\"", "\"x\u{1}\"", "1", "-0.5e2", "1e400", "01", "true",
                    "null", "nul", "[]", "[1,{\"a\":[]}]", "{\"items\":[\" a\"]}", "{", "[1,]",
                ]),
                proptest::sample::select(vec![",", ",", ",", " , ", "\t,\n", "", ",,"]),
            ), 0..6),
            input_at in 0..6usize,
            open in proptest::sample::select(vec!["{", "{", "{", " {", "[", ""]),
            close in proptest::sample::select(vec!["}", "}", "}", "} ", "}x", "", "}}"]),
        ) {
            let mut line = open.to_owned();
            let mut members = members;
            members.insert(input_at.min(members.len()), ("\"input\"", ":", "{\"items\":[\" a\"]}", ","));
            for (i, (name, colon, value, comma)) in members.iter().enumerate() {
                if i > 0 {
                    line.push_str(comma);
                }
                line.push_str(name);
                line.push_str(colon);
                line.push_str(value);
            }
            line.push_str(close);
            if let Some(fast) = parse_plain(line.as_bytes()) {
                let general = parse_general(line.as_bytes());
                proptest::prop_assert!(
                    general.as_ref().is_ok_and(|general| same(&fast, general)),
                    "{}: {:?} against {:?}", line, fast, general
                );
            }
        }
    }
}
