//! The exec and http target kinds, against the real Python legacy.

use crate::util::*;
use serde_json::json;

fn string_items_capture(dir: &std::path::Path) -> std::path::PathBuf {
    let lines: Vec<String> = (0..20)
        .map(|i| {
            record(
                &format!("r{i}"),
                json!({"items": [format!("\u{2003}v{i} "), "  "]}),
            )
        })
        .collect();
    capture(dir, "strings.jsonl", &lines)
}

#[test]
fn exec_target_runs_one_process_per_record() {
    let tmp = tempdir();
    let path = string_items_capture(tmp.path());
    let out = tmp.path().join("run");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--legacy",
            "exec:python3 fixtures/doubles/exec_normalize.py",
        ],
    )
    .assert()
    .code(0);
    assert_eq!(count(&summary(&out), "matched"), 20);

    // A legacy error is an `exit_status` error: compared against the port's exception it is both_error.
    let bad = capture(
        tmp.path(),
        "bad.jsonl",
        &[record("e", json!({"items": [1]}))],
    );
    let out = tmp.path().join("bad");
    replay(
        &out,
        &[
            bad.to_str().unwrap(),
            "--legacy",
            "exec:python3 fixtures/doubles/exec_normalize.py",
        ],
    )
    .assert()
    .code(1);
    let rows = mismatches(&out);
    assert_eq!(rows[0]["outcome"], "both_error");
    assert!(
        rows[0]["legacy"].contains("1: AttributeError: 'int' object has no attribute 'strip'"),
        "{rows:?}"
    );
}

#[test]
fn http_target_posts_each_input() {
    let tmp = tempdir();
    let server = Double::start(tmp.path(), "http_normalize.py", &[]);
    let url = format!("{}/normalize", server.origin());
    let path = string_items_capture(tmp.path());
    let out = tmp.path().join("run");
    replay(&out, &[path.to_str().unwrap(), "--legacy", &url])
        .assert()
        .code(0);
    assert_eq!(count(&summary(&out), "matched"), 20);

    let bad = capture(tmp.path(), "bad.jsonl", &[record("e", json!([]))]);
    let out = tmp.path().join("bad");
    replay(&out, &[bad.to_str().unwrap(), "--legacy", &url])
        .assert()
        .code(1);
    let rows = mismatches(&out);
    assert_eq!(rows[0]["outcome"], "both_error");
    assert!(
        rows[0]["legacy"].contains("http_status") && rows[0]["legacy"].contains("500"),
        "{rows:?}"
    );
}

/// The redirect double (target and another host), the target's URL for
/// `path`, and the file the other host logs each request it gets to.
fn redirect_double(dir: &std::path::Path) -> (Double, String, std::path::PathBuf) {
    let hits = dir.join("elsewhere-hits");
    let double = Double::start(dir, "redirect_server.py", &[hits.to_str().unwrap()]);
    let origin = double.origin();
    (double, origin, hits)
}

#[test]
fn an_http_side_answers_a_redirect_with_its_3xx_and_sends_nothing_to_another_host() {
    let tmp = tempdir();
    let (_double, origin, hits) = redirect_double(tmp.path());
    let path = string_items_capture(tmp.path());
    for route in ["away", "same"] {
        let out = tmp.path().join(route);
        let legacy = format!("{origin}/{route}");
        replay(&out, &[path.to_str().unwrap(), "--legacy", &legacy])
            .assert()
            .code(1);
        let s = summary(&out);
        assert_eq!(count(&s, "legacy_errors"), 20, "{route}: {s}");
        let rows = mismatches(&out);
        assert!(
            rows.iter()
                .all(|r| r["legacy"].contains("http_status") && r["legacy"].contains("307")),
            "{route}: the 3xx is the answer: {rows:?}"
        );
    }
    assert!(
        !hits.exists(),
        "captured traffic reached another host: {}",
        std::fs::read_to_string(&hits).unwrap_or_default()
    );
}

#[test]
fn following_redirects_is_per_side_and_only_to_the_same_host() {
    let tmp = tempdir();
    let (_double, origin, hits) = redirect_double(tmp.path());
    let path = string_items_capture(tmp.path());
    let same = format!("{origin}/same");
    let out = tmp.path().join("same");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--legacy",
            &same,
            "--follow-redirects",
            "legacy",
        ],
    )
    .assert()
    .code(0);
    let s = summary(&out);
    assert_eq!(count(&s, "matched"), 20, "{s}");
    assert_eq!(s["settings"]["follow_redirects"], json!(["legacy"]), "{s}");

    // Turned on in cutover.toml, a redirect to another host is still not followed.
    let config = config_file(
        tmp.path(),
        &format!("[replay]\nlegacy = \"{origin}/away\"\nfollow_redirects = [\"legacy\"]\n"),
    );
    let out = tmp.path().join("away");
    replay(
        &out,
        &[path.to_str().unwrap(), "--config", config.to_str().unwrap()],
    )
    .assert()
    .code(1);
    let rows = mismatches(&out);
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter()
            .all(|r| r["legacy"].contains("307") && r["legacy"].contains("another host")),
        "{rows:?}"
    );
    assert!(
        !hits.exists(),
        "captured traffic reached another host: {}",
        std::fs::read_to_string(&hits).unwrap_or_default()
    );

    // The option is for http sides only, and says so up front.
    replay(
        &tmp.path().join("builtin"),
        &[path.to_str().unwrap(), "--follow-redirects", "candidate"],
    )
    .assert()
    .code(2)
    .stderr(predicates::str::contains(
        "--follow-redirects candidate: the candidate is builtin:normalize, not an http(s):// URL",
    ));
}

#[test]
fn an_http_connection_reset_shows_its_cause_once() {
    let tmp = tempdir();
    let server = Double::start(tmp.path(), "reset_server.py", &[]);
    let path = capture(
        tmp.path(),
        "one.jsonl",
        &[record("r", json!({"items": [" a "]}))],
    );
    let out = tmp.path().join("run");
    let legacy = format!("{}/normalize", server.origin());
    replay(&out, &[path.to_str().unwrap(), "--legacy", &legacy])
        .assert()
        .code(1);
    let rows = mismatches(&out);
    let message = &rows[0]["legacy"];
    assert!(message.contains("cutover.http_transport"), "{message}");
    assert!(
        message.to_lowercase().contains("connection reset by peer"),
        "the cause is shown: {message}"
    );
    let causes: Vec<&str> = message.split(": ").collect();
    let distinct: std::collections::BTreeSet<&str> = causes.iter().copied().collect();
    assert_eq!(causes.len(), distinct.len(), "a cause repeated: {message}");
}

/// Regression (issue 9, item 21): exec stdout over the size limit made the
/// program die of a broken pipe, reported as `exit_status "1:
/// BrokenPipeError…"`.
#[test]
fn exec_stdout_over_the_limit_is_output_too_large() {
    let tmp = tempdir();
    let path = fault_capture(tmp.path(), "t.jsonl", 1, |_| None);
    let out = tmp.path().join("run");
    let legacy = "exec:python3 fixtures/doubles/hostile_exec.py --huge-stdout 4";
    replay_legacy(&out, &path, legacy, &["--max-record-bytes", "100000"], 1);
    let rows = mismatches(&out);
    assert_eq!(rows[0]["outcome"], "legacy_error", "{rows:?}");
    assert!(
        rows[0]["legacy"].contains("cutover.output_too_large"),
        "{rows:?}"
    );
    assert!(rows[0]["legacy"].contains("over 100000 bytes"), "{rows:?}");
}

/// Regression (issue 9, item 21): a program that is not executable failed
/// every record (exit 1) as `exec:` but stopped the run up front (exit 2) as
/// `worker:`. Both now stop up front, with the same message.
#[test]
fn a_program_that_is_not_executable_fails_up_front_for_exec_and_worker_alike() {
    let tmp = tempdir();
    let program = tmp.path().join("not-executable.sh");
    std::fs::write(&program, "#!/bin/sh\necho '{}'\n").unwrap();
    for kind in ["exec", "worker"] {
        let out = tmp.path().join(kind);
        let spec = format!("{kind}:{}", program.display());
        let assert = replay(&out, &["--no-flags", "--legacy", &spec])
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains("--legacy"), "{kind}: {stderr}");
        assert!(stderr.contains("is not executable"), "{kind}: {stderr}");
        assert!(
            !out.join("summary.json").exists(),
            "{kind}: no run happened"
        );
    }
}

/// Regression (issue 9, items 21 and 27): a missing `exec:` program was
/// called "the worker … cannot start".
#[test]
fn a_missing_exec_program_is_called_a_program() {
    let tmp = tempdir();
    let assert = replay(
        &tmp.path().join("run"),
        &["--no-flags", "--legacy", "exec:no-such-program-xyz"],
    )
    .assert()
    .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("the exec program `no-such-program-xyz` cannot start"),
        "{stderr}"
    );
    assert!(!stderr.contains("worker"), "{stderr}");
}

/// Regression (issue 9, item 28): `exec:` started up to `--concurrency`
/// processes at once (128 by default on two cores). It runs at most
/// `--workers`.
#[test]
fn exec_runs_at_most_workers_processes_at_once() {
    let tmp = tempdir();
    let path = fault_capture(tmp.path(), "t.jsonl", 12, |_| None);
    let log = tmp.path().join("log");
    let legacy = format!(
        "exec:python3 fixtures/doubles/hostile_exec.py --hold-ms 150 --concurrency-log {}",
        log.display()
    );
    let out = tmp.path().join("run");
    let extra = ["--workers", "2", "--concurrency", "64"];
    replay_legacy(&out, &path, &legacy, &extra, 0);
    let text = std::fs::read_to_string(&log).unwrap();
    let (mut running, mut most) = (0i32, 0i32);
    for line in text.lines() {
        running += if line.starts_with("start") { 1 } else { -1 };
        most = most.max(running);
    }
    assert_eq!(text.lines().count(), 24, "{text}");
    assert!(most <= 2, "{most} exec programs ran at once:\n{text}");
}

/// `builtin:identity` answers with its input: on both sides every record of
/// the bundled capture matches (the harness measured alone), and against
/// `builtin:normalize` every record that normalize changes or refuses is a
/// difference.
#[test]
fn builtin_identity_answers_with_its_input() {
    let tmp = tempdir();
    let both = Replay::new(tmp.path())
        .legacy("builtin:identity")
        .candidate("builtin:identity")
        .args(&["--no-flags"])
        .run(0);
    let read = both.count("read");
    assert!(read > 1000, "the bundled capture: {read}");
    assert_eq!(both.count("matched"), read - both.count("rejected"));

    let against = Replay::new(tmp.path())
        .out(&tmp.path().join("against"))
        .legacy("builtin:identity")
        .candidate("builtin:normalize")
        .args(&["--no-flags"])
        .run(1);
    let rows = against.rows();
    assert!(!rows.is_empty());
    let row = &rows[0];
    let input: serde_json::Value = serde_json::from_str(&row["input"]).unwrap();
    let legacy: serde_json::Value = serde_json::from_str(&row["legacy"]).unwrap();
    assert_eq!(legacy, input, "identity's answer is the record's input");
}
