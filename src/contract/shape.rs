//! A bounded summary of the shapes of many JSON values: what a run keeps of
//! its legacy's answers, so that a draft output schema can be inferred from
//! the run directory alone ([`super::infer`]).
//!
//! # Contract
//! - [`Shape::add`] takes one value; after any number of values a shape
//!   says, for its location: how many values it saw and of which JSON types,
//!   the distinct strings while there are at most [`MAX_ENUM`] of at most
//!   [`MAX_ENUM_CHARS`] characters (then it stops keeping them), the keys of
//!   objects (each with its own shape; at most [`MAX_PROPERTIES`] keys per
//!   object, later keys are counted in `more_keys` and not described) and
//!   the merged shape of array items. Below [`MAX_DEPTH`] only types are
//!   kept. Memory is bounded by those limits, whatever the number of values.
//! - [`Shape::add_text`] takes a value as its JSON text, with the same
//!   result as adding the value it reads as, without building it (a text
//!   output's shape costs no `Value`).
//! - Every value added is described by the shape, so a schema inferred from
//!   it accepts every one of them ([`super::infer`]'s promise).
//! - [`AnswerShapes`] is what a run writes ([`SHAPE_FILE`]): the shape of
//!   the legacy's outputs and the error types it raised (at most
//!   [`MAX_ERROR_TYPES`], `cutover.*` plumbing errors left out).

use crate::model::Answer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The file of a run directory that holds its [`AnswerShapes`].
pub const SHAPE_FILE: &str = "legacy-shape.json";
/// Distinct strings kept per location, at most.
pub const MAX_ENUM: usize = 16;
/// Longest string kept as a possible enum value, in characters.
pub const MAX_ENUM_CHARS: usize = 64;
/// Keys described per object location, at most.
pub const MAX_PROPERTIES: usize = 256;
/// Nesting below which only types are kept.
pub const MAX_DEPTH: usize = 16;
/// Error types kept, at most.
pub const MAX_ERROR_TYPES: usize = 100;

/// The JSON types seen at one location, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Types {
    pub null: u64,
    pub boolean: u64,
    pub integer: u64,
    /// Numbers that are not integers.
    pub number: u64,
    pub string: u64,
    pub array: u64,
    pub object: u64,
}

/// The shape of the values seen at one location (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub seen: u64,
    pub types: Types,
    /// The distinct strings seen, while they are few and short (`None`
    /// once there were more, or a longer one).
    pub strings: Option<BTreeSet<String>>,
    /// Object keys and the shapes of their values.
    pub properties: BTreeMap<String, Shape>,
    /// Keys seen past [`MAX_PROPERTIES`] (not described).
    pub more_keys: u64,
    /// The merged shape of every array item seen here.
    pub items: Option<Box<Shape>>,
}

impl Shape {
    /// Takes one more value seen at this location.
    pub fn add(&mut self, value: &Value) {
        self.add_at(value, 0);
    }

    /// Takes one more value, given as JSON text that reads as a value, as
    /// [`Shape::add`] would take that value, without building it: the text
    /// is read into a borrowed tree (strings without escapes are not
    /// copied), whose objects are visited in the value's order (keys
    /// sorted, a repeated key's last value). `false` (nothing taken) when
    /// the text does not read.
    pub fn add_text(&mut self, text: &str) -> bool {
        match serde_json::from_str::<Lite>(text) {
            Ok(mut lite) => {
                lite.settle();
                self.add_at(&lite, 0);
                true
            }
            Err(_) => false,
        }
    }

    fn add_at<N: Node>(&mut self, value: &N, depth: usize) {
        if self.seen == 0 {
            self.strings = Some(BTreeSet::new());
        }
        self.seen += 1;
        let deeper = depth < MAX_DEPTH;
        match value.view() {
            View::Null => self.types.null += 1,
            View::Bool => self.types.boolean += 1,
            View::Integer => self.types.integer += 1,
            View::Number => self.types.number += 1,
            View::String(s) => {
                self.types.string += 1;
                if let Some(strings) = &mut self.strings {
                    if s.chars().count() > MAX_ENUM_CHARS
                        || (strings.len() >= MAX_ENUM && !strings.contains(s))
                    {
                        self.strings = None;
                    } else if !strings.contains(s) {
                        strings.insert(s.to_owned());
                    }
                }
            }
            View::LongString => {
                self.types.string += 1;
                self.strings = None;
            }
            View::Array(items) => {
                self.types.array += 1;
                if deeper {
                    let shape = self.items.get_or_insert_with(Default::default);
                    for item in items {
                        shape.add_at(item, depth + 1);
                    }
                }
            }
            View::Object(members) => {
                self.types.object += 1;
                if deeper {
                    for (key, value) in members {
                        if let Some(shape) = self.properties.get_mut(key) {
                            shape.add_at(value, depth + 1);
                        } else if self.properties.len() < MAX_PROPERTIES {
                            let mut shape = Shape::default();
                            shape.add_at(value, depth + 1);
                            self.properties.insert(key.to_owned(), shape);
                        } else {
                            self.more_keys += 1;
                        }
                    }
                }
            }
        }
    }
}

/// One JSON value as [`Shape::add_at`] sees it.
enum View<'a, I, M> {
    Null,
    Bool,
    Integer,
    Number,
    String(&'a str),
    /// A string longer than [`MAX_ENUM_CHARS`] characters (its text unread).
    LongString,
    Array(I),
    Object(M),
}

/// A JSON value [`Shape`] can take: a [`Value`], or a [`Lite`] read from text.
trait Node: Sized {
    fn view(&self) -> View<'_, impl Iterator<Item = &Self>, impl Iterator<Item = (&str, &Self)>>;
}

impl Node for Value {
    fn view(&self) -> View<'_, impl Iterator<Item = &Self>, impl Iterator<Item = (&str, &Self)>> {
        match self {
            Value::Null => View::Null,
            Value::Bool(_) => View::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => View::Integer,
            Value::Number(_) => View::Number,
            Value::String(s) => View::String(s),
            Value::Array(items) => View::Array(items.iter()),
            Value::Object(map) => View::Object(map.iter().map(|(k, v)| (k.as_str(), v))),
        }
    }
}

/// A JSON value read from text for its shape only: strings borrowed where
/// they have no escapes, numbers only told apart as serde_json's `Value`
/// tells them (an integer is what it reads as `u64` or `i64`).
enum Lite<'a> {
    Null,
    Bool,
    Integer,
    Number,
    String(std::borrow::Cow<'a, str>),
    /// A string of more than [`MAX_ENUM_CHARS`] characters: never kept, so
    /// not copied.
    LongString,
    Array(Vec<Lite<'a>>),
    Object(Vec<(std::borrow::Cow<'a, str>, Lite<'a>)>),
}

impl Lite<'_> {
    /// Objects in a `Value`'s order: keys sorted, a repeated key's last value.
    fn settle(&mut self) {
        match self {
            Lite::Array(items) => items.iter_mut().for_each(Lite::settle),
            Lite::Object(members) => {
                members.iter_mut().for_each(|(_, v)| v.settle());
                // Stable: a repeated key's values keep their order, and the
                // last one is kept.
                members.sort_by(|a, b| a.0.cmp(&b.0));
                let mut kept: Vec<(std::borrow::Cow<str>, Lite)> =
                    Vec::with_capacity(members.len());
                for member in members.drain(..) {
                    match kept.last_mut() {
                        Some(last) if last.0 == member.0 => *last = member,
                        _ => kept.push(member),
                    }
                }
                *members = kept;
            }
            _ => {}
        }
    }
}

impl Node for Lite<'_> {
    fn view(&self) -> View<'_, impl Iterator<Item = &Self>, impl Iterator<Item = (&str, &Self)>> {
        match self {
            Lite::Null => View::Null,
            Lite::Bool => View::Bool,
            Lite::Integer => View::Integer,
            Lite::Number => View::Number,
            Lite::String(s) => View::String(s),
            Lite::LongString => View::LongString,
            Lite::Array(items) => View::Array(items.iter()),
            Lite::Object(members) => View::Object(members.iter().map(|(k, v)| (k.as_ref(), v))),
        }
    }
}

/// A string that borrows from the text when it can.
struct LiteStr<'a>(std::borrow::Cow<'a, str>);

impl<'de> Deserialize<'de> for LiteStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key;
        impl<'de> serde::de::Visitor<'de> for Key {
            type Value = LiteStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<LiteStr<'de>, E> {
                Ok(LiteStr(s.into()))
            }
            fn visit_str<E>(self, s: &str) -> Result<LiteStr<'de>, E> {
                Ok(LiteStr(s.to_owned().into()))
            }
        }
        d.deserialize_str(Key)
    }
}

impl<'de> Deserialize<'de> for Lite<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LiteVisitor)
    }
}

struct LiteVisitor;

impl<'de> serde::de::Visitor<'de> for LiteVisitor {
    type Value = Lite<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Lite<'de>, E> {
        Ok(Lite::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Lite<'de>, E> {
        Ok(Lite::Bool)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Lite<'de>, E> {
        Ok(Lite::Integer)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Lite<'de>, E> {
        Ok(Lite::Integer)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Lite<'de>, E> {
        Ok(Lite::Number)
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Lite<'de>, E> {
        Ok(Lite::String(s.into()))
    }
    fn visit_str<E>(self, s: &str) -> Result<Lite<'de>, E> {
        // Over MAX_ENUM_CHARS bytes may still be few enough characters.
        if s.len() > MAX_ENUM_CHARS && s.chars().count() > MAX_ENUM_CHARS {
            return Ok(Lite::LongString);
        }
        Ok(Lite::String(s.to_owned().into()))
    }
    fn visit_string<E>(self, s: String) -> Result<Lite<'de>, E> {
        Ok(Lite::String(s.into()))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Lite<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Lite::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Lite<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some((LiteStr(key), value)) = map.next_entry()? {
            members.push((key, value));
        }
        Ok(Lite::Object(members))
    }
}

/// What a run keeps of one side's answers ([`SHAPE_FILE`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerShapes {
    /// The run it was taken from.
    pub run_id: String,
    /// The shape of every output.
    pub outputs: Shape,
    /// Error types raised, with how often (`cutover.*` left out).
    pub errors: BTreeMap<String, u64>,
    /// Error types past [`MAX_ERROR_TYPES`], counted, not kept.
    pub more_error_types: u64,
}

impl AnswerShapes {
    pub fn new(run_id: &str) -> Self {
        AnswerShapes {
            run_id: run_id.to_owned(),
            ..Default::default()
        }
    }

    /// Takes one answer (timeouts add nothing).
    pub fn add(&mut self, answer: &Answer) {
        match answer {
            // A text output's shape is taken from its text (no value built).
            Answer::Output(output) => match (output.value_if_built(), output.text()) {
                (None, Some(text)) if self.outputs.add_text(text) => {}
                _ => self.outputs.add(output.value()),
            },
            Answer::Error(e) if e.kind.starts_with("cutover.") => {}
            Answer::Error(e) => {
                if let Some(n) = self.errors.get_mut(&e.kind) {
                    *n += 1;
                } else if self.errors.len() < MAX_ERROR_TYPES {
                    self.errors.insert(e.kind.clone(), 1);
                } else {
                    self.more_error_types += 1;
                }
            }
            Answer::Timeout(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shape of texts, taken from the texts, and of the values they read as.
    fn both(texts: &[String]) -> (Shape, Shape) {
        let (mut from_text, mut from_value) = (Shape::default(), Shape::default());
        for text in texts {
            assert!(from_text.add_text(text), "{text}");
            from_value.add(&serde_json::from_str(text).unwrap());
        }
        (from_text, from_value)
    }

    #[test]
    fn a_texts_shape_is_its_values_shape_with_repeated_keys_escapes_and_many_keys() {
        let many: Vec<String> = (0..300).rev().map(|i| format!("\"k{i}\": {i}")).collect();
        let texts = [
            r#"{"b": 1, "a": "x", "b": "two", "a\u0041": [1.5, -0, 1e3, 18446744073709551616]}"#
                .to_owned(),
            r#"{"a": "\u00e9t\u00e9", "b": null, "c": {"d": [true, {"e": []}]}}"#.to_owned(),
            format!("{{{}}}", many.join(", ")),
            r#"["x", "x", "\ud83d\ude00", 3]"#.to_owned(),
        ];
        let (a, b) = both(&texts);
        assert_eq!(a, b);
        assert!(!Shape::default().add_text("[1,"));
    }

    proptest::proptest! {
        #[test]
        fn a_random_texts_shape_is_its_values_shape(
            keys in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "\\u0061", "c"]), 0..12),
            leaves in proptest::collection::vec(proptest::sample::select(vec!["1", "-1", "1.0", "\"s\"", "\"\\u00e9\"", "null", "true", "[]", "{}", "[1, \"a\"]"]), 12),
        ) {
            let members: Vec<String> = keys.iter().zip(&leaves).map(|(k, v)| format!("\"{k}\": {v}")).collect();
            let object = format!("{{{}}}", members.join(", "));
            let texts = vec![object.clone(), format!("[{object}, {}]", leaves.join(", ")), leaves[0].to_owned()];
            let (a, b) = both(&texts);
            proptest::prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn a_shape_stays_bounded_and_stops_keeping_strings_when_there_are_many() {
        let mut shape = Shape::default();
        for i in 0..1000 {
            shape.add(
                &json!({"status": if i % 2 == 0 { "ok" } else { "no" }, "id": format!("x{i}")}),
            );
        }
        assert_eq!(shape.seen, 1000);
        assert_eq!(shape.types.object, 1000);
        let status = &shape.properties["status"];
        assert_eq!(
            status.strings.as_ref().unwrap().iter().collect::<Vec<_>>(),
            ["no", "ok"]
        );
        assert_eq!(shape.properties["id"].strings, None, "too many to keep");
        let mut wide = Shape::default();
        let object: serde_json::Map<String, Value> = (0..MAX_PROPERTIES + 5)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        wide.add(&Value::Object(object));
        assert_eq!(wide.properties.len(), MAX_PROPERTIES);
        assert_eq!(wide.more_keys, 5);
    }
}
