//! Differences inside strings, as every view shows them: real lines and
//! char-level highlights for the real HTML of two Markdown renderers
//! (Python-Markdown and mistune, left to scripts/test like the other text
//! tests), and learned noise marked where the differing paths are listed.

use crate::text::{corpus_installed, CANDIDATE, LEGACY, NEEDS};
use crate::util::*;
use serde_json::{json, Value};

/// Python-Markdown renders `*£*b` as `<em>£</em>b`, mistune leaves it as
/// text (an intraword `*` after a non-ASCII character); mistune also ends
/// with a line break. Both answers are multi-line HTML.
const DOC: &str = "# Title\n\nsome *£*b text\n\n> quoted\n> more\n\nend";

#[test]
fn string_diffs_of_real_html_show_real_lines_and_only_the_changed_characters() {
    if left_to_scripts_test(NEEDS) {
        return;
    }
    corpus_installed();
    let tmp = tempdir();
    let ran = Replay::new(tmp.path())
        .records("doc.jsonl", &[record("doc-1", json!({ "text": DOC }))])
        .legacy(LEGACY)
        .candidate(CANDIDATE)
        .run(1);
    let dir = ran.out.to_str().unwrap();
    // diffs.txt: the string's own lines, not one JSON-escaped line.
    let diffs = std::fs::read_to_string(ran.out.join("diffs.txt")).unwrap();
    let inside = &diffs[diffs
        .find("--- string /html (lines;")
        .unwrap_or_else(|| panic!("no string diff in diffs.txt:\n{diffs}"))..];
    assert!(
        inside.contains("\n-<p>some <em>£</em>b text</p>\n+<p>some *£*b text</p>\n"),
        "{inside}"
    );
    assert!(
        inside.contains("\n <h1>Title</h1>\n"),
        "context lines: {inside}"
    );
    assert!(
        inside.contains("(candidate ends with a line break, legacy does not)"),
        "{inside}"
    );
    assert!(!inside.contains("\\n<"), "no escaped line breaks: {inside}");
    // The terminal.
    let text = stdout_of(
        &mut cutover_args(&["report", "show", dir, "doc-1", "--no-pager"]),
        0,
    );
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("string_diff_text", text));
    // --json carries the hunks; only the tags are emphasized.
    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", "show", dir, "doc-1", "--json"]),
        0,
    ))
    .unwrap();
    let strings = &json["records"][0]["strings"];
    insta::assert_json_snapshot!("string_diff_json", strings);
    let lines = strings["fields"][0]["hunks"][0]["lines"]
        .as_array()
        .unwrap();
    let marked = |kind: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["kind"] == kind)
            .flat_map(|l| l["segments"].as_array().unwrap().clone())
            .filter(|s| s["emphasized"] == true)
            .map(|s| s["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(marked("removed"), ["<em>", "</em>"]);
    assert_eq!(marked("added"), ["*", "*"]);
    // The page: the string's hunks, the tags marked, escaped by askama.
    let page = std::fs::read_to_string(ran.out.join("index.html")).unwrap();
    assert!(page.contains(r#"<div class="strdiff" data-path="/html">"#));
    assert!(
        page.contains("<mark>&lt;em&gt;</mark>£<mark>&lt;/em&gt;</mark>b text"),
        "the page marks the tags alone"
    );
}

#[test]
fn noise_paths_are_marked_in_report_show_diffs_txt_and_the_page() {
    let tmp = tempdir();
    let ran = Replay::new(tmp.path())
        .records(
            "noisy.jsonl",
            &[record(
                "real-0",
                json!({"items": [" w "], "plant": "upper"}),
            )],
        )
        .legacy("worker:python3 fixtures/doubles/planted_worker.py --noise --no-plants")
        .candidate("worker:python3 fixtures/doubles/planted_worker.py --noise")
        .args(&["--noise-probe"])
        .run(1);
    let marked = "/accepted/0 changed; /request_id changed (noise); /served_at changed (noise)";
    assert_eq!(ran.rows()[0]["paths"], marked);
    let dir = ran.out.to_str().unwrap();
    let text = stdout_of(
        &mut cutover_args(&["report", "show", dir, "real-0", "--no-pager"]),
        0,
    );
    assert!(text.contains(&format!("  paths    {marked}\n")), "{text}");
    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", "show", dir, "real-0", "--json"]),
        0,
    ))
    .unwrap();
    assert_eq!(json["records"][0]["paths"], marked);
    let diffs = std::fs::read_to_string(ran.out.join("diffs.txt")).unwrap();
    assert!(diffs.contains(&format!(" paths: {marked}\n")), "{diffs}");
    let page = std::fs::read_to_string(ran.out.join("index.html")).unwrap();
    assert!(
        page.contains(&format!(r#"paths: <span class="mono">{marked}</span>"#)),
        "the page lists the paths with the noise marked"
    );
}
