//! cutover: a shadow-migration comparison harness.
//!
//! Replay captured traffic through a legacy implementation and its replacement,
//! compare the answers structurally, and write reports people can review.
//!
//! The pipeline is the architecture:
//!
//! ```text
//! traffic (source) ──► target × 2 ──► compare ──► report (sinks)
//!  src/traffic         src/target     src/compare   src/report
//!                 └──────── src/engine wires them with bounded channels ───┘
//! ```
//!
//! - [`traffic`] reads captures as a stream of records, rejecting bad lines.
//! - [`target`] runs one side: in-process builtins, worker pools, one process
//!   per call, or HTTP.
//! - [`compare`] turns the two answers into a verdict with JSON Pointer paths,
//!   under the declared comparison rules, with a group signature.
//! - [`report`] writes `summary.json` (counts, latency, groups, rule audit,
//!   drift, rollout), `mismatches.csv`, `diffs.txt`, `rejected.jsonl` and
//!   `index.html`.
//! - [`engine`] runs records concurrently, bounded, delivering results in
//!   input order; [`replay`] is one run end to end.
//! - [`review`] reads finished runs back for people and CI (the summary a
//!   replay prints when it ends, `cutover report`, `show`, `group`, `diff`,
//!   JUnit); [`reproduce`] re-runs their records
//!   (`minimize`, `pin`, `recheck`).
//! - [`normalize`] is the worked migration's new implementation.
//! - [`redact`] takes secrets out of everything shown, logged or written;
//!   [`errors`] shows an error with its causes, each once.
//! - [`terminal`] makes what is printed of traffic, targets and run
//!   directories inert, and quotes the commands cutover suggests.
//! - [`stop`] is how a signal asks a run to stop early.

pub mod atomic_file;
pub mod cli;
pub mod compare;
pub mod config;
pub mod engine;
pub mod errors;
pub mod flags;
pub mod normalize;
pub mod redact;
pub mod replay;
pub mod report;
pub mod reproduce;
pub mod review;
pub mod stop;
pub mod target;
pub mod terminal;
pub mod traffic;
