//! The main job: replay captures through the Python legacy and the Rust port.

use crate::util::*;
use serde_json::json;

#[test]
fn bundled_capture_matches_record_for_record() {
    let tmp = tempdir();
    let ran = Replay::new(tmp.path()).run(0);
    let s = &ran.summary;
    let lines = std::fs::read_to_string(repo().join("fixtures/normalize/capture.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(ran.count("read"), lines);
    assert_eq!(ran.count("matched"), lines);
    assert!(
        ran.count("matched_errors") > 0,
        "the capture exercises legacy exceptions"
    );
    assert_eq!(s["status"]["state"], "complete");
    assert_eq!(s["settings"]["legacy"], "worker:python3 legacy/worker.py");
    assert!(s["latency_ms"]["legacy"]["calls"].as_u64().unwrap() == lines);
    assert!(ran.rows().is_empty());
}

#[test]
fn naive_port_differs_exactly_on_the_information_separators() {
    let tmp = tempdir();
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for i in 0..60u32 {
        let id = format!("r{i}");
        let item = match i % 6 {
            0 => " plain ".to_owned(),
            1 => "\u{1c}sep".to_owned(),
            2 => "\u{3000}ideo\u{3000}".to_owned(),
            3 => "\u{1f}".to_owned(),
            4 => "\u{200b}zw".to_owned(),
            _ => "".to_owned(),
        };
        if i % 6 == 1 || i % 6 == 3 {
            expected.push(id.clone());
        }
        lines.push(record(&id, json!({ "items": [item] })));
    }
    let ran = Replay::new(tmp.path())
        .records("t.jsonl", &lines)
        .candidate("builtin:normalize-naive")
        .run(1);
    // The summary a replay closes with, and its diffs.txt, whole.
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("closing_summary", ran.stdout));
    let out = &ran.out;
    let diffs = std::fs::read_to_string(out.join("diffs.txt")).unwrap();
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("diffs_txt", diffs));
    let rows = ran.rows();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, expected);
    assert!(rows.iter().all(|r| r["outcome"] == "mismatch"));
    assert_eq!(rows[0]["paths"], "/accepted/0 changed");
    assert_eq!(rows[1]["paths"], "/accepted/0 added; /rejected/0 removed");
}

#[test]
fn the_report_does_not_depend_on_concurrency() {
    let tmp = tempdir();
    let run = |name: &str, concurrency: &str| {
        let out = tmp.path().join(name);
        replay(
            &out,
            &[
                "--candidate",
                "builtin:normalize-naive",
                "--concurrency",
                concurrency,
                "--workers",
                "2",
            ],
        )
        .assert()
        .code(1);
        out
    };
    let (one, many) = (run("c1", "1"), run("c64", "64"));
    for file in ["mismatches.csv", "diffs.txt", "rejected.jsonl"] {
        let a = std::fs::read(one.join(file)).unwrap();
        let b = std::fs::read(many.join(file)).unwrap();
        assert!(a == b, "{file} differs between --concurrency 1 and 64");
    }
    assert!(!mismatches(&one).is_empty());
    assert_eq!(summary(&one)["counts"], summary(&many)["counts"]);
    assert_eq!(summary(&one)["groups"], summary(&many)["groups"]);
}

#[test]
fn interrupting_a_run_writes_a_consistent_partial_report() {
    let tmp = tempdir();
    let lines: Vec<String> = (0..3000)
        .map(|i| record(&format!("r{i}"), json!({"items": [" a "]})))
        .collect();
    let path = capture(tmp.path(), "slow.jsonl", &lines);
    let out = tmp.path().join("run");
    let mut child = cutover_process()
        .args(["replay", "--no-progress", "--concurrency", "8", "--legacy"])
        .arg("worker:python3 fixtures/doubles/faulty_worker.py --delay-ms 5")
        .arg("--out")
        .arg(&out)
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "cutover did not stop after Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(code, Some(130));
    let s = summary(&out);
    assert_eq!(s["status"]["state"], "interrupted");
    let read = count(&s, "read");
    assert!(read > 0 && read < 3000, "read {read}");
    assert_eq!(
        count(&s, "matched"),
        read,
        "records read before Ctrl-C are all finished"
    );
    assert_accounted(&s);
}

#[test]
fn planted_kinds_of_difference_give_one_group_each() {
    let tmp = tempdir();
    let plants = [("drop_rejected", 5), ("upper", 11), ("raise", 7)];
    let mut lines = Vec::new();
    for (plant, n) in plants {
        for i in 0..n {
            // Different inputs, different lengths: the group must not depend on values.
            let items: Vec<String> = (0..=i % 3).map(|j| format!(" {plant}{j} ")).collect();
            lines.push(record(
                &format!("{plant}-{i}"),
                json!({"items": items, "plant": plant}),
            ));
        }
    }
    for i in 0..20 {
        lines.push(record(&format!("clean-{i}"), json!({"items": [" ok "]})));
    }
    let path = capture(tmp.path(), "planted.jsonl", &lines);
    let out = tmp.path().join("run");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--candidate",
            "worker:python3 fixtures/doubles/planted_worker.py",
        ],
    )
    .assert()
    .code(1)
    .stdout(predicates::str::contains(
        "mismatch groups (3 in all, largest first)",
    ));
    let s = summary(&out);
    let groups: Vec<(String, u64, String)> = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["signature"].as_str().unwrap().to_owned(),
                g["count"].as_u64().unwrap(),
                g["first_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            (
                "mismatch /accepted/* changed [case changed]".to_owned(),
                11,
                "upper-0".to_owned()
            ),
            (
                "candidate_error ValueError".to_owned(),
                7,
                "raise-0".to_owned()
            ),
            (
                "mismatch /rejected removed".to_owned(),
                5,
                "drop_rejected-0".to_owned()
            ),
        ]
    );
    assert_eq!(s["groups"][0]["share"], json!(0.255814)); // 11 of 43 records
                                                          // Every row of mismatches.csv carries its plant's group label, as summary.json has it.
    let rows = mismatches(&out);
    assert_eq!(rows.len(), 23);
    for row in &rows {
        let plant_of = |id: &str| id.rsplit_once('-').unwrap().0.to_owned();
        let group = s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| plant_of(g["first_id"].as_str().unwrap()) == plant_of(&row["id"]))
            .unwrap();
        assert_eq!(row["group"], group["group"].as_str().unwrap(), "{row:?}");
    }
}
