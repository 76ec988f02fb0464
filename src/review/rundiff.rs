//! Run-to-run comparison: how the mismatch groups moved between two runs.
//!
//! # Contract
//! - Groups are matched by signature, never by label (labels are numbered by
//!   first appearance, so `g2` of one run may be `g5` of the next).
//! - Each signature present in either run gets one [`Change`]: `appeared`
//!   (only in B), `disappeared` (only in A: fixed, or no longer triggered),
//!   `grew`, `shrank` or `unchanged` (by record count), with both counts.
//! - Only `summary.json` of each run is read.
//! - The comparison is meaningful over the same traffic; when the two runs
//!   did not read the same sources or the same number of records,
//!   [`RunDiff::same_traffic`] is false and the report says so.
//! - [`RunDiff::regressed`]: a group appeared or grew. `cutover report diff`
//!   exits 1 then.

use crate::report::Summary;
use serde::Serialize;

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
}

impl RunDiff {
    /// Whether a group appeared or grew.
    pub fn regressed(&self) -> bool {
        self.tally.appeared + self.tally.grew > 0
    }
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
