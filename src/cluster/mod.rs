//! Replay beyond one machine: one run's capture shared out over any number
//! of `cutover replayer` processes through NATS JetStream, and merged back
//! into one report identical to a local replay's.
//!
//! # Contract
//! - The coordinator ([`coordinator::run`], `cutover replay --cluster URL`)
//!   writes the run's [`Manifest`] to the KV bucket [`BUCKET`] (key: the
//!   run's [`token`]): the [`RunSpec`], then, once the capture is read, its
//!   digest and chunk count. It publishes the capture as chunks of at most
//!   [`ClusterOptions::chunk_records`] items (and at most
//!   [`CHUNK_BYTES`]) to the work-queue stream [`WORK_STREAM`] on the
//!   run's own subject `cutover.work.<token>`, each item with its global
//!   `seq`, each chunk with `Nats-Msg-Id: <run>/<chunk>` (a republish is
//!   deduplicated by the server).
//! - Each run has its own durable pull consumer `work-<token>` filtered on
//!   its subject (a work-queue stream refuses a second unfiltered
//!   consumer: error 10099), with explicit acks, `ack_wait`, `max_deliver`
//!   and `max_ack_pending`: two runs never share a subject, a consumer or
//!   a result.
//! - A replayer ([`replayer::run`]) runs a chunk through both sides with the
//!   run's spec ([`crate::engine::ChunkRunner`]: the comparison a local
//!   replay makes), publishes its events ([`crate::report::partial`] lines)
//!   to [`RESULTS_STREAM`] on `cutover.results.<token>` in parts of at most
//!   [`PART_BYTES`], awaiting each publish ack, and only then acks the
//!   chunk (with in-progress acks while it runs). Delivery is at least
//!   once; a chunk whose replayer died comes again after `ack_wait`.
//! - The coordinator spills results to sorted partial files (bounded
//!   memory) and merges them with [`crate::report::merge`]: accounting is
//!   exactly once (a chunk's second result is counted as
//!   `redelivered_duplicates`, never twice in the counts).
//! - A chunk that reaches `max_deliver` (the server's advisory) makes the
//!   run `incomplete` (exit 1), its chunks and reason in `summary.json`'s
//!   `merge.missing_chunks`, never silently short.
//!
//! # Non-goals
//! Sides are not shipped: every replayer machine must have what both sides'
//! command lines name (checked when a replayer takes a run, by calling both
//! sides once). No TLS or credentials handling beyond what the URL says
//! (a URL's userinfo is never printed).
//!
//! Names [`crate::run`] (its `Observer`), [`crate::report`],
//! [`crate::engine`], [`crate::spec`] and what they name; prints nothing.

pub mod coordinator;
pub mod replayer;

use crate::model::{Charge, Origin, Record};
use crate::report::partial::WireRejection;
use crate::spec::RunSpec;
use crate::traffic::SourceItem;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The work-queue stream every run's chunks go to.
pub const WORK_STREAM: &str = "CUTOVER_WORK";
/// The stream every run's results go to.
pub const RESULTS_STREAM: &str = "CUTOVER_RESULTS";
/// The KV bucket of run manifests.
pub const BUCKET: &str = "cutover-runs";
/// A chunk's body at most, well under NATS's default `max_payload` (1 MiB).
pub const CHUNK_BYTES: usize = 512 << 10;
/// One result message's body at most.
pub const PART_BYTES: usize = 768 << 10;

/// Chunks out at once (published, no result yet), and the consumer's
/// `max_ack_pending`.
pub const WINDOW: usize = 256;

/// Header names.
pub const H_CHUNK: &str = "Cutover-Chunk";
pub const H_ITEMS: &str = "Cutover-Items";
pub const H_PART: &str = "Cutover-Part";
pub const H_PARTS: &str = "Cutover-Parts";

/// How a cluster run shares its work out (not part of what it compares, so
/// not in the [`RunSpec`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterOptions {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// Items per chunk at most.
    pub chunk_records: usize,
    /// How long a replayer may hold a chunk without an ack or an
    /// in-progress ack before the server delivers it again.
    pub ack_wait: Duration,
    /// Deliveries of one chunk at most; then the run is `incomplete`.
    pub max_deliver: i64,
    /// Chunks published and not yet back at most (the publish window).
    pub window: usize,
    /// How long the coordinator waits for NATS, or for any result, before
    /// it stops the run with an error.
    pub wait: Duration,
}

/// `cutover-runs/<token>`: what every replayer needs to take part in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub token: String,
    pub spec: RunSpec,
    /// `open` while the run takes results, `done` after.
    pub state: String,
    /// Known once the capture is read.
    pub chunks: Option<u64>,
    /// SHA-256 of the chunk bodies, in order: the capture as published.
    pub capture_digest: Option<String>,
    pub ack_wait_ms: u64,
}

/// Why a cluster run or a replayer could not work.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot reach NATS at {url}: {cause}. Start nats-server with JetStream (nats-server -js) there, or give another --cluster URL")]
    Connect { url: String, cause: String },
    #[error("NATS JetStream at {url}: {what}: {cause}")]
    JetStream {
        url: String,
        what: String,
        cause: String,
    },
    #[error("{0}")]
    Chunk(String),
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    #[error(transparent)]
    Merge(#[from] crate::report::merge::MergeError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Side(#[from] crate::sides::SideError),
}

/// The subject-safe name of a run: its id with every character NATS does
/// not allow in a token replaced, and a digest of the id, so two ids never
/// share one.
pub fn token(run_id: &str) -> String {
    let safe: String = run_id
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            _ => '_',
        })
        .take(64)
        .collect();
    let digest = Sha256::digest(run_id.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{safe}-{hex}")
}

pub fn work_subject(token: &str) -> String {
    format!("cutover.work.{token}")
}

pub fn results_subject(token: &str) -> String {
    format!("cutover.results.{token}")
}

pub fn consumer_name(token: &str) -> String {
    format!("work-{token}")
}

/// Connects to `url`, within `timeout`.
pub async fn connect(url: &str, timeout: Duration) -> Result<async_nats::Client, ClusterError> {
    crate::util::redact::register_url(url);
    let options = async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        .max_reconnects(None);
    tokio::time::timeout(timeout, options.connect(url))
        .await
        .map_err(|_| ClusterError::Connect {
            url: url.to_owned(),
            cause: format!("no answer within {timeout:?}"),
        })?
        .map_err(|e| ClusterError::Connect {
            url: url.to_owned(),
            cause: e.to_string(),
        })
}

/// A JetStream error, with where and what.
pub(crate) fn js_err(url: &str, what: &str) -> impl FnOnce(String) -> ClusterError {
    let (url, what) = (url.to_owned(), what.to_owned());
    move |cause| ClusterError::JetStream { url, what, cause }
}

/// One item of a chunk's body (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireItem {
    Record(WireRecord),
    Rejected(WireRejection),
}

/// A [`Record`] as a chunk line.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireRecord {
    pub seq: u64,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub source: String,
    pub line: u64,
    pub input: Box<RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Box<RawValue>>,
}

impl WireItem {
    /// The line of one item read from the capture.
    pub fn line_of(item: &SourceItem) -> String {
        let wire = match item {
            SourceItem::Record(r) => WireItem::Record(WireRecord {
                seq: r.seq,
                id: r.id.clone(),
                key: r.key.clone(),
                source: r.origin.source.to_string(),
                line: r.origin.line,
                input: RawValue::from_string(r.input.get().to_owned()).expect("JSON text"),
                recorded: r.recorded.clone(),
            }),
            SourceItem::Rejected(r) => WireItem::Rejected(WireRejection::of(r)),
        };
        serde_json::to_string(&wire).expect("serialisable")
    }

    /// The items of a chunk's body.
    pub fn parse_chunk(body: &[u8]) -> Result<Vec<SourceItem>, String> {
        let text = std::str::from_utf8(body).map_err(|_| "a chunk that is not UTF-8".to_owned())?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                let item: WireItem =
                    serde_json::from_str(line).map_err(|e| format!("chunk line {}: {e}", i + 1))?;
                Ok(match item {
                    WireItem::Record(r) => SourceItem::Record(Record {
                        // Read off the wire: not checked here.
                        input_check: crate::model::InputCheck::Unchecked,
                        seq: r.seq,
                        id: r.id,
                        key: r.key,
                        input: r.input.into(),
                        recorded: r.recorded,
                        // Chunks are replayed as fast as they come.
                        at: None,
                        origin: Origin {
                            source: r.source.into(),
                            line: r.line,
                        },
                        charge: Charge::none(),
                    }),
                    WireItem::Rejected(r) => SourceItem::Rejected(r.into_rejection()),
                })
            })
            .collect()
    }
}

/// A header's value as a number.
pub(crate) fn header_u64(headers: Option<&async_nats::HeaderMap>, name: &str) -> Option<u64> {
    headers?.get(name)?.as_str().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ChunkRunner;
    use crate::model::{Side, Stop};
    use crate::report::merge::{merge, MergePlan};
    use crate::report::partial::PartialWriter;
    use crate::sides::SideSpec;
    use crate::traffic::{Format, TrafficSpec};
    use std::path::{Path, PathBuf};

    /// A spec over the bundled capture: the faithful port against the naive
    /// one (hundreds of mismatches in several groups), in-process.
    fn spec(dir: &Path) -> RunSpec {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut spec = crate::spec::test_spec();
        spec.cwd = repo.to_owned();
        spec.legacy = SideSpec::Builtin("normalize".into());
        spec.candidate = SideSpec::Builtin("normalize-naive".into());
        spec.traffic = vec![TrafficSpec::from_arg(
            repo.join("fixtures/normalize/capture.jsonl")
                .to_str()
                .unwrap(),
            Format::Auto,
        )];
        spec.read.max_record_bytes = 1 << 20;
        spec.sides.timeout = Duration::from_secs(10);
        spec.sides.max_response_bytes = 1 << 20;
        spec.concurrency = 16;
        spec.max_inflight_bytes = 64 << 20;
        spec.max_diffs = 50;
        spec.html = false;
        spec.out = dir.join("local");
        spec
    }

    /// The bundled capture replayed locally, and the same capture cut into
    /// chunks of uneven sizes, each run by a [`ChunkRunner`] (as a replayer
    /// runs it), shared out over three partials (one chunk in two of them,
    /// as a redelivery leaves it) and merged: the same report.
    #[test]
    fn a_merge_of_chunks_run_apart_writes_the_local_replays_report() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let local = runtime
            .block_on(crate::run::replay(&spec, &Stop::never(), ()))
            .unwrap();
        assert!(local.summary.counts.mismatched > 100);
        assert!(local.summary.groups.len() > 2);

        let parts: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("p{i}"))).collect();
        let duplicated = runtime.block_on(async {
            let options = spec.side_options();
            let build = |s: &SideSpec, side| crate::sides::build(s, side, &options).unwrap();
            let runner = ChunkRunner::new(
                build(&spec.legacy, Side::Legacy),
                build(&spec.candidate, Side::Candidate),
                spec.legacy_is_live(),
                spec.compile_rules().unwrap(),
                spec.compile_known().unwrap(),
                spec.noise_probe,
                spec.concurrency,
                spec.max_diffs,
            );
            let sources = crate::traffic::open_sources(&spec.traffic).unwrap();
            let mut reader = crate::traffic::spawn_reader(
                sources,
                spec.read.clone(),
                2,
                64,
                Default::default(),
                crate::model::Budget::new(spec.max_inflight_bytes),
            );
            let mut items = Vec::new();
            while let Some(batch) = reader.items.recv().await {
                items.extend(batch);
            }
            let mut writers: Vec<PartialWriter> = parts
                .iter()
                .map(|p| PartialWriter::create(p, &spec).unwrap())
                .collect();
            let sizes = [1usize, 7, 64, 3, 200, 25];
            let (mut chunk, mut duplicated) = (0usize, 0u64);
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                let size = sizes[chunk % sizes.len()];
                let mut this: Vec<_> = items.by_ref().take(size).collect();
                let copy = (chunk == 4).then(|| {
                    // The same chunk run twice, as after a redelivery.
                    let again = crate::cluster::WireItem::parse_chunk(
                        this.iter()
                            .map(|i| WireItem::line_of(i) + "\n")
                            .collect::<String>()
                            .as_bytes(),
                    )
                    .unwrap();
                    std::mem::replace(&mut this, again)
                });
                let events = runner.run(this).await.unwrap();
                for event in &events {
                    writers[chunk % 3].write(event).unwrap();
                }
                if let Some(copy) = copy {
                    let events = runner.run(copy).await.unwrap();
                    duplicated += events.len() as u64;
                    for event in &events {
                        writers[(chunk + 1) % 3].write(event).unwrap();
                    }
                }
                chunk += 1;
            }
            for w in writers {
                w.finish(crate::report::RunStatus {
                    state: crate::model::RunState::Complete,
                    abort_reason: None,
                    signal: None,
                    legacy_target: Default::default(),
                    candidate_target: Default::default(),
                    pace: None,
                })
                .unwrap();
            }
            runner.shutdown().await;
            duplicated
        });
        let out = dir.path().join("merged");
        let merged = merge(&parts, &out, MergePlan::default()).unwrap();
        for file in ["mismatches.csv", "diffs.txt", "rejected.jsonl"] {
            let a = std::fs::read(local.dir.join(file)).unwrap();
            let b = std::fs::read(out.join(file)).unwrap();
            assert!(a == b, "{file} differs");
        }
        let comparable = |dir| crate::report::merge::tests::comparable(dir, &["latency_ms"]);
        assert_eq!(comparable(&local.dir), comparable(&out));
        assert_eq!(merged.merge.unwrap().redelivered_duplicates, duplicated);
        assert!(duplicated > 0);
    }

    #[test]
    fn run_tokens_are_subject_safe_and_distinct() {
        let a = token("2026-12-01T11-27-10.123Z");
        let b = token("2026-12-01T11-27-10_123Z");
        assert!(!a.contains('.'), "{a}");
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
