//! Run-to-run comparison: how the mismatch groups moved between two runs.
//!
//! # Contract
//! - Groups are matched by signature, never by label (labels are numbered by
//!   size within each run, so `g2` of one run may be `g5` of the next).
//! - Each signature present in either run gets one [`Change`]: `appeared`
//!   (only in B), `disappeared` (only in A: fixed, or no longer triggered),
//!   `grew`, `shrank` or `unchanged` (by record count), with both counts.
//! - Only `summary.json` of each run is read.
//! - The comparison is meaningful over the same traffic; when the two runs
//!   did not read the same sources or the same number of records,
//!   [`RunDiff::same_traffic`] is false and the report says so.
//! - Records ([`compare_records`], from each run's `mismatches.csv`,
//!   streamed): matched by id and source position (source name and line),
//!   each non-matching record of either run is **fixed** (failing in A,
//!   clean or absent in B), **new** (clean or absent in A, failing in B),
//!   **still failing** (failing in both, the same signature) or **changed**
//!   (failing in both, another signature). A record from a source the other
//!   run did not read is counted apart (`only_a`, `only_b`), never as fixed
//!   or new. Counts are exact; at most [`LISTED`] records of each kind are
//!   listed. Memory: A's failing records (id, position, signature, group)
//!   are held while B is streamed.
//! - [`RunDiff::regressed`]: a record is new or changed, or a group appeared
//!   or grew. `cutover report diff` exits 1 then, whatever the group counts
//!   say.

use crate::report::row::{RowError, RowReader};
use crate::report::Summary;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Records listed per kind of change (the counts stay exact).
pub const LISTED: usize = 1000;

/// How one record moved between the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordChange {
    New,
    Changed,
    Fixed,
    StillFailing,
}

impl RecordChange {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordChange::New => "new",
            RecordChange::Changed => "changed",
            RecordChange::Fixed => "fixed",
            RecordChange::StillFailing => "still failing",
        }
    }
}

/// One record's group in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSide {
    pub group: String,
    pub signature: String,
}

/// One non-matching record of either run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordMove {
    pub id: String,
    pub source: String,
    pub line: u64,
    pub change: RecordChange,
    pub a: Option<RecordSide>,
    pub b: Option<RecordSide>,
}

/// Counts of records per change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordTally {
    pub new: u64,
    pub changed: u64,
    pub fixed: u64,
    pub still_failing: u64,
    /// Failing in A, from a source B did not read.
    pub only_a: u64,
    /// Failing in B, from a source A did not read.
    pub only_b: u64,
}

/// The records of the two runs (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordDiff {
    pub tally: RecordTally,
    /// New, changed, fixed, still failing; each in input order of the run
    /// that has it (B, then A for fixed), at most [`LISTED`] of each kind.
    pub records: Vec<RecordMove>,
}

type Position = (String, String, u64);

/// Compares the non-matching records of two runs (see the module docs).
pub fn compare_records(
    (a, dir_a): (&Summary, &Path),
    (b, dir_b): (&Summary, &Path),
) -> Result<RecordDiff, RowError> {
    let sources = |s: &Summary| -> HashSet<String> { traffic(s).into_iter().collect() };
    let (sources_a, sources_b) = (sources(a), sources(b));
    let mut failing_a: HashMap<Position, (u64, RecordSide)> = HashMap::new();
    for (n, row) in RowReader::open(dir_a, a.non_matching())?.enumerate() {
        let row = row?;
        let side = RecordSide {
            group: row.group,
            signature: row.signature,
        };
        failing_a.insert((row.id, row.source, row.line), (n as u64, side));
    }
    let mut diff = RecordDiff::default();
    let mut listed: HashMap<RecordChange, usize> = HashMap::new();
    let mut list = |diff: &mut RecordDiff,
                    (id, source, line): Position,
                    change: RecordChange,
                    a: Option<RecordSide>,
                    b: Option<RecordSide>| {
        let n = listed.entry(change).or_default();
        if *n < LISTED {
            *n += 1;
            diff.records.push(RecordMove {
                id,
                source,
                line,
                change,
                a,
                b,
            });
        }
    };
    for row in RowReader::open(dir_b, b.non_matching())? {
        let row = row?;
        let position = (row.id, row.source, row.line);
        let side_b = RecordSide {
            group: row.group,
            signature: row.signature,
        };
        let (change, side_a) = match failing_a.remove(&position) {
            Some((_, a)) if a.signature == side_b.signature => {
                (RecordChange::StillFailing, Some(a))
            }
            Some((_, a)) => (RecordChange::Changed, Some(a)),
            None if !sources_a.contains(&position.1) => {
                diff.tally.only_b += 1;
                continue;
            }
            None => (RecordChange::New, None),
        };
        *match change {
            RecordChange::StillFailing => &mut diff.tally.still_failing,
            RecordChange::Changed => &mut diff.tally.changed,
            _ => &mut diff.tally.new,
        } += 1;
        list(&mut diff, position, change, side_a, Some(side_b));
    }
    let mut fixed: Vec<(Position, (u64, RecordSide))> = failing_a.into_iter().collect();
    fixed.sort_by_key(|(_, (row, _))| *row);
    for (position, (_, side_a)) in fixed {
        if !sources_b.contains(&position.1) {
            diff.tally.only_a += 1;
            continue;
        }
        diff.tally.fixed += 1;
        list(&mut diff, position, RecordChange::Fixed, Some(side_a), None);
    }
    diff.records.sort_by_key(|m| m.change);
    Ok(diff)
}

/// How one group moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Appeared,
    Grew,
    Shrank,
    Disappeared,
    Unchanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Appeared => "appeared",
            Change::Grew => "grew",
            Change::Shrank => "shrank",
            Change::Disappeared => "disappeared",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One group's label and count in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    pub group: String,
    pub count: u64,
    pub first_id: String,
}

/// One signature across the two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupChange {
    pub signature: String,
    pub change: Change,
    pub a: Option<Side>,
    pub b: Option<Side>,
}

impl GroupChange {
    pub fn count_a(&self) -> u64 {
        self.a.as_ref().map_or(0, |s| s.count)
    }
    pub fn count_b(&self) -> u64 {
        self.b.as_ref().map_or(0, |s| s.count)
    }
}

/// One run, as the comparison names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRef {
    pub run_id: String,
    pub dir: String,
    pub traffic: Vec<String>,
    pub legacy: String,
    pub candidate: String,
    pub read: u64,
    pub non_matching: u64,
}

/// Counts of groups per change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub appeared: usize,
    pub grew: usize,
    pub shrank: usize,
    pub disappeared: usize,
    pub unchanged: usize,
}

/// The comparison of run A (before) with run B (after).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunDiff {
    pub a: RunRef,
    pub b: RunRef,
    pub same_traffic: bool,
    pub tally: Tally,
    /// Appeared, grew, shrank, disappeared, unchanged; within each, the
    /// biggest change first.
    pub groups: Vec<GroupChange>,
    /// The records ([`compare_records`]; empty until it is set).
    pub records: RecordDiff,
}

impl RunDiff {
    /// Whether a record is new or changed, or a group appeared or grew.
    pub fn regressed(&self) -> bool {
        self.records.tally.new + self.records.tally.changed > 0
            || self.tally.appeared + self.tally.grew > 0
    }
}

/// The comparison as JUnit XML for CI: one suite, one failing case per
/// listed new or changed record (named `ID (SOURCE:LINE)`, classname
/// `cutover.new` or `cutover.changed`, the signatures as text), one
/// failing case per group that appeared or grew, and one passing case
/// with the counts. So the suite fails exactly when the comparison exits 1.
pub fn junit_xml(d: &RunDiff) -> String {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("cutover report diff {} {}", d.a.run_id, d.b.run_id));
    for (name, value) in [("run_a", &d.a.run_id), ("run_b", &d.b.run_id)] {
        suite.add_property(Property::new(name, value.clone()));
    }
    let failure = |message: String, kind: &str| {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(message).set_type(kind.to_owned());
        status
    };
    let sig = |s: &Option<RecordSide>| {
        s.as_ref()
            .map_or("(clean)", |s| s.signature.as_str())
            .to_owned()
    };
    for m in &d.records.records {
        if !matches!(m.change, RecordChange::New | RecordChange::Changed) {
            continue;
        }
        let message = format!("{}: A {} → B {}", m.change.as_str(), sig(&m.a), sig(&m.b));
        let mut case = TestCase::new(
            format!("{} ({}:{})", m.id, m.source, m.line),
            failure(message.clone(), m.change.as_str()),
        );
        case.set_classname(format!("cutover.{}", m.change.as_str()));
        case.set_system_out(message);
        suite.add_test_case(case);
    }
    for g in &d.groups {
        if matches!(g.change, Change::Appeared | Change::Grew) {
            let mut case = TestCase::new(
                format!("group {}", g.signature),
                failure(
                    format!(
                        "{}: {} → {} records",
                        g.change.as_str(),
                        g.count_a(),
                        g.count_b()
                    ),
                    g.change.as_str(),
                ),
            );
            case.set_classname("cutover.group");
            suite.add_test_case(case);
        }
    }
    let t = &d.records.tally;
    let mut counts = TestCase::new(
        format!(
            "records: {} new, {} changed, {} fixed, {} still failing, {} only in A, {} only in B",
            t.new, t.changed, t.fixed, t.still_failing, t.only_a, t.only_b
        ),
        TestCaseStatus::success(),
    );
    counts.set_classname("cutover.records");
    suite.add_test_case(counts);
    let mut report = Report::new("cutover");
    report.add_test_suite(suite);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot write JUnit: {e} -->\n"))
}

fn traffic(summary: &Summary) -> Vec<String> {
    summary
        .spec
        .traffic
        .iter()
        .map(|t| t.display_name())
        .collect()
}

fn run_ref(summary: &Summary, dir: &std::path::Path) -> RunRef {
    RunRef {
        run_id: summary.run_id.clone(),
        dir: dir.display().to_string(),
        traffic: traffic(summary),
        legacy: summary.spec.legacy.to_string(),
        candidate: summary.spec.candidate.to_string(),
        read: summary.counts.read,
        non_matching: summary.non_matching(),
    }
}

/// Compares the groups of two runs.
pub fn compare(
    (a, dir_a): (&Summary, &std::path::Path),
    (b, dir_b): (&Summary, &std::path::Path),
) -> RunDiff {
    let side = |g: &crate::report::Group| Side {
        group: g.group.clone(),
        count: g.count,
        first_id: g.first_id.clone(),
    };
    let mut groups: Vec<GroupChange> = Vec::new();
    for g in &a.groups {
        let other = b.groups.iter().find(|x| x.signature == g.signature);
        let change = match other.map(|o| o.count) {
            None => Change::Disappeared,
            Some(n) if n > g.count => Change::Grew,
            Some(n) if n < g.count => Change::Shrank,
            Some(_) => Change::Unchanged,
        };
        groups.push(GroupChange {
            signature: g.signature.clone(),
            change,
            a: Some(side(g)),
            b: other.map(side),
        });
    }
    for g in &b.groups {
        if !a.groups.iter().any(|x| x.signature == g.signature) {
            groups.push(GroupChange {
                signature: g.signature.clone(),
                change: Change::Appeared,
                a: None,
                b: Some(side(g)),
            });
        }
    }
    groups.sort_by(|x, y| {
        let delta = |c: &GroupChange| c.count_a().abs_diff(c.count_b());
        (
            x.change,
            std::cmp::Reverse(delta(x)),
            std::cmp::Reverse(x.count_a().max(x.count_b())),
        )
            .cmp(&(
                y.change,
                std::cmp::Reverse(delta(y)),
                std::cmp::Reverse(y.count_a().max(y.count_b())),
            ))
            .then_with(|| x.signature.cmp(&y.signature))
    });
    let mut tally = Tally::default();
    for g in &groups {
        *match g.change {
            Change::Appeared => &mut tally.appeared,
            Change::Grew => &mut tally.grew,
            Change::Shrank => &mut tally.shrank,
            Change::Disappeared => &mut tally.disappeared,
            Change::Unchanged => &mut tally.unchanged,
        } += 1;
    }
    RunDiff {
        same_traffic: traffic(a) == traffic(b) && a.counts.read == b.counts.read,
        a: run_ref(a, dir_a),
        b: run_ref(b, dir_b),
        tally,
        groups,
        records: RecordDiff::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Group;

    fn run(groups: &[(&str, &str, u64)]) -> Summary {
        crate::report::test_summary(
            groups
                .iter()
                .map(|(label, sig, count)| Group {
                    group: (*label).into(),
                    signature: (*sig).into(),
                    count: *count,
                    share: 0.0,
                    first_id: "x".into(),
                    last_id: "x".into(),
                    sample_ids: vec![],
                })
                .collect(),
        )
    }

    #[test]
    fn groups_are_matched_by_signature_not_label() {
        let a = run(&[
            ("g1", "s-fixed", 5),
            ("g2", "s-grew", 2),
            ("g3", "s-shrank", 9),
            ("g4", "s-same", 1),
        ]);
        let b = run(&[
            ("g1", "s-shrank", 4),
            ("g2", "s-grew", 7),
            ("g3", "s-new", 3),
            ("g4", "s-same", 1),
        ]);
        let dir = std::path::Path::new("d");
        let d = compare((&a, dir), (&b, dir));
        let changes: Vec<(&str, Change, u64, u64)> = d
            .groups
            .iter()
            .map(|g| (g.signature.as_str(), g.change, g.count_a(), g.count_b()))
            .collect();
        assert_eq!(
            changes,
            vec![
                ("s-new", Change::Appeared, 0, 3),
                ("s-grew", Change::Grew, 2, 7),
                ("s-shrank", Change::Shrank, 9, 4),
                ("s-fixed", Change::Disappeared, 5, 0),
                ("s-same", Change::Unchanged, 1, 1),
            ]
        );
        assert!(d.regressed());
        assert_eq!(d.groups[2].a.as_ref().unwrap().group, "g3");
        assert_eq!(d.groups[2].b.as_ref().unwrap().group, "g1");
        let back = compare((&b, dir), (&b, dir));
        assert!(!back.regressed());
        assert!(back.same_traffic);
    }
}
