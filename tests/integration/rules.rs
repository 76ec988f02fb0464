//! Comparison rules from cutover.toml, and their audit.

use crate::util::*;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::json;

const RULES: &str = r#"
[[rules]]
name = "served-at"
kind = "ignore"
path = "/served_at"
reason = "the new service stamps its answers; the legacy never did"

[[rules]]
name = "typo"
kind = "case_insensitive"
path = "/acepted/*"
reason = "a rule whose path is misspelt"
"#;

#[test]
fn a_rule_hides_its_noise_audits_it_and_leaves_real_differences() {
    let tmp = tempdir();
    let config = config_file(tmp.path(), RULES);
    let mut lines = Vec::new();
    for i in 0..6 {
        lines.push(record(
            &format!("noise-{i}"),
            json!({"items": [" a "], "plant": "served_at"}),
        ));
    }
    for i in 0..3 {
        lines.push(record(
            &format!("real-{i}"),
            json!({"items": [" b "], "plant": "served_upper"}),
        ));
    }
    lines.push(record("clean", json!({"items": [" c "]})));
    let path = capture(tmp.path(), "t.jsonl", &lines);
    let out = tmp.path().join("run");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--candidate",
            "worker:python3 fixtures/doubles/planted_worker.py",
        ],
    )
    .assert()
    .code(1)
    .stdout(contains(
        "rule \"served-at\" (ignore /served_at): present in 9 records, hid 9 paths in 9 records (e.g. noise-0)",
    ))
    .stdout(contains("rule \"typo\"").and(contains("WARNING: its path matched nothing")));
    let s = summary(&out);
    assert_eq!((count(&s, "matched"), count(&s, "mismatched")), (7, 3));
    let rows = mismatches(&out);
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["real-0", "real-1", "real-2"]);
    assert!(
        rows.iter().all(|r| r["paths"] == "/accepted/0 changed"),
        "{rows:?}"
    );
    let audit = &s["rules"];
    assert_eq!(audit[0]["name"], "served-at");
    assert_eq!(audit[0]["suppressed_records"], 9);
    assert_eq!(audit[0]["suppressed_paths"], 9);
    assert_eq!(
        audit[0]["sample_ids"],
        json!(["noise-0", "noise-1", "noise-2", "noise-3", "noise-4"])
    );
    assert_eq!(audit[0]["matched_nothing"], false);
    assert_eq!(audit[1]["matched_nothing"], true);
    assert_eq!(audit[1]["suppressed_records"], 0);
}

#[test]
fn a_rule_that_cannot_work_stops_the_run_before_any_record() {
    let tmp = tempdir();
    let config = config_file(tmp.path(), "[replay]\nconcurrency = 2\n\n[[rules]]\nname = \"uuid\"\nkind = \"scrub\"\npath = \"\"\nreason = \"ids\"\npattern = \"([0-9a-f\"\n");
    replay(
        &tmp.path().join("run"),
        &["--config", config.to_str().unwrap()],
    )
    .assert()
    .code(2)
    .stderr(contains("rule \"uuid\" ("))
    .stderr(contains("cutover.toml line 4)"))
    .stderr(contains("bad `pattern`"));
    assert!(!tmp.path().join("run").exists(), "nothing was run");
}

#[test]
fn known_differences_are_accepted_visibly_and_do_not_fail_the_run() {
    let tmp = tempdir();
    let known = r#"
[[known]]
name = "separators-accepted"
path = "/accepted/*"
reason = "the new service keeps U+001C..U+001F, as product decided"
input_pattern = '\\u001[cdefCDEF]'

[[known]]
name = "separators-rejected"
path = "/rejected/*"
reason = "same decision, seen from the rejected list"
input_pattern = '\\u001[cdefCDEF]'
"#;
    let config = config_file(tmp.path(), known);
    let lines: Vec<String> = (0..30)
        .map(|i| {
            let item = ["\u{1c}a", " b ", "\u{1f}", "c\u{1d}"][i % 4];
            record(&format!("r{i}"), json!({"items": [item, " plain "]}))
        })
        .collect();
    let path = capture(tmp.path(), "separators.jsonl", &lines);
    let out = tmp.path().join("run");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--candidate",
            "builtin:normalize-naive",
        ],
    )
    .assert()
    .code(0)
    .stdout(contains(
        "accepted           22   73.33%  (declared known differences)",
    ));
    let s = summary(&out);
    assert_eq!(
        (
            count(&s, "mismatched"),
            count(&s, "accepted"),
            count(&s, "matched")
        ),
        (0, 22, 8)
    );
    assert_accounted(&s);
    assert_eq!(s["known"][0]["name"], "separators-accepted");
    assert!(s["known"][0]["accepted_records"].as_u64().unwrap() > 0);
    let rows = mismatches(&out);
    assert_eq!(rows.len(), 22, "accepted records stay listed");
    assert!(rows.iter().all(|r| r["outcome"] == "accepted"));

    // The same declaration does not cover a different change.
    let lines = vec![record("other", json!({"items": [" x "], "plant": "upper"}))];
    let path = capture(tmp.path(), "other.jsonl", &lines);
    let out = tmp.path().join("other");
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--candidate",
            "worker:python3 fixtures/doubles/planted_worker.py",
        ],
    )
    .assert()
    .code(1);
    assert_eq!(count(&summary(&out), "mismatched"), 1);
}

#[test]
fn the_noise_probe_learns_noise_and_still_finds_a_real_difference() {
    let tmp = tempdir();
    let mut lines: Vec<String> = (0..12)
        .map(|i| record(&format!("n{i}"), json!({"items": [format!(" v{i} ")]})))
        .collect();
    for i in 0..3 {
        lines.push(record(
            &format!("real{i}"),
            json!({"items": [" w "], "plant": "upper"}),
        ));
    }
    let path = capture(tmp.path(), "noisy.jsonl", &lines);
    let run = |name: &str, probe: bool| {
        let out = tmp.path().join(name);
        let mut args = vec![
            path.to_str().unwrap(),
            "--legacy",
            "worker:python3 fixtures/doubles/planted_worker.py --noise --no-plants",
            "--candidate",
            "worker:python3 fixtures/doubles/planted_worker.py --noise",
        ];
        if probe {
            args.push("--noise-probe");
        }
        replay(&out, &args).assert().code(1);
        summary(&out)
    };
    // Without the probe every record differs (timestamps, uuids).
    let plain = run("plain", false);
    assert_eq!(count(&plain, "mismatched"), 15);
    // With it, no rule written: only the planted records remain mismatches.
    let s = run("probe", true);
    assert_eq!(
        (count(&s, "noisy"), count(&s, "mismatched")),
        (12, 3),
        "{s}"
    );
    assert_accounted(&s);
    let noise = &s["noise"];
    assert_eq!(noise["probed_records"], 15);
    let paths: Vec<&str> = noise["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/request_id", "/served_at"]);
    assert_eq!(noise["paths"][0]["rate"], 1.0);
    let rows = mismatches(&tmp.path().join("probe"));
    let real: Vec<&str> = rows
        .iter()
        .filter(|r| r["outcome"] == "mismatch")
        .map(|r| r["id"].as_str())
        .collect();
    assert_eq!(real, ["real0", "real1", "real2"]);
}

#[test]
fn ignore_from_the_command_line_is_audited_like_a_rule() {
    let tmp = tempdir();
    let lines = vec![record(
        "a",
        json!({"items": [" x "], "plant": "drop_rejected"}),
    )];
    let path = capture(tmp.path(), "t.jsonl", &lines);
    let out = tmp.path().join("run");
    let candidate = "worker:python3 fixtures/doubles/planted_worker.py";
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--candidate",
            candidate,
            "--ignore",
            "/rejected",
        ],
    )
    .assert()
    .code(0);
    let s = summary(&out);
    assert_eq!(s["rules"][0]["name"], "--ignore /rejected");
    assert_eq!(s["rules"][0]["suppressed_records"], 1);
    replay(
        &tmp.path().join("bad"),
        &[path.to_str().unwrap(), "--ignore", "rejected"],
    )
    .assert()
    .code(2)
    .stderr(contains(
        "rule \"--ignore rejected\" (command line): path \"rejected\" is not a JSON Pointer",
    ));
}

#[test]
fn audits_do_not_depend_on_concurrency() {
    let tmp = tempdir();
    let config = config_file(
        tmp.path(),
        r#"
[[rules]]
name = "request-ids"
kind = "ignore"
path = "/request_id"
reason = "a fresh uuid per call"

[[rules]]
name = "shouting"
kind = "case_insensitive"
path = "/accepted/*"
reason = "the new service upper-cases"

[[rules]]
name = "typo"
kind = "ignore"
path = "/servedat"
reason = "misspelt on purpose: the audit must say it matched nothing"

[[known]]
name = "no-rejected-list"
path = "/rejected"
reason = "the new service drops the empty list"
"#,
    );
    let plants = ["", "upper", "drop_rejected", "served_upper", "raise"];
    let lines: Vec<String> = (0..150)
        .map(|i| {
            let plant = plants[i % plants.len()];
            record(
                &format!("r{i:03}"),
                json!({"items": [format!(" v{} ", i % 7), " "], "plant": plant}),
            )
        })
        .collect();
    let path = capture(tmp.path(), "mixed.jsonl", &lines);
    let run = |name: &str, concurrency: &str, workers: &str| {
        let out = tmp.path().join(name);
        replay(
            &out,
            &[
                path.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
                "--legacy",
                "worker:python3 fixtures/doubles/planted_worker.py --noise --no-plants",
                "--candidate",
                "worker:python3 fixtures/doubles/planted_worker.py --noise",
                "--noise-probe",
                "--concurrency",
                concurrency,
                "--workers",
                workers,
            ],
        )
        .assert()
        .code(1);
        out
    };
    let (one, many) = (run("c1", "1", "1"), run("c64", "64", "3"));
    let (a, b) = (summary(&one), summary(&many));
    assert_accounted(&a);
    for section in ["counts", "groups", "rules", "known", "noise"] {
        assert_eq!(a[section], b[section], "{section} differs");
    }
    // Every part of the audit was exercised, so the comparison means something.
    assert!(
        a["rules"][0]["suppressed_paths"].as_u64().unwrap() > 0,
        "{a}"
    );
    assert!(
        a["rules"][1]["suppressed_paths"].as_u64().unwrap() > 0,
        "{a}"
    );
    assert_eq!(a["rules"][2]["matched_nothing"], true);
    assert!(
        a["known"][0]["accepted_records"].as_u64().unwrap() > 0,
        "{a}"
    );
    assert!(
        a["noise"]["records_with_noise"].as_u64().unwrap() > 0,
        "{a}"
    );
    // The answers carry fresh timestamps, so compare mismatches.csv without them.
    let verdicts = |out: &std::path::Path| -> Vec<[String; 4]> {
        mismatches(out)
            .into_iter()
            .map(|r| {
                [
                    r["id"].clone(),
                    r["outcome"].clone(),
                    r["group"].clone(),
                    r["paths"].clone(),
                ]
            })
            .collect()
    };
    assert_eq!(verdicts(&one), verdicts(&many));
}

/// A `[[known]]` entry that covered nothing in the run (a `cutover.toml` left
/// in the directory, applied to an unrelated comparison) gets the warning an
/// unused rule gets.
#[test]
fn a_known_difference_that_covered_nothing_is_flagged_like_an_unused_rule() {
    let tmp = tempdir();
    let config = config_file(
        tmp.path(),
        "[[known]]\nname = \"stale\"\npath = \"/nowhere\"\nreason = \"from another migration\"\n\n[[known]]\nname = \"used\"\npath = \"/accepted/*\"\nreason = \"decided\"\n",
    );
    let lines = vec![
        record("r0", json!({"items": ["\u{1c}a"]})),
        record("r1", json!({"items": [" b "]})),
    ];
    let path = capture(tmp.path(), "k.jsonl", &lines);
    let out = tmp.path().join("run");
    let text = stdout_of(
        &mut replay(
            &out,
            &[
                path.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
                "--candidate",
                "builtin:normalize-naive",
            ],
        ),
        0,
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.contains(&format!("\"{name}\"")))
            .unwrap_or_else(|| panic!("{name} listed: {text}"))
            .to_owned()
    };
    assert!(
        line("stale").contains("WARNING: it covered nothing in this run; check it"),
        "{text}"
    );
    assert!(!line("used").contains("WARNING"), "{text}");
    let s = summary(&out);
    assert_eq!(s["known"][0]["accepted_records"], 0, "{s}");
}

/// A `text` rule from cutover.toml hides line-ending, whitespace and case
/// noise in production's recorded answers, leaves a real change next to
/// it, and is audited; one that hid nothing gets the warning.
#[test]
fn a_text_rule_hides_text_noise_and_is_audited() {
    let tmp = tempdir();
    let config = config_file(
        tmp.path(),
        r#"
[[rules]]
name = "text-noise"
kind = "text"
path = "/accepted/*"
whitespace = "trim"
line_endings = true
case = true
reason = "the old service padded, upper-cased and wrote CRLF"

[[rules]]
name = "unused-text"
kind = "text"
path = "/nothing"
whitespace = "collapse"
reason = "a rule whose path matches nothing"
"#,
    );
    let recorded = |id: &str, item: &str, accepted: &str| {
        json!({"id": id, "key": "k", "input": {"items": [item]}, "recorded": {"accepted": [accepted], "rejected": []}})
            .to_string()
    };
    let lines = [
        recorded("crlf", "a\r\nb", "a\nb"),
        recorded("padded", "x", "x\t"),
        recorded("upper", "word", "WORD"),
        recorded("real", "word", "WORD2"),
        recorded("clean", "c", "c"),
    ];
    let ran = Replay::new(tmp.path())
        .records("t.jsonl", &lines)
        .args(&["--legacy", "recorded", "--candidate", "builtin:normalize"])
        .args(&["--config", config.to_str().unwrap()])
        .run(1);
    assert!(
        ran.stdout.contains(
            "rule \"text-noise\" (text /accepted/*): present in 5 records, hid 3 paths in 3 records (e.g. crlf)"
        ),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("rule \"unused-text\""),
        "{}",
        ran.stdout
    );
    assert_eq!(
        (ran.count("matched"), ran.count("mismatched")),
        (4, 1),
        "{}",
        ran.summary
    );
    let ids: Vec<String> = ran.rows().iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, ["real"]);
    let audit = &ran.summary["rules"];
    assert_eq!(audit[0]["name"], "text-noise");
    assert_eq!(audit[0]["suppressed_records"], 3);
    assert_eq!(audit[0]["sample_ids"], json!(["crlf", "padded", "upper"]));
    assert_eq!(audit[0]["matched_nothing"], false);
    assert_eq!(audit[1]["matched_nothing"], true);
    assert_eq!(ran.summary["spec"]["rules"][0]["whitespace"], "trim");
}

#[test]
fn a_text_rule_without_an_option_stops_the_run_naming_the_rule_and_line() {
    let tmp = tempdir();
    let config = config_file(
        tmp.path(),
        "[[rules]]\nname = \"bare\"\nkind = \"text\"\npath = \"/accepted/*\"\nreason = \"r\"\n",
    );
    let err = stderr_of(
        &mut Replay::new(tmp.path())
            .records("t.jsonl", &[record("a", json!({"items": ["a"]}))])
            .args(&["--config", config.to_str().unwrap()])
            .command(),
        2,
    );
    assert!(
        err.contains("rule \"bare\"")
            && err.contains("line 1")
            && err.contains("needs at least one of"),
        "{err}"
    );
}
