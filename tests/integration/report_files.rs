//! Writing a run's report files: one run per directory, the files' modes,
//! output paths checked before any record is read, bounded diffs.

use crate::util::*;
use predicates::str::contains;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed if the test fails before it ended.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A replay that runs for a while (a slow legacy), as a child we can signal.
fn slow_replay(out: &Path, capture: &Path) -> Running {
    let child = cutover_process()
        .args(["replay", "--no-progress", "--concurrency", "2", "--legacy"])
        .arg("worker:python3 fixtures/doubles/faulty_worker.py --delay-ms 20")
        .arg("--out")
        .arg(out)
        .arg(capture)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Running(child)
}

/// Waits until `path` exists (the run has started writing), at most 30 s.
fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ctrl-C to `child`, then its exit code (at most 30 s).
fn interrupt(Running(child): &mut Running) -> Option<i32> {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_replay_into_a_run_directory_in_use_is_refused_naming_the_holder() {
    let tmp = tempdir();
    let lines: Vec<String> = (0..2000)
        .map(|i| record(&format!("r{i}"), json!({"items": [" a "]})))
        .collect();
    let slow = capture(tmp.path(), "slow.jsonl", &lines);
    let quick = capture(
        tmp.path(),
        "quick.jsonl",
        &[record("q1", json!({"items": [" b "]}))],
    );
    let out = tmp.path().join("run");
    let mut first = slow_replay(&out, &slow);
    wait_for(&out.join("mismatches.csv"));

    let refused = replay(&out, &[quick.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(contains(format!("process {}", first.0.id())))
        .stderr(contains("cutover replay"))
        .stderr(contains("--out"));
    let stderr = String::from_utf8(refused.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains(&out.display().to_string()), "{stderr}");

    // The first run was not disturbed: its report is its own.
    assert_eq!(interrupt(&mut first), Some(130));
    let s = summary(&out);
    assert_eq!(s["settings"]["traffic"][0], slow.display().to_string());
    let read = count(&s, "read");
    assert!(read > 0 && read < 2000, "read {read}");
    assert_eq!(count(&s, "matched"), read, "{s}");
    assert_accounted(&s);

    // Once it has ended, the directory is free again.
    replay(&out, &[quick.to_str().unwrap()]).assert().code(0);
    assert_eq!(count(&summary(&out), "read"), 1);
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "nothing hidden is left behind: {left:?}");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn summary_and_page_get_the_mode_of_the_other_report_files() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    replay(&out, &["--candidate", "builtin:normalize-naive"])
        .assert()
        .code(1);
    let csv = mode(&out.join("mismatches.csv"));
    for file in ["summary.json", "index.html", "diffs.txt", "rejected.jsonl"] {
        assert_eq!(
            format!("{:o}", mode(&out.join(file))),
            format!("{csv:o}"),
            "{file} has the mode of mismatches.csv (what the umask gives)"
        );
    }
}

#[test]
fn an_unwritable_junit_path_is_refused_before_any_record_is_read() {
    let tmp = tempdir();
    // A path under a regular file cannot be created, even by root.
    let blocker = tmp.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let junit = blocker.join("junit.xml");
    let out = tmp.path().join("run");
    replay(&out, &["--junit", junit.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(contains(junit.display().to_string()))
        .stderr(contains("--junit"));
    assert!(
        !out.join("summary.json").exists(),
        "the run did not happen: no record was read"
    );
}

#[test]
fn a_huge_all_different_record_is_diffed_within_the_deadline_and_says_so() {
    let tmp = tempdir();
    // 30,000 items that both ports keep but only one strips: every element
    // of the two answers differs. Unbounded, its diff takes minutes.
    let items: Vec<String> = (0..30_000).map(|i| format!("\u{1c}e{i}")).collect();
    let path = capture(
        tmp.path(),
        "huge.jsonl",
        &[
            record("huge", json!({ "items": items })),
            record("small", json!({"items": ["\u{1c}x"]})),
        ],
    );
    let out = tmp.path().join("run");
    let started = Instant::now();
    replay(
        &out,
        &[
            path.to_str().unwrap(),
            "--candidate",
            "builtin:normalize-naive",
        ],
    )
    .timeout(Duration::from_secs(60))
    .assert()
    .code(1);
    let took = started.elapsed();
    // The diff is cut after 500 ms; the rest (a debug build reading, comparing
    // and writing 30,000 elements) takes a few seconds more.
    assert!(took < Duration::from_secs(30), "replay took {took:?}");
    let diffs = std::fs::read_to_string(out.join("diffs.txt")).unwrap();
    let (huge, small) = diffs.split_once("=== id=\"small\"").expect("both diffed");
    assert!(
        huge.contains("diff cut after 500ms")
            && huge.contains("the full answers are in mismatches.csv"),
        "{}",
        &huge[..huge.len().min(2000)]
    );
    assert!(
        !small.contains("diff cut"),
        "the next record gets its whole diff: {small}"
    );
    assert!(small.contains("-    \"x\"\n+    \"\\u001cx\""), "{small}");
    assert_eq!(mismatches(&out).len(), 2);
}

/// 100,000 mismatches (the naive port against the port, builtins both, 40
/// byte `req-UUID` ids): the page stays under its cap and its id index
/// holds every id, the last one included.
#[test]
fn the_page_indexes_every_id_and_stays_under_its_cap_at_100k_mismatches() {
    use std::io::Write;
    let tmp = tempdir();
    let path = tmp.path().join("100k.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let id = |i: u64| {
        let a = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995;
        let b = a.rotate_left(29).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        format!(
            "req-{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    };
    for i in 0..100_000u64 {
        // U+001E: Python's strip() and the port remove it, the naive port
        // keeps it: every record differs.
        let line = json!({"id": id(i), "input": {"items": [format!("\u{1e}{}", i % 7), format!(" k{i} ")]}});
        writeln!(file, "{line}").unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let run = tmp.path().join("run");
    replay(
        &run,
        &[
            path.to_str().unwrap(),
            "--legacy",
            "builtin:normalize",
            "--candidate",
            "builtin:normalize-naive",
        ],
    )
    .assert()
    .code(1);
    assert_eq!(count(&summary(&run), "mismatched"), 100_000);
    let page = std::fs::read_to_string(run.join("index.html")).unwrap();
    eprintln!("index.html: {} bytes at 100,000 mismatches", page.len());
    assert!(
        page.len() < cutover::report::html::PAGE_BYTES,
        "{} bytes",
        page.len()
    );
    assert!(
        page.contains("holds 100000 of 100000 non-matching record ids"),
        "every id is indexed"
    );
    let last = id(99_999);
    let index = &page[page.find("<pre id=\"id-index\"").unwrap()..];
    assert!(
        index
            .lines()
            .any(|l| l.split_once(' ').is_some_and(|(n, s)| n
                .parse::<usize>()
                .is_ok_and(|n| n + s.len() == last.len())
                && last.ends_with(s))),
        "{last} is in the index"
    );
}
