//! The canonical order of JSON values, which the `unordered` rule sorts
//! arrays by.
//!
//! # Contract
//! [`canonical_cmp`] is a total order on JSON values that agrees with
//! equality (`Equal` exactly when `==`), so equal elements of two multisets
//! line up once both are sorted: types first (null, booleans, numbers,
//! strings, arrays, objects), then values; numbers by magnitude, ties (`1`
//! and `1.0`) by their text; arrays and objects element by element.
//! [`sorted`] orders an array's elements by it, or by the `key` field of
//! each (elements without the field first).

use serde_json::Value;

/// The elements in a canonical order: by the `key` field of each (a missing
/// field first), or by the whole element. See [`canonical_cmp`].
pub(super) fn sorted<'v>(items: &'v [Value], key: &Option<String>) -> Vec<&'v Value> {
    let mut out: Vec<&Value> = items.iter().collect();
    match key {
        Some(k) => out.sort_by(|p, q| match (p.get(k), q.get(k)) {
            (Some(x), Some(y)) => canonical_cmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }),
        None => out.sort_by(|p, q| canonical_cmp(p, q)),
    }
    out
}

/// A total order on JSON values that agrees with equality (`Equal` exactly
/// when `==`), so equal elements of two multisets line up after sorting.
/// Types first (null, booleans, numbers, strings, arrays, objects), then
/// values; numbers by magnitude, ties (`1` and `1.0`) by their text.
pub(super) fn canonical_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            let (f, g) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            f.total_cmp(&g).then_with(|| {
                if x == y {
                    std::cmp::Ordering::Equal
                } else {
                    x.to_string().cmp(&y.to_string())
                }
            })
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(u, v)| canonical_cmp(u, v))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .zip(y)
            .map(|((k, u), (l, v))| k.cmp(l).then_with(|| canonical_cmp(u, v)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_order_agrees_with_equality() {
        let values = [
            json!(null),
            json!(false),
            json!(true),
            json!(1),
            json!(1.0),
            json!(2),
            json!("a"),
            json!("b"),
            json!([1]),
            json!([1, 2]),
            json!({"a": 1}),
            json!({"a": 2}),
        ];
        for (i, a) in values.iter().enumerate() {
            for (j, b) in values.iter().enumerate() {
                assert_eq!(canonical_cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn sorting_by_key_puts_the_keyless_first() {
        let items = [json!({"id": 2}), json!({"x": 0}), json!({"id": 1})];
        let key = Some("id".to_owned());
        let ids: Vec<String> = sorted(&items, &key).iter().map(|v| v.to_string()).collect();
        assert_eq!(ids, [r#"{"x":0}"#, r#"{"id":1}"#, r#"{"id":2}"#]);
    }
}
