//! `cutover recheck`: re-runs every non-matching record of a run `times`
//! times and labels it deterministic or flaky.
//!
//! # Contract
//! - Rows of `mismatches.csv` are streamed; at most `concurrency` records are
//!   in flight (each re-run `times` times in a row), through one
//!   [`crate::engine::Comparer`] whose worker pools have the run's (or
//!   `--workers`) processes. Memory does not grow with the number of records.
//! - Label per record ([`Label`]): `deterministic` when every re-run gave the
//!   run's signature, `flaky` when one did not; `unchecked` when `--group`
//!   or `--max-records` left it out.
//! - The labels are written to a temporary file beside `recheck.jsonl`;
//!   only once every record is re-run is the stale `recheck.json` removed,
//!   the new `recheck.jsonl` put in place and `recheck.json` (totals and
//!   per-group counts) written atomically, so readers never pair a
//!   `recheck.json` with a partial `recheck.jsonl`. Then `index.html` is made
//!   again so the page shows the labels.
//! - A side that cannot start or stops working, or a [`Stop`], ends the
//!   recheck with its error before anything of the run is changed: the
//!   run's files, earlier labels included, are untouched.
//! - The run directory is held ([`crate::report::RunLock`]) for the whole
//!   recheck: a directory another process holds is refused, exit 2, naming
//!   the holder, with nothing written.
//! - Progress is reported to the caller's `on_progress` (records done, of
//!   how many); nothing is drawn or printed here.

use super::minimize::{record_of, signature_of};
use super::setup::Setup;
use super::ReproduceError;
use crate::model::Stop;
use crate::report::labels::{
    GroupLabels, Label, RecheckRecord, RecheckSummary, RECHECK_RECORDS_FILE, RECHECK_SUMMARY_FILE,
    SEEN_SIGNATURES,
};
use crate::report::row::MismatchRow;
use crate::review::{ReviewError, Run};
use futures::StreamExt;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::sync::Arc;

/// What to recheck and how hard.
#[derive(Debug, Clone)]
pub struct RecheckOptions {
    /// Re-runs per record (at least 1).
    pub times: u32,
    /// Records in flight at most.
    pub concurrency: usize,
    /// Processes per worker target (`None`: the run's).
    pub workers: Option<usize>,
    /// Only this group (label or signature).
    pub group: Option<String>,
    /// Check at most this many records (the first ones); the rest are `unchecked`.
    pub max_records: Option<u64>,
}

fn write_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ReproduceError + '_ {
    move |source| ReproduceError::Write {
        path: path.to_owned(),
        source,
    }
}

/// Re-runs `run`'s records the way `setup` (made from the run) compares;
/// returns the summary it wrote. `on_progress(done, total)` follows along.
pub async fn recheck(
    run: &Run,
    setup: &Setup,
    options: &RecheckOptions,
    stop: &Stop,
    mut on_progress: impl FnMut(u64, u64),
) -> Result<RecheckSummary, ReproduceError> {
    let only = match &options.group {
        Some(g) => Some(run.group(g)?.group.clone()),
        None => None,
    };
    // recheck.jsonl, recheck.json and index.html are written into the run
    // directory: not while a replay or another recheck is writing it.
    let _lock = crate::report::RunLock::acquire_finished(&run.dir)?;
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let total = run.summary.non_matching();
    let records_path = run.dir.join(RECHECK_RECORDS_FILE);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".cutover-recheck-").suffix(".tmp");
    // The mode a plain create gives (0666 less the umask), as for every
    // file of a run directory.
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let temp = builder
        .tempfile_in(&run.dir)
        .map_err(write_err(&records_path))?;
    let mut out = BufWriter::new(temp);
    let times = options.times.max(1);
    let mut tally: HashMap<String, GroupLabels> = HashMap::new();
    let (mut deterministic, mut flaky, mut unchecked) = (0u64, 0u64, 0u64);
    let outcome: Result<(), ReproduceError> = async {
        let comparer = Arc::new(setup.comparer()?);
        let mut selected = 0u64;
        let run_id = run.summary.run_id.clone();
        let rows = run.rows().map_err(ReviewError::from)?;
        let mut results = futures::stream::iter(rows.enumerate())
            .map(|(index, row)| {
                let check = row.as_ref().is_ok_and(|row| {
                    only.as_ref().is_none_or(|g| *g == row.group)
                        && options.max_records.is_none_or(|max| selected < max)
                });
                selected += u64::from(check);
                let comparer = comparer.clone();
                let run_id = run_id.clone();
                // A task per record, so in-process targets use every core.
                let task = tokio::spawn(async move {
                    let row: MismatchRow = row.map_err(ReviewError::from)?;
                    let mut reproduced = 0u32;
                    let mut seen: Vec<String> = Vec::new();
                    if check {
                        for attempt in 0..times {
                            let input = RawValue::from_string(row.input.clone()).map_err(|e| {
                                ReproduceError::BadInput {
                                    id: row.id.clone(),
                                    run: run_id.clone(),
                                    message: e.to_string(),
                                }
                            })?;
                            let result = comparer
                                .compare(record_of(
                                    &row,
                                    index as u64 * u64::from(times) + u64::from(attempt),
                                    input,
                                ))
                                .await?;
                            let sig = signature_of(&result);
                            if sig == row.signature {
                                reproduced += 1;
                            } else if !seen.contains(&sig) && seen.len() < SEEN_SIGNATURES {
                                seen.push(sig);
                            }
                        }
                    }
                    let label = match (check, reproduced == times) {
                        (false, _) => Label::Unchecked,
                        (true, true) => Label::Deterministic,
                        (true, false) => Label::Flaky,
                    };
                    Ok::<_, ReproduceError>(RecheckRecord {
                        row: index as u64,
                        id: row.id,
                        group: row.group,
                        label,
                        reproduced,
                        runs: if check { times } else { 0 },
                        seen,
                    })
                });
                async move {
                    task.await
                        .map_err(|e| ReproduceError::Task(e.to_string()))?
                }
            })
            .buffered(options.concurrency.max(1));
        let mut outcome = Ok(());
        let mut done = 0u64;
        while let Some(next) = tokio::select! {
            next = results.next() => next,
            () = stop.token().cancelled() => {
                outcome = Err(ReproduceError::Stopped(stop.signal().map_or("a signal", |s| s.name())));
                None
            }
        } {
            let record = match next {
                Ok(record) => record,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            done += 1;
            on_progress(done, total);
            let entry = tally.entry(record.group.clone()).or_default();
            match record.label {
                Label::Deterministic => {
                    deterministic += 1;
                    entry.deterministic += 1
                }
                Label::Flaky => {
                    flaky += 1;
                    entry.flaky += 1
                }
                Label::Unchecked => {
                    unchecked += 1;
                    entry.unchecked += 1
                }
            }
            serde_json::to_writer(&mut out, &record)
                .map_err(|e| write_err(&records_path)(e.into()))?;
            out.write_all(b"\n").map_err(write_err(&records_path))?;
        }
        drop(results);
        comparer.shutdown().await;
        outcome
    }
    .await;
    // Nothing of the run changes unless every record was re-run.
    outcome?;
    let temp = out
        .into_inner()
        .map_err(|e| write_err(&records_path)(e.into_error()))?;
    temp.as_file()
        .sync_all()
        .map_err(write_err(&records_path))?;
    let summary = RecheckSummary {
        times,
        started_at,
        duration_seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        deterministic,
        flaky,
        unchecked,
        groups: run
            .summary
            .groups
            .iter()
            .map(|g| {
                let counts = tally.remove(&g.group).unwrap_or_default();
                GroupLabels {
                    group: g.group.clone(),
                    signature: g.signature.clone(),
                    ..counts
                }
            })
            .collect(),
    };
    let summary_path = run.dir.join(RECHECK_SUMMARY_FILE);
    match std::fs::remove_file(&summary_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(write_err(&summary_path)(e))
        }
        _ => {}
    }
    temp.persist(&records_path)
        .map_err(|e| write_err(&records_path)(e.error))?;
    summary.write(&run.dir)?;
    if run.dir.join(crate::report::html::HTML_FILE).is_file() {
        crate::report::html::regenerate(&run.dir).map_err(ReviewError::from)?;
    }
    Ok(summary)
}
