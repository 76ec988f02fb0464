//! `cutover replay --cluster URL`: one run's capture published as chunks,
//! its results collected and merged into the run directory a local replay
//! would write.
//!
//! # Contract
//! - Checks before anything is published what a local replay checks (the
//!   sources open, the report directory is free and locked, the rules
//!   compile), then that NATS answers (bounded by
//!   [`ClusterOptions::wait`]).
//! - Memory is bounded whatever the capture's size: the capture is read as
//!   a stream; at most [`ClusterOptions::window`] chunks are out (published,
//!   no result yet); results are spilled to sorted partial files of at most
//!   [`SPILL_BYTES`] each and merged at the end by `seq`
//!   ([`crate::report::merge`], a k-way merge).
//! - The run ends `complete` when every chunk of the manifest has a result
//!   (cross-checked against the consumer's pending counts, kept in
//!   `merge.consumer_pending`); `incomplete` when some chunk reached
//!   `max_deliver` (the server's advisory names it); `interrupted` after
//!   `stop` (publishing stops, the results of chunks already out are waited
//!   for up to [`GRACE`], then the report of what came back is written);
//!   `aborted` when NATS stays unreachable longer than `wait`. Every one
//!   writes a consistent report; chunks without a result are listed in
//!   `merge.missing_chunks` with the reason.
//! - At the end the run's consumer is deleted, its subjects purged and its
//!   manifest marked `done`, so replayers leave it.

use super::{
    consumer_name, js_err, results_subject, token, work_subject, ClusterError, ClusterOptions,
    Manifest, WireItem, BUCKET, CHUNK_BYTES, H_CHUNK, H_ITEMS, H_PART, H_PARTS, RESULTS_STREAM,
    WORK_STREAM,
};
use crate::model::{Budget, RunState, Stop};
use crate::report::merge::{MergePlan, MergeReport, MissingChunk};
use crate::report::partial::PartialWriter;
use crate::report::rollout::RolloutTally;
use crate::report::{RunLock, RunStatus};
use crate::run::{Observer, RunError, RunOutcome};
use crate::spec::RunSpec;
use crate::traffic::{self, SourceItem};
use async_nats::jetstream::{self, consumer::pull, stream};
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Result bytes held in memory before they are spilled to a partial file.
pub const SPILL_BYTES: usize = 8 << 20;
/// After a stop, how long the results of chunks already out are waited for.
pub const GRACE: Duration = Duration::from_secs(5);
/// How long the end of a run may spend cleaning up on NATS.
pub const CLEANUP: Duration = Duration::from_secs(3);
/// The directory under the run directory where results are spilled (gone
/// once the merge is written).
pub const SPILL_DIR: &str = ".partials";
/// Records the reader hands over at once (each then joins the queue of
/// chunk lines on its own).
pub const READ_BATCH: usize = 64;

/// A chunk out (published, no result yet).
struct Out {
    first_seq: u64,
    last_seq: u64,
    items: u64,
    /// Its sequence in the work stream (the advisory names it by that).
    stream_seq: u64,
    /// Result parts come back so far (by part number).
    parts: Vec<bool>,
}

/// Results kept in memory until spilled, each a seq-ascending run of
/// lines; sorted by (chunk, part) they ascend by seq.
struct Spill {
    dir: PathBuf,
    spec: RunSpec,
    held: Vec<(u64, u64, Bytes, u64)>,
    bytes: usize,
    written: Vec<PathBuf>,
}

impl Spill {
    fn add(&mut self, chunk: u64, part: u64, body: Bytes, items: u64) -> Result<(), ClusterError> {
        self.bytes += body.len();
        self.held.push((chunk, part, body, items));
        if self.bytes >= SPILL_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ClusterError> {
        if self.held.is_empty() && !self.written.is_empty() {
            return Ok(());
        }
        self.held.sort_by_key(|(c, p, _, _)| (*c, *p));
        let dir = self.dir.join(format!("{:06}", self.written.len()));
        let mut writer = PartialWriter::create(&dir, &self.spec)?;
        for (_, _, body, items) in self.held.drain(..) {
            writer.write_lines(&body, items)?;
        }
        self.bytes = 0;
        self.written
            .push(writer.finish(status(RunState::Complete, None))?);
        Ok(())
    }
}

fn status(state: RunState, abort_reason: Option<String>) -> RunStatus {
    RunStatus {
        state,
        abort_reason,
        signal: None,
        legacy_target: Default::default(),
        candidate_target: Default::default(),
        pace: None,
    }
}

/// Runs `spec` over the cluster at `cluster.url` (see the module docs).
pub async fn run(
    spec: &RunSpec,
    cluster: &ClusterOptions,
    stop: &Stop,
    mut observer: impl Observer,
) -> Result<RunOutcome, ClusterError> {
    let url = cluster.url.as_str();
    let sources = traffic::open_sources(&spec.traffic).map_err(RunError::from)?;
    let lock = RunLock::acquire(&spec.out).map_err(RunError::from)?;
    spec.compile_rules().map_err(RunError::from)?;
    spec.compile_known().map_err(RunError::from)?;
    let dir = lock.dir().to_owned();
    let client = super::connect(url, cluster.wait).await?;
    let js = jetstream::new(client.clone());
    let token = token(&spec.run_id);
    let (work, results) = streams(&js, url).await?;
    let kv = bucket(&js, url).await?;
    let consumer = consumer_name(&token);
    let _ = work.delete_consumer(&consumer).await;
    let _ = work.purge().filter(work_subject(&token)).await;
    let _ = results.purge().filter(results_subject(&token)).await;
    work.create_consumer(pull::Config {
        durable_name: Some(consumer.clone()),
        filter_subject: work_subject(&token),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: cluster.ack_wait,
        max_deliver: cluster.max_deliver,
        max_ack_pending: cluster.window as i64,
        ..Default::default()
    })
    .await
    .map_err(|e| js_err(url, "the run's work consumer")(e.to_string()))?;
    // A durable consumer, pulled in short fetches: it outlives a restart
    // of the server, where an ordered consumer takes a minute to recover.
    let results_consumer = format!("results-{token}");
    let _ = results.delete_consumer(&results_consumer).await;
    let pull_results = results
        .create_consumer(pull::Config {
            durable_name: Some(results_consumer.clone()),
            filter_subject: results_subject(&token),
            ack_policy: jetstream::consumer::AckPolicy::None,
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| js_err(url, "the run's result consumer")(e.to_string()))?;
    let (results_tx, mut result_messages) = tokio::sync::mpsc::channel::<jetstream::Message>(64);
    let fetcher = tokio::spawn(async move {
        loop {
            let batch = pull_results
                .fetch()
                .max_messages(64)
                .expires(Duration::from_millis(500))
                .messages()
                .await;
            match batch {
                Ok(mut messages) => {
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(m) => {
                                if results_tx.send(m).await.is_err() {
                                    return;
                                }
                            }
                            Err(e) => tracing::debug!("results: {e}"),
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!("results: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            if results_tx.is_closed() {
                return;
            }
        }
    });
    let mut advisories = client
        .subscribe(format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{WORK_STREAM}.{consumer}"
        ))
        .await
        .map_err(|e| js_err(url, "the max-deliveries advisory")(e.to_string()))?;
    let mut manifest = Manifest {
        token: token.clone(),
        spec: spec.clone(),
        state: "open".into(),
        chunks: None,
        capture_digest: None,
        ack_wait_ms: cluster.ack_wait.as_millis() as u64,
    };
    claim_manifest(&kv, &manifest, url).await?;

    let rollout = match &spec.flags {
        Some(settings) => Some(RolloutTally::open(settings).await),
        None => None,
    };
    observer.started(traffic::total_bytes(&sources));
    let reader_stop = stop.token().child_token();
    let mut reader = traffic::spawn_reader(
        sources,
        spec.read.clone(),
        2,
        READ_BATCH,
        reader_stop.clone(),
        Budget::new(spec.max_inflight_bytes),
    );
    let progress = reader.progress.clone();
    let mut spill = Spill {
        dir: dir.join(SPILL_DIR),
        spec: spec.clone(),
        held: Vec::new(),
        bytes: 0,
        written: Vec::new(),
    };
    let subject = work_subject(&token);
    let mut digest = Sha256::new();
    let mut out: HashMap<u64, Out> = HashMap::new();
    let mut by_stream_seq: HashMap<u64, u64> = HashMap::new();
    let mut done: Vec<bool> = Vec::new();
    let mut missing: Vec<MissingChunk> = Vec::new();
    let mut duplicates = 0u64;
    let mut records_done = 0u64;
    let mut chunk = 0u64;
    // Items read and not yet published, as chunk lines: (seq, line).
    let mut pending: VecDeque<(u64, String)> = VecDeque::new();
    let mut pending_bytes = 0usize;
    let mut reading = true;
    let mut interrupted = false;
    let mut aborted: Option<String> = None;
    let mut stopped_at: Option<Instant> = None;
    let mut disconnected_since: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(250));

    loop {
        // Publish full chunks while the window allows.
        let full = pending.len() >= cluster.chunk_records
            || pending_bytes >= CHUNK_BYTES
            || (!reading && !pending.is_empty());
        if full && out.len() < cluster.window && aborted.is_none() && !interrupted {
            let (body, first_seq, last_seq, items) =
                cut_chunk(&mut pending, &mut pending_bytes, cluster.chunk_records);
            digest.update(&body);
            match publish(&js, &subject, &token, chunk, &body, items, cluster.wait).await {
                Ok(stream_seq) => {
                    by_stream_seq.insert(stream_seq, chunk);
                    out.insert(
                        chunk,
                        Out {
                            first_seq,
                            last_seq,
                            items: last_seq - first_seq + 1,
                            stream_seq,
                            parts: Vec::new(),
                        },
                    );
                    done.push(false);
                    chunk += 1;
                }
                Err(e) => {
                    aborted = Some(e);
                    reader_stop.cancel();
                }
            }
            continue;
        }
        let all_back = out.is_empty() && pending.is_empty();
        if !reading && all_back {
            break;
        }
        if (interrupted || aborted.is_some()) && (out.is_empty() || grace_over(stopped_at)) {
            break;
        }
        let can_read = reading && !full && aborted.is_none() && !interrupted;
        tokio::select! {
            batch = reader.items.recv(), if can_read => match batch {
                Some(items) => {
                    // Each item becomes its chunk line at once (its share
                    // of the byte budget is released as it is dropped).
                    for item in items {
                        let line = WireItem::line_of(&item);
                        pending_bytes += line.len() + 1;
                        pending.push_back((seq_of(&item), line));
                    }
                }
                None => {
                    reading = false;
                    if stop.token().is_cancelled() {
                        interrupted = true;
                        stopped_at = Some(Instant::now());
                    }
                }
            },
            message = result_messages.recv() => match message {
                Some(message) => {
                    let headers = message.headers.as_ref();
                    let (Some(c), Some(part), Some(parts), Some(items)) = (
                        super::header_u64(headers, H_CHUNK),
                        super::header_u64(headers, H_PART),
                        super::header_u64(headers, H_PARTS),
                        super::header_u64(headers, H_ITEMS),
                    ) else {
                        tracing::warn!("a result without its chunk headers: ignored");
                        continue;
                    };
                    tracing::debug!("result of chunk {c} part {part}/{parts}: {items} items");
                    if done.get(c as usize).copied().unwrap_or(false) {
                        duplicates += items;
                        continue;
                    }
                    let Some(entry) = out.get_mut(&c) else {
                        // A result for a chunk given up (missing): counted
                        // as a duplicate of nothing, kept out.
                        duplicates += items;
                        continue;
                    };
                    if entry.parts.is_empty() {
                        entry.parts = vec![false; parts.max(1) as usize];
                    }
                    let slot = entry.parts.get_mut(part as usize);
                    match slot {
                        Some(seen) if !*seen => {
                            *seen = true;
                            spill.add(c, part, message.payload.clone(), items)?;
                            for _ in 0..items {
                                records_done += 1;
                                observer.progress(&progress, records_done);
                            }
                        }
                        _ => {
                            duplicates += items;
                            continue;
                        }
                    }
                    if entry.parts.iter().all(|p| *p) {
                        let entry = out.remove(&c).expect("present");
                        by_stream_seq.remove(&entry.stream_seq);
                        done[c as usize] = true;
                    }
                }
                None => {
                    aborted = Some(format!("the results from NATS at {url} ended"));
                }
            },
            advisory = advisories.next() => {
                if let Some(advisory) = advisory {
                    let stream_seq = serde_json::from_slice::<serde_json::Value>(&advisory.payload)
                        .ok()
                        .and_then(|v| v.get("stream_seq").and_then(|s| s.as_u64()));
                    if let Some(c) = stream_seq.and_then(|s| by_stream_seq.remove(&s)) {
                        if let Some(entry) = out.remove(&c) {
                            missing.push(MissingChunk {
                                chunk: c,
                                first_seq: entry.first_seq,
                                last_seq: entry.last_seq,
                                items: entry.items,
                                reason: format!(
                                    "delivered {} times (max_deliver) without a result: every replayer that took it failed on it",
                                    cluster.max_deliver
                                ),
                            });
                        }
                    }
                }
            },
            _ = stop.token().cancelled(), if !interrupted => {
                interrupted = true;
                stopped_at = Some(Instant::now());
                reader_stop.cancel();
            },
            _ = tick.tick() => {
                let connected = client.connection_state() == async_nats::connection::State::Connected;
                match (connected, disconnected_since) {
                    (true, _) => disconnected_since = None,
                    (false, None) => disconnected_since = Some(Instant::now()),
                    (false, Some(since)) if since.elapsed() > cluster.wait && aborted.is_none() => {
                        aborted = Some(format!(
                            "NATS at {url} was unreachable for {}; the run stopped with what came back",
                            humantime::format_duration(cluster.wait)
                        ));
                        stopped_at = Some(Instant::now());
                        reader_stop.cancel();
                    }
                    _ => {}
                }
            },
        }
    }
    observer.finished();
    drop(result_messages);
    fetcher.abort();
    drop(reader.items);
    let _ = reader.done.await;

    // Whatever did not come back is said, with why.
    let reason_left = if aborted.is_some() {
        "NATS was unreachable before its result came back"
    } else {
        "the run was interrupted before its result came back"
    };
    let mut left: Vec<_> = out.into_iter().collect();
    left.sort_by_key(|(c, _)| *c);
    for (c, entry) in left {
        missing.push(MissingChunk {
            chunk: c,
            first_seq: entry.first_seq,
            last_seq: entry.last_seq,
            items: entry.items,
            reason: reason_left.into(),
        });
    }
    missing.sort_by_key(|m| m.chunk);

    let consumer_pending = if aborted.is_none() {
        cross_check(&work, &consumer).await
    } else {
        None
    };
    manifest.chunks = Some(chunk);
    manifest.capture_digest = Some(format!("sha256:{:x}", digest.finalize()));
    manifest.state = "done".into();
    // Bounded: with NATS gone, the report is written all the same.
    let cleanup = async {
        if let Err(e) = put_manifest(&kv, &manifest, url).await {
            tracing::warn!("{e}");
        }
        let _ = work.delete_consumer(&consumer).await;
        let _ = results.delete_consumer(&results_consumer).await;
        let _ = work.purge().filter(work_subject(&token)).await;
        let _ = results.purge().filter(results_subject(&token)).await;
    };
    if tokio::time::timeout(CLEANUP, cleanup).await.is_err() {
        tracing::warn!("NATS at {url}: the run's consumer and subjects could not be cleaned up within {CLEANUP:?}");
    }

    spill.flush()?;
    let state = if aborted.is_some() {
        RunState::Aborted
    } else if interrupted {
        RunState::Interrupted
    } else if !missing.is_empty() {
        RunState::Incomplete
    } else {
        RunState::Complete
    };
    let mut run_status = status(state, aborted.clone());
    if state == RunState::Interrupted {
        run_status.signal = stop.signal();
    }
    if state == RunState::Incomplete {
        run_status.abort_reason = Some(format!(
            "{} of {chunk} chunks never came back: see merge.missing_chunks",
            missing.len()
        ));
    }
    let plan = MergePlan {
        status: Some(run_status),
        report: MergeReport {
            partials: 0,
            redelivered_duplicates: duplicates,
            chunks: Some(chunk),
            missing_chunks: missing,
            consumer_pending,
        },
        rollout,
        lock: Some(lock),
    };
    let partials = spill.written.clone();
    let summary = tokio::task::spawn_blocking(move || {
        let dir = spill.dir.clone();
        let merged = crate::report::merge::merge(&partials, &spill_parent(&dir), plan);
        let _ = std::fs::remove_dir_all(&dir);
        merged
    })
    .await
    .map_err(|e| ClusterError::Chunk(format!("the merge task failed: {e}")))??;
    Ok(RunOutcome { summary, dir })
}

fn spill_parent(spill: &Path) -> PathBuf {
    spill
        .parent()
        .expect("the spill dir is in the run dir")
        .to_owned()
}

fn grace_over(stopped_at: Option<Instant>) -> bool {
    stopped_at.is_some_and(|t| t.elapsed() > GRACE)
}

fn seq_of(item: &SourceItem) -> u64 {
    match item {
        SourceItem::Record(r) => r.seq,
        SourceItem::Rejected(r) => r.seq,
    }
}

/// The next chunk from the front of `pending`: at most `max` items and
/// [`CHUNK_BYTES`] (but at least one item); its body, first and last seq
/// and item count.
fn cut_chunk(
    pending: &mut VecDeque<(u64, String)>,
    pending_bytes: &mut usize,
    max: usize,
) -> (Bytes, u64, u64, usize) {
    let mut body = Vec::new();
    let (mut first, mut last, mut items) = (0, 0, 0);
    while let Some((seq, line)) = pending.front() {
        if items > 0 && (items >= max.max(1) || body.len() + line.len() + 1 > CHUNK_BYTES) {
            break;
        }
        if items == 0 {
            first = *seq;
        }
        last = *seq;
        body.extend_from_slice(line.as_bytes());
        body.push(b'\n');
        *pending_bytes -= line.len() + 1;
        items += 1;
        pending.pop_front();
    }
    (Bytes::from(body), first, last, items)
}

/// The work and results streams, made when missing.
async fn streams(
    js: &jetstream::Context,
    url: &str,
) -> Result<(jetstream::stream::Stream, jetstream::stream::Stream), ClusterError> {
    let work = js
        .get_or_create_stream(stream::Config {
            name: WORK_STREAM.into(),
            subjects: vec!["cutover.work.*".into()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(|e| js_err(url, "the work stream")(e.to_string()))?;
    let results = js
        .get_or_create_stream(stream::Config {
            name: RESULTS_STREAM.into(),
            subjects: vec!["cutover.results.*".into()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(24 * 3600),
            ..Default::default()
        })
        .await
        .map_err(|e| js_err(url, "the results stream")(e.to_string()))?;
    Ok((work, results))
}

/// The manifest bucket, made when missing. Its stream is made here, as
/// the client's `create_key_value` would make it: that call first asks for
/// the account's info, whose answer from nats-server 2.9 async-nats 0.51
/// cannot read.
async fn bucket(js: &jetstream::Context, url: &str) -> Result<jetstream::kv::Store, ClusterError> {
    if let Ok(kv) = js.get_key_value(BUCKET).await {
        return Ok(kv);
    }
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{BUCKET}"),
        subjects: vec![format!("$KV.{BUCKET}.>")],
        max_messages_per_subject: 1,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .map_err(|e| js_err(url, "the manifest bucket")(e.to_string()))?;
    js.get_key_value(BUCKET)
        .await
        .map_err(|e| js_err(url, "the manifest bucket")(e.to_string()))
}

/// Writes a new run's manifest; refuses when a run with the same id is
/// open on the cluster (two runs never share subjects).
async fn claim_manifest(
    kv: &jetstream::kv::Store,
    manifest: &Manifest,
    url: &str,
) -> Result<(), ClusterError> {
    let bytes = serde_json::to_vec(manifest).expect("serialisable");
    if kv.create(&manifest.token, bytes.into()).await.is_ok() {
        return Ok(());
    }
    let open = kv
        .get(&manifest.token)
        .await
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .is_some_and(|m| m.state == "open");
    if open {
        return Err(ClusterError::Chunk(format!(
            "a run with id {} is already open on the cluster at {url}: give this one another id (start it again)",
            manifest.spec.run_id
        )));
    }
    put_manifest(kv, manifest, url).await
}

async fn put_manifest(
    kv: &jetstream::kv::Store,
    manifest: &Manifest,
    url: &str,
) -> Result<(), ClusterError> {
    let bytes = serde_json::to_vec(manifest).expect("serialisable");
    kv.put(&manifest.token, bytes.into())
        .await
        .map_err(|e| js_err(url, "the run's manifest")(e.to_string()))?;
    Ok(())
}

/// Publishes one chunk (deduplicated by `Nats-Msg-Id: <run>/<chunk>`),
/// retrying while NATS is away, for `wait` at most; its stream sequence.
async fn publish(
    js: &jetstream::Context,
    subject: &str,
    token: &str,
    chunk: u64,
    body: &Bytes,
    items: usize,
    wait: Duration,
) -> Result<u64, String> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("{token}/{chunk}").as_str(),
        );
        headers.insert(H_CHUNK, chunk.to_string().as_str());
        headers.insert(H_ITEMS, items.to_string().as_str());
        let attempt = async {
            js.publish_with_headers(subject.to_owned(), headers, body.clone())
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(ack) => return Ok(ack.sequence),
            Err(e) if started.elapsed() < wait => {
                tracing::warn!("chunk {chunk}: publish failed ({e}); retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                return Err(format!(
                    "chunk {chunk} could not be published for {}: {e}",
                    humantime::format_duration(wait)
                ))
            }
        }
    }
}

/// The consumer's pending and ack-pending counts once the acks that follow
/// the last results are in (waited for briefly).
async fn cross_check(work: &jetstream::stream::Stream, consumer: &str) -> Option<(u64, u64)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = work
            .get_consumer::<pull::Config>(consumer)
            .await
            .ok()?
            .info()
            .await
            .ok()
            .map(|i| (i.num_pending, i.num_ack_pending as u64));
        match info {
            Some((0, 0)) | None => return info,
            Some(counts) if Instant::now() > deadline => return Some(counts),
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
