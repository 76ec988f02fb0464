//! The reader task: streams every source, in order, into a bounded channel.
//!
//! # Contract
//! - Runs on a blocking thread; each source is read through an [`Input`]
//!   (a regular file in place, anything else through a pump thread), so a
//!   stop (Ctrl-C) is noticed even while a read waits on an idle pipe.
//! - Sends [`SourceItem`]s with consecutive `seq` numbers, in batches of at most
//!   `batch` items, into a channel of fixed capacity; when the pipeline is busy
//!   the channel fills and the reader waits (backpressure), so memory stays
//!   bounded whatever the capture size. A partial batch is sent as soon as the
//!   input has nothing more buffered, so a slow live stream is not held back.
//! - Every record carries a [`Charge`] on the run's byte [`Budget`], taken
//!   before its line is parsed; when the budget is full the reader sends
//!   what it has queued and waits for records to be released.
//! - Stops early when `stop` is cancelled (between two lines, or at once while
//!   waiting for input or budget) or when the receiver is gone. Everything it
//!   sent before stopping is complete; a line cut short by the stop is not
//!   an item.
//! - Returns the first [`TrafficError`] (a source that cannot be read); items
//!   sent before the error stay valid.

use super::input::{is_stop, Input, Source};
use super::{csv, jsonl, Format, ReadOptions, SourceItem, TrafficError};
use crate::model::{Budget, Charge, InputCheck, Origin, Record, Rejection};
use crate::util::lines::{read_line, Line};
use crate::util::text::excerpt;
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

/// Starts reading `sources` on a blocking thread.
pub fn spawn_reader(
    sources: Vec<Source>,
    options: ReadOptions,
    capacity: usize,
    batch: usize,
    stop: CancellationToken,
    budget: Arc<Budget>,
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
            budget,
            runtime: tokio::runtime::Handle::current(),
        };
        let read_all = |out: &mut Output| -> Result<(), TrafficError> {
            for source in sources {
                if out.stop.is_cancelled() || out.tx.is_closed() {
                    break;
                }
                let name: Arc<str> = source.spec.display_name().into();
                let format = source.spec.effective_format();
                let mut input =
                    Input::start(source, out.stop.clone()).map_err(|e| TrafficError::Read {
                        path: name.to_string(),
                        line: 0,
                        source: e,
                    })?;
                if out.read(&name, |_| input.skip_bom().map(Some))?.is_none() {
                    break;
                }
                match format {
                    Format::Csv => csv::read(&mut input, name, &options, out)?,
                    Format::Jsonl | Format::Auto => read_jsonl(&mut input, name, &options, out)?,
                    Format::Har | Format::Gor => {
                        super::import::read_into(format, &mut input, name, &options, out)?
                    }
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
    budget: Arc<Budget>,
    runtime: tokio::runtime::Handle,
}

impl Output {
    /// Queues one item, numbered next, sending the batch when it is full
    /// (waiting while the channel is full); false means stop reading.
    pub(super) fn emit(&mut self, mut item: SourceItem) -> bool {
        if self.stop.is_cancelled() {
            return false;
        }
        let seq = match &mut item {
            SourceItem::Record(r) => &mut r.seq,
            SourceItem::Rejected(r) => &mut r.seq,
        };
        *seq = self.seq;
        self.seq += 1;
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

    /// A charge for a record whose line is `line` bytes long, waiting (after
    /// sending what is queued) while the budget is full; `None`: stop reading.
    pub(super) fn admit(&mut self, line: u64) -> Option<Charge> {
        if let Some(charge) = self.budget.try_admit(line) {
            return Some(charge);
        }
        if !self.flush() {
            return None;
        }
        let (budget, stop) = (&self.budget, &self.stop);
        self.runtime.block_on(async {
            tokio::select! {
                biased;
                _ = stop.cancelled() => None,
                charge = budget.admit(line) => Some(charge),
            }
        })
    }

    /// Runs one read of `source`, which tells the line it is on through its
    /// argument: an I/O error becomes [`TrafficError::Read`] naming that
    /// line; a read ended by the stop token is `Ok(None)`, as the end is.
    pub(super) fn read<T>(
        &self,
        source: &str,
        read: impl FnOnce(&mut u64) -> std::io::Result<Option<T>>,
    ) -> Result<Option<T>, TrafficError> {
        let mut line = 0;
        match read(&mut line) {
            Ok(item) => Ok(item),
            Err(e) if is_stop(&e) || self.stop.is_cancelled() => Ok(None),
            Err(e) => Err(TrafficError::Read {
                path: source.to_owned(),
                line,
                source: e,
            }),
        }
    }

    /// Records that `bytes` of the current source have been consumed.
    pub(super) fn counted(&self, bytes: u64) {
        self.progress
            .bytes
            .store(self.base_bytes + bytes, Ordering::Relaxed);
    }
}

fn read_jsonl(
    input: &mut Input,
    source: Arc<str>,
    options: &ReadOptions,
    out: &mut Output,
) -> Result<(), TrafficError> {
    // Room for the longest line up front, so a long line never leaves a
    // buffer of twice its size behind (untouched pages cost no memory).
    let mut buf = Vec::with_capacity(options.max_record_bytes.saturating_add(1).min(64 << 20));
    let mut line_no = 0u64;
    loop {
        let read = |at: &mut u64| {
            *at = line_no;
            read_line(input, &mut buf, options.max_record_bytes).map(|line| match line {
                Line::Eof => None,
                line => Some(line),
            })
        };
        let Some(line) = out.read(&source, read)? else {
            return Ok(());
        };
        line_no += 1;
        out.counted(input.consumed());
        let origin = Origin {
            source: source.clone(),
            line: line_no,
        };
        let rejected = |reason: String, buf: &[u8]| {
            SourceItem::Rejected(Rejection {
                seq: 0,
                origin: origin.clone(),
                reason,
                excerpt: excerpt(buf),
            })
        };
        let item = match line {
            Line::TooLong { bytes: len } => rejected(
                format!(
                    "line is {len} bytes, over the limit of {} (raise --max-record-bytes to accept it)",
                    options.max_record_bytes
                ),
                &buf,
            ),
            Line::Complete | Line::Eof => {
                let Some(charge) = out.admit(buf.len() as u64) else {
                    return Ok(());
                };
                let parsed = jsonl::parse(&buf).and_then(|parsed| match options.exchanges {
                    true => check_exchange(parsed),
                    false => Ok(parsed),
                });
                match parsed {
                    Ok(parsed) => SourceItem::Record(Record {
                        // jsonl::parse checked it (traffic::strict), or
                        // vouched for it in its one pass.
                        input_check: match parsed.vouched {
                            true => InputCheck::Reads,
                            false => InputCheck::Strict,
                        },
                        seq: 0,
                        id: parsed.id.unwrap_or_else(|| line_no.to_string()),
                        key: parsed.key,
                        input: parsed.input,
                        recorded: parsed.recorded,
                        at: parsed.at,
                        origin,
                        charge,
                    }),
                    Err(reason) => rejected(reason, &buf),
                }
            }
        };
        if !out.emit(item) || (!input.has_buffered() && !out.flush()) {
            return Ok(());
        }
    }
}

/// A record that must be an HTTP exchange, checked strictly.
fn check_exchange(parsed: jsonl::Parsed) -> Result<jsonl::Parsed, String> {
    use crate::model::exchange::{HttpRequest, HttpResponse};
    let bad = |e: String| format!("not an HTTP exchange: {e}");
    HttpRequest::parse(&parsed.input).map_err(bad)?;
    if let Some(recorded) = &parsed.recorded {
        HttpResponse::parse(recorded).map_err(bad)?;
    }
    Ok(parsed)
}
