//! Proxy mode: every HTTP request forwarded to the side the flags pick, as
//! it came; the response given back unchanged.
//!
//! # Contract
//! - Forwarded: the method, the path and query, the headers minus the
//!   hop-by-hop ones ([`super::exchange::is_hop_by_hop`]) and minus `Host`
//!   (the upstream's own is set), the body **streamed** through. The
//!   response (status, headers minus hop-by-hop, body) is streamed back.
//!   One hyper-util client per side, its idle pool bounded, no redirects
//!   followed (a 3xx is the answer), every call under the sides' timeout
//!   (504 past it; 502 when the upstream cannot be reached, with the error
//!   JSON).
//! - Mirrored only when the shadow flag is on for the key **and** the
//!   request may be sent twice: `GET`, `HEAD` and `OPTIONS`, or a
//!   `METHOD PATTERN` of `mirror_routes` (`*` matches within one path
//!   segment; the pattern matches the whole path). Others are counted
//!   `method_skipped`. A body that may be mirrored must declare its length
//!   and be at most `mirror_max_body` (else `body_too_large`). Every
//!   mirrored request carries the shadow header (`X-Cutover-Shadow: 1` by
//!   default), so a service can skip its side effects.
//! - A mirrored request's body and the serving side's response are
//!   buffered (bounded by `mirror_max_body` and the sides'
//!   `max_response_bytes`), because both are compared; everything else
//!   streams. The comparison is of [`super::exchange::response_value`]s.

use super::exchange::{end_to_end, request_value, response_value};
use super::metrics::Metrics;
use crate::flags::{Basis, Observe, Router};
use crate::model::{Answer, AppError, Side};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Proxy mode's settings (`[serve]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxySettings {
    /// The legacy's base URL (`http://host:port`, maybe with a path prefix).
    pub legacy: String,
    pub candidate: String,
    /// `METHOD PATTERN` entries allowed to be mirrored besides GET, HEAD, OPTIONS.
    pub mirror_routes: Vec<String>,
    /// The header every mirrored request carries, with the value `1`.
    pub shadow_header: String,
    /// Idle connections kept per upstream.
    pub pool: usize,
}

/// Why a proxy setting cannot work.
pub fn check(settings: &ProxySettings) -> Result<(), String> {
    for url in [&settings.legacy, &settings.candidate] {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("upstream:{url} is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(format!(
                "upstream:{url}: proxy mode forwards to http://HOST:PORT URLs only"
            ));
        }
    }
    for route in &settings.mirror_routes {
        let Some((method, pattern)) = route.split_once(' ') else {
            return Err(format!(
                "mirror_routes entry {route:?}: write METHOD PATTERN, e.g. \"POST /normalize\""
            ));
        };
        if Method::from_bytes(method.as_bytes()).is_err() || !pattern.starts_with('/') {
            return Err(format!(
                "mirror_routes entry {route:?}: write METHOD PATTERN, e.g. \"POST /normalize\""
            ));
        }
    }
    HeaderName::from_bytes(settings.shadow_header.as_bytes()).map_err(|_| {
        format!(
            "shadow_header {:?} is not a header name",
            settings.shadow_header
        )
    })?;
    Ok(())
}

type HttpClient = Client<HttpConnector, Body>;

/// Idle connections kept per upstream. (It was `--workers`, one per core: a
/// benchmark with 32 client connections then opened a new upstream
/// connection for nearly every request, at 6% of the direct throughput.)
pub const DEFAULT_POOL: usize = 256;

/// What the proxy handler shares.
pub struct Proxy {
    pub router: Router,
    pub key: super::key::KeyFrom,
    pub metrics: Arc<Metrics>,
    pub usage: Arc<super::usage::Usage>,
    pub mirror_max_body: usize,
    pub max_response_bytes: usize,
    pub timeout: Duration,
    legacy: Upstream,
    candidate: Upstream,
    routes: Vec<(Method, String)>,
    shadow_header: HeaderName,
}

#[derive(Clone)]
struct Upstream {
    base: String,
    client: HttpClient,
}

impl Proxy {
    /// The proxy of `serve` (its key and mirror limit), under the sides'
    /// timeout and response limit.
    pub fn new(
        settings: &ProxySettings,
        serve: &super::ServeSettings,
        sides: &crate::sides::SideOptions,
        router: Router,
        metrics: Arc<Metrics>,
        usage: Arc<super::usage::Usage>,
    ) -> Proxy {
        let upstream = |base: &str| {
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            Upstream {
                base: base.trim_end_matches('/').to_owned(),
                client: Client::builder(TokioExecutor::new())
                    .pool_max_idle_per_host(settings.pool)
                    .build(connector),
            }
        };
        Proxy {
            router,
            key: serve.key.clone(),
            metrics,
            usage,
            mirror_max_body: serve.mirror_max_body,
            max_response_bytes: sides.max_response_bytes,
            timeout: sides.timeout,
            legacy: upstream(&settings.legacy),
            candidate: upstream(&settings.candidate),
            routes: settings
                .mirror_routes
                .iter()
                .filter_map(|r| r.split_once(' '))
                .filter_map(|(m, p)| Some((Method::from_bytes(m.as_bytes()).ok()?, p.to_owned())))
                .collect(),
            shadow_header: HeaderName::from_bytes(settings.shadow_header.as_bytes())
                .unwrap_or(HeaderName::from_static("x-cutover-shadow")),
        }
    }

    fn upstream(&self, side: Side) -> &Upstream {
        match side {
            Side::Legacy => &self.legacy,
            Side::Candidate => &self.candidate,
        }
    }

    /// Whether a request may be sent twice (see the module docs).
    fn may_mirror(&self, method: &Method, path: &str) -> bool {
        matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            || self
                .routes
                .iter()
                .any(|(m, pattern)| m == method && matches_path(pattern, path))
    }
}

/// `*` matches within one segment; the whole path must match.
fn matches_path(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    p.len() == s.len() && p.iter().zip(&s).all(|(p, s)| segment(p, s))
}

fn segment(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.len() >= head.len()
                && text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| {
                    text.is_char_boundary(head.len() + i) && segment(tail, &text[head.len() + i..])
                })
        }
    }
}

/// A mirrored request, as both sides get it and the comparison sees it.
#[derive(Clone)]
pub struct Exchange {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Serialize for Exchange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        request_value(
            &self.method,
            &self.path_and_query,
            &self.headers,
            &self.body,
        )
        .serialize(s)
    }
}

/// A buffered response, or why there is none.
pub enum Buffered {
    Response {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    Failed(StatusCode, AppError),
}

impl Observe for Buffered {
    fn observe(&self) -> Answer {
        match self {
            Buffered::Response {
                status,
                headers,
                body,
            } => Answer::Output(response_value(*status, headers, body)),
            Buffered::Failed(StatusCode::GATEWAY_TIMEOUT, _) => Answer::Timeout(Duration::ZERO),
            Buffered::Failed(_, e) => Answer::Error(e.clone()),
        }
    }
}

fn failure(status: StatusCode, kind: &str, message: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"error": {"type": kind, "message": message}}).to_string(),
    )
        .into_response()
}

/// The upstream request for `parts` at `base`.
fn outgoing(
    base: &str,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Request<Body>, String> {
    let uri: Uri = format!("{base}{path_and_query}")
        .parse()
        .map_err(|e| format!("cannot forward to {base}{path_and_query}: {e}"))?;
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .map_err(|e| e.to_string())?;
    let mut forwarded = end_to_end(headers);
    forwarded.remove(axum::http::header::HOST);
    *request.headers_mut() = forwarded;
    Ok(request)
}

/// Any request, in proxy mode.
pub async fn handle(
    axum::extract::State(proxy): axum::extract::State<Arc<Proxy>>,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    proxy.metrics.accepted();
    let key = proxy.key.of(&parts.headers, parts.uri.query(), None);
    let mut decision = proxy.router.decide(key.as_deref());
    proxy.usage.observe(&decision);
    proxy
        .metrics
        .served(match (decision.serving, decision.basis) {
            (Side::Legacy, Basis::WithoutKey) => "legacy_without_key",
            (Side::Legacy, _) => "legacy",
            (Side::Candidate, _) => "candidate",
        });
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    if decision.mirrored && !proxy.may_mirror(&parts.method, parts.uri.path()) {
        decision.mirrored = false;
        proxy.metrics.shadow("method_skipped");
    }
    if decision.mirrored {
        let declared = parts
            .headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let chunked = parts
            .headers
            .contains_key(axum::http::header::TRANSFER_ENCODING);
        if chunked || declared.is_some_and(|n| n > proxy.mirror_max_body) {
            decision.mirrored = false;
            proxy.metrics.shadow("body_too_large");
        }
    }
    if !decision.mirrored {
        return stream(
            &proxy,
            decision.serving,
            parts.method,
            &path_and_query,
            &parts.headers,
            body,
        )
        .await;
    }
    let body = match Limited::new(body, proxy.mirror_max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            proxy.metrics.rejected();
            return failure(
                StatusCode::BAD_REQUEST,
                "cutover.bad_request",
                format!("cannot read the request body: {e}"),
            );
        }
    };
    let exchange = Exchange {
        method: parts.method,
        path_and_query,
        headers: parts.headers,
        body,
    };
    let call = |side: Side| {
        let proxy = proxy.clone();
        let shadow = side != decision.serving;
        move |exchange: Exchange| async move { buffered(&proxy, side, exchange, shadow).await }
    };
    let answer = proxy
        .router
        .run_decided(
            key.as_deref(),
            decision,
            exchange,
            call(Side::Legacy),
            call(Side::Candidate),
        )
        .await;
    match answer {
        Buffered::Response {
            status,
            headers,
            body,
        } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Buffered::Failed(status, e) => failure(status, &e.kind, e.message),
    }
}

/// Forwards without buffering; the response streams back.
async fn stream(
    proxy: &Proxy,
    side: Side,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let upstream = proxy.upstream(side);
    let request = match outgoing(&upstream.base, method, path_and_query, headers, body) {
        Ok(r) => r,
        Err(e) => return failure(StatusCode::BAD_GATEWAY, "cutover.target_failed", e),
    };
    let started = Instant::now();
    let sent = tokio::time::timeout(proxy.timeout, upstream.client.request(request)).await;
    proxy.metrics.upstream(side, started.elapsed());
    match sent {
        Ok(Ok(response)) => {
            let (parts, incoming) = response.into_parts();
            let mut response = Response::new(Body::new(incoming));
            *response.status_mut() = parts.status;
            *response.headers_mut() = end_to_end(&parts.headers);
            response
        }
        Ok(Err(e)) => failure(
            StatusCode::BAD_GATEWAY,
            "cutover.target_failed",
            format!("the {side} upstream failed: {e}"),
        ),
        Err(_) => failure(
            StatusCode::GATEWAY_TIMEOUT,
            "cutover.timeout",
            format!(
                "the {side} upstream gave no answer within {:?}",
                proxy.timeout
            ),
        ),
    }
}

/// Forwards a mirrored request (buffered) and buffers the response.
async fn buffered(proxy: &Proxy, side: Side, exchange: Exchange, shadow: bool) -> Buffered {
    let upstream = proxy.upstream(side);
    let mut headers = exchange.headers;
    if shadow {
        headers.insert(proxy.shadow_header.clone(), HeaderValue::from_static("1"));
    }
    let request = match outgoing(
        &upstream.base,
        exchange.method,
        &exchange.path_and_query,
        &headers,
        Body::from(exchange.body),
    ) {
        Ok(r) => r,
        Err(e) => {
            return Buffered::Failed(
                StatusCode::BAD_GATEWAY,
                AppError::new("cutover.target_failed", e),
            )
        }
    };
    let started = Instant::now();
    let limit = proxy.max_response_bytes;
    let call = async {
        let response = upstream
            .client
            .request(request)
            .await
            .map_err(|e| format!("the {side} upstream failed: {e}"))?;
        let (parts, incoming) = response.into_parts();
        let body = Limited::new(incoming, limit)
            .collect()
            .await
            .map_err(|e| format!("the {side} upstream's response could not be read (at most {limit} bytes are buffered for a comparison): {e}"))?
            .to_bytes();
        Ok::<_, String>(Buffered::Response {
            status: parts.status,
            headers: end_to_end(&parts.headers),
            body,
        })
    };
    let answer = match tokio::time::timeout(proxy.timeout, call).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => Buffered::Failed(
            StatusCode::BAD_GATEWAY,
            AppError::new("cutover.target_failed", e),
        ),
        Err(_) => Buffered::Failed(
            StatusCode::GATEWAY_TIMEOUT,
            AppError::new(
                "cutover.timeout",
                format!("no answer within {:?}", proxy.timeout),
            ),
        ),
    };
    proxy.metrics.upstream(side, started.elapsed());
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_patterns_match_whole_paths_segment_by_segment() {
        assert!(matches_path("/items/*", "/items/42"));
        assert!(!matches_path("/items/*", "/items/42/x"));
        assert!(matches_path("/normalize", "/normalize"));
        assert!(matches_path("/a/x*y", "/a/x-and-y"));
        assert!(!matches_path("/a/x*y", "/a/x-and-z"));
    }
}
