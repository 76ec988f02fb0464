//! The Rust replacement of `legacy/http_service.py`: the same REST service on
//! axum, with `cutover::normalize` as its logic (the worked HTTP migration).
//!
//!     cargo run --release --example normalize_http -- --port 8002
//!     cargo run --release --example normalize_http -- --port 0   # a free port, printed
//!
//! Binds 127.0.0.1 and prints one line, `listening on http://127.0.0.1:PORT`,
//! to stdout (flushed) once it accepts connections; nothing else goes to
//! stdout. HTTP/1.1 with keep-alive (hyper), `TCP_NODELAY` on every accepted
//! socket, tokio's listen backlog (1024). It serves until killed.
//!
//! # Contract
//! Same routes, statuses, content types, header values and body bytes as the
//! legacy (see the docstring of `legacy/http_service.py` and the README's "A
//! worked HTTP migration"), with compact JSON, keys sorted, non-ASCII as UTF-8,
//! so a byte comparison shows only real differences. The fixture store is
//! `fixtures/http/store.json`, compiled in; like the legacy, `PUT` and
//! `DELETE` answer what they would do without changing it, so answers never
//! depend on request order. Volatile headers differ as they naturally do: hyper
//! writes its own `date` and no `server`, and lower-cases header names.
//!
//! # The planted difference
//! `GET /normalize?item=...` decodes its query with `+` kept as a literal plus
//! sign (it is escaped to `%2B` before form decoding, as a port that "preserves
//! plus signs" might do); the legacy's `parse_qsl` reads `+` as a space. Every
//! such answer differs in its body (`/body/accepted/N` or `/body/rejected/N`);
//! every other route and every query without `+` agrees byte for byte.
//! `tests/integration/http_services.rs` holds both services to exactly that.
//!
//! # Non-goals
//! Methods other than the legacy's (hyper answers 405 where `http.server`
//! answers 501), JSON only Python reads (`NaN`, lone surrogates, numbers past
//! 64 bits, nesting past 128), a malformed `content-length` (hyper's own 400).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH,
    IF_NONE_MATCH, TRANSFER_ENCODING,
};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use axum::serve::ListenerExt;
use axum::Router;
use clap::Parser;
use cutover::normalize::{normalize, PyException};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

/// The store every process starts with (and never changes).
const STORE_JSON: &str = include_str!("../fixtures/http/store.json");
const JSON_TYPE: &str = "application/json";
const TEXT_TYPE: &str = "text/plain; charset=utf-8";
const FIELDS: [&str; 5] = ["id", "labels", "name", "owner", "version"];
/// Bytes; a longer body is refused (413) before it is read, as by the legacy.
const MAX_BODY: u64 = 1 << 20;

#[derive(Parser)]
#[command(about = "The Rust normalize as an HTTP service on 127.0.0.1.")]
struct Args {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8002)]
    port: u16,
}

#[derive(Deserialize)]
struct StoredItem {
    id: u64,
    name: String,
    labels: Vec<String>,
    owner: String,
    version: u64,
}

/// The fixture store: each item with its served view (labels normalized).
struct Store {
    items: BTreeMap<u64, (StoredItem, Map<String, Value>)>,
}

impl Store {
    fn load() -> Result<Store, String> {
        let items: Vec<StoredItem> = serde_json::from_str(STORE_JSON)
            .map_err(|e| format!("fixtures/http/store.json: {e}"))?;
        let mut store = BTreeMap::new();
        for item in items {
            let labels = accepted(&json!({ "items": item.labels }))
                .map_err(|e| format!("fixtures/http/store.json: item {}: {e:?}", item.id))?;
            let view = json!({
                "id": item.id, "labels": labels, "name": item.name,
                "owner": item.owner, "version": item.version,
            });
            let Value::Object(view) = view else {
                unreachable!("json! of an object literal is an object")
            };
            store.insert(item.id, (item, view));
        }
        Ok(Store { items: store })
    }
}

/// Runs the port on a JSON value (the legacy takes the parsed payload).
fn run(payload: &Value) -> Result<Value, PyException> {
    let text = payload.to_string();
    let raw = RawValue::from_string(text).map_err(|e| PyException {
        kind: "ValueError",
        message: e.to_string(),
    })?;
    normalize(&raw)
}

/// The `accepted` list of a normalize result.
fn accepted(payload: &Value) -> Result<Value, PyException> {
    Ok(run(payload)?["accepted"].take())
}

/// What a route decided: status, body object (none for 204/304), headers.
struct Answer {
    status: StatusCode,
    body: Option<Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Clone, Copy)]
enum Kind {
    Json,
    Text,
}

fn no_store() -> Vec<(HeaderName, HeaderValue)> {
    vec![(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    )]
}

fn cacheable() -> Vec<(HeaderName, HeaderValue)> {
    vec![(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    )]
}

fn answer(status: StatusCode, body: Value, headers: Vec<(HeaderName, HeaderValue)>) -> Answer {
    Answer {
        status,
        body: Some(body),
        headers,
    }
}

fn error_with(
    status: StatusCode,
    kind: &str,
    message: &str,
    headers: Vec<(HeaderName, HeaderValue)>,
) -> Answer {
    answer(
        status,
        json!({"error": {"type": kind, "message": message}}),
        headers,
    )
}

fn error(status: StatusCode, kind: &str, message: &str) -> Answer {
    error_with(status, kind, message, no_store())
}

/// Body bytes in the negotiated format: compact JSON, or `key=JSON` lines.
fn render(body: &Value, kind: Kind) -> Vec<u8> {
    match (kind, body) {
        (Kind::Text, Value::Object(map)) => map
            .iter()
            .map(|(key, value)| format!("{key}={value}\n"))
            .collect::<String>()
            .into_bytes(),
        _ => body.to_string().into_bytes(),
    }
}

/// `type/subtype` of a content-type or accept range, ASCII-lower-cased.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim_matches([' ', '\t'])
        .to_ascii_lowercase()
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(media_type(value))
}

/// JSON or text for the `accept` values, first acceptable range wins; None: 406.
fn negotiate(headers: &HeaderMap) -> Option<Kind> {
    let mut values = headers.get_all(ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return Some(Kind::Json);
    }
    for value in values {
        let Ok(value) = value.to_str() else { continue };
        for part in value.split(',') {
            match media_type(part).as_str() {
                "application/json" | "application/*" | "*/*" => return Some(Kind::Json),
                "text/plain" | "text/*" => return Some(Kind::Text),
                _ => {}
            }
        }
    }
    None
}

/// The response: content type and length, the echoed `x-request-id`, then the
/// route's headers, in the legacy's order.
fn reply(request: &HeaderMap, kind: Kind, answer: Answer) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    if let Some(body) = &answer.body {
        let data = render(body, kind);
        let content_type = match kind {
            Kind::Json => JSON_TYPE,
            Kind::Text => TEXT_TYPE,
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(data.len()));
        *response.body_mut() = Body::from(data);
    }
    let headers = response.headers_mut();
    if let Some(id) = request.get("x-request-id") {
        headers.insert("x-request-id", id.clone());
    }
    for (name, value) in answer.headers {
        headers.append(name, value);
    }
    response
}

/// Negotiates first (406 before any work), then answers with `route`.
fn respond(request: &HeaderMap, route: impl FnOnce() -> Answer) -> Response {
    match negotiate(request) {
        Some(kind) => reply(request, kind, route()),
        None => reply(
            request,
            Kind::Json,
            error(
                StatusCode::NOT_ACCEPTABLE,
                "NotAcceptable",
                "accept must allow application/json or text/plain",
            ),
        ),
    }
}

/// Query pairs, form-decoded (`+` a space, `%XX` a byte, lossy UTF-8).
fn pairs(uri: &Uri) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).collect()
}

fn param<'a>(pairs: &'a [(Cow<'_, str>, Cow<'_, str>)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_ref())
}

/// An ASCII decimal of at most `digits` digits and at most `maximum`.
fn whole_number(text: &str, maximum: u64, digits: usize) -> Option<u64> {
    if text.is_empty() || text.len() > digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| *n <= maximum)
}

/// A paging parameter (at most 4 digits), its default when absent, or the 400 answer.
fn number_param(
    pairs: &[(Cow<'_, str>, Cow<'_, str>)],
    name: &str,
    default: u64,
    maximum: u64,
) -> Result<u64, Answer> {
    param(pairs, name)
        .map_or(Some(default), |text| whole_number(text, maximum, 4))
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("{name} must be a whole number from 0 to {maximum}"),
            )
        })
}

fn etag(id: u64, version: u64) -> HeaderValue {
    HeaderValue::try_from(format!("\"{id}-{version}\"")).expect("digits, dash and quotes")
}

/// Whether `if-match` / `if-none-match` values name `tag` (or `*`); weak tags compare equal.
fn tag_matches(headers: &HeaderMap, name: HeaderName, tag: &HeaderValue) -> bool {
    let tag = tag.to_str().unwrap_or_default();
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim_matches([' ', '\t']))
        .any(|token| token == "*" || token.strip_prefix("W/").unwrap_or(token) == tag)
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| !token.trim_matches([' ', '\t']).is_empty())
}

fn unauthorized() -> Answer {
    let mut headers = vec![(
        axum::http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer"),
    )];
    headers.extend(no_store());
    error_with(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "a bearer token is required",
        headers,
    )
}

/// The raw (still percent-encoded) `{id}` segment, as the legacy reads it.
fn item_id(uri: &Uri) -> Option<u64> {
    let raw = uri.path().strip_prefix("/items/").unwrap_or_default();
    whole_number(raw, 999_999, 6)
}

/// The item id of a PUT or DELETE, or the 401 or 400 answer.
fn write_target(headers: &HeaderMap, uri: &Uri) -> Result<u64, Answer> {
    if !authorized(headers) {
        return Err(unauthorized());
    }
    item_id(uri).ok_or_else(bad_id)
}

/// Whether an `if-match` is present and does not name the current item's etag.
fn precondition_failed(headers: &HeaderMap, id: u64, current: Option<&StoredItem>) -> bool {
    headers.contains_key(IF_MATCH)
        && !current.is_some_and(|item| tag_matches(headers, IF_MATCH, &etag(id, item.version)))
}

fn precondition_error() -> Answer {
    error(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailed",
        "if-match does not name the current etag",
    )
}

fn bad_id() -> Answer {
    error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "item id must be a whole number",
    )
}

fn normalize_answer(payload: &Value, headers: Vec<(HeaderName, HeaderValue)>) -> Answer {
    match run(payload) {
        Ok(result) => answer(StatusCode::OK, result, headers),
        Err(exc) => error(StatusCode::UNPROCESSABLE_ENTITY, exc.kind, &exc.message),
    }
}

async fn health(headers: HeaderMap) -> Response {
    respond(&headers, || {
        answer(StatusCode::OK, json!({"status": "ok"}), no_store())
    })
}

async fn normalize_get(uri: Uri, headers: HeaderMap) -> Response {
    respond(&headers, || {
        // The planted difference: `+` survives as a plus sign.
        let query = uri.query().unwrap_or_default().replace('+', "%2B");
        let items: Vec<String> = form_urlencoded::parse(query.as_bytes())
            .filter(|(key, _)| key == "item")
            .map(|(_, value)| value.into_owned())
            .collect();
        normalize_answer(&json!({ "items": items }), cacheable())
    })
}

async fn normalize_post(headers: HeaderMap, body: Bytes) -> Response {
    respond(&headers, || {
        let payload = match content_type(&headers).as_deref() {
            Some("application/json") => match serde_json::from_slice::<&RawValue>(&body) {
                Ok(raw) => {
                    return match normalize(raw) {
                        Ok(result) => answer(StatusCode::OK, result, no_store()),
                        Err(exc) => error(StatusCode::UNPROCESSABLE_ENTITY, exc.kind, &exc.message),
                    }
                }
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "body is not valid JSON",
                    )
                }
            },
            Some("text/plain") => match std::str::from_utf8(&body) {
                Ok(text) => json!({ "items": text.split('\n').collect::<Vec<_>>() }),
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "body is not valid UTF-8",
                    )
                }
            },
            _ => {
                return error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    "content-type must be application/json or text/plain",
                )
            }
        };
        normalize_answer(&payload, no_store())
    })
}

async fn list_items(State(store): State<Arc<Store>>, uri: Uri, headers: HeaderMap) -> Response {
    respond(&headers, || {
        let pairs = pairs(&uri);
        let limit = match number_param(&pairs, "limit", 10, 50) {
            Ok(limit) => limit,
            Err(refused) => return refused,
        };
        let offset = match number_param(&pairs, "offset", 0, 9999) {
            Ok(offset) => offset,
            Err(refused) => return refused,
        };
        let owner = param(&pairs, "owner");
        let chosen: Vec<&Map<String, Value>> = store
            .items
            .values()
            .filter(|(item, _)| owner.is_none_or(|owner| item.owner == owner))
            .map(|(_, view)| view)
            .collect();
        let page: Vec<&Map<String, Value>> = chosen
            .iter()
            .skip(offset as usize)
            .take(limit as usize)
            .copied()
            .collect();
        let body = json!({"items": page, "limit": limit, "offset": offset, "total": chosen.len()});
        answer(StatusCode::OK, body, cacheable())
    })
}

async fn get_item(State(store): State<Arc<Store>>, uri: Uri, headers: HeaderMap) -> Response {
    respond(&headers, || {
        let Some(id) = item_id(&uri) else {
            return bad_id();
        };
        let Some((item, view)) = store.items.get(&id) else {
            return error(StatusCode::NOT_FOUND, "NotFound", "no such item");
        };
        let mut shown = view.clone();
        let pairs = pairs(&uri);
        if let Some(fields) = param(&pairs, "fields") {
            let names: Vec<&str> = fields.split(',').filter(|name| !name.is_empty()).collect();
            if names.is_empty() || names.iter().any(|name| !FIELDS.contains(name)) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("fields must name some of: {}", FIELDS.join(", ")),
                );
            }
            shown.retain(|key, _| names.contains(&key.as_str()));
        }
        let tag = etag(id, item.version);
        let mut answer_headers = vec![(axum::http::header::ETAG, tag.clone())];
        answer_headers.extend(cacheable());
        if tag_matches(&headers, IF_NONE_MATCH, &tag) {
            return Answer {
                status: StatusCode::NOT_MODIFIED,
                body: None,
                headers: answer_headers,
            };
        }
        answer(StatusCode::OK, Value::Object(shown), answer_headers)
    })
}

async fn put_item(
    State(store): State<Arc<Store>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&headers, || {
        let id = match write_target(&headers, &uri) {
            Ok(id) => id,
            Err(refused) => return refused,
        };
        if content_type(&headers).as_deref() != Some("application/json") {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "content-type must be application/json",
            );
        }
        let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "body is not valid JSON",
            );
        };
        let invalid = |message| error(StatusCode::UNPROCESSABLE_ENTITY, "ValidationError", message);
        let Value::Object(payload) = payload else {
            return invalid("body must be a JSON object");
        };
        let Some(Value::String(name)) = payload.get("name") else {
            return invalid("name must be a string");
        };
        let Some(labels @ Value::Array(_)) = payload.get("labels") else {
            return invalid("labels must be a list");
        };
        let labels = match accepted(&json!({ "items": labels })) {
            Ok(labels) => labels,
            Err(exc) => return error(StatusCode::UNPROCESSABLE_ENTITY, exc.kind, &exc.message),
        };
        let current = store.items.get(&id).map(|(item, _)| item);
        if precondition_failed(&headers, id, current) {
            return precondition_error();
        }
        let version = current.map_or(1, |item| item.version + 1);
        let shown = json!({
            "id": id, "labels": labels, "name": name,
            "owner": current.map(|item| &item.owner), "version": version,
        });
        let mut answer_headers = vec![(axum::http::header::ETAG, etag(id, version))];
        answer_headers.extend(no_store());
        if current.is_none() {
            let location = HeaderValue::try_from(format!("/items/{id}")).expect("a path of digits");
            answer_headers.push((axum::http::header::LOCATION, location));
            return answer(StatusCode::CREATED, shown, answer_headers);
        }
        answer(StatusCode::OK, shown, answer_headers)
    })
}

async fn delete_item(State(store): State<Arc<Store>>, uri: Uri, headers: HeaderMap) -> Response {
    respond(&headers, || {
        let id = match write_target(&headers, &uri) {
            Ok(id) => id,
            Err(refused) => return refused,
        };
        let Some((item, _)) = store.items.get(&id) else {
            return error(StatusCode::NOT_FOUND, "NotFound", "no such item");
        };
        if precondition_failed(&headers, id, Some(item)) {
            return precondition_error();
        }
        Answer {
            status: StatusCode::NO_CONTENT,
            body: None,
            headers: no_store(),
        }
    })
}

/// 405 for a known path and another method, with the legacy's `allow`.
fn not_allowed(router: MethodRouter<Arc<Store>>, allow: &'static str) -> MethodRouter<Arc<Store>> {
    router.fallback(move |headers: HeaderMap| async move {
        let mut answer_headers = vec![(axum::http::header::ALLOW, HeaderValue::from_static(allow))];
        answer_headers.extend(no_store());
        let message = format!("this path allows {allow}");
        reply(
            &headers,
            Kind::Json,
            error_with(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                &message,
                answer_headers,
            ),
        )
    })
}

async fn not_found(headers: HeaderMap) -> Response {
    reply(
        &headers,
        Kind::Json,
        error(StatusCode::NOT_FOUND, "NotFound", "no route for this path"),
    )
}

/// The legacy's bounds, checked before routing: a body needs `content-length`
/// (chunked: 411) and may be at most `MAX_BODY` bytes (413).
async fn bounds(request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let refuse = |answer| {
        let mut response = reply(&headers, Kind::Json, answer);
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
        response
    };
    if headers.contains_key(TRANSFER_ENCODING) {
        return refuse(error(
            StatusCode::LENGTH_REQUIRED,
            "LengthRequired",
            "send the body with content-length",
        ));
    }
    let length = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return refuse(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            &format!("the body must be at most {MAX_BODY} bytes"),
        ));
    }
    next.run(request).await
}

fn app(store: Arc<Store>) -> Router {
    Router::new()
        .route("/health", not_allowed(get(health), "GET"))
        .route(
            "/normalize",
            not_allowed(get(normalize_get).post(normalize_post), "GET, POST"),
        )
        .route("/items", not_allowed(get(list_items), "GET"))
        .route(
            "/items/{id}",
            not_allowed(
                get(get_item).put(put_item).delete(delete_item),
                "GET, PUT, DELETE",
            ),
        )
        .fallback(not_found)
        .layer(middleware::from_fn(bounds))
        .with_state(store)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let store = match Store::load() {
        Ok(store) => Arc::new(store),
        Err(message) => {
            eprintln!("normalize_http: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "normalize_http: cannot listen on 127.0.0.1:{}: {e}",
                args.port
            );
            return ExitCode::from(2);
        }
    };
    let port = listener.local_addr().map_or(args.port, |addr| addr.port());
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "listening on http://127.0.0.1:{port}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    let listener = listener.tap_io(|tcp| {
        // Best effort, as hyper's own `set_nodelay`: a socket that refuses it still serves.
        let _ = tcp.set_nodelay(true);
    });
    match axum::serve(listener, app(store)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("normalize_http: {e}");
            ExitCode::from(2)
        }
    }
}
