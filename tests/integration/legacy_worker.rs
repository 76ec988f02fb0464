//! `legacy/worker.py` on its own, spoken to the way cutover speaks to it
//! (`legacy/PROTOCOL.md`), and `legacy/lean_batch.py`, the bench's baseline:
//! the wrapper's fast paths must keep the protocol exact.

use crate::util::*;
use cutover::normalize::normalize;
use serde_json::{json, value::RawValue, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `python3 legacy/worker.py` with its stdin and stdout piped.
fn spawn_worker(stderr: Stdio) -> std::process::Child {
    Command::new("python3")
        .arg(repo().join("legacy/worker.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Runs the worker over `input` (stdin closed at the end) and returns its
/// stdout lines, each parsed as strict JSON (serde_json refuses `NaN`).
fn worker_lines(input: &[u8]) -> Vec<Value> {
    let mut child = spawn_worker(Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    let text = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// What the port says for `input`, as the worker must say it.
fn expected(id: &str, input: &Value) -> Value {
    let raw = RawValue::from_string(input.to_string()).unwrap();
    match normalize(&raw) {
        Ok(output) => json!({"id": id, "output": output}),
        Err(e) => json!({"id": id, "error": {"type": e.kind, "message": e.message}}),
    }
}

#[test]
fn pipelined_requests_get_one_answer_each_with_the_id_echoed_exactly() {
    let ids = [
        "0",
        "",
        "ü",
        "a\"b\\c/",
        "\u{2028}\u{1}\t",
        "🙂",
        "\u{feff}x",
    ];
    let inputs = [
        json!({"items": [" a ", "\u{1f}", "b\u{e9}"]}),
        json!({"items": [1]}),
        json!({}),
        json!([1]),
        json!({"items": "a b"}),
        json!(null),
        json!({"items": ["\u{2003}", "x\u{10ffff} "], "meta": {"items": 1}}),
    ];
    let mut requests = Vec::new();
    let mut answers = Vec::new();
    for round in 0..300 {
        for (id, input) in ids.iter().zip(&inputs) {
            let id = format!("{id}{round}");
            requests.push(format!(
                "{}\n",
                json!({"id": id.clone(), "input": input.clone()})
            ));
            answers.push(expected(&id, input));
        }
        requests.push("\n".into()); // blank lines are skipped, not answered
    }
    let got = worker_lines(requests.concat().as_bytes());
    assert_eq!(got.len(), answers.len());
    assert_eq!(got, answers);
    for line in &got {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert!(
            keys == ["id", "output"] || keys == ["error", "id"],
            "{line}"
        );
    }
}

#[test]
fn nan_and_infinity_in_a_request_are_refused_as_protocol_errors() {
    let got = worker_lines(
        b"{\"id\":\"1\",\"input\":{\"items\":[NaN]}}\n\
          {\"id\":\"2\",\"input\":{\"items\":[-Infinity]}}\n\
          {\"id\":\"3\",\"input\":{\"items\":[\" ok \"]}}\n",
    );
    assert_eq!(got.len(), 3, "{got:?}");
    for line in &got[..2] {
        assert_eq!(line["id"], Value::Null, "{line}");
        assert_eq!(line["error"]["type"], "ProtocolError", "{line}");
        assert!(
            line["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not JSON"),
            "{line}"
        );
    }
    assert_eq!(
        got[2],
        json!({"id": "3", "output": {"accepted": ["ok"], "rejected": []}})
    );
}

#[test]
fn each_bad_request_line_gets_a_protocol_error_and_the_worker_keeps_serving() {
    let mut input = Vec::new();
    input.extend_from_slice(b"not json\n");
    input.extend_from_slice(b"[1]\n");
    input.extend_from_slice(b"{\"id\":\"x\"}\n");
    input.extend_from_slice(b"{\"id\":\"y\",\"input\":1} trailing\n");
    input.extend_from_slice(b"{\"id\":\"z\",\"input\":\"\xff\"}\n");
    input.extend_from_slice(b"  {\"id\":\"spaced\",\"input\":{\"items\":[]}}\r\n");
    input.extend_from_slice(b"{\"id\":\"last\",\"input\":{\"items\":[\" a\"]}}"); // no newline
    let got = worker_lines(&input);
    assert_eq!(got.len(), 7, "{got:?}");
    let messages = [
        "Expecting value",
        "list indices must be integers",
        "'input'",
        "Extra data",
        "codec can't decode",
    ];
    for (line, message) in got.iter().zip(messages) {
        assert_eq!(line["id"], Value::Null, "{line}");
        assert_eq!(line["error"]["type"], "ProtocolError", "{line}");
        let text = line["error"]["message"].as_str().unwrap();
        assert!(
            text.starts_with("bad request line: ") && text.contains(message),
            "{line}"
        );
    }
    assert_eq!(
        got[5],
        json!({"id": "spaced", "output": {"accepted": [], "rejected": []}})
    );
    assert_eq!(
        got[6],
        json!({"id": "last", "output": {"accepted": ["a"], "rejected": []}})
    );
}

#[test]
fn a_lone_request_is_answered_without_waiting_for_more() {
    let mut child = spawn_worker(Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"id\":\"7\",\"input\":{\"items\":[\" x \"]}}\n")
        .unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20));
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("the worker answered while its stdin stayed open");
    assert_eq!(
        serde_json::from_str::<Value>(&line).unwrap(),
        json!({"id": "7", "output": {"accepted": ["x"], "rejected": []}})
    );
}

#[test]
fn the_lean_batch_loop_answers_the_bundled_capture_as_the_worker_does() {
    let capture = repo().join("fixtures/normalize/capture.jsonl");
    let output = Command::new("python3")
        .arg(repo().join("legacy/lean_batch.py"))
        .arg(&capture)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // The inputs byte for byte, as cutover sends them (a `Value` would turn
    // `10**25` into a float).
    #[derive(serde::Deserialize)]
    struct Record {
        input: Box<RawValue>,
    }
    let text = std::fs::read_to_string(&capture).unwrap();
    let requests: String = text
        .lines()
        .enumerate()
        .map(|(n, line)| {
            let record: Record = serde_json::from_str(line).unwrap();
            format!("{{\"id\":\"{n}\",\"input\":{}}}\n", record.input.get())
        })
        .collect();
    assert_eq!(answers.len(), text.lines().count());
    let mut from_worker = worker_lines(requests.as_bytes());
    from_worker.sort_by_key(|line| line["id"].as_str().unwrap().parse::<usize>().unwrap());
    assert_eq!(from_worker.len(), answers.len());
    let mut errors = 0;
    for (n, (lean, worker)) in answers.iter().zip(&from_worker).enumerate() {
        let worker_answer = match worker.get("output") {
            Some(output) => output.clone(),
            None => {
                errors += 1;
                json!({"error": worker["error"]})
            }
        };
        assert_eq!(lean, &worker_answer, "record {n}");
    }
    assert!(errors > 0, "the capture exercises the legacy's exceptions");
}

/// One worker and many records in flight: the calls queue behind each
/// other on that worker, and that queueing is reported as slot wait, apart
/// from service time, which stays near what it is when calls do not queue.
#[test]
fn one_worker_at_high_concurrency_reports_slot_wait_apart_from_service_time() {
    let tmp = crate::util::tempdir();
    let lines: Vec<String> = (0..400)
        .map(|i| {
            crate::util::record(
                &format!("r{i}"),
                serde_json::json!({"items": [format!(" x{i} ")]}),
            )
        })
        .collect();
    let run = |name: &str, concurrency: &str| {
        let ran = crate::util::Replay::new(tmp.path())
            .records(&format!("{name}.jsonl"), &lines)
            .out(&tmp.path().join(name))
            .legacy("worker:python3 legacy/worker.py")
            .candidate("builtin:normalize")
            .args(&["--no-flags", "--workers", "1", "--concurrency", concurrency])
            .run(0);
        let ms = |table: &str, stat: &str| {
            ran.summary[table]["legacy"][stat]
                .as_f64()
                .unwrap_or_else(|| panic!("{table}: {}", ran.summary[table]))
        };
        (ms("latency_ms", "p50"), ms("slot_wait_ms", "p50"))
    };
    let (low_service, _) = run("low", "1");
    let (high_service, high_wait) = run("high", "64");
    // Calls ahead of each one on the worker: the wait is several service
    // times (the engine's batches keep only part of the 64 queued at once).
    assert!(
        high_wait > 2.0 * high_service,
        "slot wait p50 {high_wait} ms, service p50 {high_service} ms"
    );
    // Service time is the call's own (a loaded machine gets some slack).
    assert!(
        high_service < 3.0 * low_service + 1.0,
        "service p50 {high_service} ms at --concurrency 64, {low_service} ms at 1"
    );
}
