//! A JSON document as a tree that keeps what the targets may see: object key
//! order, repeated keys and the exact text of numbers.
//!
//! `serde_json::Value` sorts keys, keeps one of two repeated keys and turns
//! `1e3` into `1000.0`; a legacy service may behave differently on each (the
//! worked migration's Python reads the last of two `items`, and tells `int`
//! from `float` by the text). Minimizing must change only what it means to
//! change, so it works on this tree.
//!
//! # Contract
//! - [`Node::parse`] accepts any JSON text serde_json accepts (same nesting
//!   limit) and [`Node::to_json`] gives compact JSON whose parse is the same
//!   tree (strings re-escaped by serde_json, numbers as written).
//! - [`Node::pretty`] is for people: two-space indentation, same content.

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// One JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Null,
    Bool(bool),
    /// The number's text, as written.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Entries in document order, repeated keys kept.
    Object(Vec<(String, Node)>),
}

/// Object entries in order, repeats kept, values as raw text.
struct Entries(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Array items as raw text.
struct Items(Vec<Box<RawValue>>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<Box<RawValue>>()? {
                    out.push(v);
                }
                Ok(Items(out))
            }
        }
        d.deserialize_seq(V)
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

impl Node {
    /// Parses JSON text.
    pub fn parse(text: &str) -> Result<Node, serde_json::Error> {
        let trimmed = text.trim();
        Ok(match trimmed.as_bytes().first() {
            Some(b'{') => Node::Object(
                serde_json::from_str::<Entries>(trimmed)?
                    .0
                    .into_iter()
                    .map(|(k, v)| Node::parse(v.get()).map(|n| (k, n)))
                    .collect::<Result<_, _>>()?,
            ),
            Some(b'[') => Node::Array(
                serde_json::from_str::<Items>(trimmed)?
                    .0
                    .into_iter()
                    .map(|v| Node::parse(v.get()))
                    .collect::<Result<_, _>>()?,
            ),
            Some(b'"') => Node::String(serde_json::from_str(trimmed)?),
            Some(b't' | b'f') => Node::Bool(serde_json::from_str(trimmed)?),
            Some(b'n') => {
                serde_json::from_str::<()>(trimmed)?;
                Node::Null
            }
            _ => {
                serde_json::from_str::<serde_json::Number>(trimmed)?;
                Node::Number(trimmed.to_owned())
            }
        })
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None, 0);
        out
    }

    /// Indented JSON text, for people.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(2), 0);
        out
    }

    fn write(&self, out: &mut String, indent: Option<usize>, depth: usize) {
        let newline = |out: &mut String, depth: usize| {
            if let Some(n) = indent {
                out.push('\n');
                out.push_str(&" ".repeat(n * depth));
            }
        };
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Number(n) => out.push_str(n),
            Node::String(s) => out.push_str(&quote(s)),
            Node::Array(items) if items.is_empty() => out.push_str("[]"),
            Node::Object(entries) if entries.is_empty() => out.push_str("{}"),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write(out, indent, depth + 1);
                }
                newline(out, depth);
                out.push(']');
            }
            Node::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    out.push_str(&quote(key));
                    out.push_str(if indent.is_some() { ": " } else { ":" });
                    value.write(out, indent, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
        }
    }

    /// The node at `path` (child indexes from the root).
    pub fn at(&self, path: &[usize]) -> Option<&Node> {
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        match self {
            Node::Array(items) => items.get(first)?.at(rest),
            Node::Object(entries) => entries.get(first)?.1.at(rest),
            _ => None,
        }
    }

    /// A copy of the document with the node at `path` replaced.
    pub fn with(&self, path: &[usize], replacement: Node) -> Node {
        let mut doc = self.clone();
        if let Some(slot) = doc.at_mut(path) {
            *slot = replacement;
        }
        doc
    }

    fn at_mut(&mut self, path: &[usize]) -> Option<&mut Node> {
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        match self {
            Node::Array(items) => items.get_mut(first)?.at_mut(rest),
            Node::Object(entries) => entries.get_mut(first)?.1.at_mut(rest),
            _ => None,
        }
    }

    /// How many children the node has (array items or object entries).
    pub fn children(&self) -> usize {
        match self {
            Node::Array(items) => items.len(),
            Node::Object(entries) => entries.len(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_repeats_and_number_text() {
        let text = r#"{"items": [1], "items": [" dup ", 1e3, 100000000000000000000], "a": {"z": null, "b": true}}"#;
        let node = Node::parse(text).unwrap();
        assert_eq!(
            node.to_json(),
            r#"{"items":[1],"items":[" dup ",1e3,100000000000000000000],"a":{"z":null,"b":true}}"#
        );
        assert_eq!(Node::parse(&node.to_json()).unwrap(), node);
        assert_eq!(node.at(&[1, 1]), Some(&Node::Number("1e3".into())));
        let changed = node.with(&[1], Node::Array(vec![]));
        assert_eq!(
            changed.to_json(),
            r#"{"items":[1],"items":[],"a":{"z":null,"b":true}}"#
        );
        assert!(node.pretty().contains("\n  \"items\": [\n    1\n  ],"));
    }

    #[test]
    fn strings_round_trip_with_control_characters() {
        let node = Node::parse(r#"["\u001c x \"q\" é"]"#).unwrap();
        assert_eq!(
            node,
            Node::Array(vec![Node::String("\u{1c} x \"q\" é".into())])
        );
        assert_eq!(Node::parse(&node.to_json()).unwrap(), node);
        assert!(Node::parse("[1,").is_err());
    }
}
