//! The reader task: streams every source, in order, into a bounded channel.
//!
//! # Contract
//! - Runs on a blocking thread (file and stdin reads are blocking I/O).
//! - Sends [`SourceItem`]s with consecutive `seq` numbers, in batches of at most
//!   `batch` items, into a channel of fixed capacity; when the pipeline is busy
//!   the channel fills and the reader waits (backpressure), so memory stays
//!   bounded whatever the capture size. A partial batch is sent as soon as the
//!   input has nothing more buffered, so a slow live stream is not held back.
//! - Stops early, between two lines, when `stop` is cancelled (Ctrl-C) or when
//!   the receiver is gone. Everything it sent before stopping is complete.
//! - Returns the first [`TrafficError`] (a source that cannot be read); items
//!   sent before the error stay valid.

use super::{csv, jsonl, Format, ReadOptions, SourceItem, TrafficError, TrafficSpec};
use crate::model::{Origin, Record, Rejection};
use crate::util::lines::{read_line, Line};
use crate::util::text::excerpt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How far the reader has got, for progress bars.
#[derive(Debug, Default)]
pub struct ReaderProgress {
    /// Bytes consumed so far, over all sources (the total is
    /// [`super::total_bytes`]).
    pub bytes: AtomicU64,
}

/// A running reader.
pub struct ReaderHandle {
    pub items: mpsc::Receiver<Vec<SourceItem>>,
    pub progress: Arc<ReaderProgress>,
    pub done: tokio::task::JoinHandle<Result<(), TrafficError>>,
}

/// Starts reading `specs` on a blocking thread.
pub fn spawn_reader(
    specs: Vec<TrafficSpec>,
    options: ReadOptions,
    capacity: usize,
    batch: usize,
    stop: CancellationToken,
) -> ReaderHandle {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let progress = Arc::new(ReaderProgress::default());
    let shared = progress.clone();
    let done = tokio::task::spawn_blocking(move || {
        let mut out = Output {
            seq: 0,
            base_bytes: 0,
            batch: Vec::with_capacity(batch.max(1)),
            tx,
            stop,
            progress: shared,
        };
        let read_all = |out: &mut Output| -> Result<(), TrafficError> {
            for spec in &specs {
                if out.stop.is_cancelled() || out.tx.is_closed() {
                    break;
                }
                let name: Arc<str> = spec.display_name().into();
                let input: Box<dyn Read + Send> = match &spec.path {
                    Some(path) => {
                        Box::new(File::open(path).map_err(|source| TrafficError::Open {
                            path: name.to_string(),
                            source,
                        })?)
                    }
                    None => Box::new(std::io::stdin()),
                };
                match spec.effective_format() {
                    Format::Csv => csv::read(input, name, &options, out)?,
                    Format::Jsonl | Format::Auto => read_jsonl(input, name, &options, out)?,
                }
                out.base_bytes = out.progress.bytes.load(Ordering::Relaxed);
                out.flush();
            }
            Ok(())
        };
        let result = read_all(&mut out);
        // Whatever stopped the reading, what was read is delivered.
        out.flush();
        result
    });
    ReaderHandle {
        items: rx,
        progress,
        done,
    }
}

/// Where a format reader puts what it reads: run-wide sequence numbers, the
/// bounded channel, and the byte count for progress.
pub(super) struct Output {
    seq: u64,
    base_bytes: u64,
    batch: Vec<SourceItem>,
    tx: mpsc::Sender<Vec<SourceItem>>,
    stop: CancellationToken,
    progress: Arc<ReaderProgress>,
}

impl Output {
    /// The next sequence number.
    pub(super) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    /// Queues one item, sending the batch when it is full (waiting while the
    /// channel is full); false means stop reading.
    pub(super) fn emit(&mut self, item: SourceItem) -> bool {
        if self.stop.is_cancelled() {
            return false;
        }
        self.batch.push(item);
        self.batch.len() < self.batch.capacity() || self.flush()
    }

    /// Sends the items queued so far; false means stop reading.
    pub(super) fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return !self.tx.is_closed();
        }
        let capacity = self.batch.capacity();
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(capacity));
        self.tx.blocking_send(full).is_ok()
    }

    /// Records that `bytes` of the current source have been consumed.
    pub(super) fn counted(&self, bytes: u64) {
        self.progress
            .bytes
            .store(self.base_bytes + bytes, Ordering::Relaxed);
    }
}

fn read_jsonl(
    input: impl Read,
    source: Arc<str>,
    options: &ReadOptions,
    out: &mut Output,
) -> Result<(), TrafficError> {
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut bytes = 0u64;
    loop {
        let line = read_line(&mut reader, &mut buf, options.max_record_bytes).map_err(|e| {
            TrafficError::Read {
                path: source.to_string(),
                line: line_no,
                source: e,
            }
        })?;
        line_no += 1;
        let origin = Origin {
            source: source.clone(),
            line: line_no,
        };
        let item = match line {
            Line::Eof => return Ok(()),
            Line::TooLong { bytes: len } => {
                bytes += len + 1;
                SourceItem::Rejected(Rejection {
                    seq: out.next_seq(),
                    origin,
                    reason: format!(
                        "line is {len} bytes, over the limit of {} (raise --max-record-bytes to accept it)",
                        options.max_record_bytes
                    ),
                    excerpt: excerpt(&buf),
                })
            }
            Line::Complete => {
                bytes += buf.len() as u64 + 1;
                match jsonl::parse(&buf) {
                    Ok(parsed) => SourceItem::Record(Record {
                        seq: out.next_seq(),
                        id: parsed.id.unwrap_or_else(|| line_no.to_string()),
                        key: parsed.key,
                        input: parsed.input,
                        recorded: parsed.recorded,
                        origin,
                    }),
                    Err(reason) => SourceItem::Rejected(Rejection {
                        seq: out.next_seq(),
                        origin,
                        reason,
                        excerpt: excerpt(&buf),
                    }),
                }
            }
        };
        out.counted(bytes);
        if !out.emit(item) || (reader.buffer().is_empty() && !out.flush()) {
            return Ok(());
        }
    }
}
