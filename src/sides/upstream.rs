//! `upstream:http://HOST:PORT` or `upstream:https://HOST:PORT`: a side that
//! is an HTTP service, sent each record's whole request
//! ([`crate::model::exchange`]).
//!
//! # Contract
//! - A record's `input` is an [`HttpRequest`]; it goes to the base URL as it
//!   was recorded: method, path (after the base URL's own path and the
//!   side's path prefix), query, headers in order with their repeats, body
//!   bytes exactly (a JSON body compact, as written). Hop-by-hop headers
//!   ([`HeaderPolicy::hop_by_hop`], `content-length` among them, and any
//!   the request's `Connection` header names) are not forwarded:
//!   `content-length` is set from the body when there is one.
//!   Nothing else is added, except a `host` from the base URL when the
//!   request has none. On the wire, header names are lower-cased, in the
//!   order of their first appearance, and every repeat of a name follows
//!   its first at once, values in recorded order: `[A: 1, b: 2, a: 3]` goes
//!   as `a: 1, a: 3, b: 2` (RFC 9110 §5.3 allows it). Interleaved repeats
//!   cannot be kept: hyper's `HeaderMap` groups values by name and its
//!   HTTP/1 writer iterates it so (keeping the order is a hyper `ffi`-only
//!   option); a test against a real service holds what is kept.
//! - Per side rewriting ([`Rewrite`]): the `host` header replaced, headers
//!   added or replaced, secret headers whose value is read from an
//!   environment variable when the side is built (registered with
//!   [`crate::util::redact`] at once, never kept in the run spec: the spec
//!   holds the variable's name), and a path prefix.
//! - The answer is the response's comparable form
//!   ([`HttpResponse::comparable`]): any status is an output, not an error.
//!   Redirects are never followed (a 3xx is the answer).
//! - One connection pool per side, at most [`UpstreamSpec::max_connections`]
//!   requests in flight (hence connections) at once, kept alive between
//!   calls. The time a call waits for one of those slots is reported
//!   separately from its service time (request sent → whole answer read).
//! - Transport failures keep their own error types ([`TransportError`]):
//!   `cutover.http_refused`, `cutover.http_reset`, `cutover.http_transport`
//!   (anything else), `cutover.output_too_large`; past `timeout` the answer
//!   is [`Answer::Timeout`]. Messages name the URL and say which it was, and
//!   go through [`crate::util::redact::text`].
//! - `https://` (TLS by rustls, HTTP/1.1): the server's certificate must
//!   chain to the platform's roots (the system store, read by
//!   `rustls-native-certs`: what curl and the OS trust) or to a certificate
//!   of the side's [`UpstreamSpec::ca_file`] (PEM; `--legacy-ca-file`,
//!   `[sides.legacy] ca_file`), trusted in addition. SNI and the
//!   certificate's name check use the base URL's host (an IP address is
//!   checked against the certificate's IP names, and sends no SNI); the
//!   `host` header is the recorded one (or `--legacy-host`), so the two may
//!   differ. No client certificates. A failed handshake is
//!   [`TransportError::Tls`] (`cutover.http_tls`), saying whether the CA is
//!   unknown, the name does not match, the certificate has expired, or the
//!   handshake itself failed, and what to do.
//! - [`Implementation::ready`] connects once before the run (with the TLS
//!   handshake for `https://`): a refused connection or a failed handshake
//!   is a [`SideError::Unreachable`] ("connection refused at http://…: is
//!   the service running?", "the certificate of https://… is signed by a CA
//!   this side does not trust: …"), so the run does not happen (exit 2).
//!
//! [`Upstream::send`] is the library piece for one recorded exchange: one
//! [`HttpRequest`] in, the [`HttpResponse`] and its timing out. [`Target`]
//! and [`connector`] are the pieces a live proxy (`cutover serve`) shares:
//! the same URL, TLS, rewriting and header policy applied to a request that
//! streams.
//!
//! # Non-goals
//! HTTP/2, trailers, following redirects, client certificates.

use super::{Called, Implementation, Request, SideError, SideOptions};
use crate::model::exchange::{Body, HeaderPolicy, HttpRequest, HttpResponse};
use crate::model::{Answer, AppError, Side};
use crate::util::redact;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Default `--max-connections`: connections per upstream side at most.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

/// An upstream side, as the run spec keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamSpec {
    /// The base URL (`http://HOST:PORT[/PATH]`), without userinfo.
    pub url: String,
    #[serde(default)]
    pub rewrite: Rewrite,
    /// Requests (and connections) in flight at most.
    pub max_connections: usize,
    /// Which headers are forwarded and compared.
    #[serde(default)]
    pub headers: HeaderPolicy,
    /// `https://`: a PEM file of CA certificates trusted besides the
    /// platform's roots (absolute; `None`: the platform's roots only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl UpstreamSpec {
    /// A spec for `url` with no rewriting and the defaults.
    pub fn new(url: &str) -> Self {
        UpstreamSpec {
            url: url.to_owned(),
            rewrite: Rewrite::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            headers: HeaderPolicy::default(),
            ca_file: None,
        }
    }
}

/// How one side changes each request before sending it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rewrite {
    /// The `host` header sent instead of the recorded one.
    #[serde(default)]
    pub host: Option<String>,
    /// Headers set on every request, replacing the recorded ones of that name.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Headers set from environment variables: `(header name, variable)`.
    /// Only the variable's name is kept.
    #[serde(default)]
    pub secret_headers: Vec<(String, String)>,
    /// Put before every request's path (`/v2`).
    #[serde(default)]
    pub path_prefix: String,
}

/// Why an exchange with an upstream failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("connection refused at {url}: is the service running?")]
    Refused { url: String },
    #[error("connection reset by {url}: {detail}")]
    Reset { url: String, detail: String },
    #[error("no answer from {url} within {}", humantime::format_duration(*after))]
    Timeout { url: String, after: Duration },
    #[error("the response body from {url} is over {max} bytes (--max-record-bytes)")]
    TooLarge { url: String, max: usize },
    #[error("cannot send the request to {url}: {detail}")]
    Request { url: String, detail: String },
    #[error("TLS with {url} failed: {what}")]
    Tls { url: String, what: String },
    #[error("exchange with {url} failed: {detail}")]
    Other { url: String, detail: String },
}

impl TransportError {
    /// The error type an answer carries.
    pub fn kind(&self) -> &'static str {
        match self {
            TransportError::Refused { .. } => "cutover.http_refused",
            TransportError::Reset { .. } => "cutover.http_reset",
            TransportError::Timeout { .. } => "cutover.timeout",
            TransportError::TooLarge { .. } => "cutover.output_too_large",
            TransportError::Request { .. } => "cutover.bad_exchange",
            TransportError::Tls { .. } => "cutover.http_tls",
            TransportError::Other { .. } => "cutover.http_transport",
        }
    }
}

/// One exchange done: the response, the time waited for a connection slot,
/// and the service time (request sent → whole response read).
#[derive(Debug, Clone)]
pub struct Exchanged {
    pub response: HttpResponse,
    pub waited: Duration,
    pub service: Duration,
}

/// Where one upstream side's requests go and how each is rewritten on the
/// way: the base URL, the path prefix, the `host` and the extra headers, and
/// which headers are never forwarded. [`Upstream`] sends records through it;
/// `cutover serve`'s proxy mode forwards live requests through the same one
/// (with its own client, so bodies stream).
#[derive(Debug, Clone)]
pub struct Target {
    /// `scheme://authority`, no trailing slash.
    origin: String,
    authority: String,
    /// The base URL's path and the rewrite's prefix, no trailing slash.
    prefix: String,
    /// The rewrite's headers, secrets resolved: (lower-cased name, value).
    set: Vec<(String, String)>,
    host: Option<String>,
    policy: HeaderPolicy,
    flag: &'static str,
    /// `http` or `https`.
    scheme: &'static str,
    /// The base URL's host, as the certificate must name it.
    tls_host: Option<String>,
    side: Side,
}

impl Target {
    /// Checks the spec and resolves its secret headers from `env`
    /// (registered for redaction at once).
    pub fn new(
        spec: &UpstreamSpec,
        side: Side,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Target, SideError> {
        let bad = |reason: String| SideError::BadSpec {
            flag: side.flag(),
            spec: format!("upstream:{}", redact::url(&spec.url)),
            reason,
        };
        let url =
            reqwest::Url::parse(&spec.url).map_err(|e| bad(format!("not a valid URL: {e}")))?;
        let scheme = match url.scheme() {
            "http" => "http",
            "https" => "https",
            other => {
                return Err(bad(format!(
                    "upstream: takes an http:// or https:// URL, not {other}://"
                )))
            }
        };
        if scheme == "http" && spec.ca_file.is_some() {
            return Err(bad(format!(
                "a CA file is for https:// upstreams (--{}-ca-file, [sides.{}] ca_file): drop it or use https://",
                side.as_str(),
                side.as_str()
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "the base URL has a query or fragment; each request brings its own query".into(),
            ));
        }
        let host = url
            .host_str()
            .ok_or_else(|| bad("the URL has no host".into()))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let prefix = format!(
            "{}{}",
            url.path().trim_end_matches('/'),
            spec.rewrite.path_prefix.trim_end_matches('/')
        );
        if !(prefix.is_empty() || prefix.starts_with('/')) {
            return Err(bad(format!(
                "the path prefix {:?} must start with `/`",
                spec.rewrite.path_prefix
            )));
        }
        let mut set = Vec::new();
        for (name, value) in &spec.rewrite.headers {
            set.push((name.to_ascii_lowercase(), value.clone()));
        }
        for (name, var) in &spec.rewrite.secret_headers {
            let value = env(var).ok_or_else(|| {
                bad(format!(
                    "the secret header {name} reads the environment variable {var}, which is not set: export it"
                ))
            })?;
            redact::register(&value);
            set.push((name.to_ascii_lowercase(), value));
        }
        let host_header = spec
            .rewrite
            .host
            .iter()
            .map(|h| ("host".to_owned(), h.clone()));
        for (name, value) in set.iter().cloned().chain(host_header) {
            hyper::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("{name:?} is not a header name")))?;
            hyper::header::HeaderValue::from_str(&value)
                .map_err(|_| bad(format!("the value of header {name} holds CR, LF or NUL")))?;
        }
        Ok(Target {
            scheme,
            tls_host: (scheme == "https").then(|| host.to_owned()),
            side,
            origin: format!("{scheme}://{authority}"),
            authority,
            prefix,
            set,
            host: spec.rewrite.host.clone(),
            policy: spec.headers.clone(),
            flag: side.flag(),
        })
    }

    /// The base URL, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Which headers are forwarded and compared.
    pub fn policy(&self) -> &HeaderPolicy {
        &self.policy
    }

    /// The URI of a request target (path and query) at this side.
    pub fn uri(&self, target: &str) -> Result<hyper::Uri, TransportError> {
        let target = format!("{}{target}", self.prefix);
        hyper::Uri::builder()
            .scheme(self.scheme)
            .authority(self.authority.as_str())
            .path_and_query(target.as_str())
            .build()
            .map_err(|e| TransportError::Request {
                url: self.origin().to_owned(),
                detail: format!("the target {target:?} is not a valid URI: {e}"),
            })
    }

    /// The headers a request goes with, from the ones it came with, in
    /// order: hop-by-hop ones left out (the policy's, and any the
    /// `Connection` header names), the rewritten ones replaced, then `host`
    /// (the rewrite's, else the base URL's when the request has none) and
    /// the rewrite's own headers. `content-length` is the sender's to set.
    pub fn headers(&self, came: &[(&str, &[u8])]) -> Result<hyper::HeaderMap, TransportError> {
        let bad = |detail: String| TransportError::Request {
            url: self.origin().to_owned(),
            detail,
        };
        let named_by_connection = |name: &str| {
            came.iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
                .filter_map(|(_, v)| std::str::from_utf8(v).ok())
                .flat_map(|v| v.split(','))
                .any(|token| token.trim().eq_ignore_ascii_case(name))
        };
        let replaced = |name: &str| {
            self.set.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
                || (self.host.is_some() && name.eq_ignore_ascii_case("host"))
        };
        let mut headers = hyper::HeaderMap::new();
        let mut has_host = false;
        for &(name, value) in came {
            if self.policy.is_hop_by_hop(name) || replaced(name) || named_by_connection(name) {
                continue;
            }
            has_host |= name.eq_ignore_ascii_case("host");
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| bad(format!("header {name:?}: {e}")))?;
            let value = hyper::header::HeaderValue::from_bytes(value)
                .map_err(|e| bad(format!("header {name}: {e}")))?;
            headers.append(name, value);
        }
        let host = self
            .host
            .clone()
            .or_else(|| (!has_host).then(|| self.authority.clone()));
        let extra = host
            .iter()
            .map(|h| ("host", h.as_str()))
            .chain(self.set.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        for (name, value) in extra {
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| bad(format!("header {name:?}: {e}")))?;
            let value = hyper::header::HeaderValue::from_str(value)
                .map_err(|e| bad(format!("header {name}: {e}")))?;
            headers.append(name, value);
        }
        Ok(headers)
    }

    /// Connects once through `connector` (and, for `https://`, does the
    /// TLS handshake): a refused connection or a failed handshake is
    /// [`SideError::Unreachable`].
    pub async fn check_reachable(
        &self,
        connector: &Connector,
        within: Duration,
    ) -> Result<(), SideError> {
        use tower_service::Service;
        let failed = |reason: String| SideError::Unreachable {
            flag: self.flag,
            url: self.origin.clone(),
            reason,
        };
        let uri: hyper::Uri = format!("{}://{}/", self.scheme, self.authority)
            .parse()
            .map_err(|e| failed(format!("not a valid URI: {e}")))?;
        let mut connector = connector.clone();
        let connect = async move {
            std::future::poll_fn(|cx| connector.poll_ready(cx)).await?;
            connector.call(uri).await
        };
        match tokio::time::timeout(within, connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(failed(match self.classify(e.as_ref()) {
                TransportError::Refused { .. } => format!(
                    "connection refused at {}: is the service running?",
                    self.origin
                ),
                TransportError::Tls { what, .. } => what,
                _ => format!(
                    "cannot connect to {}: {}",
                    self.origin,
                    redact::text(&crate::util::errors::chain(e.as_ref()))
                ),
            })),
            Err(_) => Err(failed(format!(
                "cannot connect to {} within {} (--startup-timeout)",
                self.origin,
                humantime::format_duration(within)
            ))),
        }
    }

    /// The transport error a failed exchange was, by its cause chain.
    pub fn classify(&self, e: &(dyn std::error::Error + 'static)) -> TransportError {
        let url = self.origin.clone();
        if let Some(tls) = tls_cause(e) {
            return TransportError::Tls {
                what: self.tls_failure(tls),
                url,
            };
        }
        let detail = redact::text(&crate::util::errors::chain(e)).into_owned();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind::*;
                match io.kind() {
                    ConnectionRefused => return TransportError::Refused { url },
                    ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                        return TransportError::Reset { url, detail }
                    }
                    _ => {}
                }
            }
            if let Some(h) = c.downcast_ref::<hyper::Error>() {
                if h.is_incomplete_message() || h.is_canceled() {
                    return TransportError::Reset { url, detail };
                }
            }
            cause = c.source();
        }
        TransportError::Other { url, detail }
    }

    /// What a TLS failure was, in words, and what to do about it.
    fn tls_failure(&self, e: &rustls::Error) -> String {
        use rustls::CertificateError as C;
        let side = self.side.as_str();
        let host = self.tls_host.as_deref().unwrap_or(&self.authority);
        match e {
            rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => format!(
                "the certificate of {} is signed by a CA this side does not trust: \
                 give that CA's PEM file with --{side}-ca-file PATH ([sides.{side}] ca_file)",
                self.origin
            ),
            rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                format!(
                    "the certificate of {} is not valid for the host {host}: \
                     use a host the certificate names in the URL (--{side} upstream:https://NAME:PORT)",
                    self.origin
                )
            }
            rustls::Error::InvalidCertificate(
                C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
            ) => format!(
                "the certificate of {} is expired or not yet valid: renew it on the service, or check this machine's clock",
                self.origin
            ),
            other => format!(
                "the TLS handshake with {} failed ({other}): is it an https:// service?",
                self.origin
            ),
        }
    }
}

/// What every upstream client dials with: HTTP, or TLS by rustls for
/// `https://`.
pub type Connector = HttpsConnector<HttpConnector>;

/// The connector of one side: `TCP_NODELAY`, a connect timeout, and for
/// `https://` the platform's roots plus the side's CA file (see the module
/// docs).
pub fn connector(
    spec: &UpstreamSpec,
    side: Side,
    connect_timeout: Duration,
) -> Result<Connector, SideError> {
    let https = spec.url.starts_with("https://");
    let tls =
        tls_config(https, spec.ca_file.as_deref(), side).map_err(|reason| SideError::BadSpec {
            flag: side.flag(),
            spec: format!("upstream:{}", redact::url(&spec.url)),
            reason,
        })?;
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.enforce_http(false);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// A message's headers as the exchange records hold them, in order (values
/// that are not UTF-8 made lossy).
pub fn header_pairs(headers: &hyper::HeaderMap) -> crate::model::exchange::Headers {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The headers of a message minus those that belong to one connection (RFC
/// 9110 7.6.1: `connection`, `keep-alive`, `proxy-*`, `te`, `trailer`,
/// `transfer-encoding`, `upgrade`, and any the `Connection` header names),
/// as a proxy passes a response on. `content-length` stays.
pub fn end_to_end(headers: &hyper::HeaderMap) -> hyper::HeaderMap {
    const HOP: [&str; 7] = [
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "http2-settings",
    ];
    let named = |name: &str| {
        headers
            .get_all(hyper::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case(name))
    };
    let mut out = hyper::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if !(HOP.contains(&n) || n.starts_with("proxy-") || named(n)) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// An HTTP service at one side (see the module docs).
pub struct Upstream {
    client: Client<Connector, Full<Bytes>>,
    /// The client's connector, for the check before the run.
    connector: Connector,
    target: Target,
    slots: Semaphore,
    timeout: Duration,
    connect_timeout: Duration,
    max_body: usize,
}

impl Upstream {
    /// Builds the side (no connection yet; [`Implementation::ready`] makes one).
    pub fn new(spec: &UpstreamSpec, side: Side, options: &SideOptions) -> Result<Self, SideError> {
        Self::with_env(spec, side, options, |name| std::env::var(name).ok())
    }

    /// [`Upstream::new`] with the environment given.
    pub fn with_env(
        spec: &UpstreamSpec,
        side: Side,
        options: &SideOptions,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SideError> {
        let target = Target::new(spec, side, env)?;
        let max_connections = spec.max_connections.max(1);
        let connector = connector(spec, side, options.timeout)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_connections)
            .pool_idle_timeout(Duration::from_secs(90))
            .set_host(false)
            .build(connector.clone());
        Ok(Upstream {
            client,
            connector,
            target,
            slots: Semaphore::new(max_connections),
            timeout: options.timeout,
            connect_timeout: options.startup_timeout,
            max_body: options.max_response_bytes,
        })
    }

    /// The base URL, for messages.
    pub fn origin(&self) -> &str {
        self.target.origin()
    }

    /// Its target (secrets resolved when the side was built), for a client
    /// of its own that sends to the same place the same way (`cutover
    /// serve`'s proxy mode).
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The request as it goes on the wire, rewriting applied.
    pub fn prepare(
        &self,
        request: &HttpRequest,
    ) -> Result<hyper::Request<Full<Bytes>>, TransportError> {
        let uri = self.target.uri(&request.target())?;
        let method = hyper::Method::from_bytes(request.method.as_bytes()).map_err(|e| {
            TransportError::Request {
                url: self.origin().to_owned(),
                detail: format!("method {:?}: {e}", request.method),
            }
        })?;
        let came: Vec<(&str, &[u8])> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let mut headers = self.target.headers(&came)?;
        let body = request.body.as_ref().map(Body::wire);
        if let Some(body) = &body {
            headers.insert(hyper::header::CONTENT_LENGTH, body.len().into());
        }
        let mut wire = hyper::Request::new(Full::new(Bytes::from(body.unwrap_or_default())));
        *wire.method_mut() = method;
        *wire.uri_mut() = uri;
        *wire.headers_mut() = headers;
        Ok(wire)
    }

    /// Sends one request and reads its whole response (see the module docs).
    pub async fn send(&self, request: &HttpRequest) -> Result<Exchanged, TransportError> {
        let wire = self.prepare(request)?;
        let queued = Instant::now();
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let waited = queued.elapsed();
        let started = Instant::now();
        let exchange = async {
            let response = self
                .client
                .request(wire)
                .await
                .map_err(|e| self.classify(&e))?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, self.max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        TransportError::TooLarge {
                            url: self.origin().to_owned(),
                            max: self.max_body,
                        }
                    } else {
                        self.classify(e.as_ref())
                    }
                })?
                .to_bytes();
            let headers = header_pairs(&parts.headers);
            let body = Body::from_wire(&headers, bytes.to_vec());
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers,
                body,
            })
        };
        let response = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| TransportError::Timeout {
                url: self.origin().to_owned(),
                after: self.timeout,
            })??;
        Ok(Exchanged {
            response,
            waited,
            service: started.elapsed(),
        })
    }

    fn classify(&self, e: &(dyn std::error::Error + 'static)) -> TransportError {
        self.target.classify(e)
    }

    /// Connects once: refused is [`SideError::Unreachable`].
    pub async fn check_reachable(&self) -> Result<(), SideError> {
        self.target
            .check_reachable(&self.connector, self.connect_timeout)
            .await
    }

    /// One record's answer and the time it waited for a slot.
    async fn answer(&self, input: &serde_json::value::RawValue) -> Called {
        let request = match HttpRequest::parse(input) {
            Ok(r) => r,
            Err(reason) => {
                return Called::now(Answer::Error(AppError::new("cutover.bad_exchange", reason)))
            }
        };
        match self.send(&request).await {
            Ok(done) => Called {
                answer: Answer::output(done.response.comparable(self.target.policy())),
                waited: done.waited,
            },
            Err(TransportError::Timeout { after, .. }) => Called::now(Answer::Timeout(after)),
            Err(e) => Called::now(Answer::Error(AppError::new(
                e.kind(),
                redact::text(&e.to_string()).into_owned(),
            ))),
        }
    }
}

impl Implementation for Upstream {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        Box::pin(async move { Ok(self.answer(request.input).await.answer) })
    }

    fn call_timed<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Called, SideError>> {
        Box::pin(async move { Ok(self.answer(request.input).await) })
    }

    fn recorded_answer(&self, recorded: &serde_json::value::RawValue) -> Option<Answer> {
        HttpResponse::parse(recorded)
            .ok()
            .map(|r| Answer::output(r.comparable(self.target.policy())))
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), SideError>> {
        Box::pin(self.check_reachable())
    }
}

/// The first TLS error in a cause chain (rustls errors travel inside
/// `std::io::Error`s, whose `source` skips them).
fn tls_cause<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        cause = match c.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as _),
            None => c.source(),
        };
    }
    None
}

/// The TLS client settings of one side: the platform's roots and the
/// side's CA file (`https://` only; an `http://` side gets an empty
/// store it never uses). The reason is for [`SideError::BadSpec`].
fn tls_config(
    https: bool,
    ca_file: Option<&std::path::Path>,
    side: Side,
) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if https {
        // Unreadable entries of the system store are skipped: the store
        // is the platform's, and a CA file can still be given.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    }
    if let Some(path) = ca_file {
        let setting = format!("--{0}-ca-file ([sides.{0}] ca_file)", side.as_str());
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                format!(
                    "{setting} {}: cannot read its certificates: {e}",
                    path.display()
                )
            })?;
        if certs.is_empty() {
            return Err(format!(
                "{setting} {}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                format!(
                    "{setting} {}: not a CA certificate rustls accepts: {e}",
                    path.display()
                )
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SideOptions {
        SideOptions {
            timeout: Duration::from_secs(1),
            startup_timeout: Duration::from_secs(1),
            workers: 1,
            retries: 0,
            max_response_bytes: 1 << 20,
            follow_redirects: Vec::new(),
            dir: None,
        }
    }

    #[tokio::test]
    async fn the_request_goes_as_recorded_with_the_rewriting_and_without_hop_by_hop_headers() {
        let mut spec = UpstreamSpec::new("http://127.0.0.1:9/base");
        spec.rewrite = Rewrite {
            host: None,
            headers: vec![("X-Env".into(), "shadow".into())],
            secret_headers: vec![("authorization".into(), "TOKEN_VAR".into())],
            path_prefix: "/v2".into(),
        };
        let env =
            |name: &str| (name == "TOKEN_VAR").then(|| "Bearer upstream-unit-secret".to_owned());
        let side = Upstream::with_env(&spec, Side::Candidate, &options(), env).unwrap();
        let raw = serde_json::value::RawValue::from_string(
            r#"{"method":"POST","path":"/items","query":"a=1","headers":[["host","normalize.internal"],["Connection","close"],["x-env","recorded"],["Authorization","Bearer recorded"],["content-type","application/json"],["Content-Length","999"],["x-t","1"],["x-t","2"]],"body":{"b": [1, 2]}}"#.into(),
        )
        .unwrap();
        let request = HttpRequest::parse(&raw).unwrap();
        let wire = side.prepare(&request).unwrap();
        assert_eq!(
            wire.uri().to_string(),
            "http://127.0.0.1:9/base/v2/items?a=1"
        );
        let headers: Vec<(String, String)> = wire
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect()
        };
        assert_eq!(
            headers,
            pairs(&[
                ("host", "normalize.internal"),
                ("content-type", "application/json"),
                ("x-t", "1"),
                ("x-t", "2"),
                ("x-env", "shadow"),
                ("authorization", "Bearer upstream-unit-secret"),
                ("content-length", "11"),
            ])
        );
        assert_eq!(
            crate::util::redact::text("x Bearer upstream-unit-secret"),
            "x <redacted>"
        );
    }

    #[test]
    fn a_missing_secret_variable_stops_the_side_naming_it() {
        let mut spec = UpstreamSpec::new("http://127.0.0.1:9");
        spec.rewrite.secret_headers = vec![("authorization".into(), "NOT_SET_ANYWHERE".into())];
        let e = Upstream::with_env(&spec, Side::Legacy, &options(), |_| None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("NOT_SET_ANYWHERE, which is not set"), "{e}");
        let refused = |url: &str, ca: &str, side| {
            let mut spec = UpstreamSpec::new(url);
            spec.ca_file = Some(ca.into());
            Upstream::new(&spec, side, &options())
                .err()
                .unwrap()
                .to_string()
        };
        let e = refused("https://h:1", "/nonexistent/ca.pem", Side::Legacy);
        assert!(
            e.contains(
                "--legacy-ca-file ([sides.legacy] ca_file) /nonexistent/ca.pem: cannot read"
            ),
            "{e}"
        );
        let e = refused("http://h:1", "/any/ca.pem", Side::Candidate);
        assert!(e.contains("a CA file is for https:// upstreams"), "{e}");
    }
}
