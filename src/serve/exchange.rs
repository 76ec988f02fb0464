//! Serve's own conversion of a live HTTP request and response into the
//! exchange record's JSON shapes, for the comparison (and, later, capture).
//!
//! **The lead will unify this with issue 12's exchange model at merge**
//! (the i12 branch builds the same shapes for replay's `upstream:` side);
//! until then this one small file is serve's only copy.
//!
//! # Contract
//! - A request is `{"method", "path", "query"?, "headers": [[name, value],
//!   ...], "body"?}`: names keep their case, order and repeats; `query` is
//!   present only when the URL has one; `body` only when it is not empty.
//! - A response, as compared, is `{"status", "headers": {name: value},
//!   "body"}`: header names lower-cased (repeats joined with `, `), and the
//!   [`VOLATILE`] headers left out (they differ between any two servers or
//!   runs, or are framing).
//! - A body is the JSON value for a JSON content type (`application/json`,
//!   `+json`) that parses, else `{"text": ...}` for UTF-8, else
//!   `{"base64": ...}`.
//! - Hop-by-hop headers ([`is_hop_by_hop`]) are never forwarded either way.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use base64::Engine;
use serde_json::{json, Map, Value};

/// Response headers left out of the comparison: they differ between any
/// two servers or runs (`date`, `server`) or are framing (`content-length`,
/// `transfer-encoding`, `connection`, `keep-alive`).
pub const VOLATILE: [&str; 6] = [
    "date",
    "server",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Headers that belong to one connection, not to the message (RFC 9110
/// 7.6.1), plus those the `Connection` header names.
pub fn is_hop_by_hop(name: &str, headers: &HeaderMap) -> bool {
    const HOP: [&str; 9] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    HOP.contains(&name)
        || headers
            .get_all(axum::http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case(name))
}

/// A copy of `headers` without the hop-by-hop ones.
pub fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_hop_by_hop(name.as_str(), headers) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// A body as the exchange records write it (see the module docs).
pub fn body_value(headers: &HeaderMap, body: &[u8]) -> Value {
    let json_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|t| t == "application/json" || t.ends_with("+json"));
    if json_type {
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            return value;
        }
    }
    match std::str::from_utf8(body) {
        Ok(text) => json!({ "text": text }),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(body) }),
    }
}

/// A request as an exchange record's `input`.
pub fn request_value(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Value {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let mut record = Map::new();
    record.insert("method".into(), json!(method.as_str()));
    record.insert("path".into(), json!(path));
    if let Some(query) = query {
        record.insert("query".into(), json!(query));
    }
    let pairs: Vec<Value> = headers
        .iter()
        .map(|(n, v)| json!([n.as_str(), String::from_utf8_lossy(v.as_bytes())]))
        .collect();
    record.insert("headers".into(), Value::Array(pairs));
    if !body.is_empty() {
        record.insert("body".into(), body_value(headers, body));
    }
    Value::Object(record)
}

/// A response as compared (see the module docs).
pub fn response_value(status: StatusCode, headers: &HeaderMap, body: &Bytes) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        if VOLATILE.contains(&name) || is_hop_by_hop(name, headers) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match map.get_mut(name) {
            Some(Value::String(before)) => {
                before.push_str(", ");
                before.push_str(&value);
            }
            _ => {
                map.insert(name.to_owned(), Value::String(value));
            }
        }
    }
    json!({
        "status": status.as_u16(),
        "headers": Value::Object(map),
        "body": body_value(headers, body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_exchange_records() {
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", "application/json".parse().unwrap());
        headers.append("X-A", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        headers.insert("Date", "now".parse().unwrap());
        headers.insert("Connection", "x-hop".parse().unwrap());
        headers.insert("x-hop", "h".parse().unwrap());
        let response = response_value(StatusCode::OK, &headers, &Bytes::from_static(b"{\"b\":1}"));
        assert_eq!(
            response,
            json!({"status": 200, "headers": {"content-type": "application/json", "x-a": "1, 2"}, "body": {"b": 1}})
        );
        let request = request_value(&Method::GET, "/p?q=1", &HeaderMap::new(), b"");
        assert_eq!(
            request,
            json!({"method": "GET", "path": "/p", "query": "q=1", "headers": []})
        );
        assert_eq!(
            body_value(&HeaderMap::new(), &[0xff]),
            json!({"base64": "/w=="})
        );
        assert!(!end_to_end(&headers).contains_key("x-hop"));
    }
}
