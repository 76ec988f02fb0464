//! The engine: traffic → both sides → verdict → events, in input order.
//!
//! # Contract
//! - Every item the reader produces becomes exactly one [`Event`], delivered in
//!   `seq` order whatever `concurrency` is; rejected lines pass straight through.
//! - Each record is sent to both targets concurrently. Records travel in
//!   batches of up to [`BATCH`]; each batch is one task (its records run
//!   concurrently inside it), so comparison work spreads over all cores while
//!   per-record overhead stays small. A side that answers at once (a
//!   builtin) is called in place, with no future; when both do, and no
//!   record of the batch waits for a start time, the batch's records are
//!   compared one after another in its task, with no future each. When
//!   one does not and no record waits for a start time, that side gets the
//!   whole batch's requests in one [`Implementation::call_many`] (a worker
//!   pool: one message, one wake-up for the batch), the other side answers
//!   in place meanwhile, and the records are then finished in turn. With
//!   start times (`--rate`, `--speed`) each record is its own future. The reader hands over chunks of up to
//!   [`READ_CHUNK_BATCHES`] batches, and batches already finished go to the
//!   sink together (up to about [`SEND_EVENTS`] events, never waiting for
//!   more): each hand-over between threads wakes one, and on two cores those
//!   wake-ups were a quarter of a fast replay's CPU. At most `concurrency`
//!   records are in flight; the reader's channel is bounded, so a slow target
//!   slows the reader instead of growing memory (backpressure). Records also
//!   hold a share of
//!   the byte budget `max_inflight_bytes` from when they are read until the
//!   sink is done with their event; once both answers are in, the share is
//!   settled to what the record really holds, its diff text included
//!   ([`crate::model::budget`]).
//! - `stop` (SIGINT or SIGTERM) stops the reader at once, even while it
//!   waits on an idle input; records already read are finished and
//!   delivered, so the report stays consistent.
//! - A [`SideError`] (a side that cannot work at all) stops reading too;
//!   the records in flight are still delivered, the one that hit the error with
//!   a `cutover.target_failed` error on that side. The error is returned in
//!   [`RunEnd::aborted`], and the run counts as not having happened (exit 2).
//! - Events go to the sink over a bounded channel; if the sink goes away the
//!   run stops.
//! - The unified diff of a non-matching record ([`RecordResult::diff`]) is
//!   made here, in the comparison tasks, not by the single report writer:
//!   one large record's diff (up to [`crate::compare::DIFF_TIME_LIMIT`])
//!   holds back neither the writer nor Ctrl-C. Diffs of more than
//!   [`INLINE_DIFF_BYTES`] run on blocking threads, as many at once as there
//!   are cores, so they never stall the runtime's threads. Only records the
//!   report may show get one: every record that is among the first
//!   [`RunPlan::max_diffs`] non-matching ones does (the count delivered so
//!   far never exceeds the count before it), plus at most the records in
//!   flight besides, so the report is the same whatever `concurrency` is.
//!
//! # Non-goals
//! The engine knows nothing of flags, files or terminals: it takes a
//! [`RunPlan`] and a cancellation token, and hands [`Event`]s to whoever
//! reads its channel (the report's sinks, a test). Who serves a key is the
//! report's business (its rollout section).
//!
//! - Both answers are judged by [`crate::compare::judge_under`]: two
//!   outputs given as JSON text are found equal without building a
//!   `Value` when they can be (the comparison's fast path, which never
//!   decides differently); a value is built, once per output, only when
//!   something needs it: the rules (declared rules skip the fast path),
//!   known differences or the noise probe on a differing record, the
//!   contract, the diff. The byte budget counts a text output's text, and
//!   its value once built.
//! - With a behaviour contract ([`RunPlan::contract`]) each record's input
//!   and both answers are checked against it in the comparison task too
//!   ([`RecordResult::contract`]); the verdict does not change.
//!
//! Names [`crate::model`], [`crate::traffic`], [`crate::sides`],
//! [`crate::compare`], [`crate::contract`] and [`crate::util`].

use crate::compare::{answer_value, judge, record_diff, render_value};
use crate::model::{
    Answer, AppError, Budget, Event, Observed, Pace, PaceReport, Record, RecordResult, Verdict,
};
use crate::sides::{Implementation, Request, SideError};
use crate::traffic::{spawn_reader, ReadOptions, ReaderProgress, Source, SourceItem, TrafficError};
use futures::future::Either;
use futures::{FutureExt, StreamExt};
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the engine needs for a run.
pub struct RunPlan {
    /// The captures, opened ([`crate::traffic::open_sources`]).
    pub traffic: Vec<Source>,
    pub read: ReadOptions,
    pub legacy: Arc<dyn Implementation>,
    pub candidate: Arc<dyn Implementation>,
    /// Whether the legacy side is live (not `recorded`): then records that
    /// carry a recorded response are also checked for drift.
    pub check_drift: bool,
    /// Comparison rules (may be empty).
    pub rules: crate::compare::RuleSet,
    /// Declared known differences (may be empty).
    pub known: crate::compare::KnownSet,
    /// Call the legacy twice per record to learn its noise.
    pub noise_probe: bool,
    /// The behaviour contract both sides are held to (`None`: none).
    pub contract: Option<Arc<crate::contract::Contract>>,
    /// Records in flight at most (at least 1).
    pub concurrency: usize,
    /// Non-matching records whose unified diff the report shows (`diffs.txt`).
    pub max_diffs: usize,
    /// Bytes of memory the records in flight may hold, about (see
    /// [`crate::model::budget`]; a record bigger than that runs alone).
    pub max_inflight_bytes: u64,
    /// How fast records start ([`Pace`]), within the concurrency bound.
    pub pace: Pace,
    /// Request headers whose values the results carry as `<redacted>` when
    /// a record is an HTTP exchange (empty: none), and that a rejected
    /// line's excerpt and reason show redacted
    /// ([`crate::model::exchange::HeaderScrubber`]); the sides get the
    /// record as it was.
    pub redact_headers: Vec<String>,
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct RunEnd {
    /// Reading stopped early because `stop` was cancelled (a signal).
    pub interrupted: bool,
    /// A side stopped working; the run is incomplete.
    pub aborted: Option<SideError>,
    /// What pacing achieved (`None` without `--rate` or `--speed`).
    pub pace: Option<PaceReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    #[error("the report writer stopped before the run ended")]
    SinkClosed,
    #[error("a comparison task failed: {0}")]
    Task(String),
}

/// Records per batch at most: the unit of work of one task. At most 30,
/// because `futures::future::join_all` keeps up to 30 futures in one array
/// and polls them in place, and more in a `FuturesOrdered`, which allocates
/// and wakes each one apart: at 64 per batch an identity replay took 25%
/// more CPU than at 16 or 30 (README "Performance").
pub const BATCH: usize = 30;
/// Batches kept in flight (when `concurrency` allows), so that one slow record
/// holds back only its own batch while the others keep the targets busy.
pub const BATCHES_IN_FLIGHT: usize = 8;
/// Batches the reader hands over at once, at most (one chunk).
pub const READ_CHUNK_BATCHES: usize = 8;
/// Events sent to the report writer in one message, about: finished batches
/// are gathered up to this many.
pub const SEND_EVENTS: usize = 256;

/// A chunk of items split into batches of `size`, in order (each item moved
/// once).
fn batches_of(chunk: Vec<SourceItem>, size: usize) -> Vec<Vec<SourceItem>> {
    let size = size.max(1);
    if chunk.len() <= size {
        return vec![chunk];
    }
    let mut batches = Vec::with_capacity(chunk.len().div_ceil(size));
    let mut items = chunk.into_iter();
    loop {
        let batch: Vec<SourceItem> = items.by_ref().take(size).collect();
        if batch.is_empty() {
            return batches;
        }
        batches.push(batch);
    }
}

/// Answers (both renderings together) up to this size are diffed in the
/// comparison task itself; larger ones on a blocking thread.
pub const INLINE_DIFF_BYTES: usize = 64 * 1024;

/// Runs the comparison, sending events to `events` in input order, in batches.
pub async fn run(
    plan: RunPlan,
    events: mpsc::Sender<Vec<Event>>,
    stop: CancellationToken,
    mut on_progress: impl FnMut(&ReaderProgress, &Event),
) -> Result<RunEnd, EngineError> {
    let concurrency = plan.concurrency.max(1);
    // Records travel in batches (one task, one channel message per batch, not
    // per record); batches in flight times batch size never exceeds
    // `concurrency`.
    let batch = (concurrency / BATCHES_IN_FLIGHT).clamp(1, BATCH);
    let batches_in_flight = (concurrency / batch).max(1);
    // Stop the reader without marking the run interrupted (for target failures).
    let reader_stop = stop.child_token();
    let budget = Budget::new(plan.max_inflight_bytes);
    // The reader hands over chunks of several batches (one wake-up of this
    // task per chunk, not per batch); they are split into batches here.
    let reader = spawn_reader(
        plan.traffic,
        plan.read,
        2,
        batch * batches_in_flight.min(READ_CHUNK_BATCHES),
        reader_stop.clone(),
        budget,
    );
    let progress = reader.progress.clone();
    let shared = Arc::new(Shared {
        legacy: plan.legacy,
        candidate: plan.candidate,
        check_drift: plan.check_drift,
        rules: plan.rules,
        known: plan.known,
        noise_probe: plan.noise_probe,
        contract: plan.contract,
        aborted: Mutex::new(None),
        reader_stop: reader_stop.clone(),
        diffs: Diffs::new(plan.max_diffs),
        pacer: Pacer::new(plan.pace),
        shown: Shown::new(plan.redact_headers),
    });
    let mut ordered = tokio_stream_from(reader.items)
        .flat_map(|chunk| futures::stream::iter(batches_of(chunk, batch)))
        .map(|items| {
            // Start times are scheduled here, in input order, as batches
            // are dispatched (the tasks may run in any order).
            let dues = items
                .iter()
                .map(|item| match item {
                    SourceItem::Record(r) => shared.pacer.schedule(r),
                    SourceItem::Rejected(_) => None,
                })
                .collect();
            let task = tokio::spawn(compare_batch(items, dues, shared.clone()));
            async move { task.await.map_err(|e| EngineError::Task(e.to_string())) }
        })
        .buffered(batches_in_flight);
    // A batch's non-matching records are counted as delivered before the
    // stream is polled again: that poll starts the next batch, whose diffs
    // are made only while fewer than `max_diffs` were delivered.
    let delivered = |batch: &[Event]| {
        for event in batch {
            if let Event::Compared(result) = event {
                shared.diffs.delivered(result);
            }
        }
    };
    while let Some(batch) = ordered.next().await {
        let mut batch = batch?;
        delivered(&batch);
        // Batches already finished travel with this one: one message (one
        // wake-up of the report writer) for all of them, never a wait.
        while batch.len() < SEND_EVENTS {
            match ordered.next().now_or_never() {
                Some(Some(more)) => {
                    let more = more?;
                    delivered(&more);
                    batch.extend(more);
                }
                _ => break,
            }
        }
        for event in &batch {
            on_progress(&progress, event);
        }
        events
            .send(batch)
            .await
            .map_err(|_| EngineError::SinkClosed)?;
    }
    drop(ordered);
    reader
        .done
        .await
        .map_err(|e| EngineError::Task(e.to_string()))??;
    let aborted = shared
        .aborted
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    Ok(RunEnd {
        interrupted: stop.is_cancelled(),
        aborted,
        pace: shared.pacer.report(),
    })
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// What every comparison task shares.
struct Shared {
    legacy: Arc<dyn Implementation>,
    candidate: Arc<dyn Implementation>,
    /// Compare the live legacy against the capture's `recorded` responses.
    check_drift: bool,
    rules: crate::compare::RuleSet,
    known: crate::compare::KnownSet,
    noise_probe: bool,
    contract: Option<Arc<crate::contract::Contract>>,
    aborted: Mutex<Option<SideError>>,
    reader_stop: CancellationToken,
    diffs: Diffs,
    pacer: Pacer,
    shown: Shown,
}

/// The input a result carries, and a rejected line's excerpt: an
/// exchange's credential headers redacted.
struct Shown {
    names: Vec<String>,
    scrubber: crate::model::exchange::HeaderScrubber,
    /// Finds a line that may name one of them (case-insensitive), so only
    /// those are parsed.
    finder: Option<regex::bytes::Regex>,
}

impl Shown {
    fn new(names: Vec<String>) -> Self {
        let finder = (!names.is_empty()).then(|| {
            let alternatives: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
            regex::bytes::RegexBuilder::new(&format!("\"(?:{})\"", alternatives.join("|")))
                .case_insensitive(true)
                .build()
                .expect("escaped names make a valid regex")
        });
        let scrubber = crate::model::exchange::HeaderScrubber::new(&names);
        Shown {
            names,
            finder,
            scrubber,
        }
    }

    /// A rejection as the report keeps it: the credential headers its
    /// excerpt and reason may show redacted.
    fn rejection(&self, mut r: crate::model::Rejection) -> crate::model::Rejection {
        let with = crate::util::redact::REDACTED;
        if let std::borrow::Cow::Owned(e) = self.scrubber.scrub(&r.excerpt, with) {
            r.excerpt = e;
        }
        if let std::borrow::Cow::Owned(e) = self.scrubber.scrub(&r.reason, with) {
            r.reason = e;
        }
        r
    }

    fn of(&self, input: Arc<RawValue>) -> Arc<RawValue> {
        let Some(finder) = &self.finder else {
            return input;
        };
        if !finder.is_match(input.get().as_bytes()) {
            return input;
        }
        use crate::model::exchange::HttpRequest;
        match HttpRequest::parse(&input)
            .ok()
            .and_then(|r| r.redacted(&self.names, crate::util::redact::REDACTED))
        {
            Some(shown) => serde_json::value::to_raw_value(&shown.to_value())
                .map(Arc::from)
                .unwrap_or(input),
            None => input,
        }
    }
}

/// When each record may start ([`Pace`]): one shared schedule, made in
/// input order as batches are dispatched.
struct Pacer {
    pace: Pace,
    state: Mutex<PaceState>,
}

#[derive(Default)]
struct PaceState {
    /// When the first record started.
    origin: Option<Instant>,
    /// `--rate`: when the next record may start.
    next: Option<Instant>,
    /// `--speed`: the first timestamped record's captured time.
    first_at: Option<f64>,
    started: u64,
    last: Option<Instant>,
}

impl Pacer {
    fn new(pace: Pace) -> Self {
        Pacer {
            pace,
            state: Mutex::new(PaceState::default()),
        }
    }

    /// When `record` may start (`None`: at once), scheduled in the order
    /// records are dispatched.
    fn schedule(&self, record: &Record) -> Option<Instant> {
        if self.pace == Pace::Unlimited {
            return None;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let origin = *s.origin.get_or_insert(now);
        let due = match self.pace {
            Pace::Rate(per_second) => {
                let due = s.next.map_or(now, |next| next.max(now));
                s.next = Some(due + std::time::Duration::from_secs_f64(1.0 / per_second));
                due
            }
            Pace::Speed(factor) => match record.at {
                Some(at) => {
                    let first = *s.first_at.get_or_insert(at);
                    let offset = ((at - first) / factor).max(0.0);
                    origin + std::time::Duration::from_secs_f64(offset.min(1e9))
                }
                None => now,
            },
            Pace::Unlimited => now,
        };
        s.started += 1;
        s.last = Some(s.last.map_or(due, |last| last.max(due)));
        Some(due)
    }

    fn report(&self) -> Option<PaceReport> {
        if self.pace == Pace::Unlimited {
            return None;
        }
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let span = match (s.origin, s.last) {
            (Some(origin), Some(last)) => last.saturating_duration_since(origin).as_secs_f64(),
            _ => 0.0,
        };
        Some(PaceReport {
            pace: self.pace,
            started: s.started,
            achieved_per_second: if span > 0.0 {
                ((s.started - 1) as f64 / span * 10.0).round() / 10.0
            } else {
                0.0
            },
        })
    }
}

impl Shared {
    /// What comparing records outside a run shares: no reader to stop, and
    /// diffs made per chunk (or none).
    fn outside_a_run(
        legacy: Arc<dyn Implementation>,
        candidate: Arc<dyn Implementation>,
        check_drift: bool,
        rules: crate::compare::RuleSet,
        known: crate::compare::KnownSet,
        noise_probe: bool,
    ) -> Shared {
        Shared {
            legacy,
            candidate,
            check_drift,
            rules,
            known,
            noise_probe,
            contract: None,
            aborted: Mutex::new(None),
            reader_stop: CancellationToken::new(),
            diffs: Diffs::new(0),
            pacer: Pacer::new(Pace::Unlimited),
            shown: Shown::new(Vec::new()),
        }
    }

    /// The error of a side that stopped working, taken.
    fn failure(&self) -> Option<SideError> {
        self.aborted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// Which records get a unified diff, and where it is made.
struct Diffs {
    /// The report shows the first `wanted` non-matching records' diffs.
    wanted: usize,
    /// Non-matching records delivered to the sink so far, in input order.
    delivered: AtomicUsize,
    /// Large diffs at once at most (one per core).
    large: tokio::sync::Semaphore,
}

impl Diffs {
    fn new(wanted: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Diffs {
            wanted,
            delivered: AtomicUsize::new(0),
            large: tokio::sync::Semaphore::new(cores),
        }
    }

    fn delivered(&self, result: &RecordResult) {
        if !result.verdict.is_clean() {
            self.delivered.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The diff of a record the report may show, made off the async threads
    /// when it is large; `None` for a record it will not show.
    async fn of(&self, verdict: &Verdict, legacy: &Answer, candidate: &Answer) -> Option<String> {
        if verdict.is_clean() || self.delivered.load(Ordering::Relaxed) >= self.wanted {
            return None;
        }
        let (a, b) = (answer_value(legacy), answer_value(candidate));
        let (ta, tb) = (render_value(&a), render_value(&b));
        if ta.len() + tb.len() <= INLINE_DIFF_BYTES {
            return Some(record_diff(&a, &b, &ta, &tb));
        }
        let _permit = self.large.acquire().await.ok();
        let diff = tokio::task::spawn_blocking(move || record_diff(&a, &b, &ta, &tb)).await;
        Some(diff.unwrap_or_else(|e| format!("(no diff: the diff task failed: {e})\n")))
    }
}

/// Compares every record of a batch concurrently; events come back in order.
async fn compare_batch(
    items: Vec<SourceItem>,
    dues: Vec<Option<Instant>>,
    shared: Arc<Shared>,
) -> Vec<Event> {
    let shared = &shared;
    // Sides that both answer at once leave nothing to wait for in a batch
    // with no start times: its records are compared one after another, in
    // this task, with no future each to store and poll (a large diff, made
    // off the async threads, is waited for in turn).
    let at_once = shared.legacy.answers_at_once() && shared.candidate.answers_at_once();
    let no_dues = dues.iter().all(Option::is_none);
    if !at_once && no_dues {
        return compare_together(items, shared).await;
    }
    if at_once && no_dues {
        let mut events = Vec::with_capacity(items.len());
        for item in items {
            events.push(match item {
                SourceItem::Rejected(r) => Event::Rejected(shared.shown.rejection(r)),
                SourceItem::Record(record) => Event::Compared(Box::new(
                    compare_record(record, shared, &shared.diffs).await,
                )),
            });
        }
        return events;
    }
    futures::future::join_all(items.into_iter().zip(dues).map(|(item, due)| {
        match item {
            SourceItem::Rejected(r) => Either::Left(std::future::ready(Event::Rejected(
                shared.shown.rejection(r),
            ))),
            SourceItem::Record(record) => Either::Right(
                async move {
                    if let Some(due) = due {
                        // A record read is always compared: a stop ends the wait.
                        tokio::select! {
                            _ = tokio::time::sleep_until(due.into()) => {}
                            _ = shared.reader_stop.cancelled() => {}
                        }
                    }
                    compare_record(record, shared, &shared.diffs).await
                }
                .map(|r| Event::Compared(Box::new(r))),
            ),
        }
    }))
    .await
}

/// What a side is asked for `record`.
fn request_of(record: &Record) -> Request<'_> {
    Request {
        input: &record.input,
        input_check: record.input_check,
        recorded: record.recorded.as_deref(),
    }
}

/// A side that answers at once, asked in place, with no future: its
/// answer, its latency the time since `clock`, which then moves on to now
/// (one clock reading ends one call's latency and starts the next's);
/// `None` from a side that answers through its future.
fn observe_now(
    target: &Arc<dyn Implementation>,
    request: Request<'_>,
    clock: &mut Instant,
) -> Option<Observed> {
    let answer = target.answer_now(request)?;
    let now = Instant::now();
    let latency = now.saturating_duration_since(*clock);
    *clock = now;
    Some(Observed {
        answer,
        latency,
        waited: std::time::Duration::ZERO,
    })
}

async fn compare_record(record: Record, shared: &Shared, diffs: &Diffs) -> RecordResult {
    let request = request_of(&record);
    // A side that answers at once (a builtin) is called here, legacy first,
    // as `join!` would poll them.
    let mut clock = Instant::now();
    let mut at_once = |target: &Arc<dyn Implementation>| observe_now(target, request, &mut clock);
    let legacy_now = at_once(&shared.legacy);
    let candidate_now = at_once(&shared.candidate);
    let probe_now = match shared.noise_probe && legacy_now.is_some() {
        true => at_once(&shared.legacy),
        false => None,
    };
    // Any other side is called through its future.
    let observe = |target: &Arc<dyn Implementation>, now: Option<Observed>| {
        let target = target.clone();
        async move {
            if let Some(observed) = now {
                return observed;
            }
            let started = Instant::now();
            let result = target.call_timed(request).await;
            observed_of(result, started.elapsed(), shared)
        }
    };
    let (legacy, candidate, probe) = match (legacy_now, candidate_now, shared.noise_probe) {
        (Some(legacy), Some(candidate), _) => (legacy, candidate, probe_now),
        (legacy_now, candidate_now, noise_probe) => {
            let probe = async {
                match noise_probe {
                    true => Some(observe(&shared.legacy, probe_now).await),
                    false => None,
                }
            };
            tokio::join!(
                observe(&shared.legacy, legacy_now),
                observe(&shared.candidate, candidate_now),
                probe
            )
        }
    };
    finish_record(record, legacy, candidate, probe, shared, diffs).await
}

/// A batch's records whose sides are called together: each side that does
/// not answer at once gets all the batch's requests in one
/// [`Implementation::call_many`] (a worker pool sends them in one message
/// and wakes this task once, when the last answer is in, not once per
/// record), the sides that do answer at once are asked in place while
/// those calls are out, and then each record is finished in turn.
async fn compare_together(items: Vec<SourceItem>, shared: &Shared) -> Vec<Event> {
    let mut records = Vec::with_capacity(items.len());
    let mut events: Vec<Option<Event>> = Vec::with_capacity(items.len());
    for item in items {
        match item {
            SourceItem::Rejected(r) => {
                events.push(Some(Event::Rejected(shared.shown.rejection(r))))
            }
            SourceItem::Record(record) => {
                records.push(record);
                events.push(None);
            }
        }
    }
    let requests: Vec<Request> = records.iter().map(request_of).collect();
    let probe = async {
        match shared.noise_probe {
            true => Some(observe_all(&shared.legacy, &requests, shared).await),
            false => None,
        }
    };
    // The calls that go out are polled first, so they are on their way
    // while the sides that answer at once work.
    let (legacy, candidate, probe) = if shared.legacy.answers_at_once() {
        let (candidate, legacy, probe) = tokio::join!(
            observe_all(&shared.candidate, &requests, shared),
            observe_all(&shared.legacy, &requests, shared),
            probe
        );
        (legacy, candidate, probe)
    } else {
        tokio::join!(
            observe_all(&shared.legacy, &requests, shared),
            observe_all(&shared.candidate, &requests, shared),
            probe
        )
    };
    drop(requests);
    let mut probe = probe.map(Vec::into_iter);
    let mut finished = Vec::with_capacity(records.len());
    for ((record, legacy), candidate) in records.into_iter().zip(legacy).zip(candidate) {
        let probe = probe.as_mut().and_then(Iterator::next);
        let result = finish_record(record, legacy, candidate, probe, shared, &shared.diffs).await;
        finished.push(Event::Compared(Box::new(result)));
    }
    let mut finished = finished.into_iter();
    events
        .into_iter()
        .filter_map(|event| event.or_else(|| finished.next()))
        .collect()
}

/// One side's answers to a batch's requests, in order: asked in place when
/// the side answers at once (one clock reading ends one call's latency and
/// starts the next's), else through one [`Implementation::call_many`].
async fn observe_all(
    target: &Arc<dyn Implementation>,
    requests: &[Request<'_>],
    shared: &Shared,
) -> Vec<Observed> {
    let mut clock = Instant::now();
    if target.answers_at_once() {
        let mut observed = Vec::with_capacity(requests.len());
        for &request in requests {
            if let Some(now) = observe_now(target, request, &mut clock) {
                observed.push(now);
                continue;
            }
            // `answers_at_once` promised otherwise; the call still answers.
            let result = target.call_timed(request).await;
            let now = Instant::now();
            observed.push(observed_of(
                result,
                now.saturating_duration_since(clock),
                shared,
            ));
            clock = now;
        }
        return observed;
    }
    target
        .call_many(requests)
        .await
        .into_iter()
        .map(|ended| {
            observed_of(
                ended.result,
                ended.at.saturating_duration_since(clock),
                shared,
            )
        })
        .collect()
}

/// What a call that took `latency` gives the record; a side that cannot
/// work at all stops the reading (the run is aborted) and the record gets
/// `cutover.target_failed`.
fn observed_of(
    result: Result<crate::sides::Called, SideError>,
    latency: std::time::Duration,
    shared: &Shared,
) -> Observed {
    let (answer, waited) = match result {
        Ok(called) => (called.answer, called.waited),
        Err(e) => {
            let answer = Answer::Error(AppError::new("cutover.target_failed", e.to_string()));
            shared
                .aborted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
            shared.reader_stop.cancel();
            (answer, std::time::Duration::ZERO)
        }
    };
    Observed {
        answer,
        latency,
        waited: waited.min(latency),
    }
}

/// Judges one record whose answers are in, makes its diff when the report
/// may show it, and settles its share of the byte budget.
async fn finish_record(
    mut record: Record,
    legacy: Observed,
    candidate: Observed,
    probe: Option<Observed>,
    shared: &Shared,
    diffs: &Diffs,
) -> RecordResult {
    let probe_bytes = probe.as_ref().map_or(0, |p| answer_bytes(&p.answer));
    let noise =
        probe.map(|second| crate::compare::noise::noisy_paths(&legacy.answer, &second.answer));
    let noisy = noise.as_deref().unwrap_or_default();
    let crate::compare::Judged {
        verdict,
        rule_effects,
        known_used,
    } = crate::compare::judge_under(
        &shared.rules,
        &shared.known,
        record.input.get(),
        &legacy.answer,
        &candidate.answer,
        noisy,
    );
    let drift = match (shared.check_drift, &record.recorded) {
        (true, Some(raw)) => Some(
            shared
                .legacy
                .recorded_answer(raw)
                .is_none_or(|recorded| !judge(&recorded, &legacy.answer).is_clean()),
        ),
        _ => None,
    };
    let contract = shared
        .contract
        .as_ref()
        .and_then(|c| c.check(&record.input, &legacy.answer, &candidate.answer));
    let diff = diffs.of(&verdict, &legacy.answer, &candidate.answer).await;
    // Settled once the diff the report shows is made: it is held too.
    if record.charge.wants_settling() {
        let held = raw_bytes(&record.input)
            + record.recorded.as_deref().map_or(0, raw_bytes)
            + answer_bytes(&legacy.answer)
            + answer_bytes(&candidate.answer)
            + diff.as_ref().map_or(0, String::capacity);
        let peak = held + probe_bytes;
        record.charge.settle(peak as u64, held as u64);
    }
    RecordResult {
        seq: record.seq,
        id: record.id,
        key: record.key,
        origin: record.origin,
        input: shared.shown.of(record.input),
        legacy,
        candidate,
        verdict,
        rule_effects,
        known_used,
        noise,
        drift,
        contract,
        diff,
        charge: record.charge,
    }
}

/// Heap bytes of a JSON text.
fn raw_bytes(raw: &RawValue) -> usize {
    raw.get().len()
}

/// Heap bytes an answer holds, estimated from the shape of its value: what
/// the byte budget settles a record's charge to.
fn answer_bytes(answer: &Answer) -> usize {
    match answer {
        // A text output holds its text until (and unless) its value is read.
        Answer::Output(output) => {
            std::mem::size_of::<Value>()
                + output.value_if_built().map_or(0, value_bytes)
                + output.text().map_or(0, str::len)
        }
        Answer::Error(e) => e.kind.capacity() + e.message.capacity(),
        Answer::Timeout(_) => 0,
    }
}

/// Heap bytes below a JSON value: string buffers, array slots, and map
/// entries (a B-tree entry is a key and a value, with about half again for
/// the nodes' spare room).
fn value_bytes(value: &Value) -> usize {
    const SLOT: usize = std::mem::size_of::<Value>();
    const ENTRY: usize = (std::mem::size_of::<String>() + SLOT) * 3 / 2;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => s.capacity(),
        Value::Array(items) => {
            items.capacity() * SLOT + items.iter().map(value_bytes).sum::<usize>()
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| ENTRY + k.capacity() + value_bytes(v))
            .sum(),
    }
}

/// Compares single records outside a run, exactly as [`run`] compares them
/// (both sides at once, the rules, known differences and noise probe): what
/// `minimize`, `recheck` and the pinned regressions re-run records with.
pub struct Comparer {
    shared: Shared,
}

impl Comparer {
    pub fn new(
        legacy: Arc<dyn Implementation>,
        candidate: Arc<dyn Implementation>,
        rules: crate::compare::RuleSet,
        known: crate::compare::KnownSet,
        noise_probe: bool,
    ) -> Self {
        Comparer {
            shared: Shared::outside_a_run(legacy, candidate, false, rules, known, noise_probe),
        }
    }

    /// Holds both sides to `contract` too, as the run did.
    pub fn with_contract(mut self, contract: Option<Arc<crate::contract::Contract>>) -> Self {
        self.shared.contract = contract;
        self
    }

    /// One record's result, or the error of a side that stopped working.
    pub async fn compare(&self, record: Record) -> Result<RecordResult, SideError> {
        let result = compare_record(record, &self.shared, &self.shared.diffs).await;
        self.shared.failure().map_or(Ok(result), Err)
    }

    /// Releases both targets' processes.
    pub async fn shutdown(&self) {
        tokio::join!(
            self.shared.legacy.shutdown(),
            self.shared.candidate.shutdown()
        );
    }
}

/// Runs one share of a run (a cluster chunk: consecutive items of the
/// run's traffic, rejected lines among them) exactly as [`run`] runs them:
/// the same comparison of each record, drift check and diffs. Each chunk
/// makes the diffs of its own first [`RunPlan::max_diffs`] non-matching
/// records, a superset of those the run's report shows whatever chunk they
/// are in. At most `concurrency` records of a chunk are in flight.
pub struct ChunkRunner {
    shared: Shared,
    concurrency: usize,
    max_diffs: usize,
}

impl ChunkRunner {
    /// A runner with `plan`'s sides, rules and limits (its traffic is not
    /// read: the chunks are given to [`ChunkRunner::run`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        legacy: Arc<dyn Implementation>,
        candidate: Arc<dyn Implementation>,
        check_drift: bool,
        rules: crate::compare::RuleSet,
        known: crate::compare::KnownSet,
        noise_probe: bool,
        concurrency: usize,
        max_diffs: usize,
    ) -> Self {
        ChunkRunner {
            shared: Shared::outside_a_run(
                legacy,
                candidate,
                check_drift,
                rules,
                known,
                noise_probe,
            ),
            concurrency: concurrency.max(1),
            max_diffs,
        }
    }

    /// Holds both sides to `contract` too, as a local run does.
    pub fn with_contract(mut self, contract: Option<Arc<crate::contract::Contract>>) -> Self {
        self.shared.contract = contract;
        self
    }

    /// Shows these request headers `<redacted>` in every result and
    /// rejection, as a local run does ([`RunPlan::redact_headers`]).
    pub fn redacting(mut self, headers: Vec<String>) -> Self {
        self.shared.shown = Shown::new(headers);
        self
    }

    /// The chunk's events, in its order; the error of a side that stopped
    /// working (the chunk then has no result).
    pub async fn run(&self, items: Vec<SourceItem>) -> Result<Vec<Event>, SideError> {
        let diffs = Diffs::new(self.max_diffs);
        let shared = &self.shared;
        let diffs = &diffs;
        let mut ordered = futures::stream::iter(items)
            .map(|item| async move {
                match item {
                    SourceItem::Rejected(r) => Event::Rejected(shared.shown.rejection(r)),
                    SourceItem::Record(record) => {
                        Event::Compared(Box::new(compare_record(record, shared, diffs).await))
                    }
                }
            })
            .buffered(self.concurrency);
        let mut events = Vec::new();
        while let Some(event) = ordered.next().await {
            if let Event::Compared(result) = &event {
                diffs.delivered(result);
            }
            events.push(event);
        }
        drop(ordered);
        shared.failure().map_or(Ok(events), Err)
    }

    /// Releases both sides' processes.
    pub async fn shutdown(&self) {
        tokio::join!(
            self.shared.legacy.shutdown(),
            self.shared.candidate.shutdown()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Side;
    use crate::sides::mock::{MockSide, Reply};
    use crate::sides::{SideOptions, SideSpec};
    use serde_json::{json, Value};
    use std::time::Duration;

    fn builtin(name: &str, side: Side) -> Arc<dyn Implementation> {
        let options = SideOptions {
            timeout: Duration::from_secs(1),
            startup_timeout: Duration::from_secs(1),
            workers: 1,
            retries: 0,
            max_response_bytes: 1 << 20,
            follow_redirects: Vec::new(),
            dir: None,
        };
        crate::sides::build(&SideSpec::Builtin(name.into()), side, &options).unwrap()
    }

    /// A plan over `inputs` (one record each, ids `r0`, `r1`, ...).
    fn plan_of(
        dir: &std::path::Path,
        inputs: &[Value],
        legacy: Arc<dyn Implementation>,
        candidate: Arc<dyn Implementation>,
        concurrency: usize,
        max_diffs: usize,
    ) -> RunPlan {
        let lines: String = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| json!({"id": format!("r{i}"), "input": input}).to_string() + "\n")
            .collect();
        plan_of_lines(dir, &lines, legacy, candidate, concurrency, max_diffs)
    }

    /// A plan over the capture `lines`.
    fn plan_of_lines(
        dir: &std::path::Path,
        lines: &str,
        legacy: Arc<dyn Implementation>,
        candidate: Arc<dyn Implementation>,
        concurrency: usize,
        max_diffs: usize,
    ) -> RunPlan {
        let path = dir.join("t.jsonl");
        std::fs::write(&path, lines).unwrap();
        RunPlan {
            traffic: crate::traffic::open_sources(&[crate::traffic::TrafficSpec::from_arg(
                path.to_str().unwrap(),
                crate::traffic::Format::Auto,
            )])
            .unwrap(),
            read: ReadOptions {
                max_record_bytes: 1 << 20,
                id_column: "id".into(),
                key_column: "key".into(),
                exchanges: false,
            },
            legacy,
            candidate,
            check_drift: false,
            rules: Default::default(),
            known: Default::default(),
            noise_probe: false,
            contract: None,
            concurrency,
            max_inflight_bytes: 64 << 20,
            pace: Pace::Unlimited,
            redact_headers: Vec::new(),
            max_diffs,
        }
    }

    /// Runs `plan` to its end; every event it delivered, in order.
    fn run_plan(plan: RunPlan, stop: CancellationToken) -> (RunEnd, Vec<Event>) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let (tx, mut rx) = mpsc::channel(4);
            let collect = tokio::spawn(async move {
                let mut events = Vec::new();
                while let Some(batch) = rx.recv().await {
                    events.extend(batch);
                }
                events
            });
            let end = run(plan, tx, stop, |_, _| {}).await.unwrap();
            (end, collect.await.unwrap())
        })
    }

    fn results(events: Vec<Event>) -> Vec<RecordResult> {
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::Compared(r) => Some(*r),
                Event::Rejected(_) => None,
            })
            .collect()
    }

    /// Runs the naive port against the faithful one over `inputs` and
    /// returns the results in order.
    fn run_naive(inputs: &[&str], concurrency: usize, max_diffs: usize) -> Vec<RecordResult> {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Value> = inputs.iter().map(|i| json!({"items": [i]})).collect();
        let plan = plan_of(
            dir.path(),
            &inputs,
            builtin("normalize", Side::Legacy),
            builtin("normalize-naive", Side::Candidate),
            concurrency,
            max_diffs,
        );
        results(run_plan(plan, CancellationToken::new()).1)
    }

    /// Latencies that differ from record to record, so that records finish
    /// out of order when several are in flight.
    fn jittery() -> MockSide {
        MockSide::new(|input| {
            let n = input["n"].as_u64().unwrap_or(0);
            Reply::output(input.clone()).after(Duration::from_micros((n * 7919) % 3000))
        })
    }

    #[test]
    fn results_come_in_input_order_at_any_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Value> = (0..300).map(|n| json!({ "n": n })).collect();
        for concurrency in [1, 3, 64, 1000] {
            let plan = plan_of(
                dir.path(),
                &inputs,
                Arc::new(jittery()),
                Arc::new(jittery()),
                concurrency,
                0,
            );
            let (end, events) = run_plan(plan, CancellationToken::new());
            assert!(!end.interrupted && end.aborted.is_none());
            let seqs: Vec<u64> = results(events).iter().map(|r| r.seq).collect();
            assert_eq!(
                seqs,
                (0..300).collect::<Vec<u64>>(),
                "--concurrency {concurrency}"
            );
        }
    }

    #[test]
    fn no_more_records_are_in_flight_than_the_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Value> = (0..400).map(|n| json!({ "n": n })).collect();
        for concurrency in [1, 10, 100] {
            let slow = || {
                MockSide::new(|input| Reply::output(input.clone()).after(Duration::from_millis(2)))
            };
            let (legacy, candidate) = (Arc::new(slow()), Arc::new(slow()));
            let plan = plan_of(
                dir.path(),
                &inputs,
                legacy.clone(),
                candidate.clone(),
                concurrency,
                0,
            );
            run_plan(plan, CancellationToken::new());
            for side in [&legacy, &candidate] {
                assert_eq!(side.calls(), 400);
                assert!(
                    side.max_in_flight() <= concurrency,
                    "{} in flight at --concurrency {concurrency}",
                    side.max_in_flight()
                );
            }
            if concurrency > 1 {
                assert!(legacy.max_in_flight() > 1, "records do run concurrently");
            }
        }
    }

    /// Two builtins compare a batch's records one after another in its
    /// task: the events still come in input order, rejections among them,
    /// at any concurrency, with the diffs of the first non-matching ones.
    #[test]
    fn a_batch_of_builtins_is_compared_in_turn_in_order_with_its_rejections() {
        let dir = tempfile::tempdir().unwrap();
        let sep = "\u{1c}x";
        let mut lines = String::new();
        let mut kinds = Vec::new();
        for n in 0..3000 {
            let kind = n % 7;
            match kind {
                0 => lines.push_str("{not json\n"),
                3 => lines.push_str(
                    &(json!({"id": n.to_string(), "input": {"items": [sep]}}).to_string() + "\n"),
                ),
                _ => lines.push_str(
                    &(json!({"id": n.to_string(), "input": {"items": ["ok"]}}).to_string() + "\n"),
                ),
            }
            kinds.push(kind);
        }
        for concurrency in [1, 8, 1000] {
            let plan = plan_of_lines(
                dir.path(),
                &lines,
                builtin("normalize", Side::Legacy),
                builtin("normalize-naive", Side::Candidate),
                concurrency,
                5,
            );
            let (end, events) = run_plan(plan, CancellationToken::new());
            assert!(!end.interrupted && end.aborted.is_none());
            assert_eq!(events.len(), 3000, "--concurrency {concurrency}");
            // The first five non-matching records have their diffs (others
            // in flight meanwhile may too: see the module docs).
            let mut diffs = Vec::new();
            for (event, kind) in events.iter().zip(&kinds) {
                match (event, kind) {
                    (Event::Rejected(_), 0) => {}
                    (Event::Compared(r), 3) => {
                        assert!(!r.verdict.is_clean(), "{}", r.id);
                        diffs.push(r.diff.is_some());
                    }
                    (Event::Compared(r), _) => assert!(r.verdict.is_clean(), "{}", r.id),
                    _ => panic!("line kind {kind} out of place at --concurrency {concurrency}"),
                }
            }
            assert!(diffs[..5].iter().all(|&d| d), "--concurrency {concurrency}");
            if concurrency == 1 {
                assert!(
                    !diffs[5..].iter().any(|&d| d),
                    "no others at --concurrency 1"
                );
            }
            let seqs: Vec<u64> = results(events).iter().map(|r| r.seq).collect();
            assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        }
    }

    /// A side called through its future gets each batch's requests
    /// together (`call_many`) while the other answers in place: the
    /// rejected lines keep their places, every record its own answers, in
    /// input order, at any concurrency.
    #[test]
    fn a_batch_called_together_keeps_its_rejections_and_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = String::new();
        for n in 0..2000u64 {
            match n % 7 {
                0 => lines.push_str("{not json\n"),
                _ => lines.push_str(
                    &(json!({"id": n.to_string(), "input": {"n": n}}).to_string() + "\n"),
                ),
            }
        }
        for concurrency in [1, 8, 1000] {
            let candidate = Arc::new(MockSide::new(|input| {
                let n = input["n"].as_u64().unwrap_or(0);
                let output = match n % 7 {
                    3 => json!({"n": n, "odd": true}),
                    _ => input.clone(),
                };
                Reply::output(output).after(Duration::from_micros((n * 7919) % 500))
            }));
            let plan = plan_of_lines(
                dir.path(),
                &lines,
                builtin("identity", Side::Legacy),
                candidate.clone(),
                concurrency,
                5,
            );
            let (end, events) = run_plan(plan, CancellationToken::new());
            assert!(!end.interrupted && end.aborted.is_none());
            assert_eq!(events.len(), 2000, "--concurrency {concurrency}");
            for (n, event) in (0u64..).zip(&events) {
                match (event, n % 7) {
                    (Event::Rejected(_), 0) => {}
                    (Event::Compared(r), kind) if kind != 0 => {
                        assert_eq!(r.id, n.to_string(), "--concurrency {concurrency}");
                        assert_eq!(r.verdict.is_clean(), kind != 3, "record {n}");
                    }
                    _ => panic!("line {n} out of place at --concurrency {concurrency}"),
                }
            }
            assert_eq!(candidate.calls(), 2000 - 286, "one call per record");
        }
    }

    /// A builtin is called in place, a mock through its future: any pair
    /// of them, with and without the noise probe, is compared alike, and
    /// the probe asks the legacy a second time either way.
    #[test]
    fn a_side_that_answers_at_once_pairs_with_any_side_with_and_without_the_probe() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Value> = (0..50).map(|n| json!({ "n": n, "s": "x\u{e9}" })).collect();
        for probe in [false, true] {
            for (now_legacy, now_candidate) in [(true, true), (true, false), (false, true)] {
                let mock = Arc::new(MockSide::echo());
                let side = |now: bool, side: Side| -> Arc<dyn Implementation> {
                    match now {
                        true => builtin("identity", side),
                        false => mock.clone(),
                    }
                };
                let mut plan = plan_of(
                    dir.path(),
                    &inputs,
                    side(now_legacy, Side::Legacy),
                    side(now_candidate, Side::Candidate),
                    4,
                    0,
                );
                plan.noise_probe = probe;
                let (end, events) = run_plan(plan, CancellationToken::new());
                let case = format!("probe {probe}, at once {now_legacy}/{now_candidate}");
                assert!(!end.interrupted && end.aborted.is_none(), "{case}");
                let results = results(events);
                assert_eq!(results.len(), 50, "{case}");
                assert!(results.iter().all(|r| r.verdict.is_clean()), "{case}");
                assert!(results.iter().all(|r| r.noise.is_some() == probe), "{case}");
                let legacy_calls = if probe { 100 } else { 50 };
                let mock_calls = match (now_legacy, now_candidate) {
                    (true, true) => 0,
                    (true, false) => 50,
                    _ => legacy_calls,
                };
                assert_eq!(mock.calls(), mock_calls, "{case}");
            }
        }
    }

    #[test]
    fn a_side_that_stops_working_aborts_the_run_and_every_record_read_is_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Value> = (0..5000).map(|n| json!({ "n": n })).collect();
        let broken = MockSide::new(|input| match input["n"].as_u64() {
            Some(100) => Reply::broken("it fell over"),
            _ => Reply::output(input.clone()).after(Duration::from_micros(200)),
        });
        let plan = plan_of(
            dir.path(),
            &inputs,
            Arc::new(MockSide::echo()),
            Arc::new(broken),
            16,
            0,
        );
        let (end, events) = run_plan(plan, CancellationToken::new());
        assert!(matches!(end.aborted, Some(SideError::CannotStart { .. })));
        assert!(!end.interrupted, "an abort is not an interruption");
        let results = results(events);
        let seqs: Vec<u64> = results.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..results.len() as u64).collect::<Vec<u64>>());
        assert!(
            results.len() > 100 && results.len() < 5000,
            "{}",
            results.len()
        );
        let failed = &results[100];
        assert!(matches!(
            &failed.candidate.answer,
            Answer::Error(e) if e.kind == "cutover.target_failed"
        ));
    }

    #[test]
    fn a_stop_ends_the_reading_and_finishes_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Value> = (0..20000).map(|n| json!({ "n": n })).collect();
        let stop = CancellationToken::new();
        let asker = stop.clone();
        let legacy = MockSide::new(move |input| {
            if input["n"].as_u64() == Some(300) {
                asker.cancel();
            }
            Reply::output(input.clone()).after(Duration::from_micros(100))
        });
        let plan = plan_of(
            dir.path(),
            &inputs,
            Arc::new(legacy),
            Arc::new(MockSide::echo()),
            8,
            0,
        );
        let (end, events) = run_plan(plan, stop);
        assert!(end.interrupted && end.aborted.is_none());
        let results = results(events);
        assert!(
            results.len() > 300 && results.len() < 20000,
            "{}",
            results.len()
        );
        let seqs: Vec<u64> = results.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..results.len() as u64).collect::<Vec<u64>>());
        assert!(results.iter().all(|r| r.verdict.is_clean()));
    }

    #[test]
    fn the_engine_makes_the_diffs_the_report_shows_and_no_others() {
        let sep = "\u{1c}x";
        let inputs = ["ok", sep, "ok", sep, sep, "ok"];
        // Runs again and again: a batch started before the one before it
        // was counted as delivered made a diff too many, now and then.
        for _ in 0..30 {
            let results = run_naive(&inputs, 1, 2);
            let diffed: Vec<bool> = results.iter().map(|r| r.diff.is_some()).collect();
            assert_eq!(diffed, [false, true, false, true, false, false]);
        }
        let results = run_naive(&inputs, 1, 2);
        let second = &results[3];
        assert_eq!(
            second.diff.as_deref(),
            Some(
                crate::compare::unified_diff(&second.legacy.answer, &second.candidate.answer)
                    .as_str()
            )
        );
    }

    #[test]
    fn with_many_records_in_flight_every_diff_the_report_shows_is_made() {
        let inputs: Vec<String> = (0..500)
            .map(|i| format!("{}{i}", if i % 3 == 0 { "\u{1c}" } else { "" }))
            .collect();
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let results = run_naive(&inputs, 64, 100);
        let differing: Vec<&RecordResult> =
            results.iter().filter(|r| !r.verdict.is_clean()).collect();
        assert_eq!(differing.len(), 167);
        assert!(differing[..100].iter().all(|r| r.diff.is_some()));
        let extra = differing[100..].iter().filter(|r| r.diff.is_some()).count();
        assert!(
            extra <= 64,
            "at most the records in flight besides: {extra}"
        );
        assert!(results
            .iter()
            .filter(|r| r.verdict.is_clean())
            .all(|r| r.diff.is_none()));
    }
}
