//! Hostile targets: child processes that keep pipes open, stderr that is not
//! UTF-8 or never ends a line, stdout lines far over the limit, workers that
//! ignore the end of their input. Each runs under a memory cap the test sets
//! on cutover; nothing may hang, leak a process or grow without bound.

use crate::util::*;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// The address-space cap for cutover in these tests. A normal run of the
/// bundled capture needs well under 256 MiB; anything that buffers a child's
/// output without limit blows through this within a second or two.
const MEMORY_CAP: u64 = 512 << 20;

fn faulty(extra: &str) -> String {
    format!("worker:python3 fixtures/doubles/faulty_worker.py {extra}")
}

/// One worker, no retries: each fault costs exactly one record.
const ONE_WORKER: &[&str] = &["--workers", "1", "--retries", "0"];

/// Replays `capture` with `legacy` (and `extra`) into `out` under the memory
/// cap, within 90 s; expects exit `code`; returns the summary (whose counts
/// must add up) and how long the run took.
fn capped_replay(
    out: &std::path::Path,
    capture: &std::path::Path,
    legacy: &str,
    extra: &[&str],
    code: i32,
) -> (serde_json::Value, Duration) {
    let mut cmd = replay_process(capture, out, legacy, extra);
    cmd.stdout(std::process::Stdio::piped());
    cap_memory(&mut cmd, MEMORY_CAP);
    let started = Instant::now();
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    // Bounded: a hang fails the test instead of stalling the suite.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            send(pid, Signal::SIGKILL);
            panic!("cutover replay --legacy {legacy} still running after 90 s");
        }
    };
    assert_eq!(
        output.status.code(),
        Some(code),
        "--legacy {legacy}: status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let s = summary(out);
    assert_accounted(&s);
    (s, started.elapsed())
}

/// Regression (issue 9, item 7): a worker that crashed while a child it had
/// started still held its stdout was only noticed when `--timeout` ran out,
/// the call reported `timeout`, and the child was left running.
#[test]
fn a_crashed_worker_whose_child_holds_its_stdout_is_noticed_at_once() {
    let tmp = tempdir();
    let pids_in = pid_dir(tmp.path(), "pids");
    let path = fault_capture(tmp.path(), "t.jsonl", 30, |i| {
        (i == 10).then_some("crash_with_child")
    });
    let out = tmp.path().join("run");
    let legacy = faulty(&format!("--pid-dir {}", pids_in.display()));
    let (s, elapsed) = capped_replay(
        &out,
        &path,
        &legacy,
        &["--workers", "1", "--timeout", "30s"],
        1,
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_eq!(count(&s, "timeouts"), 0, "{s}");
    assert_eq!(count(&s, "matched"), 29, "{s}");
    let rows = mismatches(&out);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], "r10");
    assert_eq!(rows[0]["outcome"], "legacy_error", "{rows:?}");
    assert!(
        rows[0]["legacy"].contains("cutover.worker_died"),
        "{rows:?}"
    );
    assert!(
        rows[0]["legacy"].contains("exited with status 3"),
        "{rows:?}"
    );
    let children = pids(&pids_in, "child");
    assert!(!children.is_empty(), "the double started its children");
    assert_all_gone(
        &children,
        Duration::from_secs(5),
        "children of crashed workers",
    );
}

/// Regression (issue 9, item 7): an `exec:` program that answered and exited
/// 0 while a child it started kept stdout open was reported as a timeout,
/// and the child was left running. The answer is kept.
#[test]
fn an_exec_answer_is_kept_when_a_child_holds_its_stdout() {
    let tmp = tempdir();
    let pids_in = pid_dir(tmp.path(), "pids");
    let path = fault_capture(tmp.path(), "t.jsonl", 4, |_| None);
    let out = tmp.path().join("run");
    let legacy = format!(
        "exec:python3 fixtures/doubles/hostile_exec.py --child-holds-stdout --pid-dir {}",
        pids_in.display()
    );
    let (s, elapsed) = capped_replay(&out, &path, &legacy, &["--timeout", "30s"], 0);
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_eq!(count(&s, "matched"), 4);
    let children = pids(&pids_in, "child");
    assert_eq!(children.len(), 4, "one child per exec program");
    assert_all_gone(
        &children,
        Duration::from_secs(5),
        "children of exec programs",
    );
}

/// Regression (issue 9, item 8): the stderr reader stopped at the first line
/// that was not UTF-8 and closed the pipe; the worker's next log line killed
/// it, and after three such deaths the run stopped with exit 2.
#[test]
fn worker_stderr_that_is_not_utf8_is_read_as_bytes() {
    let tmp = tempdir();
    let path = fault_capture(tmp.path(), "t.jsonl", 40, |i| (i == 30).then_some("crash"));
    let out = tmp.path().join("run");
    let (s, _) = capped_replay(&out, &path, &faulty("--stderr-garbage"), ONE_WORKER, 1);
    assert_eq!(count(&s, "matched"), 39, "{s}");
    // One restart: after the planted crash, none for the stderr.
    assert_eq!(s["status"]["legacy_target"]["restarts"], 1, "{s}");
    let rows = mismatches(&out);
    assert_eq!(rows[0]["id"], "r30");
    // The tail is shown, lossily: the bad bytes become U+FFFD.
    let died = &rows[0]["legacy"];
    assert!(died.contains("\u{fffd}\u{fffd} not UTF-8"), "{died}");
    assert!(died.contains("crashing on purpose"), "{died}");
}

/// Regression (issue 9, item 10): a worker writing stderr without a newline
/// grew cutover's memory without limit (16.8 GB in 48 s); under the cap the
/// run died of a failed allocation.
#[test]
fn endless_worker_stderr_without_a_newline_stays_bounded() {
    let tmp = tempdir();
    let path = fault_capture(tmp.path(), "t.jsonl", 120, |_| None);
    let out = tmp.path().join("run");
    let legacy = faulty("--stderr-flood --delay-ms 40");
    let (s, _) = capped_replay(&out, &path, &legacy, &["--workers", "2"], 0);
    assert_eq!(count(&s, "matched"), 120, "{s}");
}

/// A response line far over `--max-record-bytes` (256 MiB, no newline) is a
/// protocol violation read no further than the limit; exec stdout over the
/// limit is cut there too, and a flood of exec stderr costs nothing.
#[test]
fn huge_stdout_and_stderr_stay_under_the_memory_cap() {
    let tmp = tempdir();
    let path = fault_capture(tmp.path(), "t.jsonl", 20, |i| {
        (i == 5).then_some("huge_line")
    });
    let out = tmp.path().join("worker");
    capped_replay(&out, &path, &faulty(""), ONE_WORKER, 1);
    let rows = mismatches(&out);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0]["legacy"].contains("longer than 4194304 bytes"),
        "{rows:?}"
    );

    let path = fault_capture(tmp.path(), "e.jsonl", 3, |_| None);
    let exec = |args: &str| format!("exec:python3 fixtures/doubles/hostile_exec.py {args}");
    let out = tmp.path().join("stdout");
    capped_replay(&out, &path, &exec("--huge-stdout 64"), &[], 1);
    let rows = mismatches(&out);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r["legacy"].contains("cutover.output_too_large")),
        "{rows:?}"
    );
    let out = tmp.path().join("stderr");
    let (s, _) = capped_replay(&out, &path, &exec("--stderr-flood 256"), &[], 0);
    assert_eq!(count(&s, "matched"), 3, "{s}");
}

/// Starts a replay whose `workers` workers ignore the end of their input
/// (and SIGTERM and SIGINT); returns the child and the workers' pids, once
/// all have started.
fn replay_with_stubborn_workers(
    tmp: &std::path::Path,
    workers: usize,
    fault: impl Fn(usize) -> Option<&'static str>,
    timeout: &str,
) -> (std::process::Child, Vec<u32>) {
    let pids_in = pid_dir(tmp, "pids");
    let path = fault_capture(tmp, "t.jsonl", 10, fault);
    let legacy = faulty(&format!("--ignore-eof --pid-dir {}", pids_in.display()));
    let workers_arg = workers.to_string();
    let child = replay_process(
        &path,
        &tmp.join("run"),
        &legacy,
        &["--workers", &workers_arg, "--timeout", timeout],
    )
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    (child, wait_for_pids(&pids_in, "worker", workers))
}

/// Regression (issue 9, item 9): workers that ignore stdin EOF kept running
/// after cutover was killed with SIGKILL (no cleanup can run then: the
/// parent-death signal ends them).
#[test]
fn workers_die_with_cutover_even_on_sigkill() {
    let tmp = tempdir();
    let (mut child, workers) =
        replay_with_stubborn_workers(tmp.path(), 2, |i| (i == 0).then_some("hang"), "60s");
    send(child.id(), Signal::SIGKILL);
    child.wait().unwrap();
    assert_all_gone(&workers, Duration::from_secs(5), "workers after SIGKILL");
}

/// Regression (issue 9, item 9): the exit grace at the end of a run ran for
/// one worker after another (2 s each), not for all at once.
#[test]
fn stubborn_workers_get_one_shared_grace_then_are_killed() {
    let tmp = tempdir();
    let (mut child, workers) = replay_with_stubborn_workers(tmp.path(), 4, |_| None, "30s");
    let started = Instant::now();
    let status = wait_within(&mut child, Duration::from_secs(60), "replay");
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    // One 2 s grace for all four, not four in a row (8 s and more).
    assert!(took < Duration::from_secs(6), "shutdown took {took:?}");
    assert_all_gone(&workers, Duration::from_secs(2), "workers after the run");
}
