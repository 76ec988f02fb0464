//! `replay --cluster` and `replayer` against a real nats-server with
//! JetStream (scripts/test starts one and exports `CUTOVER_TEST_NATS_URL`),
//! with real replayer processes and the real Python legacy: the merged
//! report must be the single-process replay's.

use crate::util::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const NATS: &str = "a nats-server with JetStream (CUTOVER_TEST_NATS_URL, which scripts/test sets)";

fn nats_url() -> String {
    std::env::var("CUTOVER_TEST_NATS_URL")
        .expect("scripts/test exports CUTOVER_TEST_NATS_URL (a nats-server with JetStream)")
}

/// A nats-server of the test's own (for tests whose timing other tests'
/// replayers would change, or that restart it), on a free loopback port
/// with its store in the sandbox; killed when dropped.
struct OwnNats {
    child: Child,
    port: u16,
    store: PathBuf,
}

impl OwnNats {
    fn start(dir: &Path) -> OwnNats {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        OwnNats::on(port, &dir.join("nats-store"))
    }

    fn on(port: u16, store: &Path) -> OwnNats {
        let child = std::process::Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (scripts/test installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnNats {
            child,
            port,
            store: store.to_owned(),
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (its store stays).
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The legacy both runs use: the real normalize worker, `delay_ms` slow
/// per record (so a run lasts long enough to kill a replayer in it).
fn legacy(delay_ms: u32) -> String {
    format!("worker:python3 fixtures/doubles/faulty_worker.py --delay-ms {delay_ms}")
}

/// The delay of most tests' legacy.
const QUICK: u32 = 2;

/// A capture with planted divergences (three groups), rejected lines and
/// clean records: `n` lines.
fn planted(dir: &Path, name: &str, n: usize) -> PathBuf {
    let plants = ["upper", "raise", "drop_rejected"];
    let lines: Vec<String> = (0..n)
        .map(|i| {
            if i % 97 == 13 {
                return format!("{{not json {i}");
            }
            let mut input = json!({"items": [format!(" item {i} "), "  "]});
            if i % 7 == 3 {
                input["plant"] = json!(plants[i % 3]);
            }
            record(&format!("r{i}"), input)
        })
        .collect();
    capture(dir, name, &lines)
}

/// Arguments both runs share.
fn run_args(capture: &Path, delay_ms: u32) -> Vec<String> {
    vec![
        capture.display().to_string(),
        "--legacy".into(),
        legacy(delay_ms),
        "--candidate".into(),
        planted_candidate(""),
        "--workers".into(),
        "2".into(),
        "--max-diffs".into(),
        "40".into(),
        "--no-progress".into(),
    ]
}

/// The single-process replay of `capture` into `out`.
fn local(capture: &Path, out: &Path, delay_ms: u32) {
    let mut cmd = cutover();
    cmd.arg("replay")
        .args(run_args(capture, delay_ms))
        .arg("--out")
        .arg(out);
    cmd.assert().code(1);
}

/// A cluster coordinator for `capture` into `out`, started.
fn coordinator(capture: &Path, out: &Path, delay_ms: u32) -> Child {
    coordinator_on(&nats_url(), capture, out, delay_ms, &[])
}

fn coordinator_on(url: &str, capture: &Path, out: &Path, delay_ms: u32, extra: &[&str]) -> Child {
    let log = std::fs::File::create(out.with_extension("log")).unwrap();
    cutover_process()
        .arg("replay")
        .args(run_args(capture, delay_ms))
        .arg("--out")
        .arg(out)
        .args([
            "--cluster",
            url,
            "--chunk-records",
            "25",
            "--ack-wait",
            "2s",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// A replayer process; killed when dropped.
struct Replayer(Child, PathBuf);

impl Replayer {
    fn start(dir: &Path, name: &str) -> Replayer {
        Replayer::on(&nats_url(), dir, name, &[])
    }

    fn on(url: &str, dir: &Path, name: &str, args: &[&str]) -> Replayer {
        let path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&path).unwrap();
        Replayer(
            cutover_process()
                .args(["replayer", "--cluster", url])
                .args(args)
                // Says each chunk it is done with (see `busy`).
                .env("CUTOVER_LOG", "cutover::cluster=debug")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
            path,
        )
    }

    /// Waits until this replayer has sent a chunk's result (it is in the
    /// middle of a run, holding chunks).
    fn busy(&self) {
        let started = Instant::now();
        while !std::fs::read_to_string(&self.1)
            .unwrap_or_default()
            .contains("result published")
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the replayer took no chunk in a minute"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Replayer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `summary.json` without what differs between two runs of the same
/// traffic by nature: the run's id, directory and timings, the latencies
/// and slot waits (measured by other processes), the side plumbing's counters (per
/// process), when the flag state was read, and how the run was put
/// together (`merge`).
fn comparable(out: &Path) -> Value {
    let mut v = summary(out);
    let o = v.as_object_mut().unwrap();
    for field in [
        "run_id",
        "started_at",
        "finished_at",
        "duration_seconds",
        "records_per_second",
        "latency_ms",
        "slot_wait_ms",
        "merge",
    ] {
        o.remove(field);
    }
    let spec = o["spec"].as_object_mut().unwrap();
    spec.remove("run_id");
    spec.remove("out");
    let status = o["status"].as_object_mut().unwrap();
    status.remove("legacy_target");
    status.remove("candidate_target");
    if let Some(rollout) = o.get_mut("rollout").and_then(Value::as_object_mut) {
        rollout.remove("state_fetched_at");
    }
    v
}

/// The merged run in `cluster` is the local run in `local`.
fn assert_same_report(local: &Path, cluster: &Path) {
    for file in ["mismatches.csv", "diffs.txt", "rejected.jsonl"] {
        let (a, b) = (
            std::fs::read(local.join(file)).unwrap(),
            std::fs::read(cluster.join(file)).unwrap(),
        );
        assert!(!a.is_empty(), "{file} has something to compare");
        assert!(
            a == b,
            "{file} differs between the local and the cluster run"
        );
    }
    assert_eq!(comparable(local), comparable(cluster));
    assert_accounted(&summary(cluster));
    assert!(
        !cluster.join(".partials").exists(),
        "the spilled partials are gone"
    );
}

fn finish(mut child: Child, limit: Duration, what: &str) -> i32 {
    wait_within(&mut child, limit, what).code().unwrap_or(-1)
}

#[test]
fn three_replayers_and_a_coordinator_write_the_single_process_report() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    let capture = planted(&dir, "planted.jsonl", 400);
    local(&capture, &dir.join("local"), QUICK);
    let _replayers: Vec<_> = (0..3)
        .map(|i| Replayer::start(&dir, &format!("r{i}")))
        .collect();
    let out = dir.join("cluster");
    let code = finish(
        coordinator(&capture, &out, QUICK),
        Duration::from_secs(120),
        "the coordinator",
    );
    assert_eq!(code, 1, "differences found");
    assert_same_report(&dir.join("local"), &out);
    let s = summary(&out);
    assert_eq!(s["status"]["state"], "complete");
    assert_eq!(s["merge"]["chunks"], 16);
    assert_eq!(s["merge"]["consumer_pending"], json!([0, 0]));
    assert!(s["groups"].as_array().unwrap().len() >= 3);
}

#[test]
fn a_replayer_killed_mid_run_changes_nothing_and_redeliveries_are_counted_once() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    // 5 ms a record, 2 workers a replayer (400 records/s): the steady
    // replayer alone needs longer than the pause for what is left.
    let capture = planted(&dir, "planted.jsonl", 2400);
    local(&capture, &dir.join("local"), 5);
    // A server of its own: other tests' replayers would speed the run up.
    let nats = OwnNats::start(&dir);
    let killed = Replayer::on(&nats.url(), &dir, "killed", &[]);
    let paused = Replayer::on(&nats.url(), &dir, "paused", &[]);
    let _steady = Replayer::on(&nats.url(), &dir, "steady", &[]);
    let out = dir.join("cluster");
    let child = coordinator_on(&nats.url(), &capture, &out, 5, &[]);
    killed.busy();
    paused.busy();
    // One replayer dies holding chunks; another stops past ack_wait, so
    // its chunks go to the others, and its results come back late: twice.
    send(killed.pid(), nix::sys::signal::Signal::SIGKILL);
    send(paused.pid(), nix::sys::signal::Signal::SIGSTOP);
    // Past ack_wait (2s): its chunks have gone to the steady one.
    std::thread::sleep(Duration::from_millis(3500));
    send(paused.pid(), nix::sys::signal::Signal::SIGCONT);
    let code = finish(child, Duration::from_secs(180), "the coordinator");
    assert_eq!(code, 1);
    assert_same_report(&dir.join("local"), &out);
    let s = summary(&out);
    assert_eq!(s["status"]["state"], "complete");
    let duplicates = s["merge"]["redelivered_duplicates"].as_u64().unwrap();
    assert!(
        duplicates > 0,
        "the paused replayer's late results are counted as duplicates: {}\npaused replayer:\n{}\nsteady:\n{}",
        s["merge"],
        std::fs::read_to_string(&paused.1).unwrap(),
        std::fs::read_to_string(&_steady.1).unwrap(),
    );
}

#[test]
fn replayers_started_after_the_coordinator_take_its_run() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    let capture = planted(&dir, "planted.jsonl", 300);
    local(&capture, &dir.join("local"), QUICK);
    let out = dir.join("cluster");
    let child = coordinator(&capture, &out, QUICK);
    std::thread::sleep(Duration::from_millis(1500));
    let _replayers: Vec<_> = (0..2)
        .map(|i| Replayer::start(&dir, &format!("late{i}")))
        .collect();
    assert_eq!(
        finish(child, Duration::from_secs(120), "the coordinator"),
        1
    );
    assert_same_report(&dir.join("local"), &out);
}

#[test]
fn two_runs_at_once_on_one_cluster_never_mix() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    let a = planted(&dir, "a.jsonl", 300);
    let b = planted(&dir, "b.jsonl", 170);
    local(&a, &dir.join("local-a"), QUICK);
    local(&b, &dir.join("local-b"), QUICK);
    let _replayers: Vec<_> = (0..2)
        .map(|i| Replayer::start(&dir, &format!("r{i}")))
        .collect();
    let first = coordinator(&a, &dir.join("cluster-a"), QUICK);
    std::thread::sleep(Duration::from_millis(50));
    let second = coordinator(&b, &dir.join("cluster-b"), QUICK);
    assert_eq!(finish(first, Duration::from_secs(120), "run a"), 1);
    assert_eq!(finish(second, Duration::from_secs(120), "run b"), 1);
    assert_same_report(&dir.join("local-a"), &dir.join("cluster-a"));
    assert_same_report(&dir.join("local-b"), &dir.join("cluster-b"));
    assert_ne!(
        summary(&dir.join("cluster-a"))["run_id"],
        summary(&dir.join("cluster-b"))["run_id"]
    );
}

#[test]
fn a_poison_chunk_that_crashes_every_replayer_ends_the_run_incomplete_naming_it() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    let mut lines: Vec<String> = (0..100)
        .map(|i| record(&format!("r{i}"), json!({"items": [format!(" {i} ")]})))
        .collect();
    // Line 61 (seq 60, in the third chunk of 25) kills whoever runs it.
    lines[60] = record("poison", json!({"items": ["x"], "fault": "kill_parent"}));
    let capture = capture(&dir, "poison.jsonl", &lines);
    // A server of its own: the poison would kill other tests' replayers.
    let nats = OwnNats::start(&dir);
    let out = dir.join("cluster");
    let log = std::fs::File::create(dir.join("coordinator.log")).unwrap();
    let mut child = cutover_process()
        .arg("replay")
        .arg(&capture)
        .args([
            "--legacy",
            "worker:python3 fixtures/doubles/faulty_worker.py",
            "--candidate",
            "builtin:normalize",
            "--no-progress",
            "--cluster",
            &nats.url(),
            "--chunk-records",
            "25",
            "--ack-wait",
            "1s",
            "--max-deliver",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // Two replayer slots, each restarted when the poison kills it; one
    // chunk at a time, so the poison takes no other chunk down with it.
    let one = ["--chunks-in-flight", "1"];
    let mut slots: Vec<Replayer> = (0..2)
        .map(|i| Replayer::on(&nats.url(), &dir, &format!("s{i}-0"), &one))
        .collect();
    let mut restarts = 0;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.0.try_wait().unwrap().is_some() {
                restarts += 1;
                *slot = Replayer::on(&nats.url(), &dir, &format!("s{i}-{restarts}"), &one);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the coordinator is still running after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1), "incomplete exits 1");
    // The last death may come as the coordinator ends.
    std::thread::sleep(Duration::from_millis(1000));
    let died = restarts
        + slots
            .iter_mut()
            .map(|s| s.0.try_wait().unwrap().is_some())
            .filter(|dead| *dead)
            .count();
    assert!(
        died >= 1,
        "the poison killed the replayers that took it: {died} died"
    );
    let s = summary(&out);
    assert_eq!(s["status"]["state"], "incomplete");
    let missing = s["merge"]["missing_chunks"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{}", s["merge"]);
    assert_eq!(missing[0]["chunk"], 2);
    assert_eq!(
        (
            missing[0]["first_seq"].as_u64(),
            missing[0]["last_seq"].as_u64()
        ),
        (Some(50), Some(74))
    );
    assert!(missing[0]["reason"]
        .as_str()
        .unwrap()
        .contains("max_deliver"));
    assert!(s["status"]["abort_reason"]
        .as_str()
        .unwrap()
        .contains("1 of 4 chunks"));
    // Everything else came back and is counted once.
    assert_eq!(s["counts"]["read"], 75);
    assert_eq!(s["counts"]["matched"], 75);
}

#[test]
fn nats_restarted_mid_run_the_run_goes_on_and_writes_the_same_report() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    let capture = planted(&dir, "planted.jsonl", 1200);
    local(&capture, &dir.join("local"), 5);
    let mut nats = OwnNats::start(&dir);
    let url = nats.url();
    let worker = Replayer::on(&url, &dir, "r0", &[]);
    let _other = Replayer::on(&url, &dir, "r1", &[]);
    let out = dir.join("cluster");
    let child = coordinator_on(&url, &capture, &out, 5, &["--cluster-wait", "60s"]);
    worker.busy();
    nats.stop();
    std::thread::sleep(Duration::from_millis(1500));
    let _back = OwnNats::on(nats.port, &nats.store.clone());
    assert_eq!(
        finish(child, Duration::from_secs(180), "the coordinator"),
        1
    );
    assert_same_report(&dir.join("local"), &out);
    assert_eq!(summary(&out)["status"]["state"], "complete");
}

#[test]
fn nats_gone_for_good_stops_the_run_after_the_wait_with_a_clear_error() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    let capture = planted(&dir, "planted.jsonl", 1200);
    let mut nats = OwnNats::start(&dir);
    let url = nats.url();
    let worker = Replayer::on(&url, &dir, "r0", &[]);
    let out = dir.join("cluster");
    let started = Instant::now();
    let child = coordinator_on(&url, &capture, &out, 5, &["--cluster-wait", "3s"]);
    worker.busy();
    nats.stop();
    assert_eq!(finish(child, Duration::from_secs(60), "the coordinator"), 2);
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "a bounded wait"
    );
    let s = summary(&out);
    assert_eq!(s["status"]["state"], "aborted");
    let reason = s["status"]["abort_reason"].as_str().unwrap();
    assert!(reason.contains("unreachable"), "{reason}");
    assert!(!s["merge"]["missing_chunks"].as_array().unwrap().is_empty());
    assert_accounted(&s);
}

#[test]
fn sigint_on_the_coordinator_stops_publishing_and_writes_a_consistent_partial_report() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    let capture = planted(&dir, "planted.jsonl", 4000);
    let nats = OwnNats::start(&dir);
    let worker = Replayer::on(&nats.url(), &dir, "r0", &[]);
    let out = dir.join("cluster");
    let child = coordinator_on(&nats.url(), &capture, &out, 5, &[]);
    worker.busy();
    send(child.id(), nix::sys::signal::Signal::SIGINT);
    assert_eq!(
        finish(child, Duration::from_secs(60), "the coordinator"),
        130
    );
    let s = summary(&out);
    assert_eq!(s["status"]["state"], "interrupted");
    assert_accounted(&s);
    let missing: u64 = s["merge"]["missing_chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(m["reason"].as_str().unwrap().contains("interrupted"));
            m["items"].as_u64().unwrap()
        })
        .sum();
    let read = s["counts"]["read"].as_u64().unwrap();
    assert!(read > 0 && read < 4000, "a partial report: {read} read");
    // What came back and what is listed missing are what was published:
    // nothing counted twice, nothing lost without a word.
    assert!(read + missing <= 4000, "{read} + {missing}");
    let rows = mismatches(&out).len() as u64;
    assert_eq!(
        rows,
        s["counts"]["read"].as_u64().unwrap()
            - s["counts"]["matched"].as_u64().unwrap()
            - s["counts"]["rejected"].as_u64().unwrap()
    );
}

#[test]
fn a_replayer_whose_side_cannot_work_on_its_machine_stops_saying_so() {
    if left_to_scripts_test(NATS) {
        return;
    }
    let dir = sandbox();
    let capture = planted(&dir, "planted.jsonl", 50);
    let nats = OwnNats::start(&dir);
    let out = dir.join("cluster");
    let log = std::fs::File::create(dir.join("coordinator.log")).unwrap();
    let child = cutover_process()
        .arg("replay")
        .arg(&capture)
        .args([
            "--legacy",
            "worker:no-such-program-on-this-machine",
            "--no-progress",
            "--cluster",
            &nats.url(),
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut replayer = Replayer::on(&nats.url(), &dir, "r0", &[]);
    let status = wait_within(&mut replayer.0, Duration::from_secs(60), "the replayer");
    assert_eq!(status.code(), Some(2));
    let said = std::fs::read_to_string(&replayer.1).unwrap();
    assert!(said.contains("no-such-program-on-this-machine"), "{said}");
    // The coordinator waits for replayers that can; SIGTERM ends it with
    // a consistent report of nothing.
    send(child.id(), nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        finish(child, Duration::from_secs(60), "the coordinator"),
        143
    );
    let s = summary(&out);
    assert_eq!(s["status"]["state"], "interrupted");
    assert_eq!(s["counts"]["read"], 0);
    assert_accounted(&s);
}

/// A cluster run of HTTP exchanges against the worked HTTP migration's two
/// real services under a behaviour contract writes the local run's report:
/// the replayers redact the capture's credentials and hold both sides to
/// the contract as one process does (they did neither: the tokens were in
/// the merged `mismatches.csv`, and the contract section counted nothing).
#[test]
fn a_cluster_run_of_http_exchanges_redacts_and_holds_the_contract_as_a_local_run_does() {
    if left_to_scripts_test(NATS) {
        return;
    }
    use crate::http_services::{legacy_service, rust_service};
    let dir = sandbox();
    let legacy = legacy_service();
    let rust = rust_service();
    std::fs::write(
        dir.join("status.json"),
        json!({"type": "object", "properties": {"status": {"maximum": 299}}}).to_string(),
    )
    .unwrap();
    let config = config_file(&dir, "[contract]\noutput_schema = \"status.json\"\n");
    // The reads of the bundled capture: the services keep what writes
    // change, so both runs must see them in the same state.
    let reads: Vec<String> = std::fs::read_to_string(repo().join("fixtures/http/capture.jsonl"))
        .unwrap()
        .lines()
        .filter(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            ["GET", "HEAD", "OPTIONS"].contains(&record["input"]["method"].as_str().unwrap())
        })
        .map(str::to_owned)
        .collect();
    // And a malformed exchange with a credential: rejected, its excerpt
    // redacted.
    let bad = r#"{"id": "bad-1", "input": {"method": "GET", "path": "no-slash", "headers": [["authorization", "Bearer cluster-rejected-secret-1"]]}}"#;
    let capture = dir.join("reads.jsonl");
    std::fs::write(&capture, reads.join("\n") + "\n" + bad + "\n").unwrap();
    let args: Vec<String> = vec![
        capture.display().to_string(),
        "--legacy".into(),
        crate::http_services::upstream(&legacy),
        "--candidate".into(),
        crate::http_services::upstream(&rust),
        "--config".into(),
        config.display().to_string(),
        "--no-progress".into(),
    ];
    let mut local = cutover();
    local
        .arg("replay")
        .args(&args)
        .arg("--out")
        .arg(dir.join("local"));
    local.assert().code(1);
    let _replayers: Vec<_> = (0..2)
        .map(|i| Replayer::start(&dir, &format!("r{i}")))
        .collect();
    let log = std::fs::File::create(dir.join("coordinator.log")).unwrap();
    let child = cutover_process()
        .arg("replay")
        .args(&args)
        .arg("--out")
        .arg(dir.join("cluster"))
        .args(["--cluster", &nats_url(), "--chunk-records", "50"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    assert_eq!(
        finish(child, Duration::from_secs(120), "the coordinator"),
        1
    );
    let secrets: Vec<String> =
        crate::http_services::credentials(&std::fs::read_to_string(&capture).unwrap())
            .into_iter()
            .chain(["Bearer cluster-rejected-secret-1".to_owned()])
            .collect();
    assert!(secrets.len() > 1);
    let needles: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let holding = files_containing(&dir.join("cluster"), &needles);
    assert!(holding.is_empty(), "credentials written: {holding:?}");
    let contract = &summary(&dir.join("local"))["contract"];
    assert!(
        contract["legacy_violations"].as_u64().unwrap() > 0,
        "{contract}"
    );
    assert_same_report(&dir.join("local"), &dir.join("cluster"));
    drop(rust);
    drop(legacy);
}
