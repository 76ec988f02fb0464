//! `upstream:` sides: the bundled HTTP capture replayed through `cutover`
//! against the two real services of the worked HTTP migration
//! (`legacy/http_service.py`, `examples/normalize_http`), plus the faults:
//! a service that is down, one that resets connections (the
//! `reset_server.py` double), and capture lines that are not exchanges.

use crate::http_services::{legacy_service, rust_service, upstream, Service};
use crate::util::{files_containing, repo, tempdir, Double, Replay};
use serde_json::Value;
use std::collections::BTreeSet;

/// A secret only the candidate's `--candidate-secret-header` carries.
const SECRET: &str = "shadow-secret-5b1e-never-written";
const SECRET_VAR: &str = "SHADOW_TOKEN_FOR_TEST";
/// The fake credentials some of the bundled capture's requests carry.
const CAPTURE_SECRETS: [&str; 2] = [
    "cutover-test-secret-please-redact",
    "cutover-test-cookie-please-redact",
];

pub(crate) fn capture() -> std::path::PathBuf {
    repo().join("fixtures/http/capture.jsonl")
}

/// The bundled capture, legacy service against the Rust one, with `args`.
fn both_services(dir: &std::path::Path, args: &[&str]) -> (Replay, [Service; 2]) {
    let (legacy, rust) = (legacy_service(), rust_service());
    let replay = Replay::new(dir)
        .traffic(capture())
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&rust))
        .args(&["--no-flags"])
        .args(args);
    (replay, [legacy, rust])
}

/// The ids of the capture's exchanges on the planted route: `GET
/// /normalize` answered 200 whose `item` values encode a space as `+`.
pub(crate) fn planted_ids() -> BTreeSet<String> {
    let text = std::fs::read_to_string(capture()).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|r| {
            r["input"]["method"] == "GET"
                && r["input"]["path"] == "/normalize"
                && r["recorded"]["status"] == 200
                && r["input"]["query"]
                    .as_str()
                    .unwrap_or_default()
                    .split('&')
                    .any(|pair| pair.starts_with("item=") && pair.contains('+'))
        })
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn bundled_capture_against_both_services_finds_the_planted_difference_at_its_paths_and_nothing_else(
) {
    let tmp = tempdir();
    let secret_header = format!("x-shadow-token={SECRET_VAR}");
    let (ran, _services) = both_services(
        tmp.path(),
        &["-vv", "--candidate-secret-header", &secret_header],
    );
    let output = ran
        .command()
        .env(SECRET_VAR, SECRET)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let summary = crate::util::summary(&tmp.path().join("run"));
    crate::util::assert_accounted(&summary);
    let rows = crate::util::mismatches(&tmp.path().join("run"));
    let mismatched: BTreeSet<String> = rows.iter().map(|r| r["id"].clone()).collect();
    let planted = planted_ids();
    assert!(planted.len() >= 10, "{planted:?}");
    assert_eq!(mismatched, planted, "only the planted route differs");
    // Legacy answers as recorded: its `Date` and `Server` are volatile.
    assert_eq!(
        summary["recorded_drift"]["drifted"], 0,
        "{}",
        summary["recorded_drift"]
    );
    let paths: Vec<&str> = rows.iter().map(|r| r["paths"].as_str()).collect();
    assert!(
        paths.iter().any(|p| p.starts_with("/body/accepted/")),
        "{paths:?}"
    );
    for p in &paths {
        assert!(p.starts_with("/body/"), "a difference off the body: {p}");
    }
    // `server` (legacy only), `date` and `content-length` are never compared.
    let text = std::fs::read_to_string(tmp.path().join("run/mismatches.csv")).unwrap();
    for header in ["server", "date", "content-length"] {
        assert!(
            !text.contains(&format!("\"\"{header}\"\"")),
            "{header} was compared"
        );
    }
    // The secret header's value is nowhere: not in the report, not in the
    // logs; nor are the capture's own credentials (its `authorization` and
    // `cookie` values), which the report shows redacted.
    let leaks = files_containing(
        tmp.path(),
        &[SECRET, CAPTURE_SECRETS[0], CAPTURE_SECRETS[1]],
    );
    assert!(leaks.is_empty(), "{leaks:?}");
    let said = crate::util::output_text(&output);
    assert!(!said.contains(SECRET), "{said}");
    assert!(files_containing(tmp.path(), &["<redacted>"]).len() > 1);
    assert!(
        summary["spec"]["candidate"]["upstream"]["rewrite"]["secret_headers"][0][1] == SECRET_VAR,
        "the spec keeps the variable's name: {}",
        summary["spec"]["candidate"]
    );
}

/// The same replay comparing every header: `server` (the legacy sends one,
/// hyper does not) differs on every exchange, so the default exclusion is
/// what keeps the run above quiet. With no header redacted either, the
/// capture's credentials reach the report: the default redaction is what
/// keeps them out above.
#[test]
fn with_no_volatile_headers_the_server_header_differs_on_every_exchange() {
    let tmp = tempdir();
    let (replay, _services) = both_services(
        tmp.path(),
        &["--volatile-headers", "date", "--redact-headers", ""],
    );
    let ran = replay.run(1);
    assert!(!files_containing(tmp.path(), &CAPTURE_SECRETS).is_empty());
    assert_eq!(ran.count("mismatched"), ran.count("read"));
    assert!(ran
        .rows()
        .iter()
        .all(|r| r["paths"].contains("/headers/server")));
}

#[test]
fn a_service_that_is_down_is_exit_2_saying_connection_refused() {
    let (legacy, port) = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        (legacy_service(), free.local_addr().unwrap().port())
    };
    let tmp = tempdir();
    let output = Replay::new(tmp.path())
        .traffic(capture())
        .legacy(&upstream(&legacy))
        .candidate(&format!("upstream:http://127.0.0.1:{port}"))
        .args(&["--no-flags"])
        .command()
        .assert()
        .code(2)
        .get_output()
        .clone();
    let said = crate::util::output_text(&output);
    assert!(
        said.contains(&format!(
            "connection refused at http://127.0.0.1:{port}: is the service running?"
        )),
        "{said}"
    );
    assert!(!tmp.path().join("run/summary.json").exists());
}

#[test]
fn a_service_that_resets_connections_gives_its_own_error_type() {
    let legacy = legacy_service();
    let tmp = tempdir();
    let reset = Double::start(tmp.path(), "reset_server.py", &[]);
    let ran = Replay::new(tmp.path())
        .records(
            "one.jsonl",
            &[r#"{"id": "h", "input": {"method": "GET", "path": "/health", "headers": [["host", "normalize.internal"]]}}"#.to_owned()],
        )
        .legacy(&upstream(&legacy))
        .candidate(&format!("upstream:{}", reset.origin()))
        .args(&["--no-flags"])
        .run(1);
    assert_eq!(
        ran.count("candidate_errors"),
        1,
        "{}",
        ran.summary["counts"]
    );
    let rows = ran.rows();
    assert!(
        rows[0]["candidate"].contains("cutover.http_reset")
            && rows[0]["candidate"].contains("connection reset by"),
        "{rows:?}"
    );
}

#[test]
fn a_capture_line_that_is_not_an_exchange_is_rejected_with_its_reason() {
    let legacy = legacy_service();
    let tmp = tempdir();
    let good = r#"{"id": "ok", "input": {"method": "GET", "path": "/health", "headers": []}}"#;
    let bad_path = r#"{"id": "p", "input": {"method": "GET", "path": "health", "headers": []}}"#;
    let bad_body = r#"{"id": "b", "input": {"method": "POST", "path": "/normalize", "headers": [["content-type", "text/plain"]], "body": "a"}}"#;
    let bad_recorded = r#"{"id": "r", "input": {"method": "GET", "path": "/health", "headers": []}, "recorded": {"status": 200, "headers": []}}"#;
    let ran = Replay::new(tmp.path())
        .records(
            "mixed.jsonl",
            &[good, bad_path, bad_body, bad_recorded].map(str::to_owned),
        )
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&legacy))
        .args(&["--no-flags"])
        .run(1);
    assert_eq!(
        (
            ran.count("read"),
            ran.count("rejected"),
            ran.count("matched")
        ),
        (4, 3, 1)
    );
    let rejected = std::fs::read_to_string(ran.out.join("rejected.jsonl")).unwrap();
    let reasons: Vec<String> = rejected
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        reasons[0].contains("input.path \"health\" must start with `/`"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("{\"text\": string}"), "{reasons:?}");
    assert!(reasons[2].contains("missing field `body`"), "{reasons:?}");
}

/// A service that answers every request with the raw header lines it
/// got, in order (`{"lines": [...]}`), one connection at a time.
fn header_echo() -> u16 {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream);
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                lines.push(line.trim_end_matches("\r\n").to_owned());
            }
            if lines.is_empty() {
                continue;
            }
            let body = serde_json::json!({ "lines": lines[1..] }).to_string();
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// What the wire keeps of a request's headers, seen by a real service:
/// names lower-cased, in the order of their first appearance, and every
/// repeat of a name right after its first, values in recorded order
/// (hyper's header map groups values by name; HTTP allows it, RFC 9110
/// §5.3). Interleaved repeats ([a, b, a]) are not kept interleaved.
#[test]
fn repeated_headers_go_grouped_at_their_first_place_in_recorded_value_order() {
    let port = header_echo();
    let tmp = tempdir();
    let record = serde_json::json!({
        "id": "h",
        "input": {"method": "GET", "path": "/echo", "headers": [
            ["Host", "echo.internal"], ["X-A", "1"], ["x-b", "2"], ["x-a", "3"],
            ["Accept", "*/*"], ["X-B", "4"], ["x-c", "5"]
        ]},
        "recorded": {"status": 200, "headers": [["content-type", "application/json"]],
            "body": {"lines": [
                "host: echo.internal", "x-a: 1", "x-a: 3", "x-b: 2", "x-b: 4",
                "accept: */*", "x-c: 5"
            ]}}
    });
    let ran = Replay::new(tmp.path())
        .records("echo.jsonl", &[record.to_string()])
        .legacy(&format!("upstream:http://127.0.0.1:{port}"))
        .candidate("recorded")
        .args(&["--no-flags"])
        .run(0);
    assert_eq!(ran.count("matched"), 1, "{:?}", ran.rows());
}

/// A rejected exchange line keeps an excerpt in `rejected.jsonl`: its
/// credential headers (the `--redact-headers` set) are redacted there as in
/// every other output, whether the line is JSON or a `.gor` payload.
#[test]
fn a_rejected_exchange_lines_excerpt_has_its_credential_headers_redacted() {
    let legacy = legacy_service();
    let tmp = tempdir();
    let token = "Bearer rejected-line-secret-3f9a";
    let cookie = "session=rejected-line-cookie-77c2";
    let bad = format!(
        r#"{{"id": "p", "input": {{"method": "GET", "path": "health", "headers": [["Authorization", "{token}"], ["cookie", "{cookie}"], ["accept", "text/plain"]]}}}}"#
    );
    let gor = tmp.path().join("bad.gor");
    std::fs::write(
        &gor,
        format!(
            "1 g1 1700000000000000000\nGET health HTTP/1.1\r\nAuthorization: {token}\r\nCookie: {cookie}\r\n\r\n\n🐵🙈🙉\n"
        ),
    )
    .unwrap();
    let ran = Replay::new(tmp.path())
        .records("bad.jsonl", &[bad])
        .traffic(&gor)
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&legacy))
        .args(&["--no-flags"])
        .run(1);
    assert_eq!((ran.count("read"), ran.count("rejected")), (2, 2));
    let rejected = std::fs::read_to_string(ran.out.join("rejected.jsonl")).unwrap();
    assert!(
        !rejected.contains("rejected-line-secret-3f9a"),
        "{rejected}"
    );
    assert!(
        !rejected.contains("rejected-line-cookie-77c2"),
        "{rejected}"
    );
    let lines: Vec<Value> = rejected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for line in &lines {
        let excerpt = line["excerpt"].as_str().unwrap();
        assert!(excerpt.contains("<redacted>"), "{excerpt}");
    }
    // The other headers are kept as written.
    assert!(lines[0]["excerpt"]
        .as_str()
        .unwrap()
        .contains(r#"["accept", "text/plain"]"#));
    let leaks = files_containing(
        &ran.out,
        &["rejected-line-secret-3f9a", "rejected-line-cookie-77c2"],
    );
    assert!(leaks.is_empty(), "{leaks:?}");
}

/// `--rate 40` over the 400 bundled exchanges: 10 s, within 10%, both in
/// the rate the summary reports and in the run's wall time.
#[test]
fn rate_control_holds_within_ten_percent_over_a_ten_second_replay() {
    let tmp = tempdir();
    let (replay, _services) = both_services(tmp.path(), &["--rate", "40"]);
    let ran = replay.run(1);
    let pace = &ran.summary["status"]["pace"];
    assert_eq!(pace["pace"], serde_json::json!({"rate": 40.0}), "{pace}");
    assert_eq!(pace["started"], 400);
    let achieved = pace["achieved_per_second"].as_f64().unwrap();
    assert!((36.0..=44.0).contains(&achieved), "{pace}");
    let seconds = ran.summary["duration_seconds"].as_f64().unwrap();
    let wall_rate = 400.0 / seconds;
    assert!(
        (36.0..=44.0).contains(&wall_rate),
        "400 records in {seconds}s"
    );
    assert!(
        ran.stdout
            .contains("pace        --rate 40/s: 400 records started at"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("service ms") && ran.stdout.contains("slot wait ms"),
        "{}",
        ran.stdout
    );
    let page = std::fs::read_to_string(ran.out.join("index.html")).unwrap();
    assert!(page.contains("id=\"slot-wait\"") && page.contains("is service time"));
}

/// `--speed 2` over records captured 100 ms apart for 2 s: about 1 s.
#[test]
fn speed_replays_the_captured_timing_sped_up() {
    let tmp = tempdir();
    let lines: Vec<String> = (0..21)
        .map(|i| {
            format!(
                r#"{{"id": "t{i}", "timestamp": {}, "input": {{"items": ["a"]}}}}"#,
                1_700_000_000.0 + f64::from(i) * 0.1
            )
        })
        .collect();
    let ran = Replay::new(tmp.path())
        .records("timed.jsonl", &lines)
        .legacy("builtin:normalize")
        .candidate("builtin:normalize")
        .args(&["--no-flags", "--speed", "2", "--concurrency", "16"])
        .run(0);
    let seconds = ran.summary["duration_seconds"].as_f64().unwrap();
    assert!((0.95..=1.6).contains(&seconds), "took {seconds}s");
    let achieved = ran.summary["status"]["pace"]["achieved_per_second"]
        .as_f64()
        .unwrap();
    assert!(
        (18.0..=22.0).contains(&achieved),
        "{}",
        ran.summary["status"]
    );
}

/// `[sides.SIDE]` sets an upstream's rewriting, a flag beats it, the run
/// spec keeps the result; a path prefix really goes on every request (the
/// service answers 404 to `/v9/health`); and rewriting a side that is not
/// upstream: stops the run.
#[test]
fn rewriting_comes_from_flags_over_cutover_toml_and_only_for_upstream_sides() {
    let legacy = legacy_service();
    let tmp = tempdir();
    let config = crate::util::config_file(
        tmp.path(),
        "[sides.candidate]\nhost = \"from-file\"\npath_prefix = \"/v9\"\nheaders = { x-a = \"1\" }\n",
    );
    let health = r#"{"id": "h", "input": {"method": "GET", "path": "/health", "headers": [["host", "normalize.internal"]]}}"#;
    let ran = Replay::new(tmp.path())
        .records("one.jsonl", &[health.to_owned()])
        .legacy(&upstream(&legacy))
        .candidate(&upstream(&legacy))
        .args(&["--no-flags", "--config"])
        .args(&[config.to_str().unwrap(), "--candidate-host", "from-flag"])
        .run(1);
    let rewrite = &ran.summary["spec"]["candidate"]["upstream"]["rewrite"];
    assert_eq!(rewrite["host"], "from-flag", "{rewrite}");
    assert_eq!(rewrite["path_prefix"], "/v9");
    assert_eq!(rewrite["headers"], serde_json::json!([["x-a", "1"]]));
    let rows = ran.rows();
    assert!(rows[0]["paths"].contains("/status"), "{rows:?}");
    assert!(rows[0]["candidate"].contains("404"), "{rows:?}");

    let output = Replay::new(tmp.path())
        .out(&tmp.path().join("not-upstream"))
        .records("one.jsonl", &[health.to_owned()])
        .legacy("builtin:normalize")
        .candidate(&upstream(&legacy))
        .args(&["--no-flags", "--legacy-host", "h"])
        .command()
        .assert()
        .code(2)
        .get_output()
        .clone();
    let said = crate::util::output_text(&output);
    assert!(
        said.contains("--legacy-host: the legacy is builtin:normalize, not an upstream: side"),
        "{said}"
    );
}
