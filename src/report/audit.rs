//! The rule audit: what each comparison rule hid, so no rule hides silently.
//!
//! # Contract
//! For every rule of the run, in declaration order: how many records its
//! pattern was present in, how many records and differing paths it suppressed,
//! the first few suppressed record ids, and `matched_nothing` when its pattern
//! never found a value in any output (often a typo in the path). Constant
//! memory per rule; deterministic for the same traffic.

use crate::compare::RuleSet;
use crate::model::RecordResult;
use serde::{Deserialize, Serialize};

/// Suppressed record ids kept per rule.
pub const AUDIT_SAMPLES: usize = 5;

/// One rule's line in `summary.json`'s `rules`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuleReport {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub reason: String,
    pub present_in_records: u64,
    pub suppressed_records: u64,
    pub suppressed_paths: u64,
    pub sample_ids: Vec<String>,
    pub matched_nothing: bool,
}

/// Accumulates the audit over a run.
#[derive(Debug, Default, Clone)]
pub struct RuleAudit {
    rules: Vec<RuleReport>,
}

impl RuleAudit {
    pub fn new(rules: &RuleSet) -> Self {
        RuleAudit {
            rules: rules
                .rules
                .iter()
                .map(|r| RuleReport {
                    name: r.name.clone(),
                    kind: r.kind.clone(),
                    path: r.path.clone(),
                    reason: r.reason.clone(),
                    present_in_records: 0,
                    suppressed_records: 0,
                    suppressed_paths: 0,
                    sample_ids: Vec::new(),
                    matched_nothing: true,
                })
                .collect(),
        }
    }

    pub fn observe(&mut self, result: &RecordResult) {
        let effects = &result.rule_effects;
        for (i, report) in self.rules.iter_mut().enumerate() {
            if effects.present.get(i).copied().unwrap_or(false) {
                report.present_in_records += 1;
                report.matched_nothing = false;
            }
            let hidden = effects.suppressed.get(i).copied().unwrap_or(0);
            if hidden > 0 {
                report.suppressed_records += 1;
                report.suppressed_paths += u64::from(hidden);
                if report.sample_ids.len() < AUDIT_SAMPLES {
                    report.sample_ids.push(result.id.clone());
                }
            }
        }
    }

    pub fn finish(self) -> Vec<RuleReport> {
        self.rules
    }
}

/// One known difference's line in `summary.json`'s `known`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KnownReport {
    pub name: String,
    pub path: String,
    pub reason: String,
    /// Records it helped accept.
    pub accepted_records: u64,
    pub sample_ids: Vec<String>,
}

/// Accumulates how each known difference was used.
#[derive(Debug, Default, Clone)]
pub struct KnownAudit {
    entries: Vec<KnownReport>,
}

impl KnownAudit {
    pub fn new(known: &crate::compare::KnownSet) -> Self {
        KnownAudit {
            entries: known
                .entries
                .iter()
                .map(|k| KnownReport {
                    name: k.name.clone(),
                    path: k.path.clone(),
                    reason: k.reason.clone(),
                    accepted_records: 0,
                    sample_ids: Vec::new(),
                })
                .collect(),
        }
    }

    pub fn observe(&mut self, result: &RecordResult) {
        for (entry, used) in self.entries.iter_mut().zip(&result.known_used) {
            if *used {
                entry.accepted_records += 1;
                if entry.sample_ids.len() < AUDIT_SAMPLES {
                    entry.sample_ids.push(result.id.clone());
                }
            }
        }
    }

    pub fn finish(self) -> Vec<KnownReport> {
        self.entries
    }
}
