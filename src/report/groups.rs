//! Mismatch groups: non-matching records gathered by [`signature`].
//!
//! # Contract
//! - [`GroupTable::assign`] takes non-matching records in input order (their
//!   signature leaves out the paths learned as noise for the record) and
//!   returns the record's group label (`g1`, `g2`, ... numbered by first
//!   appearance, so labels are the same for the same traffic whatever the
//!   concurrency).
//! - Memory is bounded: at most [`MAX_GROUPS`] distinct signatures are kept;
//!   records beyond that go to one `g0` overflow group, whose count stays
//!   exact. Each group keeps at most [`SAMPLE_IDS`] sample ids.
//! - [`GroupTable::finish`] lists groups largest first (ties: first seen first).

use crate::compare::signature_of;
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
    index: HashMap<String, usize>,
    groups: Vec<Group>,
    overflow: Option<Group>,
}

impl GroupTable {
    /// The group label and the signature of a non-matching record.
    pub fn assign(&mut self, result: &RecordResult) -> (String, String) {
        let sig = signature_of(
            &result.verdict,
            &result.legacy.answer,
            &result.candidate.answer,
            result.noise.as_deref().unwrap_or_default(),
        );
        let group = match self.index.get(&sig) {
            Some(&i) => &mut self.groups[i],
            None if self.groups.len() < MAX_GROUPS => {
                self.index.insert(sig.clone(), self.groups.len());
                self.groups.push(new_group(
                    format!("g{}", self.groups.len() + 1),
                    sig.clone(),
                    &result.id,
                ));
                self.groups.last_mut().expect("just pushed")
            }
            None => self.overflow.get_or_insert_with(|| {
                new_group(
                    "g0".to_owned(),
                    format!("(other: more than {MAX_GROUPS} distinct signatures)"),
                    &result.id,
                )
            }),
        };
        group.count += 1;
        group.last_id.clone_from(&result.id);
        if group.sample_ids.len() < SAMPLE_IDS {
            group.sample_ids.push(result.id.clone());
        }
        (group.group.clone(), sig)
    }

    /// The groups, largest first, with shares of `outcomes` records.
    pub fn finish(self, outcomes: u64) -> Vec<Group> {
        let mut groups: Vec<Group> = self.groups.into_iter().chain(self.overflow).collect();
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
