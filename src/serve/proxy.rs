//! Proxy mode: every HTTP request forwarded to the side the flags pick, as
//! it came; the response given back unchanged.
//!
//! # Contract
//! - Each side is the replay's `upstream:` side: its
//!   [`crate::sides::upstream::Target`] (base URL, path prefix, `host` and
//!   header rewriting, secret headers, the [`HeaderPolicy`]) is applied to
//!   every live request exactly as to a recorded one: the method, the path
//!   and query, the headers in order minus the hop-by-hop ones (`Host` as
//!   the client sent it unless rewritten), the body **streamed** through
//!   (hyper sets its length). The response (status, headers minus those of
//!   the connection, [`crate::sides::upstream::end_to_end`], body) is
//!   streamed back. One hyper-util client per side on the shared
//!   [`crate::sides::upstream::connector`], keeping at most
//!   `max_connections` idle connections, no redirects followed (a 3xx is
//!   the answer), every call under the sides' timeout (504 past it; 502
//!   when the upstream cannot be reached, with the error JSON).
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
//!   streams. Both are the replay's [`crate::model::exchange`] shapes: the
//!   request as a capture's `input` (the policy's credential headers shown
//!   `<redacted>` in the report), the responses compared in
//!   [`HttpResponse::comparable`] form. The serving side's response goes
//!   to the client first: its comparable form is worked out in the
//!   mirror's task ([`crate::flags::Observe::observe_later`]), and not at
//!   all when the mirror is shed; the mirrored request is shared between
//!   the two calls ([`Exchange`]), not copied.

use super::capture::{Capture, Tee};
use super::metrics::Metrics;
use crate::flags::{Later, Observe, Router};
use crate::model::exchange::{Body as ExchangeBody, HeaderPolicy, HttpRequest, HttpResponse};
use crate::model::{Answer, AppError, Side};
use crate::sides::upstream::{
    connector, end_to_end, header_pairs, Connector, Target, UpstreamSpec,
};
use crate::sides::SideError;
use crate::sides::SideSpec;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Proxy mode's settings (`[serve]`); the upstreams themselves are the run
/// spec's `upstream:` sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxySettings {
    /// `METHOD PATTERN` entries allowed to be mirrored besides GET, HEAD, OPTIONS.
    pub mirror_routes: Vec<String>,
    /// The header every mirrored request carries, with the value `1`.
    pub shadow_header: String,
}

/// Why a proxy setting cannot work.
pub fn check(settings: &ProxySettings) -> Result<(), String> {
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

type HttpClient = Client<Connector, Body>;

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
    /// Both sides' header policy (one run, one policy).
    policy: Arc<HeaderPolicy>,
    capture: Option<Arc<Capture>>,
    /// `--noise-probe`: each mirror also calls the legacy once more.
    noise_probe: bool,
    routes: Vec<(Method, String)>,
    shadow_header: HeaderName,
}

#[derive(Clone)]
struct Upstream {
    target: Target,
    client: HttpClient,
}

/// The spec's `upstream:` side at `side`, or why proxy mode cannot use it.
fn upstream_spec(spec: &crate::spec::RunSpec, side: Side) -> Result<&UpstreamSpec, SideError> {
    let side_spec = match side {
        Side::Legacy => &spec.legacy,
        Side::Candidate => &spec.candidate,
    };
    match side_spec {
        SideSpec::Upstream(up) => Ok(up),
        other => Err(SideError::BadSpec {
            flag: side.flag(),
            spec: other.to_string(),
            reason: "proxy mode needs an upstream:http://HOST:PORT side".into(),
        }),
    }
}

/// Proxy mode's two sides (legacy, candidate), each built once: its target
/// (secret headers resolved from the environment) serves both the side
/// (`/readyz`, stats) and [`Proxy::new`]'s streaming client.
pub fn upstream_sides(
    spec: &crate::spec::RunSpec,
    options: &crate::sides::SideOptions,
) -> Result<[Arc<crate::sides::upstream::Upstream>; 2], SideError> {
    let side = |side: Side| {
        crate::sides::upstream::Upstream::new(upstream_spec(spec, side)?, side, options)
            .map(Arc::new)
    };
    Ok([side(Side::Legacy)?, side(Side::Candidate)?])
}

impl Proxy {
    /// The proxy of `serve` (its key and mirror limit) to the spec's two
    /// `upstream:` sides ([`upstream_sides`], whose targets it takes),
    /// under the sides' timeout and response limit.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: &ProxySettings,
        serve: &super::ServeSettings,
        spec: &crate::spec::RunSpec,
        sides_built: &[Arc<crate::sides::upstream::Upstream>; 2],
        router: Router,
        metrics: Arc<Metrics>,
        usage: Arc<super::usage::Usage>,
        capture: Option<Arc<Capture>>,
    ) -> Result<Proxy, SideError> {
        let sides = &spec.sides;
        let upstream = |built: &crate::sides::upstream::Upstream, side: Side| {
            let up = upstream_spec(spec, side)?;
            Ok::<_, SideError>(Upstream {
                target: built.target().clone(),
                client: Client::builder(TokioExecutor::new())
                    .pool_max_idle_per_host(up.max_connections.max(1))
                    .set_host(false)
                    .build(connector(up, side, sides.timeout)?),
            })
        };
        let legacy = upstream(&sides_built[0], Side::Legacy)?;
        let candidate = upstream(&sides_built[1], Side::Candidate)?;
        Ok(Proxy {
            noise_probe: spec.noise_probe,
            capture,
            policy: Arc::new(legacy.target.policy().clone()),
            router,
            key: serve.key.clone(),
            metrics,
            usage,
            mirror_max_body: serve.mirror_max_body,
            max_response_bytes: sides.max_response_bytes,
            timeout: sides.timeout,
            legacy,
            candidate,
            routes: settings
                .mirror_routes
                .iter()
                .filter_map(|r| r.split_once(' '))
                .filter_map(|(m, p)| Some((Method::from_bytes(m.as_bytes()).ok()?, p.to_owned())))
                .collect(),
            shadow_header: HeaderName::from_bytes(settings.shadow_header.as_bytes())
                .unwrap_or(HeaderName::from_static("x-cutover-shadow")),
        })
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

/// A mirrored request, as both sides get it and the comparison sees it
/// (shared: cloning it for the mirror copies nothing).
#[derive(Clone)]
pub struct Exchange(Arc<Sent>);

/// The request an [`Exchange`] shares.
pub struct Sent {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
    policy: Arc<HeaderPolicy>,
}

impl std::ops::Deref for Exchange {
    type Target = Sent;
    fn deref(&self) -> &Sent {
        &self.0
    }
}

impl Sent {
    /// The request as a capture record's `input`.
    pub fn record(&self) -> HttpRequest {
        let (path, query) = match self.path_and_query.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (self.path_and_query.clone(), None),
        };
        let headers = header_pairs(&self.headers);
        let body =
            (!self.body.is_empty()).then(|| ExchangeBody::from_wire(&headers, self.body.to_vec()));
        HttpRequest {
            method: self.method.as_str().to_owned(),
            path,
            query,
            headers,
            body,
        }
    }
}

impl Serialize for Exchange {
    /// As the report shows it: the policy's credential headers redacted.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let request = self.record();
        request
            .redacted(&self.0.policy.redacted, crate::util::redact::REDACTED)
            .unwrap_or(request)
            .to_value()
            .serialize(s)
    }
}

/// A buffered response, or why there is none.
#[derive(Clone)]
pub enum Buffered {
    Response {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        /// The policy it is compared under ([`HttpResponse::comparable`]).
        policy: Arc<HeaderPolicy>,
    },
    Failed(StatusCode, AppError),
}

/// A response as compared ([`HttpResponse::comparable`]).
fn compared(status: StatusCode, headers: &HeaderMap, body: &Bytes, policy: &HeaderPolicy) -> Value {
    let headers = header_pairs(headers);
    HttpResponse {
        status: status.as_u16(),
        body: ExchangeBody::from_wire(&headers, body.to_vec()),
        headers,
    }
    .comparable(policy)
}

impl Observe for Buffered {
    fn observe(&self) -> Answer {
        match self {
            Buffered::Response {
                status,
                headers,
                body,
                policy,
            } => Answer::output(compared(*status, headers, body, policy)),
            Buffered::Failed(StatusCode::GATEWAY_TIMEOUT, _) => Answer::Timeout(Duration::ZERO),
            Buffered::Failed(_, e) => Answer::Error(e.clone()),
        }
    }

    /// The served response is parsed and normalised in the mirror's task,
    /// after the client has it (its body is shared, not copied).
    fn observe_later(&self) -> Later {
        let copy = self.clone();
        Later::with(move || copy.observe())
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

/// The upstream request for a live one at `upstream` (its target's
/// rewriting applied), with the shadow header when it is a mirror.
fn outgoing(
    upstream: &Upstream,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Body,
    shadow: Option<&HeaderName>,
) -> Result<Request<Body>, String> {
    let uri = upstream
        .target
        .uri(path_and_query)
        .map_err(|e| e.to_string())?;
    let came: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let mut forwarded = upstream.target.headers(&came).map_err(|e| e.to_string())?;
    if let Some(name) = shadow {
        forwarded.insert(name.clone(), HeaderValue::from_static("1"));
    }
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
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
    proxy.metrics.served(&decision);
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
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
    let captured = proxy.capture.as_ref().and_then(|c| c.sample());
    if !decision.mirrored {
        return stream(
            &proxy,
            decision.serving,
            parts.method.clone(),
            path_and_query,
            &parts.headers,
            body,
            captured.map(|n| (n, key)),
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
    let exchange = Exchange(Arc::new(Sent {
        path_and_query: path_and_query.to_owned(),
        method: parts.method,
        headers: parts.headers,
        body,
        policy: proxy.policy.clone(),
    }));
    let call = |side: Side| {
        let proxy = proxy.clone();
        let shadow = side != decision.serving;
        move |exchange: Exchange| async move { buffered(&proxy, side, exchange, shadow).await }
    };
    let request = captured.map(|n| (n, exchange.record()));
    // The noise probe is the legacy once more, always as a shadow.
    let probe = proxy.noise_probe.then(|| {
        let proxy = proxy.clone();
        move |exchange: Exchange| async move { buffered(&proxy, Side::Legacy, exchange, true).await }
    });
    let answer = proxy
        .router
        .run_probed(
            key.as_deref(),
            decision,
            exchange,
            call(Side::Legacy),
            call(Side::Candidate),
            probe,
        )
        .await;
    if let (
        Some((n, request)),
        Some(capture),
        Buffered::Response {
            status,
            headers,
            body,
            ..
        },
    ) = (request, &proxy.capture, &answer)
    {
        let headers = header_pairs(headers);
        let response = HttpResponse {
            status: status.as_u16(),
            body: ExchangeBody::from_wire(&headers, body.to_vec()),
            headers,
        };
        capture
            .record_exchange(n, key.as_deref(), request, response, &proxy.policy)
            .await;
    }
    match answer {
        Buffered::Response {
            status,
            headers,
            body,
            ..
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
    captured: Option<(u64, Option<String>)>,
) -> Response {
    let upstream = proxy.upstream(side);
    // A captured exchange's bodies are copied as they stream through.
    let (body, sent_body, record) = match captured {
        Some((n, key)) => {
            let (tee, sent_copy) = Tee::new(body);
            let record = Sent {
                method: method.clone(),
                path_and_query: path_and_query.to_owned(),
                headers: headers.clone(),
                body: Bytes::new(),
                policy: proxy.policy.clone(),
            }
            .record();
            (Body::new(tee), Some(sent_copy), Some((n, key, record)))
        }
        None => (body, None, None),
    };
    let request = match outgoing(upstream, method, path_and_query, headers, body, None) {
        Ok(r) => r,
        Err(e) => return failure(StatusCode::BAD_GATEWAY, "cutover.target_failed", e),
    };
    let started = Instant::now();
    let sent = tokio::time::timeout(proxy.timeout, upstream.client.request(request)).await;
    proxy.metrics.upstream(side, started.elapsed());
    if let (Some(capture), true, false) =
        (&proxy.capture, record.is_some(), matches!(sent, Ok(Ok(_))))
    {
        // Nothing was served to capture.
        capture
            .skipped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    match sent {
        Ok(Ok(response)) => {
            let (parts, incoming) = response.into_parts();
            let headers = end_to_end(&parts.headers);
            let body = match (sent_body, record, &proxy.capture) {
                (Some(sent_copy), Some((n, key, request)), Some(capture)) => {
                    let (tee, got) = Tee::new(incoming);
                    capture.record_streamed(
                        n,
                        key,
                        (request, parts.status.as_u16(), header_pairs(&headers)),
                        (sent_copy, got),
                        proxy.policy.clone(),
                    );
                    Body::new(tee)
                }
                _ => Body::new(incoming),
            };
            let mut response = Response::new(body);
            *response.status_mut() = parts.status;
            *response.headers_mut() = headers;
            response
        }
        Ok(Err(e)) => failure(
            StatusCode::BAD_GATEWAY,
            "cutover.target_failed",
            format!(
                "the {side} upstream failed: {}",
                upstream.target.classify(&e)
            ),
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
    let request = match outgoing(
        upstream,
        exchange.method.clone(),
        &exchange.path_and_query,
        &exchange.headers,
        Body::from(exchange.body.clone()),
        shadow.then_some(&proxy.shadow_header),
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
        let response = upstream.client.request(request).await.map_err(|e| {
            format!(
                "the {side} upstream failed: {}",
                upstream.target.classify(&e)
            )
        })?;
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
            policy: proxy.policy.clone(),
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
    fn a_live_request_gets_the_upstream_sides_rewriting_and_the_shadow_header() {
        use crate::sides::upstream::{Rewrite, UpstreamSpec};
        let mut spec = UpstreamSpec::new("http://127.0.0.1:9/base");
        spec.rewrite = Rewrite {
            host: Some("candidate.internal".into()),
            headers: vec![("X-Env".into(), "shadow".into())],
            secret_headers: Vec::new(),
            path_prefix: "/v2".into(),
        };
        let upstream = Upstream {
            target: Target::new(&spec, Side::Candidate, |_| None).unwrap(),
            client: Client::builder(TokioExecutor::new())
                .build(connector(&spec, Side::Candidate, Duration::from_secs(1)).unwrap()),
        };
        let mut came = HeaderMap::new();
        came.append("host", HeaderValue::from_static("serve.local"));
        came.append("connection", HeaderValue::from_static("x-hop"));
        came.append("x-hop", HeaderValue::from_static("1"));
        came.append("x-env", HeaderValue::from_static("live"));
        came.append("accept", HeaderValue::from_static("application/json"));
        let shadow = HeaderName::from_static("x-cutover-shadow");
        let request = outgoing(
            &upstream,
            Method::GET,
            "/items?a=1",
            &came,
            Body::empty(),
            Some(&shadow),
        )
        .unwrap();
        assert_eq!(
            request.uri().to_string(),
            "http://127.0.0.1:9/base/v2/items?a=1"
        );
        let sent: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let want: Vec<(String, String)> = [
            ("accept", "application/json"),
            ("host", "candidate.internal"),
            ("x-env", "shadow"),
            ("x-cutover-shadow", "1"),
        ]
        .iter()
        .map(|(n, v)| ((*n).into(), (*v).into()))
        .collect();
        assert_eq!(sent, want);
    }

    #[test]
    fn route_patterns_match_whole_paths_segment_by_segment() {
        assert!(matches_path("/items/*", "/items/42"));
        assert!(!matches_path("/items/*", "/items/42/x"));
        assert!(matches_path("/normalize", "/normalize"));
        assert!(matches_path("/a/x*y", "/a/x-and-y"));
        assert!(!matches_path("/a/x*y", "/a/x-and-z"));
    }
}
