//! Helpers: run the binary, read its reports.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `cutover` from the repository root, with a hard time limit so a hang fails.
pub fn cutover() -> Command {
    let mut cmd = Command::cargo_bin("cutover").expect("binary builds");
    cmd.current_dir(repo()).timeout(Duration::from_secs(120));
    cmd
}

/// `cutover replay --out OUT --no-progress ARGS...`
pub fn replay(out: &Path, args: &[&str]) -> Command {
    let mut cmd = cutover();
    cmd.arg("replay")
        .arg("--out")
        .arg(out)
        .arg("--no-progress")
        .args(args);
    cmd
}

pub fn summary(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json written");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

pub fn count(summary: &Value, name: &str) -> u64 {
    summary["counts"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("counts.{name} missing in {summary}"))
}

/// Several counts at once, in the order named.
pub fn counts(summary: &Value, names: &[&str]) -> Vec<u64> {
    names.iter().map(|n| count(summary, n)).collect()
}

/// Asserts the accounting identities every report must satisfy.
pub fn assert_accounted(summary: &Value) {
    let c = |n| count(summary, n);
    assert_eq!(
        c("read"),
        c("rejected") + c("compared") + c("errored"),
        "{summary}"
    );
    assert_eq!(
        c("compared"),
        c("matched") + c("mismatched") + c("accepted") + c("noisy"),
        "{summary}"
    );
    assert_eq!(c("errored"), c("errors") + c("timeouts"), "{summary}");
    assert_eq!(
        c("errors"),
        c("legacy_errors") + c("candidate_errors") + c("both_errors"),
        "{summary}"
    );
}

/// Rows of mismatches.csv as maps of column → cell.
pub fn mismatches(out: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(out.join("mismatches.csv")).expect("mismatches.csv written");
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(str::to_owned)
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// Writes a capture file from JSON values, one per line.
pub fn capture(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

pub fn record(id: &str, input: Value) -> String {
    serde_json::json!({"id": id, "key": format!("k-{id}"), "input": input}).to_string()
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes `text` as `cutover.toml` in `dir`; returns its path.
pub fn config_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("cutover.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `cutover ARGS...` with colour off unless asked (stdout is a pipe anyway).
pub fn cutover_args(args: &[&str]) -> Command {
    let mut cmd = cutover();
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

/// Runs `cmd`, expects `code`, returns stdout as text.
pub fn stdout_of(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().clone();
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// The planted-bug capture the review tests share: 3 `upper` records (a
/// mismatch group), 2 `raise` (a candidate_error group), 1 `drop_rejected`,
/// and 4 clean ones.
pub fn planted_capture(dir: &Path) -> PathBuf {
    let mut lines = Vec::new();
    for (plant, n) in [("upper", 3), ("raise", 2), ("drop_rejected", 1)] {
        for i in 0..n {
            lines.push(record(
                &format!("{plant}-{i}"),
                serde_json::json!({"items": [format!(" {plant} {i} "), "  "], "plant": plant}),
            ));
        }
    }
    for i in 0..4 {
        lines.push(record(
            &format!("clean-{i}"),
            serde_json::json!({"items": [" ok "]}),
        ));
    }
    capture(dir, "planted.jsonl", &lines)
}

/// The planted worker as the candidate, with extra arguments.
pub fn planted_candidate(extra: &str) -> String {
    format!("worker:python3 fixtures/doubles/planted_worker.py {extra}")
        .trim_end()
        .to_owned()
}

/// Replays `capture` into `out` with the planted worker (plus `extra`) as
/// the candidate and `args`, expecting differences (exit 1).
pub fn replay_planted(out: &Path, capture: &Path, extra: &str, args: &[&str]) {
    let candidate = planted_candidate(extra);
    let mut all = vec![capture.to_str().unwrap(), "--candidate", &candidate];
    all.extend_from_slice(args);
    replay(out, &all).assert().code(1);
}

/// Runs `cmd` to its end (killing it after `limit`), polling its peak
/// resident set size (VmHWM in /proc, Linux) every 5 ms; returns its exit
/// code and the peak in KiB of the process itself (not its children).
pub fn run_with_peak_rss(cmd: &mut std::process::Command, limit: Duration) -> (Option<i32>, u64) {
    let mut child = cmd.spawn().expect("the command starts");
    let status_file = format!("/proc/{}/status", child.id());
    let started = std::time::Instant::now();
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), peak);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `cutover replay --no-progress --out OUT ARGS...` as a plain process, for
/// tests that signal it or watch its memory.
pub fn replay_process(out: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"));
    cmd.current_dir(repo())
        .args(["replay", "--no-progress", "--out"])
        .arg(out)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd
}
