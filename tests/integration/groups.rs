//! Mismatch groups: labels numbered by size, the same in every output, and
//! `--group-by`.

use crate::util::*;
use serde_json::json;
use std::collections::HashMap;

/// A capture whose first group to appear is the smaller one: `r0` and `r7`
/// (a separator the naive port keeps, alone: added/removed), `r1`..`r6`
/// (a separator inside a word: changed).
fn small_group_first(dir: &std::path::Path) -> Replay {
    let lines: Vec<String> = (0..8)
        .map(|i| {
            let item = if i == 0 || i == 7 {
                "\u{1f}"
            } else {
                "\u{1c}sep"
            };
            record(&format!("r{i}"), json!({ "items": [item] }))
        })
        .collect();
    Replay::new(dir)
        .records("t.jsonl", &lines)
        .candidate("builtin:normalize-naive")
}

/// Each label in `summary.json`'s groups, by signature.
fn labels_by_signature(summary: &serde_json::Value) -> HashMap<String, String> {
    group_list(summary)
        .into_iter()
        .map(|(label, signature, _)| (signature, label))
        .collect()
}

#[test]
fn group_labels_are_numbered_by_size_in_every_output() {
    let tmp = tempdir();
    let ran = small_group_first(tmp.path()).run(1);
    let groups = ran.summary["groups"].as_array().unwrap();
    let listed: Vec<(&str, u64)> = groups
        .iter()
        .map(|g| (g["group"].as_str().unwrap(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(listed, [("g1", 6), ("g2", 2)], "g1 is the largest");
    let labels = labels_by_signature(&ran.summary);
    // mismatches.csv: every row carries its group's final label.
    let rows = ran.rows();
    assert_eq!(rows.len(), 8);
    for row in &rows {
        assert_eq!(row["group"], labels[&row["signature"]], "{row:?}");
    }
    assert_eq!(rows[0]["group"], "g2");
    assert_eq!(rows[1]["group"], "g1");
    // diffs.txt: the same labels in the headers, the diffs untouched.
    let diffs = std::fs::read_to_string(ran.out.join("diffs.txt")).unwrap();
    let heads: Vec<&str> = diffs.lines().filter(|l| l.starts_with("=== ")).collect();
    assert_eq!(heads.len(), 8);
    assert!(heads[0].contains("id=\"r0\"") && heads[0].contains(" group=g2 "));
    assert!(heads[1].contains("id=\"r1\"") && heads[1].contains(" group=g1 "));
    assert!(heads[7].contains("id=\"r7\"") && heads[7].contains(" group=g2 "));
    // The review commands read the same labels back.
    let run = ran.out.to_str().unwrap();
    let g1 = stdout_of(&mut cutover_args(&["report", "group", run, "g1"]), 0);
    assert!(g1.contains("r1") && !g1.contains("r0"), "{g1}");
    let g2 = stdout_of(&mut cutover_args(&["report", "group", run, "g2"]), 0);
    assert!(g2.contains("r0") && g2.contains("r7"), "{g2}");
    // The page lists the samples under the final labels.
    let page = std::fs::read_to_string(ran.out.join("index.html")).unwrap();
    let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle}"));
    let (g1, g2) = (at("id=\"group-g1\""), at("id=\"group-g2\""));
    let (r0, r1) = (
        at("<span class=\"mono\">r0</span>"),
        at("<span class=\"mono\">r1</span>"),
    );
    assert!(g1 < r1 && r1 < g2 && g2 < r0, "r1 under g1, r0 under g2");
}

#[test]
fn group_labels_do_not_depend_on_concurrency() {
    let tmp = tempdir();
    let a = small_group_first(tmp.path())
        .out(&tmp.path().join("c1"))
        .args(&["--concurrency", "1"])
        .run(1);
    let b = small_group_first(tmp.path())
        .out(&tmp.path().join("c64"))
        .args(&["--concurrency", "64", "--workers", "2"])
        .run(1);
    assert_eq!(a.summary["groups"], b.summary["groups"]);
    for file in ["mismatches.csv", "diffs.txt"] {
        assert_eq!(
            std::fs::read(a.out.join(file)).unwrap(),
            std::fs::read(b.out.join(file)).unwrap(),
            "{file}"
        );
    }
}

/// One bug (a separator inside a word) in records of two languages.
fn two_languages(dir: &std::path::Path) -> Replay {
    let lines: Vec<String> = (0..6)
        .map(|i| {
            let lang = if i % 3 == 0 { "fr" } else { "en" };
            record(
                &format!("r{i}"),
                json!({ "items": ["\u{1c}sep"], "lang": lang }),
            )
        })
        .collect();
    Replay::new(dir)
        .records("t.jsonl", &lines)
        .candidate("builtin:normalize-naive")
}

#[test]
fn group_by_an_input_pointer_splits_groups_by_its_value() {
    let tmp = tempdir();
    let plain = two_languages(tmp.path())
        .out(&tmp.path().join("plain"))
        .run(1);
    assert_eq!(
        group_list(&plain.summary).len(),
        1,
        "content alone: one group"
    );
    let ran = two_languages(tmp.path())
        .args(&["--group-by", "input:/lang"])
        .run(1);
    let content = &group_list(&plain.summary)[0].1;
    assert_eq!(
        group_list(&ran.summary),
        [
            ("g1".into(), format!("[input:/lang \"en\"] {content}"), 4),
            ("g2".into(), format!("[input:/lang \"fr\"] {content}"), 2),
        ]
    );
    assert_eq!(ran.summary["spec"]["group_by"], "input:/lang");
    // Each row carries its group; its own signature stays the content's.
    for row in ran.rows() {
        let fr = ["r0", "r3"].contains(&row["id"].as_str());
        assert_eq!(row["group"], if fr { "g2" } else { "g1" }, "{row:?}");
        assert_eq!(&row["signature"], content);
    }
    // Review reads the grouping back from the run.
    let run = ran.out.to_str().unwrap();
    let g2 = stdout_of(&mut cutover_args(&["report", "group", run, "g2"]), 0);
    assert!(g2.contains("r3") && !g2.contains("r1"), "{g2}");
}

#[test]
fn group_by_comes_from_the_config_file() {
    let tmp = tempdir();
    config_file(tmp.path(), "[replay]\ngroup_by = \"input:/lang\"\n");
    let ran = two_languages(tmp.path())
        .args(&[
            "--config",
            tmp.path().join("cutover.toml").to_str().unwrap(),
        ])
        .run(1);
    assert_eq!(group_list(&ran.summary).len(), 2);
    assert_eq!(ran.summary["spec"]["group_by"], "input:/lang");
    // The flag wins over the file.
    let flag = two_languages(tmp.path())
        .out(&tmp.path().join("flag"))
        .args(&[
            "--config",
            tmp.path().join("cutover.toml").to_str().unwrap(),
        ])
        .args(&["--group-by", "signature"])
        .run(1);
    assert_eq!(group_list(&flag.summary).len(), 1);
}

#[test]
fn a_bad_group_by_is_exit_2_naming_the_flag_or_the_key() {
    let tmp = tempdir();
    let err = stderr_of(
        &mut two_languages(tmp.path())
            .args(&["--group-by", "input:lang"])
            .command(),
        2,
    );
    assert!(
        err.contains("--group-by") && err.contains("JSON Pointer"),
        "{err}"
    );
    config_file(tmp.path(), "[replay]\ngroup_by = \"input:/a/*\"\n");
    let err = stderr_of(
        &mut two_languages(tmp.path())
            .args(&[
                "--config",
                tmp.path().join("cutover.toml").to_str().unwrap(),
            ])
            .command(),
        2,
    );
    assert!(
        err.contains("group_by") && err.contains("cutover.toml"),
        "{err}"
    );
    assert!(!tmp.path().join("run/summary.json").exists());
}
