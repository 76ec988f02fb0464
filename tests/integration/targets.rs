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
