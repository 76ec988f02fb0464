//! `group_by`: what, besides the content of a difference, splits mismatch
//! groups (`--group-by`, `group_by` under `[replay]`).
//!
//! # Contract
//! - [`GroupBy`] is written and read as one word: `signature` (the default:
//!   content alone), `key` (the record's routing key; a record without one
//!   is `(no key)`, so records without keys group by content alone),
//!   `input:POINTER` (the value at that JSON Pointer into the record's
//!   input) or `output:POINTER` (the value at that pointer in the legacy's
//!   output, else in the candidate's when the legacy gave none there: an
//!   error, a timeout, or no such field). A pointer is RFC 6901 (`""` or
//!   `/a/0/b`, `~0` and `~1` escapes); `*` is not allowed, since one value
//!   is wanted. Anything else is a [`GroupByError`] in words.
//! - [`GroupBy::prefix`] gives the value's part of a group signature,
//!   `[input:/lang "en"]`: the value as compact JSON (`(absent)` when the
//!   pointer selects nothing), cut to [`MAX_VALUE_BYTES`] bytes at a
//!   character boundary (then `…`) and escaped for a terminal
//!   ([`crate::util::escape`]), so captured text never reaches one raw.
//!   The group is then (that value, the content signature): one cause
//!   seen under two values is two groups, each naming its value, which is
//!   what a reviewer asks for when content alone lumps records together.
//! - Pure: no state is kept between records.

use super::pointer::{parse_pointer, Token};
use crate::model::Answer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Bytes of a by-value shown in a group signature at most.
pub const MAX_VALUE_BYTES: usize = 64;

/// What splits groups besides content (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum GroupBy {
    /// Content alone.
    #[default]
    Signature,
    /// The record's routing key.
    Key,
    /// The value at this JSON Pointer into the input.
    Input(String),
    /// The value at this JSON Pointer in the legacy's (else the
    /// candidate's) output.
    Output(String),
}

/// A `group_by` that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GroupByError(String);

impl std::str::FromStr for GroupBy {
    type Err = GroupByError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let pointer = |p: &str| -> Result<String, GroupByError> {
            let tokens = parse_pointer(p).map_err(GroupByError)?;
            if tokens.contains(&Token::Any) {
                return Err(GroupByError(format!(
                    "{text:?}: `*` selects many values; group by one (write the index or key)"
                )));
            }
            Ok(p.to_owned())
        };
        match text {
            "signature" => Ok(GroupBy::Signature),
            "key" => Ok(GroupBy::Key),
            _ => match text.split_once(':') {
                Some(("input", p)) => Ok(GroupBy::Input(pointer(p)?)),
                Some(("output", p)) => Ok(GroupBy::Output(pointer(p)?)),
                _ => Err(GroupByError(format!(
                    "{text:?} is not a grouping: use signature, key, input:/POINTER or output:/POINTER"
                ))),
            },
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupBy::Signature => f.write_str("signature"),
            GroupBy::Key => f.write_str("key"),
            GroupBy::Input(p) => write!(f, "input:{p}"),
            GroupBy::Output(p) => write!(f, "output:{p}"),
        }
    }
}

impl From<GroupBy> for String {
    fn from(by: GroupBy) -> String {
        by.to_string()
    }
}

impl TryFrom<String> for GroupBy {
    type Error = GroupByError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

/// What [`GroupBy::prefix`] reads of one record.
pub struct ByRecord<'a> {
    pub key: Option<&'a str>,
    /// The record's input as JSON text.
    pub input: &'a str,
    pub legacy: &'a Answer,
    pub candidate: &'a Answer,
}

impl GroupBy {
    /// The by-value's part of a group signature, `None` for
    /// [`GroupBy::Signature`] (see the module docs).
    pub fn prefix(&self, record: &ByRecord<'_>) -> Option<String> {
        let output = |answer: &Answer, p: &str| match answer {
            Answer::Output(v) => v.pointer(p).cloned(),
            _ => None,
        };
        let value = match self {
            GroupBy::Signature => return None,
            GroupBy::Key => match record.key {
                Some(k) => Some(Value::String(k.to_owned())),
                None => return Some(format!("[{self} (no key)]")),
            },
            GroupBy::Input(p) => serde_json::from_str::<Value>(record.input)
                .ok()
                .and_then(|v| v.pointer(p).cloned()),
            GroupBy::Output(p) => output(record.legacy, p).or_else(|| output(record.candidate, p)),
        };
        let shown = match value {
            Some(v) => cut(v.to_string()),
            None => "(absent)".to_owned(),
        };
        Some(format!("[{self} {}]", crate::util::escape::escape(&shown)))
    }
}

/// `text` cut to [`MAX_VALUE_BYTES`] at a character boundary, `…` after a cut.
fn cut(mut text: String) -> String {
    if text.len() > MAX_VALUE_BYTES {
        let mut end = MAX_VALUE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record<'a>(input: &'a str, legacy: &'a Answer, candidate: &'a Answer) -> ByRecord<'a> {
        ByRecord {
            key: Some("user-1"),
            input,
            legacy,
            candidate,
        }
    }

    #[test]
    fn spellings_read_back_as_written() {
        for text in ["signature", "key", "input:/lang", "output:/a/0", "input:"] {
            let by: GroupBy = text.parse().unwrap();
            assert_eq!(by.to_string(), text);
        }
        for bad in [
            "",
            "sig",
            "input:lang",
            "input:/a/*",
            "output:/a~2",
            "body:/a",
        ] {
            assert!(bad.parse::<GroupBy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_prefix_names_the_value_bounded_and_escaped() {
        let legacy = Answer::output(json!({"lang": "en"}));
        let candidate = Answer::output(json!({"lang": "fr", "only": 1}));
        let long = format!(r#"{{"lang": "{}", "evil": "\u001b[31m"}}"#, "x".repeat(200));
        let input = r#"{"lang": "de", "evil": "\u001b[31m"}"#;
        let at = |by: &str, input: &str| {
            by.parse::<GroupBy>()
                .unwrap()
                .prefix(&record(input, &legacy, &candidate))
        };
        assert_eq!(at("signature", input), None);
        assert_eq!(at("input:/lang", input).unwrap(), r#"[input:/lang "de"]"#);
        assert_eq!(at("input:/nope", input).unwrap(), "[input:/nope (absent)]");
        assert_eq!(at("output:/lang", input).unwrap(), r#"[output:/lang "en"]"#);
        assert_eq!(at("output:/only", input).unwrap(), "[output:/only 1]");
        assert_eq!(at("key", input).unwrap(), r#"[key "user-1"]"#);
        let cut = at("input:/lang", &long).unwrap();
        assert!(
            cut.len() < MAX_VALUE_BYTES + 30 && cut.contains('…'),
            "{cut}"
        );
        let evil = at("input:/evil", input).unwrap();
        assert!(!evil.contains('\u{1b}'), "{evil}");
    }
}
