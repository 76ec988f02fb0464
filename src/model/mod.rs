//! The core types: what every stage passes to the next, depending on
//! nothing else in the crate.
//!
//! # Contract
//! - Plain data with its own invariants, and no behaviour that needs another
//!   module: a [`Record`] read from a capture, the [`Answer`] one side gave,
//!   (its [`Output`] a value or the side's JSON text), the [`Verdict`] on the two, the [`RecordResult`] the engine hands the
//!   report, the [`Counts`] of a run with their identities, how a run ended
//!   ([`RunState`], [`Signal`]), the [`Stop`] that asks a run to end early,
//!   the [`Exit`] status every command ends with, and the byte [`Budget`]
//!   every record in flight holds a [`Charge`] on ([`budget`]), what a
//!   behaviour contract found in a record ([`ContractFindings`]), the
//!   HTTP exchanges captures carry ([`exchange`]), and the byte scans of
//!   JSON text that the capture check and outputs share ([`scan`]), and the
//!   one-pass check that a text surely reads as a value ([`valid`]).
//! - `model/` names nothing of the crate (the architecture test fails when
//!   it does); every other module may name it.
//! - Serialised forms are part of cutover's files (`summary.json`,
//!   `rejected.jsonl`, the worker protocol's errors): renaming a field or a
//!   variant changes a file format.

mod answer;
pub mod budget;
mod contract;
mod counts;
pub mod exchange;
mod exit;
mod output;
mod pace;
mod record;
mod result;
pub mod scan;
mod state;
mod stats;
mod stop;
pub mod valid;
mod verdict;

pub use answer::{Answer, AppError, Side};
pub use budget::{Budget, Charge};
pub use contract::{ContractFindings, Violation, MAX_VIOLATIONS};
pub use counts::Counts;
pub use exit::Exit;
pub use output::{lone_surrogate, Output};
pub use pace::{Pace, PaceReport};
pub use record::{InputCheck, Origin, Record, Rejection};
pub use result::{Event, Observed, PerRule, RecordResult, RuleEffects};
pub use state::RunState;
pub use stats::SideStats;
pub use stop::{Signal, Stop};
pub use verdict::{DiffKind, Difference, Outcome, Verdict};
