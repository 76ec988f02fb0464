//! cutover: a shadow-migration comparison harness, as a library.
//!
//! The `cutover` binary replays captured traffic through a legacy
//! implementation and its replacement, compares the answers structurally,
//! writes reports people can review, and cuts over with Unleash flags. Every
//! piece of it is a library module a service or a test can use on its own:
//! compare two answers, call one side, re-run one record, run a whole replay
//! from a [`spec::RunSpec`], read a finished run back, or route live requests
//! with the same flags ([`flags::Router`]).
//!
//! # The house
//!
//! Commands on top, pipeline stages below, core types at the bottom; every
//! arrow points down (a unit test fails when one points up):
//!
//! ```text
//! cli ─► cluster ─► run, serve ─► review, reproduce ─► report ─► engine, spec ─► flags ─► traffic, sides, compare, contract ─► model
//! ```
//!
//! - [`model`]: the core types every stage passes on: [`model::Record`],
//!   [`model::Answer`], [`model::Verdict`], [`model::RecordResult`],
//!   [`model::Counts`] and their identities, [`model::Stop`], [`model::Exit`].
//! - [`traffic`]: captures (JSON Lines, CSV, stdin) read as a stream of
//!   records, bad lines rejected, never fatal.
//! - [`sides`]: one implementation behind the [`sides::Implementation`]
//!   trait: in-process builtins, worker pools, one process per call, HTTP, or
//!   the capture's recorded responses.
//! - [`compare`]: two answers to one verdict with JSON Pointer paths, under
//!   declared rules and known differences, with a group signature.
//! - [`contract`]: behaviour contracts (input and output JSON Schemas,
//!   declared error types) checked on both sides of every record, and
//!   draft schemas inferred from what a legacy answered.
//! - [`flags`]: who serves a key, decided by the official Unleash SDK; the
//!   promotion rule.
//! - [`spec`]: [`spec::RunSpec`], the one resolved description of a run,
//!   kept in its `summary.json`.
//! - [`engine`]: records through both sides concurrently, bounded, in input
//!   order.
//! - [`report`]: a run's outputs as sinks, `summary.json`, the run-summary
//!   model, and finding and reading finished runs.
//! - [`review`] and [`reproduce`]: finished runs read back as data, and their
//!   records re-run (`minimize`, `pin`, `recheck`).
//! - [`run`]: one replay wired end to end.
//! - [`cluster`]: one replay shared out over `cutover replayer` processes
//!   through NATS JetStream, merged back into the report a local replay
//!   writes ([`report::merge`]).
//! - [`serve`]: `cutover serve`, the live shadow proxy: the flags pick who
//!   answers each request, the other side is mirrored off the response path
//!   into a live report, with metrics and an automatic rollback.
//! - [`cli`]: the command line (only [`cli::main`] and the config file's
//!   reader are public).
//! - [`normalize`]: the worked migration's new implementation.
//!
//! Library functions return data and take a [`model::Stop`] where they can
//! run long; they never print (logging goes through `tracing`). Errors are
//! typed, one `thiserror` enum per module.
//!
//! # Comparing two answers
//!
//! ```
//! use cutover::compare::{judge, signature};
//! use cutover::model::{Answer, DiffKind, Outcome};
//! use serde_json::json;
//!
//! let legacy = Answer::output(json!({"accepted": ["a"], "rejected": []}));
//! let candidate = Answer::output(json!({"accepted": ["A"], "rejected": null}));
//! let verdict = judge(&legacy, &candidate);
//! assert_eq!(verdict.outcome, Outcome::Mismatch);
//! assert_eq!(verdict.differences[0].path, "/accepted/0");
//! assert_eq!(verdict.differences[1].kind, DiffKind::TypeChanged);
//! assert_eq!(
//!     signature(&verdict, &legacy, &candidate),
//!     "mismatch /accepted/* changed, /rejected type_changed"
//! );
//! ```
//!
//! # Re-running one record through both sides
//!
//! [`engine::Comparer`] compares one record exactly as a replay does (both
//! sides at once, the rules, known differences and noise probe):
//!
//! ```
//! use cutover::engine::Comparer;
//! use cutover::model::{Charge, InputCheck, Origin, Outcome, Record, Side};
//! use cutover::sides::{self, SideOptions, SideSpec};
//! use serde_json::value::RawValue;
//! use std::time::Duration;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let options = SideOptions {
//!     timeout: Duration::from_secs(10),
//!     startup_timeout: Duration::from_secs(30),
//!     workers: 1,
//!     retries: 1,
//!     max_response_bytes: 1 << 20,
//!     follow_redirects: Vec::new(),
//!     dir: None,
//! };
//! let legacy = sides::build(&SideSpec::Builtin("normalize".into()), Side::Legacy, &options)?;
//! let naive = SideSpec::Builtin("normalize-naive".into());
//! let candidate = sides::build(&naive, Side::Candidate, &options)?;
//! let comparer = Comparer::new(legacy, candidate, Default::default(), Default::default(), false);
//! let record = Record {
//!     seq: 0,
//!     id: "sep".into(),
//!     key: None,
//!     // U+001E: Python's str.strip() removes it, Rust's str::trim() does not.
//!     input: RawValue::from_string(r#"{"items": ["\u001ex"]}"#.into()).unwrap().into(),
//!     // Not read by the capture reader, so not known to be strict JSON.
//!     input_check: InputCheck::Unchecked,
//!     recorded: None,
//!     at: None,
//!     origin: Origin { source: "example".into(), line: 1 },
//!     // Its share of a run's memory budget: none, outside a run.
//!     charge: Charge::none(),
//! };
//! let result = comparer.compare(record).await?;
//! assert_eq!(result.verdict.outcome, Outcome::Mismatch);
//! comparer.shutdown().await;
//! # Ok::<(), cutover::sides::SideError>(())
//! # }).unwrap();
//! ```
//!
//! # A whole replay
//!
//! A [`spec::RunSpec`] says everything a run does; [`run::replay`] runs it
//! and returns the summary it wrote (the binary builds the spec from flags
//! and `cutover.toml`; here it is written out):
//!
//! ```
//! use cutover::model::{Exit, Side, Stop};
//! use cutover::sides::{SideOptions, SideSpec};
//! use cutover::spec::{new_run_id, RunSpec};
//! use cutover::traffic::{Format, ReadOptions, TrafficSpec};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let capture = dir.path().join("capture.jsonl");
//! std::fs::write(&capture, "{\"id\": \"a\", \"input\": {\"items\": [\" x \"]}}\n").unwrap();
//! let spec = RunSpec {
//!     run_id: new_run_id(),
//!     cwd: std::env::current_dir().unwrap(),
//!     legacy: SideSpec::Builtin("normalize".into()),
//!     candidate: SideSpec::Builtin("normalize".into()),
//!     traffic: vec![TrafficSpec::from_arg(capture.to_str().unwrap(), Format::Auto)],
//!     read: ReadOptions {
//!         max_record_bytes: 1 << 20,
//!         id_column: "id".into(),
//!         key_column: "key".into(),
//!         exchanges: false,
//!     },
//!     sides: SideOptions {
//!         timeout: Duration::from_secs(10),
//!         startup_timeout: Duration::from_secs(30),
//!         workers: 1,
//!         retries: 1,
//!         max_response_bytes: 1 << 20,
//!         follow_redirects: Vec::new(),
//!         dir: None,
//!     },
//!     concurrency: 8,
//!     pace: cutover::model::Pace::Unlimited,
//!     max_inflight_bytes: 64 << 20,
//!     reports_dir: dir.path().into(),
//!     out: dir.path().join("run"),
//!     max_diffs: 100,
//!     html: false,
//!     junit: None,
//!     progress: false,
//!     noise_probe: false,
//!     rules: Vec::new(),
//!     known: Vec::new(),
//!     group_by: Default::default(),
//!     flags: None,
//!     contract: None,
//!     config_file: None,
//! };
//! let runtime = tokio::runtime::Runtime::new().unwrap();
//! let outcome = runtime
//!     .block_on(cutover::run::replay(&spec, &Stop::never(), ()))
//!     .unwrap();
//! assert_eq!(outcome.summary.counts.matched, 1);
//! assert_eq!(outcome.summary.exit(), Some(Exit::Clean));
//! // The run reads back with its spec, as every review command reads it.
//! let back = cutover::report::read_summary(&outcome.dir).unwrap();
//! assert_eq!(back.spec, spec);
//! ```
//!
//! # Cutting over a live service
//!
//! [`flags::Router`] routes each request by its key with the same flags and
//! the same SDK a replay evaluates, returns the serving side's answer at
//! once, runs the mirrored side detached under a bounded pool, and hands the
//! comparisons to a bounded channel; see its module for a runnable example.
//! [`serve`] is that router behind an HTTP listener (`cutover serve`).

pub mod cli;
pub mod cluster;
pub mod compare;
pub mod contract;
pub mod engine;
pub mod flags;
pub mod model;
pub mod normalize;
pub mod report;
pub mod reproduce;
pub mod review;
pub mod run;
pub mod serve;
pub mod sides;
pub mod spec;
pub mod traffic;
mod util;

#[cfg(test)]
mod architecture_tests;
