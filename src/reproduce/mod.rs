//! Re-running a run's non-matching records: minimal reproducers
//! (`cutover minimize`), regression cases kept in the repository
//! (`cutover pin`), and flaky-or-deterministic labels (`cutover recheck`).
//!
//! # Contract
//! - Records are re-run the way the run ran them ([`setup`], from the run's
//!   spec): the same sides in the same directory, timeout, rules, known
//!   differences and noise probe, through [`crate::engine::Comparer`], the
//!   engine's own per-record comparison.
//! - A run directory may come from anyone: a side it names is started only
//!   when [`setup::Trust`] trusts it (a builtin, the current config's own
//!   spec, or `--trust-run` / `trust_run = true` under `[reproduce]`);
//!   otherwise the command starts nothing and fails with
//!   [`ReproduceError::Untrusted`], which shows the command lines (exit 2).
//! - "The same mismatch" means the same group signature
//!   ([`crate::compare::signature`]): values never enter it, so a smaller
//!   input that fails the same way counts, and one that fails another way
//!   does not.
//! - Work is bounded: minimize by a step and a time budget (shown in
//!   `--help`), recheck by `--concurrency` records in flight and `--times`
//!   re-runs each.
//! - Errors are [`ReproduceError`]s that name the run, record or file and
//!   say what to do.
//! - Functions return data and take a [`crate::model::Stop`]; they never
//!   print and never read `cutover.toml` (a later config's rules come from
//!   the caller, [`setup::Later`]).
//!
//! Names [`crate::model`], [`crate::engine`], [`crate::report`],
//! [`crate::review`], [`crate::spec`], [`crate::sides`], [`crate::compare`]
//! and [`crate::util`].

pub mod ddmin;
pub mod jsontree;
pub mod minimize;
pub mod pin;
pub mod recheck;
pub mod setup;

use std::path::PathBuf;

/// What can go wrong while re-running records.
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    #[error(transparent)]
    Review(#[from] crate::review::ReviewError),
    #[error(transparent)]
    Side(#[from] crate::sides::SideError),
    #[error(transparent)]
    Rule(#[from] crate::compare::RuleError),
    #[error("the run's behaviour contract does not compile: {0}")]
    Contract(String),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("run {run} names targets that the current config does not, and re-running its records would run their command lines, which come from its summary.json (anyone could have written it):\n{sides}\nRead them; if you trust them, pass --trust-run (or set `trust_run = true` under [reproduce] in cutover.toml, or name them as `legacy`/`candidate` under [replay])")]
    Untrusted { run: String, sides: String },
    #[error("run {run} compared against recorded responses (`recorded`); re-running needs both sides live. Replay with a live --legacy first")]
    Recorded { run: String },
    /// `run` is the run's directory, as it was named.
    #[error("no non-matching record has id {id:?} in run {run}: it matched, or it is not in the capture. `{}` lists groups with example ids", crate::util::escape::command_line(["cutover", "report", .run.as_str()]))]
    NoRecord { id: String, run: String },
    /// `run` is the run's directory, as it was named.
    #[error("record {id:?} of run {run} does not fail the same way when re-run: the run gave `{expected}`, now it gives `{got}`. It may be flaky (`{}` tells), or a side changed since the run", crate::util::escape::command_line(["cutover", "recheck", .run.as_str()]))]
    NotReproduced {
        id: String,
        run: String,
        expected: String,
        got: String,
    },
    #[error("--test {command:?}: {message}. Give a command line that exits 0 when its input (stdin, $CUTOVER_INPUT) is still interesting, e.g. --test 'grep -q TRIGGER'")]
    BadTest { command: String, message: String },
    #[error("--test {command:?} does not find record {id:?}'s own input interesting (it did not exit 0): nothing to minimize. Check the command on the input `cutover report show` prints")]
    NotInteresting { id: String, command: String },
    #[error("record {id:?} of run {run}: its input cannot be re-sent as parsed ({message})")]
    BadInput {
        id: String,
        run: String,
        message: String,
    },
    #[error("cannot read the pin directory {path}: {source}. Give the directory `cutover pin` wrote its cases to (--pin-dir; by default {})", pin::PIN_DIR)]
    PinDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no pinned case (a .json file) in {path}: nothing to check. `cutover pin RUN ID` makes one"
    )]
    NoCases { path: PathBuf },
    #[error("{path}: not a pinned case: {message}. Fix it, or pin the record again with `cutover pin RUN ID`")]
    BadCase { path: PathBuf, message: String },
    #[error("{path}: the pinned case cannot be replayed")]
    CaseFailed {
        path: PathBuf,
        source: Box<ReproduceError>,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a re-run task failed: {0}")]
    Task(String),
    #[error("stopped by {0} before the re-runs were done; nothing was written")]
    Stopped(&'static str),
}
