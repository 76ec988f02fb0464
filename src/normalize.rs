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
//! # Two answers: a `Value` or JSON text
//! [`normalize_with`] answers with a `serde_json::Value`; [`normalize_text_with`]
//! with the same output as JSON text. Guarantee: for every input, the text
//! parses to exactly the `Value` that [`normalize_with`] returns, and the error
//! is exactly the same [`PyException`]. The text is valid JSON but not
//! canonical: it keeps the input's spelling of what it copies (`\u00e9` stays
//! six bytes), so compare it as JSON, not byte for byte with another side.
//! [`normalize_text_of_strict`] is the text answer for an input already known
//! to hold no lone surrogate escape (the capture reader's, which rejects
//! them): the same answer, without the pass that rules them out; of any
//! other input its text is unspecified, so only callers that checked use it
//! (`builtin:normalize` does when the record says its input is strict).
//!
//! # How it runs
//! The common shape (an object with one `items` array of strings) is scanned
//! by hand in one pass. For a `Value`, strings without escapes are borrowed
//! from the input and copied once, stripped; escaped ones are unescaped once
//! into their own buffer and stripped in place. For text nothing is unescaped:
//! each item's ends are decoded (a raw character or an escape; a surrogate
//! pair is one character, never whitespace) to find what stripping keeps, every
//! escape in between is checked but left as it is, and the kept bytes are
//! copied raw between quotes (an unchanged item in one copy, quotes included;
//! an item empty after stripping goes to `rejected` as spelled). Everything
//! else (a non-string item, a repeated `items`, a lone surrogate, any other
//! type) goes through serde_json one level at a time, which reproduces
//! Python's behaviour; the text answer is then that `Value` serialized. A
//! property test holds both fast paths and the whole port against a plain
//! reference implementation, and the text answer against the `Value` answer.
//!
//! # Non-goals
//! Integers and floats are told apart from the JSON text (`1` is an `int`, `1.0`
//! and `1e3` are `float`), which is all the error messages need; numbers never
//! reach the output.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

use crate::model::{lone_surrogate, valid};
use crate::util::json::unescape_short;

/// Which characters count as whitespace when stripping an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whitespace {
    /// Python's `str.isspace()`: Unicode `White_Space` plus U+001C..U+001F.
    Python,
    /// Unicode `White_Space` only, as Rust's `str::trim` (the naive port).
    Unicode,
}

impl Whitespace {
    /// Whether `c` is stripped under this definition. Unicode's
    /// `White_Space` is written out (it has not changed since Unicode 6.3,
    /// and a test holds it to [`char::is_whitespace`] for every character):
    /// most characters are then judged by one or two comparisons, where
    /// `is_whitespace` looks every non-ASCII one up in a table (8% of
    /// `normalize`'s instructions).
    #[inline]
    pub fn contains(self, c: char) -> bool {
        match u32::from(c) {
            0x21..=0x84 => false,
            0x09..=0x0d
            | 0x20
            | 0x85
            | 0xa0
            | 0x1680
            | 0x2000..=0x200a
            | 0x2028
            | 0x2029
            | 0x202f
            | 0x205f
            | 0x3000 => true,
            0x1c..=0x1f => self == Whitespace::Python,
            _ => false,
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
    // Fast path: the common shape, an object whose one `items` key holds only
    // strings (other keys are skipped, as Python ignores them), scanned in one
    // pass by hand. Anything else (a repeated `items`, a non-string item, no
    // `items`) takes the general path, which reproduces Python's behaviour
    // for it.
    if let Some(output) = fast_path(input.get(), whitespace) {
        return Ok(output);
    }
    general_path(input, whitespace)
}

/// Runs the faithful port and answers with the output's JSON text; see
/// [`normalize_text_with`].
///
/// ```
/// use cutover::normalize::{normalize, normalize_text};
/// use serde_json::{value::RawValue, Value};
///
/// let input = RawValue::from_string(r#"{"items": ["\u3000caf\u00e9 ", "\t"]}"#.to_owned()).unwrap();
/// let text = normalize_text(&input).unwrap();
/// assert_eq!(text, r#"{"accepted":["caf\u00e9"],"rejected":["\t"]}"#);
/// assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), normalize(&input).unwrap());
/// ```
pub fn normalize_text(input: &RawValue) -> Result<String, PyException> {
    normalize_text_with(input, Whitespace::Python)
}

/// Runs the port with the given whitespace definition and answers with the
/// output's JSON text, `{"accepted":[...],"rejected":[...]}`.
///
/// For every input, the `Ok` text parses to exactly the `Value` that
/// [`normalize_with`] returns, and the `Err` is exactly the same exception.
/// The text need not be byte for byte what `serde_json` (or Python) would
/// write: on the common shape it is cut from the input's own text, escapes
/// kept as the input spelled them.
pub fn normalize_text_with(
    input: &RawValue,
    whitespace: Whitespace,
) -> Result<String, PyException> {
    text_or_general(input, whitespace, Surrogates::Unchecked)
}

/// [`normalize_text_with`] for an input already known to hold no lone
/// surrogate escape, as every input the capture reader hands over is (it
/// rejects lines with one, `cutover::traffic::strict`): the pass over the
/// input that rules them out is skipped, a quarter of the text path's
/// work. The answer is the same for every such input. Given an input that
/// does hold a lone surrogate escape, the `Ok` text may hold it too, and
/// then does not read as a `Value`: only callers that checked may use
/// this.
pub fn normalize_text_of_strict(
    input: &RawValue,
    whitespace: Whitespace,
) -> Result<String, PyException> {
    text_or_general(input, whitespace, Surrogates::RuledOut)
}

/// Whether the input's lone surrogates are still to be ruled out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surrogates {
    Unchecked,
    RuledOut,
}

fn text_or_general(
    input: &RawValue,
    whitespace: Whitespace,
    surrogates: Surrogates,
) -> Result<String, PyException> {
    let text = input.get();
    if let Some(answer) = text_path(text, whitespace, surrogates) {
        return Ok(answer);
    }
    // Most inputs off the text path raise; most of those show it in one
    // pass. Only where lone surrogates are ruled out: the general path
    // reads a string with one as no string.
    if surrogates == Surrogates::RuledOut || lone_surrogate(text.as_bytes()).is_none() {
        if let Some(exception) = quick_exception(text) {
            return Err(exception);
        }
    }
    general_path(input, whitespace).map(|value| value.to_string())
}

/// The exception the general path raises for an input (valid JSON, no lone
/// surrogate) whose fault shows in one pass over its text, nothing parsed:
/// not an object; an object without `items`; an `items` that is not a
/// list, a string or an object; or a list of items one of which is not a
/// string (the first such one raises, as Python's loop does). The last
/// `items` counts, as Python's `json.loads` keeps the last of a repeated
/// key. `None` for anything else: no exception, or one left to the general
/// path (a property test holds every `Some` to the general path's answer).
fn quick_exception(text: &str) -> Option<PyException> {
    let mut scan = Scan { text, pos: 0 };
    scan.space();
    if scan.peek()? != b'{' {
        return Some(not_subscriptable(&scan.kind()?));
    }
    scan.pos += 1;
    let mut items = None;
    scan.elements(b'}', |scan| {
        let key = scan.string()?;
        scan.space();
        scan.expect(b':')?;
        scan.space();
        if key == "items" {
            items = Some(scan.pos);
        }
        scan.skip_value()
    })?;
    scan.space();
    if scan.pos != text.len() {
        return None;
    }
    let Some(at) = items else {
        return Some(no_items());
    };
    let mut scan = Scan { text, pos: at };
    if scan.peek()? != b'[' {
        return match scan.kind()? {
            PyValue::Str(_) | PyValue::Dict(_) => None,
            other => Some(not_iterable(&other)),
        };
    }
    scan.pos += 1;
    let mut exception = None;
    scan.elements(b']', |scan| {
        if exception.is_none() && scan.peek()? != b'"' {
            exception = Some(no_strip(&scan.kind()?));
        }
        scan.skip_value()
    })?;
    exception
}

fn no_items() -> PyException {
    PyException::new("KeyError", "'items'")
}

/// Python's exception for `payload["items"]` on a payload that is not a dict.
fn not_subscriptable(payload: &PyValue<'_>) -> PyException {
    match payload {
        PyValue::List(_) => PyException::new(
            "TypeError",
            "list indices must be integers or slices, not str",
        ),
        PyValue::Str(_) => {
            PyException::new("TypeError", "string indices must be integers, not 'str'")
        }
        other => PyException::new(
            "TypeError",
            format!("'{}' object is not subscriptable", other.type_name()),
        ),
    }
}

/// Python's exception for `for item in items` on an `items` it cannot iterate.
fn not_iterable(items: &PyValue<'_>) -> PyException {
    PyException::new(
        "TypeError",
        format!("'{}' object is not iterable", items.type_name()),
    )
}

/// Python's exception for `item.strip()` on an item that is not a string.
fn no_strip(item: &PyValue<'_>) -> PyException {
    PyException::new(
        "AttributeError",
        format!("'{}' object has no attribute 'strip'", item.type_name()),
    )
}

/// Python's semantics for any input, one level at a time through serde_json.
fn general_path(input: &RawValue, whitespace: Whitespace) -> Result<Value, PyException> {
    let items = match PyValue::parse(input) {
        PyValue::Dict(entries) => entries
            .into_iter()
            .rev()
            .find(|(key, _)| key == "items")
            .map(|(_, value)| value)
            .ok_or_else(no_items)?,
        other => return Err(not_subscriptable(&other)),
    };
    let mut output = Output::new(whitespace);
    let mut take = |item: PyValue<'_>| -> Result<(), PyException> {
        let PyValue::Str(text) = item else {
            return Err(no_strip(&item));
        };
        output.push(Cow::Owned(text));
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
        other => return Err(not_iterable(&other)),
    }
    Ok(output.into_value())
}

/// The output being built: items in input order, each stripped into
/// `accepted` or kept unchanged in `rejected`.
struct Output {
    whitespace: Whitespace,
    accepted: Vec<Value>,
    rejected: Vec<Value>,
}

impl Output {
    fn new(whitespace: Whitespace) -> Self {
        Output {
            whitespace,
            accepted: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Files one item. An item that was unescaped into its own buffer is
    /// stripped in that buffer; one borrowed from the input is copied once.
    fn push(&mut self, item: Cow<'_, str>) {
        let whitespace = self.whitespace;
        let start = item.len() - item.trim_start_matches(|c| whitespace.contains(c)).len();
        if start == item.len() {
            self.rejected.push(Value::String(item.into_owned()));
            return;
        }
        let end = item.trim_end_matches(|c| whitespace.contains(c)).len();
        let stripped = match item {
            Cow::Borrowed(text) => text[start..end].to_owned(),
            Cow::Owned(mut text) => {
                text.truncate(end);
                text.drain(..start);
                text
            }
        };
        self.accepted.push(Value::String(stripped));
    }

    fn into_value(self) -> Value {
        // Built by hand: `json!` would serialize (copy) both lists.
        let mut map = serde_json::Map::new();
        map.insert("accepted".to_owned(), Value::Array(self.accepted));
        map.insert("rejected".to_owned(), Value::Array(self.rejected));
        Value::Object(map)
    }
}

/// The common shape, `{"items": [string, ...], ...}`, in one pass over the
/// text: `None` for anything else (and for anything unexpected), so the
/// caller takes the general path. The text is valid JSON ([`RawValue`]
/// guarantees it), which is what lets [`Scan::skip_value`] skip the other
/// keys' values without validating them; every string that reaches the output
/// is fully checked as it is unescaped, and nothing here indexes out of bounds.
fn fast_path(text: &str, whitespace: Whitespace) -> Option<Value> {
    common_shape(text, |scan| scan.items(whitespace)).map(Output::into_value)
}

/// Walks the common shape's object, handing the one `items` value to `items`
/// (which reads it and returns what it built) and skipping every other key's
/// value. `None` for a repeated `items` (Python keeps the last), a missing one,
/// anything after the object, or whatever `items` refuses.
fn common_shape<T>(text: &str, mut items: impl FnMut(&mut Scan<'_>) -> Option<T>) -> Option<T> {
    let mut scan = Scan { text, pos: 0 };
    let mut output = None;
    scan.space();
    scan.expect(b'{')?;
    scan.elements(b'}', |scan| {
        let key = scan.string()?;
        scan.space();
        scan.expect(b':')?;
        scan.space();
        if key != "items" {
            return scan.skip_value();
        }
        if output.is_some() {
            return None; // a repeated `items`: Python keeps the last
        }
        output = Some(items(scan)?);
        Some(())
    })?;
    scan.space();
    if scan.pos != text.len() {
        return None;
    }
    output
}

/// The common shape written straight from the input's text: each item is
/// located in place ([`Scan::item_in_place`]); one that needs no stripping is
/// copied whole, quotes and escapes as they are; a stripped one is its kept
/// middle, still raw, between new quotes; one empty after stripping goes to
/// `rejected` whole. Raw JSON string text between quotes is valid JSON string
/// text, and every cut falls between two characters (or escapes), so the
/// output is valid JSON. `None` wherever [`fast_path`] gives `None`, and for
/// a lone surrogate anywhere in the text (where [`fast_path`] refuses one only
/// in the keys and items): the general path answers those alike. With
/// [`Surrogates::RuledOut`] the caller vouches that there is none, and the
/// text is not searched for one.
fn text_path(text: &str, whitespace: Whitespace, surrogates: Surrogates) -> Option<String> {
    if surrogates == Surrogates::Unchecked && lone_surrogate(text.as_bytes()).is_some() {
        return None;
    }
    // The output is never much longer than the input: its items are cut from
    // the input's, with at most the input's separators.
    let mut out = String::with_capacity(text.len() + 32);
    out.push_str("{\"accepted\":[");
    // Rejected items are rare: kept as where they are in the input until the
    // accepted ones are written.
    let mut rejected: Vec<std::ops::Range<usize>> = Vec::new();
    common_shape(text, |scan| {
        scan.expect(b'[')?;
        let mut first = true;
        scan.elements(b']', |scan| {
            let InPlace { whole, kept } = scan.item_in_place(whitespace)?;
            if kept.is_empty() {
                rejected.push(whole);
                return Some(());
            }
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            if kept.start == whole.start + 1 && kept.end + 1 == whole.end {
                out.push_str(text.get(whole)?);
            } else {
                out.push('"');
                out.push_str(text.get(kept)?);
                out.push('"');
            }
            Some(())
        })
    })?;
    out.push_str("],\"rejected\":[");
    for (n, whole) in rejected.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(text.get(whole)?);
    }
    out.push_str("]}");
    Some(out)
}

/// Where a string item is in the text: `whole` is the string, quotes
/// included; `kept` is its content once stripped (empty: nothing is left).
struct InPlace {
    whole: std::ops::Range<usize>,
    kept: std::ops::Range<usize>,
}

/// A cursor over JSON text (byte offsets; every offset it stops at is a
/// character boundary, since it stops only at ASCII bytes).
struct Scan<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Skips JSON whitespace.
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// The rest of an array or object after its opening bracket: `each`
    /// reads one element (or member); the spacing, the commas and the
    /// closing `close` are read here.
    fn elements(&mut self, close: u8, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.space();
        if self.peek()? != close {
            loop {
                each(self)?;
                self.space();
                if self.peek()? != b',' {
                    break;
                }
                self.pos += 1;
                self.space();
            }
        }
        self.expect(close)
    }

    /// The type of the value at the cursor, for an exception's words (a
    /// string, list or dict as an empty one); the cursor does not move.
    fn kind(&self) -> Option<PyValue<'static>> {
        let rest = self.text.get(self.pos..)?;
        Some(match *rest.as_bytes().first()? {
            b'"' => PyValue::Str(String::new()),
            b'[' => PyValue::List(Vec::new()),
            b'{' => PyValue::Dict(Vec::new()),
            _ => PyValue::scalar(rest),
        })
    }

    /// `[string, ...]`, each string filed into the output as it is read.
    fn items(&mut self, whitespace: Whitespace) -> Option<Output> {
        let mut output = Output::new(whitespace);
        self.expect(b'[')?;
        self.elements(b']', |scan| {
            output.push(scan.string()?);
            Some(())
        })?;
        Some(output)
    }

    /// A string, borrowed from the text when it has no escapes, unescaped into
    /// one buffer otherwise. `None` unless it is a well-formed string whose
    /// escapes all denote characters (a lone surrogate is not one).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut i = start;
        while !matches!(*bytes.get(i)?, b'"' | b'\\' | 0..=0x1f) {
            i += 1;
        }
        if bytes[i] == b'"' {
            self.pos = i + 1;
            return self.text.get(start..i).map(Cow::Borrowed);
        }
        // Unescaped into one buffer: plain text copied a run at a time, each
        // escape pushed as its character. The `\u` escape, by far the most
        // common in `ensure_ascii` traffic, is matched in one bounds check.
        let mut buf = String::with_capacity(2 * (i - start) + 32);
        buf.push_str(self.text.get(start..i)?);
        loop {
            match *bytes.get(i)? {
                b'\\' => {
                    let (c, next) = self.escape(i)?;
                    buf.push(c);
                    i = next;
                }
                b'"' => break,
                0..=0x1f => return None, // a control character, not allowed raw
                byte @ 0x20..0x80 => {
                    buf.push(byte as char);
                    i += 1;
                }
                _ => {
                    let run = i;
                    while *bytes.get(i)? >= 0x80 {
                        i += 1;
                    }
                    buf.push_str(self.text.get(run..i)?);
                }
            }
        }
        self.pos = i + 1;
        Some(Cow::Owned(buf))
    }

    /// The escape whose backslash is at byte `i`: its character and the
    /// offset after it. The `\u` escape, by far the most common in
    /// `ensure_ascii` traffic, is matched in one bounds check; a surrogate pair
    /// is one character. `None` for a lone surrogate or a bad escape. Always
    /// inlined: out of line, the `Value` path cost 11,962 instructions a
    /// record on the bundled capture instead of 11,007.
    #[inline(always)]
    fn escape(&self, i: usize) -> Option<(char, usize)> {
        let bytes = self.text.as_bytes();
        match bytes.get(i + 1..i + 6) {
            Some(&[b'u', a, b, c, d]) => {
                let unit = valid::hex_digits([a, b, c, d])?;
                if (0xd800..0xe000).contains(&unit) {
                    Some((surrogate_pair(unit, bytes.get(i + 6..i + 12)?)?, i + 12))
                } else {
                    Some((char::from_u32(unit)?, i + 6))
                }
            }
            _ => Some((unescape_short(*bytes.get(i + 1)?)?, i + 2)),
        }
    }

    /// The character that starts at byte `i` of a string's content (raw or
    /// escaped) and the offset after it; `None` for a raw control character
    /// and wherever [`Scan::escape`] gives `None`.
    fn character(&self, i: usize) -> Option<(char, usize)> {
        match *self.text.as_bytes().get(i)? {
            b'\\' => self.escape(i),
            0..=0x1f => None,
            byte @ 0x20..0x80 => Some((byte as char, i + 1)),
            _ => {
                let c = self.text.get(i..)?.chars().next()?;
                Some((c, i + c.len_utf8()))
            }
        }
    }

    /// A string read in place, without unescaping it: only the characters at
    /// its ends are decoded, to strip them (the trailing ones backwards, see
    /// [`Scan::character_before`]); in between, only the closing quote is
    /// looked for (memchr). The caller has made sure the whole text has no
    /// lone surrogate ([`lone_surrogate`]), and the text is valid JSON
    /// ([`RawValue`] guarantees it), so the escapes in between need no check.
    fn item_in_place(&mut self, whitespace: Whitespace) -> Option<InPlace> {
        let open = self.pos;
        self.expect(b'"')?;
        let bytes = self.text.as_bytes();
        let mut i = self.pos;
        // The leading whitespace, one character at a time.
        let start = loop {
            if *bytes.get(i)? == b'"' {
                self.pos = i + 1;
                return Some(InPlace {
                    whole: open..self.pos,
                    kept: i..i,
                });
            }
            let (c, next) = self.character(i)?;
            if !whitespace.contains(c) {
                break i;
            }
            i = next;
        };
        // The closing quote: the first `"` that no escape's backslash is
        // before. (Surrogates were checked for the whole input by
        // `text_path`, so nothing in between needs decoding.)
        loop {
            i += memchr::memchr(b'"', bytes.get(i..)?)?;
            if !starts_escape(bytes, open + 1, i - 1) {
                break;
            }
            i += 1;
        }
        let close = i;
        self.pos = close + 1;
        // The trailing whitespace, one character at a time back from the
        // quote. It stops at the latest at `start`, a character that is not
        // whitespace.
        let mut end = close;
        loop {
            let (c, before) = self.character_before(open + 1, end)?;
            if !whitespace.contains(c) {
                break;
            }
            end = before;
        }
        Some(InPlace {
            whole: open..self.pos,
            kept: start..end,
        })
    }

    /// The character of a string's content (which starts at byte `content`)
    /// that ends at byte `end`, a character boundary, and where it starts;
    /// `end == content` gives the opening quote. An escape-shaped tail is an
    /// escape when its backslash [starts one](starts_escape). A surrogate
    /// pair's low half stands
    /// for the pair as U+FFFD (the pair is never whitespace, and the caller
    /// stops at it).
    fn character_before(&self, content: usize, end: usize) -> Option<(char, usize)> {
        let bytes = self.text.as_bytes();
        let last = *bytes.get(end.checked_sub(1)?)?;
        if last >= 0x80 {
            let c = self.text.get(..end)?.chars().next_back()?;
            return Some((c, end - c.len_utf8()));
        }
        let escape_at = |at: usize| at >= content && starts_escape(bytes, content, at);
        if end >= content + 6 && bytes.get(end - 5) == Some(&b'u') && escape_at(end - 6) {
            let &[a, b, c, d] = bytes.get(end - 4..end)? else {
                return None;
            };
            let unit = valid::hex_digits([a, b, c, d])?;
            let c = match char::from_u32(unit) {
                Some(c) => c,
                None if (0xdc00..0xe000).contains(&unit) => char::REPLACEMENT_CHARACTER,
                None => return None,
            };
            return Some((c, end - 6));
        }
        if end >= content + 2 && escape_at(end - 2) {
            return Some((unescape_short(last)?, end - 2));
        }
        Some((last as char, end - 1))
    }

    /// Skips one value of valid JSON: a scalar up to the `,` or `}` after it,
    /// or a whole array or object.
    fn skip_value(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => loop {
                    self.pos += 1;
                    match self.peek()? {
                        b'"' => break,
                        b'\\' => self.pos += 1,
                        _ => {}
                    }
                },
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth == 0 => return Some(()),
                b']' | b'}' => depth -= 1,
                b',' if depth == 0 => return Some(()),
                _ => {}
            }
            self.pos += 1;
            if depth == 0 && matches!(self.peek(), Some(b',' | b'}')) {
                return Some(());
            }
        }
    }
}

/// Whether the backslash at `at` starts an escape (`false` if there is none
/// there). In JSON string text a raw backslash starts an escape or is the
/// second half of `\\\\`, so it starts one exactly when an odd number of
/// backslashes end at it; the run is counted back no further than `from`.
fn starts_escape(bytes: &[u8], from: usize, at: usize) -> bool {
    bytes
        .get(from..=at)
        .is_some_and(|run| run.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1)
}

/// The character of a UTF-16 surrogate pair: `high` (already read, in
/// U+D800..U+DFFF) and `next`, the six bytes after it, which must be the low
/// half's `\uXXXX`. `None` for a lone surrogate of either kind.
fn surrogate_pair(high: u32, next: &[u8]) -> Option<char> {
    let &[b'\\', b'u', a, b, c, d] = next else {
        return None;
    };
    let low = valid::hex_digits([a, b, c, d])?;
    if !(0xd800..0xdc00).contains(&high) || !(0xdc00..0xe000).contains(&low) {
        return None;
    }
    char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00))
}

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
            _ => PyValue::scalar(text),
        }
    }

    /// The type of the scalar (`true`, `false`, `null` or a number) that
    /// `text` starts with; `None` (Python's) for anything else.
    fn scalar(text: &str) -> PyValue<'static> {
        let number = text.bytes().take_while(|b| b"0123456789+-.eE".contains(b));
        match text.as_bytes().first() {
            Some(b't' | b'f') => PyValue::Bool,
            Some(b'0'..=b'9' | b'-') if number.clone().any(|b| b"eE.".contains(&b)) => {
                PyValue::Float
            }
            Some(b'0'..=b'9' | b'-') => PyValue::Int,
            _ => PyValue::None,
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
    use serde_json::json;

    fn run(input: &str) -> Result<Value, PyException> {
        normalize(&RawValue::from_string(input.to_owned()).unwrap())
    }

    /// Each fault found in one pass raises what the general path raises.
    #[test]
    fn quick_exceptions_name_what_python_names() {
        let quick = |text: &str| {
            let e =
                quick_exception(text).unwrap_or_else(|| panic!("no quick exception for {text}"));
            let input = RawValue::from_string(text.to_owned()).unwrap();
            assert_eq!(
                general_path(&input, Whitespace::Python),
                Err(e.clone()),
                "{text}"
            );
            format!("{}: {}", e.kind, e.message)
        };
        for (text, raised) in [
            (r#" {"other": ["x"]} "#, "KeyError: 'items'"),
            ("null", "TypeError: 'NoneType' object is not subscriptable"),
            ("-1.5e3", "TypeError: 'float' object is not subscriptable"),
            ("12", "TypeError: 'int' object is not subscriptable"),
            (
                r#"[" a "]"#,
                "TypeError: list indices must be integers or slices, not str",
            ),
            (
                r#""items""#,
                "TypeError: string indices must be integers, not 'str'",
            ),
            (
                r#"{"items": 10000000000000000000000000}"#,
                "TypeError: 'int' object is not iterable",
            ),
            (
                r#"{"items": 3.5, "x": 1}"#,
                "TypeError: 'float' object is not iterable",
            ),
            (
                r#"{"items": ["a", " b ", 0.5, null]}"#,
                "AttributeError: 'float' object has no attribute 'strip'",
            ),
            (
                r#"{"items": [[]]}"#,
                "AttributeError: 'list' object has no attribute 'strip'",
            ),
            (
                r#"{"items": [1], "items": true}"#,
                "TypeError: 'bool' object is not iterable",
            ),
        ] {
            assert_eq!(quick(text), raised, "{text}");
        }
        // No exception, or none shown in one pass: the general path's.
        for text in [
            r#"{"items": "ab"}"#,
            r#"{"items": {"k": 1}}"#,
            r#"{"items": ["a"]}"#,
            r#"{"items": [1], "items": ["a"]}"#,
        ] {
            assert_eq!(quick_exception(text), None, "{text}");
        }
    }

    /// The written-out `White_Space` is std's, character for character, and
    /// Python's adds exactly U+001C..U+001F (`str.isspace()`).
    #[test]
    fn whitespace_is_unicodes_for_every_character() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(Whitespace::Unicode.contains(c), c.is_whitespace(), "{c:?}");
            let python = c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
            assert_eq!(Whitespace::Python.contains(c), python, "{c:?}");
        }
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
                r#"{"items":[-0]}"#,
                "AttributeError",
                "'int' object has no attribute 'strip'",
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

    /// Inputs outside the common shape (or with a lone surrogate in an item),
    /// which both fast paths leave to the general path.
    const UNCOMMON: [&str; 12] = [
        r#"{"items":[1]}"#,
        r#"{"items":["a"],"items":["b"]}"#,
        r#"{"\u0069tems":["a"],"items":["b"]}"#,
        r#"{"items":["\ud800"]}"#,
        r#"{"items":["\udc00x"]}"#,
        r#"{"items":["\ud800\u0041"]}"#,
        r#"{"items":"ab"}"#,
        r#"{"items":{"a":1}}"#,
        r#"{"other":[]}"#,
        r#"{}"#,
        r#"[]"#,
        r#""items""#,
    ];

    #[test]
    fn the_fast_path_takes_the_common_shape_and_leaves_the_rest() {
        let fast = |text: &str| fast_path(text, Whitespace::Python);
        let common = [
            r#"{"items":[" a ","\u2003","b\u00e9\t"]}"#,
            r#" { "items" : [ ] } "#,
            r#"{"meta":{"items":[1],"s":"}\"]"},"items":["x"],"n":[1.5,{"a":null}]}"#,
            r#"{"\u0069d":"x","items":["\ud83d\ude42 ","\"\\\/\b\f\n\r\t"]}"#,
        ];
        for text in common {
            let expected = reference(text, Whitespace::Python).unwrap();
            assert_eq!(fast(text), Some(expected), "{text}");
        }
        for text in UNCOMMON {
            assert_eq!(fast(text), None, "{text}");
        }
    }

    /// Whether the text path answers `input` exactly as the `Value` path does:
    /// the same exception, or text that parses to the same `Value`.
    fn text_agrees(input: &RawValue, whitespace: Whitespace) -> Result<(), String> {
        let value = normalize_with(input, whitespace);
        let text = normalize_text_with(input, whitespace);
        // What the strict capture reader hands over, the same answer.
        if lone_surrogate(input.get().as_bytes()).is_none() {
            let strict = normalize_text_of_strict(input, whitespace);
            if strict != text {
                return Err(format!(
                    "input {} ({whitespace:?}): of a strict input {strict:?}, else {text:?}",
                    input.get()
                ));
            }
        }
        let parsed = match &text {
            Ok(text) => Ok(serde_json::from_str::<Value>(text)
                .map_err(|e| format!("{e}: text {text} for input {}", input.get()))?),
            Err(e) => Err(e.clone()),
        };
        if parsed == value {
            Ok(())
        } else {
            Err(format!(
                "input {} ({whitespace:?}): text path {text:?}, value path {value:?}",
                input.get()
            ))
        }
    }

    #[test]
    fn the_text_path_cuts_items_from_the_input_text() {
        let py = |text: &str| text_path(text, Whitespace::Python, Surrogates::Unchecked);
        let cases = [
            // Unchanged items are copied as spelled, escapes and all.
            (
                r#"{"items":["caf\u00e9","a\"b\\c\/d","\ud83d\ude42"]}"#,
                r#"{"accepted":["caf\u00e9","a\"b\\c\/d","\ud83d\ude42"],"rejected":[]}"#,
            ),
            // Whitespace at the ends, raw or escaped, is cut; the middle kept raw.
            (
                r#"{"items":[" \u3000caf\u00e9 \u00e9\t", "\u001cx\u001F", "\n\r\t x y\f\u000b\u000C"]}"#,
                r#"{"accepted":["caf\u00e9 \u00e9","x","x y"],"rejected":[]}"#,
            ),
            (
                "{\"items\":[\"\u{3000}\u{85}a\u{2028}b\u{a0}\u{1680}\\u001f\"]}",
                "{\"accepted\":[\"a\u{2028}b\"],\"rejected\":[]}",
            ),
            // A surrogate pair is never whitespace; `\b` is not either.
            (
                r#"{"items":[" \ud83d\ude42 ","\b \b"]}"#,
                r#"{"accepted":["\ud83d\ude42","\b \b"],"rejected":[]}"#,
            ),
            // A backslash starts an escape only after an even number of others.
            (
                r#"{"items":["x\\u0020","x\\\u0020","\\\\\t","\u005c\u0020"]}"#,
                r#"{"accepted":["x\\u0020","x\\","\\\\","\u005c"],"rejected":[]}"#,
            ),
            // An escaped quote does not end a string; an escaped backslash
            // before a quote does not escape it.
            (
                r#"{"items":["\"a\" ","\\","b\\\" \\\\"]}"#,
                r#"{"accepted":["\"a\"","\\","b\\\" \\\\"],"rejected":[]}"#,
            ),
            // Surrogate pairs anywhere are fine, as are `\ud` look-alikes.
            (
                r#"{"k":"\ud83d\ude42","items":["\\ud800 \uD83D\uDE42\t","\ud7ff"]}"#,
                r#"{"accepted":["\\ud800 \uD83D\uDE42","\ud7ff"],"rejected":[]}"#,
            ),
            // Empty after stripping: rejected as spelled, in order.
            (
                r#"{"items":["a","\u3000 ","",  "\t\u001c" , "b"]}"#,
                r#"{"accepted":["a","b"],"rejected":["\u3000 ","","\t\u001c"]}"#,
            ),
            (
                r#" { "x" : [1, {"items": 2}] , "items" : [ ] } "#,
                r#"{"accepted":[],"rejected":[]}"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(py(input).as_deref(), Some(expected), "{input}");
            let input = RawValue::from_string(input.to_owned()).unwrap();
            for whitespace in [Whitespace::Python, Whitespace::Unicode] {
                text_agrees(&input, whitespace).unwrap();
            }
        }
        // The separators are whitespace to Python only.
        let unicode = text_path(
            r#"{"items":["\u001cx ","\u001f"]}"#,
            Whitespace::Unicode,
            Surrogates::Unchecked,
        );
        assert_eq!(
            unicode.as_deref(),
            Some(r#"{"accepted":["\u001cx","\u001f"],"rejected":[]}"#)
        );
    }

    #[test]
    fn the_text_path_leaves_the_rest_to_the_general_path() {
        // More: a non-string after a string, lone surrogates (anywhere in the
        // text, for the text path), a non-object.
        let more = [
            r#"{"items":["a",null]}"#,
            r#"{"items":["x\udc00"]}"#,
            r#"{"items":["x \ud800\u0041 "]}"#,
            r#"{"items":[" \ude42\ud83d "]}"#,
            r#"{"meta":"\ud800","items":["a"]}"#,
            r#"{"items":["a"],"z":["\\\udc00"]}"#,
            r#"null"#,
        ];
        for text in UNCOMMON.into_iter().chain(more) {
            assert_eq!(
                text_path(text, Whitespace::Python, Surrogates::Unchecked),
                None,
                "{text}"
            );
            let input = RawValue::from_string(text.to_owned()).unwrap();
            for whitespace in [Whitespace::Python, Whitespace::Unicode] {
                text_agrees(&input, whitespace).unwrap();
            }
        }
    }

    /// Every input of the bundled captures (`fixtures/**/*.jsonl`, the
    /// regression files' inputs): the text path answers as the `Value` path.
    #[test]
    fn the_text_path_agrees_with_the_value_path_on_the_bundled_captures() {
        use std::io::BufRead;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut inputs = 0;
        for capture in ["normalize/capture.jsonl", "http/capture.jsonl"] {
            let file = std::fs::File::open(root.join(capture)).unwrap();
            for line in std::io::BufReader::new(file).lines() {
                let record: Record = serde_json::from_str(&line.unwrap()).unwrap();
                for whitespace in [Whitespace::Python, Whitespace::Unicode] {
                    text_agrees(&record.input, whitespace).unwrap();
                }
                inputs += 1;
            }
        }
        for entry in std::fs::read_dir(root.join("regressions")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let record: Record = serde_json::from_str(&text).unwrap();
            text_agrees(&record.input, Whitespace::Python).unwrap();
            inputs += 1;
        }
        assert!(inputs > 5_400, "only {inputs} inputs read");
    }

    /// 50,000 records from the bench's generator (`fixtures/generate.py
    /// --seed 7`, as `scripts/bench` calls it), every one answered alike.
    #[test]
    fn the_text_path_agrees_with_the_value_path_on_bench_records() {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("traffic.jsonl");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = std::process::Command::new("python3")
            .arg(root.join("fixtures/generate.py"))
            .args(["--count", "50000", "--seed", "7", "--out"])
            .arg(&out)
            .status()
            .expect("python3 runs fixtures/generate.py");
        assert!(status.success(), "fixtures/generate.py: {status}");
        let mut inputs = 0;
        for line in std::io::BufReader::new(std::fs::File::open(&out).unwrap()).lines() {
            let record: Record = serde_json::from_str(&line.unwrap()).unwrap();
            text_agrees(&record.input, Whitespace::Python).unwrap();
            inputs += 1;
        }
        // and one record per whitespace character and near miss at the end.
        assert_eq!(inputs, 50_037);
    }

    /// A capture record's input (other fields ignored).
    #[derive(serde::Deserialize)]
    struct Record {
        input: Box<RawValue>,
    }

    /// A deliberately plain reimplementation of the legacy on the common
    /// shapes, sharing nothing with the port: serde_json's `Value` (which keeps
    /// the last of repeated keys, as Python does), and whitespace as explicit
    /// lists of code points (Python's `str.isspace()` set; Unicode `White_Space`).
    fn reference(text: &str, whitespace: Whitespace) -> Result<Value, PyException> {
        const UNICODE: &[u32] = &[
            0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
            0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f,
            0x3000,
        ];
        const SEPARATORS: &[u32] = &[0x1c, 0x1d, 0x1e, 0x1f];
        let space = |c: &char| {
            UNICODE.contains(&(*c as u32))
                || (whitespace == Whitespace::Python && SEPARATORS.contains(&(*c as u32)))
        };
        let value: Value = serde_json::from_str(text).unwrap();
        let Value::Object(map) = value else {
            panic!("the generator makes objects only")
        };
        let Some(items) = map.get("items") else {
            return Err(PyException::new("KeyError", "'items'"));
        };
        // Python iterates a string by character and an object by key (the
        // generator's objects have their keys in sorted order, as `Map` keeps them).
        let items: Vec<Value> = match items {
            Value::Array(items) => items.clone(),
            Value::String(text) => text.chars().map(|c| Value::String(c.into())).collect(),
            Value::Object(map) => map.keys().map(|k| Value::String(k.clone())).collect(),
            _ => panic!("the generator makes no other `items`"),
        };
        let (mut accepted, mut rejected) = (Vec::new(), Vec::new());
        for item in &items {
            let Value::String(item) = item else {
                let kind = match item {
                    Value::Null => "NoneType",
                    Value::Bool(_) => "bool",
                    Value::Number(n) if n.is_f64() => "float",
                    Value::Number(_) => "int",
                    Value::Array(_) => "list",
                    Value::Object(_) => "dict",
                    Value::String(_) => unreachable!(),
                };
                let message = format!("'{kind}' object has no attribute 'strip'");
                return Err(PyException::new("AttributeError", message));
            };
            let mut chars: Vec<char> = item.chars().collect();
            while chars.last().is_some_and(space) {
                chars.pop();
            }
            let lead = chars.iter().take_while(|c| space(c)).count();
            let stripped: String = chars[lead..].iter().collect();
            if stripped.is_empty() {
                rejected.push(Value::String(item.clone()));
            } else {
                accepted.push(Value::String(stripped));
            }
        }
        Ok(json!({ "accepted": accepted, "rejected": rejected }))
    }

    mod differential {
        use super::*;
        use proptest::prelude::*;

        /// Characters that matter: ASCII, every kind of whitespace (both
        /// definitions, the separators where they differ, near misses), JSON's
        /// special characters, controls, multi-byte and astral characters.
        fn arb_char() -> impl Strategy<Value = char> {
            prop_oneof![
                4 => proptest::char::range('a', 'z'),
                3 => proptest::sample::select(vec![
                    ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}',
                    '\u{1f}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2003}', '\u{200a}',
                    '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
                ]),
                2 => proptest::sample::select(vec![
                    '"', '\\', '/', '\u{0}', '\u{1}', '\u{8}', '\u{1b}', '\u{7f}', '\u{200b}',
                    '\u{feff}', '\u{180e}', 'é', 'ß', '東', 'ǅ', '\u{301}', '🙂', '\u{10ffff}',
                    '\u{fffd}', '\u{d7ff}', '\u{e000}',
                ]),
                1 => any::<char>(),
            ]
        }

        /// One character as JSON string content, spelled one of the legal ways
        /// (raw where allowed, `\uXXXX` in either case, surrogate pairs, short escapes).
        fn spell(c: char, how: u8) -> String {
            let hex = |unit: u16| {
                if how & 2 == 0 {
                    format!("\\u{unit:04x}")
                } else {
                    format!("\\u{unit:04X}")
                }
            };
            let short = match c {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '/' => Some("\\/"),
                '\u{8}' => Some("\\b"),
                '\u{c}' => Some("\\f"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                _ => None,
            };
            let must_escape = c < ' ' || c == '"' || c == '\\';
            match (how % 3, short) {
                (0, _) if !must_escape => c.to_string(),
                (1, Some(short)) => short.to_owned(),
                _ => c
                    .encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|&u| hex(u))
                    .collect(),
            }
        }

        fn arb_json_string() -> impl Strategy<Value = String> {
            proptest::collection::vec((arb_char(), any::<u8>()), 0..12).prop_map(|chars| {
                let body: String = chars.into_iter().map(|(c, how)| spell(c, how)).collect();
                format!("\"{body}\"")
            })
        }

        fn arb_space() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[ \t\n\r]{0,2}").unwrap()
        }

        /// An item: mostly strings, sometimes a value that is not one.
        fn arb_item() -> impl Strategy<Value = String> {
            prop_oneof![
                12 => arb_json_string(),
                1 => proptest::sample::select(vec!["1", "-1", "1.5", "2e3", "null", "true", "[]", "{}", "[\"x\"]", "{\"k\": \"v\"}"])
                    .prop_map(str::to_owned),
            ]
        }

        /// A whole input: `{"items": [...]}` with spacing anywhere, keys before and
        /// after `items` (some escaped, some repeating `items`), nested values.
        fn arb_items() -> impl Strategy<Value = String> {
            (
                proptest::collection::vec((arb_item(), arb_space()), 0..6),
                arb_space(),
            )
                .prop_map(|(items, end)| {
                    let body: Vec<String> = items
                        .into_iter()
                        .map(|(item, sp)| format!("{sp}{item}{sp}"))
                        .collect();
                    format!("[{}{end}]", body.join(","))
                })
        }

        /// Another key and its value, before or after `items`.
        fn arb_entry() -> impl Strategy<Value = (String, String)> {
            let key = prop_oneof![
                arb_json_string(),
                Just("\"items\"".to_owned()),
                Just("\"\\u0069tems\"".to_owned()),
                Just("\"item\"".to_owned()),
            ];
            let value = prop_oneof![
                arb_json_string(),
                Just("{\"a\": [1, {\"items\": \"x\"}], \"b\": \"]}\\\"\"}".to_owned()),
                Just("[[], {}, \"\\\\\", -1.5e-3, false, null]".to_owned()),
                arb_items(),
            ];
            (key, value)
        }

        /// A whole input: `{"items": [...]}` with spacing anywhere, keys before and
        /// after `items` (some escaped, some repeating `items`), nested values.
        fn arb_input() -> impl Strategy<Value = String> {
            (
                proptest::collection::vec(arb_entry(), 0..2),
                arb_items(),
                proptest::collection::vec(arb_entry(), 0..2),
                proptest::option::weighted(0.1, arb_items()),
                arb_space(),
            )
                .prop_map(|(before, items, after, again, sp)| {
                    let mut entries: Vec<String> = Vec::new();
                    let pair = |(k, v): (String, String)| format!("{sp}{k}{sp}:{sp}{v}{sp}");
                    entries.extend(before.into_iter().map(pair));
                    entries.push(format!("{sp}\"items\"{sp}:{sp}{items}{sp}"));
                    entries.extend(after.into_iter().map(pair));
                    if let Some(again) = again {
                        entries.push(format!("\"items\":{again}"));
                    }
                    format!("{sp}{{{}}}{sp}", entries.join(","))
                })
        }

        /// The common shape only: string items, other keys never `items`.
        fn arb_common_input() -> impl Strategy<Value = String> {
            let items = proptest::collection::vec((arb_json_string(), arb_space()), 0..6).prop_map(
                |items| {
                    let body: Vec<String> = items
                        .into_iter()
                        .map(|(item, sp)| format!("{sp}{item}{sp}"))
                        .collect();
                    format!("[{}]", body.join(","))
                },
            );
            let other = (
                proptest::sample::select(vec!["\"meta\"", "\"\\u0069d\"", "\"items \""]),
                prop_oneof![arb_json_string(), arb_items()],
            );
            (
                proptest::option::of(other.clone()),
                items,
                proptest::option::of(other),
            )
                .prop_map(|(before, items, after)| {
                    let pair = |(k, v): (&str, String)| format!("{k}:{v},");
                    let before = before.map(pair).unwrap_or_default();
                    let after = after.map(|(k, v)| format!(",{k}:{v}")).unwrap_or_default();
                    format!("{{{before}\"items\":{items}{after}}}")
                })
        }

        /// `{"items": [...]}` whose last item has a lone surrogate escape (of
        /// either half, or a high half followed by something else) among
        /// other characters, which Python accepts and the port does not decode.
        fn arb_lone_surrogate_input() -> impl Strategy<Value = String> {
            let lone = proptest::sample::select(vec![
                "\\ud800",
                "\\udbff",
                "\\udc00",
                "\\uDFFF",
                "\\ud83d\\u0041",
                "\\ude42\\ud83d",
                "\\ud83d ",
            ]);
            (
                arb_json_string(),
                arb_json_string(),
                lone,
                arb_json_string(),
            )
                .prop_map(|(first, before, lone, after)| {
                    let inner = |s: &str| s[1..s.len() - 1].to_owned();
                    format!(
                        "{{\"items\":[{first},\"{}{lone}{}\"]}}",
                        inner(&before),
                        inner(&after)
                    )
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// The fast path really runs (the test above would pass without it).
            #[test]
            fn fast_path_agrees_with_the_plain_reference(text in arb_common_input()) {
                for whitespace in [Whitespace::Python, Whitespace::Unicode] {
                    prop_assert_eq!(
                        fast_path(&text, whitespace),
                        Some(reference(&text, whitespace).unwrap()),
                        "input {} ({:?})", text, whitespace
                    );
                }
            }

            /// The text path really runs, and cuts what the reference strips.
            #[test]
            fn text_path_agrees_with_the_plain_reference(text in arb_common_input()) {
                for whitespace in [Whitespace::Python, Whitespace::Unicode] {
                    let out = text_path(&text, whitespace, Surrogates::Unchecked);
                    prop_assert!(out.is_some(), "no text path for {}", text);
                    let out = out.unwrap();
                    let parsed: Value = serde_json::from_str(&out)
                        .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
                    prop_assert_eq!(
                        parsed,
                        reference(&text, whitespace).unwrap(),
                        "input {} ({:?}), text {}", text, whitespace, out
                    );
                }
            }

            /// Every shape: objects of every kind, bare items and arrays, items
            /// with a lone surrogate somewhere.
            #[test]
            fn text_port_agrees_with_the_value_port(
                text in prop_oneof![8 => arb_input(), 1 => arb_item(), 1 => arb_items(), 2 => arb_lone_surrogate_input()]
            ) {
                let input = RawValue::from_string(text).unwrap();
                for whitespace in [Whitespace::Python, Whitespace::Unicode] {
                    text_agrees(&input, whitespace).map_err(TestCaseError::fail)?;
                }
            }

            /// The one-pass exception is the general path's, on objects with
            /// and without `items`, bare items and lists, nested values.
            #[test]
            fn a_quick_exception_is_the_general_paths(
                text in prop_oneof![
                    4 => arb_input(),
                    2 => arb_item(),
                    2 => arb_items(),
                    2 => proptest::collection::vec(arb_entry(), 0..3).prop_map(|entries| {
                        let body: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                        format!("{{{}}}", body.join(", "))
                    }),
                    1 => arb_item().prop_map(|item| format!("{{\"items\": {item}}}")),
                ]
            ) {
                let input = RawValue::from_string(text.clone()).unwrap();
                if let Some(quick) = quick_exception(&text) {
                    for whitespace in [Whitespace::Python, Whitespace::Unicode] {
                        prop_assert_eq!(general_path(&input, whitespace), Err(quick.clone()), "input {}", text);
                    }
                }
            }

            #[test]
            fn port_agrees_with_the_plain_reference(text in arb_input()) {
                let input = RawValue::from_string(text.clone()).unwrap();
                for whitespace in [Whitespace::Python, Whitespace::Unicode] {
                    prop_assert_eq!(
                        normalize_with(&input, whitespace),
                        reference(&text, whitespace),
                        "input {} ({:?})", text, whitespace
                    );
                }
            }
        }
    }
}
