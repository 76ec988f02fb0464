//! Reviewing runs: `cutover report`, `report show`, `report group`,
//! `report diff` and JUnit, as text (snapshots with the unstable parts
//! redacted) and as JSON.

use crate::util::*;
use serde_json::Value;
use std::path::Path;

/// Insta settings that hide what changes from run to run: run ids and
/// timestamps, the temporary directory, durations, rates and latencies.
fn redacted(dir: &Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex::escape(&dir.display().to_string()), "[TMP]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d[-:]\d\d[-:]\d\d\.\d{3}Z", "[TIME]");
    s.add_filter(r"\d+\.\d\ds · \d+ records/s", "[DURATION]");
    // The whole line: the numbers' widths (and so the spaces before them)
    // depend on how fast the machine was.
    s.add_filter(r"(?m)^  legacy +[0-9. ]+$", "  legacy        [LATENCY]");
    s.add_filter(r"(?m)^  candidate +[0-9. ]+$", "  candidate     [LATENCY]");
    s.add_filter(r"in \d+\.\d\ds", "in [DURATION]");
    s
}

fn planted_run(tmp: &Path, name: &str, extra: &str) -> std::path::PathBuf {
    let capture = planted_capture(tmp);
    let out = tmp.join(name);
    replay_planted(&out, &capture, extra, &["--workers", "1"]);
    out
}

#[test]
fn report_prints_the_run_its_groups_and_exits_like_the_run() {
    let tmp = tempdir();
    let run = planted_run(tmp.path(), "run", "");
    let text = stdout_of(&mut cutover_args(&["report", run.to_str().unwrap()]), 1);
    assert!(
        !text.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
    redacted(tmp.path()).bind(|| insta::assert_snapshot!("report_text", text));

    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", run.to_str().unwrap(), "--json"]),
        1,
    ))
    .unwrap();
    assert_eq!(json["counts"], summary(&run)["counts"]);
    redacted(tmp.path()).bind(|| {
        insta::assert_json_snapshot!("report_json", json, {
            ".run_id" => "[RUN_ID]",
            ".run_dir" => "[TMP]",
            ".started_at" => "[TIME]",
            ".finished_at" => "[TIME]",
            ".duration_seconds" => "[DURATION]",
            ".records_per_second" => "[RATE]",
            ".latency_ms" => "[LATENCY]",
            ".settings.traffic" => "[TRAFFIC]",
            ".settings.concurrency" => "[CORES]",
            ".settings.max_inflight_bytes" => "[MEMORY]",
            ".rollout.state_fetched_at" => "[TIME]",
        })
    });

    // A clean run exits 0; `latest` finds the newest run under --reports-dir.
    let reports = tmp.path().join("reports");
    cutover_args(&[
        "replay",
        "--no-progress",
        "--reports-dir",
        reports.to_str().unwrap(),
    ])
    .assert()
    .code(0);
    let text = stdout_of(
        &mut cutover_args(&["report", "--reports-dir", reports.to_str().unwrap()]),
        0,
    );
    assert!(
        text.contains("no mismatch groups: every record matched"),
        "{text}"
    );
    assert!(text.contains("result: no differences (exit 0)"), "{text}");
}

#[test]
fn report_show_and_group_print_the_input_and_a_diff() {
    let tmp = tempdir();
    let run = planted_run(tmp.path(), "run", "");
    let dir = run.to_str().unwrap();
    let text = stdout_of(&mut cutover_args(&["report", "show", dir, "upper-1"]), 0);
    redacted(tmp.path()).bind(|| insta::assert_snapshot!("show_text", text));
    let side = stdout_of(
        &mut cutover_args(&[
            "report",
            "show",
            dir,
            "upper-1",
            "--side-by-side",
            "--width",
            "90",
        ]),
        0,
    );
    redacted(tmp.path()).bind(|| insta::assert_snapshot!("show_side_by_side", side));
    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", "show", dir, "raise-0", "--json"]),
        0,
    ))
    .unwrap();
    redacted(tmp.path()).bind(|| {
        insta::assert_json_snapshot!("show_json", json, {
            ".run_id" => "[RUN_ID]",
            ".run_dir" => "[TMP]",
            ".records[].source" => "[TRAFFIC]",
        })
    });
    let group = stdout_of(
        &mut cutover_args(&["report", "group", dir, "g1", "--limit", "2"]),
        0,
    );
    redacted(tmp.path()).bind(|| insta::assert_snapshot!("group_text", group));
    // Groups can be named by signature too.
    let by_sig = stdout_of(
        &mut cutover_args(&[
            "report",
            "group",
            dir,
            "candidate_error ValueError",
            "--json",
        ]),
        0,
    );
    let by_sig: Value = serde_json::from_str(&by_sig).unwrap();
    assert_eq!(by_sig["matches"], 2);
    assert_eq!(by_sig["records"][0]["id"], "raise-0");

    // Colour only when asked (stdout is a pipe here), with word highlights.
    let coloured = stdout_of(
        &mut cutover_args(&["report", "show", dir, "upper-1", "--color", "always"]),
        0,
    );
    assert!(coloured.contains("\u{1b}["), "{coloured}");

    // Not found: exit 1 for an id (it may have matched), 2 for a group.
    let out = cutover_args(&["report", "show", dir, "clean-0"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("no non-matching record has id \"clean-0\""),
        "{err}"
    );
    let out = cutover_args(&["report", "group", dir, "g9"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("no group \"g9\"") && err.contains("g1, g2, g3"),
        "{err}"
    );
    let out = cutover_args(&[
        "report",
        "nope",
        "--reports-dir",
        tmp.path().to_str().unwrap(),
    ])
    .assert()
    .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("run \"nope\" not found"), "{err}");
}

#[test]
fn colour_and_pager_follow_the_terminal_and_no_color() {
    // `script` gives the command a real terminal on stdout.
    let bin = assert_cmd::cargo::cargo_bin("cutover");
    let tmp = tempdir();
    let run = planted_run(tmp.path(), "run", "");
    let on_tty = |env: &str| {
        let command = format!(
            "{env} {} report show {} upper-1",
            bin.display(),
            run.display()
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(repo())
            .env_remove("NO_COLOR")
            .output()
            .expect("script (util-linux) runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty("PAGER=cat");
    assert!(
        coloured.contains("\u{1b}[31m"),
        "colour on a terminal: {coloured}"
    );
    let plain = on_tty("PAGER=cat NO_COLOR=1");
    assert!(!plain.contains("\u{1b}[3"), "NO_COLOR wins: {plain}");
    assert!(plain.contains("-    \"upper 1\""), "{plain}");
    // On a terminal the text goes through $PAGER.
    let paged = on_tty("PAGER='sed s/^/paged:/' NO_COLOR=1");
    assert!(paged.contains("paged:record upper-1"), "{paged}");
}

#[test]
fn report_diff_shows_the_group_a_fix_removed() {
    let tmp = tempdir();
    let before = planted_run(tmp.path(), "before", "");
    let after = planted_run(tmp.path(), "after", "--fixed upper");
    let (a, b) = (before.to_str().unwrap(), after.to_str().unwrap());
    let text = stdout_of(&mut cutover_args(&["report", "diff", a, b]), 0);
    redacted(tmp.path()).bind(|| insta::assert_snapshot!("diff_text", text));
    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", "diff", a, b, "--json"]),
        0,
    ))
    .unwrap();
    assert_eq!(json["same_traffic"], true);
    assert_eq!(json["tally"]["disappeared"], 1);
    assert_eq!(json["tally"]["unchanged"], 2);
    assert_eq!(json["groups"][0]["change"], "disappeared");
    assert_eq!(
        json["groups"][0]["signature"],
        "mismatch /accepted/* changed"
    );
    assert_eq!(json["groups"][0]["a"]["count"], 3);
    assert_eq!(json["groups"][0]["b"], Value::Null);
    // The other way round the group appeared: a regression, exit 1. The
    // labels differ between the runs; matching is by signature.
    let back: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", "diff", b, a, "--json"]),
        1,
    ))
    .unwrap();
    assert_eq!(back["tally"]["appeared"], 1);
    let unchanged: Vec<&Value> = back["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["change"] == "unchanged")
        .collect();
    assert!(
        unchanged.iter().any(|g| g["a"]["group"] != g["b"]["group"]),
        "{back}"
    );
}

#[test]
fn junit_has_one_case_per_group_and_fails_on_mismatch_groups() {
    let tmp = tempdir();
    let capture = planted_capture(tmp.path());
    let out = tmp.path().join("run");
    let xml_path = tmp.path().join("replay.xml");
    replay(
        &out,
        &[
            capture.to_str().unwrap(),
            "--candidate",
            &planted_candidate(""),
            "--junit",
            xml_path.to_str().unwrap(),
        ],
    )
    .assert()
    .code(1);
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    let suite = &report.test_suites[0];
    let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        suite.test_cases.len(),
        4,
        "3 groups + rejected lines: {names:?}"
    );
    assert_eq!(suite.failures, 3, "{xml}");
    assert!(
        names.contains(&"g1: mismatch /accepted/* changed"),
        "{names:?}"
    );
    assert!(xml.contains("cutover report group"), "{xml}");
    // `report --junit` writes the same suite from the run directory.
    let again = tmp.path().join("report.xml");
    cutover_args(&[
        "report",
        out.to_str().unwrap(),
        "--junit",
        again.to_str().unwrap(),
    ])
    .assert()
    .code(1);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), xml);
}
