//! SIGTERM and SIGINT: the first one stops reading, finishes the records in
//! flight and writes a consistent partial report (exit 143 or 130); a second
//! one quits at once. Either way no worker is left running. Includes the
//! fault-injection suite that signals replays at random points.

use crate::util::*;
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A capture of `n` records for the fast builtin pair
/// (`builtin:normalize` vs `builtin:normalize-naive`): every 50th record
/// holds U+001C, which only the naive port strips, so it mismatches.
fn big_capture(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("big-{n}.jsonl"));
    if path.exists() {
        return path;
    }
    let mut text = String::with_capacity(n * 80);
    for i in 0..n {
        let mut items = vec![format!(" item {i} "), "  ".to_owned()];
        if i % 50 == 0 {
            items.push(format!("\u{1c}x{i}\u{1d}"));
        }
        text.push_str(&record(
            &format!("r{i}"),
            serde_json::json!({ "items": items }),
        ));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Records of [`big_capture`] that mismatch.
fn mismatching(read: u64) -> u64 {
    read.div_ceil(50)
}

fn fast_replay(capture: &Path, out: &Path) -> std::process::Command {
    replay_process(
        capture,
        out,
        "builtin:normalize",
        &["--candidate", "builtin:normalize-naive"],
    )
}

/// A worker double that ignores the end of its input, SIGTERM and SIGINT,
/// writing its pid into `pids`.
fn stubborn_worker(pids: &Path) -> String {
    format!(
        "worker:python3 fixtures/doubles/faulty_worker.py --ignore-eof --pid-dir {}",
        pids.display()
    )
}

fn stderr_of(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

/// What a report directory must satisfy, however the run ended: either no
/// directory at all, or a complete `summary.json` whose counts add up and
/// match the rows of `mismatches.csv`, and no temporary file left behind.
/// Returns the summary, if there is one.
fn assert_consistent(
    out: &Path,
    expected_mismatches: impl Fn(u64) -> u64,
    context: &str,
) -> Option<serde_json::Value> {
    if !out.exists() {
        return None;
    }
    let names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".tmp") || n.starts_with('.')),
        "{context}: temporary files left in {}: {names:?}",
        out.display()
    );
    assert!(
        names.iter().any(|n| n == "summary.json"),
        "{context}: {} has no summary.json: {names:?}",
        out.display()
    );
    let s = summary(out);
    assert_accounted(&s);
    let read = count(&s, "read");
    let non_matching = count(&s, "mismatched") + count(&s, "errored");
    // Every row parses with every column: none is cut off.
    let rows = mismatches(out);
    assert_eq!(rows.len() as u64, non_matching, "{context}: {s}");
    assert_eq!(non_matching, expected_mismatches(read), "{context}: {s}");
    let ids: Vec<u64> = rows.iter().map(|r| r["id"][1..].parse().unwrap()).collect();
    assert!(
        ids.iter().all(|&i| i < read),
        "{context}: rows past read {read}"
    );
    assert!(out.join("index.html").exists(), "{context}");
    Some(s)
}

/// Waits until the report's mismatches.csv has grown past `bytes` (records
/// are flowing), or fails.
fn wait_for_rows(out: &Path, bytes: u64) {
    let started = Instant::now();
    loop {
        let len = std::fs::metadata(out.join("mismatches.csv")).map_or(0, |m| m.len());
        if len > bytes {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no rows written"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Regression (issue 9, item 1): SIGTERM (docker stop, Kubernetes, systemd,
/// timeout) killed the replay at once: exit 143 with no summary.json and
/// mismatches.csv cut mid-row. It now does what the first Ctrl-C does.
#[test]
fn sigterm_stops_reading_and_writes_a_consistent_partial_report() {
    let tmp = tempdir();
    let capture = big_capture(tmp.path(), 100_000);
    let out = tmp.path().join("run");
    let mut child = fast_replay(&capture, &out).spawn().unwrap();
    wait_for_rows(&out, 16 << 10);
    send(child.id(), Signal::SIGTERM);
    let status = wait_within(&mut child, Duration::from_secs(60), "replay after SIGTERM");
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(143), "{status:?}\n{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    let s = assert_consistent(&out, mismatching, "SIGTERM").expect("a report");
    assert_eq!(s["status"]["state"], "interrupted", "{s}");
    assert_eq!(s["status"]["signal"], "SIGTERM", "{s}");
    assert_eq!(s["exit_code"], 143, "{s}");
    assert!(count(&s, "read") < 100_000, "{s}");
}

/// Regression (issue 9, items 1 and 9): the first signal drains; a second
/// one (of either kind) quits at once. Workers that ignore the end of their
/// input, SIGTERM and SIGINT were left running after SIGTERM and after a
/// double Ctrl-C.
#[test]
fn a_second_signal_quits_at_once_and_no_worker_is_left() {
    let tmp = tempdir();
    // Every call hangs: the first signal's drain could only end at --timeout.
    let capture = fault_capture(tmp.path(), "t.jsonl", 50, |_| Some("hang"));
    for (first, second, code) in [
        (Signal::SIGTERM, Signal::SIGINT, 130),
        (Signal::SIGINT, Signal::SIGINT, 130),
        (Signal::SIGINT, Signal::SIGTERM, 143),
    ] {
        let pids_in = pid_dir(tmp.path(), "pids");
        let out = tmp.path().join(format!("run-{first}-{second}"));
        let extra = ["--workers", "2", "--timeout", "60s"];
        let mut child = replay_process(&capture, &out, &stubborn_worker(&pids_in), &extra)
            .spawn()
            .unwrap();
        let workers = wait_for_pids(&pids_in, "worker", 2);
        send(child.id(), first);
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            child.try_wait().unwrap().is_none(),
            "{first}: drains, does not quit"
        );
        send(child.id(), second);
        let status = wait_within(
            &mut child,
            Duration::from_secs(5),
            "replay after two signals",
        );
        let stderr = stderr_of(&mut child);
        assert_eq!(
            status.code(),
            Some(code),
            "{first} then {second}: {status:?}\n{stderr}"
        );
        assert_all_gone(
            &workers,
            Duration::from_secs(3),
            &format!("workers after {first} then {second}"),
        );
    }
}

/// Regression (issue 9, item 9): after one SIGTERM the drain ends (the hung
/// calls time out), the report is written, and workers that ignore the end
/// of their input are killed after the grace instead of being left running.
#[test]
fn sigterm_leaves_no_stubborn_worker_running() {
    let tmp = tempdir();
    let pids_in = pid_dir(tmp.path(), "pids");
    let capture = fault_capture(tmp.path(), "t.jsonl", 200, |i| (i == 3).then_some("hang"));
    let out = tmp.path().join("run");
    let extra = [
        "--workers",
        "2",
        "--timeout",
        "3s",
        "--concurrency",
        "4",
        // The hung call was sent before the worker's first answer: without
        // this it would wait for the start-up allowance (30 s), not 3 s.
        "--startup-timeout",
        "0s",
    ];
    let mut child = replay_process(&capture, &out, &stubborn_worker(&pids_in), &extra)
        .spawn()
        .unwrap();
    let workers = wait_for_pids(&pids_in, "worker", 2);
    std::thread::sleep(Duration::from_millis(300));
    send(child.id(), Signal::SIGTERM);
    let status = wait_within(&mut child, Duration::from_secs(30), "replay after SIGTERM");
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(143), "{status:?}\n{stderr}");
    let s = summary(&out);
    assert_accounted(&s);
    assert_eq!(s["status"]["state"], "interrupted", "{s}");
    assert_all_gone(&workers, Duration::from_secs(3), "workers after SIGTERM");
}

/// splitmix64: a seeded generator for the signal points, printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Fault injection: SIGTERM and SIGINT at random points in a 100k-record
/// replay, 20 times. Whenever the signal lands (before cutover's handler is
/// installed, while the command line is checked, while records flow, while
/// the report is written), the outcome is consistent: no report directory
/// at all, or a complete one whose counts add up and match its rows. Set
/// CUTOVER_FAULT_SEED to replay a failing sequence.
#[test]
fn signals_at_random_points_always_leave_a_consistent_report() {
    let seed = std::env::var("CUTOVER_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut rng = Rng(seed);
    let tmp = tempdir();
    let capture = big_capture(tmp.path(), 100_000);
    // How long a whole run takes here, so the points cover all of it.
    let started = Instant::now();
    let whole = tmp.path().join("whole");
    let mut child = fast_replay(&capture, &whole).spawn().unwrap();
    let status = wait_within(&mut child, Duration::from_secs(120), "a whole replay");
    assert_eq!(status.code(), Some(1));
    let span = started.elapsed();
    assert_consistent(&whole, mismatching, "the whole run");
    let mut mid_run = 0;
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for run in 0..20 {
        let signal = if rng.below(2) == 0 {
            Signal::SIGTERM
        } else {
            Signal::SIGINT
        };
        // The first points are extremes (at once, and in the first 60 ms,
        // while cutover starts and sets the run up); the rest fall anywhere
        // in the run and a little past it.
        let at = match run {
            0 => Duration::ZERO,
            1..=3 => Duration::from_millis(rng.below(60)),
            _ => Duration::from_millis(rng.below(span.as_millis() as u64 * 11 / 10)),
        };
        let context = format!("seed {seed}, run {run}: {signal} after {at:?}");
        let out = tmp.path().join(format!("run-{run}"));
        let mut child = fast_replay(&capture, &out).spawn().unwrap();
        std::thread::sleep(at);
        // It may already have finished.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal);
        let status = wait_within(&mut child, Duration::from_secs(120), &context);
        let stderr = stderr_of(&mut child);
        let context = format!("{context}: {status:?}\n{stderr}");
        let by_signal = 128 + signal as i32;
        let outcome = match (
            status.code(),
            assert_consistent(&out, mismatching, &context),
        ) {
            // Killed before cutover's first instruction ran: nothing written.
            (None, None) => {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(status.signal(), Some(signal as i32), "{context}");
                "killed before main"
            }
            // Before the command line was parsed: quit at once, nothing written.
            (Some(code), None) => {
                assert_eq!(code, by_signal, "{context}");
                "quit before the run"
            }
            (Some(code), Some(s)) if code == by_signal => {
                assert_eq!(s["status"]["state"], "interrupted", "{context}");
                assert_eq!(s["status"]["signal"], signal.as_str(), "{context}");
                assert_eq!(s["exit_code"], by_signal, "{context}");
                match count(&s, "read") {
                    0 => "interrupted before the first record",
                    100_000 => "interrupted after the last record",
                    _ => {
                        mid_run += 1;
                        "interrupted mid-run"
                    }
                }
            }
            // The signal came after reading ended: the run is complete and
            // exits as it would have.
            (Some(1), Some(s)) => {
                assert_eq!(s["status"]["state"], "complete", "{context}");
                assert_eq!(count(&s, "read"), 100_000, "{context}");
                "complete"
            }
            (code, _) => panic!("{context}: unexpected exit {code:?}"),
        };
        *seen.entry(outcome).or_default() += 1;
    }
    eprintln!("seed {seed}: {seen:?}");
    // The points were not all before or after the records flowed.
    assert!(
        mid_run >= 5,
        "seed {seed}: only {mid_run} runs were stopped mid-run"
    );
}

/// The exit statuses after a signal, and the exec bound, are in `--help`.
#[test]
fn help_states_the_signal_exit_statuses_and_the_exec_bound() {
    // Lines are wrapped to the terminal: compare with the words joined.
    let words = |text: String| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = words(stdout_of(&mut cutover_args(&["replay", "--help"]), 0));
    for needle in [
        "130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM",
        "a second signal of either kind quits at once",
        "exec: targets run at most --workers processes at once",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    let text = words(stdout_of(&mut cutover_args(&["--help"]), 0));
    assert!(text.contains("143 by SIGTERM"), "{text}");
}
