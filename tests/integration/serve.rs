//! `cutover serve` end to end over loopback: the real binary, the real
//! Python worker, real HTTP.

use crate::util::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `cutover serve` (killed when dropped).
pub struct Serving {
    child: Child,
    pub url: String,
    pub admin: String,
    pub out: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts serve on free loopback ports with `args`, its report in `out`;
/// returns once it said where it listens.
pub fn start_serve(out: &Path, args: &[&str]) -> Serving {
    start_serve_env(out, args, &[])
}

pub fn start_serve_env(out: &Path, args: &[&str], env: &[(&str, &str)]) -> Serving {
    let mut cmd = cutover_process();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--out",
    ])
    .arg(out)
    .args(args)
    .envs(env.iter().copied())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cutover serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let text = Arc::new(Mutex::new(String::new()));
    let kept = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("listening on http://") {
                let _ = tx.send(line.clone());
            }
            kept.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            panic!(
                "serve did not say where it listens: {}",
                text.lock().unwrap()
            )
        });
    let addr = |after: &str| {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        let end = rest.find([' ', ')']).unwrap_or(rest.len());
        format!("http://{}", &rest[..end])
    };
    Serving {
        child,
        url: addr("listening on http://"),
        admin: addr("health on http://"),
        out: out.to_owned(),
        stderr: text,
    }
}

impl Serving {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `signal` and waits for the exit code and stdout.
    pub fn stop(mut self, signal: nix::sys::signal::Signal) -> (i32, String) {
        send(self.pid(), signal);
        let status = wait_within(
            &mut self.child,
            Duration::from_secs(60),
            "serve after a signal",
        );
        let mut stdout = String::new();
        use std::io::Read;
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        (status.code().unwrap_or(-1), stdout)
    }

    pub async fn metrics(&self) -> String {
        let response = reqwest::get(format!("{}/metrics", self.admin))
            .await
            .unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        response.text().await.unwrap()
    }

    /// Waits until the live report holds `n` compared records.
    pub async fn until_compared(&self, n: u64) -> Value {
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(self.out.join("summary.json")) {
                if let Ok(summary) = serde_json::from_str::<Value>(&text) {
                    if count(&summary, "read") >= n {
                        return summary;
                    }
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the live report never held {n} records; stderr: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One sample of a counter or gauge in OpenMetrics text (`None`: absent).
pub fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name_and_labels)?;
        rest.strip_prefix(' ')?.split(' ').next()?.parse().ok()
    })
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut request = client
        .post(format!("{url}/"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("X-Cutover-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

/// Posts `body` `n` times to `url`, keys `k0`, `k1`, ...; each must answer 200.
async fn post_keyed(url: &str, n: usize, body: &Value) {
    let client = reqwest::Client::new();
    for i in 0..n {
        let (status, _) = post(&client, url, Some(&format!("k{i}")), body).await;
        assert_eq!(status, 200, "request k{i}");
    }
}

fn python_normalize(inputs: &[Value]) -> Vec<Value> {
    let program =
        "import json,sys; sys.path.insert(0, 'legacy'); from normalize import normalize; \
                   print(json.dumps([normalize(x) for x in json.load(sys.stdin)]))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", program])
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(inputs).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn inputs(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| match i % 3 {
            0 => json!({"items": [format!(" item {i} "), "Two"]}),
            // U+001E: the legacy's str.strip() removes it, naive trim() does not.
            1 => json!({"items": [format!("\u{1e}x{i}")]}),
            _ => json!({"items": ["", "  "]}),
        })
        .collect()
}

/// Function mode with the real Python worker serving and the builtin
/// candidate mirrored: every answer is the legacy's, every mirror is in the
/// live report (which `cutover report` reads while serve runs), a keyless
/// request is served by the legacy and not mirrored, and SIGTERM ends it
/// with 143 and a complete report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_mode_serves_the_legacy_and_mirrors_the_candidate_into_a_live_report() {
    let dir = tempdir();
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--legacy",
            "worker:python3 legacy/worker.py",
            "--candidate",
            "builtin:normalize-naive",
            "--workers",
            "2",
            "--flush-interval",
            "100ms",
        ],
    );
    let client = reqwest::Client::new();
    let inputs = inputs(30);
    let expected = python_normalize(&inputs);
    for (i, input) in inputs.iter().enumerate() {
        let (status, body) = post(&client, &serving.url, Some(&format!("user-{i}")), input).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, expected[i], "request {i}: the legacy's answer");
    }
    let (status, _) = post(&client, &serving.url, None, &inputs[0]).await;
    assert_eq!(status, 200);
    let summary = serving.until_compared(30).await;
    assert_accounted(&summary);
    assert_eq!(count(&summary, "mismatched"), 10, "{summary}");

    // The review commands read the live directory while serve runs.
    let mut report = cutover_args(&["report", "--no-pager"]);
    report.arg(&serving.out);
    let text = stdout_of(&mut report, 1);
    assert!(text.contains("mismatch"), "{text}");

    let metrics = serving.metrics().await;
    assert_eq!(
        sample(&metrics, "cutover_requests_total{served_by=\"legacy\"}"),
        Some(30.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "cutover_requests_total{served_by=\"legacy_without_key\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "cutover_shadow_total{outcome=\"compared\"}"),
        Some(30.0),
        "{metrics}"
    );

    let out = serving.out.clone();
    let (code, stdout) = serving.stop(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(code, 143, "{stdout}");
    let summary = crate::util::summary(&out);
    assert_accounted(&summary);
    assert_eq!(count(&summary, "read"), 30, "{summary}");
    assert_eq!(summary["status"]["state"], "interrupted", "{summary}");
    assert_eq!(summary["status"]["signal"], "SIGTERM", "{summary}");
    assert_eq!(mismatches(&out).len(), 10);
}

/// A bad body is refused with a clear error and counted; an oversized one
/// gets 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_oversized_bodies_are_refused_and_counted() {
    let dir = tempdir();
    let serving = start_serve(
        &dir.path().join("live"),
        &["--legacy", "builtin:normalize", "--max-body", "1000"],
    );
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/", serving.url))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["type"], "cutover.bad_request", "{body}");
    let big = json!({"items": ["x".repeat(2000)]});
    let response = client
        .post(format!("{}/", serving.url))
        .body(big.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let metrics = serving.metrics().await;
    assert_eq!(
        sample(&metrics, "cutover_rejected_total"),
        Some(1.0),
        "{metrics}"
    );
}

/// A shadow that sleeps 1 s leaves the client waiting for the serving side
/// only; with a pool of 2, the mirrors past it are shed and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_shadow_does_not_slow_the_client_and_a_full_pool_sheds() {
    let dir = tempdir();
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--legacy",
            "builtin:normalize",
            "--candidate",
            "exec:python3 -c 'import sys,time; time.sleep(1); sys.stdout.write(sys.stdin.read())'",
            "--mirrors",
            "2",
            "--workers",
            "2",
        ],
    );
    let client = reqwest::Client::new();
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        let (status, _) = post(
            &client,
            &serving.url,
            Some(&format!("k{i}")),
            &json!({"items": ["a"]}),
        )
        .await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, 200);
    }
    assert!(
        slowest < Duration::from_millis(300),
        "slowest request took {slowest:?}"
    );
    let metrics = serving.metrics().await;
    let shed = sample(
        &metrics,
        "cutover_shadow_total{outcome=\"shed_queue_full\"}",
    )
    .unwrap();
    assert!(shed >= 15.0, "shed {shed}: {metrics}");
    assert!(sample(&metrics, "cutover_mirrors_in_flight").unwrap() <= 2.0);
}

/// SIGTERM under load loses nothing: every request the client sent was
/// either answered (and is in the report: the report holds exactly the
/// answered ones) or refused (no connection, or an idle keep-alive
/// connection closed as the request went out); none is cut off half-way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_or_refuses_every_request_and_reports_every_answer() {
    let dir = tempdir();
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--legacy",
            "worker:python3 legacy/worker.py",
            "--candidate",
            "builtin:normalize",
            "--workers",
            "2",
            "--mirrors",
            "10000",
            "--mirror-queue",
            "100000",
        ],
    );
    let url = serving.url.clone();
    let answered = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let broken = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (url, answered, refused, broken) = (
            url.clone(),
            answered.clone(),
            refused.clone(),
            broken.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..100_000 {
                let sent = client
                    .post(format!("{url}/"))
                    .header("X-Cutover-Key", format!("w{worker}-{i}"))
                    .body(json!({"items": [format!(" {i} ")]}).to_string())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(_) => {
                            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(e) => broken.lock().unwrap().push(format!("body: {e:?}")),
                    },
                    Ok(r) => broken
                        .lock()
                        .unwrap()
                        .push(format!("status {}", r.status())),
                    // Refused: the connection could not be made, or an idle
                    // keep-alive connection was closed by the shutdown as the
                    // request went out (hyper-util's SendRequest error:
                    // incomplete message or reset, nothing came back), or a
                    // connection the server had just accepted was closed
                    // before the request was handed to it (hyper's Canceled,
                    // "connection was not ready": not a byte written). Had
                    // the server taken the request, it would be in the
                    // report, and the count below would differ.
                    Err(e) if refused_before_taken(&e) => {
                        refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        return;
                    }
                    Err(e) => {
                        broken.lock().unwrap().push(format!("{e:?}"));
                        return;
                    }
                }
            }
        }));
    }
    // Under load for a while.
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = serving.out.clone();
    let (code, _) =
        tokio::task::spawn_blocking(move || serving.stop(nix::sys::signal::Signal::SIGTERM))
            .await
            .unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(code, 143);
    let broken = broken.lock().unwrap().clone();
    assert!(broken.is_empty(), "requests cut off: {broken:?}");
    assert_eq!(
        refused.load(std::sync::atomic::Ordering::SeqCst),
        8,
        "each client ends refused"
    );
    let summary = crate::util::summary(&out);
    assert_accounted(&summary);
    assert_eq!(
        count(&summary, "read"),
        answered.load(std::sync::atomic::Ordering::SeqCst),
        "every answered request was mirrored and is in the report: {summary}"
    );
}

/// Whether a client error says the server never took the request: no
/// connection, a SendRequest failure on a connection the shutdown closed,
/// or hyper's Canceled (the connection ended before the request was handed
/// to it). Anything else counts as a request cut off.
fn refused_before_taken(e: &reqwest::Error) -> bool {
    if e.is_connect() || format!("{e:?}").contains("SendRequest") {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Binding a non-loopback address must be explicit.
#[test]
fn a_public_address_needs_public() {
    let text = stderr_of(
        &mut cutover_args(&[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--legacy",
            "builtin:normalize",
        ]),
        2,
    );
    assert!(text.contains("--public"), "{text}");
}

/// `/metrics` read by a real OpenMetrics parser (the Python
/// `prometheus-client` package from PyPI, which scripts/test installs in a
/// venv): every family the issue lists is there, with its type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_with_the_python_openmetrics_parser() {
    if left_to_scripts_test(
        "the Python prometheus-client parser from PyPI (a venv scripts/test makes)",
    ) {
        return;
    }
    let python = std::env::var("CUTOVER_TEST_OPENMETRICS_PYTHON")
        .expect("CUTOVER_TEST_OPENMETRICS_PYTHON is set by scripts/test; run scripts/test");
    let dir = tempdir();
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--legacy",
            "builtin:normalize",
            "--candidate",
            "builtin:normalize-naive",
        ],
    );
    let client = reqwest::Client::new();
    for i in 0..5 {
        post(
            &client,
            &serving.url,
            Some(&format!("k{i}")),
            &json!({"items": ["\u{1e}x"]}),
        )
        .await;
    }
    serving.until_compared(5).await;
    let text = serving.metrics().await;
    let program = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {"type": family.type, "samples": [[s.name, s.labels, s.value] for s in family.samples]}
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (name, kind) in [
        ("cutover_requests", "counter"),
        ("cutover_shadow", "counter"),
        ("cutover_shadow_mismatches", "counter"),
        ("cutover_mirror_queue_depth", "gauge"),
        ("cutover_mirrors_in_flight", "gauge"),
        ("cutover_upstream_duration_seconds", "histogram"),
        ("cutover_accepted", "counter"),
        ("cutover_rejected", "counter"),
        ("cutover_retried", "counter"),
        ("cutover_mismatch_rate_upper_bound", "gauge"),
        ("cutover_serve_percent", "gauge"),
        ("cutover_rollbacks", "counter"),
    ] {
        assert_eq!(families[name]["type"], kind, "{name}: {families}");
    }
    let mismatches = &families["cutover_shadow_mismatches"]["samples"][0];
    assert_eq!(mismatches[2], 5.0, "{mismatches}");
    let served = families["cutover_requests"]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[1]["served_by"] == "legacy")
        .cloned()
        .unwrap();
    assert_eq!(served[2], 5.0);
}

/// Proxy mode with the worked HTTP migration behind serve: the legacy
/// (`legacy/http_service.py`) serves, the Rust service
/// (`examples/normalize_http`) is mirrored. Every exchange of the bundled
/// capture, sent through serve with a key, gets the legacy's own answer
/// byte for byte (status, every non-volatile header, body); only GET, HEAD,
/// OPTIONS and the one allowed route (`POST /normalize`) are mirrored, the
/// other writes are counted `method_skipped`; the planted route shows up as
/// mismatches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_answers_byte_for_byte_as_the_serving_side_and_mirrors_only_what_is_allowed_and_writes_no_credential(
) {
    use crate::http_services::{legacy_service, rust_service, Client};
    let legacy = legacy_service();
    let rust = rust_service();
    let dir = tempdir();
    let legacy_url = crate::http_services::upstream(&legacy);
    let rust_url = crate::http_services::upstream(&rust);
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--legacy",
            &legacy_url,
            "--candidate",
            &rust_url,
            "--mirror-route",
            "POST /normalize",
            "--flush-interval",
            "100ms",
        ],
    );
    let port: u16 = serving.url.rsplit(':').next().unwrap().parse().unwrap();
    let mut direct = Client::new(&legacy);
    let mut through = Client::to_port("cutover serve", port);
    let capture = std::fs::read_to_string(repo().join("fixtures/http/capture.jsonl")).unwrap();
    let (mut mirrorable, mut skipped) = (0u64, 0u64);
    for (i, line) in capture.lines().enumerate() {
        let record: Value = serde_json::from_str(line).unwrap();
        let mut input = record["input"].clone();
        input["headers"]
            .as_array_mut()
            .unwrap()
            .push(json!(["X-Cutover-Key", format!("user-{i}")]));
        let want = direct.send(&input).await;
        let got = through.send(&input).await;
        assert_eq!(got.status, want.status, "exchange {i}: {input}");
        assert_eq!(got.headers, want.headers, "exchange {i}: {input}");
        assert_eq!(got.raw, want.raw, "exchange {i}: {input}");
        let method = input["method"].as_str().unwrap();
        if ["GET", "HEAD", "OPTIONS"].contains(&method)
            || (method == "POST" && input["path"] == "/normalize")
        {
            mirrorable += 1;
        } else {
            skipped += 1;
        }
    }
    assert!(skipped > 0 && mirrorable > 0, "{skipped} {mirrorable}");
    let summary = serving.until_compared(mirrorable).await;
    assert_accounted(&summary);
    let metrics = serving.metrics().await;
    assert_eq!(
        sample(&metrics, "cutover_shadow_total{outcome=\"method_skipped\"}"),
        Some(skipped as f64),
        "{metrics}"
    );
    assert_eq!(count(&summary, "read"), mirrorable, "{summary}");
    // The planted route (a `+` in GET /normalize's query) differs.
    assert!(count(&summary, "mismatched") >= 21, "{summary}");
    let rows = mismatches(&serving.out);
    assert!(
        rows.iter().all(|r| r["input"].contains("/normalize")),
        "only the planted route differs: {:?}",
        rows.iter().map(|r| &r["input"]).collect::<Vec<_>>()
    );
    // The clients' credentials went through to the services but are never
    // written: the report shows the request as replay does, redacted.
    let secrets = crate::http_services::credentials(&capture);
    assert!(!secrets.is_empty());
    let out = serving.out.clone();
    let (code, stdout) = serving.stop(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(code, 143, "{stdout}");
    let needles: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let holding = crate::util::files_containing(&out, &needles);
    assert!(holding.is_empty(), "credentials written to {holding:?}");
    drop(rust);
    drop(legacy);
}

/// What serve captures, replay replays with the same outcomes: the same
/// keys differ, live and replayed, with the legacy live or `recorded`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_serve_captures_replay_replays_with_the_same_outcomes() {
    let dir = tempdir();
    let capture = dir.path().join("live.jsonl");
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--legacy",
            "worker:python3 legacy/worker.py",
            "--candidate",
            "builtin:normalize-naive",
            "--workers",
            "2",
            "--capture",
            capture.to_str().unwrap(),
            "--redact-field",
            "secret",
        ],
    );
    let client = reqwest::Client::new();
    let mut inputs = inputs(30);
    inputs[3]["secret"] = json!("cutover-test-secret-please-redact");
    for (i, input) in inputs.iter().enumerate() {
        post(&client, &serving.url, Some(&format!("user-{i}")), input).await;
    }
    serving.until_compared(30).await;
    let out = serving.out.clone();
    let (code, _) = serving.stop(nix::sys::signal::Signal::SIGINT);
    assert_eq!(code, 130);
    let text = std::fs::read_to_string(&capture).unwrap();
    assert_eq!(text.lines().count(), 30, "every request captured");
    assert!(!text.contains("please-redact"), "redacted before writing");
    let differing = |run: &Path| {
        let mut keys: Vec<String> = mismatches(run)
            .into_iter()
            .map(|r| r["key"].clone())
            .collect();
        keys.sort();
        keys
    };
    let live = differing(&out);
    assert_eq!(live.len(), 10);
    for legacy in ["worker:python3 legacy/worker.py", "recorded"] {
        let replayed = dir.path().join(format!("replayed-{}", legacy.len()));
        let ran = Replay::new(dir.path())
            .traffic(&capture)
            .out(&replayed)
            .legacy(legacy)
            .candidate("builtin:normalize-naive")
            .args(&["--no-flags"])
            .run(1);
        assert_eq!(ran.count("read"), 30);
        assert_eq!(differing(&replayed), live, "legacy {legacy}");
    }
}

/// Serve holds both sides to the run's `[contract]` as replay does: the
/// candidate that lets negative totals through is counted against the
/// output schema in the live report, the strict legacy is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_holds_both_sides_to_the_contract_as_replay_does() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("output.json"),
        crate::contracts::total_schema().to_string(),
    )
    .unwrap();
    let config = config_file(dir.path(), "[contract]\noutput_schema = \"output.json\"\n");
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--legacy",
            "worker:python3 legacy/adapters/cutover_worker.py fixtures.adapters.pyfuncs:total",
            "--candidate",
            "worker:python3 legacy/adapters/cutover_worker.py fixtures.adapters.pyfuncs:lenient_total",
            "--workers",
            "1",
            "--flush-interval",
            "100ms",
        ],
    );
    let client = reqwest::Client::new();
    for i in 0..12i64 {
        let values = if i % 3 == 2 {
            json!([i, -2 * i])
        } else {
            json!([i, 1])
        };
        let (status, body) = post(
            &client,
            &serving.url,
            Some(&format!("user-{i}")),
            &json!({ "values": values }),
        )
        .await;
        assert!(status == 200 || status == 422, "{status} {body}");
    }
    serving.until_compared(12).await;
    let out = serving.out.clone();
    let (code, stdout) = serving.stop(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(code, 143, "{stdout}");
    let summary = crate::util::summary(&out);
    assert_accounted(&summary);
    let c = &summary["contract"];
    assert_eq!(c["candidate_violations"], 4, "{summary}");
    assert_eq!(c["legacy_violations"], 0, "{c}");
}

/// Mirrors still running when the shutdown grace ends are not lost from
/// the books: `summary.json`'s `live` section counts them `abandoned`, and
/// every mirrored request is compared, shed, dropped, panicked or abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_abandoned_at_shutdown_are_counted_in_the_summary() {
    let dir = tempdir();
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--legacy",
            "builtin:normalize",
            "--candidate",
            "exec:python3 -c 'import sys,time; time.sleep(30); sys.stdout.write(sys.stdin.read())'",
            "--mirrors",
            "3",
            "--shutdown-grace",
            "200ms",
        ],
    );
    post_keyed(&serving.url, 8, &json!({"items": ["a"]})).await;
    let out = serving.out.clone();
    let (code, stdout) = serving.stop(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(code, 143, "{stdout}");
    let summary = crate::util::summary(&out);
    let live = &summary["live"];
    let n = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("{live}"));
    assert_eq!(n(&live["router"]["requests"]), 8, "{live}");
    assert_eq!(n(&live["abandoned"]), 3, "{live}");
    assert_eq!(n(&live["router"]["shed"]), 5, "{live}");
    let router = &live["router"];
    assert_eq!(
        n(&router["mirrored"]),
        n(&router["compared"])
            + n(&router["shed"])
            + n(&router["dropped"])
            + n(&router["panicked"])
            + n(&live["abandoned"]),
        "{live}"
    );
}

/// `/readyz` once serve has started (it says `starting` until its sides
/// are built), as a load balancer polling it sees it.
async fn readyz(serving: &Serving) -> (u16, String) {
    let started = Instant::now();
    loop {
        let response = reqwest::get(format!("{}/readyz", serving.admin))
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if !text.contains("starting") || started.elapsed() > Duration::from_secs(30) {
            return (status, text);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/readyz` says ready only once both sides answer: with `--ready-input`,
/// a candidate that never answers keeps it at 503 naming the candidate,
/// while two sides that answer make it 200; in proxy mode an upstream that
/// refuses connections keeps it at 503 saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_ready_only_once_both_sides_answer() {
    let dir = tempdir();
    let probe = ["--ready-input", r#"{"items": [" a "]}"#];
    let failing = start_serve(
        &dir.path().join("failing"),
        &[
            &[
                "--legacy",
                "builtin:normalize",
                "--candidate",
                "exec:python3 -c 'import time; time.sleep(30)'",
                "--timeout",
                "1s",
            ][..],
            &probe[..],
        ]
        .concat(),
    );
    let (status, text) = readyz(&failing).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("the candidate does not answer"), "{text}");
    assert!(!text.contains("legacy"), "the legacy answers: {text}");
    drop(failing);

    let healthy = start_serve(
        &dir.path().join("healthy"),
        &[
            &[
                "--legacy",
                "builtin:normalize",
                "--candidate",
                "worker:python3 legacy/worker.py",
                "--workers",
                "1",
            ][..],
            &probe[..],
        ]
        .concat(),
    );
    let (status, text) = readyz(&healthy).await;
    assert_eq!(status, 200, "{text}");
    drop(healthy);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let candidate = format!("upstream:http://127.0.0.1:{port}");
    let live = crate::http_services::Service::start("legacy/http_service.py", {
        let mut c = std::process::Command::new("python3");
        c.args(["legacy/http_service.py", "--port", "0"]);
        c
    });
    let legacy = crate::http_services::upstream(&live);
    let proxy = start_serve(
        &dir.path().join("proxy"),
        &["--legacy", &legacy, "--candidate", &candidate],
    );
    let (status, text) = readyz(&proxy).await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("the candidate does not answer") && text.contains("connection refused"),
        "{text}"
    );
}

/// Proxy mode captures what it serves: every exchange sent through serve is
/// one capture record (request as `input`, the served response as
/// `recorded`, bodies copied as they stream), no client credential is in
/// the file, and `cutover replay` of that capture against the same two
/// services finds the same records differing as the live comparison did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_proxy_mode_captures_replay_replays_with_the_same_outcomes() {
    use crate::http_services::{legacy_service, rust_service, Client};
    let legacy = legacy_service();
    let rust = rust_service();
    let dir = tempdir();
    let legacy_url = crate::http_services::upstream(&legacy);
    let rust_url = crate::http_services::upstream(&rust);
    let captured = dir.path().join("captured.jsonl");
    let serving = start_serve(
        &dir.path().join("live"),
        &[
            "--legacy",
            &legacy_url,
            "--candidate",
            &rust_url,
            "--capture",
            captured.to_str().unwrap(),
            "--flush-interval",
            "100ms",
        ],
    );
    let port: u16 = serving.url.rsplit(':').next().unwrap().parse().unwrap();
    let mut through = Client::to_port("cutover serve", port);
    let bundled = std::fs::read_to_string(repo().join("fixtures/http/capture.jsonl")).unwrap();
    let mut sent = 0u64;
    let mut secrets = Vec::new();
    for (i, line) in bundled.lines().enumerate() {
        let record: Value = serde_json::from_str(line).unwrap();
        let mut input = record["input"].clone();
        if !["GET", "HEAD", "OPTIONS"].contains(&input["method"].as_str().unwrap()) {
            continue;
        }
        for h in input["headers"].as_array().unwrap() {
            if h[0].as_str().unwrap().eq_ignore_ascii_case("authorization") {
                secrets.push(h[1].as_str().unwrap().to_owned());
            }
        }
        input["headers"]
            .as_array_mut()
            .unwrap()
            .push(json!(["X-Cutover-Key", format!("user-{i}")]));
        through.send(&input).await;
        sent += 1;
    }
    assert!(!secrets.is_empty());
    serving.until_compared(sent).await;
    let out = serving.out.clone();
    let (code, stdout) = serving.stop(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(code, 143, "{stdout}");
    let live = crate::util::summary(&out);
    assert_eq!(live["live"]["captured"], sent, "{}", live["live"]);
    assert_eq!(live["live"]["capture_skipped"], 0, "{}", live["live"]);
    let text = std::fs::read_to_string(&captured).unwrap();
    assert_eq!(text.lines().count() as u64, sent);
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a credential was captured");
    }
    let live_keys: std::collections::BTreeSet<String> =
        mismatches(&out).iter().map(|r| r["key"].clone()).collect();
    assert!(!live_keys.is_empty());

    let replayed = Replay::new(dir.path())
        .out(&dir.path().join("replayed"))
        .traffic(&captured)
        .legacy(&legacy_url)
        .candidate(&rust_url)
        .run(1);
    assert_eq!(replayed.count("read"), sent, "{}", replayed.summary);
    let replay_keys: std::collections::BTreeSet<String> =
        replayed.rows().iter().map(|r| r["key"].clone()).collect();
    assert_eq!(replay_keys, live_keys);
    drop(rust);
    drop(legacy);
}

/// `--noise-probe` learns the legacy's noise live, as replay does: each
/// mirror also asks the legacy once more, so a legacy that stamps every
/// answer with a fresh `served_at` and `request_id` makes those paths noise
/// (the records are `noisy`), while a real difference is still a mismatch;
/// without the probe every record is a mismatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_noise_probe_learns_the_legacys_noise_live_as_replay_does() {
    let dir = tempdir();
    let run = |name: &str, probe: bool| {
        let mut args = vec![
            "--legacy",
            "worker:python3 fixtures/doubles/planted_worker.py --noise --no-plants",
            "--candidate",
            "worker:python3 fixtures/doubles/planted_worker.py --noise",
            "--workers",
            "1",
            "--flush-interval",
            "100ms",
        ];
        if probe {
            args.push("--noise-probe");
        }
        start_serve(&dir.path().join(name), &args)
    };
    for (name, probe) in [("probed", true), ("plain", false)] {
        let serving = run(name, probe);
        let client = reqwest::Client::new();
        for i in 0..12 {
            let mut input = json!({"items": [format!(" v{i} ")]});
            if i % 3 == 0 {
                input["plant"] = json!("upper");
            }
            let (status, body) = post(&client, &serving.url, Some(&format!("u{i}")), &input).await;
            assert_eq!(status, 200, "{body}");
        }
        serving.until_compared(12).await;
        let out = serving.out.clone();
        let (code, stdout) = serving.stop(nix::sys::signal::Signal::SIGTERM);
        assert_eq!(code, 143, "{stdout}");
        let summary = crate::util::summary(&out);
        assert_accounted(&summary);
        if probe {
            assert_eq!(count(&summary, "noisy"), 8, "{summary}");
            assert_eq!(count(&summary, "mismatched"), 4, "{summary}");
            let noise = summary["noise"].to_string();
            assert!(noise.contains("/served_at"), "{noise}");
        } else {
            assert_eq!(count(&summary, "mismatched"), 12, "{summary}");
        }
    }
}

/// (thread name, nice value) of every thread of `pid`, from `/proc`.
fn threads_of(pid: u32) -> Vec<(String, i64)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = task.unwrap().path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("stat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        // Fields after the name's closing parenthesis start at field 3;
        // the nice value is field 19.
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        let nice = rest.split_whitespace().nth(16).unwrap().parse().unwrap();
        threads.push((name.trim().to_owned(), nice));
    }
    threads
}

/// `--mirror-nice 7` gives the mirrors threads of their own, seven below the
/// process's priority, and they still compare; without it there are none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_nice_runs_the_mirrors_on_threads_of_their_own_at_a_lower_priority() {
    let dir = tempdir();
    let sides = [
        "--legacy",
        "builtin:normalize",
        "--candidate",
        "builtin:normalize",
    ];
    let niced = start_serve(
        &dir.path().join("niced"),
        &[&sides[..], &["--mirror-nice", "7"]].concat(),
    );
    post_keyed(&niced.url, 5, &json!({"items": [" a "]})).await;
    // The comparisons reach the live report, written from those threads.
    let summary = niced.until_compared(5).await;
    assert_eq!(count(&summary, "compared"), 5, "{summary}");
    let threads = threads_of(niced.pid());
    let main_nice = threads
        .iter()
        .find(|(name, _)| name == "cutover")
        .map(|(_, nice)| *nice)
        .unwrap_or_else(|| panic!("no main thread in {threads:?}"));
    let mirrors: Vec<_> = threads
        .iter()
        .filter(|(name, _)| name == "cutover-mirror")
        .collect();
    assert!(!mirrors.is_empty(), "no mirror threads in {threads:?}");
    for (_, nice) in &mirrors {
        assert_eq!(*nice, (main_nice + 7).min(19), "{threads:?}");
    }
    assert!(
        threads
            .iter()
            .filter(|(name, _)| name != "cutover-mirror")
            .all(|(_, nice)| *nice == main_nice),
        "only the mirrors' threads are lowered: {threads:?}"
    );

    let shared = start_serve(&dir.path().join("shared"), &sides);
    post_keyed(&shared.url, 1, &json!({"items": []})).await;
    let threads = threads_of(shared.pid());
    assert!(
        threads.iter().all(|(name, _)| name != "cutover-mirror"),
        "by default the mirrors share serving's threads: {threads:?}"
    );
}
