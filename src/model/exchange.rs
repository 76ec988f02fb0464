//! HTTP exchanges: a captured request and the response it got, as capture
//! records carry them, and the form two responses are compared in.
//!
//! # Contract
//! - The record shape is fixed (scripts rely on it). A request (a record's
//!   `input`) is `{"method", "path", "query"?, "headers": [[name, value],
//!   ...], "body"?}`; a response (its `recorded`, and what an upstream
//!   answered) is `{"status", "headers", "body"}`. A body is the JSON value
//!   itself when the message's content type is JSON (`application/json` or
//!   any `+json` type), else `{"text": "..."}`, or `{"base64": "..."}` for
//!   bytes that are not UTF-8. Header names keep their case, order and
//!   repeats.
//! - [`HttpRequest::parse`] and [`HttpResponse::parse`] validate strictly and
//!   return the reason in words: unknown keys, a `null` where a value is
//!   optional, a method that is not an HTTP token, a path that does not start
//!   with `/` (or is not `*`) or holds spaces, control characters, `?` or
//!   `#`, a query with spaces, control characters or `#`, a header name that
//!   is not a token or a value with CR, LF or NUL, a status outside
//!   100..=599, a body that does not fit its content type, bad base64.
//! - A JSON body is kept as the capture wrote it ([`Body::Json`] holds the
//!   JSON text); [`Body::wire`] sends it compact (whitespace outside strings
//!   removed; key order, escapes and number text unchanged).
//! - [`HttpResponse::comparable`] is the value two answers are compared in:
//!   `{"status", "headers": {lower-cased name: value, or [values] when
//!   repeated}, "body"}`, leaving out the headers the [`HeaderPolicy`] does
//!   not compare; so differences read `/status`, `/headers/content-type`,
//!   `/body/items/0`.
//! - [`HeaderPolicy`] holds two lists of header names (lower case; a
//!   trailing `*` matches a prefix): hop-by-hop headers, which belong to one
//!   connection (never forwarded by a replayer, never compared), and volatile
//!   ones, which differ on every answer (forwarded, never compared). The
//!   defaults are [`HOP_BY_HOP`] and [`VOLATILE`].
//!
//! - [`HeaderPolicy::redacted`] names the request headers that carry
//!   credentials ([`REDACTED`] by default): sent as recorded, shown redacted
//!   wherever a report writes the request ([`HttpRequest::redacted`]).
//!
//! These are plain library types: the upstream side sends them, the capture
//! imports make them, and a live proxy can use them the same way.
//!
//! # Non-goals
//! HTTP/2 pseudo-headers, trailers and multipart bodies are not modelled; a
//! multipart body is text or base64 like any other.

use base64::Engine;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Takes the values of some headers out of a text that may show them
/// whole or cut anywhere: a rejected line's excerpt. It knows three
/// spellings, names matched case-insensitively: a capture record's pair
/// (`["authorization", "..."`), a HAR header (`"name": "authorization",
/// "value": "..."`) and a raw HTTP/1 header line (`Authorization: ...`, as
/// a `.gor` payload has it). A value cut by the excerpt's end is taken out
/// up to there. Non-goal: a line too broken to show a header in one of
/// those spellings keeps its text (its values cannot be told from the rest).
#[derive(Debug, Clone, Default)]
pub struct HeaderScrubber {
    /// JSON-string values, then raw header lines; `None`: no names.
    patterns: Option<(regex::Regex, regex::Regex)>,
}

impl HeaderScrubber {
    /// A scrubber of the headers `names`.
    pub fn new(names: &[String]) -> Self {
        let names: Vec<String> = names
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| regex::escape(n))
            .collect();
        if names.is_empty() {
            return HeaderScrubber { patterns: None };
        }
        let names = names.join("|");
        let json = format!(
            r#"(?i)((?:\[\s*"(?:{names})"\s*,\s*"|"name"\s*:\s*"(?:{names})"\s*,\s*"value"\s*:\s*"))(?:[^"\\]|\\.)*\\?"#
        );
        let raw = format!(r"(?im)(^(?:{names})[ \t]*:[ \t]*)[^\r\n]*");
        let build = |p: &str| regex::Regex::new(p).expect("escaped names make a valid regex");
        HeaderScrubber {
            patterns: Some((build(&json), build(&raw))),
        }
    }

    /// `text` with those headers' values replaced by `with`.
    pub fn scrub<'t>(&self, text: &'t str, with: &str) -> std::borrow::Cow<'t, str> {
        let Some((json, raw)) = &self.patterns else {
            return text.into();
        };
        let replace = |caps: &regex::Captures| format!("{}{with}", &caps[1]);
        match json.replace_all(text, replace) {
            std::borrow::Cow::Borrowed(t) => raw.replace_all(t, replace),
            std::borrow::Cow::Owned(t) => raw.replace_all(&t, replace).into_owned().into(),
        }
    }
}

/// Header names in order, with their values, as written.
pub type Headers = Vec<(String, String)>;

/// Headers that belong to one connection: a replayer never forwards them
/// (it frames the body itself) and they are never compared.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-*",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "http2-settings",
];

/// Headers that differ between any two answers or servers: forwarded, never
/// compared.
pub const VOLATILE: [&str; 4] = ["date", "server", "age", "via"];

/// Request headers that carry credentials: sent, but shown in reports as
/// `<redacted>`.
pub const REDACTED: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// A message body.
#[derive(Debug, Clone)]
pub enum Body {
    /// A JSON document, as written.
    Json(Box<RawValue>),
    /// UTF-8 text.
    Text(String),
    /// Bytes that are not UTF-8.
    Bytes(Vec<u8>),
}

/// A captured HTTP request.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// Starts with `/` (or is `*`); no query.
    pub path: String,
    /// The query string without its `?` (`Some("")` is a bare `?`).
    pub query: Option<String>,
    pub headers: Headers,
    pub body: Option<Body>,
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Headers,
    pub body: Body,
}

/// Which headers are forwarded and compared (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeaderPolicy {
    /// Never forwarded, never compared.
    pub hop_by_hop: Vec<String>,
    /// Forwarded, never compared.
    pub volatile: Vec<String>,
    /// Request headers sent as recorded but shown as `<redacted>` wherever
    /// a report writes the request.
    #[serde(default = "default_redacted")]
    pub redacted: Vec<String>,
}

fn default_redacted() -> Vec<String> {
    REDACTED.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for HeaderPolicy {
    fn default() -> Self {
        HeaderPolicy {
            hop_by_hop: HOP_BY_HOP.iter().map(|s| (*s).to_owned()).collect(),
            volatile: VOLATILE.iter().map(|s| (*s).to_owned()).collect(),
            redacted: default_redacted(),
        }
    }
}

fn matches_any(list: &[String], name: &str) -> bool {
    list.iter().any(|pattern| match pattern.strip_suffix('*') {
        Some(prefix) => {
            name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
        }
        None => pattern.eq_ignore_ascii_case(name),
    })
}

impl HeaderPolicy {
    /// Whether `name` belongs to one connection (not forwarded, not compared).
    pub fn is_hop_by_hop(&self, name: &str) -> bool {
        matches_any(&self.hop_by_hop, name)
    }

    /// Whether two answers' `name` headers are compared.
    pub fn is_compared(&self, name: &str) -> bool {
        !self.is_hop_by_hop(name) && !matches_any(&self.volatile, name)
    }
}

/// An RFC 9110 token character.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_token(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if !text.bytes().all(is_tchar) {
        return Err(format!(
            "{what} {:?} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only)",
            excerpt(text)
        ));
    }
    Ok(())
}

fn excerpt(text: &str) -> String {
    text.chars().take(60).collect()
}

fn check_headers(headers: &Headers) -> Result<(), String> {
    for (i, (name, value)) in headers.iter().enumerate() {
        check_token(&format!("headers[{i}] name"), name)?;
        if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(format!(
                "headers[{i}] ({name}) value holds CR, LF or NUL, which HTTP cannot carry"
            ));
        }
    }
    Ok(())
}

/// The first value of header `name` (case-insensitive).
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether a `content-type` value names JSON (`application/json`, `*/*+json`).
pub fn is_json_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.contains('/') && media.ends_with("+json"))
}

/// Whether these headers say the body is JSON.
pub fn has_json_body(headers: &[(String, String)]) -> bool {
    header(headers, "content-type").is_some_and(is_json_type)
}

impl Body {
    /// The body of a message with these headers and bytes: JSON when the
    /// content type is JSON and the bytes are a JSON document, else text,
    /// else bytes.
    pub fn from_wire(headers: &[(String, String)], bytes: Vec<u8>) -> Body {
        if has_json_body(headers) && !bytes.is_empty() {
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) {
                    return Body::Json(raw);
                }
            }
        }
        match String::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Bytes(e.into_bytes()),
        }
    }

    /// The bytes a request sends or a response carried.
    pub fn wire(&self) -> Vec<u8> {
        match self {
            Body::Json(raw) => compact(raw.get()),
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Bytes(bytes) => bytes.clone(),
        }
    }

    /// The capture's form: the JSON value, `{"text"}` or `{"base64"}`.
    pub fn to_value(&self) -> Value {
        match self {
            // Valid JSON by construction; a document serde_json cannot hold
            // as a value (too deep) is compared as its text.
            Body::Json(raw) => serde_json::from_str(raw.get())
                .unwrap_or_else(|_| serde_json::json!({ "text": raw.get() })),
            Body::Text(text) => serde_json::json!({ "text": text }),
            Body::Bytes(bytes) => serde_json::json!({
                "base64": base64::engine::general_purpose::STANDARD.encode(bytes)
            }),
        }
    }

    /// Reads a capture body for a message with these headers.
    fn parse(raw: &RawValue, headers: &[(String, String)], what: &str) -> Result<Body, String> {
        if has_json_body(headers) {
            return Ok(Body::Json(raw.to_owned()));
        }
        let shape = || {
            format!(
                "{what}: the content type is not JSON, so the body must be {{\"text\": string}} or {{\"base64\": string}}, not {}",
                excerpt(raw.get())
            )
        };
        let object: Map<String, Value> = serde_json::from_str(raw.get()).map_err(|_| shape())?;
        if object.len() != 1 {
            return Err(shape());
        }
        match object.into_iter().next() {
            Some((key, Value::String(text))) if key == "text" => Ok(Body::Text(text)),
            Some((key, Value::String(b64))) if key == "base64" => {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map(Body::Bytes)
                    .map_err(|e| format!("{what}: base64 is not valid ({e})"))
            }
            _ => Err(shape()),
        }
    }
}

/// JSON text without whitespace outside strings.
fn compact(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            continue;
        }
        out.push(b);
    }
    out
}

/// The wire form's fields, each kept as JSON text to be checked.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestWire {
    method: Box<RawValue>,
    path: Box<RawValue>,
    #[serde(default, deserialize_with = "present")]
    query: Option<Box<RawValue>>,
    headers: Box<RawValue>,
    #[serde(default, deserialize_with = "present")]
    body: Option<Box<RawValue>>,
}

/// A present field is `Some`, even when it is `null`.
fn present<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Box<RawValue>>, D::Error> {
    serde::Deserialize::deserialize(de).map(Some)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseWire {
    status: Box<RawValue>,
    headers: Box<RawValue>,
    body: Box<RawValue>,
}

fn string(raw: &RawValue, what: &str) -> Result<String, String> {
    serde_json::from_str(raw.get())
        .map_err(|_| format!("{what} must be a string, not {}", excerpt(raw.get())))
}

fn headers_of(raw: &RawValue, what: &str) -> Result<Headers, String> {
    let headers: Headers = serde_json::from_str(raw.get()).map_err(|e| {
        format!("{what}: headers must be a list of [name, value] string pairs ({e})")
    })?;
    check_headers(&headers).map_err(|e| format!("{what}: {e}"))?;
    Ok(headers)
}

fn shape_error(what: &str, shape: &str, e: serde_json::Error) -> String {
    format!("{what} is not an HTTP {shape}: {e}")
}

impl HttpRequest {
    /// Reads and checks a request (a record's `input`; see the module docs).
    pub fn parse(raw: &RawValue) -> Result<HttpRequest, String> {
        const WHAT: &str = "input";
        let wire: RequestWire = serde_json::from_str(raw.get()).map_err(|e| {
            shape_error(
                WHAT,
                "request {\"method\", \"path\", \"query\"?, \"headers\", \"body\"?}",
                e,
            )
        })?;
        let method = string(&wire.method, "input.method")?;
        check_token("input.method", &method)?;
        let path = string(&wire.path, "input.path")?;
        if !(path.starts_with('/') || path == "*") {
            return Err(format!(
                "input.path {:?} must start with `/` (or be `*`)",
                excerpt(&path)
            ));
        }
        if path
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'?' || b == b'#')
        {
            return Err(format!(
                "input.path {:?} holds a space, a control character, `?` or `#` (the query goes in `query`, without its `?`)",
                excerpt(&path)
            ));
        }
        let query = match &wire.query {
            None => None,
            Some(raw) => {
                let query = string(raw, "input.query")?;
                if query.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'#') {
                    return Err(format!(
                        "input.query {:?} holds a space, a control character or `#` (percent-encode them)",
                        excerpt(&query)
                    ));
                }
                Some(query)
            }
        };
        let headers = headers_of(&wire.headers, "input")?;
        let body = match &wire.body {
            None => None,
            Some(raw) if raw.get() == "null" && !has_json_body(&headers) => {
                return Err("input.body is null; leave it out for a request without a body".into())
            }
            Some(raw) => Some(Body::parse(raw, &headers, "input.body")?),
        };
        Ok(HttpRequest {
            method,
            path,
            query,
            headers,
            body,
        })
    }

    /// The request with the values of the headers named in `names`
    /// (case-insensitive) replaced by `with`; `None` when it has none.
    pub fn redacted(&self, names: &[String], with: &str) -> Option<HttpRequest> {
        let hit = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
        if !self.headers.iter().any(|(n, _)| hit(n)) {
            return None;
        }
        let mut shown = self.clone();
        for (name, value) in &mut shown.headers {
            if hit(name) {
                *value = with.to_owned();
            }
        }
        Some(shown)
    }

    /// The request target: path and query.
    pub fn target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }

    /// The capture's form of this request.
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("method".into(), Value::String(self.method.clone()));
        object.insert("path".into(), Value::String(self.path.clone()));
        if let Some(query) = &self.query {
            object.insert("query".into(), Value::String(query.clone()));
        }
        object.insert("headers".into(), pairs_value(&self.headers));
        if let Some(body) = &self.body {
            object.insert("body".into(), body.to_value());
        }
        Value::Object(object)
    }
}

fn pairs_value(headers: &Headers) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(n, v)| Value::Array(vec![Value::String(n.clone()), Value::String(v.clone())]))
            .collect(),
    )
}

impl HttpResponse {
    /// Reads and checks a response (a record's `recorded`).
    pub fn parse(raw: &RawValue) -> Result<HttpResponse, String> {
        const WHAT: &str = "recorded";
        let wire: ResponseWire = serde_json::from_str(raw.get())
            .map_err(|e| shape_error(WHAT, "response {\"status\", \"headers\", \"body\"}", e))?;
        let status: u16 = serde_json::from_str(wire.status.get())
            .ok()
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| {
                format!(
                    "recorded.status must be a number from 100 to 599, not {}",
                    excerpt(wire.status.get())
                )
            })?;
        let headers = headers_of(&wire.headers, WHAT)?;
        let body = Body::parse(&wire.body, &headers, "recorded.body")?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// The response with the values of the headers named in `names`
    /// (case-insensitive) replaced by `with`.
    pub fn redacted(mut self, names: &[&str], with: &str) -> HttpResponse {
        for (name, value) in &mut self.headers {
            if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                *value = with.to_owned();
            }
        }
        self
    }

    /// The capture's form of this response.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "status": self.status,
            "headers": pairs_value(&self.headers),
            "body": self.body.to_value(),
        })
    }

    /// The value two responses are compared in (see the module docs).
    pub fn comparable(&self, policy: &HeaderPolicy) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            if !policy.is_compared(name) {
                continue;
            }
            let name = name.to_ascii_lowercase();
            let value = Value::String(value.clone());
            match headers.get_mut(&name) {
                None => {
                    headers.insert(name, value);
                }
                Some(Value::Array(values)) => values.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
            }
        }
        serde_json::json!({
            "status": self.status,
            "headers": headers,
            "body": self.body.to_value(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn a_request_reads_with_its_headers_in_order_and_its_body_kept_as_written() {
        let r = HttpRequest::parse(&raw(
            r#"{"method":"PUT","path":"/items/4","query":"a=1&a=2","headers":[["Host","h"],["content-type","application/json"],["X-A","1"],["x-a","2"]],"body":{"b": 1.50, "a": [ 1 ]}}"#,
        ))
        .unwrap();
        assert_eq!(r.target(), "/items/4?a=1&a=2");
        assert_eq!(r.headers[3], ("x-a".into(), "2".into()));
        assert_eq!(r.body.unwrap().wire(), br#"{"b":1.50,"a":[1]}"#.to_vec());
    }

    #[test]
    fn the_scrubber_takes_header_values_out_of_excerpts_in_every_spelling() {
        let scrubber = HeaderScrubber::new(&["authorization".into(), "cookie".into()]);
        let json =
            r#"{"headers": [["Authorization", "Bearer a\"b"], ["accept", "x"], [ "COOKIE" , "s=1"#;
        assert_eq!(
            scrubber.scrub(json, "<r>"),
            r#"{"headers": [["Authorization", "<r>"], ["accept", "x"], [ "COOKIE" , "<r>"#
        );
        let har = r#"{"name": "cookie", "value": "s=2"}, {"name": "x", "value": "y"}"#;
        assert_eq!(
            scrubber.scrub(har, "<r>"),
            r#"{"name": "cookie", "value": "<r>"}, {"name": "x", "value": "y"}"#
        );
        let gor = "GET / HTTP/1.1\r\nauthorization:  Basic eA==\r\nX-Cookie: kept\r\nCookie: s";
        assert_eq!(
            scrubber.scrub(gor, "<r>"),
            "GET / HTTP/1.1\r\nauthorization:  <r>\r\nX-Cookie: kept\r\nCookie: <r>"
        );
        assert_eq!(HeaderScrubber::new(&[]).scrub(gor, "<r>"), gor);
    }

    #[test]
    fn malformed_exchanges_say_what_is_wrong() {
        let cases = [
            (r#"{"path":"/","headers":[]}"#, "method"),
            (
                r#"{"method":"G T","path":"/","headers":[]}"#,
                "not an HTTP token",
            ),
            (
                r#"{"method":"GET","path":"items","headers":[]}"#,
                "must start with `/`",
            ),
            (
                r#"{"method":"GET","path":"/a?b","headers":[]}"#,
                "the query goes in `query`",
            ),
            (
                r#"{"method":"GET","path":"/","query":null,"headers":[]}"#,
                "input.query must be a string",
            ),
            (
                r#"{"method":"GET","path":"/","headers":[["a"]]}"#,
                "[name, value]",
            ),
            (
                r#"{"method":"GET","path":"/","headers":[["a b","c"]]}"#,
                "headers[0] name",
            ),
            (
                r#"{"method":"GET","path":"/","headers":[["a","c\r\nx: y"]]}"#,
                "CR, LF or NUL",
            ),
            (
                r#"{"method":"POST","path":"/","headers":[],"body":"x"}"#,
                "{\"text\": string}",
            ),
            (
                r#"{"method":"POST","path":"/","headers":[],"body":{"base64":"!!"}}"#,
                "base64 is not valid",
            ),
            (
                r#"{"method":"GET","path":"/","headers":[],"extra":1}"#,
                "unknown field `extra`",
            ),
            (r#"[1]"#, "not an HTTP request"),
        ];
        for (text, reason) in cases {
            let e = HttpRequest::parse(&raw(text)).expect_err(text);
            assert!(e.contains(reason), "{text}: {e}");
        }
        for (text, reason) in [
            (
                r#"{"status":99,"headers":[],"body":{"text":""}}"#,
                "100 to 599",
            ),
            (r#"{"status":200,"headers":[]}"#, "missing field `body`"),
        ] {
            let e = HttpResponse::parse(&raw(text)).unwrap_err();
            assert!(e.contains(reason), "{text}: {e}");
        }
    }

    #[test]
    fn the_comparable_form_keys_headers_by_lower_case_name_and_leaves_out_the_policy_ones() {
        let response = HttpResponse::parse(&raw(
            r#"{"status":200,"headers":[["Date","x"],["Set-Cookie","a"],["set-cookie","b"],["Content-Length","3"],["Content-Type","text/plain"],["Proxy-Foo","p"]],"body":{"text":"abc"}}"#,
        ))
        .unwrap();
        assert_eq!(
            response.comparable(&HeaderPolicy::default()),
            serde_json::json!({
                "status": 200,
                "headers": {"set-cookie": ["a", "b"], "content-type": "text/plain"},
                "body": {"text": "abc"}
            })
        );
    }

    #[test]
    fn bodies_follow_the_content_type() {
        let json = vec![(
            "Content-Type".to_owned(),
            "application/problem+json".to_owned(),
        )];
        assert!(matches!(
            Body::from_wire(&json, b"{\"a\":1}".to_vec()),
            Body::Json(_)
        ));
        assert!(matches!(
            Body::from_wire(&json, b"not json".to_vec()),
            Body::Text(_)
        ));
        assert_eq!(
            Body::from_wire(&[], vec![0xff, 0xfe]).to_value(),
            serde_json::json!({"base64": "//4="})
        );
    }
}
