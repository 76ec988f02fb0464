//! Equality of two JSON texts without building either value: the fast path
//! of the comparison for outputs that arrived as text.
//!
//! # Contract
//! [`surely_equal`] takes two texts that are each valid JSON (both were
//! checked when a side answered them) and says `true` only when serde_json
//! would read them as equal values; `false` means *unsure*, and the caller
//! compares the values structurally, as it always did. So the fast path can
//! never decide a verdict differently, only sooner.
//!
//! It walks both texts token by token, together, with no allocation:
//! whitespace between tokens is skipped, punctuation and literals must be
//! the same bytes, numbers the same text (`1` and `1.0` are unsure, and the
//! values then differ; `1.0` and `1.00` are unsure too, and the values are
//! then found equal), and strings are compared by the characters they hold,
//! escapes decoded on the fly (`"\u00e9"` is `"é"`, `"\/"` is `"/"`, a
//! surrogate pair is the character it encodes): a worker writing
//! `ensure_ascii` text and a Rust side writing UTF-8 compare equal here.
//! Object members must come in the same order (a different order is
//! unsure); a lone surrogate escape is unsure. Since two texts with the same
//! tokens read as the same value (repeated keys included), `true` is always
//! right.

use crate::util::json::unescape_short;

/// Whether two valid JSON texts surely read as equal values (see the module
/// contract; `false` is unsure).
pub fn surely_equal(a: &str, b: &str) -> bool {
    // One text shared by both (`builtin:identity`), or the same bytes.
    if std::ptr::eq(a, b) || a == b {
        return true;
    }
    let mut a = Cursor::new(a);
    let mut b = Cursor::new(b);
    loop {
        a.skip_whitespace();
        b.skip_whitespace();
        let (x, y) = match (a.peek(), b.peek()) {
            (None, None) => return true,
            (Some(x), Some(y)) => (x, y),
            _ => return false,
        };
        if x != y {
            return false;
        }
        match x {
            b'"' => {
                if !same_string(&mut a, &mut b) {
                    return false;
                }
            }
            b'{' | b'}' | b'[' | b']' | b':' | b',' => {
                a.at += 1;
                b.at += 1;
            }
            b't' | b'f' | b'n' | b'-' | b'0'..=b'9' => {
                if a.scalar() != b.scalar() {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, at: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// A number or literal: the bytes up to the next delimiter.
    fn scalar(&mut self) -> &'a [u8] {
        let start = self.at;
        while let Some(b) = self.peek() {
            if matches!(b, b',' | b']' | b'}' | b':' | b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.at += 1;
        }
        &self.bytes()[start..self.at]
    }

    /// The next character of the string the cursor is inside, escapes
    /// decoded: `Ok(None)` at its closing quote (consumed), `Err` for what
    /// the walk does not settle (a lone surrogate, anything malformed).
    fn next_char(&mut self) -> Result<Option<char>, ()> {
        match self.peek().ok_or(())? {
            b'"' => {
                self.at += 1;
                Ok(None)
            }
            b'\\' => {
                let escape = *self.bytes().get(self.at + 1).ok_or(())?;
                self.at += 2;
                let c = match escape {
                    b'u' => {
                        let unit = self.hex4()?;
                        match unit {
                            0xD800..=0xDBFF => {
                                if self.bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                                    return Err(());
                                }
                                self.at += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..=0xDFFF).contains(&low) {
                                    return Err(());
                                }
                                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                                char::from_u32(code).ok_or(())?
                            }
                            0xDC00..=0xDFFF => return Err(()),
                            _ => char::from_u32(unit).ok_or(())?,
                        }
                    }
                    _ => unescape_short(escape).ok_or(())?,
                };
                Ok(Some(c))
            }
            _ => {
                let c = self
                    .text
                    .get(self.at..)
                    .and_then(|s| s.chars().next())
                    .ok_or(())?;
                self.at += c.len_utf8();
                Ok(Some(c))
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ()> {
        let digits = self.bytes().get(self.at..self.at + 4).ok_or(())?;
        let mut unit = 0;
        for &d in digits {
            unit = unit * 16 + (d as char).to_digit(16).ok_or(())?;
        }
        self.at += 4;
        Ok(unit)
    }
}

/// Both cursors at an opening quote: whether the two strings hold the same
/// characters (both consumed when they do).
fn same_string(a: &mut Cursor, b: &mut Cursor) -> bool {
    a.at += 1;
    b.at += 1;
    loop {
        // The common case: the same plain bytes on both sides.
        let (x, y) = (a.bytes(), b.bytes());
        while let (Some(&p), Some(&q)) = (x.get(a.at), y.get(b.at)) {
            if p != q || p == b'"' || p == b'\\' || p >= 0x80 {
                break;
            }
            a.at += 1;
            b.at += 1;
        }
        match (a.next_char(), b.next_char()) {
            (Ok(None), Ok(None)) => return true,
            (Ok(Some(p)), Ok(Some(q))) if p == q => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn values_equal(a: &str, b: &str) -> bool {
        serde_json::from_str::<Value>(a).unwrap() == serde_json::from_str::<Value>(b).unwrap()
    }

    #[track_caller]
    fn equal(a: &str, b: &str) {
        assert!(values_equal(a, b), "the test's values differ: {a} {b}");
        assert!(surely_equal(a, b), "{a} and {b} should be surely equal");
        assert!(surely_equal(b, a), "{b} and {a} should be surely equal");
    }

    #[track_caller]
    fn unsure(a: &str, b: &str) {
        assert!(!surely_equal(a, b), "{a} and {b} should be unsure");
        assert!(!surely_equal(b, a), "{b} and {a} should be unsure");
    }

    #[test]
    fn escapes_are_decoded_on_the_fly() {
        equal(r#""\u00e9""#, r#""é""#);
        equal(r#""\u00E9t\u00e9""#, r#""été""#);
        equal(r#""a\/b""#, r#""a/b""#);
        equal(
            r#""\"\\\b\f\n\r\t""#,
            "\"\\\"\\\\\\u0008\\u000c\\u000a\\u000D\\u0009\"",
        );
        equal(r#"["\u0041", "B"]"#, r#"["A","\u0042"]"#);
        unsure(r#""\u00e9""#, r#""e""#);
        unsure(r#""\u00e9x""#, r#""é""#);
        unsure(r#""ab""#, r#""abc""#);
    }

    #[test]
    fn surrogate_pairs_are_the_character_and_lone_ones_are_unsure() {
        equal(r#""\ud83d\ude00""#, "\"😀\"");
        equal(r#""x\uD83D\uDE00y""#, "\"x😀y\"");
        unsure(r#""\ud83d\ude01""#, "\"😀\"");
        // Lone surrogates: serde_json reads none of these, so never equal.
        unsure(r#""\ud800""#, r#""\ud801""#);
        unsure(r#""\ud800 ""#, r#""\ud800\u0020""#);
        assert!(!surely_equal(r#"["\ud800", 1]"#, r#"["\ud800" ,1]"#));
        assert!(!surely_equal(r#""\udc00x""#, r#""\udc00 x""#));
        assert!(!surely_equal(r#""\ud800\u0041""#, r#""\ud800A""#));
    }

    #[test]
    fn numbers_must_be_the_same_text() {
        unsure("1", "1.0");
        unsure("[1]", "[1.0]");
        unsure("1.0", "1.00");
        unsure("1e2", "100");
        unsure("-0", "0");
        equal("[1.5, -2, 3e10]", "[ 1.5,-2 ,3e10 ]");
        equal("true", " true ");
        unsure("true", "false");
        unsure("null", "[]");
    }

    #[test]
    fn nesting_and_whitespace_between_tokens() {
        equal(
            r#"{"a": [1, {"b": [[], {}]}], "c": null}"#,
            "{\n  \"a\":[1,{\"b\":[ [ ] ,{ } ]}],\r\n\t\"c\" : null}",
        );
        unsure(r#"{"a": [1, 2]}"#, r#"{"a": [[1, 2]]}"#);
        unsure(r#"{"a": [1, 2]}"#, r#"{"a": [1, 2], "b": 3}"#);
        unsure("[]", "{}");
        unsure("[1,2]", "[1]");
        unsure(r#"" a""#, r#""a""#);
    }

    #[test]
    fn a_different_key_order_is_unsure() {
        unsure(r#"{"a": 1, "b": 2}"#, r#"{"b": 2, "a": 1}"#);
        equal(r#"{"\u0061": 1}"#, r#"{"a": 1}"#);
    }

    /// A random JSON value.
    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a\"\\\\/é😀\\x00-\\x1f\\u{80}-\\u{10ffff} ]{0,6}")
            .expect("a valid regex")
    }

    fn value() -> impl Strategy<Value = Value> {
        let number = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            Just(serde_json::json!(1)),
            Just(serde_json::json!(1.0)),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number,
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((text(), inner), 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// A JSON text of the value, in one of several spellings: serde_json's
    /// compact or pretty text, or Python-style `ensure_ascii` text with
    /// spaces (`\uXXXX` for everything beyond ASCII, `\/` for `/` at random),
    /// keys in the map's order or reversed.
    fn spell(value: &Value, ascii: bool, spaced: bool, reversed: bool, slash: bool) -> String {
        let mut out = String::new();
        write(&mut out, value, ascii, spaced, reversed, slash);
        out
    }

    fn write(
        out: &mut String,
        value: &Value,
        ascii: bool,
        spaced: bool,
        reversed: bool,
        slash: bool,
    ) {
        let sep = if spaced { ", " } else { "," };
        let colon = if spaced { " : " } else { ":" };
        match value {
            Value::String(s) => write_str(out, s, ascii, slash),
            Value::Array(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push_str(sep);
                    }
                    write(out, item, ascii, spaced, reversed, slash);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                let mut members: Vec<_> = map.iter().collect();
                if reversed {
                    members.reverse();
                }
                for (n, (k, v)) in members.into_iter().enumerate() {
                    if n > 0 {
                        out.push_str(sep);
                    }
                    write_str(out, k, ascii, slash);
                    out.push_str(colon);
                    write(out, v, ascii, spaced, reversed, slash);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }

    fn write_str(out: &mut String, s: &str, ascii: bool, slash: bool) {
        if !ascii && !slash {
            out.push_str(&serde_json::to_string(s).unwrap());
            return;
        }
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' if slash => out.push_str("\\/"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if ascii && !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The guarantee: never equal when the values differ, for random
        /// pairs and for re-spellings of one value.
        #[test]
        fn never_equal_when_the_values_differ(
            a in value(),
            b in value(),
            spellings in proptest::collection::vec(any::<bool>(), 8),
        ) {
            let s = |v: &Value, k: usize| {
                spell(v, spellings[k], spellings[k + 1], spellings[k + 2], spellings[k + 3])
            };
            let (ta, tb) = (s(&a, 0), s(&b, 4));
            prop_assert!(!surely_equal(&ta, &tb) || values_equal(&ta, &tb), "{ta} vs {tb}");
            // The same value spelled two ways: equal when the keys keep
            // their order, and never wrongly otherwise.
            let (ta, tb) = (s(&a, 0), s(&a, 4));
            prop_assert!(values_equal(&ta, &tb), "{ta} vs {tb}");
            let keys_same_order = spellings[2] == spellings[6] || !has_object_with_two_keys(&a);
            prop_assert!(!keys_same_order || surely_equal(&ta, &tb), "{ta} vs {tb}");
            // A value and a small change of it.
            let changed = change(&a);
            let tc = s(&changed, 4);
            prop_assert!(!surely_equal(&ta, &tc) || values_equal(&ta, &tc), "{ta} vs {tc}");
        }
    }

    fn has_object_with_two_keys(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.len() > 1 || m.values().any(has_object_with_two_keys),
            Value::Array(items) => items.iter().any(has_object_with_two_keys),
            _ => false,
        }
    }

    /// The value with its first leaf changed (a string gets a character, a
    /// number becomes its float or integer twin, ...).
    fn change(v: &Value) -> Value {
        match v {
            Value::Null => Value::Bool(false),
            Value::Bool(b) => Value::Bool(!b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => serde_json::json!(i as f64),
                None => serde_json::json!(1),
            },
            Value::String(s) => Value::String(format!("{s}\u{e9}")),
            Value::Array(items) if !items.is_empty() => {
                let mut items = items.clone();
                items[0] = change(&items[0]);
                Value::Array(items)
            }
            Value::Array(_) => serde_json::json!([null]),
            Value::Object(m) => {
                let mut m = m.clone();
                match m.iter_mut().next() {
                    Some((_, first)) => *first = change(first),
                    None => {
                        m.insert("k".into(), Value::Null);
                    }
                }
                Value::Object(m)
            }
        }
    }
}
