//! One side's output: a JSON value, or the JSON text a side answered with,
//! read into a value only when something needs the value.
//!
//! # Contract
//! - An [`Output`] is always one JSON value. Built from text
//!   ([`Output::from_text`], [`Output::from_shared_text`],
//!   [`Output::from_json_text`]), it keeps the text (no copy of a shared
//!   one) and builds the [`Value`] on the first [`Output::value`] (or
//!   deref), once. The text is checked at construction so that this parse
//!   cannot fail: text serde_json might refuse as a `Value` although it is
//!   valid syntax (nesting near serde_json's limit of 128, a lone
//!   surrogate escape, a number with an exponent or a very long run of
//!   digits, any of which could be out of range) is parsed at once instead,
//!   and a parse error is the constructor's error, exactly as parsing it
//!   had always been. So an `Output` made from text and one made from the
//!   value the text reads as are the same output in every respect but cost.
//!   The exceptions are [`Output::from_valid_json_text`] and
//!   [`Output::from_shared_valid_text`], for a maker that guarantees those
//!   checks itself (`builtin:normalize`'s text answer, a vouched input):
//!   nothing is checked in release builds, debug builds check, and text that
//!   broke the guarantee would read as `null` (logged), never a panic.
//! - Equality ([`PartialEq`]) is the values' structural equality, with two
//!   identical texts equal without parsing. The comparison's cheaper test of
//!   two texts lives in `compare` (it never decides differently).
//! - Serialising an `Output` writes its value (as serde_json writes the
//!   value, not the side's text), so report files are the same bytes
//!   whichever form an answer arrived in; `Debug` shows the value too.
//! - Non-goal: keeping a changed value's text: [`Output::value_mut`] drops it.

use super::scan::{self, Pattern};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// One side's output (see the module contract).
#[derive(Clone)]
pub struct Output(Repr);

#[derive(Clone)]
enum Repr {
    Value(Value),
    Text { text: Text, value: OnceLock<Value> },
}

#[derive(Clone)]
enum Text {
    Shared(Arc<RawValue>),
    Owned(Box<RawValue>),
    /// Text its maker vouches for ([`Output::from_valid_json_text`]).
    Vouched(Box<str>),
}

impl Text {
    fn get(&self) -> &str {
        match self {
            Text::Shared(raw) => raw.get(),
            Text::Owned(raw) => raw.get(),
            Text::Vouched(text) => text,
        }
    }
}

/// Deepest nesting of brackets a text may have and still be kept as text:
/// below serde_json's recursion limit (128: 127 levels read), with room.
const MAX_TEXT_BRACKETS: usize = 120;

/// A digit run this long may be a number out of `f64`'s range (over 308
/// digits), so a text with one (counted in 128-byte blocks all of digits) is
/// parsed at once.
const DIGIT_BLOCK: usize = 128;

/// Whether serde_json surely reads this (syntactically valid) JSON text as a
/// [`Value`]: nothing in it could exceed the recursion limit, be a lone
/// surrogate ([`lone_surrogate`]), or be a number out of range. Conservative: `false` only costs
/// a parse at construction.
fn surely_reads(text: &str) -> bool {
    let bytes = text.as_bytes();
    // One pass marks the three patterns (scan::blocks); most texts have
    // few marks, each judged here.
    let (mut brackets, mut pairs) = (0, Surrogates::default());
    for marks in scan::blocks(bytes) {
        brackets += marks.masks[Pattern::OpenBracket as usize].count_ones() as usize;
        if brackets > MAX_TEXT_BRACKETS {
            return false;
        }
        if marks
            .positions(Pattern::SurrogateEscape)
            .any(|at| pairs.lone_at(bytes, at))
        {
            return false;
        }
        // An exponent follows a digit (`1e400`); strings may hold such text
        // too, which is harmless, but a digit of a `\u00e9` or `\u0301`
        // escape (so in a string, as is what follows it: `\u0301e`) is too
        // common to count.
        if marks
            .positions(Pattern::DigitExponent)
            .any(|at| !in_hex_escape(bytes, at))
        {
            return false;
        }
    }
    // Any run of 2 × DIGIT_BLOCK digits holds a whole aligned block of them.
    !bytes
        .chunks_exact(DIGIT_BLOCK)
        .any(|block| block[0].is_ascii_digit() && block.iter().all(u8::is_ascii_digit))
}

/// Whether the byte at `at` is one of the four hex digits of a `\uXXXX`
/// escape (then it is inside a string).
fn in_hex_escape(bytes: &[u8], at: usize) -> bool {
    (0..4).any(|k| {
        at >= k + 2
            && bytes[at - k - 2] == b'\\'
            && bytes[at - k - 1] == b'u'
            && bytes[at - k..=at].iter().all(u8::is_ascii_hexdigit)
    })
}

/// The code unit of the `\uXXXX` escape whose backslash is at `at`, if it is
/// a surrogate (`\uD800`-`\uDFFF`, either case): `Some(true)` for a high one,
/// `Some(false)` for a low one.
fn surrogate_at(json: &[u8], at: usize) -> Option<bool> {
    match json.get(at + 1..at + 4)? {
        [b'u', b'd' | b'D', b'8' | b'9' | b'a' | b'b' | b'A' | b'B'] => Some(true),
        [b'u', b'd' | b'D', b'c'..=b'f' | b'C'..=b'F'] => Some(false),
        _ => None,
    }
}

/// Where the first lone UTF-16 surrogate escape of a JSON text starts (its
/// backslash), if it has one: a high surrogate (`\uD800`-`\uDBFF`) not
/// followed at once by a low one, or a low one (`\uDC00`-`\uDFFF`) not
/// following a high one. serde_json refuses both; a pair is one character.
/// Only the places where `\ud` or `\uD` occurs are looked at
/// ([`scan::matches`], 16 positions at a time);
/// such a backslash starts an escape when an even number of backslashes
/// comes before it (an odd one makes it the second byte of a `\\`).
pub fn lone_surrogate(json: &[u8]) -> Option<usize> {
    let mut pairs = Surrogates::default();
    scan::matches(json, Pattern::SurrogateEscape).find(|&at| pairs.lone_at(json, at))
}

/// Judges the places where a surrogate escape may start, in ascending order
/// ([`Pattern::SurrogateEscape`]'s matches).
#[derive(Default)]
struct Surrogates {
    /// Places before this were the low half of a pair already judged.
    resume: usize,
}

impl Surrogates {
    /// Whether a lone surrogate escape starts at `at`, where `\ud` or `\uD`
    /// is.
    fn lone_at(&mut self, json: &[u8], at: usize) -> bool {
        if at < self.resume {
            return false; // the low half of a pair checked
        }
        let before = json[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        if before % 2 == 1 {
            return false; // `\\ud...`: text, not an escape
        }
        self.resume = match surrogate_at(json, at) {
            Some(true) if surrogate_at(json, at + 6) == Some(false) => at + 12,
            Some(_) => return true,
            None => at + 2,
        };
        false
    }
}

impl Output {
    /// Validated JSON text (a [`RawValue`] is valid syntax) as an output:
    /// kept as text, or, when it might not read as a [`Value`], read now
    /// (the error is serde_json's, as if it had been parsed directly).
    pub fn from_text(text: Box<RawValue>) -> Result<Output, serde_json::Error> {
        Output::of_text(Text::Owned(text))
    }

    /// [`Output::from_text`] for text shared with something else (a
    /// record's input): not copied.
    pub fn from_shared_text(text: Arc<RawValue>) -> Result<Output, serde_json::Error> {
        Output::of_text(Text::Shared(text))
    }

    fn of_text(text: Text) -> Result<Output, serde_json::Error> {
        if surely_reads(text.get()) {
            Ok(Output(Repr::Text {
                text,
                value: OnceLock::new(),
            }))
        } else {
            serde_json::from_str::<Value>(text.get()).map(Output::from)
        }
    }

    /// JSON text whose maker guarantees what [`Output::from_text`] checks:
    /// valid syntax, no lone surrogate escape, nesting well below serde_json's
    /// limit and no number out of range. `builtin:normalize` vouches for its
    /// text answer (strings copied from an input it checked for lone
    /// surrogates, two levels deep, no numbers; its property tests parse
    /// every answer), and so does text [`valid::value_at`](super::valid)
    /// checked (a worker's answers, a command's stdout, a response
    /// body). Nothing is checked here in release builds (that check
    /// was most of a builtin replay's cost); debug builds check that the
    /// text reads as a value (the guarantee itself: `surely_reads` is a
    /// cheaper, stricter stand-in for it, which refuses any exponent). Text
    /// that broke the guarantee would read as `null` (logged), never a panic.
    pub fn from_valid_json_text(text: String) -> Output {
        Output::vouched(Text::Vouched(text.into_boxed_str()))
    }

    /// A record's input text that [`valid::value_at`](super::valid) vouched
    /// for ([`InputCheck::Reads`](super::InputCheck)), shared, not copied,
    /// and (as [`Output::from_valid_json_text`]) not checked again in
    /// release builds: `builtin:identity`'s answer.
    pub fn from_shared_valid_text(text: Arc<RawValue>) -> Output {
        Output::vouched(Text::Shared(text))
    }

    /// Text its maker vouches for: checked in debug builds only.
    fn vouched(text: Text) -> Output {
        debug_assert!(
            serde_json::from_str::<Value>(text.get()).is_ok(),
            "vouched JSON text does not read: {:?}",
            text.get()
        );
        Output(Repr::Text {
            text,
            value: OnceLock::new(),
        })
    }

    /// JSON text not yet checked: its syntax is checked (serde_json's
    /// error), then as [`Output::from_text`].
    pub fn from_json_text(text: String) -> Result<Output, serde_json::Error> {
        Output::from_text(RawValue::from_string(text)?)
    }

    /// The value (built from the text on first use).
    pub fn value(&self) -> &Value {
        match &self.0 {
            Repr::Value(value) => value,
            Repr::Text { text, value } => value.get_or_init(|| {
                // Cannot fail: the constructor kept only text that reads.
                serde_json::from_str(text.get()).unwrap_or_else(|e| {
                    tracing::error!(
                        "cutover: an output's JSON text did not read as a value ({e}); using null"
                    );
                    Value::Null
                })
            }),
        }
    }

    /// The value, already built (a value output, or a text one read already).
    pub fn value_if_built(&self) -> Option<&Value> {
        match &self.0 {
            Repr::Value(value) => Some(value),
            Repr::Text { value, .. } => value.get(),
        }
    }

    /// The JSON text the side answered with, when it answered text.
    pub fn text(&self) -> Option<&str> {
        match &self.0 {
            Repr::Value(_) => None,
            Repr::Text { text, .. } => Some(text.get()),
        }
    }

    /// The value, to change: the text (if any) is dropped.
    pub fn value_mut(&mut self) -> &mut Value {
        if let Repr::Text { .. } = self.0 {
            let value = self.value().clone();
            self.0 = Repr::Value(value);
        }
        match &mut self.0 {
            Repr::Value(value) => value,
            Repr::Text { .. } => unreachable!("made a value just above"),
        }
    }

    /// The value, owned.
    pub fn into_value(self) -> Value {
        match self.0 {
            Repr::Value(value) => value,
            Repr::Text { text, value } => match value.into_inner() {
                Some(value) => value,
                None => Output(Repr::Text {
                    text,
                    value: OnceLock::new(),
                })
                .value()
                .clone(),
            },
        }
    }
}

impl From<Value> for Output {
    fn from(value: Value) -> Self {
        Output(Repr::Value(value))
    }
}

impl From<Output> for Value {
    fn from(output: Output) -> Self {
        output.into_value()
    }
}

impl std::ops::Deref for Output {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for Output {
    fn eq(&self, other: &Output) -> bool {
        if let (Some(a), Some(b)) = (self.text(), other.text()) {
            if a == b {
                return true;
            }
        }
        self.value() == other.value()
    }
}

impl PartialEq<Value> for Output {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value().fmt(f)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value().fmt(f)
    }
}

impl Serialize for Output {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Output {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Output::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(s: &str) -> Result<Output, serde_json::Error> {
        Output::from_json_text(s.to_owned())
    }

    #[test]
    fn text_that_reads_is_kept_and_read_once_on_demand() {
        let out = text(r#"{"a": [1, "\u00e9"]}"#).unwrap();
        assert_eq!(out.text(), Some(r#"{"a": [1, "\u00e9"]}"#));
        assert!(out.value_if_built().is_none());
        assert_eq!(out.value(), &json!({"a": [1, "é"]}));
        assert!(out.value_if_built().is_some());
        assert_eq!(out, Output::from(json!({"a": [1, "é"]})));
        assert_eq!(serde_json::to_string(&out).unwrap(), r#"{"a":[1,"é"]}"#);
    }

    #[test]
    fn text_serde_json_might_refuse_is_parsed_at_construction_with_its_error() {
        let deep = format!("{}{}", "[".repeat(130), "]".repeat(130));
        for (refused, why) in [
            (deep.as_str(), "recursion limit exceeded"),
            (r#"["\udc00"]"#, "lone leading surrogate"),
            (r#"[1e400]"#, "number out of range"),
        ] {
            let e = text(refused)
                .err()
                .unwrap_or_else(|| panic!("{refused} read"));
            assert!(e.to_string().starts_with(why), "{refused}: {e}");
        }
        let long = "9".repeat(400);
        assert!(text(&long)
            .unwrap_err()
            .to_string()
            .starts_with("number out of range"));
        // Close to the limits but fine: read at once, kept as values.
        for fine in ["[1e5]", r#""1e400""#] {
            let out = text(fine).unwrap();
            assert!(out.text().is_none(), "{fine}");
            assert_eq!(out.value(), &serde_json::from_str::<Value>(fine).unwrap());
        }
        assert!(text("[1, 2").is_err());
        assert!(text(r#""\ud800""#).is_err());
        assert_eq!(lone_surrogate(b""), None);
        assert_eq!(lone_surrogate(b"\\u"), None);
        assert_eq!(lone_surrogate(b"\\ud800"), Some(0));
        // Escapes' hex digits are no exponents: kept as text.
        for fine in [
            r#""\u00e9\u00E9""#,
            r#"{"\u0065": "1\u1e00"}"#,
            r#""\ud83d\ude00""#,
        ] {
            assert_eq!(text(fine).unwrap().text(), Some(fine));
        }
        assert!(text(r#"["\u00e9", 2e1]"#).unwrap().text().is_none());
    }

    proptest::proptest! {
        /// Made from text, an output is exactly what parsing the text gives:
        /// the same value, or an error where parsing fails.
        #[test]
        fn an_output_from_text_is_what_parsing_it_gives(
            tokens in proptest::collection::vec(proptest::sample::select(vec![
                "1", "-0.5", "1e400", "1E2", "2e-400", "1.7976931348623157e308", "\"\\u00e9\"",
                "\"\\ud83d\\ude00\"", "\"\\udc00\"", "\"x\\\\ud800\"", "\"1e9\"", "null",
                "[", "]", "{\"k\":", "}", ",", "99999999999999999999",
            ]), 0..40),
            digits in 0usize..400,
            nest in 0usize..140,
        ) {
            let body = tokens.concat();
            let long = "7".repeat(digits);
            for text in [
                body.clone(),
                format!("[{body}]"),
                format!("[{long}]"),
                format!("{}{}{}", "[".repeat(nest), long.chars().take(1).collect::<String>() + "0", "]".repeat(nest)),
            ] {
                let Ok(raw) = RawValue::from_string(text.clone()) else { continue };
                let parsed = serde_json::from_str::<Value>(&text);
                match (Output::from_text(raw), parsed) {
                    (Ok(out), Ok(value)) => proptest::prop_assert_eq!(out.value(), &value),
                    (Err(a), Err(b)) => proptest::prop_assert_eq!(a.to_string(), b.to_string()),
                    (out, value) => proptest::prop_assert!(false, "{text}: {:?} but {:?}", out.map(|o| o.text().map(str::to_owned)), value),
                }
            }
        }
    }

    #[test]
    fn changing_the_value_drops_the_text() {
        let mut out = text("[1]").unwrap();
        out.value_mut().as_array_mut().unwrap().push(json!(2));
        assert_eq!(out.text(), None);
        assert_eq!(out.into_value(), json!([1, 2]));
    }
}
