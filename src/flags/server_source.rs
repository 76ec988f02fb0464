//! The Unleash server as the flag source: polling, a last-known-good copy on
//! disk, and an outage that never takes cutover down.
//!
//! # Contract
//! - Every HTTP call has a deadline (`[flags] timeout`, default 5 s): the
//!   reqwest client is built with one, and it is also the SDK client's
//!   transport (for `register`).
//! - [`ServerSource::start`]: loads the last-known-good copy (if it was
//!   written for the same URL), fetches once. If the server is
//!   unreachable or rejects the token, cutover **starts anyway**: it says so
//!   in **one** warning and keeps the cached state, or with no cache serves
//!   legacy only (the [`super::Evaluator`]'s no-state default) until a state
//!   arrives.
//! - [`ServerSource::spawn_polling`] registers the client with the server
//!   (once, best effort: the server's *Applications* view), then fetches
//!   every `poll_interval` in the background (with `If-None-Match`, so an unchanged state costs a 304). A
//!   failure keeps the last state; it is logged once when the server goes
//!   away and once when it comes back, never per poll and never per request.
//! - Each state fetched is loaded into the SDK (`memoize`) and written to the
//!   cache atomically, so a restart during an outage resumes the last
//!   rollout.
//! - Secrets: errors and logs show the URL without userinfo and go through
//!   [`crate::util::redact::text`]; the cache stores the URL without userinfo
//!   (and is used for the same URL whatever its credentials).
//! - The SDK's own `poll_for_updates` is not used: it does not expose the
//!   fetched state (needed for the cache), does not tell a 401 from a bad
//!   body, and logs a warning on every failed poll.

use super::local_write::write_atomic;
use super::state::{parse_features, Origin, Snapshot};
use super::{Evaluator, FlagsError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use unleash_types::client_features::ClientFeatures;

/// The last-known-good copy on disk.
#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    /// The API URL the state was fetched from.
    url: String,
    fetched_at: chrono::DateTime<chrono::Utc>,
    features: ClientFeatures,
}

/// How the source is doing, for `flags status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    /// Last successful fetch (200 or 304).
    pub last_ok: Option<chrono::DateTime<chrono::Utc>>,
    /// The current failure, while the server cannot be used.
    pub failing: Option<String>,
    /// The state in use came from the cache.
    pub from_cache: bool,
}

/// What one fetch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    Updated,
    NotModified,
}

/// A polled Unleash server feeding an [`Evaluator`].
pub struct ServerSource {
    /// The API URL requests go to (with its userinfo, if any).
    request_url: String,
    /// The API URL as shown and stored: without userinfo.
    url: String,
    secret: Option<String>,
    cache: PathBuf,
    interval: Duration,
    http: reqwest::Client,
    eval: Arc<Evaluator>,
    etag: Mutex<Option<String>>,
    health: Mutex<Health>,
}

/// The reqwest client every flag call uses: always with a deadline.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, FlagsError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .build()
        .map_err(|e| FlagsError::Sdk(format!("cannot build the HTTP client: {e}")))
}

impl ServerSource {
    /// A source for `url` (ending in `/api`) and an evaluator whose SDK
    /// client uses the same timed transport.
    pub fn new(
        settings: &super::FlagSettings,
        url: &str,
        secret: Option<String>,
    ) -> Result<Arc<Self>, FlagsError> {
        let http = http_client(settings.timeout)?;
        let transport = Arc::new(unleash_api_client::http::reqwest::ReqwestTransport::new(
            http.clone(),
        ));
        let eval = Arc::new(Evaluator::with_transport(
            settings.names.clone(),
            settings.stickiness.clone(),
            url,
            secret.clone(),
            transport,
        )?);
        Ok(Arc::new(ServerSource {
            request_url: url.to_owned(),
            url: crate::util::redact::url(url),
            secret,
            cache: settings.cache.clone(),
            interval: settings.poll_interval,
            http,
            eval,
            etag: Mutex::new(None),
            health: Mutex::new(Health::default()),
        }))
    }

    pub fn evaluator(&self) -> &Arc<Evaluator> {
        &self.eval
    }

    /// The API URL as shown: without userinfo.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_health(&self, f: impl FnOnce(&mut Health)) {
        f(&mut self.health.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Loads the last-known-good copy if it exists and was written for this
    /// URL; a damaged copy is reported and ignored.
    pub fn load_cache(&self) -> bool {
        let bytes = match std::fs::read(&self.cache) {
            Ok(bytes) => bytes,
            Err(_) => return false,
        };
        let cache: CacheFile = match serde_json::from_slice(&bytes) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    "ignoring the flag cache {}: {e} (it is rewritten at the next successful fetch)",
                    self.cache.display()
                );
                return false;
            }
        };
        if cache.url != self.url {
            tracing::info!(
                "ignoring the flag cache {}: it was written for {}, not {}",
                self.cache.display(),
                cache.url,
                self.url
            );
            return false;
        }
        let snapshot = Snapshot {
            features: cache.features,
            origin: Origin::Cache {
                path: self.cache.display().to_string(),
            },
            fetched_at: cache.fetched_at,
        };
        match self.eval.load(snapshot) {
            Ok(()) => {
                self.set_health(|h| h.from_cache = true);
                true
            }
            Err(e) => {
                tracing::warn!("ignoring the flag cache {}: {e}", self.cache.display());
                false
            }
        }
    }

    /// One fetch of the client features; loads and caches a new state. The
    /// error says what failed, without secrets (it may quote the server).
    pub async fn fetch_once(&self) -> Result<Fetched, String> {
        self.fetch()
            .await
            .map_err(|message| crate::util::redact::text(&message).into_owned())
    }

    async fn fetch(&self) -> Result<Fetched, String> {
        let endpoint = format!("{}/client/features", self.request_url);
        let shown = format!("{}/client/features", self.url);
        let mut request = self
            .http
            .get(&endpoint)
            .header("UNLEASH-APPNAME", super::eval::APP_NAME)
            .header("Accept", "application/json");
        if let Some(secret) = &self.secret {
            request = request.header("Authorization", secret);
        }
        let etag = self.etag.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(etag) = etag.filter(|_| self.eval.is_loaded()) {
            request = request.header("If-None-Match", etag);
        }
        let response = request.send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "unreachable"
            } else {
                "failed"
            };
            format!("GET {shown} {kind}: {}", crate::util::errors::chain(&e))
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(format!(
                "GET {shown}: the server rejected the backend token ({status}); set {} to a client token of this server's environment",
                super::settings::ENV_CLIENT_SECRET
            ));
        }
        if !status.is_success() {
            return Err(format!("GET {shown}: HTTP {status}"));
        }
        let new_etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(|e| {
            format!(
                "GET {shown}: reading the body: {}",
                crate::util::errors::chain(&e)
            )
        })?;
        let features = parse_features(&body)
            .map_err(|e| format!("GET {shown}: not a client-features document: {e}"))?;
        let fetched_at = chrono::Utc::now();
        let cache = CacheFile {
            url: self.url.clone(),
            fetched_at,
            features: features.clone(),
        };
        self.eval
            .load(Snapshot {
                features,
                origin: Origin::Server {
                    url: self.url.clone(),
                },
                fetched_at,
            })
            .map_err(|e| e.to_string())?;
        *self.etag.lock().unwrap_or_else(|p| p.into_inner()) = new_etag;
        self.set_health(|h| h.from_cache = false);
        let text = serde_json::to_vec_pretty(&cache).expect("the cache serialises");
        if let Err(e) = write_atomic(&self.cache, &text) {
            tracing::warn!("{e} (the last-known-good copy is not updated)");
        }
        Ok(Fetched::Updated)
    }

    /// One fetch with health bookkeeping; logs only on a change of health.
    async fn poll(&self) {
        let result = self.fetch_once().await;
        let was_failing = self.health().failing.is_some();
        match result {
            Ok(_) => {
                self.set_health(|h| {
                    h.last_ok = Some(chrono::Utc::now());
                    h.failing = None;
                });
                if was_failing {
                    tracing::warn!(
                        "Unleash server {} reachable again; flag state is current",
                        self.url
                    );
                }
            }
            Err(message) => {
                if !was_failing {
                    tracing::warn!(
                        "{message}; keeping {} and retrying every {:?}",
                        self.kept(),
                        self.interval
                    );
                }
                self.set_health(|h| h.failing = Some(message));
            }
        }
    }

    fn kept(&self) -> String {
        match self.eval.snapshot() {
            Some(s) => format!(
                "the last flag state (from {}, {})",
                s.origin,
                s.fetched_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            None => "no flag state: the legacy serves everything".into(),
        }
    }

    /// Loads the cache, fetches once. Never fails: a server that cannot be
    /// used is reported once (returned as the message).
    pub async fn start(&self) -> Option<String> {
        let cached = self.load_cache();
        let result = self.fetch_once().await;
        match result {
            Ok(_) => {
                self.set_health(|h| h.last_ok = Some(chrono::Utc::now()));
                None
            }
            Err(message) => {
                let kept = if cached {
                    format!("resuming the last-known-good rollout from {}", self.kept())
                } else {
                    "no last-known-good copy either, so the legacy serves everything until a state arrives".into()
                };
                let message = format!("cannot use the Unleash server: {message}; {kept}");
                self.set_health(|h| h.failing = Some(message.clone()));
                Some(message)
            }
        }
    }

    /// Polls every `poll_interval` until `stop` is cancelled.
    pub fn spawn_polling(self: &Arc<Self>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let source = self.clone();
        tokio::spawn(async move {
            if let Err(e) = source.eval.client().register().await {
                tracing::debug!("registering with {} failed: {e}", source.url);
            }
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(source.interval) => source.poll().await,
                }
            }
        })
    }
}
