//! `report merge`: partial reports ([`super::partial`]) of one run merged
//! into one run directory, identical to a single-process run over the same
//! traffic.
//!
//! # Contract
//! - Every partial must carry the same [`RunSpec`] (the run id included);
//!   a partial of another run is refused ([`MergeError::OtherRun`], naming
//!   the directory and the fields that differ) before anything is written.
//! - The partials' events are merged by `seq` (a k-way merge: one line of
//!   each partial in memory at a time, whatever their size) and replayed
//!   through the very [`Sinks`] a local replay writes with, in `seq` order.
//!   So `mismatches.csv`, `diffs.txt`, `rejected.jsonl`, the counts, groups
//!   and their labels, the rule, known and noise audits and the latency
//!   percentiles (one histogram over every call) are those the events give
//!   a local run, by construction.
//! - The same `seq` in two partials (a chunk a cluster delivered twice) is
//!   kept once: the first partial given wins; the others are counted in
//!   `summary.json`'s `merge.redelivered_duplicates`.
//! - The merged run's state is the worst of the partials' (aborted, then
//!   incomplete, then interrupted, then complete) unless the caller says
//!   otherwise ([`MergePlan::status`]); side stats are summed.
//! - The merged `summary.json` keeps the spec verbatim but for `out`, which
//!   is the merged directory.
//!
//! Names [`crate::model`], [`crate::spec`] and its own neighbours.

use super::partial::{read_header, EventReader, PartialError, PartialHeader, WireEvent};
use super::rollout::RolloutTally;
use super::{ReportError, RunLock, RunStatus, Sinks, Summary};
use crate::compare::RuleError;
use crate::model::{RunState, SideStats};
use crate::spec::RunSpec;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};

/// `summary.json`'s `merge`: how the run was put together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeReport {
    /// Partial reports merged.
    pub partials: usize,
    /// Records that came back more than once (the first one was kept).
    pub redelivered_duplicates: u64,
    /// For a cluster run: the chunks the manifest had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u64>,
    /// Chunks that never came back (the run is then `incomplete`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_chunks: Vec<MissingChunk>,
    /// For a cluster run: what the work consumer still held at the end
    /// (messages pending and awaiting an ack), the completion cross-check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_pending: Option<(u64, u64)>,
}

/// A chunk of a cluster run whose result never came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingChunk {
    pub chunk: u64,
    /// The `seq` of its first and last items.
    pub first_seq: u64,
    pub last_seq: u64,
    /// Items (records and rejected lines) it held.
    pub items: u64,
    /// Why it did not come back.
    pub reason: String,
}

/// Why partials could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give at least one partial report directory")]
    Nothing,
    #[error(transparent)]
    Partial(#[from] PartialError),
    #[error("{dir} is a partial of another run: its spec differs from {first}'s in {fields}. Merge only the partials of one run")]
    OtherRun {
        dir: PathBuf,
        first: PathBuf,
        fields: String,
    },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("the run's rules do not compile again: {0}")]
    Rule(#[from] RuleError),
}

/// What a merge writes besides the partials' events.
#[derive(Default)]
pub struct MergePlan {
    /// The run's state and side stats, instead of the partials' combined.
    pub status: Option<RunStatus>,
    /// Merged into `summary.json`'s `merge` (the merge's own partial and
    /// duplicate counts are added).
    pub report: MergeReport,
    /// The rollout section, opened by the caller from the spec's flags.
    pub rollout: Option<RolloutTally>,
    /// The merged directory's lock, when the caller holds it already.
    pub lock: Option<RunLock>,
}

/// The spec the partials in `dirs` share, checked (see the module docs).
pub fn common_spec(dirs: &[PathBuf]) -> Result<(RunSpec, Vec<PartialHeader>), MergeError> {
    let first = dirs.first().ok_or(MergeError::Nothing)?;
    let headers = dirs
        .iter()
        .map(|d| read_header(d))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = headers[0].spec.clone();
    for (dir, header) in dirs.iter().zip(&headers).skip(1) {
        if header.spec != spec {
            return Err(MergeError::OtherRun {
                dir: dir.clone(),
                first: first.clone(),
                fields: differing_fields(&spec, &header.spec),
            });
        }
    }
    Ok((spec, headers))
}

fn differing_fields(a: &RunSpec, b: &RunSpec) -> String {
    let (a, b) = (serde_json::to_value(a), serde_json::to_value(b));
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (a, b) else {
        return "its spec".into();
    };
    let fields: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    fields.join(", ")
}

/// The state of a run made of parts that ended in `states`.
fn worst(states: impl Iterator<Item = RunState>) -> RunState {
    let rank = |s: RunState| match s {
        RunState::Complete => 0,
        RunState::Interrupted => 1,
        RunState::Incomplete => 2,
        RunState::Aborted => 3,
    };
    states
        .max_by_key(|s| rank(*s))
        .unwrap_or(RunState::Complete)
}

fn add(a: &mut SideStats, b: &SideStats) {
    a.retries += b.retries;
    a.restarts += b.restarts;
    a.timeout_kills += b.timeout_kills;
    a.protocol_errors += b.protocol_errors;
}

/// The partials' statuses as one.
fn combined(headers: &[PartialHeader]) -> RunStatus {
    let state = worst(headers.iter().map(|h| h.status.state));
    let mut status = RunStatus {
        state,
        abort_reason: headers.iter().find_map(|h| h.status.abort_reason.clone()),
        signal: headers.iter().find_map(|h| h.status.signal),
        legacy_target: SideStats::default(),
        candidate_target: SideStats::default(),
        pace: headers.iter().find_map(|h| h.status.pace.clone()),
    };
    for h in headers {
        add(&mut status.legacy_target, &h.status.legacy_target);
        add(&mut status.candidate_target, &h.status.candidate_target);
    }
    status
}

/// Merges the partials in `dirs` into the run directory `out` (see the
/// module docs); returns the summary written.
pub fn merge(dirs: &[PathBuf], out: &Path, plan: MergePlan) -> Result<Summary, MergeError> {
    let (mut spec, headers) = common_spec(dirs)?;
    spec.out = out.to_owned();
    let mut readers = dirs
        .iter()
        .map(|d| EventReader::open(d))
        .collect::<Result<Vec<_>, _>>()?;
    let rules = spec.compile_rules()?;
    let known = spec.compile_known()?;
    let lock = match plan.lock {
        Some(lock) => lock,
        None => RunLock::acquire(out)?,
    };
    let junit = spec
        .junit
        .as_deref()
        .map(super::junit_sink::JunitFile::create)
        .transpose()?;
    let mut sinks = Sinks::open(lock, &spec, &rules, &known, plan.rollout)?;
    if let Some(junit) = junit {
        sinks = sinks.with(Box::new(junit));
    }
    let duplicates = feed(&mut readers, |event| sinks.accept(&event.into_event()))?;
    let mut report = plan.report;
    report.partials += dirs.len();
    report.redelivered_duplicates += duplicates;
    sinks.set_merge(report);
    let status = plan.status.unwrap_or_else(|| combined(&headers));
    Ok(sinks.finish(status)?)
}

/// Feeds the events of `readers` to `accept` in `seq` order, each `seq`
/// once (the first reader's wins); returns how many were left out as
/// duplicates.
pub fn feed(
    readers: &mut [EventReader],
    mut accept: impl FnMut(WireEvent) -> Result<(), ReportError>,
) -> Result<u64, MergeError> {
    let mut heads: Vec<Option<WireEvent>> = Vec::with_capacity(readers.len());
    let mut heap = BinaryHeap::new();
    for (i, reader) in readers.iter_mut().enumerate() {
        let head = reader.next_event()?;
        if let Some(e) = &head {
            heap.push(Reverse((e.seq(), i)));
        }
        heads.push(head);
    }
    let mut last: Option<u64> = None;
    let mut duplicates = 0;
    while let Some(Reverse((seq, i))) = heap.pop() {
        let event = heads[i].take().expect("a head for each heap entry");
        if let Some(next) = readers[i].next_event()? {
            heap.push(Reverse((next.seq(), i)));
            heads[i] = Some(next);
        }
        if last == Some(seq) {
            duplicates += 1;
            continue;
        }
        last = Some(seq);
        accept(event)?;
    }
    Ok(duplicates)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::partial::PartialWriter;
    use super::*;
    use crate::compare::{KnownSet, RuleSet};
    use crate::model::{
        Answer, AppError, Event, Observed, Origin, Outcome, RecordResult, Rejection, RunState,
    };
    use serde_json::json;
    use std::time::Duration;

    /// The events of a small run: every outcome, rejected lines, drift,
    /// noise and keys, each latency its own; the same each call.
    fn events() -> Vec<Event> {
        let outcomes = [
            Outcome::Match,
            Outcome::Mismatch,
            Outcome::Match,
            Outcome::LegacyError,
            Outcome::Timeout,
            Outcome::CandidateError,
        ];
        (0..120u64)
            .map(|seq| {
                if seq % 17 == 5 {
                    return Event::Rejected(Rejection {
                        seq,
                        origin: Origin {
                            source: "t.jsonl".into(),
                            line: seq + 1,
                        },
                        reason: "not JSON".into(),
                        excerpt: format!("{{{seq}"),
                    });
                }
                let outcome = outcomes[(seq % 6) as usize];
                let observed = |answer, us: u64| Observed {
                    answer,
                    latency: Duration::from_micros(us),
                    waited: Duration::from_micros(us / 3),
                };
                let (legacy, candidate) = match outcome {
                    Outcome::LegacyError => (
                        Answer::Error(AppError::new("E", format!("m{seq}"))),
                        Answer::output(json!({"n": seq})),
                    ),
                    Outcome::CandidateError => (
                        Answer::output(json!({"n": seq})),
                        Answer::Error(AppError::new("F", "boom")),
                    ),
                    Outcome::Timeout => (
                        Answer::Timeout(Duration::from_secs(1)),
                        Answer::output(json!(1)),
                    ),
                    Outcome::Mismatch => (
                        Answer::output(json!({"items": [seq, "a"], "x": seq % 4})),
                        Answer::output(json!({"items": [seq, "A"], "x": null})),
                    ),
                    _ => (
                        Answer::output(json!({"n": seq})),
                        Answer::output(json!({"n": seq})),
                    ),
                };
                let verdict = crate::compare::judge(&legacy, &candidate);
                assert_eq!(verdict.outcome, outcome, "seq {seq}");
                let diff = (!verdict.is_clean())
                    .then(|| crate::compare::unified_diff(&legacy, &candidate));
                Event::Compared(Box::new(RecordResult {
                    seq,
                    id: format!("r{seq}"),
                    key: (seq % 3 == 0).then(|| format!("k{seq}")),
                    origin: Origin {
                        source: "t.jsonl".into(),
                        line: seq + 1,
                    },
                    input: serde_json::value::RawValue::from_string(format!(
                        "{{\"items\": [\" {seq} \"]}}"
                    ))
                    .unwrap()
                    .into(),
                    legacy: observed(legacy, 100 + seq * 37 % 1000),
                    candidate: observed(candidate, 50 + seq * seq % 5000),
                    verdict,
                    rule_effects: Default::default(),
                    known_used: Vec::new(),
                    noise: None,
                    drift: (seq % 5 == 0).then_some(seq % 10 == 0),
                    diff,
                    contract: None,
                    charge: crate::model::Charge::none(),
                }))
            })
            .collect()
    }

    fn spec(dir: &Path) -> RunSpec {
        let mut spec = crate::spec::test_spec();
        spec.out = dir.join("local");
        spec.max_diffs = 7;
        spec
    }

    fn complete() -> RunStatus {
        RunStatus {
            state: RunState::Complete,
            abort_reason: None,
            signal: None,
            legacy_target: Default::default(),
            candidate_target: Default::default(),
            pace: None,
        }
    }

    /// The events of one run written by a local run's sinks.
    fn local_run(spec: &RunSpec) -> Summary {
        let lock = RunLock::acquire(&spec.out).unwrap();
        let mut sinks =
            Sinks::open(lock, spec, &RuleSet::default(), &KnownSet::default(), None).unwrap();
        for event in events() {
            sinks.accept(&event).unwrap();
        }
        sinks.finish(complete()).unwrap()
    }

    /// Partials holding the events `pick(partial, seq)` says, in order.
    fn partials(spec: &RunSpec, n: usize, pick: impl Fn(usize, u64) -> bool) -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let dir = spec.out.parent().unwrap().join(format!("part{i}"));
                let mut writer = PartialWriter::create(&dir, spec).unwrap();
                for event in events() {
                    let seq = match &event {
                        Event::Compared(r) => r.seq,
                        Event::Rejected(r) => r.seq,
                    };
                    if pick(i, seq) {
                        writer.write(&event).unwrap();
                    }
                }
                writer.finish(complete()).unwrap()
            })
            .collect()
    }

    /// `summary.json` as JSON without what differs from run to run by
    /// nature: the timings of the run itself, its directory, and how it
    /// was put together.
    pub(crate) fn comparable(dir: &Path, also: &[&str]) -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join(super::super::SUMMARY_FILE)).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let o = v.as_object_mut().unwrap();
        for field in [
            "started_at",
            "finished_at",
            "duration_seconds",
            "records_per_second",
            "merge",
        ]
        .iter()
        .chain(also)
        {
            o.remove(*field);
        }
        o["spec"].as_object_mut().unwrap().remove("out");
        v
    }

    fn same_files(a: &Path, b: &Path) {
        for file in ["mismatches.csv", "diffs.txt", "rejected.jsonl"] {
            let (x, y) = (
                std::fs::read(a.join(file)).unwrap(),
                std::fs::read(b.join(file)).unwrap(),
            );
            assert!(!x.is_empty(), "{file} has content");
            assert!(x == y, "{file} differs");
        }
        assert_eq!(comparable(a, &[]), comparable(b, &[]));
    }

    /// Three partials splitting the run arbitrarily (interleaved, uneven)
    /// merge into the directory the single-process run wrote.
    #[test]
    fn a_merge_of_partials_writes_what_the_single_process_run_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let local = local_run(&spec);
        let parts = partials(&spec, 3, |i, seq| match i {
            0 => seq < 20 || seq % 7 == 3,
            1 => (20..70).contains(&seq) && seq % 7 != 3,
            _ => seq >= 70 && seq % 7 != 3,
        });
        let out = dir.path().join("merged");
        let merged = merge(&parts, &out, MergePlan::default()).unwrap();
        same_files(&spec.out, &out);
        assert_eq!(merged.counts, local.counts);
        assert_eq!(merged.latency_ms.legacy, local.latency_ms.legacy);
        assert!(merged.latency_ms.legacy.calls > 0);
        // Slot waits travel in the partials too.
        let waits = |s: &Summary| {
            s.slot_wait_ms
                .clone()
                .expect("a worker side has slot waits")
        };
        assert_eq!(waits(&merged).legacy, waits(&local).legacy);
        assert_eq!(waits(&merged).candidate, waits(&local).candidate);
        assert!(waits(&merged).legacy.max > 0.0);
        let report = merged.merge.unwrap();
        assert_eq!((report.partials, report.redelivered_duplicates), (3, 0));
    }

    /// A record in two partials (a redelivered chunk) is kept once and
    /// counted as a duplicate; the report is still the single run's.
    #[test]
    fn records_in_two_partials_are_kept_once_and_counted_as_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        local_run(&spec);
        let parts = partials(&spec, 2, |i, seq| match i {
            0 => seq < 80,
            _ => seq >= 50,
        });
        let out = dir.path().join("merged");
        let merged = merge(&parts, &out, MergePlan::default()).unwrap();
        same_files(&spec.out, &out);
        assert_eq!(merged.merge.unwrap().redelivered_duplicates, 30);
    }

    /// Partials of two different runs are refused, naming the directory
    /// and what differs, and nothing is written.
    #[test]
    fn partials_of_different_run_specs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let mut parts = partials(&spec, 1, |_, _| true);
        let mut other = spec.clone();
        other.run_id = "another".into();
        other.out = dir.path().join("x/local");
        parts.extend(partials(&other, 1, |_, seq| seq > 200));
        let out = dir.path().join("merged");
        let err = merge(&parts, &out, MergePlan::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("run_id"), "{text}");
        assert!(text.contains(&parts[1].display().to_string()), "{text}");
        assert!(!out.exists(), "nothing written");
    }

    /// A partial whose events go back in `seq` is refused, naming its
    /// file and line.
    #[test]
    fn a_partial_out_of_order_is_refused_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let parts = partials(&spec, 1, |_, seq| seq < 4);
        let events = parts[0].join(super::super::partial::EVENTS_FILE);
        let text = std::fs::read_to_string(&events).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.swap(1, 2);
        std::fs::write(&events, lines.join("\n")).unwrap();
        let err = merge(&parts, &dir.path().join("m"), MergePlan::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains("events.jsonl"), "{text}");
    }
}
