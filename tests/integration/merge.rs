//! `cutover report merge`: partial reports (as cluster replayers write them)
//! merged into one run directory from the command line; no NATS needed.

use crate::util::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A partial of the run whose spec is `spec`, holding `events` lines.
fn partial(dir: &Path, name: &str, spec: &Value, events: &[Value]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    let header = json!({
        "format": 1,
        "spec": spec,
        "events": events.len(),
        "status": {
            "state": "complete",
            "abort_reason": null,
            "legacy_target": {"retries": 0, "restarts": 0, "timeout_kills": 0, "protocol_errors": 0},
            "candidate_target": {"retries": 0, "restarts": 0, "timeout_kills": 0, "protocol_errors": 0}
        }
    });
    std::fs::write(path.join("partial.json"), header.to_string()).unwrap();
    let lines: String = events.iter().map(|e| e.to_string() + "\n").collect();
    std::fs::write(path.join("events.jsonl"), lines).unwrap();
    path
}

fn matched(seq: u64) -> Value {
    json!({"compared": {"seq": seq, "id": format!("r{seq}"), "source": "t.jsonl", "line": seq + 1,
        "legacy": {"us": 100}, "candidate": {"us": 200}, "outcome": "match"}})
}

fn mismatched(seq: u64) -> Value {
    json!({"compared": {"seq": seq, "id": format!("r{seq}"), "source": "t.jsonl", "line": seq + 1,
        "input": {"items": [" a "]},
        "legacy": {"us": 100, "answer": {"output": {"accepted": ["a"]}}},
        "candidate": {"us": 300, "answer": {"output": {"accepted": ["A"]}}},
        "outcome": "mismatch", "differences": [{"path": "/accepted/0", "kind": "changed"}],
        "total_differences": 1}})
}

/// The spec of a real (tiny) run, as every partial of a run carries it.
fn run_spec(dir: &Path) -> Value {
    let ran = Replay::new(dir)
        .records("t.jsonl", &[record("a", json!({"items": [" a "]}))])
        .run(0);
    summary(&ran.out)["spec"].clone()
}

#[test]
fn report_merge_writes_one_run_from_partials_counting_duplicates_once() {
    let dir = sandbox();
    let spec = run_spec(&dir);
    let p0 = partial(&dir, "p0", &spec, &[matched(0), mismatched(1), matched(3)]);
    let p1 = partial(
        &dir,
        "p1",
        &spec,
        &[mismatched(1), matched(2), mismatched(4)],
    );
    let out = dir.join("merged");
    let mut cmd = cutover();
    cmd.args(["report", "merge"])
        .arg(&p0)
        .arg(&p1)
        .arg("--out")
        .arg(&out);
    let text = stdout_of(&mut cmd, 1);
    assert!(text.contains("mismatch"), "{text}");
    let s = summary(&out);
    assert_accounted(&s);
    assert_eq!(counts(&s, &["read", "matched", "mismatched"]), [5, 3, 2]);
    assert_eq!(s["merge"]["partials"], 2);
    assert_eq!(s["merge"]["redelivered_duplicates"], 1);
    assert_eq!(s["latency_ms"]["candidate"]["calls"], 5);
    let rows = mismatches(&out);
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["r1", "r4"], "in seq order");
}

#[test]
fn report_merge_refuses_partials_of_different_runs_naming_the_directory() {
    let dir = sandbox();
    let spec = run_spec(&dir);
    let mut other = spec.clone();
    other["run_id"] = json!("another-run");
    let p0 = partial(&dir, "p0", &spec, &[matched(0)]);
    let p1 = partial(&dir, "p1", &other, &[matched(1)]);
    let out = dir.join("merged");
    let mut cmd = cutover();
    cmd.args(["report", "merge"])
        .arg(&p0)
        .arg(&p1)
        .arg("--out")
        .arg(&out);
    let err = stderr_of(&mut cmd, 2);
    assert!(err.contains("p1") && err.contains("run_id"), "{err}");
    assert!(!out.join("summary.json").exists());
}
