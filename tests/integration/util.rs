//! Helpers: run the binary, read its reports.
//!
//! # Hermetic
//! Every command runs in the test's own sandbox ([`sandbox`]): a temporary
//! working directory holding links to the repository's `legacy/` and
//! fixtures, a copy of `flags.json` and of `fixtures/regressions/`, and
//! nothing else — no `cutover.toml`, no `reports/` — with the environment
//! scrubbed of everything that changes cutover's behaviour (`UNLEASH_*`,
//! `CUTOVER_*`, `PAGER`, `LESS`, `NO_COLOR`, `CLICOLOR*`). So a developer's
//! own config, reports or environment cannot change a result, and no test
//! writes into the repository.
//!
//! The idiom most tests repeat — write a capture, replay it, read the
//! summary — is one builder, [`Replay`].
//!
//! # Left to scripts/test
//! Tests that need what only `scripts/test` provides (the real Unleash
//! server, the Node SDK and conformance suite, Chromium, nats-server with
//! JetStream at `CUTOVER_TEST_NATS_URL`) start with
//! [`left_to_scripts_test`]. `scripts/test` sets [`SERVICES`]`=1`: they run
//! for real, and fail when a service is missing. A plain `cargo test` does
//! not: each says so on the terminal (not captured) and ends, and
//! `services::left_to_scripts_test_are_listed` lists them all.

use assert_cmd::Command;
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Set to `1` by `scripts/test`, which provides the services.
pub const SERVICES: &str = "CUTOVER_TEST_SERVICES";

/// Whether the running test must end here because `needs` is only there
/// under `scripts/test` (see the module docs); says so loudly when it must.
pub fn left_to_scripts_test(needs: &str) -> bool {
    if std::env::var_os(SERVICES).is_some_and(|v| v == "1") {
        return false;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    // Straight to the terminal: libtest captures print!, not this.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "LEFT TO scripts/test: {test} needs {needs} ({SERVICES}=1, which scripts/test sets)"
    );
    true
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One test's working directory (see the module docs).
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("cutover-test-")
            .tempdir()
            .expect("a temporary directory");
        let root = dir.path();
        let link = |from: &str, to: &str| {
            std::os::unix::fs::symlink(repo().join(from), root.join(to)).unwrap()
        };
        link("legacy", "legacy");
        std::fs::create_dir(root.join("fixtures")).unwrap();
        for entry in std::fs::read_dir(repo().join("fixtures")).unwrap() {
            let name = entry.unwrap().file_name();
            let name = name.to_str().unwrap();
            // Pinned cases are written by `cutover pin`: a copy, so a test
            // that pins never touches the repository.
            if name == "regressions" {
                copy_dir(
                    &repo().join("fixtures/regressions"),
                    &root.join("fixtures/regressions"),
                );
            } else {
                link(&format!("fixtures/{name}"), &format!("fixtures/{name}"));
            }
        }
        std::fs::copy(repo().join("flags.json"), root.join("flags.json")).unwrap();
        Sandbox { dir }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

thread_local! {
    /// Each test runs on a thread of its own: one sandbox per test, removed
    /// when the test ends.
    static SANDBOX: Sandbox = Sandbox::new();
}

/// The running test's working directory (see the module docs).
pub fn sandbox() -> PathBuf {
    SANDBOX.with(|s| s.dir.path().to_owned())
}

/// Whether an environment variable changes what cutover does.
fn scrubbed(name: &str) -> bool {
    ["UNLEASH_", "CUTOVER_", "CLICOLOR"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["PAGER", "LESS", "NO_COLOR"].contains(&name)
}

/// Removes the variables [`scrubbed`] names from what `cmd` runs with.
pub fn scrub(cmd: &mut std::process::Command) {
    for name in scrubbed_vars() {
        cmd.env_remove(name);
    }
}

/// The names of the variables [`scrubbed`] removes, in this environment.
fn scrubbed_vars() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_str().is_some_and(scrubbed))
        .collect()
}

/// `cutover` in the test's sandbox, environment scrubbed, with a hard time
/// limit so a hang fails.
pub fn cutover() -> Command {
    let mut cmd = Command::cargo_bin("cutover").expect("binary builds");
    cmd.current_dir(sandbox()).timeout(Duration::from_secs(120));
    for name in scrubbed_vars() {
        cmd.env_remove(name);
    }
    cmd
}

/// The idiom of these tests: write a capture, replay it, read the summary.
///
/// `Replay::new(dir)` replays into `dir/run` (`out` to change it), the
/// bundled capture unless `records` or `traffic` says otherwise, with
/// `--no-progress`; `run(code)` expects exit `code`, checks the summary's
/// accounting identities and returns what the run left ([`Ran`]).
#[derive(Debug, Clone)]
pub struct Replay {
    dir: PathBuf,
    out: PathBuf,
    traffic: Vec<OsString>,
    args: Vec<OsString>,
}

impl Replay {
    pub fn new(dir: &Path) -> Replay {
        Replay {
            dir: dir.to_owned(),
            out: dir.join("run"),
            traffic: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Writes `lines` as the capture `dir/NAME` and replays it.
    pub fn records(self, name: &str, lines: &[String]) -> Replay {
        let path = capture(&self.dir, name, lines);
        self.traffic(path)
    }

    /// Replays this capture (repeatable; `-` is stdin).
    pub fn traffic(mut self, path: impl Into<OsString>) -> Replay {
        self.traffic.push(path.into());
        self
    }

    /// Writes the report into exactly `out`.
    pub fn out(mut self, out: &Path) -> Replay {
        self.out = out.to_owned();
        self
    }

    pub fn legacy(self, spec: &str) -> Replay {
        self.args(&["--legacy", spec])
    }

    pub fn candidate(self, spec: &str) -> Replay {
        self.args(&["--candidate", spec])
    }

    /// The planted worker (fixtures/doubles/planted_worker.py) as the candidate.
    pub fn planted(self, extra: &str) -> Replay {
        let candidate = planted_candidate(extra);
        self.candidate(&candidate)
    }

    pub fn args(mut self, args: &[&str]) -> Replay {
        self.args.extend(args.iter().map(OsString::from));
        self
    }

    fn argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec!["replay".into(), "--out".into()];
        argv.push(self.out.clone().into());
        argv.push("--no-progress".into());
        argv.extend(self.traffic.iter().cloned());
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// `cutover replay --out OUT --no-progress TRAFFIC... ARGS...`.
    pub fn command(&self) -> Command {
        let mut cmd = cutover();
        cmd.args(self.argv());
        cmd
    }

    /// The same as a plain process (to signal it, cap its memory, ...).
    pub fn process(&self) -> std::process::Command {
        let mut cmd = cutover_process();
        cmd.args(self.argv());
        cmd
    }

    /// Runs it, expects exit `code`, and reads what it left.
    pub fn run(&self, code: i32) -> Ran {
        let output = self.command().assert().code(code).get_output().clone();
        let summary = summary(&self.out);
        assert_accounted(&summary);
        Ran {
            out: self.out.clone(),
            summary,
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// What a [`Replay`] left: its report directory, its summary and its output.
#[derive(Debug, Clone)]
pub struct Ran {
    pub out: PathBuf,
    pub summary: Value,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn count(&self, name: &str) -> u64 {
        count(&self.summary, name)
    }

    /// The rows of its `mismatches.csv`.
    pub fn rows(&self) -> Vec<std::collections::HashMap<String, String>> {
        mismatches(&self.out)
    }
}

/// `cutover replay --out OUT --no-progress ARGS...`
pub fn replay(out: &Path, args: &[&str]) -> Command {
    Replay::new(out).out(out).args(args).command()
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

/// `summary.json`'s groups as (label, signature, count).
pub fn group_list(summary: &serde_json::Value) -> Vec<(String, String, u64)> {
    summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap().to_owned(),
                g["signature"].as_str().unwrap().to_owned(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect()
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

/// Runs `cmd`, expects `code`, returns stderr as text (lossy).
pub fn stderr_of(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
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
    Replay::new(out)
        .out(out)
        .traffic(capture)
        .planted(extra)
        .args(args)
        .run(1);
}

/// A test double of fixtures/doubles/ running as a server; killed on drop.
pub struct Double {
    child: std::process::Child,
    /// What the double wrote to its port file (its port, or ports).
    pub ports: String,
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Double {
    /// Starts `python3 fixtures/doubles/SCRIPT PORT_FILE ARGS...` and waits
    /// (at most 10 s) for it to write its port file in `dir`.
    pub fn start(dir: &Path, script: &str, args: &[&str]) -> Double {
        let port_file = dir.join(format!("{script}.port"));
        let child = std::process::Command::new("python3")
            .arg(repo().join("fixtures/doubles").join(script))
            .arg(&port_file)
            .args(args)
            .spawn()
            .expect("python3 starts");
        let mut double = Double {
            child,
            ports: String::new(),
        };
        let started = std::time::Instant::now();
        while !port_file.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{script} did not start"
            );
            if let Ok(Some(status)) = double.child.try_wait() {
                panic!("{script} exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        double.ports = std::fs::read_to_string(&port_file).unwrap();
        double
    }

    /// `http://127.0.0.1:PORT` of the double's (first) port.
    pub fn origin(&self) -> String {
        let port = self.ports.split_whitespace().next().unwrap();
        format!("http://127.0.0.1:{port}")
    }
}

/// Insta settings that hide what changes from run to run: the test's
/// temporary directory and sandbox, run ids and timestamps, durations,
/// rates and latencies.
pub fn redactions(dir: &Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex::escape(&dir.display().to_string()), "[TMP]");
    s.add_filter(
        &regex::escape(&sandbox().display().to_string()),
        "[SANDBOX]",
    );
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d[-:]\d\d[-:]\d\d\.\d{3}Z", "[TIME]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
    s.add_filter(r"\d+\.\d\ds · \d+ records/s", "[DURATION]");
    // The whole line: the numbers' widths (and so the spaces before them)
    // depend on how fast the machine was.
    s.add_filter(r"(?m)^  legacy +[0-9. ]+$", "  legacy        [LATENCY]");
    s.add_filter(r"(?m)^  candidate +[0-9. ]+$", "  candidate     [LATENCY]");
    s.add_filter(r"in \d+\.\d\ds", "in [DURATION]");
    s
}

/// Stdout and stderr of a finished command, as text.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every file below `dir` with a line of its text containing one of
/// `needles` (`path: line`), for checks that nothing was written.
pub fn files_containing(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            for line in text.lines() {
                if needles.iter().any(|n| line.contains(n)) {
                    found.push(format!("{}: {line}", path.display()));
                }
            }
        }
    }
    found
}
/// A run of one record, `upper-0`, that the planted candidate gets wrong
/// (one mismatch group of one record), replayed into `dir/run`.
pub fn one_mismatch_run(dir: &Path) -> PathBuf {
    let capture = capture(
        dir,
        "one.jsonl",
        &[record(
            "upper-0",
            serde_json::json!({"items": [" a "], "plant": "upper"}),
        )],
    );
    let run = dir.join("run");
    replay_planted(&run, &capture, "", &["--no-flags"]);
    run
}

/// Copies the files of run directory `from` into `to` (created).
pub fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The `cutover` binary as a plain process (for tests that signal it, cap
/// its memory or give it odd stdio), in the sandbox, environment scrubbed.
pub fn cutover_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"));
    cmd.current_dir(sandbox());
    scrub(&mut cmd);
    cmd
}

/// Caps the address space of the process `cmd` starts (soft `RLIMIT_AS`,
/// so the test doubles it starts can lift theirs: the cap is cutover's
/// alone). An allocation past the cap aborts the process, and the test sees
/// the signal.
pub fn cap_memory(cmd: &mut std::process::Command, bytes: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    use std::os::unix::process::CommandExt;
    let (_, hard) = getrlimit(Resource::RLIMIT_AS).unwrap();
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(move || {
            setrlimit(Resource::RLIMIT_AS, bytes, hard).map_err(std::io::Error::from)
        });
    }
}

/// Waits for `child`, killing it and failing the test after `limit`.
pub fn wait_within(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` to the process `pid`.
pub fn send(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
}

/// Whether the process `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// The pids a test double wrote into `dir` as `KIND-PID` files.
pub fn pids(dir: &Path, kind: &str) -> Vec<u32> {
    let prefix = format!("{kind}-");
    let mut pids: Vec<u32> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix(&prefix).and_then(|p| p.parse().ok())
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Fails unless every process in `pids` is gone within `limit`; kills the
/// survivors so a failing test leaves none behind.
pub fn assert_all_gone(pids: &[u32], limit: Duration, what: &str) {
    let started = std::time::Instant::now();
    while pids.iter().any(|&p| alive(p)) && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survivors: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &pid in &survivors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        survivors.is_empty(),
        "{what}: processes {survivors:?} (of {pids:?}) still running {limit:?} later"
    );
}

/// `count` records `r0..` with small normalize inputs; `fault(i)` may add a
/// `"fault"` field for the faulty test doubles.
pub fn fault_capture(
    dir: &Path,
    name: &str,
    count: usize,
    fault: impl Fn(usize) -> Option<&'static str>,
) -> PathBuf {
    let lines: Vec<String> = (0..count)
        .map(|i| {
            let mut input = serde_json::json!({"items": [format!(" item {i} ")]});
            if let Some(fault) = fault(i) {
                input["fault"] = serde_json::json!(fault);
            }
            record(&format!("r{i}"), input)
        })
        .collect();
    capture(dir, name, &lines)
}

/// `cutover replay CAPTURE --out OUT --no-progress --no-flags --legacy LEGACY
/// EXTRA...` as a plain process, stdin and stdout null, stderr piped.
pub fn replay_process(
    capture: &Path,
    out: &Path,
    legacy: &str,
    extra: &[&str],
) -> std::process::Command {
    let mut cmd = Replay::new(out)
        .out(out)
        .traffic(capture)
        .args(&["--no-flags"])
        .legacy(legacy)
        .args(extra)
        .process();
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Waits until a test double has written `n` pid files of `kind` into `dir`.
pub fn wait_for_pids(dir: &Path, kind: &str, n: usize) -> Vec<u32> {
    let started = std::time::Instant::now();
    loop {
        let found = pids(dir, kind);
        if found.len() >= n {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "only {found:?} of {n} {kind} processes started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh, empty directory `name` in `dir` for a double's pid files.
pub fn pid_dir(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir(&path).unwrap();
    path
}

/// Replays `capture` into `out` with `legacy` as the legacy side, flags not
/// evaluated, and `extra`; expects exit `code`.
pub fn replay_legacy(
    out: &Path,
    capture: &Path,
    legacy: &str,
    extra: &[&str],
    code: i32,
) -> assert_cmd::assert::Assert {
    Replay::new(out)
        .out(out)
        .traffic(capture)
        .args(&["--no-flags"])
        .legacy(legacy)
        .args(extra)
        .command()
        .assert()
        .code(code)
}

/// The values in KiB of every `NAME: N kB` line of a /proc file (`status`,
/// `smaps`) whose name is `field` (with its colon).
pub fn kib_fields<'t>(text: &'t str, field: &'t str) -> impl Iterator<Item = u64> + 't {
    text.lines()
        .filter_map(move |l| l.strip_prefix(field))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
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
            let hwm = kib_fields(&text, "VmHWM:").next();
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
pub fn replay_args_process(out: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = cutover_process();
    cmd.args(["replay", "--no-progress", "--out"])
        .arg(out)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd
}
