//! `cutover minimize`: the smallest input that still fails the same way.
//!
//! # Contract
//! - Takes one non-matching record of a run (the first with that id), checks
//!   that re-running it gives the run's signature again (else
//!   [`ReproduceError::NotReproduced`]: nothing to minimize), then shrinks its
//!   input with [`super::ddmin::shrink`], re-running *both* sides for every
//!   candidate and keeping a candidate only when the signature is the same.
//! - Bounded by [`Budget`]: at most `max_steps` re-runs (candidates already
//!   tried are remembered, not re-run) and `max_time`; when the budget runs
//!   out the smallest input so far is returned, marked unfinished.
//! - The smallest input is re-run once more at the end for the answers shown
//!   with it; if that re-run fails differently the result says so
//!   (`confirmed = false`), which points at a flaky record.
//! - A [`crate::model::Stop`] ends the search like a spent budget does.
//! - It runs on the caller's tokio runtime ([`tokio::runtime::Handle`]): the
//!   search itself is sequential.

use super::ddmin::{shrink, Stop};
use super::jsontree::Node;
use super::setup::Setup;
use super::ReproduceError;
use crate::compare::signature;
use crate::engine::Comparer;
use crate::model::{Answer, Origin, Record, RecordResult};
use crate::report::row::MismatchRow;
use crate::review::Run;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::time::{Duration, Instant};

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
    /// The signature kept throughout.
    pub signature: String,
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

/// The first non-matching record with this id.
pub fn find_row(run: &Run, id: &str) -> Result<MismatchRow, ReproduceError> {
    for row in run.rows().map_err(crate::review::ReviewError::from)? {
        let row = row.map_err(crate::review::ReviewError::from)?;
        if row.id == id {
            return Ok(row);
        }
    }
    Err(ReproduceError::NoRecord {
        id: id.to_owned(),
        run: run.dir.display().to_string(),
    })
}

/// A record to re-run `input` as the row's record.
pub fn record_of(row: &MismatchRow, seq: u64, input: Box<RawValue>) -> Record {
    Record {
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
    // The record as captured must fail the same way again.
    let first = once(raw(row.input.clone(), &row, &run_id)?, 0)?;
    let got = signature_of(&first);
    if got != row.signature {
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
        let input = RawValue::from_string(text.clone()).map_err(|_| Stop)?;
        match once(input, steps as u64) {
            Ok(result) => {
                let same = signature_of(&result) == row.signature;
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
    let confirmed = signature_of(&last) == row.signature;
    let elapsed = started.elapsed();
    runtime.block_on(comparer.shutdown());
    Ok(Minimized {
        run_id,
        signature: row.signature.clone(),
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
