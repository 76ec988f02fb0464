//! The worked HTTP migration's two real services against its bundled capture.
//!
//! Starts `legacy/http_service.py` and `examples/normalize_http` (built here
//! with cargo, as `cargo test --test integration` does not build examples) on
//! free ports, sends every request of `fixtures/http/capture.jsonl` to each
//! over one keep-alive connection exactly as recorded (method, path, query,
//! headers in order, body), and holds the fixtures to what the README says:
//! the legacy answers what the capture recorded, and the two services agree
//! byte for byte everywhere except the planted route. `date` and `server` are
//! volatile and left out of every comparison, and neither service may write
//! to stderr. Both services are killed when a test ends, pass or fail (and
//! their stderr shown if it failed). A second test holds the legacy quiet when
//! clients reset their connections, as load generators do.

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use serde_json::{Map, Value};
use std::io::Read;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::repo;

/// Headers that differ between any two runs or servers.
const VOLATILE: [&str; 2] = ["date", "server"];

/// A service process, killed when dropped (its stderr then printed if the test failed).
pub(crate) struct Service {
    name: &'static str,
    child: Child,
    pub(crate) port: u16,
    /// Collects the service's stderr (at most 1 MiB) until it exits.
    stderr: Option<JoinHandle<String>>,
}

impl Service {
    /// Spawns `command` and reads its `listening on http://127.0.0.1:PORT` line.
    pub(crate) fn start(name: &'static str, mut command: Command) -> Service {
        command
            .current_dir(repo())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.take(1 << 20).read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        let mut service = Service {
            name,
            child,
            port: 0,
            stderr: Some(stderr),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep the pipe open (and drained) for the service's lifetime.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name}: no listening line within 60s"));
        service.port = line
            .trim_end()
            .strip_prefix("listening on http://127.0.0.1:")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| {
                panic!("{name}: expected `listening on http://127.0.0.1:PORT`, got {line:?}")
            });
        service
    }

    /// Kills the service and returns everything it wrote to stderr.
    pub(crate) fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .map(|reader| reader.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let stderr = self.stop();
        if std::thread::panicking() && !stderr.is_empty() {
            eprintln!("--- stderr of {}:\n{stderr}", self.name);
        }
    }
}

/// One keep-alive connection to a service, reopened if the service closed it.
pub(crate) struct Client {
    name: &'static str,
    port: u16,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A response as the capture records it, plus its raw body bytes.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// Lower-cased names, values in order (a repeated header is a list), volatile ones left out.
    pub(crate) headers: Map<String, Value>,
    pub(crate) body: Value,
    pub(crate) raw: Vec<u8>,
}

impl Client {
    pub(crate) fn new(service: &Service) -> Client {
        Client::to_port(service.name, service.port)
    }

    /// A client of whatever listens on `port` (`cutover serve`, say).
    pub(crate) fn to_port(name: &'static str, port: u16) -> Client {
        Client {
            name,
            port,
            sender: None,
        }
    }

    pub(crate) async fn send(&mut self, input: &Value) -> Answer {
        let name = self.name;
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .unwrap_or_else(|e| panic!("{name}: connect: {e}"));
            stream.set_nodelay(true).unwrap();
            let (sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .unwrap_or_else(|e| panic!("{name}: handshake: {e}"));
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().expect("connected above");
        sender
            .ready()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let response = sender
            .send_request(request(input))
            .await
            .unwrap_or_else(|e| panic!("{name}: {} {}: {e}", input["method"], input["path"]));
        let status = response.status().as_u16();
        let pairs: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let raw = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{name}: body: {e}"))
            .to_bytes()
            .to_vec();
        Answer {
            status,
            body: body_of(&pairs, &raw),
            headers: header_object(&pairs),
            raw,
        }
    }
}

fn pairs_of(headers: &Value) -> Vec<(String, String)> {
    headers
        .as_array()
        .expect("headers is a list")
        .iter()
        .map(|pair| {
            let text = |i: usize| {
                pair[i]
                    .as_str()
                    .expect("header names and values are strings")
            };
            (text(0).to_owned(), text(1).to_owned())
        })
        .collect()
}

fn is_json(pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("content-type")
            && value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/json")
    })
}

/// The capture's body convention: JSON for a JSON content type, else text, else base64.
fn body_of(pairs: &[(String, String)], raw: &[u8]) -> Value {
    if is_json(pairs) && !raw.is_empty() {
        return serde_json::from_slice(raw).expect("a JSON content type carries JSON");
    }
    match std::str::from_utf8(raw) {
        Ok(text) => serde_json::json!({ "text": text }),
        Err(_) => {
            serde_json::json!({ "base64": base64::engine::general_purpose::STANDARD.encode(raw) })
        }
    }
}

/// Headers keyed by lower-cased name (a repeated header becomes a list), volatile ones left out.
fn header_object(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut object = Map::new();
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        if VOLATILE.contains(&name.as_str()) {
            continue;
        }
        let value = Value::String(value.clone());
        match object.get_mut(&name) {
            None => {
                object.insert(name, value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    object
}

/// The recorded request as the wire carries it; a JSON body is compact with sorted keys, as the generator sent it.
fn request(input: &Value) -> hyper::Request<Full<Bytes>> {
    let mut target = input["path"].as_str().expect("path").to_owned();
    if let Some(query) = input.get("query") {
        target = format!("{target}?{}", query.as_str().expect("query is a string"));
    }
    let pairs = pairs_of(&input["headers"]);
    let body = match input.get("body") {
        None => Vec::new(),
        Some(body) if is_json(&pairs) => serde_json::to_vec(body).unwrap(),
        Some(body) => match (body.get("text"), body.get("base64")) {
            (Some(Value::String(text)), _) => text.clone().into_bytes(),
            (_, Some(Value::String(b64))) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64 body"),
            _ => panic!("a non-JSON body is {{\"text\"}} or {{\"base64\"}}: {body}"),
        },
    };
    let mut builder = hyper::Request::builder()
        .method(input["method"].as_str().expect("method"))
        .uri(target);
    for (name, value) in &pairs {
        builder = builder.header(name, value);
    }
    if input.get("body").is_some() {
        builder = builder.header("content-length", body.len());
    }
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

/// Builds an example of this package (as `cargo build --example NAME` would
/// from a shell) and returns it, ready to run.
pub(crate) fn build_example(name: &str) -> escargot::CargoRun {
    let mut build = escargot::CargoBuild::new()
        .manifest_path(repo().join("Cargo.toml"))
        .example(name)
        .current_release();
    // Cargo sets these for the test it runs; left in place, build scripts that
    // watch them (ring's) would rebuild half the dependency tree each time.
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        if var.starts_with("CARGO_PKG_")
            || var.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
            ]
            .contains(&var.as_ref())
        {
            build = build.env_remove(var.as_ref());
        }
    }
    build
        .run()
        .unwrap_or_else(|e| panic!("examples/{name}.rs does not build: {e}"))
}

/// The planted difference: `GET /normalize` whose `item` values carry a `+`,
/// answered 200 by the legacy (a 406 is decided before the query is read).
fn planted(input: &Value, legacy: &Answer) -> bool {
    input["method"] == "GET"
        && input["path"] == "/normalize"
        && legacy.status == 200
        && input["query"]
            .as_str()
            .unwrap_or_default()
            .split('&')
            .any(|pair| pair.starts_with("item=") && pair.contains('+'))
}

#[test]
fn legacy_answers_as_recorded_and_the_rust_service_differs_only_on_the_planted_route() {
    let rust_binary = build_example("normalize_http");
    let mut legacy_command = Command::new("python3");
    legacy_command.args(["legacy/http_service.py", "--port", "0"]);
    let mut legacy = Service::start("legacy/http_service.py", legacy_command);
    let mut rust_command = rust_binary.command();
    rust_command.args(["--port", "0"]);
    let mut rust = Service::start("examples/normalize_http", rust_command);

    let capture = std::fs::read_to_string(repo().join("fixtures/http/capture.jsonl"))
        .expect("fixtures/http/capture.jsonl");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (exchanges, planted_ids, problems) = runtime.block_on(async {
        let (mut to_legacy, mut to_rust) = (Client::new(&legacy), Client::new(&rust));
        let mut problems = Vec::new();
        let mut planted_ids = Vec::new();
        let mut exchanges = 0;
        for (n, line) in capture.lines().enumerate() {
            let record: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("capture.jsonl:{}: {e}", n + 1));
            let id = record["id"].as_str().expect("id").to_owned();
            let input = &record["input"];
            let recorded = &record["recorded"];
            let (from_legacy, from_rust) = (to_legacy.send(input).await, to_rust.send(input).await);
            exchanges += 1;
            let recorded_pairs = pairs_of(&recorded["headers"]);
            let as_recorded = (
                recorded["status"].as_u64(),
                header_object(&recorded_pairs),
                &recorded["body"],
            );
            let seen = (
                Some(u64::from(from_legacy.status)),
                from_legacy.headers.clone(),
                &from_legacy.body,
            );
            if seen != as_recorded {
                problems.push(format!(
                    "{id}: legacy answered {seen:?}, the capture recorded {as_recorded:?}"
                ));
            }
            if planted(input, &from_legacy) {
                planted_ids.push(id.clone());
                let content_type = |a: &Answer| a.headers.get("content-type").cloned();
                if from_rust.status != from_legacy.status
                    || content_type(&from_rust) != content_type(&from_legacy)
                    || from_rust.body == from_legacy.body
                {
                    problems.push(format!(
                        "{id} (planted): expected the same status and content type and a different body, \
                         legacy {from_legacy:?}, rust {from_rust:?}"
                    ));
                }
            } else if (from_rust.status, &from_rust.headers, &from_rust.raw)
                != (from_legacy.status, &from_legacy.headers, &from_legacy.raw)
            {
                problems.push(format!(
                    "{id}: the services disagree off the planted route: legacy {from_legacy:?}, rust {from_rust:?}"
                ));
            }
        }
        (exchanges, planted_ids, problems)
    });
    for service in [&mut legacy, &mut rust] {
        let stderr = service.stop();
        assert!(
            stderr.is_empty(),
            "{} wrote to stderr:\n{stderr}",
            service.name
        );
    }
    assert!(
        problems.is_empty(),
        "{} of {exchanges} exchanges wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        exchanges >= 300,
        "the bundled capture has {exchanges} exchanges"
    );
    assert!(
        planted_ids.len() >= 10,
        "the planted route shows in only {} exchanges: {planted_ids:?}",
        planted_ids.len()
    );
}

/// Sends `GET /health` on a fresh connection; reads the answer first when
/// `read_answer`, then resets the connection (RST, as load generators do when
/// they stop).
async fn reset_after_request(port: u16, read_answer: bool) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: normalize.internal\r\n\r\n")
        .await
        .expect("send");
    if read_answer {
        let mut answer = Vec::new();
        while !answer.ends_with(br#"{"status":"ok"}"#) {
            let mut chunk = [0; 1024];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the service closed the connection: {answer:?}");
            answer.extend_from_slice(&chunk[..n]);
        }
    }
    stream.set_zero_linger().expect("SO_LINGER 0");
    drop(stream);
}

#[test]
fn legacy_service_stays_quiet_when_clients_reset_their_connections() {
    let mut command = Command::new("python3");
    command.args(["legacy/http_service.py", "--port", "0"]);
    let mut legacy = Service::start("legacy/http_service.py", command);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let still_serving = runtime.block_on(async {
        for round in 0..6 {
            reset_after_request(legacy.port, round % 2 == 0).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let health = serde_json::json!({"method": "GET", "path": "/health", "headers": [["host", "normalize.internal"]]});
        Client::new(&legacy).send(&health).await
    });
    assert_eq!(still_serving.status, 200, "{still_serving:?}");
    let stderr = legacy.stop();
    assert!(
        stderr.is_empty(),
        "a client resetting its connection is routine, yet the legacy wrote to stderr:\n{stderr}"
    );
}

/// The legacy HTTP service, on a free port.
pub(crate) fn legacy_service() -> Service {
    let mut command = Command::new("python3");
    command.args(["legacy/http_service.py", "--port", "0"]);
    Service::start("legacy/http_service.py", command)
}

/// The Rust HTTP service (built here), on a free port.
pub(crate) fn rust_service() -> Service {
    let mut command = build_example("normalize_http").command();
    command.args(["--port", "0"]);
    Service::start("examples/normalize_http", command)
}

/// The credentials (`authorization` and `cookie` values) the requests of a
/// capture's text carry, for checks that none is written.
pub(crate) fn credentials(capture: &str) -> Vec<String> {
    capture
        .lines()
        .flat_map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["input"]["headers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| {
                    let name = h[0].as_str().unwrap().to_ascii_lowercase();
                    name == "authorization" || name == "cookie"
                })
                .map(|h| h[1].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The `upstream:` side spec of a running service.
pub(crate) fn upstream(service: &Service) -> String {
    format!("upstream:http://127.0.0.1:{}", service.port)
}

/// `scripts/bench-serve` measures serve's hop against `examples/proxy_floor`:
/// the floor must really forward (same status and body as the upstream, for
/// a route and a miss), or its figures mean nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_floor_answers_as_its_upstream_does() {
    let upstream = rust_service();
    let mut command = build_example("proxy_floor").command();
    command.args([
        "--port",
        "0",
        "--upstream",
        &format!("http://127.0.0.1:{}", upstream.port),
    ]);
    let floor = Service::start("examples/proxy_floor", command);
    for path in ["/normalize?item=%20a%20&item=b", "/no-such-route"] {
        let get = |port: u16| async move {
            let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
                .await
                .unwrap();
            (response.status(), response.bytes().await.unwrap())
        };
        let (direct, through) = (get(upstream.port).await, get(floor.port).await);
        assert_eq!(through, direct, "{path}");
        let expected = if path.starts_with("/normalize") {
            200
        } else {
            404
        };
        assert_eq!(direct.0.as_u16(), expected, "{path}: {direct:?}");
    }
}
