//! `pipe:COMMAND LINE`: a persistent program fed one bare input per line and
//! answering one line per input, in order, with no ids, through the real
//! `cutover replay` against the real Python legacy.

use crate::util::*;
use serde_json::json;

const PIPE: &str = "pipe:python3 legacy/batch.py --pipe";
const WORKER: &str = "worker:python3 legacy/worker.py";

/// The same run through `pipe:` and through `worker:` leaves the same
/// report: the same counts and a byte-identical `mismatches.csv`.
#[test]
fn pipe_over_batch_py_gives_the_same_report_as_worker() {
    let dir = tempdir();
    let run = |legacy: &str, name: &str| {
        Replay::new(dir.path())
            .out(&dir.path().join(name))
            .legacy(legacy)
            .candidate("builtin:normalize-naive")
            .args(&["--workers", "2"])
            .run(1)
    };
    let worker = run(WORKER, "worker");
    let pipe = run(PIPE, "pipe");
    for name in [
        "read",
        "compared",
        "matched",
        "matched_errors",
        "mismatched",
        "errored",
        "legacy_errors",
        "candidate_errors",
    ] {
        assert_eq!(pipe.count(name), worker.count(name), "counts.{name}");
    }
    assert!(pipe.count("mismatched") > 0 && pipe.count("matched_errors") > 0);
    let csv = |ran: &Ran| std::fs::read(ran.out.join("mismatches.csv")).unwrap();
    assert!(csv(&pipe) == csv(&worker), "mismatches.csv differ");
    let stats = &pipe.summary["status"]["legacy_target"];
    for counter in ["protocol_errors", "retries", "restarts"] {
        assert_eq!(stats[counter], 0, "{counter} in {stats}");
    }
}

/// A line that is not JSON is that record's error; the process lives on
/// and the records after it are answered in order. A pipe that dies is
/// restarted, and the call it was busy with ends in `cutover.worker_died`
/// once its retries are spent.
#[test]
fn a_pipe_line_that_is_not_json_is_that_records_error_and_a_dead_pipe_is_restarted() {
    let dir = tempdir();
    let mut lines: Vec<String> = (0..20)
        .map(|i| record(&format!("r{i}"), json!({"items": [format!(" v{i} ")]})))
        .collect();
    lines[5] = record("garbled", json!({"items": [" x "], "fault": "garbage"}));
    lines[12] = record("crash", json!({"items": [" y "], "fault": "crash"}));
    let ran = Replay::new(dir.path())
        .records("faults.jsonl", &lines)
        .legacy("pipe:python3 fixtures/doubles/faulty_pipe.py")
        .args(&["--retries", "1"])
        .run(1);
    assert_eq!(ran.count("read"), 20);
    assert_eq!(ran.count("matched"), 18, "{}", ran.summary);
    assert_eq!(ran.count("legacy_errors"), 2);
    let rows = ran.rows();
    let legacy_of = |id: &str| {
        let row = rows.iter().find(|r| r["id"] == id).expect(id);
        row["legacy"].clone()
    };
    assert!(
        legacy_of("garbled").contains("cutover.bad_output"),
        "{rows:?}"
    );
    assert!(
        legacy_of("crash").contains("cutover.worker_died"),
        "{rows:?}"
    );
    let stats = &ran.summary["status"]["legacy_target"];
    assert_eq!(stats["protocol_errors"], 0, "{stats}");
    assert!(stats["restarts"].as_u64().unwrap() >= 1, "{stats}");
}
