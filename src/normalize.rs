//! The new implementation of the `normalize` service: a faithful Rust port of
//! `legacy/normalize.py`, usable in-process (`builtin:normalize`).
//!
//! # Contract
//! - Input: any JSON document, given as its text ([`RawValue`]). The service is
//!   meant for `{"items": [string, ...]}`.
//! - Output: `{"accepted": [...], "rejected": [...]}`. Each item is stripped of
//!   leading and trailing whitespace *as Python's `str.strip()` defines it*; an
//!   item that is empty after stripping goes to `rejected` unchanged, every other
//!   item goes to `accepted` stripped, both in input order.
//! - Errors: the legacy code validates nothing and raises whatever Python raises.
//!   The port reproduces the same exception type and message (CPython 3.11
//!   wording) for every input, so the harness compares error for error:
//!   a non-string item gives `AttributeError: '<type>' object has no attribute
//!   'strip'`, a missing `items` gives `KeyError: 'items'`, a non-object input or
//!   a non-iterable `items` gives the matching `TypeError`. Like Python, a string
//!   `items` is iterated by character and an object `items` by key (first
//!   occurrence order), and when a key repeats the last value wins.
//!
//! # Whitespace
//! Python's `str.isspace()` set is Unicode `White_Space` **plus** the four
//! information separators U+001C..U+001F. Rust's `char::is_whitespace` and
//! `str::trim` use `White_Space` only. [`Whitespace::Python`] is the faithful
//! port; [`Whitespace::Unicode`] (`builtin:normalize-naive`) is the first-draft
//! port that used `str::trim`, kept so the README's worked example can show the
//! harness catching the divergence.
//!
//! # Non-goals
//! Integers and floats are told apart from the JSON text (`1` is an `int`, `1.0`
//! and `1e3` are `float`), which is all the error messages need; numbers never
//! reach the output.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::fmt;

/// Which characters count as whitespace when stripping an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whitespace {
    /// Python's `str.isspace()`: Unicode `White_Space` plus U+001C..U+001F.
    Python,
    /// Unicode `White_Space` only, as Rust's `str::trim` (the naive port).
    Unicode,
}

impl Whitespace {
    /// Whether `c` is stripped under this definition.
    pub fn contains(self, c: char) -> bool {
        match self {
            Whitespace::Python => c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c),
            Whitespace::Unicode => c.is_whitespace(),
        }
    }
}

/// An exception as the legacy Python code would raise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyException {
    /// The exception class name, e.g. `AttributeError`.
    pub kind: &'static str,
    /// `str(exception)`.
    pub message: String,
}

impl PyException {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        PyException {
            kind,
            message: message.into(),
        }
    }
}

/// Runs the faithful port on one input document.
///
/// ```
/// use cutover::normalize::normalize;
/// use serde_json::{json, value::RawValue};
///
/// let input = RawValue::from_string(r#"{"items": [" a ", "\u001f", "b"]}"#.to_owned()).unwrap();
/// assert_eq!(normalize(&input).unwrap(), json!({"accepted": ["a", "b"], "rejected": ["\u{1f}"]}));
///
/// let bad = RawValue::from_string(r#"{"items": [1]}"#.to_owned()).unwrap();
/// let err = normalize(&bad).unwrap_err();
/// assert_eq!((err.kind, err.message.as_str()), ("AttributeError", "'int' object has no attribute 'strip'"));
/// ```
pub fn normalize(input: &RawValue) -> Result<Value, PyException> {
    normalize_with(input, Whitespace::Python)
}

/// Runs the port with the given whitespace definition.
pub fn normalize_with(input: &RawValue, whitespace: Whitespace) -> Result<Value, PyException> {
    // Fast path, one parse, strings borrowed where they have no escapes: an
    // object whose one `items` key holds only strings (other keys are ignored,
    // as Python ignores them). Anything else (a repeated `items`, a non-string
    // item, no `items`) fails to deserialize here and takes the general path,
    // which reproduces Python's behaviour for it.
    if let Ok(fast) = serde_json::from_str::<FastPayload<'_>>(input.get()) {
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for Borrowed(item) in fast.items {
            match item.trim_matches(|c| whitespace.contains(c)) {
                "" => rejected.push(Value::String(item.into_owned())),
                stripped => accepted.push(Value::String(stripped.to_owned())),
            }
        }
        return Ok(json!({ "accepted": accepted, "rejected": rejected }));
    }
    let items = match PyValue::parse(input) {
        PyValue::Dict(entries) => entries
            .into_iter()
            .rev()
            .find(|(key, _)| key == "items")
            .map(|(_, value)| value)
            .ok_or_else(|| PyException::new("KeyError", "'items'"))?,
        PyValue::List(_) => {
            return Err(PyException::new(
                "TypeError",
                "list indices must be integers or slices, not str",
            ))
        }
        PyValue::Str(_) => {
            return Err(PyException::new(
                "TypeError",
                "string indices must be integers, not 'str'",
            ))
        }
        other => {
            return Err(PyException::new(
                "TypeError",
                format!("'{}' object is not subscriptable", other.type_name()),
            ))
        }
    };
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    let mut take = |item: PyValue<'_>| -> Result<(), PyException> {
        let PyValue::Str(text) = item else {
            return Err(PyException::new(
                "AttributeError",
                format!("'{}' object has no attribute 'strip'", item.type_name()),
            ));
        };
        let stripped = text.trim_matches(|c| whitespace.contains(c));
        if stripped.is_empty() {
            rejected.push(Value::String(text));
        } else {
            accepted.push(Value::String(stripped.to_owned()));
        }
        Ok(())
    };
    match PyValue::parse(items) {
        PyValue::List(elements) => {
            for element in elements {
                take(PyValue::parse(element))?;
            }
        }
        PyValue::Str(text) => {
            for c in text.chars() {
                take(PyValue::Str(c.to_string()))?;
            }
        }
        PyValue::Dict(entries) => {
            let mut seen = std::collections::HashSet::new();
            for (key, _) in entries {
                if seen.insert(key.clone()) {
                    take(PyValue::Str(key))?;
                }
            }
        }
        other => {
            return Err(PyException::new(
                "TypeError",
                format!("'{}' object is not iterable", other.type_name()),
            ))
        }
    }
    Ok(json!({ "accepted": accepted, "rejected": rejected }))
}

/// The common shape, `{"items": [string, ...], ...}`, parsed in one pass.
#[derive(serde::Deserialize)]
struct FastPayload<'a> {
    #[serde(borrow)]
    items: Vec<Borrowed<'a>>,
}

/// A string borrowed from the input when it has no escapes.
#[derive(serde::Deserialize)]
struct Borrowed<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

/// A JSON value seen the way Python's `json.loads` types it, one level deep.
enum PyValue<'a> {
    Str(String),
    Int,
    Float,
    Bool,
    None,
    List(Vec<&'a RawValue>),
    /// Entries in document order, duplicates kept.
    Dict(Vec<(String, &'a RawValue)>),
}

impl<'a> PyValue<'a> {
    /// Classifies a raw JSON value. The text is valid JSON (it came out of
    /// serde_json), so parsing the inner level cannot fail; if it ever did, the
    /// value is treated as `None`, which yields a Python-style error, not a panic.
    fn parse(raw: &'a RawValue) -> PyValue<'a> {
        let text = raw.get().trim_start();
        match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str(text).map_or(PyValue::None, PyValue::Str),
            Some(b'[') => serde_json::from_str(text).map_or(PyValue::None, PyValue::List),
            Some(b'{') => {
                let mut de = serde_json::Deserializer::from_str(text);
                de.deserialize_map(EntriesVisitor)
                    .map_or(PyValue::None, PyValue::Dict)
            }
            Some(b't' | b'f') => PyValue::Bool,
            Some(b'n') | None => PyValue::None,
            Some(_) if text.contains(['.', 'e', 'E']) => PyValue::Float,
            Some(_) => PyValue::Int,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            PyValue::Str(_) => "str",
            PyValue::Int => "int",
            PyValue::Float => "float",
            PyValue::Bool => "bool",
            PyValue::None => "NoneType",
            PyValue::List(_) => "list",
            PyValue::Dict(_) => "dict",
        }
    }
}

/// Collects an object's entries in order, keeping duplicate keys (serde_json's
/// `Map` would silently merge them, and Python's ordering rules need them).
struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
            entries.push(entry);
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> Result<Value, PyException> {
        normalize(&RawValue::from_string(input.to_owned()).unwrap())
    }

    #[test]
    fn strips_and_splits() {
        assert_eq!(
            run(r#"{"items":[" a ","  ","b",""]}"#).unwrap(),
            json!({"accepted": ["a", "b"], "rejected": ["  ", ""]})
        );
    }

    #[test]
    fn information_separators_are_python_whitespace() {
        let input =
            RawValue::from_string(r#"{"items":["\u001ca\u001f","\u001d"]}"#.into()).unwrap();
        assert_eq!(
            normalize(&input).unwrap(),
            json!({"accepted": ["a"], "rejected": ["\u{1d}"]})
        );
        assert_eq!(
            normalize_with(&input, Whitespace::Unicode).unwrap(),
            json!({"accepted": ["\u{1c}a\u{1f}", "\u{1d}"], "rejected": []})
        );
    }

    #[test]
    fn python_errors_are_reproduced() {
        let cases = [
            (
                r#"{"items":[1]}"#,
                "AttributeError",
                "'int' object has no attribute 'strip'",
            ),
            (
                r#"{"items":["a",1.5]}"#,
                "AttributeError",
                "'float' object has no attribute 'strip'",
            ),
            (
                r#"{"items":[null]}"#,
                "AttributeError",
                "'NoneType' object has no attribute 'strip'",
            ),
            (
                r#"{"items":[[]]}"#,
                "AttributeError",
                "'list' object has no attribute 'strip'",
            ),
            (
                r#"{"items":[{}]}"#,
                "AttributeError",
                "'dict' object has no attribute 'strip'",
            ),
            (
                r#"{"items":[true]}"#,
                "AttributeError",
                "'bool' object has no attribute 'strip'",
            ),
            (
                r#"{"items":[100000000000000000000000]}"#,
                "AttributeError",
                "'int' object has no attribute 'strip'",
            ),
            (r#"{}"#, "KeyError", "'items'"),
            (
                r#"[]"#,
                "TypeError",
                "list indices must be integers or slices, not str",
            ),
            (
                r#""x""#,
                "TypeError",
                "string indices must be integers, not 'str'",
            ),
            (r#"3"#, "TypeError", "'int' object is not subscriptable"),
            (
                r#"null"#,
                "TypeError",
                "'NoneType' object is not subscriptable",
            ),
            (
                r#"{"items":null}"#,
                "TypeError",
                "'NoneType' object is not iterable",
            ),
            (
                r#"{"items":2e3}"#,
                "TypeError",
                "'float' object is not iterable",
            ),
        ];
        for (input, kind, message) in cases {
            let err = run(input).unwrap_err();
            assert_eq!(
                (err.kind, err.message.as_str()),
                (kind, message),
                "input {input}"
            );
        }
    }

    #[test]
    fn python_iteration_quirks() {
        assert_eq!(
            run(r#"{"items":"a b"}"#).unwrap(),
            json!({"accepted": ["a", "b"], "rejected": [" "]})
        );
        assert_eq!(
            run(r#"{"items":{" k ":1," ":2," k ":3}}"#).unwrap(),
            json!({"accepted": ["k"], "rejected": [" "]})
        );
        assert_eq!(
            run(r#"{"items":[1],"items":["x"]}"#).unwrap(),
            json!({"accepted": ["x"], "rejected": []})
        );
    }
}
