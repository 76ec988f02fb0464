//! Capture formats and malformed input.

use crate::util::*;
use serde_json::json;

#[test]
fn malformed_lines_are_rejected_with_their_line_numbers() {
    let tmp = tempdir();
    let long = format!("{{\"input\":{{\"items\":[\"{}\"]}}}}", "x".repeat(300));
    let lines = vec![
        record("ok-1", json!({"items": [" a "]})),
        "{not json".to_owned(),
        r#"{"id":"no-input"}"#.to_owned(),
        r#"{"id":7,"input":{}}"#.to_owned(),
        "".to_owned(),
        long,
        r#"{"input":{"items":["b"]}}"#.to_owned(),
    ];
    let path = capture(tmp.path(), "bad.jsonl", &lines);
    let out = tmp.path().join("run");
    replay(&out, &[path.to_str().unwrap(), "--max-record-bytes", "200"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("5 rejected"));
    let s = summary(&out);
    assert_eq!(
        (
            count(&s, "read"),
            count(&s, "rejected"),
            count(&s, "matched")
        ),
        (7, 5, 2)
    );
    assert_accounted(&s);
    let rejected: Vec<serde_json::Value> = std::fs::read_to_string(out.join("rejected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines_and_reasons: Vec<(u64, String)> = rejected
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        lines_and_reasons
            .iter()
            .map(|(l, _)| *l)
            .collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6]
    );
    assert!(lines_and_reasons[0].1.starts_with("not valid JSON"));
    assert!(lines_and_reasons[1].1.contains("missing field `input`"));
    assert!(lines_and_reasons[2].1.contains("expected a string"));
    assert!(lines_and_reasons[3].1.starts_with("blank line"));
    assert!(lines_and_reasons[4].1.contains("over the limit of 200"));
    assert!(rejected
        .iter()
        .all(|r| r["source"] == path.to_str().unwrap()));
}

#[test]
fn a_record_without_id_is_named_by_its_line() {
    let tmp = tempdir();
    let lines = vec![
        r#"{"input":{"items":[1]}}"#.to_owned(),
        r#"{"id":"","input":{"items":["\u001f"]}}"#.to_owned(),
    ];
    let path = capture(tmp.path(), "ids.jsonl", &lines);
    let out = tmp.path().join("run");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--candidate",
            "builtin:normalize-naive",
        ],
    )
    .assert()
    .code(1);
    let rows = mismatches(&out);
    assert_eq!(rows.len(), 1, "line 1 raises the same error on both sides");
    assert_eq!(rows[0]["id"], "", "an empty id stays empty");
    assert_eq!(rows[0]["line"], "2");
}

#[test]
fn csv_captures_from_a_file_and_stdin() {
    let tmp = tempdir();
    let csv_text = "request,user,items,note\nq1,u1,\" a \",\nq2,u2,\"\u{1c}\",x\nq3,u3\n";
    let path = tmp.path().join("t.csv");
    std::fs::write(&path, csv_text).unwrap();
    let out = tmp.path().join("file");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--id-column",
            "request",
            "--key-column",
            "user",
            "--candidate",
            "builtin:normalize-naive",
        ],
    )
    .assert()
    .code(1);
    let s = summary(&out);
    assert_eq!(
        (
            count(&s, "read"),
            count(&s, "rejected"),
            count(&s, "mismatched")
        ),
        (3, 1, 1)
    );
    let rows = mismatches(&out);
    assert_eq!(
        (rows[0]["id"].as_str(), rows[0]["key"].as_str()),
        ("q2", "u2")
    );
    let rejected = std::fs::read_to_string(out.join("rejected.jsonl")).unwrap();
    assert!(
        rejected.contains("\"line\":4") && rejected.contains("bad CSV row"),
        "{rejected}"
    );

    let out = tmp.path().join("stdin");
    replay(&out, &["-", "--format", "csv", "--id-column", "request"])
        .write_stdin(csv_text)
        .assert()
        .code(1);
    let s = summary(&out);
    assert_eq!(
        (
            count(&s, "read"),
            count(&s, "matched"),
            count(&s, "rejected")
        ),
        (3, 2, 1)
    );
}

#[test]
fn jsonl_from_stdin() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let input = [
        record("a", json!({"items": [" x "]})),
        record("b", json!(null)),
    ]
    .join("\n");
    replay(&out, &["-"]).write_stdin(input).assert().code(0);
    let s = summary(&out);
    assert_eq!((count(&s, "read"), count(&s, "matched_errors")), (2, 1));
    assert_eq!(s["settings"]["traffic"], json!(["-"]));
}

/// The `reason` of every line in a run's rejected.jsonl, with its line number.
fn rejections(out: &std::path::Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(out.join("rejected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn csv_line_numbers_count_crlf_line_endings_once() {
    let tmp = tempdir();
    // What Python's csv module and Excel write: CRLF after every row, and a
    // quoted cell that spans two lines (rows 3-4).
    let csv_text = "id,items\r\na, x \r\nb,\"y\r\nz\"\r\nc\r\nd,w\r\n";
    let path = tmp.path().join("crlf.csv");
    std::fs::write(&path, csv_text).unwrap();
    let out = tmp.path().join("run");
    replay(&out, &[path.to_str().unwrap()]).assert().code(1);
    let s = summary(&out);
    assert_eq!(counts(&s, &["read", "rejected"]), [4, 1]);
    assert_accounted(&s);
    let rejected = rejections(&out);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, 5, "row `c` is on line 5: {rejected:?}");
}

#[test]
fn a_utf8_bom_at_the_start_of_a_jsonl_capture_is_accepted() {
    let tmp = tempdir();
    let lines = [
        record("a", json!({"items": [" x "]})),
        record("b", json!({"items": ["y"]})),
    ];
    let path = tmp.path().join("bom.jsonl");
    std::fs::write(&path, format!("\u{feff}{}\n", lines.join("\n"))).unwrap();
    let out = tmp.path().join("run");
    replay(&out, &[path.to_str().unwrap()]).assert().code(0);
    let s = summary(&out);
    assert_eq!(counts(&s, &["read", "matched", "rejected"]), [2, 2, 0]);
    // Only the start of the capture may carry one.
    let out = tmp.path().join("stdin");
    replay(&out, &["-"])
        .write_stdin(format!("\u{feff}{}\n\u{feff}{}\n", lines[0], lines[1]))
        .assert()
        .code(1);
    assert_eq!(counts(&summary(&out), &["matched", "rejected"]), [1, 1]);
    let rejected = rejections(&out);
    assert_eq!(rejected[0].0, 2);
    assert!(rejected[0].1.contains("BOM"), "{rejected:?}");
}

#[test]
fn lone_surrogates_and_deep_nesting_are_rejected_before_any_target_sees_them() {
    let tmp = tempdir();
    let deep = format!(
        "{{\"id\":\"deep\",\"input\":{{\"items\":{}\" x \"{}}}}}",
        "[".repeat(127),
        "]".repeat(127)
    );
    let lines = vec![
        record("ok-1", json!({"items": [" a "]})),
        r#"{"id":"high","input":{"items":["\ud800"]}}"#.to_owned(),
        r#"{"id":"low","input":{"items":["a\udc00b"]}}"#.to_owned(),
        deep,
        // A real pair, and an escaped backslash before `ud800`: both fine.
        r#"{"id":"pair","input":{"items":[" \ud83d\ude00 "]}}"#.to_owned(),
        r#"{"id":"literal","input":{"items":["\\ud800"]}}"#.to_owned(),
        r#"{"id":"high-2","input":{"items":["\uDBFF x"]}}"#.to_owned(),
    ];
    let path = capture(tmp.path(), "strict.jsonl", &lines);
    let out = tmp.path().join("run");
    replay(&out, &[path.to_str().unwrap()]).assert().code(1);
    let s = summary(&out);
    assert_eq!(s["status"]["state"], "complete", "{s}");
    assert_eq!(
        counts(&s, &["read", "rejected", "matched"]),
        [7, 4, 3],
        "{s}"
    );
    assert_eq!(s["status"]["legacy_target"]["protocol_errors"], 0, "{s}");
    let rejected = rejections(&out);
    let lines: Vec<u64> = rejected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 3, 4, 7]);
    assert!(
        rejected[0].1.contains("lone surrogate \\ud800"),
        "{rejected:?}"
    );
    assert!(
        rejected[1].1.contains("lone surrogate \\udc00"),
        "{rejected:?}"
    );
    assert!(
        rejected[2].1.contains("nesting deeper than 128"),
        "{rejected:?}"
    );
    assert!(
        rejected[3].1.contains("lone surrogate \\uDBFF"),
        "{rejected:?}"
    );
}
