//! Reviewing runs: `cutover report`, `report show`, `report group`,
//! `report diff` and JUnit, as text (snapshots with the unstable parts
//! redacted) and as JSON.

use crate::util::*;
use serde_json::Value;
use std::path::Path;

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
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("report_text", text));

    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", run.to_str().unwrap(), "--json"]),
        1,
    ))
    .unwrap();
    assert_eq!(json["counts"], summary(&run)["counts"]);
    redactions(tmp.path()).bind(|| {
        insta::assert_json_snapshot!("report_json", json, {
            ".run_id" => "[RUN_ID]",
            ".run_dir" => "[TMP]",
            ".started_at" => "[TIME]",
            ".finished_at" => "[TIME]",
            ".duration_seconds" => "[DURATION]",
            ".records_per_second" => "[RATE]",
            ".latency_ms" => "[LATENCY]",
            ".slot_wait_ms" => "[LATENCY]",
            ".settings.traffic" => "[TRAFFIC]",
            ".settings.concurrency" => "[CORES]",
            ".settings.max_inflight_bytes" => "[MEMORY]",
            ".spec.run_id" => "[RUN_ID]",
            ".spec.cwd" => "[SANDBOX]",
            ".spec.out" => "[TMP]",
            ".spec.traffic" => "[TRAFFIC]",
            ".spec.concurrency" => "[CORES]",
            ".spec.max_inflight_bytes" => "[MEMORY]",
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
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("show_text", text));
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
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("show_side_by_side", side));
    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", "show", dir, "raise-0", "--json"]),
        0,
    ))
    .unwrap();
    redactions(tmp.path()).bind(|| {
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
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("group_text", group));
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
        let mut script = std::process::Command::new("script");
        script
            .args(["-qec", &command, "/dev/null"])
            .current_dir(sandbox());
        scrub(&mut script);
        let out = script.output().expect("script (util-linux) runs");
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
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("diff_text", text));
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

#[test]
fn counts_of_one_are_written_in_the_singular() {
    let tmp = tempdir();
    // One record accepted as a known difference, one candidate error: two
    // groups of one record each.
    let config = config_file(
        tmp.path(),
        "[[known]]\nname = \"upper\"\npath = \"/accepted/*\"\nreason = \"decided\"\n",
    );
    let two = capture(
        tmp.path(),
        "two.jsonl",
        &[
            record(
                "upper-0",
                serde_json::json!({"items": [" a "], "plant": "upper"}),
            ),
            record(
                "raise-0",
                serde_json::json!({"items": [" b "], "plant": "raise"}),
            ),
        ],
    );
    let run = tmp.path().join("run");
    replay_planted(
        &run,
        &two,
        "",
        &["--config", config.to_str().unwrap(), "--no-flags"],
    );
    let dir = run.to_str().unwrap();
    let report = stdout_of(&mut cutover_args(&["report", dir, "--top", "1"]), 1);
    assert!(report.contains("accepted 1 record  (decided)"), "{report}");
    assert!(
        report.contains("… 1 more group (cutover report "),
        "{report}"
    );
    let group = stdout_of(&mut cutover_args(&["report", "group", dir, "g1"]), 0);
    assert!(group.contains("\n  1 record ("), "{group}");
    let plural_after_one =
        regex::Regex::new(r"\b1 (more )?(records|groups|re-runs)([^/]|$)").unwrap();
    for text in [&report, &group] {
        assert!(!plural_after_one.is_match(text), "{text}");
    }
    // One record against the flags of the repository's flags.json: the
    // rollout and evidence lines count it in the singular too.
    let one = capture(
        tmp.path(),
        "one.jsonl",
        &[record(
            "upper-0",
            serde_json::json!({"items": [" a "], "plant": "upper"}),
        )],
    );
    let candidate = planted_candidate("");
    let replayed = stdout_of(
        &mut replay(
            &tmp.path().join("one"),
            &[one.to_str().unwrap(), "--candidate", &candidate],
        ),
        1,
    );
    assert!(
        replayed.contains("1 of 1 record against the candidate"),
        "{replayed}"
    );
    assert!(
        replayed.contains("fix the 1 record against the candidate"),
        "{replayed}"
    );
    assert!(!plural_after_one.is_match(&replayed), "{replayed}");
}

/// A copy of `run` at `to` with its `summary.json` changed by `edit`.
fn damaged_copy(run: &Path, to: &Path, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    copy_run(run, to);
    let mut s = summary(run);
    edit(&mut s);
    std::fs::write(to.join("summary.json"), s.to_string()).unwrap();
    to.to_owned()
}

/// Runs `args`, expects exit 2 (never a panic) and returns stderr.
fn fails_with_2(args: &[&str]) -> String {
    let out = cutover_args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err
}

#[test]
fn a_damaged_summary_is_exit_2_naming_the_file_never_a_panic() {
    let tmp = tempdir();
    let run = planted_run(tmp.path(), "run", "");
    let long = damaged_copy(&run, &tmp.path().join("long"), |s| {
        s["duration_seconds"] = serde_json::json!(1e300)
    });
    let xml = tmp.path().join("x.xml");
    for args in [
        vec![
            "report",
            long.to_str().unwrap(),
            "--junit",
            xml.to_str().unwrap(),
        ],
        vec!["report", long.to_str().unwrap()],
    ] {
        let err = fails_with_2(&args);
        assert!(
            err.contains(&format!("damaged: {}", long.join("summary.json").display()))
                && err.contains("duration_seconds"),
            "{err}"
        );
    }
    assert!(!xml.exists(), "no JUnit file from a damaged run");
    // Group counts that overflow, or that do not add up to the records that
    // did not match, are damage too.
    let huge = damaged_copy(&run, &tmp.path().join("huge"), |s| {
        s["groups"][0]["count"] = serde_json::json!(u64::MAX)
    });
    let err = fails_with_2(&[
        "report",
        "diff",
        run.to_str().unwrap(),
        huge.to_str().unwrap(),
    ]);
    assert!(
        err.contains(&format!("damaged: {}", huge.join("summary.json").display())),
        "{err}"
    );
    let uneven = damaged_copy(&run, &tmp.path().join("uneven"), |s| {
        s["counts"]["matched"] = serde_json::json!(0)
    });
    let err = fails_with_2(&["report", uneven.to_str().unwrap()]);
    assert!(err.contains("damaged: ") && err.contains("counts"), "{err}");
}

#[test]
fn a_truncated_or_padded_mismatches_csv_is_a_damaged_run() {
    let tmp = tempdir();
    let run = planted_run(tmp.path(), "run", "");
    let csv = std::fs::read(run.join("mismatches.csv")).unwrap();
    let rows_end: Vec<usize> = csv
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(rows_end.len(), 7, "a header and 6 rows");
    let last_row = rows_end[5];
    let cases: [(&str, Vec<u8>, &str); 3] = [
        // The last row lost at a line break: fewer rows than the summary.
        ("dropped", csv[..last_row].to_vec(), "has 5 rows"),
        // The last row cut in its last cell: as many rows, one of them cut.
        ("cut", csv[..csv.len() - 5].to_vec(), "cut mid-way"),
        // A row too many.
        (
            "padded",
            [&csv[..], &csv[rows_end[0]..rows_end[1]]].concat(),
            "has at least 7 rows",
        ),
    ];
    for (name, bytes, why) in cases {
        let dir = tmp.path().join(name);
        copy_run(&run, &dir);
        std::fs::write(dir.join("mismatches.csv"), &bytes).unwrap();
        let d = dir.to_str().unwrap();
        let file = format!("damaged: {}", dir.join("mismatches.csv").display());
        for args in [
            vec!["report", "group", d, "g1"],
            vec!["report", "show", d, "upper-0"],
            vec!["report", "group", d, "g1", "--json"],
            vec!["report", d, "--html"],
        ] {
            let err = fails_with_2(&args);
            assert!(
                err.contains(&file) && err.contains(why),
                "{name} {args:?}: {err}"
            );
        }
    }
}

/// Two runs whose failing records do not overlap, in one group of the same
/// signature that shrank (4 → 3): every record is listed, fixed or new,
/// and the new ones fail the comparison (exit 1), in text, `--json` and
/// `--junit`, whatever the group counts say.
#[test]
fn report_diff_on_disjoint_failing_records_exits_1_and_lists_them() {
    let tmp = tempdir();
    let mut lines = Vec::new();
    // `flaky` is upper-cased on its first call: with one worker and each
    // input once, the same bug as `upper`, fixed on its own.
    for (plant, n) in [("upper", 4), ("flaky", 3)] {
        for i in 0..n {
            lines.push(record(
                &format!("{plant}-{i}"),
                serde_json::json!({"items": [format!(" item {i} ")], "plant": plant}),
            ));
        }
    }
    let capture = capture(tmp.path(), "disjoint.jsonl", &lines);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    replay_planted(&a, &capture, "--fixed flaky", &["--workers", "1"]);
    replay_planted(&b, &capture, "--fixed upper", &["--workers", "1"]);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let junit = tmp.path().join("diff.xml");
    let text = stdout_of(
        &mut cutover_args(&["report", "diff", a, b, "--junit", junit.to_str().unwrap()]),
        1,
    );
    assert!(text.contains("shrank"), "{text}");
    assert!(
        text.contains("records: 3 new, 0 changed, 4 fixed, 0 still failing"),
        "{text}"
    );
    for id in ["flaky-0", "flaky-1", "flaky-2", "upper-0", "upper-3"] {
        assert!(text.contains(id), "{id} listed: {text}");
    }
    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", "diff", a, b, "--json"]),
        1,
    ))
    .unwrap();
    assert_eq!(json["records"]["tally"]["new"], 3, "{json}");
    assert_eq!(json["records"]["tally"]["fixed"], 4, "{json}");
    let new: Vec<&str> = json["records"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["change"] == "new")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(new, ["flaky-0", "flaky-1", "flaky-2"]);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    assert_eq!(report.test_suites[0].failures, 3, "{xml}");
    // The same run against itself: nothing new, exit 0.
    stdout_of(&mut cutover_args(&["report", "diff", b, b]), 0);
}
