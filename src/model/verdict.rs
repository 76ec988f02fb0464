//! The comparison of one record's two answers.
//!
//! # Contract
//! A [`Verdict`] has one [`Outcome`] and, for the outcomes that compare
//! outputs (`mismatch`, `accepted`, `noisy`), the places the outputs differ
//! as JSON Pointer paths with their [`DiffKind`] (at most the comparison's
//! per-record cap kept, `total_differences` always exact). Outcomes and
//! kinds serialise in `snake_case`, as `summary.json`, `mismatches.csv` and
//! signatures write them.

use serde::{Deserialize, Serialize};

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Match,
    Mismatch,
    /// A mismatch entirely covered by declared known differences.
    Accepted,
    /// A mismatch only at paths where the legacy disagrees with itself.
    Noisy,
    LegacyError,
    CandidateError,
    BothError,
    Timeout,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Mismatch => "mismatch",
            Outcome::Accepted => "accepted",
            Outcome::Noisy => "noisy",
            Outcome::LegacyError => "legacy_error",
            Outcome::CandidateError => "candidate_error",
            Outcome::BothError => "both_error",
            Outcome::Timeout => "timeout",
        }
    }

    /// Whether a user served by the candidate would notice: every outcome
    /// but `match`, `accepted` (declared, intended) and `noisy` (the
    /// legacy's own noise).
    pub fn differs(self) -> bool {
        !matches!(self, Outcome::Match | Outcome::Accepted | Outcome::Noisy)
    }
}

/// The comparison of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// True for a `match` where both sides raised the same error.
    pub matched_error: bool,
    /// For `mismatch`: where the outputs differ (the first ones, up to the
    /// comparison's per-record cap).
    pub differences: Vec<Difference>,
    /// For `mismatch`: how many differences there were in all.
    pub total_differences: usize,
}

impl Verdict {
    /// A verdict with no differences.
    pub fn of(outcome: Outcome) -> Verdict {
        Verdict {
            outcome,
            matched_error: false,
            differences: Vec::new(),
            total_differences: 0,
        }
    }

    /// True when the record needs no one's attention (`match`).
    pub fn is_clean(&self) -> bool {
        self.outcome == Outcome::Match
    }
}

/// How a value differs at one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    Changed,
    TypeChanged,
    Added,
    Removed,
}

impl DiffKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Changed => "changed",
            DiffKind::TypeChanged => "type_changed",
            DiffKind::Added => "added",
            DiffKind::Removed => "removed",
        }
    }
}

/// One place where the outputs differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// JSON Pointer into both outputs (`""` is the whole document).
    pub path: String,
    pub kind: DiffKind,
}
