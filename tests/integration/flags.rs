//! Flags with the local file source: the embedded default, no server.

use crate::util::*;
use predicates::str::contains;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A copy of the bundled flags.json and a config pointing at it, with the
/// audit log in the temp directory.
fn local_setup(dir: &Path) -> (PathBuf, PathBuf) {
    let flags = dir.join("flags.json");
    std::fs::copy(repo().join("flags.json"), &flags).unwrap();
    let config = config_file(
        dir,
        &format!(
            "[flags]\nsource = {:?}\naudit_log = {:?}\ncache = {:?}\n",
            flags.display().to_string(),
            dir.join("audit.jsonl").display().to_string(),
            dir.join("cache.json").display().to_string()
        ),
    );
    (flags, config)
}

fn flags_cmd(config: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = cutover();
    cmd.arg("--config").arg(config).arg("flags").args(args);
    cmd
}

/// The naive port: it differs from the legacy on 613 records of the capture.
const NAIVE: &[&str] = &["--candidate", "builtin:normalize-naive"];

/// `cutover replay` with the config, its report under `reports`, and `extra`.
fn replay_to(config: &Path, reports: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = cutover();
    cmd.args(["replay", "--no-progress", "--config"])
        .arg(config)
        .arg("--reports-dir")
        .arg(reports)
        .args(extra);
    cmd
}

fn audit(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_bundled_flags_shadow_everything_and_serve_nothing() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    replay(&out, &[]).assert().code(0).stdout(contains(
        "rollout     serve 0% / shadow 100% (file flags.json): candidate serves 0 records",
    ));
    let s = summary(&out);
    let r = &s["rollout"];
    assert_eq!(r["migration"], "normalize");
    assert_eq!(r["serve_flag"], "cutover.normalize.serve");
    assert_eq!(r["state"], "known");
    let read = count(&s, "read");
    assert_eq!(r["records"], read);
    assert_eq!(r["shadowed"], read);
    assert_eq!(r["candidate_serves"], 0);
    assert_eq!(r["supported_percent"], 1.0);
    assert_eq!(r["evidence"]["passes"], true);
}

#[test]
fn set_serve_writes_the_file_and_replay_routes_that_share() {
    let tmp = tempdir();
    let (flags, config) = local_setup(tmp.path());
    flags_cmd(&config, &["set", "serve", "25"])
        .assert()
        .code(0)
        .stdout(contains("cutover.normalize.serve: 0% -> 25%"));
    let doc: Value = serde_json::from_slice(&std::fs::read(&flags).unwrap()).unwrap();
    let serve = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "cutover.normalize.serve")
        .unwrap();
    assert_eq!(serve["strategies"][0]["parameters"]["rollout"], "25");

    // status and replay agree on how many records the candidate serves.
    let text = stdout_of(&mut flags_cmd(&config, &["status"]), 0);
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("flags_status", text));
    let out = tmp.path().join("run");
    replay(
        &out,
        &[
            "--config",
            config.to_str().unwrap(),
            "--candidate",
            "builtin:normalize-naive",
        ],
    )
    .assert()
    .code(1);
    let r = summary(&out)["rollout"].clone();
    let serves = r["candidate_serves"].as_u64().unwrap();
    assert!(
        text.contains(&format!("on for {serves} of 5037 records with a key")),
        "{text}\n{r}"
    );
    // About a quarter of the records, sticky by user.
    assert!((1000..1600).contains(&serves), "{serves}");
    let differing = r["candidate_serves_differing"].as_u64().unwrap();
    assert!(
        differing > 0 && differing < count(&summary(&out), "mismatched"),
        "{r}"
    );
    let entries = audit(tmp.path());
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            entries[0]["action"].as_str(),
            entries[0]["from"].as_f64(),
            entries[0]["to"].as_f64()
        ),
        (Some("set"), Some(0.0), Some(25.0))
    );
}

#[test]
fn promote_is_refused_on_planted_mismatches_and_accepted_on_a_clean_report() {
    let tmp = tempdir();
    let (flags, config) = local_setup(tmp.path());
    let reports = tmp.path().join("reports");
    let reports_arg = reports.to_str().unwrap();
    // The naive port differs on 613 records: planted mismatches.
    replay_to(&config, &reports, NAIVE).assert().code(1);
    flags_cmd(&config, &["promote", "--reports-dir", reports_arg])
        .assert()
        .code(1)
        .stdout(contains(
            "promote refused: cutover.normalize.serve stays at 0%, not 1%",
        ))
        .stdout(contains("613 against the candidate"))
        .stdout(contains("fix the 613 records against the candidate"));
    assert!(
        !tmp.path().join("audit.jsonl").exists(),
        "a refusal changes nothing"
    );

    replay_to(&config, &reports, &[]).assert().code(0);
    flags_cmd(&config, &["promote", "--reports-dir", reports_arg])
        .assert()
        .code(0)
        .stdout(contains("cutover.normalize.serve: 0% -> 1%"));
    flags_cmd(&config, &["promote", "--reports-dir", reports_arg])
        .assert()
        .code(0)
        .stdout(contains("1% -> 5%"));
    let text = std::fs::read_to_string(&flags).unwrap();
    assert!(text.contains("\"rollout\": \"5\""), "{text}");
    let entries = audit(tmp.path());
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["action"], "promote");
    assert_eq!(entries[1]["forced"], false);
    assert_eq!(entries[1]["evidence"]["records"], 5037);
    assert_eq!(entries[1]["evidence"]["against"], 0);

    flags_cmd(&config, &["rollback"])
        .assert()
        .code(0)
        .stdout(contains("5% -> 0%"));
    assert!(std::fs::read_to_string(&flags)
        .unwrap()
        .contains("\"rollout\": \"0\""));
}

#[test]
fn a_forced_promotion_is_recorded_as_forced() {
    let tmp = tempdir();
    let (_, config) = local_setup(tmp.path());
    let reports = tmp.path().join("reports");
    replay_to(&config, &reports, NAIVE).assert().code(1);
    flags_cmd(
        &config,
        &[
            "promote",
            "--force",
            "--reports-dir",
            reports.to_str().unwrap(),
        ],
    )
    .assert()
    .code(0)
    .stdout(contains("0% -> 1%"))
    .stdout(contains("FORCED"));
    let entries = audit(tmp.path());
    assert_eq!(entries[0]["forced"], true);
    assert_eq!(entries[0]["evidence"]["against"], 613);
    assert_eq!(entries[0]["evidence"]["passes"], false);
}

#[test]
fn promote_refuses_a_report_of_another_migration() {
    let tmp = tempdir();
    let (_, config) = local_setup(tmp.path());
    let reports = tmp.path().join("reports");
    replay_to(&config, &reports, &["--migration", "other"])
        .assert()
        .code(0);
    flags_cmd(
        &config,
        &["promote", "--reports-dir", reports.to_str().unwrap()],
    )
    .assert()
    .code(2)
    .stderr(contains(
        "is not a replay of migration \"normalize\" (it is of \"other\")",
    ));
}

#[test]
fn a_corrupt_flag_file_is_named_and_replay_still_runs_legacy_only() {
    let tmp = tempdir();
    let (flags, config) = local_setup(tmp.path());
    std::fs::write(&flags, "{\"version\": 2, \"features\": [").unwrap();
    flags_cmd(&config, &["status"])
        .assert()
        .code(2)
        .stderr(contains(format!(
            "flag file {}: line 1, column 28",
            flags.display()
        )));
    flags_cmd(&config, &["set", "serve", "5"])
        .assert()
        .code(2)
        .stderr(contains(flags.display().to_string()));
    assert_eq!(
        std::fs::read_to_string(&flags).unwrap(),
        "{\"version\": 2, \"features\": [",
        "a corrupt file is not overwritten"
    );
    let ran = Replay::new(tmp.path())
        .args(&["--config", config.to_str().unwrap()])
        .run(0);
    assert!(
        ran.stdout.contains("rollout     unknown (flag file"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains(&flags.display().to_string()),
        "{}",
        ran.stderr
    );
    let r = ran.summary["rollout"].clone();
    assert_eq!(r["state"], "unknown");
    assert_eq!(r["candidate_serves"], 0);
    assert_eq!(r["shadowed"], 0);
    assert_eq!(r["without_state"], r["records"]);
}

#[test]
fn records_without_a_key_are_never_routed_to_the_candidate() {
    let tmp = tempdir();
    let (_, config) = local_setup(tmp.path());
    flags_cmd(&config, &["set", "serve", "100"])
        .assert()
        .code(0);
    let capture = capture(
        tmp.path(),
        "c.jsonl",
        &[
            record("a", serde_json::json!({"items": [" x "]})),
            serde_json::json!({"id": "nokey", "input": {"items": [" y "]}}).to_string(),
        ],
    );
    let out = tmp.path().join("run");
    replay(
        &out,
        &[
            capture.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .assert()
    .code(0);
    let r = summary(&out)["rollout"].clone();
    assert_eq!(
        (
            r["candidate_serves"].as_u64(),
            r["without_key"].as_u64(),
            r["legacy_serves"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{r}"
    );
}

#[test]
fn no_flags_leaves_the_rollout_out() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    replay(&out, &["--no-flags"]).assert().code(0);
    assert!(summary(&out)["rollout"].is_null());
}

#[test]
fn flags_config_errors_name_the_key_and_help_shows_the_defaults() {
    let tmp = tempdir();
    let config = config_file(tmp.path(), "[flags]\nladder = [1, 50, 25]\n");
    flags_cmd(&config, &["status"])
        .assert()
        .code(2)
        .stderr(contains("[flags] ladder in"))
        .stderr(contains("not strictly ascending"));
    let config = config_file(tmp.path(), "[flags]\nmigation = \"x\"\n");
    replay(
        &tmp.path().join("run"),
        &["--config", config.to_str().unwrap()],
    )
    .assert()
    .code(2)
    .stderr(contains("line 2, column 1: unknown field `migation`"));
    cutover()
        .args(["flags", "--help"])
        .assert()
        .code(0)
        .stdout(contains("[default: normalize]"))
        .stdout(contains("[default: flags.json]"))
        .stdout(contains("[default: userId]"))
        .stdout(contains("ladder (default [1, 5, 25, 50, 100])"));
    cutover()
        .args(["flags", "set", "serve", "101"])
        .assert()
        .code(2)
        .stderr(contains("101 is not in 0..=100"));
}

/// Regression: `flags status --migration x` was refused (the shared options
/// were accepted only before the action).
#[test]
fn shared_options_go_before_or_after_the_action() {
    let tmp = tempdir();
    let (_, config) = local_setup(tmp.path());
    for args in [
        &["--migration", "other", "status"][..],
        &["status", "--migration", "other"][..],
    ] {
        flags_cmd(&config, args)
            .assert()
            .code(0)
            .stdout(contains("cutover.other.serve"));
    }
}

#[test]
fn an_invalid_rollout_in_the_flag_file_names_the_file_the_line_and_the_flag() {
    let tmp = tempdir();
    let (flags, config) = local_setup(tmp.path());
    let bundled = std::fs::read_to_string(&flags).unwrap();
    let serve_at = bundled.find("\"cutover.normalize.serve\"").unwrap();
    for bad in ["50.5", "101", "-5", " 50", "", "50%"] {
        let rollout = bundled[serve_at..].find("\"rollout\": \"0\"").unwrap() + serve_at;
        let text = format!(
            "{}\"rollout\": {bad:?}{}",
            &bundled[..rollout],
            &bundled[rollout + "\"rollout\": \"0\"".len()..]
        );
        std::fs::write(&flags, &text).unwrap();
        let line = text[..rollout].matches('\n').count() + 1;
        let output = flags_cmd(&config, &["status"])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&output.stderr);
        for part in [
            format!("flag file {}: line {line}, ", flags.display()),
            "flag \"cutover.normalize.serve\"".to_owned(),
            format!("rollout {bad:?}"),
        ] {
            assert!(
                stderr.contains(&part),
                "{bad:?}: {part} missing in {stderr}"
            );
        }
        let out = tmp.path().join(format!("run{line}{}", bad.len()));
        let stdout = stdout_of(
            replay(&out, &["--config", config.to_str().unwrap()]).env_remove("UNLEASH_API_URL"),
            0,
        );
        assert!(
            stdout.contains("rollout     unknown (flag file")
                && stdout.contains(&format!("line {line}")),
            "{bad:?}: {stdout}"
        );
        assert_eq!(summary(&out)["rollout"]["state"], "unknown");
    }
}

/// A replay in a directory with no flag file and no `cutover.toml`.
fn replay_in(dir: &Path, args: &[&str]) -> std::process::Output {
    let capture = planted_capture(dir);
    cutover()
        .current_dir(dir)
        .env_remove("UNLEASH_API_URL")
        .env_remove("CUTOVER_LOG")
        .args(["replay", "--no-progress", "--out", "run", "--legacy"])
        .arg(format!(
            "worker:python3 {}",
            repo().join("legacy/worker.py").display()
        ))
        .args(["--candidate", "builtin:normalize"])
        .arg(&capture)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn without_any_flag_state_a_replay_says_nothing_about_flags() {
    let tmp = tempdir();
    let output = replay_in(tmp.path(), &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.code().is_some_and(|c| c <= 1), "{stderr}");
    assert_eq!(stderr, "", "nothing on stderr");
    for word in ["rollout", "evidence", "flags set", "flag file"] {
        assert!(!stdout.contains(word), "{word} in {stdout}");
    }
    assert!(summary(&tmp.path().join("run"))["rollout"].is_null());
}

#[test]
fn a_configured_flag_file_that_is_missing_is_said_once_and_without_colour() {
    let tmp = tempdir();
    let output = replay_in(tmp.path(), &["--flags-source", "missing.json"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("cannot read flag file missing.json").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "colour on a pipe: {stderr:?}");
    assert!(stdout.contains("rollout     unknown"), "{stdout}");
}

#[test]
fn no_flags_can_be_set_in_cutover_toml() {
    let tmp = tempdir();
    let config = config_file(tmp.path(), "[replay]\nno_flags = true\n");
    let out = tmp.path().join("run");
    replay(&out, &["--config", config.to_str().unwrap()])
        .assert()
        .code(0);
    assert!(summary(&out)["rollout"].is_null());
}

#[test]
fn flags_commands_read_the_replay_settings_they_share_from_cutover_toml() {
    let tmp = tempdir();
    let (flags, _) = local_setup(tmp.path());
    let capture = planted_capture(tmp.path());
    let reports = tmp.path().join("reports");
    let config = config_file(
        tmp.path(),
        &format!(
            "[replay]\ntraffic = [{:?}]\nreports_dir = {:?}\nlegacy = \"builtin:normalize\"\n\n[flags]\nsource = {:?}\naudit_log = {:?}\n",
            capture.display().to_string(),
            reports.display().to_string(),
            flags.display().to_string(),
            tmp.path().join("audit.jsonl").display().to_string(),
        ),
    );
    let status = stdout_of(&mut flags_cmd(&config, &["status"]), 0);
    redactions(tmp.path())
        .bind(|| insta::assert_snapshot!("flags_status_of_the_replay_capture", status));
    let mut run = cutover();
    run.args(["replay", "--no-progress", "--config"])
        .arg(&config);
    run.assert().code(0);
    flags_cmd(&config, &["promote"])
        .assert()
        .code(1)
        .stdout(contains(format!("evidence: {}", reports.display())));
}

#[test]
fn flags_set_and_rollback_keep_the_flag_files_mode() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let (flags, config) = local_setup(tmp.path());
    let mode = || std::fs::metadata(&flags).unwrap().permissions().mode() & 0o7777;
    let set_mode = |mode: u32| {
        std::fs::set_permissions(&flags, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set_mode(0o644);
    flags_cmd(&config, &["set", "serve", "25"]).assert().code(0);
    assert_eq!(format!("{:o}", mode()), "644", "after flags set");
    // A mode no umask gives a new file: kept, not recomputed.
    set_mode(0o664);
    flags_cmd(&config, &["rollback"])
        .assert()
        .code(0)
        .stdout(contains("25% -> 0%"));
    assert_eq!(format!("{:o}", mode()), "664", "after flags rollback");
    assert!(std::fs::read_to_string(&flags)
        .unwrap()
        .contains("\"rollout\": \"0\""));
}
