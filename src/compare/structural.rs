//! Structural JSON diff: where two values differ, as JSON Pointer paths.
//!
//! # Contract
//! [`diff`] walks both values together and reports each place they differ:
//! - `changed`: same JSON type, different value (strings, numbers, booleans);
//! - `type_changed`: different JSON types (`null` vs `""`, `[]` vs `{}`, ...);
//! - `removed`: present on the legacy side only (object key or trailing array
//!   element); `added`: present on the candidate side only.
//!
//! Objects are compared key by key (order ignored); arrays index by index (no
//! alignment: an inserted element shows as changes from that index on, which is
//! what a client reading by position would see). Paths are RFC 6901 JSON
//! Pointers (`~` → `~0`, `/` → `~1`), emitted in a deterministic order (object
//! keys sorted). At most [`MAX_DIFFERENCES`] are kept per record; the total is
//! always exact.

use serde::Serialize;
use serde_json::Value;

/// Differences kept per record (the count stays exact beyond it).
pub const MAX_DIFFERENCES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    Changed,
    TypeChanged,
    Added,
    Removed,
}

impl DiffKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Changed => "changed",
            DiffKind::TypeChanged => "type_changed",
            DiffKind::Added => "added",
            DiffKind::Removed => "removed",
        }
    }
}

/// One place where the outputs differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// JSON Pointer into both outputs (`""` is the whole document).
    pub path: String,
    pub kind: DiffKind,
}

/// Returns the first [`MAX_DIFFERENCES`] differences and the total count.
pub fn diff(legacy: &Value, candidate: &Value) -> (Vec<Difference>, usize) {
    let mut walker = Walker {
        kept: Vec::new(),
        total: 0,
        path: String::new(),
    };
    walker.walk(legacy, candidate);
    (walker.kept, walker.total)
}

struct Walker {
    kept: Vec<Difference>,
    total: usize,
    path: String,
}

impl Walker {
    fn report(&mut self, kind: DiffKind) {
        self.total += 1;
        if self.kept.len() < MAX_DIFFERENCES {
            self.kept.push(Difference {
                path: self.path.clone(),
                kind,
            });
        }
    }

    fn at(&mut self, token: &str, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        self.path.push('/');
        for c in token.chars() {
            match c {
                '~' => self.path.push_str("~0"),
                '/' => self.path.push_str("~1"),
                c => self.path.push(c),
            }
        }
        f(self);
        self.path.truncate(len);
    }

    fn walk(&mut self, a: &Value, b: &Value) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x
                    .keys()
                    .chain(y.keys().filter(|k| !x.contains_key(*k)))
                    .collect();
                keys.sort();
                for key in keys {
                    self.at(key, |w| match (x.get(key), y.get(key)) {
                        (Some(u), Some(v)) => w.walk(u, v),
                        (Some(_), None) => w.report(DiffKind::Removed),
                        (None, Some(_)) => w.report(DiffKind::Added),
                        (None, None) => {}
                    });
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                for i in 0..x.len().max(y.len()) {
                    self.at(&i.to_string(), |w| match (x.get(i), y.get(i)) {
                        (Some(u), Some(v)) => w.walk(u, v),
                        (Some(_), None) => w.report(DiffKind::Removed),
                        (None, Some(_)) => w.report(DiffKind::Added),
                        (None, None) => {}
                    });
                }
            }
            _ if a == b => {}
            _ if std::mem::discriminant(a) == std::mem::discriminant(b) => {
                self.report(DiffKind::Changed)
            }
            _ => self.report(DiffKind::TypeChanged),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn paths(a: Value, b: Value) -> Vec<(String, DiffKind)> {
        diff(&a, &b)
            .0
            .into_iter()
            .map(|d| (d.path, d.kind))
            .collect()
    }

    #[test]
    fn kinds_and_pointers() {
        assert_eq!(
            paths(
                json!({"a": 1, "b": [1, 2, 3], "c": null, "d/e~": "x", "gone": 1}),
                json!({"a": 2, "b": [1, 2], "c": "", "d/e~": "x", "new": []})
            ),
            vec![
                ("/a".into(), DiffKind::Changed),
                ("/b/2".into(), DiffKind::Removed),
                ("/c".into(), DiffKind::TypeChanged),
                ("/gone".into(), DiffKind::Removed),
                ("/new".into(), DiffKind::Added),
            ]
        );
        assert_eq!(paths(json!({"k~/": 1}), json!({"k~/": 2}))[0].0, "/k~0~1");
        assert_eq!(
            paths(json!(null), json!([])),
            vec![(String::new(), DiffKind::TypeChanged)]
        );
    }

    #[test]
    fn empty_is_not_missing() {
        for (a, b) in [
            (json!({}), json!({"x": null})),
            (json!({"x": null}), json!({"x": ""})),
            (json!({"x": ""}), json!({"x": []})),
            (json!({"x": []}), json!({"x": {}})),
        ] {
            assert!(!paths(a.clone(), b.clone()).is_empty(), "{a} vs {b}");
        }
    }

    #[test]
    fn counts_are_exact_past_the_cap() {
        let a = Value::Array((0..500).map(|i| json!(i)).collect());
        let b = Value::Array((0..500).map(|i| json!(i + 1)).collect());
        let (kept, total) = diff(&a, &b);
        assert_eq!((kept.len(), total), (MAX_DIFFERENCES, 500));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-5i64..5).prop_map(|n| json!(n)),
            "[a-c ]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn no_differences_iff_equal(a in arb_json(), b in arb_json()) {
            let (_, total) = diff(&a, &b);
            prop_assert_eq!(total == 0, a == b);
        }

        #[test]
        fn diff_is_antisymmetric(a in arb_json(), b in arb_json()) {
            let forward = diff(&a, &b).0;
            let backward = diff(&b, &a).0;
            let flip = |k| match k { DiffKind::Added => DiffKind::Removed, DiffKind::Removed => DiffKind::Added, k => k };
            let flipped: Vec<_> = backward.into_iter().map(|d| Difference { path: d.path, kind: flip(d.kind) }).collect();
            prop_assert_eq!(forward, flipped);
        }
    }
}
