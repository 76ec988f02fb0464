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

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn http_target_posts_each_input() {
    let tmp = tempdir();
    let port_file = tmp.path().join("port");
    let _server = Server(
        std::process::Command::new("python3")
            .arg(repo().join("fixtures/doubles/http_normalize.py"))
            .arg(&port_file)
            .spawn()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    while !port_file.exists() {
        assert!(
            started.elapsed().as_secs() < 10,
            "http double did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let url = format!(
        "http://127.0.0.1:{}/normalize",
        std::fs::read_to_string(&port_file).unwrap()
    );
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
