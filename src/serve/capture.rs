//! `--capture FILE`: live requests appended as capture records, so what
//! serve saw, `cutover replay` replays.
//!
//! # Contract
//! - Function mode: each sampled request is one JSON Lines record of
//!   replay's capture format, `{"id", "key"?, "input", "recorded"?}`, with
//!   the served output as `recorded` (a served error or timeout has no
//!   `recorded`: replay's `recorded` side reads outputs only). Ids are
//!   `serve-<run-id>-<n>`, unique per file.
//! - Redacted **before** writing: every object field named in
//!   `redact_fields` (at any depth) becomes `"<redacted>"`, and every
//!   registered secret ([`crate::util::redact`]) is taken out of the line.
//! - Sampled at `sample` (0..=1) by count, deterministically: of every
//!   hundred requests, `100 × sample` are written.
//! - Rotated by size: a line that would take the file past `max_bytes`
//!   first moves it to `FILE.1` (replacing an older one: at most about
//!   twice `max_bytes` is kept), then starts a new `FILE`.
//! - Lossless for what is accepted: records go to one writer task over a
//!   bounded channel with `send` (a writer that lags slows the requests
//!   that capture, it never drops them); the writer flushes at least every
//!   whenever its queue is empty and at [`Capture::finish`]. A write
//!   error is logged once and counted; serving goes on.
//! - Proxy mode: each sampled exchange is one record whose `input` is the
//!   request and `recorded` the response served, in the exchange model's
//!   shapes ([`crate::model::exchange`]), so `cutover replay` replays it
//!   against `upstream:` sides (or `--legacy recorded`). Redacted before
//!   writing: the request headers of the run's header policy (`--redact-headers`:
//!   authorization, cookie, proxy-authorization by default) and the
//!   response's `set-cookie`, the query parameters named in
//!   `redact_query`, and the `redact_fields` of JSON bodies. Bodies stream
//!   to their destination as they come and are copied on the way
//!   ([`Tee`]), at most [`MAX_BODY`] each: an exchange with a larger body,
//!   or one cut off before its end, is not written and is counted in
//!   [`Capture::skipped`].

use crate::model::exchange::{HeaderPolicy, HttpRequest, HttpResponse};
use crate::model::Answer;
use axum::body::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// `--capture` and its `[serve]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureSettings {
    pub path: PathBuf,
    /// Size past which the file is rotated.
    pub max_bytes: u64,
    /// Share of requests written, 0..=1.
    pub sample: f64,
    /// JSON fields (any depth) replaced by `"<redacted>"`.
    pub redact_fields: Vec<String>,
    /// Proxy mode: query parameters whose values are replaced by `<redacted>`.
    #[serde(default)]
    pub redact_query: Vec<String>,
}

/// The largest body (request or response) a captured exchange may have.
pub const MAX_BODY: usize = 4 << 20;

/// Records in the writer's queue at most.
pub const QUEUE: usize = 4096;

/// The capture of one serve.
pub struct Capture {
    tx: mpsc::Sender<String>,
    settings: CaptureSettings,
    run_id: String,
    seen: AtomicU64,
    pub written: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    /// Sampled exchanges not written: a body over [`MAX_BODY`], or cut off.
    pub skipped: AtomicU64,
    /// Exchanges whose bodies are still streaming, to be written.
    pending: tokio_util::task::TaskTracker,
}

/// Whether the `n`th request (from 0) is sampled at `rate`.
fn sampled(n: u64, rate: f64) -> bool {
    let rate = rate.clamp(0.0, 1.0);
    ((n + 1) as f64 * rate).floor() > (n as f64 * rate).floor()
}

/// `query` with the values of the parameters named in `names` replaced by
/// `<redacted>` (names compared as written, undecoded).
fn redact_query(query: &str, names: &[String]) -> String {
    if names.is_empty() {
        return query.to_owned();
    }
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if names.iter().any(|n| n == name) => {
                format!("{name}={}", crate::util::redact::REDACTED)
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A body passed on frame by frame while its data is copied, up to
/// [`MAX_BODY`]; the copy is sent on `done` at the end of the body, or
/// `None` when the body was larger, failed, or was dropped before its end.
pub struct Tee<B: HttpBody + Unpin> {
    inner: B,
    kept: Vec<u8>,
    over: bool,
    done: Option<tokio::sync::oneshot::Sender<Option<Bytes>>>,
}

impl<B: HttpBody + Unpin> Tee<B> {
    pub fn new(inner: B) -> (Tee<B>, tokio::sync::oneshot::Receiver<Option<Bytes>>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (
            Tee {
                inner,
                kept: Vec::new(),
                over: false,
                done: Some(tx),
            },
            rx,
        )
    }

    fn end(&mut self, complete: bool) {
        if let Some(done) = self.done.take() {
            let kept = std::mem::take(&mut self.kept);
            let _ = done.send((complete && !self.over).then(|| Bytes::from(kept)));
        }
    }
}

impl<B: HttpBody + Unpin> Drop for Tee<B> {
    /// A body nobody read to its end is complete only when it had nothing
    /// left (a `GET`'s empty body is never polled).
    fn drop(&mut self) {
        let complete = self.inner.is_end_stream();
        self.end(complete);
    }
}

impl<B> HttpBody for Tee<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if !self.over {
                        if self.kept.len() + data.len() <= MAX_BODY {
                            self.kept.extend_from_slice(data);
                        } else {
                            self.over = true;
                            self.kept = Vec::new();
                        }
                    }
                }
                if self.inner.is_end_stream() {
                    self.end(true);
                }
            }
            Poll::Ready(Some(Err(_))) => self.end(false),
            Poll::Ready(None) => self.end(true),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn redact(value: &mut Value, fields: &[String]) {
    match value {
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                if fields.iter().any(|f| f == name) {
                    *v = Value::String("<redacted>".into());
                } else {
                    redact(v, fields);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, fields)),
        _ => {}
    }
}

impl Capture {
    /// Opens the capture (its writer task runs until [`Capture::finish`]).
    pub fn start(
        settings: CaptureSettings,
        run_id: String,
    ) -> std::io::Result<(Capture, tokio::task::JoinHandle<()>)> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&settings.path)?;
        let size = file.metadata()?.len();
        let (tx, rx) = mpsc::channel(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let task = tokio::task::spawn_blocking({
            let (path, max, written, failed) = (
                settings.path.clone(),
                settings.max_bytes,
                written.clone(),
                failed.clone(),
            );
            move || write_loop(rx, file, size, path, max, written, failed)
        });
        Ok((
            Capture {
                tx,
                settings,
                run_id,
                seen: AtomicU64::new(0),
                written,
                failed,
                skipped: AtomicU64::new(0),
                pending: tokio_util::task::TaskTracker::new(),
            },
            task,
        ))
    }

    /// Whether the next request is captured: `Some(n)`, its number.
    pub fn sample(&self) -> Option<u64> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        sampled(n, self.settings.sample).then_some(n)
    }

    /// One function-mode request and what was served.
    pub async fn record(
        &self,
        key: Option<&str>,
        input: &serde_json::value::RawValue,
        served: &Answer,
    ) {
        let Some(n) = self.sample() else { return };
        let mut input: Value = serde_json::from_str(input.get()).unwrap_or(Value::Null);
        redact(&mut input, &self.settings.redact_fields);
        let recorded = match served {
            Answer::Output(output) => {
                let mut output = output.value().clone();
                redact(&mut output, &self.settings.redact_fields);
                Some(output)
            }
            _ => None,
        };
        self.write(n, key, input, recorded).await;
    }

    /// One proxy-mode exchange, sampled as request `n` (see the module docs).
    pub async fn record_exchange(
        &self,
        n: u64,
        key: Option<&str>,
        request: HttpRequest,
        response: HttpResponse,
        policy: &HeaderPolicy,
    ) {
        const WITH: &str = crate::util::redact::REDACTED;
        let mut request = request.redacted(&policy.redacted, WITH).unwrap_or(request);
        if let Some(query) = &request.query {
            request.query = Some(redact_query(query, &self.settings.redact_query));
        }
        let mut input = request.to_value();
        let mut recorded = response.redacted(&["set-cookie"], WITH).to_value();
        if let Some(body) = input.get_mut("body") {
            redact(body, &self.settings.redact_fields);
        }
        if let Some(body) = recorded.get_mut("body") {
            redact(body, &self.settings.redact_fields);
        }
        self.write(n, key, input, Some(recorded)).await;
    }

    /// Writes exchange `n` once both of its bodies have streamed through
    /// their [`Tee`]s (skipped, and counted, when either did not end whole).
    pub fn record_streamed(
        self: &Arc<Self>,
        n: u64,
        key: Option<String>,
        parts: (HttpRequest, u16, crate::model::exchange::Headers),
        bodies: (
            tokio::sync::oneshot::Receiver<Option<Bytes>>,
            tokio::sync::oneshot::Receiver<Option<Bytes>>,
        ),
        policy: Arc<HeaderPolicy>,
    ) {
        let capture = self.clone();
        self.pending.spawn(async move {
            let (mut request, status, headers) = parts;
            let (Ok(Some(sent)), Ok(Some(got))) = (bodies.0.await, bodies.1.await) else {
                capture.skipped.fetch_add(1, Ordering::Relaxed);
                return;
            };
            request.body = (!sent.is_empty())
                .then(|| crate::model::exchange::Body::from_wire(&request.headers, sent.to_vec()));
            let response = HttpResponse {
                status,
                body: crate::model::exchange::Body::from_wire(&headers, got.to_vec()),
                headers,
            };
            capture
                .record_exchange(n, key.as_deref(), request, response, &policy)
                .await;
        });
    }

    async fn write(&self, n: u64, key: Option<&str>, input: Value, recorded: Option<Value>) {
        let mut record = json!({ "id": format!("serve-{}-{n}", self.run_id) });
        if let Some(key) = key {
            record["key"] = json!(key);
        }
        record["input"] = input;
        if let Some(recorded) = recorded {
            record["recorded"] = recorded;
        }
        let line = crate::util::redact::text(&record.to_string()).into_owned();
        if self.tx.send(line).await.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Once every request is answered: the writer writes what is queued,
    /// flushes and ends.
    pub async fn finish(&self) {
        self.pending.close();
        self.pending.wait().await;
        // The empty line is the end (no record is empty).
        let _ = self.tx.send(String::new()).await;
    }
}

fn write_loop(
    mut rx: mpsc::Receiver<String>,
    file: std::fs::File,
    mut size: u64,
    path: PathBuf,
    max: u64,
    written: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) {
    let mut out = std::io::BufWriter::new(file);
    let mut warned = false;
    let mut fail = |e: std::io::Error, failed: &AtomicU64| {
        failed.fetch_add(1, Ordering::Relaxed);
        if !warned {
            warned = true;
            tracing::warn!("capture {}: cannot write: {e}", path.display());
        }
    };
    while let Some(line) = rx.blocking_recv() {
        if line.is_empty() {
            break;
        }
        let bytes = line.len() as u64 + 1;
        if size > 0 && size + bytes > max {
            let rotated = path.with_extension(match path.extension() {
                Some(ext) => format!("{}.1", ext.to_string_lossy()),
                None => "1".into(),
            });
            let moved = out
                .flush()
                .and_then(|_| std::fs::rename(&path, &rotated))
                .and_then(|_| {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                });
            match moved {
                Ok(file) => {
                    out = std::io::BufWriter::new(file);
                    size = 0;
                }
                Err(e) => fail(e, &failed),
            }
        }
        match writeln!(out, "{line}") {
            Ok(()) => {
                size += bytes;
                written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => fail(e, &failed),
        }
        if rx.is_empty() {
            if let Err(e) = out.flush() {
                fail(e, &failed);
            }
        }
    }
    if let Err(e) = out.flush() {
        fail(e, &failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn a_tee_passes_every_byte_on_and_keeps_a_copy_only_of_a_whole_body_within_the_limit() {
        let (tee, copy) = Tee::new(Full::new(Bytes::from_static(b"{\"a\": 1}")));
        let passed = tee.collect().await.unwrap().to_bytes();
        assert_eq!(&passed[..], b"{\"a\": 1}");
        assert_eq!(copy.await.unwrap().as_deref(), Some(&b"{\"a\": 1}"[..]));

        let big = Bytes::from(vec![b'x'; MAX_BODY + 1]);
        let (tee, copy) = Tee::new(Full::new(big.clone()));
        assert_eq!(tee.collect().await.unwrap().to_bytes(), big);
        assert_eq!(copy.await.unwrap(), None, "over the limit: not kept");

        // An empty body nobody polled is whole; a body dropped half-read is not.
        let (tee, copy) = Tee::new(Full::new(Bytes::new()));
        drop(tee);
        assert_eq!(copy.await.unwrap().as_deref(), Some(&b""[..]));
        let (tee, copy) = Tee::new(Full::new(Bytes::from_static(b"unread")));
        drop(tee);
        assert_eq!(copy.await.unwrap(), None);
    }

    #[test]
    fn query_parameters_are_redacted_by_name() {
        assert_eq!(
            redact_query("a=1&token=s3&b=&token", &["token".into()]),
            "a=1&token=<redacted>&b=&token"
        );
        assert_eq!(redact_query("a=1", &[]), "a=1");
    }

    #[test]
    fn sampling_is_by_count_and_redaction_reaches_every_depth() {
        let kept = (0..100).filter(|&n| sampled(n, 0.25)).count();
        assert_eq!(kept, 25);
        assert_eq!((0..10).filter(|&n| sampled(n, 1.0)).count(), 10);
        assert_eq!((0..10).filter(|&n| sampled(n, 0.0)).count(), 0);
        let mut v = json!({"a": {"token": "s", "b": [{"token": 1}]}, "token": "t"});
        redact(&mut v, &["token".into()]);
        assert_eq!(
            v,
            json!({"a": {"token": "<redacted>", "b": [{"token": "<redacted>"}]}, "token": "<redacted>"})
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rotates_by_size_keeping_one_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let (capture, task) = Capture::start(
            CaptureSettings {
                path: path.clone(),
                max_bytes: 400,
                sample: 1.0,
                redact_fields: Vec::new(),
                redact_query: Vec::new(),
            },
            "r".into(),
        )
        .unwrap();
        let input = serde_json::value::RawValue::from_string(r#"{"items":["x"]}"#.into()).unwrap();
        for _ in 0..20 {
            capture
                .record(
                    Some("k"),
                    &input,
                    &Answer::output(json!({"accepted": ["x"]})),
                )
                .await;
        }
        capture.finish().await;
        task.await.unwrap();
        let lines = |p: &std::path::Path| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .count()
        };
        let rotated = dir.path().join("c.jsonl.1");
        assert!(lines(&rotated) > 0, "rotated");
        assert!(std::fs::metadata(&path).unwrap().len() <= 400);
        assert!(lines(&path) + lines(&rotated) <= 20);
    }
}
