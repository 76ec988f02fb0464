//! A draft output schema from the shapes a run's legacy answered with
//! ([`super::shape`]): a starting point a person edits, not a contract.
//!
//! # Contract
//! - [`schema`] describes, per location: the JSON types seen (`integer`
//!   folded into `number` when both were seen), for objects the keys seen
//!   (`required`: those present in every object there; other keys stay
//!   allowed), for arrays the merged item shape, and `enum` for a location
//!   that only ever held strings, at most [`ENUM_LIMIT`] distinct ones, each
//!   seen [`ENUM_MIN_REPEATS`] times on average (a free-text field seen a few
//!   times is not an enum).
//! - Every value the shape was built from is valid against the schema (the
//!   shape describes each one; what it did not keep, it does not constrain).
//! - [`contract_toml`] drafts the `[contract]` section: the schema file and
//!   every error type seen, with a meaning to write.
//!
//! No crate does this well enough: `infers-jsonschema` (one release, 2020)
//! infers from a single value only, and `genson-rs` installs a global
//! allocator of its own (a library must not) and panics on bad input.

use super::shape::{AnswerShapes, Shape};
use serde_json::{json, Map, Value};

/// Distinct strings an inferred `enum` has at most.
pub const ENUM_LIMIT: usize = 8;
/// How often, on average, each enum value must have been seen.
pub const ENUM_MIN_REPEATS: u64 = 3;
/// The `$schema` of drafts.
pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The draft schema of every value `shapes` describes.
pub fn schema(shapes: &AnswerShapes) -> Value {
    let mut root = match of(&shapes.outputs) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    root.insert("$schema".into(), json!(DRAFT));
    root.insert(
        "description".into(),
        json!(format!(
            "Draft inferred by `cutover contract infer` from the {} outputs of run {}: edit it into the contract.",
            shapes.outputs.seen, shapes.run_id
        )),
    );
    Value::Object(root)
}

fn of(shape: &Shape) -> Value {
    let t = &shape.types;
    let mut types: Vec<&str> = Vec::new();
    let mut push = |count: u64, name| {
        if count > 0 {
            types.push(name);
        }
    };
    push(t.null, "null");
    push(t.boolean, "boolean");
    if t.number > 0 {
        push(t.number + t.integer, "number");
    } else {
        push(t.integer, "integer");
    }
    push(t.string, "string");
    push(t.array, "array");
    push(t.object, "object");
    let mut out = Map::new();
    match types.as_slice() {
        [] => return json!({}),
        [one] => {
            out.insert("type".into(), json!(one));
        }
        many => {
            out.insert("type".into(), json!(many));
        }
    }
    if t.object > 0 && (!shape.properties.is_empty() || shape.more_keys > 0) {
        let properties: Map<String, Value> = shape
            .properties
            .iter()
            .map(|(k, s)| (k.clone(), of(s)))
            .collect();
        let required: Vec<&String> = shape
            .properties
            .iter()
            .filter(|(_, s)| s.seen == t.object)
            .map(|(k, _)| k)
            .collect();
        out.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            out.insert("required".into(), json!(required));
        }
    }
    if let Some(items) = &shape.items {
        if items.seen > 0 {
            out.insert("items".into(), of(items));
        }
    }
    if types == ["string"] {
        if let Some(strings) = &shape.strings {
            let n = strings.len() as u64;
            if n > 0 && n as usize <= ENUM_LIMIT && t.string >= n * ENUM_MIN_REPEATS {
                out.insert("enum".into(), json!(strings));
            }
        }
    }
    Value::Object(out)
}

/// A draft `[contract]` section naming `schema_file` and every error type
/// seen, each with a meaning still to write.
pub fn contract_toml(shapes: &AnswerShapes, schema_file: &str) -> String {
    let quote = |s: &str| Value::String(s.to_owned()).to_string();
    let mut text = format!(
        "# Draft from run {} by `cutover contract infer`: edit before use.\n[contract]\noutput_schema = {}\nnon_goals = \"\"\n",
        shapes.run_id,
        quote(schema_file)
    );
    for (kind, count) in &shapes.errors {
        text.push_str(&format!(
            "\n[[contract.errors]]\ntype = {}\nmeaning = \"TODO: what it means (seen {count} times)\"\n",
            quote(kind)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Answer, AppError};

    #[test]
    fn the_draft_accepts_every_value_it_was_inferred_from() {
        let mut shapes = AnswerShapes::new("run-1");
        let values = [
            json!({"accepted": ["a"], "rejected": [], "status": "ok", "n": 1}),
            json!({"accepted": [], "rejected": [{"item": 3, "reason": "not_a_string"}], "status": "ok", "n": 1.5}),
            json!({"accepted": ["b", "c"], "rejected": [], "status": "partial"}),
        ];
        for _ in 0..3 {
            for v in &values {
                shapes.add(&Answer::output(v.clone()));
            }
        }
        shapes.add(&Answer::Error(AppError::new("TypeError", "m")));
        shapes.add(&Answer::Error(AppError::new("cutover.worker_died", "m")));
        let draft = schema(&shapes);
        let validator = jsonschema::validator_for(&draft).unwrap();
        for v in &values {
            assert!(validator.is_valid(v), "{v} against {draft:#}");
        }
        assert_eq!(draft["required"], json!(["accepted", "rejected", "status"]));
        assert_eq!(draft["properties"]["n"]["type"], json!("number"));
        assert_eq!(
            draft["properties"]["status"]["enum"],
            json!(["ok", "partial"])
        );
        assert!(!validator.is_valid(&json!({"accepted": 1, "rejected": [], "status": "ok"})));
        let toml = contract_toml(&shapes, "output.schema.json");
        assert!(toml.contains("type = \"TypeError\""), "{toml}");
        assert!(!toml.contains("cutover.worker_died"), "{toml}");
    }
}
