//! Mismatch groups: non-matching records gathered by [`signature`].
//!
//! # Contract
//! - [`GroupTable::assign`] takes non-matching records in input order (their
//!   signature leaves out the paths learned as noise for the record) and
//!   returns the record's *provisional* group label: `g1`, `g2`, ...
//!   numbered by first appearance. That is the label the streamed outputs
//!   (`mismatches.csv`, `diffs.txt`, the page's samples) are written with
//!   while the run goes on, since sizes are only known at the end.
//! - [`GroupTable::finish`] lists groups largest first and gives them their
//!   *final* labels by size: `g1` is the largest, ties by first appearance.
//!   Input order alone decides both, so labels are the same for the same
//!   traffic whatever the concurrency. It also returns the [`Relabel`] map
//!   from provisional to final labels, which the finish step applies to the
//!   streamed files in one bounded streaming pass each, atomically (temp
//!   file, rename), before `summary.json` is written: a `summary.json` that
//!   exists vouches for files carrying its own labels. The pass is skipped
//!   when the map changes nothing.
//! - [`GroupTable::snapshot`] is the table so far with the provisional
//!   labels (a live run's checkpoints, `cutover serve`), so a checkpoint's
//!   `summary.json` agrees with the files as they stand.
//! - Memory is bounded: at most [`MAX_GROUPS`] distinct signatures are kept;
//!   records beyond that go to one `g0` overflow group, `(other: ...)`,
//!   whose count stays exact; `g0` keeps its label whatever its size. Each
//!   group keeps at most [`SAMPLE_IDS`] sample ids.

use crate::compare::{signature_of, ByRecord, GroupBy};
use crate::model::RecordResult;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Distinct signatures tracked before new ones go to the overflow group.
pub const MAX_GROUPS: usize = 1000;
/// Sample record ids kept per group.
pub const SAMPLE_IDS: usize = 5;

/// One group in `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    pub group: String,
    pub signature: String,
    pub count: u64,
    /// `count` over the records that got an outcome (read minus rejected).
    pub share: f64,
    pub first_id: String,
    pub last_id: String,
    pub sample_ids: Vec<String>,
}

#[derive(Default, Clone)]
pub struct GroupTable {
    by: GroupBy,
    index: HashMap<String, usize>,
    groups: Vec<Group>,
    overflow: Option<Group>,
}

impl GroupTable {
    /// A table that groups by content and by `by` ([`GroupBy`]).
    pub fn new(by: GroupBy) -> Self {
        GroupTable {
            by,
            ..GroupTable::default()
        }
    }

    /// The group label and the content signature of a non-matching record.
    /// With a [`GroupBy`] other than content alone, the group's signature
    /// is the by-value's part, then the content signature
    /// (`[input:/lang "en"] mismatch /html changed`); the record's own
    /// signature (`mismatches.csv`'s `signature`, what a re-run is compared
    /// with) stays the content one.
    pub fn assign(&mut self, result: &RecordResult) -> (String, String) {
        let sig = signature_of(
            &result.verdict,
            &result.legacy.answer,
            &result.candidate.answer,
            result.noise.as_deref().unwrap_or_default(),
        );
        let by = self.by.prefix(&ByRecord {
            key: result.key.as_deref(),
            input: result.input.get(),
            legacy: &result.legacy.answer,
            candidate: &result.candidate.answer,
        });
        let label = match &by {
            Some(by) => self.assign_signature(&format!("{by} {sig}"), &result.id),
            None => self.assign_signature(&sig, &result.id),
        };
        (label, sig)
    }

    /// The provisional label of a record of group signature `group_sig`,
    /// counted in its group.
    fn assign_signature(&mut self, group_sig: &str, id: &str) -> String {
        let group = match self.index.get(group_sig) {
            Some(&i) => &mut self.groups[i],
            None if self.groups.len() < MAX_GROUPS => {
                self.index.insert(group_sig.to_owned(), self.groups.len());
                self.groups.push(new_group(
                    format!("g{}", self.groups.len() + 1),
                    group_sig.to_owned(),
                    id,
                ));
                self.groups.last_mut().expect("just pushed")
            }
            None => self.overflow.get_or_insert_with(|| {
                new_group(
                    OVERFLOW.to_owned(),
                    format!("(other: more than {MAX_GROUPS} distinct signatures)"),
                    id,
                )
            }),
        };
        group.count += 1;
        id.clone_into(&mut group.last_id);
        if group.sample_ids.len() < SAMPLE_IDS {
            group.sample_ids.push(id.to_owned());
        }
        group.group.clone()
    }

    /// The groups so far, largest first, with their provisional labels and
    /// shares of `outcomes` records (a live run's checkpoint).
    pub fn snapshot(&self, outcomes: u64) -> Vec<Group> {
        largest_first(self.clone(), outcomes)
    }

    /// The groups, largest first, with their final labels by size and
    /// shares of `outcomes` records, and the map from the provisional labels
    /// the streamed outputs carry to the final ones.
    pub fn finish(self, outcomes: u64) -> (Vec<Group>, Relabel) {
        let mut labels = vec![String::new(); self.groups.len()];
        let mut groups = largest_first(self, outcomes);
        let mut rank = 0;
        for g in groups.iter_mut().filter(|g| g.group != OVERFLOW) {
            rank += 1;
            let seen = provisional_index(&g.group).expect("a tracked group's own label");
            g.group = format!("g{rank}");
            labels[seen].clone_from(&g.group);
        }
        (groups, Relabel { labels })
    }
}

/// The overflow group's label.
const OVERFLOW: &str = "g0";

/// The groups largest first, ties by first appearance (a stable sort of
/// the groups in first-appearance order, the overflow last).
fn largest_first(table: GroupTable, outcomes: u64) -> Vec<Group> {
    let mut groups: Vec<Group> = table.groups.into_iter().chain(table.overflow).collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    for g in &mut groups {
        g.share = if outcomes == 0 {
            0.0
        } else {
            (g.count as f64 / outcomes as f64 * 1e6).round() / 1e6
        };
    }
    groups
}

/// `g7` → 6: the 0-based first-appearance index of a provisional label.
fn provisional_index(label: &str) -> Option<usize> {
    label
        .strip_prefix('g')?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

/// Provisional group labels (by first appearance) to final ones (by size),
/// as [`GroupTable::finish`] gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relabel {
    /// The final label of the group first seen `i`-th.
    labels: Vec<String>,
}

impl Relabel {
    /// The final label of a provisional one (`g0` and anything unknown
    /// stay as they are).
    pub fn label<'a>(&'a self, provisional: &'a str) -> &'a str {
        provisional_index(provisional)
            .and_then(|i| self.labels.get(i))
            .map_or(provisional, String::as_str)
    }

    /// A relabelling that gives the group first seen `i`-th `labels[i]`.
    #[cfg(test)]
    pub(crate) fn of(labels: &[&str]) -> Relabel {
        Relabel {
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    /// True when no label changes (the streamed files are already final).
    pub fn is_identity(&self) -> bool {
        self.labels
            .iter()
            .enumerate()
            .all(|(i, l)| provisional_index(l) == Some(i))
    }
}

fn new_group(label: String, signature: String, id: &str) -> Group {
    Group {
        group: label,
        signature,
        count: 0,
        share: 0.0,
        first_id: id.to_owned(),
        last_id: id.to_owned(),
        sample_ids: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_of(labels: &[&str]) -> (GroupTable, Vec<String>) {
        let mut table = GroupTable::default();
        let seen = labels
            .iter()
            .map(|sig| table.assign_signature(sig, "id"))
            .collect();
        (table, seen)
    }

    #[test]
    fn final_labels_go_by_size_ties_by_first_appearance() {
        let (table, seen) = table_of(&["a", "b", "b", "c", "c", "d"]);
        assert_eq!(seen, ["g1", "g2", "g2", "g3", "g3", "g4"], "provisional");
        let snapshot = table.snapshot(6);
        let (groups, relabel) = table.finish(6);
        let listed: Vec<(&str, &str, u64)> = groups
            .iter()
            .map(|g| (g.group.as_str(), g.signature.as_str(), g.count))
            .collect();
        assert_eq!(
            listed,
            [
                ("g1", "b", 2),
                ("g2", "c", 2),
                ("g3", "a", 1),
                ("g4", "d", 1)
            ]
        );
        let sigs = |gs: &[Group]| gs.iter().map(|g| g.signature.clone()).collect::<Vec<_>>();
        assert_eq!(sigs(&snapshot), sigs(&groups), "a checkpoint lists alike");
        assert_eq!(snapshot[0].group, "g2", "with the provisional labels");
        assert_eq!(
            ["g1", "g2", "g3", "g4", "g0", "x"].map(|l| relabel.label(l)),
            ["g3", "g1", "g2", "g4", "g0", "x"]
        );
        assert!(!relabel.is_identity());
        assert!(table_of(&["a", "a", "b"]).0.finish(3).1.is_identity());
    }

    #[test]
    fn the_overflow_group_keeps_g0_whatever_its_size() {
        let mut sigs: Vec<String> = (0..MAX_GROUPS).map(|i| format!("s{i}")).collect();
        sigs.extend((0..3).map(|i| format!("over{i}")));
        let refs: Vec<&str> = sigs.iter().map(String::as_str).collect();
        let (table, seen) = table_of(&refs);
        assert_eq!(seen.last().unwrap(), "g0");
        let (groups, _) = table.finish(sigs.len() as u64);
        assert_eq!((groups[0].group.as_str(), groups[0].count), ("g0", 3));
        assert_eq!(groups[1].group, "g1");
        assert_eq!(groups.last().unwrap().group, format!("g{MAX_GROUPS}"));
    }
}
