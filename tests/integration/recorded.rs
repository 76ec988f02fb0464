//! Recorded baselines: captures that carry production's response.

use crate::util::*;
use serde_json::{json, Value};

fn with_recording(id: &str, items: Value, recorded: Value) -> String {
    json!({"id": id, "key": "k", "input": {"items": items}, "recorded": recorded}).to_string()
}

fn capture_with_recordings(dir: &std::path::Path) -> std::path::PathBuf {
    let lines = vec![
        with_recording(
            "same-1",
            json!([" a "]),
            json!({"accepted": ["a"], "rejected": []}),
        ),
        with_recording(
            "same-2",
            json!(["  "]),
            json!({"accepted": [], "rejected": ["  "]}),
        ),
        // Production answered differently from today's legacy (and the port).
        with_recording(
            "drift-1",
            json!([" b "]),
            json!({"accepted": ["b "], "rejected": []}),
        ),
        with_recording("drift-2", json!(["c"]), json!(null)),
        // No recording: nothing to replay for `--legacy recorded`.
        json!({"id": "none", "input": {"items": ["d"]}}).to_string(),
    ];
    capture(dir, "recorded.jsonl", &lines)
}

#[test]
fn legacy_recorded_replays_production_answers_without_running_the_legacy() {
    let tmp = tempdir();
    let path = capture_with_recordings(tmp.path());
    let out = tmp.path().join("run");
    replay(&out, &[path.to_str().unwrap(), "--legacy", "recorded"])
        .assert()
        .code(1);
    let s = summary(&out);
    assert_eq!(s["settings"]["legacy"], "recorded");
    assert_eq!(
        (
            count(&s, "matched"),
            count(&s, "mismatched"),
            count(&s, "legacy_errors")
        ),
        (2, 2, 1)
    );
    let rows = mismatches(&out);
    let outcomes: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["id"].as_str(), r["outcome"].as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("drift-1", "mismatch"),
            ("drift-2", "mismatch"),
            ("none", "legacy_error")
        ]
    );
    assert!(rows[2]["legacy"].contains("cutover.no_recording"));
    assert_eq!(
        s["recorded_drift"]["with_recording"], 0,
        "no live legacy, no drift check"
    );
    assert_accounted(&s);
}

#[test]
fn a_live_legacy_is_checked_for_drift_from_its_recordings() {
    let tmp = tempdir();
    let path = capture_with_recordings(tmp.path());
    let out = tmp.path().join("run");
    replay(&out, &[path.to_str().unwrap()])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "4 records carry production's response",
        ))
        .stdout(predicates::str::contains("drifted on 2 (e.g. drift-1)"));
    let s = summary(&out);
    assert_eq!(
        count(&s, "matched"),
        5,
        "legacy and port agree; drift is reported apart"
    );
    assert_eq!(
        s["recorded_drift"],
        json!({"with_recording": 4, "same_as_recorded": 2, "drifted": 2, "sample_ids": ["drift-1", "drift-2"]})
    );
}

/// A noise probe calls the legacy twice; `recorded` answers the same every
/// time, so "0 noise" would mean nothing: the run is refused, saying why.
#[test]
fn noise_probe_with_a_recorded_legacy_is_refused_saying_why() {
    let tmp = tempdir();
    let path = capture_with_recordings(tmp.path());
    let out = tmp.path().join("run");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--legacy",
            "recorded",
            "--noise-probe",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicates::str::contains("--noise-probe"))
    .stderr(predicates::str::contains("recorded"))
    .stderr(predicates::str::contains("cannot be called twice"));
    assert!(!out.join("summary.json").exists(), "nothing was run");
}
