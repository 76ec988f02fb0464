//! What one side gave for one record, and which side it is.
//!
//! # Contract
//! An [`Answer`] is the output (any JSON value, kept as the side's JSON
//! text where it answered text: [`Output`]), the error the
//! implementation reported (or the plumbing around it: error types that
//! start with `cutover.`), or a timeout. Every call gets exactly one.
//! [`AppError`] serialises as `{"type", "message"}`, the worker protocol's
//! and `mismatches.csv`'s shape. [`Side`] serialises as `"legacy"` /
//! `"candidate"`.

use super::Output;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Which side of the comparison something is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Legacy,
    Candidate,
}

impl Side {
    /// Both sides, legacy first.
    pub const BOTH: [Side; 2] = [Side::Legacy, Side::Candidate];

    /// The command-line flag that names this side's implementation.
    pub fn flag(self) -> &'static str {
        match self {
            Side::Legacy => "--legacy",
            Side::Candidate => "--candidate",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Legacy => "legacy",
            Side::Candidate => "candidate",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error reported by an implementation (or by the plumbing around it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

impl AppError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        AppError {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

/// What one call to a side gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Output(Output),
    Error(AppError),
    /// No answer within the timeout.
    Timeout(Duration),
}

impl Answer {
    /// A value as an output answer.
    pub fn output(value: Value) -> Answer {
        Answer::Output(value.into())
    }
}
