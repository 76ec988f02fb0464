//! Other tools' HTTP captures as traffic: a HAR recorded by a real browser
//! (Debian's chromium, driven by `tests/browser/record_har.mjs` with
//! Playwright's `recordHar`) against the legacy HTTP service, and a GoReplay
//! file written to the documented format, both imported with `cutover
//! import` and replayed directly against the two real services of the worked
//! HTTP migration. Under scripts/test the browser test fails, never skips,
//! when chromium or the driver is missing; a plain `cargo test` leaves it to
//! scripts/test, saying so.

use crate::http_services::{legacy_service, rust_service, upstream};
use crate::util::*;
use serde_json::Value;
use std::process::Command;

const COOKIE: &str = "cutover-browser-cookie-secret";

#[test]
fn a_har_recorded_by_chromium_imports_and_replays_against_both_services() {
    if left_to_scripts_test("Chromium and playwright-core") {
        return;
    }
    assert!(
        repo()
            .join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (scripts/test does)"
    );
    let (legacy, rust) = (legacy_service(), rust_service());
    let tmp = tempdir();
    let har = tmp.path().join("browser.har");
    let out = Command::new("node")
        .arg(repo().join("tests/browser/record_har.mjs"))
        .arg(format!("http://127.0.0.1:{}", legacy.port))
        .arg(&har)
        .current_dir(repo())
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "recording the HAR failed: {}",
        output_text(&out)
    );
    let text = std::fs::read_to_string(&har).unwrap();
    let entries = serde_json::from_str::<Value>(&text).unwrap()["log"]["entries"]
        .as_array()
        .unwrap()
        .len() as u64;
    assert!(entries >= 8, "{entries} entries");
    assert!(text.contains(COOKIE), "the browser sent the cookie");

    // Imported: every entry an exchange, the cookie redacted.
    let capture = tmp.path().join("browser.jsonl");
    let output = cutover()
        .args(["import"])
        .arg(&har)
        .arg("--out")
        .arg(&capture)
        .assert()
        .code(0)
        .get_output()
        .clone();
    let said = output_text(&output);
    assert!(
        said.contains(&format!("{entries} exchanges written")),
        "{said}"
    );
    let lines = std::fs::read_to_string(&capture).unwrap();
    assert_eq!(lines.lines().count() as u64, entries);
    assert!(!lines.contains(COOKIE), "the cookie was not redacted");
    assert!(lines.contains("<redacted>"));

    // The imported capture against the legacy: every answer as recorded.
    let ran = Replay::new(tmp.path())
        .out(&tmp.path().join("imported"))
        .traffic(&capture)
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&legacy))
        .args(&["--no-flags"])
        .run(0);
    assert_eq!(
        ran.summary["recorded_drift"]["drifted"], 0,
        "{}",
        ran.summary["recorded_drift"]
    );
    assert_eq!(ran.count("matched"), entries);

    // The HAR itself against both services: only the planted route differs.
    let ran = Replay::new(tmp.path())
        .out(&tmp.path().join("direct"))
        .traffic(&har)
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&rust))
        .args(&["--no-flags"])
        .run(1);
    assert_eq!(ran.count("read"), entries);
    assert_eq!(ran.summary["recorded_drift"]["drifted"], 0);
    let rows = ran.rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0]["input"].contains("item=+padded+"), "{rows:?}");
    assert_eq!(rows[0]["paths"], "/body/accepted/0 changed");
}

/// One `.gor` payload: meta line, message, separator.
fn payload(kind: u8, id: &str, message: &str) -> String {
    format!("{kind} {id} 1764590400{:09}\n{message}\n🐵🙈🙉\n", id.len())
}

#[test]
fn a_goreplay_file_with_interleaved_out_of_order_payloads_pairs_and_replays() {
    let (legacy, rust) = (legacy_service(), rust_service());
    let tmp = tempdir();
    let json = |cache: &str, body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nServer: legacy-normalize/1.0\r\nDate: Tue, 01 Dec 2026 12:00:00 GMT\r\ncontent-type: application/json\r\ncontent-length: {}\r\ncache-control: {cache}\r\n\r\n{body}",
            body.len()
        )
    };
    let post = r#"{"items":[" b "]}"#;
    let file = [
        payload(1, "a", "GET /health HTTP/1.1\r\nHost: normalize.internal\r\n\r\n"),
        payload(1, "b", "GET /normalize?item=+a+ HTTP/1.1\r\nHost: normalize.internal\r\n\r\n"),
        payload(2, "b", &json("max-age=60", r#"{"accepted":["a"],"rejected":[]}"#)),
        payload(3, "a", "HTTP/1.1 500 Replayed\r\ncontent-length: 0\r\n\r\n"),
        payload(
            1,
            "c",
            &format!(
                "POST /normalize HTTP/1.1\r\nHost: normalize.internal\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{post}",
                post.len()
            ),
        ),
        payload(2, "z", "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
        payload(2, "c", &json("no-store", r#"{"accepted":["b"],"rejected":[]}"#)),
        payload(2, "a", &json("no-store", r#"{"status":"ok"}"#)),
    ]
    .concat();
    let gor = tmp.path().join("requests.gor");
    std::fs::write(&gor, file).unwrap();
    let ran = Replay::new(tmp.path())
        .traffic(&gor)
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&rust))
        .args(&["--no-flags"])
        .run(1);
    // Three exchanges, each with its own response (drift would show a
    // response paired with another request), and the orphan response.
    assert_eq!(
        (
            ran.count("read"),
            ran.count("rejected"),
            ran.count("mismatched")
        ),
        (4, 1, 1),
        "{}",
        ran.summary["counts"]
    );
    assert_eq!(ran.summary["recorded_drift"]["with_recording"], 3);
    assert_eq!(
        ran.summary["recorded_drift"]["drifted"], 0,
        "{}",
        ran.summary["recorded_drift"]
    );
    assert_eq!(ran.rows()[0]["id"], "b");
    let rejected = std::fs::read_to_string(ran.out.join("rejected.jsonl")).unwrap();
    assert!(
        rejected.contains("a response (id z) whose request is not in the file"),
        "{rejected}"
    );

    // `cutover import` makes the same three exchanges, ids kept.
    let capture = tmp.path().join("gor.jsonl");
    let output = cutover()
        .arg("import")
        .arg(&gor)
        .arg("--out")
        .arg(&capture)
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        output_text(&output).contains("3 exchanges written"),
        "{}",
        output_text(&output)
    );
    let ids: Vec<String> = std::fs::read_to_string(&capture)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["b", "c", "a"]);
}

/// A chunked request and its chunked response (sizes in hex, an extension,
/// a trailer) pair and replay with the decoded body: the legacy answers
/// what was recorded (no drift), and both services agree. A payload with a
/// malformed chunk is rejected with its line and why.
#[test]
fn a_goreplay_file_with_chunked_bodies_pairs_and_replays_and_a_malformed_chunk_is_rejected() {
    let (legacy, rust) = (legacy_service(), rust_service());
    let tmp = tempdir();
    let file = [
        payload(
            1,
            "c",
            "POST /normalize HTTP/1.1\r\nHost: normalize.internal\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nA;note=x\r\n{\"items\":[\r\n7\r\n\" b \"]}\r\n0\r\nx-trailer: t\r\n\r\n",
        ),
        payload(
            1,
            "m",
            "POST /normalize HTTP/1.1\r\nHost: normalize.internal\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"items\":[]}\r\n0\r\n\r\n",
        ),
        payload(
            2,
            "c",
            "HTTP/1.1 200 OK\r\nServer: legacy-normalize/1.0\r\nDate: Tue, 01 Dec 2026 12:00:00 GMT\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\ncache-control: no-store\r\n\r\n10\r\n{\"accepted\":[\"b\"\r\n10\r\n],\"rejected\":[]}\r\n0\r\n\r\n",
        ),
        payload(2, "m", "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
    ]
    .concat();
    let gor = tmp.path().join("chunked.gor");
    std::fs::write(&gor, file).unwrap();
    let mut command = Replay::new(tmp.path())
        .traffic(&gor)
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&rust))
        .args(&["--no-flags"])
        .command();
    command.assert().code(1);
    let summary = crate::util::summary(&tmp.path().join("run"));
    let drift = &summary["recorded_drift"];
    assert_eq!(
        crate::util::counts(&summary, &["read", "rejected", "matched"]),
        [3, 2, 1],
        "{}",
        summary["counts"]
    );
    assert_eq!(
        (&drift["with_recording"], &drift["drifted"]),
        (&1.into(), &0.into()),
        "{drift}"
    );
    let rejected: Vec<Value> = std::fs::read_to_string(tmp.path().join("run/rejected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The malformed request at the second payload's meta line (line 16),
    // then its response, whose request was rejected.
    assert_eq!(rejected[0]["line"], 16, "{rejected:?}");
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("chunk 1") && reason.contains("not followed by CRLF"),
        "{reason}"
    );
}
