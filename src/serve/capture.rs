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
//! - Proxy mode does not capture on this branch (refused when set up).

use crate::model::Answer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
}

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
}

/// Whether the `n`th request (from 0) is sampled at `rate`.
fn sampled(n: u64, rate: f64) -> bool {
    let rate = rate.clamp(0.0, 1.0);
    ((n + 1) as f64 * rate).floor() > (n as f64 * rate).floor()
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
            },
            task,
        ))
    }

    /// One function-mode request and what was served.
    pub async fn record(
        &self,
        key: Option<&str>,
        input: &serde_json::value::RawValue,
        served: &Answer,
    ) {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        if !sampled(n, self.settings.sample) {
            return;
        }
        let mut record = json!({ "id": format!("serve-{}-{n}", self.run_id) });
        if let Some(key) = key {
            record["key"] = json!(key);
        }
        let mut input: Value = serde_json::from_str(input.get()).unwrap_or(Value::Null);
        redact(&mut input, &self.settings.redact_fields);
        record["input"] = input;
        if let Answer::Output(output) = served {
            let mut output = output.clone();
            redact(&mut output, &self.settings.redact_fields);
            record["recorded"] = output;
        }
        let line = crate::util::redact::text(&record.to_string()).into_owned();
        if self.tx.send(line).await.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Once every request is answered: the writer writes what is queued,
    /// flushes and ends.
    pub async fn finish(&self) {
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
                    &Answer::Output(json!({"accepted": ["x"]})),
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
