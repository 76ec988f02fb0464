//! `cutover minimize`: the smallest input that still fails the same way.
//!
//! # Contract
//! - Takes one non-matching record of a run (the first with that id), checks
//!   that re-running it gives the run's signature again (else
//!   [`ReproduceError::NotReproduced`]: nothing to minimize), then shrinks its
//!   input with [`super::ddmin::shrink`], re-running *both* sides for every
//!   candidate and keeping a candidate only when it shows the same
//!   differences ([`Keep`]): by default the same signature, i.e. the same
//!   paths, kinds and, for strings, the same edit shapes, so the search
//!   never wanders from the record's bug to another one; `Keep::Group`, the
//!   same paths and kinds only (the looser behaviour of old); `Keep::Test`,
//!   a user's command (C-Reduce's interestingness test): exit 0 keeps the
//!   candidate, which it gets on stdin and in `$CUTOVER_INPUT`. The command
//!   line is split with shell-words and run directly, never through a shell
//!   (write `sh -c '...'` for one), with the time left in the budget as its
//!   limit (killed past it, counted as not interesting); the sides are then
//!   run only for the final input.
//! - Bounded by [`Budget`]: at most `max_steps` re-runs (candidates already
//!   tried are remembered, not re-run) and `max_time`; when the budget runs
//!   out the smallest input so far is returned, marked unfinished.
//! - The smallest input is re-run once more at the end for the answers shown
//!   with it; if that re-run fails differently the result says so
//!   (`confirmed = false`), which points at a flaky record.
//! - A record that matched but broke the run's behaviour contract (found in
//!   `contract.jsonl`, when `mismatches.csv` has no row for it) is
//!   minimized the same way, keeping its first violation instead of a
//!   signature: `contract SIDE POINTER RULE` (the candidate's first), kept
//!   while a re-run shows that violation among its own. Re-runs hold both
//!   sides to the contract the run's spec kept.
//! - A [`crate::model::Stop`] ends the search like a spent budget does.
//! - It runs on the caller's tokio runtime ([`tokio::runtime::Handle`]): the
//!   search itself is sequential.

use super::ddmin::{shrink, Stop};
use super::jsontree::Node;
use super::setup::Setup;
use super::ReproduceError;
use crate::compare::{path_signature, signature};
use crate::engine::Comparer;
use crate::model::{Answer, Origin, Record, RecordResult};
use crate::report::row::MismatchRow;
use crate::review::Run;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What a smaller input must keep to be kept (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// The same signature: paths, kinds and edit shapes.
    Differences,
    /// The same paths and kinds, edit shapes aside.
    Group,
    /// A user's command line exits 0 on it.
    Test(String),
}

/// Limits of one minimization.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Re-runs of both sides at most.
    pub max_steps: usize,
    pub max_time: Duration,
}

/// What minimization found.
#[derive(Debug)]
pub struct Minimized {
    pub run_id: String,
    pub row: MismatchRow,
    /// The signature kept throughout (`Keep::Group`: its paths and kinds;
    /// `Keep::Test`: the original's, which the final input may not show).
    pub signature: String,
    /// What was kept.
    pub keep: Keep,
    /// The signature the smallest input shows (what `pin` records).
    pub final_signature: String,
    pub original: Node,
    pub minimal: Node,
    /// Re-runs of both sides (cache hits not counted).
    pub steps: usize,
    pub elapsed: Duration,
    /// False when the budget ran out first (the input may shrink further).
    pub finished: bool,
    /// True when the final re-run of the smallest input gave the signature.
    pub confirmed: bool,
    pub legacy: Answer,
    pub candidate: Answer,
    pub setup: Setup,
}

impl Minimized {
    pub fn original_bytes(&self) -> usize {
        self.original.to_json().len()
    }
    pub fn minimal_bytes(&self) -> usize {
        self.minimal.to_json().len()
    }
}

/// The first non-matching record with this id, else the first record with
/// this id that broke the contract (its row then carries the violation's
/// signature: see the module docs).
pub fn find_row(run: &Run, id: &str) -> Result<MismatchRow, ReproduceError> {
    for row in run.rows().map_err(crate::review::ReviewError::from)? {
        let row = row.map_err(crate::review::ReviewError::from)?;
        if row.id == id {
            return Ok(row);
        }
    }
    let found = crate::report::contract::find_violation(&run.dir, id).map_err(|e| {
        ReproduceError::BadInput {
            id: id.to_owned(),
            run: run.dir.display().to_string(),
            message: e.to_string(),
        }
    })?;
    if let Some(f) = found {
        let signature = crate::report::contract::violation_signatures(&f.findings)
            .into_iter()
            .next()
            .expect("find_violation returns records with a violation");
        return Ok(MismatchRow {
            id: f.id,
            key: f.key.unwrap_or_default(),
            outcome: f.outcome,
            group: String::new(),
            paths: String::new(),
            legacy: String::new(),
            candidate: String::new(),
            source: f.source,
            line: f.line,
            signature,
            input: f.input.get().to_owned(),
        });
    }
    Err(ReproduceError::NoRecord {
        id: id.to_owned(),
        run: run.dir.display().to_string(),
    })
}

/// A record to re-run `input` as the row's record.
pub fn record_of(row: &MismatchRow, seq: u64, input: Box<RawValue>) -> Record {
    Record {
        input_check: crate::model::InputCheck::Unchecked,
        seq,
        id: row.id.clone(),
        key: row.key().map(str::to_owned),
        input: input.into(),
        recorded: None,
        at: None,
        origin: Origin {
            source: row.source.as_str().into(),
            line: row.line,
        },
        charge: crate::model::Charge::none(),
    }
}

/// Whether `result` fails the way `expected` says: its group signature, or,
/// for a contract violation (`contract ...`), that violation among its own.
pub fn reproduces(result: &RecordResult, expected: &str) -> bool {
    if expected.starts_with("contract ") {
        return result.contract.as_ref().is_some_and(|f| {
            crate::report::contract::violation_signatures(f)
                .iter()
                .any(|s| s == expected)
        });
    }
    signature_of(result) == expected
}

/// What `result` shows, for a message: its contract violations when
/// `expected` is one, else its signature.
pub fn shown(result: &RecordResult, expected: &str) -> String {
    match &result.contract {
        Some(f) if expected.starts_with("contract ") => {
            let all = crate::report::contract::violation_signatures(f);
            if all.is_empty() {
                "no contract violation".to_owned()
            } else {
                all.join(", ")
            }
        }
        None if expected.starts_with("contract ") => "no contract violation".to_owned(),
        _ => signature_of(result),
    }
}

/// The signature a result shows (`match` for a match, so it reads in messages).
pub fn signature_of(result: &RecordResult) -> String {
    let sig = signature(
        &result.verdict,
        &result.legacy.answer,
        &result.candidate.answer,
    );
    if sig.is_empty() {
        "match".to_owned()
    } else {
        sig
    }
}

fn raw(text: String, row: &MismatchRow, run: &str) -> Result<Box<RawValue>, ReproduceError> {
    RawValue::from_string(text).map_err(|e| ReproduceError::BadInput {
        id: row.id.clone(),
        run: run.to_owned(),
        message: e.to_string(),
    })
}

/// Minimizes record `id` of `run` the way `setup` (made from the run)
/// compares, on `runtime`; `stop` ends the search early.
pub fn minimize(
    run: &Run,
    id: &str,
    budget: Budget,
    keep: Keep,
    setup: Setup,
    runtime: &tokio::runtime::Handle,
    stop: &crate::model::Stop,
) -> Result<Minimized, ReproduceError> {
    let row = find_row(run, id)?;
    let run_id = run.summary.run_id.clone();
    let _entered = runtime.enter();
    let comparer: Comparer = setup.comparer()?;
    let started = Instant::now();
    let once = |input: Box<RawValue>, seq: u64| -> Result<RecordResult, ReproduceError> {
        Ok(runtime.block_on(comparer.compare(record_of(&row, seq, input)))?)
    };
    let argv = match &keep {
        Keep::Test(cmd) => Some(test_argv(cmd)?),
        _ => None,
    };
    let loose =
        |r: &RecordResult| path_signature(&r.verdict, &r.legacy.answer, &r.candidate.answer);
    // The record as captured must fail the same way again.
    let first = once(raw(row.input.clone(), &row, &run_id)?, 0)?;
    if !reproduces(&first, &row.signature) {
        let got = shown(&first, &row.signature);
        runtime.block_on(comparer.shutdown());
        return Err(ReproduceError::NotReproduced {
            id: id.to_owned(),
            run: run.dir.display().to_string(),
            expected: row.signature.clone(),
            got,
        });
    }
    let original = Node::parse(&row.input).map_err(|e| ReproduceError::BadInput {
        id: id.to_owned(),
        run: run_id.clone(),
        message: e.to_string(),
    })?;
    let wanted = match keep {
        Keep::Group => loose(&first),
        _ => row.signature.clone(),
    };
    let interesting = |text: &str, result: Option<&RecordResult>| -> Result<bool, ReproduceError> {
        match (&argv, result) {
            (Some(argv), _) => {
                let left = budget.max_time.saturating_sub(started.elapsed());
                runtime.block_on(run_test(argv, text, left))
            }
            (None, Some(r)) if keep == Keep::Group => Ok(loose(r) == wanted),
            (None, Some(r)) => Ok(reproduces(r, &wanted)),
            (None, None) => Ok(false),
        }
    };
    let mut steps = 1usize;
    let mut cache: HashMap<String, bool> = HashMap::new();
    let mut failure: Option<ReproduceError> = None;
    let mut test = |node: &Node| -> Result<bool, Stop> {
        let text = node.to_json();
        if let Some(&known) = cache.get(&text) {
            return Ok(known);
        }
        if steps >= budget.max_steps
            || started.elapsed() >= budget.max_time
            || stop.token().is_cancelled()
        {
            return Err(Stop);
        }
        steps += 1;
        let judged = match argv {
            Some(_) => interesting(&text, None),
            None => RawValue::from_string(text.clone())
                .map_err(|e| ReproduceError::BadInput {
                    id: row.id.clone(),
                    run: run_id.clone(),
                    message: e.to_string(),
                })
                .and_then(|input| once(input, steps as u64))
                .and_then(|result| interesting(&text, Some(&result))),
        };
        match judged {
            Ok(same) => {
                cache.insert(text, same);
                Ok(same)
            }
            Err(e) => {
                failure = Some(e);
                Err(Stop)
            }
        }
    };
    // The tree as re-serialized must fail the same way too (it always
    // should: same keys, order, repeats and numbers).
    let shrunk = match test(&original) {
        Ok(true) => shrink(original.clone(), &mut test),
        Ok(false) if argv.is_some() => {
            runtime.block_on(comparer.shutdown());
            return Err(ReproduceError::NotInteresting {
                id: id.to_owned(),
                command: match &keep {
                    Keep::Test(cmd) => cmd.clone(),
                    _ => String::new(),
                },
            });
        }
        Ok(false) => {
            return Err(ReproduceError::BadInput {
                id: id.to_owned(),
                run: run_id,
                message: "re-serializing the input changes how the targets answer".into(),
            })
        }
        Err(Stop) => super::ddmin::Shrunk {
            node: original.clone(),
            finished: false,
        },
    };
    if let Some(e) = failure {
        runtime.block_on(comparer.shutdown());
        return Err(e);
    }
    let last = once(raw(shrunk.node.to_json(), &row, &run_id)?, steps as u64 + 1)?;
    let confirmed = match keep {
        Keep::Group => loose(&last) == wanted,
        _ => reproduces(&last, &wanted),
    };
    let elapsed = started.elapsed();
    runtime.block_on(comparer.shutdown());
    Ok(Minimized {
        run_id,
        signature: wanted.clone(),
        keep,
        // A contract violation kept is what the case reproduces: the
        // record's own signature may be a match.
        final_signature: if wanted.starts_with("contract ") && confirmed {
            wanted.clone()
        } else {
            signature_of(&last)
        },
        row,
        original,
        minimal: shrunk.node,
        steps,
        elapsed,
        finished: shrunk.finished,
        confirmed,
        legacy: last.legacy.answer,
        candidate: last.candidate.answer,
        setup,
    })
}

/// The words of a `--test` command line (shell-words rules, no shell).
fn test_argv(cmd: &str) -> Result<Vec<String>, ReproduceError> {
    match shell_words::split(cmd) {
        Ok(words) if !words.is_empty() => Ok(words),
        Ok(_) => Err(ReproduceError::BadTest {
            command: cmd.to_owned(),
            message: "it is empty".into(),
        }),
        Err(e) => Err(ReproduceError::BadTest {
            command: cmd.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// Runs the `--test` command on one candidate input: exit 0 is interesting.
/// Past `limit` it is killed and the input counts as not interesting.
async fn run_test(argv: &[String], input: &str, limit: Duration) -> Result<bool, ReproduceError> {
    use tokio::io::AsyncWriteExt;
    let bad = |message: String| ReproduceError::BadTest {
        command: shell_words::join(argv),
        message,
    };
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env("CUTOVER_INPUT", input)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| bad(format!("cannot start it: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let text = input.as_bytes().to_vec();
    // A command that does not read its stdin must not block the search.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&text).await;
    });
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => status.map_err(|e| bad(e.to_string()))?,
        Err(_) => {
            let _ = child.kill().await;
            writer.abort();
            return Ok(false);
        }
    };
    writer.abort();
    Ok(status.success())
}
