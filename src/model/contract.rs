//! What a behaviour contract found in one record: the record's input outside
//! the input schema, each side's output against the output schema, and error
//! types the contract does not declare.
//!
//! # Contract
//! Plain data, made by [`crate`]'s `contract` module and carried by a
//! [`super::RecordResult`]; `None` there when the record has no finding (or
//! the run has no contract), so a clean record costs no allocation. Every
//! list is bounded by whoever fills it ([`MAX_VIOLATIONS`] per side). A
//! finding never changes the record's verdict: outcomes and their counts
//! are the comparison's alone.

use serde::{Deserialize, Serialize};

/// Violations kept per side and record at most (the first ones the
/// validator reports).
pub const MAX_VIOLATIONS: usize = 10;

/// One way an output (or an input) breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// JSON Pointer to the offending value in the output (`""`: the whole output).
    pub pointer: String,
    /// JSON Pointer to the schema rule that failed, in the schema
    /// (`/properties/total/minimum`).
    pub rule: String,
    /// What failed, in words, without the offending value.
    pub message: String,
}

/// Everything a contract found in one record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractFindings {
    /// The first way the record's input breaks the input schema (`None`:
    /// within the contract, or no input schema).
    pub outside: Option<Violation>,
    /// The legacy's output against the output schema.
    pub legacy: Vec<Violation>,
    /// The candidate's output against the output schema.
    pub candidate: Vec<Violation>,
    /// The legacy raised an error type the contract does not declare.
    pub legacy_undeclared: Option<String>,
    /// The candidate raised an error type the contract does not declare.
    pub candidate_undeclared: Option<String>,
}

impl ContractFindings {
    /// Nothing found.
    pub fn is_empty(&self) -> bool {
        self == &ContractFindings::default()
    }
}
