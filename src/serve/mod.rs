//! `cutover serve`: a live shadow proxy. The flags decide who serves each
//! request; the other side is mirrored off the response path, compared as a
//! replay compares, and written to a live report.
//!
//! # Contract
//! - [`bind`] takes both listeners (the service's and the admin one, with
//!   `/metrics`, `/healthz`, `/readyz`, so they never collide with the
//!   service's own paths) and fails with [`ServeError::Bind`] naming the
//!   address. [`run`] serves until `stop` is cancelled; accepted
//!   connections get `TCP_NODELAY` (as the upstream connections do).
//! - **Function mode** (sides of the replay's kinds: `builtin:`, `worker:`,
//!   `exec:`, `http(s)://`): `POST /` with a JSON body (at most
//!   `max_body` bytes: 413 beyond, 400 for a body that is not JSON, both
//!   counted as rejected) returns the serving side's output (200), or its
//!   error as `{"error": {"type", "message"}}` (422 for the implementation's
//!   own error, 502 when the side could not be called, 504 on a timeout).
//! - The key is [`key::KeyFrom`]'s. A request without a key is served by the
//!   legacy, not mirrored, and counted (`served_by="legacy_without_key"`).
//! - Mirroring is [`crate::flags::Router`]'s: the client waits for the
//!   serving side only; the other side runs detached under a pool of
//!   `mirrors` with its own `mirror_timeout` and is shed (counted) when the
//!   pool is full; a request body over `mirror_max_body` is not mirrored
//!   (counted `body_too_large`). Comparisons go to a queue of
//!   `mirror_queue` with `try_send`, and from there into the live report.
//!   The mirrors, their comparisons and the live report run on the runtime
//!   [`run`] is given for them, if any (the CLI gives one with threads
//!   `mirror_nice` below serving's priority when `mirror_nice` > 0): on
//!   saturated cores serving then goes first and the mirrors wait or are
//!   shed; at light load the extra threads' wake-ups cost latency, so the
//!   default (0) keeps one runtime.
//! - **Live report** in `spec.out`, in replay's formats and through
//!   report's sinks ([`crate::report::Sinks`]): each comparison is one
//!   record (`id` `live-N`, origin `serve`), `summary.json` (with the
//!   serve's [`RunSpec`]) is written atomically every `flush_interval`
//!   ([`crate::report::Sinks::checkpoint`]) and at shutdown, so `cutover
//!   report` works on the directory while serve runs. The directory is
//!   locked ([`crate::report::RunLock`]) for as long as serve runs.
//! - **Automatic rollback** ([`rollback`]): past the bound, the legacy serves
//!   every key at once ([`crate::flags::Router::force_legacy`]), logged and
//!   counted (`cutover_rollbacks_total`); with a server flag source and
//!   `UNLEASH_ADMIN_TOKEN` set, the serve flag is also set to 0 through the
//!   Admin API, with the window's evidence in the audit log.
//! - **Shutdown** (`stop`): the listener closes (new connections are
//!   refused), requests in flight are answered, mirrors in flight get up to
//!   `shutdown_grace` (those still running then are counted as `abandoned`
//!   in `summary.json`'s `live` section, and logged), every comparison
//!   queued is written, then the report is finished (state `interrupted`,
//!   with the signal). `live` ([`crate::report::LiveStats`]) accounts for
//!   every request: served by which side, mirrored or why not, and each
//!   mirror compared, shed, dropped, panicked or abandoned.
//! - `/healthz` answers once the process is up. `/readyz` answers 200 once
//!   the sides are built, the flag source was tried (without a state the
//!   safe default applies) and **both sides answer**: each side's own
//!   readiness check ([`Implementation::ready`]: an `upstream:` side is
//!   connected to), and with `ready_input` one call of each side with it,
//!   which must get the implementation's own answer (not a failure to call
//!   it or a timeout), within the sides' timeout. Otherwise 503 with the
//!   reason. A verdict is reused for [`READY_FOR`].
//! - Nothing from a request reaches the log unescaped; secrets are redacted
//!   from error bodies ([`crate::util::redact`]).
//!
//! - **Proxy mode** (`upstream:http://…` sides, the replay's side kind):
//!   [`proxy`]'s contract; the comparison is of the replay's exchange
//!   shapes ([`crate::model::exchange`]).
//!
//! - **Capture** (`--capture`, both modes): [`capture`]'s contract; it is
//!   finished (flushed) after the last request is answered.
//!
//! - **Unleash usage**: with a server source, [`usage`] reports how often
//!   each flag was asked.
//!
//! - **Learned noise** (`noise_probe`): each mirror also calls the legacy
//!   once more, as a shadow ([`crate::flags::Router::run_probed`]), and the
//!   paths where its two answers differ are noise for that comparison, as
//!   replay's `--noise-probe` treats them (the `noisy` outcome, the report's
//!   noise section).
//!
//! Names [`crate::model`], [`crate::util`], [`crate::sides`],
//! [`crate::compare`], [`crate::contract`], [`crate::flags`],
//! [`crate::spec`] and [`crate::report`].

pub mod capture;
pub mod key;
pub mod metrics;
pub mod proxy;
pub mod rollback;
pub mod usage;

use crate::flags::audit_log::{self, Entry, EvidenceUsed};
use crate::flags::server_source::ServerSource;
use crate::flags::state::FlagView;
use crate::flags::{file_source, Evaluator, FlagNames, Router, Source, Stickiness};
use crate::model::{Answer, AppError, Charge, Event, Origin, RecordResult, RunState, Side, Stop};
use crate::report::{ReportError, RunLock, RunStatus, Sinks, Summary};
use crate::sides::{self, Implementation, Request, SideError};
use crate::spec::RunSpec;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use key::KeyFrom;
use metrics::Metrics;
use rollback::{RollbackSettings, Trip, Window};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Default `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default `--admin-listen`.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
/// Default `--mirror-nice`: the mirrors share serving's threads.
pub const DEFAULT_MIRROR_NICE: u8 = 0;

fn default_mirror_nice() -> u8 {
    DEFAULT_MIRROR_NICE
}

/// Everything serve does besides what its [`RunSpec`] says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub key: KeyFrom,
    /// Longest request body accepted, in bytes.
    pub max_body: usize,
    /// Longest request body mirrored, in bytes.
    pub mirror_max_body: usize,
    /// Mirrored calls in flight at most.
    pub mirrors: usize,
    /// Comparisons queued for the live report at most.
    pub mirror_queue: usize,
    #[serde(with = "crate::util::serde::duration")]
    pub mirror_timeout: Duration,
    #[serde(with = "crate::util::serde::duration")]
    pub flush_interval: Duration,
    /// How long mirrors in flight may finish after the listener closed.
    #[serde(with = "crate::util::serde::duration")]
    pub shutdown_grace: Duration,
    /// How much lower the CPU priority of the mirrors' threads is than the
    /// serving path's, as a nice increment (at most 19; 0: no threads of
    /// their own). The caller builds the runtime [`run`] is given from it.
    #[serde(default = "default_mirror_nice")]
    pub mirror_nice: u8,
    pub rollback: RollbackSettings,
    /// Proxy mode (`upstream:` sides); `None` is function mode.
    pub proxy: Option<proxy::ProxySettings>,
    /// `--capture` (function mode).
    pub capture: Option<capture::CaptureSettings>,
    /// `--ready-input`: function mode's probe input, which each side must
    /// answer for `/readyz` (`None`: each side's own readiness check).
    /// JSON text, checked when the settings were resolved.
    #[serde(default)]
    pub ready_input: Option<String>,
}

/// How long a `/readyz` verdict is reused, so a probing load balancer costs
/// the sides at most one probe call each per interval.
pub const READY_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} ({what}): {source}. Pick a free address with {flag}")]
    Bind {
        addr: SocketAddr,
        what: &'static str,
        flag: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Side(#[from] SideError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Rule(#[from] crate::compare::RuleError),
    #[error(transparent)]
    Flags(#[from] crate::flags::FlagsError),
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot open the capture {}: {source}", path.display())]
    Capture {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Both listeners, bound.
pub struct Bound {
    main: TcpListener,
    admin: TcpListener,
}

impl Bound {
    /// The service's address and the admin address, as bound (a port 0
    /// becomes the port the system gave).
    pub fn addrs(&self) -> (SocketAddr, SocketAddr) {
        (
            self.main
                .local_addr()
                .expect("a bound listener has an address"),
            self.admin
                .local_addr()
                .expect("a bound listener has an address"),
        )
    }
}

/// Binds both listeners.
pub async fn bind(settings: &ServeSettings) -> Result<Bound, ServeError> {
    async fn one(
        addr: SocketAddr,
        what: &'static str,
        flag: &'static str,
    ) -> Result<TcpListener, ServeError> {
        TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr,
                what,
                flag,
                source,
            })
    }
    Ok(Bound {
        main: one(settings.listen, "the service", "--listen").await?,
        admin: one(
            settings.admin_listen,
            "metrics and health",
            "--admin-listen",
        )
        .await?,
    })
}

/// How a serve ended.
#[derive(Debug)]
pub struct ServeOutcome {
    pub summary: Summary,
    pub dir: PathBuf,
    /// Mirrors still running when the grace period ended (not compared).
    pub abandoned: usize,
}

/// What every request handler shares.
struct App {
    router: Router,
    legacy: Arc<dyn Implementation>,
    candidate: Arc<dyn Implementation>,
    key: KeyFrom,
    mirror_max_body: usize,
    metrics: Arc<Metrics>,
    ready: AtomicBool,
    capture: Option<Arc<capture::Capture>>,
    usage: Arc<usage::Usage>,
    probe: Probe,
    /// `--noise-probe`: each mirror also calls the legacy once more.
    noise_probe: bool,
}

/// Serves until `stop` is cancelled (see the module docs). The mirrors, their
/// comparisons and the live report run on `mirrors` when given (a runtime
/// of their own, e.g. at a lower CPU priority, so they take only what
/// serving leaves of the cores), else on the caller's.
pub async fn run(
    bound: Bound,
    spec: &RunSpec,
    settings: &ServeSettings,
    mirrors: Option<tokio::runtime::Handle>,
    stop: &Stop,
) -> Result<ServeOutcome, ServeError> {
    let lock = RunLock::acquire(&spec.out)?;
    let contract = spec.compile_contract()?;
    let rules = spec.compile_rules()?;
    let known = spec.compile_known()?;
    let metrics = Arc::new(Metrics::new());
    let background = CancellationToken::new();

    // Health first: /healthz answers while the sides start.
    let ready = Arc::new(AtomicBool::new(false));
    let admin_state = Arc::new(AdminState {
        metrics: metrics.clone(),
        ready: ready.clone(),
        app: std::sync::OnceLock::new(),
    });
    let admin = tokio::spawn(serve_admin(
        bound.admin,
        admin_state.clone(),
        background.clone(),
    ));

    let options = spec.side_options();
    // Proxy mode: the `upstream:` sides (`/readyz`, stats) hand their
    // targets, secrets resolved once, to the proxy's streaming clients.
    let upstreams = match &settings.proxy {
        Some(_) => Some(proxy::upstream_sides(spec, &options)?),
        None => None,
    };
    let (legacy, candidate): (Arc<dyn Implementation>, Arc<dyn Implementation>) = match &upstreams {
        Some([legacy, candidate]) => (legacy.clone(), candidate.clone()),
        None => (
            sides::build(&spec.legacy, Side::Legacy, &options)?,
            sides::build(&spec.candidate, Side::Candidate, &options)?,
        ),
    };
    let evaluator = open_flags(spec, &background).await;
    let usage = Arc::new(usage::Usage::default());
    let reporter = match &spec.flags {
        Some(flags) => match &flags.source {
            Source::Server { url, secret, .. } => {
                crate::flags::server_source::http_client(flags.timeout)
                    .ok()
                    .map(|http| {
                        usage::Reporter {
                            usage: usage.clone(),
                            api: url.clone(),
                            secret: secret.clone(),
                            names: flags.names.clone(),
                            http,
                            interval: flags.poll_interval,
                        }
                        .spawn(background.clone())
                    })
            }
            Source::File(_) => None,
        },
        None => None,
    };
    let (capture, capture_task) =
        match &settings.capture {
            Some(c) => {
                let (capture, task) = capture::Capture::start(c.clone(), spec.run_id.clone())
                    .map_err(|source| ServeError::Capture {
                        path: c.path.clone(),
                        source,
                    })?;
                (Some(Arc::new(capture)), Some(task))
            }
            None => (None, None),
        };
    let mirrors = mirrors.unwrap_or_else(tokio::runtime::Handle::current);
    let (router, comparisons) = Router::builder(evaluator)
        // The router's own copies (the report audits against these).
        .rules(spec.compile_rules()?)
        .known(spec.compile_known()?)
        .mirrors(settings.mirrors)
        .mirror_timeout(settings.mirror_timeout)
        .mirror_runtime(mirrors.clone())
        .with_sink(settings.mirror_queue);
    let app = Arc::new(App {
        router: router.clone(),
        legacy: legacy.clone(),
        candidate: candidate.clone(),
        key: settings.key.clone(),
        mirror_max_body: settings.mirror_max_body,
        metrics: metrics.clone(),
        ready: AtomicBool::new(true),
        capture: capture.clone(),
        usage: usage.clone(),
        noise_probe: spec.noise_probe,
        probe: Probe {
            input: settings
                .ready_input
                .as_ref()
                .and_then(|text| RawValue::from_string(text.clone()).ok())
                .map(Arc::from),
            within: spec.sides.timeout,
            last: tokio::sync::Mutex::new(None),
        },
    });
    let _ = admin_state.app.set(app.clone());

    let sinks = Sinks::open(lock, spec, &rules, &known, None)?;
    let dir = sinks.dir().to_owned();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let live = mirrors.spawn(live_report(LiveReport {
        sinks,
        comparisons,
        done: done_rx,
        flush_interval: settings.flush_interval,
        window: Window::new(settings.rollback.clone()),
        router: router.clone(),
        metrics: metrics.clone(),
        spec: spec.clone(),
        legacy: legacy.clone(),
        candidate: candidate.clone(),
        contract,
        capture: capture.clone(),
    }));
    ready.store(true, Ordering::SeqCst);
    tracing::info!("serve: ready");

    let service = match (&settings.proxy, &upstreams) {
        (Some(proxy_settings), Some(upstreams)) => axum::Router::new()
            .fallback(proxy::handle)
            .with_state(Arc::new(proxy::Proxy::new(
                proxy_settings,
                settings,
                spec,
                upstreams,
                router.clone(),
                metrics.clone(),
                usage.clone(),
                capture.clone(),
            )?)),
        _ => axum::Router::new()
            .route("/", axum::routing::post(function))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(settings.max_body))
            .with_state(app.clone()),
    };
    let shutdown = stop.token().clone();
    // Responses and requests go out at once, as the upstream connector's do.
    let listener = bound.main.tap_io(|tcp| {
        // Best effort: a socket that refuses it still serves.
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    tracing::info!("serve: listener closed; finishing the mirrors in flight");
    let abandoned = router.drain(settings.shutdown_grace).await;
    if abandoned > 0 {
        tracing::warn!(
            "serve: {abandoned} mirrors still running after the grace period were not compared"
        );
    }
    app.ready.store(false, Ordering::SeqCst);
    if let Some(capture) = &app.capture {
        capture.finish().await;
    }
    if let Some(task) = capture_task {
        let _ = task.await;
    }
    drop(app);
    let _ = done_tx.send(());
    let mut sinks = live
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    sinks.set_live(live_stats(
        &router,
        &metrics,
        capture.as_deref(),
        abandoned as u64,
    ));
    background.cancel();
    let _ = admin.await;
    if let Some(reporter) = reporter {
        let _ = reporter.await;
    }
    tokio::join!(legacy.shutdown(), candidate.shutdown());
    served?;
    let summary = sinks.finish(status(stop, &legacy, &candidate))?;
    Ok(ServeOutcome {
        summary,
        dir,
        abandoned,
    })
}

/// The live counts `summary.json` carries.
fn live_stats(
    router: &Router,
    metrics: &Metrics,
    capture: Option<&capture::Capture>,
    abandoned: u64,
) -> crate::report::LiveStats {
    let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
    crate::report::LiveStats {
        router: router.stats(),
        method_skipped: metrics.shadow_count("method_skipped"),
        body_too_large: metrics.shadow_count("body_too_large"),
        abandoned,
        captured: capture.map_or(0, |c| count(&c.written)),
        capture_skipped: capture.map_or(0, |c| count(&c.skipped)),
    }
}

fn status(
    stop: &Stop,
    legacy: &Arc<dyn Implementation>,
    candidate: &Arc<dyn Implementation>,
) -> RunStatus {
    let signal = stop.signal();
    RunStatus {
        state: if signal.is_some() {
            RunState::Interrupted
        } else {
            RunState::Complete
        },
        signal,
        abort_reason: None,
        legacy_target: legacy.stats(),
        candidate_target: candidate.stats(),
        pace: None,
    }
}

/// The flag state, kept current until `stop`: a file re-read every
/// `poll_interval`, or a server polled (and registered with). Without flag
/// settings, or when the source cannot be used, the safe default applies
/// (legacy serves every key).
async fn open_flags(spec: &RunSpec, stop: &CancellationToken) -> Arc<Evaluator> {
    let offline = |names: FlagNames, stickiness: Stickiness| {
        Arc::new(Evaluator::offline(names, stickiness).expect("an offline SDK client builds"))
    };
    let Some(settings) = &spec.flags else {
        return offline(FlagNames::derived("serve"), Stickiness::UserId);
    };
    match &settings.source {
        Source::File(path) => {
            let eval = offline(settings.names.clone(), settings.stickiness.clone());
            let (first, _task) = file_source::watch(
                spec.resolve(path),
                eval.clone(),
                settings.poll_interval,
                stop.clone(),
            );
            if let Err(e) = first {
                tracing::warn!(
                    "flags: {e}; the legacy serves every key until the file can be read"
                );
            }
            eval
        }
        Source::Server { url, secret, .. } => {
            match ServerSource::new(settings, url, secret.clone()) {
                Ok(source) => {
                    let source = Arc::new(source);
                    if let Some(problem) = source.start().await {
                        tracing::warn!("flags: {problem}");
                    }
                    let eval = source.evaluator().clone();
                    let _task = source.spawn_polling(stop.clone());
                    eval
                }
                Err(e) => {
                    tracing::warn!("flags: {e}; the legacy serves every key");
                    offline(settings.names.clone(), settings.stickiness.clone())
                }
            }
        }
    }
}

/// `POST /` in function mode.
async fn function(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let input: Box<RawValue> = match serde_json::from_slice(&body) {
        Ok(input) => input,
        Err(e) => {
            app.metrics.rejected();
            return error_response(
                StatusCode::BAD_REQUEST,
                &AppError::new(
                    "cutover.bad_request",
                    format!("the request body is not JSON: {e}"),
                ),
            );
        }
    };
    app.metrics.accepted();
    let key = app.key.of(&headers, uri.query(), Some(&input));
    let mut decision = app.router.decide(key.as_deref());
    app.usage.observe(&decision);
    app.metrics.served(&decision);
    if decision.mirrored && body.len() > app.mirror_max_body {
        decision.mirrored = false;
        app.metrics.shadow("body_too_large");
    }
    let input: Arc<RawValue> = input.into();
    let answer = app
        .router
        .run_probed(
            key.as_deref(),
            decision,
            input.clone(),
            caller(app.legacy.clone(), Side::Legacy, app.metrics.clone()),
            caller(app.candidate.clone(), Side::Candidate, app.metrics.clone()),
            app.noise_probe
                .then(|| caller(app.legacy.clone(), Side::Legacy, app.metrics.clone())),
        )
        .await;
    if let Some(capture) = &app.capture {
        capture.record(key.as_deref(), &input, &answer).await;
    }
    match answer {
        Answer::Output(value) => json_response(StatusCode::OK, &value),
        Answer::Error(e) if e.kind == TARGET_FAILED => error_response(StatusCode::BAD_GATEWAY, &e),
        Answer::Error(e) => error_response(StatusCode::UNPROCESSABLE_ENTITY, &e),
        Answer::Timeout(d) => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            &AppError::new("cutover.timeout", format!("no answer within {d:?}")),
        ),
    }
}

const TARGET_FAILED: &str = "cutover.target_failed";

/// One side's call, timed, as the router takes it.
fn caller(
    side: Arc<dyn Implementation>,
    which: Side,
    metrics: Arc<Metrics>,
) -> impl FnOnce(Arc<RawValue>) -> futures::future::BoxFuture<'static, Answer> + Send + 'static {
    move |input| {
        Box::pin(async move {
            let started = Instant::now();
            let answer = side
                .call(Request {
                    input: &input,
                    input_check: crate::model::InputCheck::Unchecked,
                    recorded: None,
                })
                .await
                .unwrap_or_else(|e| {
                    Answer::Error(AppError::new(
                        TARGET_FAILED,
                        crate::util::redact::text(&e.to_string()).into_owned(),
                    ))
                });
            metrics.upstream(which, started.elapsed());
            answer
        })
    }
}

fn error_response(status: StatusCode, error: &AppError) -> Response {
    json_response(status, &serde_json::json!({ "error": error }))
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn not_found(uri: Uri) -> Response {
    let _ = uri;
    error_response(
        StatusCode::NOT_FOUND,
        &AppError::new(
            "cutover.not_found",
            "function mode answers POST / only (metrics and health are on --admin-listen)",
        ),
    )
}

/// What the admin listener shares.
struct AdminState {
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    app: std::sync::OnceLock<Arc<App>>,
}

async fn serve_admin(listener: TcpListener, state: Arc<AdminState>, stop: CancellationToken) {
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics_page))
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route("/readyz", axum::routing::get(readyz))
        .with_state(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::warn!("serve: the admin listener failed: {e}");
    }
}

async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    let app = state
        .app
        .get()
        .filter(|app| app.ready.load(Ordering::SeqCst));
    let Some(app) = app.filter(|_| state.ready.load(Ordering::SeqCst)) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: starting\n").into_response();
    };
    match app.probe.verdict(&app.legacy, &app.candidate).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", crate::util::escape::escape_lines(&why)),
        )
            .into_response(),
    }
}

/// `/readyz`'s check that both sides answer (see the module docs), its
/// verdict kept for [`READY_FOR`].
struct Probe {
    input: Option<Arc<RawValue>>,
    within: Duration,
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Probe {
    async fn verdict(
        &self,
        legacy: &Arc<dyn Implementation>,
        candidate: &Arc<dyn Implementation>,
    ) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, verdict)) = last.as_ref() {
            if at.elapsed() < READY_FOR {
                return verdict.clone();
            }
        }
        let (l, c) = tokio::join!(
            self.side(legacy, Side::Legacy),
            self.side(candidate, Side::Candidate)
        );
        let verdict = l.and(c);
        *last = Some((Instant::now(), verdict.clone()));
        verdict
    }

    /// One side: its readiness check, then (with a probe input) one call,
    /// which must get the implementation's own answer (an output or its
    /// own error), not a failure to call it or a timeout.
    async fn side(&self, side: &Arc<dyn Implementation>, which: Side) -> Result<(), String> {
        let checked = async {
            side.ready().await.map_err(|e| e.to_string())?;
            let Some(input) = &self.input else {
                return Ok(());
            };
            match side
                .call(Request {
                    input,
                    input_check: crate::model::InputCheck::Unchecked,
                    recorded: None,
                })
                .await
            {
                Ok(Answer::Output(_)) => Ok(()),
                Ok(Answer::Error(e))
                    if !e.kind.starts_with("cutover.") && e.kind != TARGET_FAILED =>
                {
                    Ok(())
                }
                Ok(Answer::Error(e)) => Err(format!("{}: {}", e.kind, e.message)),
                Ok(Answer::Timeout(d)) => Err(format!("no answer within {d:?}")),
                Err(e) => Err(e.to_string()),
            }
        };
        match tokio::time::timeout(self.within, checked).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(format!(
                "the {which} does not answer: {}",
                crate::util::redact::text(&why)
            )),
            Err(_) => Err(format!(
                "the {which} does not answer within {}",
                humantime::format_duration(self.within)
            )),
        }
    }
}

async fn metrics_page(State(state): State<Arc<AdminState>>) -> Response {
    if let Some(app) = state.app.get() {
        let router = &app.router;
        let retries = app.legacy.stats().retries + app.candidate.stats().retries;
        state.metrics.sync(
            &router.stats(),
            router.queue_depth(),
            router.in_flight(),
            retries,
        );
        let percent = if router.is_forced_legacy() {
            Some(0.0)
        } else {
            router
                .evaluator()
                .snapshot()
                .and_then(|s| FlagView::of(&s.features, &router.evaluator().names().serve).percent)
        };
        if let Some(percent) = percent {
            state.metrics.set_serve_percent(percent);
        }
    }
    (
        [(axum::http::header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.encode(),
    )
        .into_response()
}

/// The live report's task: what it owns.
struct LiveReport {
    sinks: Sinks,
    comparisons: mpsc::Receiver<crate::flags::Comparison>,
    done: tokio::sync::oneshot::Receiver<()>,
    flush_interval: Duration,
    window: Window,
    router: Router,
    metrics: Arc<Metrics>,
    spec: RunSpec,
    legacy: Arc<dyn Implementation>,
    candidate: Arc<dyn Implementation>,
    /// The run's behaviour contract, held to every comparison as replay does.
    contract: Option<crate::contract::Contract>,
    capture: Option<Arc<capture::Capture>>,
}

/// Takes every comparison into the report and the rollback window,
/// checkpoints every `flush_interval`; after `done`, takes what is still
/// queued and hands the sinks back for the last write.
async fn live_report(mut live: LiveReport) -> Result<Sinks, ServeError> {
    let mut tick = tokio::time::interval(live.flush_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    let source: Arc<str> = Arc::from("serve");
    loop {
        tokio::select! {
            comparison = live.comparisons.recv() => match comparison {
                Some(c) => live.take(c, &mut seq, &source)?,
                None => break,
            },
            _ = tick.tick() => {
                live.sinks.set_live(live_stats(&live.router, &live.metrics, live.capture.as_deref(), 0));
                live.sinks.checkpoint(RunStatus {
                    state: RunState::Interrupted,
                    signal: None,
                    abort_reason: Some("serve is still running: this is a live report".into()),
                    legacy_target: live.legacy.stats(),
                    candidate_target: live.candidate.stats(),
                    pace: None,
                })?;
            }
            _ = &mut live.done => {
                live.comparisons.close();
                while let Some(c) = live.comparisons.recv().await {
                    live.take(c, &mut seq, &source)?;
                }
                break;
            }
        }
    }
    Ok(live.sinks)
}

impl LiveReport {
    fn take(
        &mut self,
        c: crate::flags::Comparison,
        seq: &mut u64,
        source: &Arc<str>,
    ) -> Result<(), ServeError> {
        self.metrics.compared();
        let against = !c.verdict.is_clean();
        if against {
            self.metrics.mismatch(&crate::compare::signature(
                &c.verdict,
                &c.legacy.answer,
                &c.candidate.answer,
            ));
        }
        let n = *seq;
        *seq += 1;
        let contract = self
            .contract
            .as_ref()
            .and_then(|k| k.check(&c.input, &c.legacy.answer, &c.candidate.answer));
        let result = RecordResult {
            seq: n,
            id: format!("live-{n}"),
            key: c.key,
            origin: Origin {
                source: source.clone(),
                line: n + 1,
            },
            input: c.input.into(),
            legacy: c.legacy,
            candidate: c.candidate,
            verdict: c.verdict,
            rule_effects: c.rule_effects,
            known_used: c.known_used,
            noise: c.noise,
            drift: None,
            diff: None,
            contract,
            charge: Charge::none(),
        };
        self.sinks.accept(&Event::Compared(Box::new(result)))?;
        let trip = self.window.observe(against, Instant::now());
        self.metrics.set_bound(self.window.bound());
        match trip {
            Trip::Nothing => {}
            Trip::Rollback => self.roll_back(),
            Trip::Release => {
                tracing::warn!("serve: the candidate's live mismatch bound is back under the limit after the cooldown; the flags decide again");
                self.router.force_legacy(false);
            }
        }
        Ok(())
    }

    /// The automatic rollback (see the module docs).
    fn roll_back(&mut self) {
        let evidence = self.window.evidence();
        self.router.force_legacy(true);
        self.metrics.rollback();
        tracing::warn!(
            "serve: automatic rollback: {} of {} mirrored requests against the candidate in the window, upper bound {:.4} > {}; the legacy serves every key now",
            evidence.against,
            evidence.records,
            evidence.upper_bound,
            evidence.max_mismatch_bound
        );
        let Some(settings) = self.spec.flags.clone() else {
            return;
        };
        let Source::Server { url, .. } = &settings.source else {
            return;
        };
        if std::env::var(crate::flags::admin::ENV_ADMIN_TOKEN).map_or(true, |t| t.is_empty()) {
            tracing::warn!(
                "serve: {} is not set: the serve flag on the server is left as it is (local override only)",
                crate::flags::admin::ENV_ADMIN_TOKEN
            );
            return;
        }
        let url = url.clone();
        let report = self.spec.out.display().to_string();
        let run_id = self.spec.run_id.clone();
        tokio::spawn(async move {
            let flag = settings.names.serve.clone();
            let changed = async {
                let admin = crate::flags::admin::Admin::from_env(&settings, &url)?;
                admin
                    .set_percent(
                        &flag,
                        0,
                        &settings.stickiness,
                        "cutover automatic rollback (cutover serve)",
                    )
                    .await
            };
            match changed.await {
                Ok(change) => {
                    let mut entry = Entry::now(
                        &settings.migration,
                        &flag,
                        "rollback",
                        settings.source.to_string(),
                    );
                    entry.from = change.from;
                    entry.to = change.to;
                    entry.evidence = Some(EvidenceUsed {
                        report,
                        run_id,
                        evidence,
                    });
                    if let Err(e) = audit_log::append(&settings.audit_log, &entry) {
                        tracing::warn!("serve: the rollback happened but the audit log could not be written: {e}");
                    }
                    tracing::warn!("serve: {flag} set to 0% on the server");
                }
                Err(e) => tracing::warn!("serve: setting {flag} to 0% on the server failed: {e}; the local override holds"),
            }
        });
    }
}
