//! The request's key: which user or session a live request belongs to.
//!
//! # Contract
//! [`KeyFrom::of`] looks, in this order, at the header (`--key-header`),
//! the cookie, the query parameter, then a top-level string (or number)
//! field of the JSON body; the first one present and non-empty wins. An
//! empty value is not a key (a request without a key is served by the
//! legacy, not mirrored, and counted). A key longer than [`MAX_KEY_BYTES`]
//! is not a key either (hostile input must not grow the flag context).
//! Nothing here allocates for a request that has no source configured.

use serde::{Deserialize, Serialize};

/// Longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// Where the key is read from (each optional; at least the header usually).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFrom {
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub query: Option<String>,
    /// A top-level field of a JSON object body.
    pub json_field: Option<String>,
}

impl KeyFrom {
    /// The key of a request, if it has one (see the module docs).
    pub fn of(
        &self,
        headers: &axum::http::HeaderMap,
        query: Option<&str>,
        body: Option<&serde_json::value::RawValue>,
    ) -> Option<String> {
        let usable = |v: &str| (!v.is_empty() && v.len() <= MAX_KEY_BYTES).then(|| v.to_owned());
        if let Some(name) = &self.header {
            if let Some(v) = headers.get(name.as_str()).and_then(|v| v.to_str().ok()) {
                if let Some(key) = usable(v.trim()) {
                    return Some(key);
                }
            }
        }
        if let Some(name) = &self.cookie {
            for header in headers.get_all(axum::http::header::COOKIE) {
                let Ok(text) = header.to_str() else { continue };
                for pair in text.split(';') {
                    if let Some((n, v)) = pair.trim().split_once('=') {
                        if n == name {
                            if let Some(key) = usable(v) {
                                return Some(key);
                            }
                        }
                    }
                }
            }
        }
        if let (Some(name), Some(query)) = (&self.query, query) {
            for (n, v) in form_urlencoded::parse(query.as_bytes()) {
                if n == name.as_str() {
                    if let Some(key) = usable(&v) {
                        return Some(key);
                    }
                }
            }
        }
        if let (Some(name), Some(body)) = (&self.json_field, body) {
            if let Ok(serde_json::Value::Object(map)) =
                serde_json::from_str::<serde_json::Value>(body.get())
            {
                match map.get(name) {
                    Some(serde_json::Value::String(s)) => return usable(s),
                    Some(serde_json::Value::Number(n)) => return usable(&n.to_string()),
                    _ => {}
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn from() -> KeyFrom {
        KeyFrom {
            header: Some("x-user".into()),
            cookie: Some("sid".into()),
            query: Some("user".into()),
            json_field: Some("user".into()),
        }
    }

    #[test]
    fn the_header_wins_then_cookie_query_and_body_and_empty_is_no_key() {
        let body = RawValue::from_string(r#"{"user": 42}"#.into()).unwrap();
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(
            from().of(&headers, Some("user=q"), Some(&body)),
            Some("q".into())
        );
        assert_eq!(from().of(&headers, None, Some(&body)), Some("42".into()));
        headers.insert("cookie", "a=b; sid=c1".parse().unwrap());
        assert_eq!(from().of(&headers, Some("user=q"), None), Some("c1".into()));
        headers.insert("x-user", "h1".parse().unwrap());
        assert_eq!(from().of(&headers, None, None), Some("h1".into()));
        let mut empty = axum::http::HeaderMap::new();
        empty.insert("x-user", "".parse().unwrap());
        assert_eq!(from().of(&empty, Some("user="), None), None);
        assert_eq!(
            KeyFrom::default().of(&headers, Some("user=q"), Some(&body)),
            None
        );
    }
}
