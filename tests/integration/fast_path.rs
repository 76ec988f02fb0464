//! The comparison's fast path for outputs given as JSON text (issue 16):
//! texts spelled differently but equal as values count as equal, and a real
//! difference is reported exactly as the structural comparison reports it.

use crate::util::{record, tempdir, Replay};
use serde_json::json;

/// Inputs whose answers hold what `ensure_ascii` escapes: accents, an
/// emoji (a surrogate pair), a slash, a quote, a backslash, a separator.
fn lines() -> Vec<String> {
    let items = [
        " caf\u{e9} ",
        "\u{e9}t\u{e9}",
        "a/b \u{1f600}",
        "\"quoted\" \\ back",
        "\u{1c}sep",
        "plain",
        "   ",
    ];
    (0..42)
        .map(|i| {
            let item = items[i % items.len()];
            record(
                &format!("r{i}"),
                json!({"items": [item, format!("{item}{i}")]}),
            )
        })
        .collect()
}

const UTF8_PIPE: &str = "pipe:python3 fixtures/doubles/utf8_pipe.py";

#[test]
fn an_ensure_ascii_worker_and_sides_spelling_the_same_values_otherwise_agree_on_every_record() {
    let tmp = tempdir();
    let lines = lines();
    // Text against text, spelled differently (`\u00e9` against `é`, other
    // spacing), and text against a value (`builtin:normalize`).
    for (name, candidate) in [("pipe", UTF8_PIPE), ("builtin", "builtin:normalize")] {
        let ran = Replay::new(tmp.path())
            .records(&format!("{name}.jsonl"), &lines)
            .out(&tmp.path().join(name))
            .legacy("worker:python3 legacy/worker.py")
            .candidate(candidate)
            .args(&["--no-flags"])
            .run(0);
        assert_eq!(
            ran.count("matched"),
            42,
            "{name}: {}",
            ran.summary["counts"]
        );
        assert_eq!(ran.count("mismatched"), 0, "{name}");
    }
}

#[test]
fn a_difference_inside_an_escaped_string_is_reported_as_the_structural_comparison_reports_it() {
    let tmp = tempdir();
    let lines = lines();
    let planted = format!("{UTF8_PIPE} --plant");
    // The legacy answering text (`ensure_ascii`: `caf\u00e9`), then the same
    // values as values: the reports must be the same bytes (but for the capture's name).
    let run = |name: &str, legacy: &str| {
        Replay::new(tmp.path())
            .records(&format!("{name}.jsonl"), &lines)
            .out(&tmp.path().join(name))
            .legacy(legacy)
            .candidate(&planted)
            .args(&["--no-flags"])
            .run(1)
    };
    let text = run("text", "worker:python3 legacy/worker.py");
    let value = run("value", "builtin:normalize");
    // Items 0 and 1 of the list above (6 records each) have an "é" planted
    // away in their first accepted item.
    assert_eq!(text.count("mismatched"), 12, "{}", text.summary["counts"]);
    let rows = text.rows();
    assert!(
        rows.iter().all(|r| r["paths"] == "/accepted/0 changed"),
        "{rows:?}"
    );
    assert_eq!(rows[0]["id"], "r0");
    assert!(
        rows[0]["candidate"].contains("caf\u{e8}"),
        "{}",
        rows[0]["candidate"]
    );
    for file in ["mismatches.csv", "diffs.txt"] {
        // The source column names each run's own capture file.
        let a = std::fs::read_to_string(text.out.join(file))
            .unwrap()
            .replace("text.jsonl", "value.jsonl");
        let b = std::fs::read_to_string(value.out.join(file)).unwrap();
        assert_eq!(a, b, "{file}");
    }
    let diffs = std::fs::read_to_string(text.out.join("diffs.txt")).unwrap();
    assert!(
        diffs.contains("caf\u{e9}") && diffs.contains("caf\u{e8}"),
        "{diffs}"
    );
}
