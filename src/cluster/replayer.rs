//! `cutover replayer --cluster URL`: takes part in every open run of the
//! cluster, started before or after their coordinators.
//!
//! # Contract
//! - It looks at the manifests in [`super::BUCKET`] every
//!   [`POLL`]; for each open run it has not joined it builds both sides
//!   from the run's spec, calls each once (a side that cannot work on this
//!   machine stops the replayer with [`ClusterError::Side`], before it
//!   takes a chunk), then pulls the run's chunks from its durable consumer,
//!   [`ReplayerOptions::chunks_in_flight`] at a time.
//! - For each chunk: in-progress acks every third of `ack_wait` while it
//!   runs; the events are published (awaiting each publish ack) before the
//!   chunk is acked (awaiting the server's confirmation), so a result is
//!   never lost: at worst sent twice.
//! - It leaves a run when its manifest says `done` or is gone, or its
//!   consumer is (a run it cannot take part in is said in the log and left;
//!   only a side that cannot work here stops the replayer); it stops when
//!   `stop` is cancelled (chunks in hand are not
//!   acked: they come again to another replayer).

use super::{
    consumer_name, js_err, results_subject, ClusterError, Manifest, H_CHUNK, H_ITEMS, H_PART,
    H_PARTS, PART_BYTES, WORK_STREAM,
};
use crate::engine::ChunkRunner;
use crate::model::{Event, Side};
use crate::report::partial::WireEvent;
use crate::sides::{self, Implementation, Request};
use async_nats::jetstream::{self, consumer::pull, AckKind};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the manifests are looked at.
pub const POLL: Duration = Duration::from_millis(500);

/// A replayer's own settings.
#[derive(Debug, Clone)]
pub struct ReplayerOptions {
    pub url: String,
    /// Chunks of one run this process runs at once.
    pub chunks_in_flight: usize,
}

/// Takes part in the cluster's runs until `stop` (see the module docs).
pub async fn run(options: &ReplayerOptions, stop: CancellationToken) -> Result<(), ClusterError> {
    let url = &options.url;
    let client = super::connect(url, Duration::from_secs(10)).await?;
    let js = jetstream::new(client);
    let mut runs: HashMap<String, (CancellationToken, JoinHandle<Result<(), ClusterError>>)> =
        HashMap::new();
    // Runs joined and left: not joined again.
    let mut left = std::collections::HashSet::new();
    let result = loop {
        if stop.is_cancelled() {
            break Ok(());
        }
        // A run that failed for good (a side that cannot work) stops the
        // replayer: its machine lacks what the run needs.
        let finished: Vec<String> = runs
            .iter()
            .filter(|(_, (_, h))| h.is_finished())
            .map(|(k, _)| k.clone())
            .collect();
        let mut failed = None;
        for key in finished {
            let (_, handle) = runs.remove(&key).expect("listed");
            match handle.await {
                Ok(Err(e @ ClusterError::Side(_))) => failed = Some(e),
                // A run this replayer cannot take part in (its consumer is
                // gone: a coordinator that died): said once, left alone.
                Ok(Err(e)) => {
                    tracing::warn!("leaving run {key}: {e}");
                    left.insert(key);
                }
                _ => {
                    left.insert(key);
                }
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
        match open_runs(&js).await {
            Ok(manifests) => {
                for manifest in manifests {
                    if runs.contains_key(&manifest.token) || left.contains(&manifest.token) {
                        continue;
                    }
                    tracing::info!("joining run {}", manifest.spec.run_id);
                    let token = stop.child_token();
                    let handle = tokio::spawn(take_part(
                        js.clone(),
                        url.clone(),
                        manifest.clone(),
                        options.chunks_in_flight.max(1),
                        token.clone(),
                    ));
                    runs.insert(manifest.token, (token, handle));
                }
            }
            Err(e) => tracing::warn!("cannot read the run manifests: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.cancelled() => {}
        }
    };
    for (_, (token, handle)) in runs {
        token.cancel();
        let _ = handle.await;
    }
    result
}

/// The manifests of open runs (none while the bucket does not exist yet).
async fn open_runs(js: &jetstream::Context) -> Result<Vec<Manifest>, String> {
    let Ok(kv) = js.get_key_value(super::BUCKET).await else {
        return Ok(Vec::new());
    };
    let mut keys = kv.keys().await.map_err(|e| e.to_string())?;
    let mut manifests = Vec::new();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| e.to_string())?;
        if let Some(bytes) = kv.get(&key).await.map_err(|e| e.to_string())? {
            match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(m) if m.state == "open" => manifests.push(m),
                Ok(_) => {}
                Err(e) => tracing::warn!("manifest {key} cannot be read: {e}"),
            }
        }
    }
    Ok(manifests)
}

/// Whether the run is still open.
async fn still_open(js: &jetstream::Context, token: &str) -> bool {
    let Ok(kv) = js.get_key_value(super::BUCKET).await else {
        return false;
    };
    match kv.get(token).await {
        Ok(Some(bytes)) => {
            serde_json::from_slice::<Manifest>(&bytes).is_ok_and(|m| m.state == "open")
        }
        Ok(None) => false,
        // NATS away: keep trying.
        Err(_) => true,
    }
}

/// Calls a side once: a side that cannot work at all on this machine is an
/// error (an answer, even an error answer, is fine).
async fn check_side(side: &Arc<dyn Implementation>) -> Result<(), ClusterError> {
    let input: Arc<serde_json::value::RawValue> =
        serde_json::value::RawValue::from_string("{}".into())
            .expect("JSON text")
            .into();
    side.call(Request {
        input: &input,
        input_check: crate::model::InputCheck::Unchecked,
        recorded: None,
    })
    .await?;
    Ok(())
}

/// One run, until it is done or `stop`.
async fn take_part(
    js: jetstream::Context,
    url: String,
    manifest: Manifest,
    chunks_in_flight: usize,
    stop: CancellationToken,
) -> Result<(), ClusterError> {
    let spec = manifest.spec.clone();
    let options = spec.side_options();
    let legacy = sides::build(&spec.legacy, Side::Legacy, &options)?;
    let candidate = sides::build(&spec.candidate, Side::Candidate, &options)?;
    let checked = async {
        check_side(&legacy).await?;
        check_side(&candidate).await
    }
    .await;
    if let Err(e) = checked {
        tokio::join!(legacy.shutdown(), candidate.shutdown());
        return Err(e);
    }
    let rules = spec.compile_rules().map_err(crate::run::RunError::from)?;
    let known = spec.compile_known().map_err(crate::run::RunError::from)?;
    let contract = spec
        .compile_contract()
        .map_err(crate::run::RunError::from)?
        .map(Arc::new);
    let runner = Arc::new(
        ChunkRunner::new(
            legacy,
            candidate,
            spec.legacy_is_live(),
            rules,
            known,
            spec.noise_probe,
            spec.concurrency,
            spec.max_diffs,
        )
        .with_contract(contract)
        .redacting(spec.redacted_headers()),
    );
    let stream = js
        .get_stream(WORK_STREAM)
        .await
        .map_err(|e| js_err(&url, "the work stream")(e.to_string()))?;
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .get_consumer(&consumer_name(&manifest.token))
        .await
        .map_err(|e| js_err(&url, "the run's consumer")(e.to_string()))?;
    let consumer = Arc::new(consumer);
    let ack_wait = Duration::from_millis(manifest.ack_wait_ms.max(300));
    let workers = (0..chunks_in_flight).map(|_| {
        let (js, consumer, runner, stop, token) = (
            js.clone(),
            consumer.clone(),
            runner.clone(),
            stop.clone(),
            manifest.token.clone(),
        );
        tokio::spawn(async move { pull_loop(js, consumer, runner, stop, token, ack_wait).await })
    });
    let outcomes = futures::future::join_all(workers).await;
    runner.shutdown().await;
    for outcome in outcomes {
        if let Ok(Err(e)) = outcome {
            return Err(e);
        }
    }
    Ok(())
}

async fn pull_loop(
    js: jetstream::Context,
    consumer: Arc<jetstream::consumer::Consumer<pull::Config>>,
    runner: Arc<ChunkRunner>,
    stop: CancellationToken,
    token: String,
    ack_wait: Duration,
) -> Result<(), ClusterError> {
    let mut idle = 0u32;
    loop {
        if stop.is_cancelled() {
            return Ok(());
        }
        let batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(1))
            .messages()
            .await;
        let mut got = false;
        match batch {
            Ok(mut messages) => {
                while let Some(message) = tokio::select! {
                    m = messages.next() => m,
                    _ = stop.cancelled() => None,
                } {
                    match message {
                        Ok(message) => {
                            got = true;
                            handle(&js, &runner, &token, message, ack_wait).await?;
                        }
                        Err(e) => tracing::debug!("fetch: {e}"),
                    }
                }
            }
            Err(e) => {
                tracing::debug!("fetch: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if got {
            idle = 0;
        } else {
            idle += 1;
            // Every few idle seconds: is the run over?
            if idle.is_multiple_of(3) && !still_open(&js, &token).await {
                return Ok(());
            }
        }
    }
}

/// One chunk: run, publish its result, ack.
async fn handle(
    js: &jetstream::Context,
    runner: &ChunkRunner,
    token: &str,
    message: jetstream::Message,
    ack_wait: Duration,
) -> Result<(), ClusterError> {
    let (message, acker) = message.split();
    let acker = Arc::new(acker);
    let chunk = super::header_u64(message.headers.as_ref(), H_CHUNK);
    let items = match (chunk, super::WireItem::parse_chunk(&message.payload)) {
        (Some(_), Ok(items)) => items,
        (_, Err(e)) => {
            tracing::warn!("chunk {chunk:?} of run {token} cannot be read ({e}); terminated");
            let _ = acker.ack_with(AckKind::Term).await;
            return Ok(());
        }
        (None, _) => {
            tracing::warn!("a message of run {token} without a chunk number; terminated");
            let _ = acker.ack_with(AckKind::Term).await;
            return Ok(());
        }
    };
    let chunk = chunk.expect("checked");
    let ticker = {
        let acker = acker.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ack_wait / 3);
            every.tick().await;
            loop {
                every.tick().await;
                let _ = acker.ack_with(AckKind::Progress).await;
            }
        })
    };
    let ran = runner.run(items).await;
    let events = match ran {
        Ok(events) => events,
        Err(e) => {
            ticker.abort();
            let _ = acker.ack_with(AckKind::Nak(None)).await;
            return Err(e.into());
        }
    };
    let published = publish_result(js, token, chunk, &events).await;
    tracing::debug!("chunk {chunk} of run {token}: result published: {published:?}");
    ticker.abort();
    match published {
        Ok(()) => {
            if let Err(e) = acker.double_ack_with(AckKind::Ack).await {
                tracing::warn!("chunk {chunk} of run {token}: ack not confirmed ({e}); it may come again, and is then counted once");
            }
        }
        Err(e) => {
            tracing::warn!(
                "chunk {chunk} of run {token}: result not published ({e}); it comes again"
            );
            let _ = acker.ack_with(AckKind::Nak(None)).await;
        }
    }
    Ok(())
}

/// Publishes a chunk's events in parts of at most [`PART_BYTES`], awaiting
/// each ack.
async fn publish_result(
    js: &jetstream::Context,
    token: &str,
    chunk: u64,
    events: &[Event],
) -> Result<(), String> {
    let mut parts: Vec<(Vec<u8>, u64)> = vec![(Vec::new(), 0)];
    for event in events {
        let line = WireEvent::line_of(event);
        let last = parts.last_mut().expect("one part");
        if !last.0.is_empty() && last.0.len() + line.len() + 1 > PART_BYTES {
            parts.push((Vec::new(), 0));
        }
        let last = parts.last_mut().expect("one part");
        last.0.extend_from_slice(line.as_bytes());
        last.0.push(b'\n');
        last.1 += 1;
    }
    let total = parts.len();
    let subject = results_subject(token);
    for (i, (body, items)) in parts.into_iter().enumerate() {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(H_CHUNK, chunk.to_string().as_str());
        headers.insert(H_PART, i.to_string().as_str());
        headers.insert(H_PARTS, total.to_string().as_str());
        headers.insert(H_ITEMS, items.to_string().as_str());
        let ack = js
            .publish_with_headers(subject.clone(), headers, body.into())
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
