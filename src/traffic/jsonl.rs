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

use crate::util::serde::present;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The parts of a capture line cutover uses.
#[derive(Debug)]
pub struct Parsed {
    pub id: Option<String>,
    pub key: Option<String>,
    pub input: Box<RawValue>,
    pub recorded: Option<Box<RawValue>>,
    /// The `timestamp`, in seconds.
    pub at: Option<f64>,
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
        input,
        recorded: wire.recorded,
        at: wire.timestamp.as_ref().and_then(seconds_of),
    })
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
}
