//! The defects issue 10 found when cutover was tried as a new user would,
//! each guarded by a test named after it (see the issue for the story).

use crate::util::*;
use serde_json::{json, Value};
use std::path::Path;

/// A capture where the naive port differs from the legacy on two records.
fn separators(dir: &Path) -> std::path::PathBuf {
    let lines = [
        record("plain", json!({"items": [" a "]})),
        record("sep-1", json!({"items": ["\u{1c}x"]})),
        record("sep-2", json!({"items": ["\u{1e}y"]})),
    ];
    capture(dir, "sep.jsonl", &lines)
}

/// Defect 1: `flags promote` had its own `--reports-dir` default, so it did
/// not find the run `[replay] reports_dir` had put elsewhere.
#[test]
fn flags_promote_finds_the_run_under_the_replay_reports_dir() {
    let tmp = tempdir();
    let config = config_file(
        tmp.path(),
        &format!(
            "[replay]\nreports_dir = {:?}\nlegacy = \"builtin:normalize\"\n\n[flags]\naudit_log = {:?}\n",
            tmp.path().join("elsewhere").display().to_string(),
            tmp.path().join("audit.jsonl").display().to_string(),
        ),
    );
    let config = config.to_str().unwrap();
    cutover_args(&["--config", config, "replay", "--no-progress"])
        .assert()
        .code(0);
    let out = stdout_of(
        &mut cutover_args(&["--config", config, "flags", "promote"]),
        0,
    );
    assert!(
        out.contains(&format!(
            "evidence: {}",
            tmp.path().join("elsewhere").display()
        )),
        "{out}"
    );
}

/// Defect 2: `flags status` read its own traffic default and a hard-coded
/// record size limit, so it counted records the replay rejects.
#[test]
fn flags_status_reads_the_capture_as_the_replay_reads_it() {
    let tmp = tempdir();
    let mut lines: Vec<String> = (0..3)
        .map(|i| record(&format!("r{i}"), json!({"items": ["a"]})))
        .collect();
    lines.push(record("long", json!({"items": ["x".repeat(300)]})));
    let capture = capture(tmp.path(), "t.jsonl", &lines);
    let config = config_file(
        tmp.path(),
        &format!(
            "[replay]\ntraffic = [{:?}]\nmax_record_bytes = 200\nlegacy = \"builtin:normalize\"\n",
            capture.display().to_string()
        ),
    );
    let config = config.to_str().unwrap();
    let ran = cutover_args(&["--config", config, "replay", "--no-progress", "--out"])
        .arg(tmp.path().join("run"))
        .assert()
        .code(1);
    drop(ran);
    let s = summary(&tmp.path().join("run"));
    assert_eq!((count(&s, "rejected"), count(&s, "compared")), (1, 3));
    let out = stdout_of(
        &mut cutover_args(&["--config", config, "flags", "status"]),
        0,
    );
    assert!(
        out.contains("on for 3 of 3 records with a key"),
        "status counts what the replay compares: {out}"
    );
}

/// Defect 3: every I/O error printed its cause twice, and a promotion that
/// found no run printed its whole sentence twice.
#[test]
fn an_error_shows_each_cause_once() {
    let tmp = tempdir();
    let missing = tmp.path().join("nonexistent.toml");
    let err = stderr_of(
        &mut cutover_args(&["--config", missing.to_str().unwrap(), "replay"]),
        2,
    );
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let none = tmp.path().join("none");
    let err = stderr_of(
        &mut cutover_args(&["flags", "promote", "--reports-dir", none.to_str().unwrap()]),
        2,
    );
    assert_eq!(err.matches("no finished run in").count(), 1, "{err}");
}

/// Defect 4: adding a `[[known]]` entry after a run (the normal workflow)
/// made `recheck` re-read the changed file and call the newly accepted
/// records flaky.
#[test]
fn recheck_after_a_new_known_entry_compares_as_the_run_did() {
    let tmp = tempdir();
    let dir = sandbox();
    let capture = separators(tmp.path());
    let run = tmp.path().join("run");
    std::fs::write(dir.join("cutover.toml"), "[replay]\nworkers = 1\n").unwrap();
    Replay::new(tmp.path())
        .traffic(&capture)
        .candidate("builtin:normalize-naive")
        .args(&["--no-flags"])
        .run(1);
    std::fs::write(
        dir.join("cutover.toml"),
        "[replay]\nworkers = 1\n\n[[known]]\nname = \"keep-separators\"\npath = \"/accepted/*\"\nreason = \"decided after the run\"\n",
    )
    .unwrap();
    let out = stdout_of(
        &mut cutover_args(&["recheck", run.to_str().unwrap(), "--json"]),
        0,
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r["deterministic"].as_u64(), r["flaky"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
}

/// Defect 5a: review commands run from another directory started the run's
/// command lines there, so `minimize` saw both sides fail alike.
#[test]
fn review_commands_start_the_sides_where_the_run_started_them() {
    let tmp = tempdir();
    let capture = separators(tmp.path());
    let run = tmp.path().join("run");
    Replay::new(tmp.path())
        .traffic(&capture)
        .candidate("builtin:normalize-naive")
        .args(&["--no-flags", "--workers", "1"])
        .run(1);
    // Elsewhere: no legacy/ here, no cutover.toml.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = cutover_args(&["minimize", run.to_str().unwrap(), "sep-1", "--json"])
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        m["signature"],
        "mismatch /accepted/* changed [inserted control]"
    );
    let out = cutover_args(&["recheck", run.to_str().unwrap(), "--json"])
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

/// Defect 5b: `recheck` removed the previous `recheck.json` and truncated
/// `recheck.jsonl` before it found that it could not start a side, so the
/// earlier labels were lost.
#[test]
fn a_recheck_that_cannot_start_keeps_the_earlier_labels() {
    let tmp = tempdir();
    let legacy = tmp.path().join("legacy-copy");
    std::fs::create_dir(&legacy).unwrap();
    for file in ["worker.py", "normalize.py"] {
        std::fs::copy(repo().join("legacy").join(file), legacy.join(file)).unwrap();
    }
    let capture = separators(tmp.path());
    let run = tmp.path().join("run");
    Replay::new(tmp.path())
        .traffic(&capture)
        .legacy(&format!(
            "worker:python3 {}",
            legacy.join("worker.py").display()
        ))
        .candidate("builtin:normalize-naive")
        .args(&["--no-flags", "--workers", "1"])
        .run(1);
    let d = run.to_str().unwrap();
    cutover_args(&["recheck", d, "--trust-run"])
        .assert()
        .code(0);
    let before = (
        std::fs::read(run.join("recheck.json")).unwrap(),
        std::fs::read(run.join("recheck.jsonl")).unwrap(),
    );
    std::fs::remove_dir_all(&legacy).unwrap();
    cutover_args(&["recheck", d, "--trust-run"])
        .assert()
        .code(2);
    let after = (
        std::fs::read(run.join("recheck.json")).expect("recheck.json kept"),
        std::fs::read(run.join("recheck.jsonl")).unwrap(),
    );
    assert!(before == after, "the earlier labels changed");
}

/// Defect 6: after `replay --out DIR`, the closing "next:" hint named a run
/// id that `cutover report` could not find.
#[test]
fn the_closing_hint_after_out_names_a_run_report_can_find() {
    let tmp = tempdir();
    let capture = separators(tmp.path());
    let ran = Replay::new(tmp.path())
        .out(&tmp.path().join("somewhere/else"))
        .traffic(&capture)
        .candidate("builtin:normalize-naive")
        .args(&["--no-flags"])
        .run(1);
    let next = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("next: "))
        .unwrap_or_else(|| panic!("no next: line in {}", ran.stdout));
    for suggested in next.split(" · ").filter(|c| c.starts_with("cutover ")) {
        let words = shell_words::split(suggested).unwrap();
        let out = cutover_args(&words[1..].iter().map(String::as_str).collect::<Vec<_>>())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{suggested}: {}",
            output_text(&out)
        );
    }
}

/// Defect 7: `--legacy`/`--candidate` help left out `recorded`.
#[test]
fn replay_help_names_every_form_of_a_side() {
    let help = stdout_of(&mut cutover_args(&["replay", "--help"]), 0);
    let legacy = help
        .split("--legacy <TARGET>")
        .nth(1)
        .and_then(|rest| rest.split("--candidate").next())
        .unwrap_or_default();
    for form in ["builtin:", "worker:", "exec:", "http", "recorded"] {
        assert!(
            legacy.contains(form),
            "--legacy help lacks {form}: {legacy}"
        );
    }
}

/// Defect 7: the README's Layout named modules that moved and left out
/// others.
#[test]
fn the_readme_layout_names_every_module_of_src() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a Layout section");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(repo().join("src")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let shown = if path.is_dir() {
            format!("src/{name}/")
        } else {
            format!("src/{name}")
        };
        if !layout.contains(&format!("`{shown}`")) && !matches!(name.as_str(), "lib.rs" | "main.rs")
        {
            missing.push(shown);
        }
    }
    for word in layout.split('`').skip(1).step_by(2) {
        if let Some(path) = word.strip_prefix("src/") {
            if !repo().join("src").join(path).exists() {
                missing.push(format!("{word} (named, but not there)"));
            }
        }
    }
    assert!(missing.is_empty(), "README Layout is stale: {missing:?}");
}
