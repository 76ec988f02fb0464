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

    fn add_at(&mut self, value: &Value, depth: usize) {
        if self.seen == 0 {
            self.strings = Some(BTreeSet::new());
        }
        self.seen += 1;
        let deeper = depth < MAX_DEPTH;
        match value {
            Value::Null => self.types.null += 1,
            Value::Bool(_) => self.types.boolean += 1,
            Value::Number(n) if n.is_i64() || n.is_u64() => self.types.integer += 1,
            Value::Number(_) => self.types.number += 1,
            Value::String(s) => {
                self.types.string += 1;
                if let Some(strings) = &mut self.strings {
                    if s.chars().count() > MAX_ENUM_CHARS
                        || (strings.len() >= MAX_ENUM && !strings.contains(s))
                    {
                        self.strings = None;
                    } else if !strings.contains(s) {
                        strings.insert(s.clone());
                    }
                }
            }
            Value::Array(items) => {
                self.types.array += 1;
                if deeper {
                    let shape = self.items.get_or_insert_with(Default::default);
                    for item in items {
                        shape.add_at(item, depth + 1);
                    }
                }
            }
            Value::Object(map) => {
                self.types.object += 1;
                if deeper {
                    for (key, value) in map {
                        if let Some(shape) = self.properties.get_mut(key) {
                            shape.add_at(value, depth + 1);
                        } else if self.properties.len() < MAX_PROPERTIES {
                            let mut shape = Shape::default();
                            shape.add_at(value, depth + 1);
                            self.properties.insert(key.clone(), shape);
                        } else {
                            self.more_keys += 1;
                        }
                    }
                }
            }
        }
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
            Answer::Output(value) => self.outputs.add(value),
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
