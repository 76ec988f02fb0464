//! The HTML report in a real browser: Debian's chromium, headless, driven by
//! `tests/browser/check_report.mjs` (playwright-core, installed by
//! scripts/test with `npm ci`). Under scripts/test it fails, never skips,
//! when chromium or the driver is missing; a plain `cargo test` leaves it
//! to scripts/test, saying so ([`left_to_scripts_test`]).
//!
//! Screenshots land in `reports/browser-test/` (git-ignored) beside a copy
//! of the page they show.

use crate::util::*;
use serde_json::{json, Value};
use std::path::Path;

/// Payloads a hostile capture could carry; each tries to run code that sets
/// `window.__xss` or changes the title.
const PAYLOADS: [&str; 7] = [
    "<script>window.__xss=1;document.title='pwned'</script>",
    "\"><img src=x onerror=\"window.__xss=2;document.title='pwned'\">",
    "</script><script>window.__xss=3</script>",
    "<svg onload=\"window.__xss=4\"></svg>",
    "javascript:window.__xss=5",
    "<a href=\"javascript:window.__xss=6\">click</a>",
    "\u{2028}\u{2029}<!-- ]]> {{7*7}} ${7*7}",
];

fn check_page(page: &Path, shots: &Path) -> Value {
    check_page_searching(page, shots, &[])
}

/// [`check_page`], then types each of `searches` into the filter box.
fn check_page_searching(page: &Path, shots: &Path, searches: &[&str]) -> Value {
    let script = repo().join("tests/browser/check_report.mjs");
    assert!(
        repo()
            .join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (scripts/test does)"
    );
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(page)
        .arg(shots)
        .arg("candidate_error")
        .arg(serde_json::to_string(searches).unwrap())
        .current_dir(repo())
        .output()
        .expect("node runs (scripts/test installs Node.js if missing)");
    assert!(
        out.status.success(),
        "the browser check failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("the check prints JSON")
}

fn shots_dir(name: &str) -> std::path::PathBuf {
    let dir = repo().join("reports/browser-test").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_page_shows_the_summary_counts_and_a_diff_and_runs_no_captured_code() {
    if left_to_scripts_test("Chromium and playwright-core") {
        return;
    }
    let tmp = tempdir();
    let mut lines = Vec::new();
    // Payloads in ids, keys and inputs; the planted candidate upper-cases
    // accepted items (outputs carry them too) or raises an error whose
    // message quotes them.
    for (i, p) in PAYLOADS.iter().enumerate() {
        lines.push(
            json!({"id": p, "key": PAYLOADS[(i + 1) % PAYLOADS.len()],
                   "input": {"items": [p, format!("x{i}")], "plant": "upper"}})
            .to_string(),
        );
        lines.push(
            json!({"id": format!("err-{i}"), "key": p,
                   "input": {"items": [p], "plant": "echo_error"}})
            .to_string(),
        );
    }
    for i in 0..5 {
        lines.push(record(&format!("ok-{i}"), json!({"items": [" fine "]})));
    }
    lines.push("{\"id\": \"<b>bad line</b>\", \"input\": ".to_owned()); // rejected
    let capture = capture(tmp.path(), "hostile.jsonl", &lines);
    let run = tmp.path().join("run");
    replay_planted(&run, &capture, "", &[]);
    let s = summary(&run);
    assert_eq!(count(&s, "mismatched"), PAYLOADS.len() as u64);
    assert_eq!(count(&s, "candidate_errors"), PAYLOADS.len() as u64);
    let shots = shots_dir("hostile");
    std::fs::copy(run.join("index.html"), shots.join("index.html")).unwrap();
    let page = check_page(&run.join("index.html"), &shots);

    // Nothing ran, nothing was fetched, nothing was injected.
    assert_eq!(page["xss"], Value::Null, "a payload ran: {}", page["xss"]);
    assert_eq!(
        page["title"],
        format!("cutover run {}", s["run_id"].as_str().unwrap())
    );
    assert_eq!(page["dialogs"], json!([]));
    assert_eq!(page["errors"], json!([]), "page errors");
    assert_eq!(
        page["console"],
        json!([]),
        "console (CSP reports land here)"
    );
    let requests: Vec<&str> = page["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        requests,
        vec![page["url"].as_str().unwrap()],
        "only the page itself is loaded"
    );
    assert_eq!(page["scripts"], 1, "only the page's own script");
    assert_eq!(page["script_srcs"], json!([]));
    assert_eq!(page["imgs"], 0);
    assert_eq!(page["iframes"], 0);
    assert_eq!(
        page["svg_count"], 2,
        "the two latency charts, no injected svg"
    );
    assert_eq!(page["event_handler_attributes"], json!([]));
    for link in page["links"].as_array().unwrap() {
        assert!(link.as_str().unwrap().starts_with("#group-"), "{link}");
    }
    // The payloads show as text, escaped, where a reviewer can read them
    // (visible, or inside a record still collapsed).
    let visible = page["text"].as_str().unwrap();
    assert!(
        visible.contains(PAYLOADS[0]),
        "an id in a record's summary line"
    );
    let text = page["all_text"].as_str().unwrap();
    for p in &PAYLOADS[..6] {
        assert!(text.contains(p), "{p:?} is not shown as text");
    }
    assert!(text.contains("<SCRIPT>WINDOW.__XSS=1;DOCUMENT.TITLE='PWNED'</SCRIPT>"));
    assert!(
        text.contains("cannot take ['</script><script>window.__xss=3</script>']"),
        "error messages carry payloads too: {text}"
    );

    // The counts shown are summary.json's.
    for (name, value) in page["counts"].as_object().unwrap() {
        assert_eq!(*value, s["counts"][name], "count {name}");
    }
    for name in [
        "read",
        "matched",
        "mismatched",
        "candidate_errors",
        "rejected",
    ] {
        assert!(page["counts"].get(name).is_some(), "{name} is shown");
    }
    assert_eq!(page["counts"]["rejected"], 1);
    for g in s["groups"].as_array().unwrap() {
        assert_eq!(
            page["group_counts"][g["group"].as_str().unwrap()],
            g["count"]
        );
    }

    // Expanding a mismatch shows its side-by-side diff, changes marked.
    let e = &page["expanded"];
    assert_eq!(e["visible_before"], false);
    assert_eq!(e["visible_after"], true);
    assert!(e["removed_cells"].as_u64().unwrap() >= 1, "{e}");
    assert!(e["added_cells"].as_u64().unwrap() >= 1, "{e}");
    assert!(
        e["marks"].as_u64().unwrap() >= 1,
        "changed words highlighted: {e}"
    );
    assert!(
        e["diff_text"]
            .as_str()
            .unwrap()
            .contains("<SCRIPT>WINDOW.__XSS=1"),
        "{e}"
    );

    // Below it, the diff inside the changed string, its changed characters
    // marked (the planted candidate upper-cases the first item).
    let strings = e["strings"].as_array().unwrap();
    let first = &strings[0];
    assert_eq!(first["path"], "/accepted/0", "{e}");
    assert_eq!(first["visible"], true, "{e}");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("string /accepted/0 (characters;"),
        "{e}"
    );
    assert!(!first["marked_text"].as_array().unwrap().is_empty(), "{e}");

    // The filter box narrows the groups.
    assert_eq!(page["filter"]["visible_groups"], 1, "{}", page["filter"]);
    assert!(page["filter"]["status"]
        .as_str()
        .unwrap()
        .starts_with("1 of 2 groups"));
    for shot in page["screenshots"].as_array().unwrap() {
        let bytes = std::fs::read(shot.as_str().unwrap()).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{shot}"
        );
    }
}

#[test]
fn the_worked_migration_page_matches_its_summary() {
    if left_to_scripts_test("Chromium and playwright-core") {
        return;
    }
    let tmp = tempdir();
    let run = tmp.path().join("run");
    replay(&run, &["--candidate", "builtin:normalize-naive"])
        .assert()
        .code(1);
    let s = summary(&run);
    let shots = shots_dir("naive");
    std::fs::copy(run.join("index.html"), shots.join("index.html")).unwrap();
    let page = check_page(&run.join("index.html"), &shots);
    for (name, value) in page["counts"].as_object().unwrap() {
        assert_eq!(*value, s["counts"][name], "count {name}");
    }
    assert_eq!(page["counts"]["mismatched"], 613);
    let groups = s["groups"].as_array().unwrap();
    assert_eq!(
        page["group_counts"].as_object().unwrap().len(),
        groups.len()
    );
    let samples: u64 = groups
        .iter()
        .map(|g| g["count"].as_u64().unwrap().min(10))
        .sum();
    assert_eq!(
        page["record_count"], samples,
        "10 samples per group at most"
    );
    assert_eq!(page["errors"], json!([]));
    assert_eq!(page["console"], json!([]));
    let e = &page["expanded"];
    assert!(e["diff_text"].as_str().unwrap().contains("\\u001"), "{e}");
    assert!(page["text"]
        .as_str()
        .unwrap()
        .contains("shows its first 10 records at most"));
}

#[test]
fn the_page_counts_one_group_in_the_singular() {
    if left_to_scripts_test("Chromium and playwright-core") {
        return;
    }
    let tmp = tempdir();
    let run = one_mismatch_run(tmp.path());
    let page = check_page(&run.join("index.html"), &shots_dir("one-group"));
    assert_eq!(page["filter_status_initial"], "1 group", "{page}");
    let text = page["text"].as_str().unwrap();
    assert!(text.contains(" 1 record ("), "{text}");
    assert!(text.contains(": 1 call by latency"), "{text}");
    assert_eq!(
        page["filter"]["status"], "0 of 1 group, 0 sampled records match",
        "{}",
        page["filter"]
    );
}

/// The filter box finds any non-matching record by its exact id: a sampled
/// one alone (not the records whose ids merely contain it), an unsampled
/// one with its group and the `cutover report show` command (a hostile id
/// shell-quoted, shown as text), and an id that is no non-matching
/// record's said to be none. A group header naming an unsampled id (its
/// last id) is never a match for it.
#[test]
fn the_filter_finds_every_non_matching_id_sampled_or_not() {
    if left_to_scripts_test("Chromium and playwright-core") {
        return;
    }
    let tmp = tempdir();
    let hostile = "it's <b>x</b> $(touch pwned)\u{1b}[2J";
    // One group of 14: rec-1 .. rec-10 sampled, rec-11, rec-12, the hostile
    // id and rec-14 not.
    let mut ids: Vec<String> = (1..=12).map(|i| format!("rec-{i}")).collect();
    ids.push(hostile.to_owned());
    ids.push("rec-14".to_owned());
    let mut lines: Vec<String> = ids
        .iter()
        .map(|id| record(id, json!({"items": [format!("x {id}")], "plant": "upper"})))
        .collect();
    lines.push(record("clean-1", json!({"items": [" fine "]})));
    let capture = capture(tmp.path(), "ids.jsonl", &lines);
    let run = tmp.path().join("run");
    replay_planted(&run, &capture, "", &["--no-flags"]);
    let s = summary(&run);
    assert_eq!(s["groups"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["groups"][0]["last_id"], "rec-14");
    let run_id = s["run_id"].as_str().unwrap();
    let shots = shots_dir("search");
    std::fs::copy(run.join("index.html"), shots.join("index.html")).unwrap();
    let page = check_page_searching(
        &run.join("index.html"),
        &shots,
        &["rec-1", "rec-14", hostile, "clean-1", "no-such-id"],
    );
    assert_eq!(page["errors"], json!([]), "page errors");
    assert_eq!(
        page["console"],
        json!([]),
        "console (CSP reports land here)"
    );
    assert_eq!(page["xss"], Value::Null);
    assert_eq!(page["record_count"], 10, "ten sampled");
    let text = page["text"].as_str().unwrap();
    assert!(
        text.contains("holds 14 of 14 non-matching record ids"),
        "{text}"
    );
    let search = |i: usize| page["searches"][i].clone();

    // Sampled: that record alone, not rec-10, rec-11, ... that contain it.
    let sampled = search(0);
    assert_eq!(sampled["visible_records"], json!(["rec-1"]), "{sampled}");
    assert_eq!(sampled["visible_groups"], json!(["g1"]), "{sampled}");
    assert_eq!(sampled["command_visible"], false, "{sampled}");
    assert!(
        sampled["status"]
            .as_str()
            .unwrap()
            .contains("1 sampled record has this id"),
        "{sampled}"
    );

    // Not sampled (though the group header names it as its last id): no
    // record shown, the group named, the command given.
    let unsampled = search(1);
    assert_eq!(unsampled["visible_records"], json!([]), "{unsampled}");
    assert_eq!(unsampled["visible_groups"], json!([]), "{unsampled}");
    let message = unsampled["message"].as_str().unwrap();
    assert!(
        message.contains("\u{201c}rec-14\u{201d} is in g1 (mismatch) but not sampled on this page"),
        "{unsampled}"
    );
    assert_eq!(unsampled["command_visible"], true);
    assert_eq!(
        unsampled["command"],
        format!("cutover report show {} rec-14", shell_words::quote(run_id))
    );

    // A hostile id: found, shown as text, its command shell-quoted the
    // crate's way (escaped, then quoted).
    let h = search(2);
    assert_eq!(h["visible_records"], json!([]), "{h}");
    assert!(h["message"].as_str().unwrap().contains(hostile), "{h}");
    let expected = format!(
        "cutover report show {} {}",
        shell_words::quote(run_id),
        shell_words::quote("it's <b>x</b> $(touch pwned)\\x1b[2J")
    );
    assert_eq!(h["command"], expected.as_str(), "{h}");

    // A record that matched, and an id no record has: said to be none.
    for i in [3, 4] {
        let none = search(i);
        let q = none["query"].as_str().unwrap();
        assert_eq!(none["visible_records"], json!([]), "{none}");
        assert_eq!(none["result_visible"], true, "{none}");
        assert!(
            none["message"].as_str().unwrap().starts_with(&format!(
                "No non-matching record has the id \u{201c}{q}\u{201d}"
            )),
            "{none}"
        );
        assert_eq!(none["command_visible"], false, "{none}");
    }
}
