//! The language adapters (`legacy/adapters/`): real functions in
//! `fixtures/adapters/` served as worker sides in one command line, through
//! the real `cutover replay`.

use crate::util::*;
use assert_cmd::Command;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `worker:` serving a Python function (`MODULE:ATTRIBUTE`) with the Python adapter.
fn python(target: &str) -> String {
    format!("worker:python3 legacy/adapters/cutover_worker.py {target}")
}

/// `worker:` serving a JavaScript export (`FILE#NAME`) with the Node adapter.
fn node(target: &str) -> String {
    format!("worker:node legacy/adapters/cutover_worker.mjs {target}")
}

const PY_FUNCS: &str = "fixtures.adapters.pyfuncs";
const JS_FUNCS: &str = "fixtures/adapters/jsfuncs.mjs";

/// 40 records of `{"values": [...]}`; every 4th (r3, r7, ...) holds a
/// negative value, which `total` raises on. With `spawn`, every 10th asks
/// the chatty Python function to start a child process too.
fn values_capture(dir: &Path, spawn: bool) -> PathBuf {
    let lines: Vec<String> = (0..40i64)
        .map(|i| {
            let values = if i % 4 == 3 {
                json!([i, -i])
            } else {
                json!([i, i + 1, 2])
            };
            let mut input = json!({ "values": values });
            if spawn && i % 10 == 0 {
                input["spawn"] = json!(true);
            }
            record(&format!("r{i}"), input)
        })
        .collect();
    capture(dir, "values.jsonl", &lines)
}

/// Replays `capture` with the two sides (one worker each, many calls in
/// flight on it, so requests are pipelined), expecting `code`.
fn replay_sides(out: &Path, capture: &Path, legacy: &str, candidate: &str, code: i32) -> Value {
    run_sides(out, capture, legacy, candidate, &[], code);
    clean_summary(out)
}

/// The run's summary, checked: every record accounted for, and no worker
/// broke the protocol, died or had a call retried.
fn clean_summary(out: &Path) -> Value {
    let s = summary(out);
    assert_accounted(&s);
    for side in ["legacy_target", "candidate_target"] {
        let stats = &s["status"][side];
        for counter in ["protocol_errors", "retries", "restarts"] {
            assert_eq!(stats[counter], 0, "{side}.{counter} in {s}");
        }
    }
    s
}

fn run_sides(
    out: &Path,
    capture: &Path,
    legacy: &str,
    candidate: &str,
    extra: &[&str],
    code: i32,
) -> String {
    // Returns what cutover printed: stdout, then stderr.
    let mut args = vec![
        capture.to_str().unwrap(),
        "--legacy",
        legacy,
        "--candidate",
        candidate,
        "--workers",
        "1",
        "--concurrency",
        "32",
    ];
    args.extend_from_slice(extra);
    let output = replay(out, &args).assert().code(code).get_output().clone();
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn cell(row: &HashMap<String, String>, side: &str) -> Value {
    serde_json::from_str(&row[side]).unwrap_or_else(|e| panic!("{side} cell of {row:?}: {e}"))
}

/// The error `total` raises on record `i` (its negative value is `-i`).
fn negative_value_error(i: &str) -> Value {
    json!({"error": {"type": "ValueError", "message": format!("negative value: -{i}")}})
}

#[test]
fn python_and_node_adapters_answer_and_raise_alike() {
    let tmp = tempdir();
    let path = values_capture(tmp.path(), false);
    let out = tmp.path().join("run");
    // The Node side answers some records with promises settling after
    // random delays: out of order, and after synchronous answers.
    let s = replay_sides(
        &out,
        &path,
        &python(&format!("{PY_FUNCS}:total")),
        &node(&format!("{JS_FUNCS}#totalSometimesLater")),
        0,
    );
    assert_eq!(count(&s, "read"), 40);
    assert_eq!(count(&s, "matched"), 40);
    assert_eq!(count(&s, "matched_errors"), 10, "{s}");
    assert!(mismatches(&out).is_empty());
}

/// Replays the values capture with `legacy` and `candidate`, one of which
/// raises on the negative records (`raising`: "legacy" or "candidate") while
/// the other sums them: those 10 records are that side's error.
fn assert_raising_side(legacy: &str, candidate: &str, raising: &str) {
    let tmp = tempdir();
    let path = values_capture(tmp.path(), false);
    let out = tmp.path().join("run");
    let s = replay_sides(&out, &path, legacy, candidate, 1);
    assert_eq!(count(&s, "matched"), 30);
    assert_eq!(count(&s, &format!("{raising}_errors")), 10, "{s}");
    let rows = mismatches(&out);
    assert_eq!(rows.len(), 10);
    let other = if raising == "legacy" {
        "candidate"
    } else {
        "legacy"
    };
    for row in &rows {
        let i = row["id"].trim_start_matches('r');
        assert_eq!(row["outcome"], format!("{raising}_error"), "{row:?}");
        assert_eq!(cell(row, raising), negative_value_error(i), "{row:?}");
        assert_eq!(cell(row, other), json!({"total": 0, "count": 2}));
    }
}

#[test]
fn a_python_exception_is_the_records_error_with_its_class_name_and_message() {
    // The candidate is the Node default export: the same sum without the check.
    assert_raising_side(
        &python(&format!("{PY_FUNCS}:total")),
        &node(JS_FUNCS),
        "legacy",
    );
}

#[test]
fn a_node_throw_is_the_records_error_with_its_class_name_and_message() {
    // `class ValueError extends Error {}`: the class's name, not "Error".
    assert_raising_side(
        &python(&format!("{PY_FUNCS}:lenient_total")),
        &node(&format!("{JS_FUNCS}#total")),
        "candidate",
    );
}

#[test]
fn functions_that_print_to_stdout_still_match_and_their_output_goes_to_the_worker_log() {
    let tmp = tempdir();
    let path = values_capture(tmp.path(), true);
    let out = tmp.path().join("run");
    // Every print is a forged response line: one reaching the protocol
    // stream would be a protocol error (checked by clean_summary).
    let printed = run_sides(
        &out,
        &path,
        &python(&format!("{PY_FUNCS}:Chatty.total")),
        &node(&format!("{JS_FUNCS}#chattyTotal")),
        &["-vv"],
        0,
    );
    let s = clean_summary(&out);
    assert_eq!(count(&s, "matched"), 40);
    assert_eq!(count(&s, "matched_errors"), 10);
    for line in [
        "pyfuncs: imported",
        "print: a response is coming",
        "sys.stdout.write",
        "os.write(1)",
        "a child process",
        "jsfuncs: imported",
        "console.log",
        "console.info",
        "process.stdout.write",
    ] {
        assert!(
            printed.contains(line),
            "{line:?} missing from the worker log:\n{printed}"
        );
    }
}

/// Replays one record `{"kind": KIND}` (id KIND) per kind with the Python
/// `unserializable` as the legacy and `candidate`, expecting differences;
/// returns the summary and the mismatch rows.
fn replay_kinds(kinds: &[&str], candidate: &str) -> (Value, Vec<HashMap<String, String>>) {
    let tmp = tempdir();
    let lines: Vec<String> = kinds
        .iter()
        .map(|k| record(k, json!({ "kind": k })))
        .collect();
    let path = capture(tmp.path(), "kinds.jsonl", &lines);
    let out = tmp.path().join("run");
    let legacy = python(&format!("{PY_FUNCS}:unserializable"));
    let s = replay_sides(&out, &path, &legacy, candidate, 1);
    (s, mismatches(&out))
}

#[test]
fn thrown_values_that_are_not_errors_keep_their_type_and_text() {
    let (s, rows) = replay_kinds(
        &["string", "object", "null", "number"],
        &node(&format!("{JS_FUNCS}#throwsNonError")),
    );
    assert_eq!(count(&s, "candidate_errors"), 4, "{s}");
    let got: Vec<(&str, Value)> = rows
        .iter()
        .map(|r| (r["id"].as_str(), cell(r, "candidate")["error"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "string",
                json!({"type": "string", "message": "a plain string"})
            ),
            (
                "object",
                json!({"type": "Object", "message": "{\"code\":42}"})
            ),
            ("null", json!({"type": "null", "message": "null"})),
            ("number", json!({"type": "number", "message": "7"})),
        ]
    );
}

#[test]
fn a_result_json_cannot_carry_is_that_records_bad_output_error() {
    // Python cannot encode a set or NaN; JSON.stringify cannot a BigInt or a
    // cycle; neither side can write half a surrogate pair (in an error
    // message it becomes U+FFFD).
    let (s, rows) = replay_kinds(
        &[
            "set",
            "nan",
            "bigint",
            "circular",
            "surrogate",
            "surrogate_error",
            "ok",
        ],
        &node(&format!("{JS_FUNCS}#unserializable")),
    );
    assert_eq!(count(&s, "matched"), 2, "{s}");
    assert_eq!(
        count(&s, "matched_errors"),
        1,
        "the surrogate, on both sides"
    );
    let bad = |row: &HashMap<String, String>, side: &str| {
        let error = cell(row, side)["error"].clone();
        assert_eq!(error["type"], "cutover.bad_output", "{row:?}");
        error["message"].as_str().unwrap().to_owned()
    };
    let fine = json!({"text": "fine"});
    let by_id: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["id"].as_str(), r["outcome"].as_str()))
        .collect();
    assert_eq!(
        by_id,
        [
            ("set", "legacy_error"),
            ("nan", "legacy_error"),
            ("bigint", "candidate_error"),
            ("circular", "candidate_error"),
            ("surrogate_error", "both_error")
        ]
    );
    let prefix = "the function's result is not JSON: ";
    assert_eq!(
        bad(&rows[0], "legacy"),
        format!("{prefix}TypeError: Object of type set is not JSON serializable")
    );
    assert_eq!(
        bad(&rows[1], "legacy"),
        format!("{prefix}ValueError: Out of range float values are not JSON compliant")
    );
    assert_eq!(
        bad(&rows[2], "candidate"),
        format!("{prefix}TypeError: Do not know how to serialize a BigInt")
    );
    assert!(bad(&rows[3], "candidate").starts_with(&format!(
        "{prefix}TypeError: Converting circular structure to JSON"
    )));
    for row in &rows[..2] {
        assert_eq!(cell(row, "candidate"), fine);
    }
    for row in &rows[2..4] {
        assert_eq!(cell(row, "legacy"), fine);
    }
    for (side, language) in [("legacy", "Python"), ("candidate", "JavaScript")] {
        assert_eq!(
            cell(&rows[4], side)["error"],
            json!({"type": "ValueError", "message": format!("half a pair in {language}: \u{fffd}")})
        );
    }
}

#[test]
fn a_function_that_cannot_be_served_stops_the_run_before_any_answer() {
    let tmp = tempdir();
    let path = values_capture(tmp.path(), false);
    let cases = [
        (
            python("fixtures.adapters.nosuch:total"),
            "cannot import fixtures.adapters.nosuch: ModuleNotFoundError: No module named 'fixtures.adapters.nosuch'",
        ),
        (
            python(&format!("{PY_FUNCS}:Chatty.nosuch")),
            "fixtures.adapters.pyfuncs:Chatty has no attribute 'nosuch'",
        ),
        (
            python(&format!("{PY_FUNCS}:os")),
            "fixtures.adapters.pyfuncs:os is a module, not a function",
        ),
        (
            node(&format!("{JS_FUNCS}#nosuch")),
            "fixtures/adapters/jsfuncs.mjs has no export named \"nosuch\"",
        ),
        (
            node("fixtures/adapters/nosuch.mjs#total"),
            "fixtures/adapters/nosuch.mjs does not exist",
        ),
    ];
    for (n, (legacy, says)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("run{n}"));
        let printed = run_sides(&out, &path, legacy, "builtin:normalize", &[], 2);
        assert!(printed.contains("cannot start"), "{legacy}: {printed}");
        assert!(
            printed.contains(says),
            "{legacy}: expected {says:?} in:\n{printed}"
        );
    }
}

/// The counts of a replay of the bundled capture with `legacy` against
/// `builtin:normalize`.
fn bundled_counts(out: &Path, legacy: &str, env: Option<(&str, &str)>) -> Value {
    let mut cmd: Command = replay(out, &["--legacy", legacy]);
    if let Some((key, value)) = env {
        cmd.env(key, value);
    }
    cmd.assert().code(0);
    let s = summary(out);
    assert_accounted(&s);
    assert_eq!(s["settings"]["legacy"], legacy);
    s["counts"].clone()
}

#[test]
fn the_python_adapter_serves_the_real_legacy_like_its_own_worker() {
    let tmp = tempdir();
    let reference = bundled_counts(
        &tmp.path().join("worker"),
        "worker:python3 legacy/worker.py",
        None,
    );
    assert_eq!(reference["matched"], 5037);
    // A dotted module name found on PYTHONPATH, and a file path.
    let dotted = bundled_counts(
        &tmp.path().join("dotted"),
        &python("normalize:normalize"),
        Some(("PYTHONPATH", "legacy")),
    );
    assert_eq!(dotted, reference);
    let file = bundled_counts(
        &tmp.path().join("file"),
        &python("legacy/normalize.py:normalize"),
        None,
    );
    assert_eq!(file, reference);
}
