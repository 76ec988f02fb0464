//! One captured request, and a capture line that could not be one.
//!
//! # Contract
//! Every line a capture reader reads becomes exactly one [`Record`] or one
//! [`Rejection`], each with a run-wide sequence number `seq` (0, 1, 2, ...
//! with no gaps, rejected lines included), so `read = records + rejected`
//! holds by construction. Inputs and recorded responses are kept as the
//! capture wrote them (JSON text), so key order, repeated keys and number
//! text reach both sides unchanged. A record holds its share of the run's
//! in-flight byte budget ([`Charge`]) until the report is done with it. A
//! [`Rejection`] serialises as one line of `rejected.jsonl`:
//! `{"seq", "source", "line", "reason", "excerpt"}`.

use super::Charge;
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// One captured request.
#[derive(Debug)]
pub struct Record {
    /// Position in the run (0-based, across all sources, rejected lines included).
    pub seq: u64,
    /// The capture's `id`, or the line number when the capture has none.
    pub id: String,
    /// The capture's routing key (Unleash stickiness), when it has one.
    pub key: Option<String>,
    /// The request body, as JSON text (shared, so a side can send it
    /// without copying it).
    pub input: Arc<RawValue>,
    /// What is known of the input beyond its being JSON: every line the
    /// JSON Lines reader accepts is at least [`InputCheck::Strict`].
    pub input_check: InputCheck,
    /// The response production gave, when the capture recorded it.
    pub recorded: Option<Box<RawValue>>,
    /// When the capture says the request was made, in seconds from any fixed
    /// origin (the capture's `timestamp`), for `--speed`.
    pub at: Option<f64>,
    /// Where the record came from.
    pub origin: Origin,
    /// Its share of the run's in-flight byte budget, held until the report
    /// is done with it.
    pub charge: Charge,
}

/// What is known of a record's input text beyond its being one JSON value,
/// weakest first: a side that needs to know more checks for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputCheck {
    /// Nobody checked (says nothing about the text).
    Unchecked,
    /// Strict JSON (`traffic::strict`): no lone surrogate escape, nesting
    /// within its limit.
    Strict,
    /// Strict, and serde_json surely reads it as a `Value`
    /// ([`super::valid::value_at`] vouched for it), so an output made of it
    /// needs no check ([`super::Output::from_shared_valid_text`]).
    Reads,
}

impl InputCheck {
    /// Whether the text is known to be strict JSON.
    pub fn strict(self) -> bool {
        self >= InputCheck::Strict
    }
}

/// The place a record or rejection was read from.
#[derive(Debug, Clone, Serialize)]
pub struct Origin {
    /// The source's display name: the path as given, or `-` for stdin.
    pub source: Arc<str>,
    /// 1-based line number of the record's first line.
    pub line: u64,
}

/// A line that could not be turned into a record.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// Position in the run.
    pub seq: u64,
    #[serde(flatten)]
    pub origin: Origin,
    /// What is wrong with the line, in words.
    pub reason: String,
    /// The start of the offending line (bounded, lossy UTF-8).
    pub excerpt: String,
}
