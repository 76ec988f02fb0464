//! Report outputs as sinks, in the manner of hyperfine's `Exporter` and
//! `ExportManager`: each output of a run is one [`Sink`], and [`Sinks`]
//! feeds them the run's events in input order and finishes them in order.
//!
//! # Contract
//! - A sink sees every non-matching record ([`Sink::mismatch`], with its
//!   group, signature and `mismatches.csv` cells, computed once for all
//!   sinks) and every rejected line ([`Sink::rejected`]), in input order,
//!   then [`Sink::finish`] once with the run's [`Summary`]. A sink that
//!   fails stops the run's reporting with a [`ReportError`] naming its file.
//! - [`Sinks`] also keeps the summary's own accumulators (counts,
//!   latencies, groups, the rule and known-difference audits, noise, the
//!   rollout) and writes `summary.json` itself, last and atomically: a
//!   `summary.json` that exists describes a complete set of files. Sinks
//!   that write inside the run directory are finished before it; sinks
//!   that write elsewhere ([`Sink::after_summary`], `--junit FILE`) after
//!   it, so their file never vouches for a run that was not written.
//! - Group labels: sinks are shown each record's provisional label (by
//!   first appearance); once the last event is in, [`Sink::relabel`] gives
//!   the final labels (by size, see [`super::GroupTable`]) before
//!   [`Sink::finish`], and an output that shows labels rewrites itself with
//!   them (`mismatches.csv`, `diffs.txt`: one streaming pass each, atomic;
//!   the page: its samples' keys). Checkpoints keep the provisional labels
//!   in both the files and their `summary.json`.
//! - The run directory is held ([`super::RunLock`]) from [`Sinks::open`]
//!   until `summary.json` is written.
//! - With a behaviour contract, its findings go into the summary's
//!   `contract` ([`super::contract`]); a candidate that broke the output
//!   schema makes the exit status 1 even when every record matched.
//! - A live run ([`Sinks::checkpoint`], `cutover serve`) writes the
//!   summary so far every so often: each output is flushed or rewritten
//!   atomically first, then `summary.json` atomically, so a reader of the
//!   directory always sees a `summary.json` whose files hold at least what
//!   it counts.
//! - A new output is one new file here: a type implementing [`Sink`], and
//!   one line in [`Sinks::open`].

use super::audit::{KnownAudit, RuleAudit};
use super::contract::{ContractAudit, ContractFile, ShapeFile};
use super::groups::{GroupTable, Relabel};
use super::noise::NoiseAudit;
use super::rollout::RolloutTally;
use super::row::RowCells;
use super::{
    csv_sink, diffs_sink, html, rejected_sink, ReportError, RunLock, RunStatus, Summary,
    SummaryBuilder, SUMMARY_FILE,
};
use crate::compare::{KnownSet, RuleSet};
use crate::model::{Event, RecordResult, Rejection};
use crate::spec::RunSpec;
use std::path::{Path, PathBuf};

/// A record that did not match, as every sink is shown it.
pub struct Mismatch<'a> {
    pub result: &'a RecordResult,
    /// Its group label (`g1`, ... or `g0`).
    pub group: &'a str,
    /// Its own group signature.
    pub signature: &'a str,
    /// Its `mismatches.csv` cells.
    pub cells: &'a RowCells<'a>,
}

/// One output of a run (see the module docs).
pub trait Sink: Send {
    /// A record that did not match, in input order.
    fn mismatch(&mut self, _mismatch: &Mismatch<'_>) -> Result<(), ReportError> {
        Ok(())
    }

    /// Every compared record, matching or not, in input order (before
    /// [`Sink::mismatch`] for a non-matching one).
    fn compared(&mut self, _result: &RecordResult) -> Result<(), ReportError> {
        Ok(())
    }

    /// A capture line that could not be read, in input order.
    fn rejected(&mut self, _rejection: &Rejection) -> Result<(), ReportError> {
        Ok(())
    }

    /// While a live run goes on ([`Sinks::checkpoint`]): make what was
    /// written so far readable (flush; rewrite a whole-file output
    /// atomically). The default does nothing.
    fn checkpoint(&mut self, _summary: &Summary, _dir: &Path) -> Result<(), ReportError> {
        Ok(())
    }

    /// After the last event, before [`Sink::finish`]: the final group
    /// labels (by size) for the provisional ones (by first appearance) the
    /// output was given in [`Sink::mismatch`]. An output that shows labels
    /// must carry the final ones once it is finished. The default does
    /// nothing.
    fn relabel(&mut self, _relabel: &Relabel) {}

    /// After the last event: the output's last write.
    fn finish(self: Box<Self>, summary: &Summary, dir: &Path) -> Result<(), ReportError>;

    /// Whether this output lies outside the run directory, to be written
    /// after `summary.json`.
    fn after_summary(&self) -> bool {
        false
    }
}

/// A run's sinks and the accumulators of its summary (see the module docs).
pub struct Sinks {
    dir: PathBuf,
    summary: SummaryBuilder,
    groups: GroupTable,
    audit: RuleAudit,
    known: KnownAudit,
    noise: NoiseAudit,
    rollout: Option<RolloutTally>,
    contract: Option<ContractAudit>,
    sinks: Vec<Box<dyn Sink>>,
    /// How a merged run was put together ([`super::merge`]).
    merge: Option<super::MergeReport>,
    live: Option<super::summary::LiveStats>,
    /// Held until `summary.json` is written.
    lock: Option<RunLock>,
}

impl Sinks {
    /// The outputs of the run directory `spec` asks for, in the directory
    /// `lock` holds: `mismatches.csv`, `diffs.txt`, `rejected.jsonl` and
    /// `index.html` (unless `html` is off). Outputs elsewhere (the JUnit
    /// file, whose path the caller checks before anything starts) are added
    /// with [`Sinks::with`].
    pub fn open(
        lock: RunLock,
        spec: &RunSpec,
        rules: &RuleSet,
        known: &KnownSet,
        rollout: Option<RolloutTally>,
    ) -> Result<Sinks, ReportError> {
        let dir = lock.dir().to_owned();
        let mut sinks: Vec<Box<dyn Sink>> = vec![
            Box::new(csv_sink::MismatchCsv::create(&dir)?),
            Box::new(diffs_sink::DiffsFile::create(&dir, spec.max_diffs)?),
            Box::new(rejected_sink::RejectedFile::create(&dir)?),
            Box::new(ShapeFile::new(&spec.run_id)),
        ];
        if spec.contract.is_some() {
            sinks.push(Box::new(ContractFile::create(&dir)?));
        }
        if spec.html {
            sinks.push(Box::new(html::HtmlSink::default()));
        }
        Ok(Sinks {
            summary: SummaryBuilder::new(spec.clone()),
            groups: GroupTable::new(spec.group_by.clone()),
            audit: RuleAudit::new(rules),
            known: KnownAudit::new(known),
            noise: NoiseAudit::default(),
            rollout,
            contract: spec.contract.as_ref().map(ContractAudit::new),
            sinks,
            merge: None,
            live: None,
            lock: Some(lock),
            dir,
        })
    }

    /// Adds an output.
    pub fn with(mut self, sink: Box<dyn Sink>) -> Sinks {
        self.sinks.push(sink);
        self
    }

    /// Says in `summary.json` how a merged run was put together.
    pub fn set_live(&mut self, stats: super::summary::LiveStats) {
        self.live = Some(stats);
    }

    pub fn set_merge(&mut self, report: super::MergeReport) {
        self.merge = Some(report);
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes one event (they must come in input order).
    pub fn accept(&mut self, event: &Event) -> Result<(), ReportError> {
        self.summary.observe(event);
        match event {
            Event::Compared(result) => {
                self.audit.observe(result);
                self.known.observe(result);
                self.noise.observe(result);
                if let Some(tally) = &mut self.rollout {
                    tally.observe(result);
                }
                if let Some(audit) = &mut self.contract {
                    audit.observe(result);
                }
                for sink in &mut self.sinks {
                    sink.compared(result)?;
                }
                if result.verdict.is_clean() {
                    return Ok(());
                }
                let (group, signature) = self.groups.assign(result);
                let cells = RowCells::new(result, &group, &signature);
                let mismatch = Mismatch {
                    result,
                    group: &group,
                    signature: &signature,
                    cells: &cells,
                };
                for sink in &mut self.sinks {
                    sink.mismatch(&mismatch)?;
                }
            }
            Event::Rejected(rejection) => {
                for sink in &mut self.sinks {
                    sink.rejected(rejection)?;
                }
            }
        }
        Ok(())
    }

    /// The summary so far, for a live run (`cutover serve`): every output of
    /// the run directory is checkpointed ([`Sink::checkpoint`]), then
    /// `summary.json` is written atomically with `status`, so `cutover
    /// report` reads the directory while the run goes on. The accumulators
    /// go on; the directory stays held.
    pub fn checkpoint(&mut self, status: RunStatus) -> Result<Summary, ReportError> {
        let groups = self.groups.snapshot(self.summary.counts().with_outcome());
        let mut summary = summary_of(
            status,
            self.summary.clone(),
            groups,
            (self.audit.clone(), self.known.clone(), self.noise.clone()),
            self.rollout.clone(),
        );
        with_contract(&mut summary, self.contract.clone());
        summary.live = self.live.clone();
        for sink in self.sinks.iter_mut().filter(|s| !s.after_summary()) {
            sink.checkpoint(&summary, &self.dir)?;
        }
        summary.write(&self.dir.join(SUMMARY_FILE))?;
        Ok(summary)
    }

    /// Finishes the outputs of the run directory, writes `summary.json`,
    /// releases the directory, then finishes the outputs outside it;
    /// returns the summary.
    pub fn finish(mut self, status: RunStatus) -> Result<Summary, ReportError> {
        let (groups, relabel) = self.groups.finish(self.summary.counts().with_outcome());
        let mut summary = summary_of(
            status,
            self.summary,
            groups,
            (self.audit, self.known, self.noise),
            self.rollout,
        );
        with_contract(&mut summary, self.contract);
        summary.merge = self.merge;
        summary.live = self.live;
        let (after, inside): (Vec<_>, Vec<_>) =
            self.sinks.into_iter().partition(|s| s.after_summary());
        for mut sink in inside {
            sink.relabel(&relabel);
            sink.finish(&summary, &self.dir)?;
        }
        summary.write(&self.dir.join(SUMMARY_FILE))?;
        drop(self.lock.take());
        for sink in after {
            sink.finish(&summary, &self.dir)?;
        }
        Ok(summary)
    }
}

/// What the behaviour contract found, into `summary`: a candidate that broke
/// its contract makes the exit status 1, a finding like a mismatch.
fn with_contract(summary: &mut Summary, contract: Option<ContractAudit>) {
    summary.contract = contract.map(ContractAudit::finish);
    if summary.contract.as_ref().is_some_and(|c| c.fails())
        && summary.exit() == Some(crate::model::Exit::Clean)
    {
        summary.exit_code = crate::model::Exit::Found.code().into();
    }
}

/// The summary the accumulators make (taken: a checkpoint gives copies),
/// with `groups` as [`GroupTable`] listed them.
fn summary_of(
    status: RunStatus,
    builder: SummaryBuilder,
    groups: Vec<super::Group>,
    (audit, known, noise): (RuleAudit, KnownAudit, NoiseAudit),
    rollout: Option<RolloutTally>,
) -> Summary {
    let mut summary = builder.finish(
        status,
        groups,
        audit.finish(),
        known.finish(),
        noise.finish(),
    );
    summary.rollout = rollout.map(|tally| tally.finish(&summary.counts));
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Answer, AppError, Observed, Origin, Outcome, RunState};
    use serde_json::json;
    use std::time::Duration;

    fn result(seq: u64, outcome: Outcome) -> Event {
        let observed = |answer| Observed {
            answer,
            latency: Duration::from_micros(10 + seq),
            waited: Duration::ZERO,
        };
        let (legacy, candidate) = match outcome {
            Outcome::LegacyError => (
                Answer::Error(AppError::new("E", "m")),
                Answer::output(json!(1)),
            ),
            Outcome::Timeout => (
                Answer::Timeout(Duration::from_secs(1)),
                Answer::output(json!(1)),
            ),
            _ => (Answer::output(json!(seq)), Answer::output(json!(seq + 1))),
        };
        let verdict = match outcome {
            Outcome::Match => crate::compare::judge(&legacy, &legacy),
            _ => crate::compare::judge(&legacy, &candidate),
        };
        Event::Compared(Box::new(RecordResult {
            seq,
            id: format!("r{seq}"),
            key: None,
            origin: Origin {
                source: "t.jsonl".into(),
                line: seq + 1,
            },
            input: serde_json::value::RawValue::from_string("{}".into())
                .unwrap()
                .into(),
            legacy: observed(legacy),
            candidate: observed(candidate),
            verdict,
            rule_effects: Default::default(),
            known_used: Vec::new(),
            noise: None,
            drift: None,
            contract: None,
            diff: None,
            charge: crate::model::Charge::none(),
        }))
    }

    fn status_of(state: RunState) -> RunStatus {
        RunStatus {
            state,
            abort_reason: None,
            signal: None,
            pace: None,
            legacy_target: Default::default(),
            candidate_target: Default::default(),
        }
    }

    /// The sinks of a test spec writing into `run`.
    fn open_sinks(run: &Path) -> (RunSpec, Sinks) {
        open_sinks_showing(run, crate::spec::test_spec().max_diffs)
    }

    /// [`open_sinks`] with `max_diffs` entries in `diffs.txt`.
    fn open_sinks_showing(run: &Path, max_diffs: usize) -> (RunSpec, Sinks) {
        let mut spec = crate::spec::test_spec();
        (spec.out, spec.max_diffs) = (run.to_owned(), max_diffs);
        let lock = RunLock::acquire(run).unwrap();
        let sinks =
            Sinks::open(lock, &spec, &RuleSet::default(), &KnownSet::default(), None).unwrap();
        (spec, sinks)
    }

    #[test]
    fn a_checkpoint_writes_the_summary_so_far_and_the_run_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let (_, mut sinks) = open_sinks(&run);
        let status = || status_of(RunState::Interrupted);
        sinks.accept(&result(0, Outcome::Mismatch)).unwrap();
        sinks.checkpoint(status()).unwrap();
        let back = crate::report::read_summary(&run).unwrap();
        assert_eq!((back.counts.read, back.counts.mismatched), (1, 1));
        let rows = std::fs::read_to_string(run.join("mismatches.csv")).unwrap();
        assert_eq!(rows.lines().count(), 2, "{rows}");
        assert!(run.join("index.html").is_file());
        sinks.accept(&result(1, Outcome::Match)).unwrap();
        let summary = sinks.finish(status()).unwrap();
        assert_eq!((summary.counts.read, summary.counts.matched), (2, 1));
    }

    /// An interrupted run's files carry the final labels of its own counts:
    /// the group first seen is the smallest, so every label changes.
    #[test]
    fn an_interrupted_run_writes_the_labels_of_its_own_counts_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let (_, mut sinks) = open_sinks_showing(&run, 100);
        let outcomes = [
            Outcome::Timeout,
            Outcome::LegacyError,
            Outcome::LegacyError,
            Outcome::Mismatch,
            Outcome::Mismatch,
            Outcome::Mismatch,
        ];
        for (seq, outcome) in outcomes.into_iter().enumerate() {
            sinks.accept(&result(seq as u64, outcome)).unwrap();
        }
        let summary = sinks.finish(status_of(RunState::Interrupted)).unwrap();
        let listed: Vec<(&str, u64)> = summary
            .groups
            .iter()
            .map(|g| (g.group.as_str(), g.count))
            .collect();
        assert_eq!(listed, [("g1", 3), ("g2", 2), ("g3", 1)]);
        let label_of = |sig: &str| {
            let g = summary.groups.iter().find(|g| g.signature == sig);
            g.unwrap().group.clone()
        };
        let rows: Vec<_> = crate::report::row::RowReader::open(&run, 6)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let labels: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(labels, ["g3", "g2", "g2", "g1", "g1", "g1"]);
        for row in &rows {
            assert_eq!(row.group, label_of(&row.signature));
        }
        let diffs = std::fs::read_to_string(run.join("diffs.txt")).unwrap();
        let heads: Vec<&str> = diffs
            .lines()
            .filter_map(|l| l.strip_prefix("=== "))
            .map(|l| {
                l.split(" group=")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(heads, labels);
        let page = std::fs::read_to_string(run.join("index.html")).unwrap();
        let g3 = page.find("id=\"group-g3\"").unwrap();
        assert!(page[g3..].contains(">r0<"), "r0 is sampled under g3");
    }

    /// Whatever a run's events, the summary accounts for each once, the
    /// groups hold the records that did not match, every output is written,
    /// and `summary.json` reads back as the summary returned.
    #[test]
    fn the_summary_accounts_for_every_event_and_every_sink_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let (spec, mut sinks) = open_sinks(&run);
        let outcomes = [
            Outcome::Match,
            Outcome::Mismatch,
            Outcome::LegacyError,
            Outcome::Timeout,
        ];
        let mut seq = 0;
        for round in 0..25u64 {
            for outcome in outcomes {
                sinks.accept(&result(seq, outcome)).unwrap();
                seq += 1;
            }
            if round % 5 == 0 {
                sinks
                    .accept(&Event::Rejected(Rejection {
                        seq,
                        origin: Origin {
                            source: "t.jsonl".into(),
                            line: seq + 1,
                        },
                        reason: "not JSON".into(),
                        excerpt: "{".into(),
                    }))
                    .unwrap();
                seq += 1;
            }
        }
        let summary = sinks.finish(status_of(RunState::Complete)).unwrap();
        assert_eq!(summary.check(), Ok(()));
        let c = &summary.counts;
        assert_eq!(
            (c.read, c.rejected, c.matched, c.mismatched),
            (seq, 5, 25, 25)
        );
        assert_eq!((c.legacy_errors, c.timeouts), (25, 25));
        assert_eq!(summary.exit_code, 1);
        for file in [
            SUMMARY_FILE,
            "mismatches.csv",
            "diffs.txt",
            "rejected.jsonl",
            "index.html",
        ] {
            assert!(run.join(file).is_file(), "{file} written");
        }
        let rows = crate::report::row::RowReader::open(&run, summary.non_matching())
            .unwrap()
            .count();
        assert_eq!(rows as u64, 75);
        let back = crate::report::read_summary(&run).unwrap();
        assert_eq!(back.counts, summary.counts);
        assert_eq!(back.spec, spec);
        assert!(
            !run.join(crate::report::LOCK_FILE).exists(),
            "the lock is released"
        );
    }
}
