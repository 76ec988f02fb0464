//! Partial reports: a share of one run's events, as a cluster replayer (or
//! any other process that compared some of a run's records) hands them to
//! [`super::merge`].
//!
//! # Contract
//! - A partial is a directory holding `partial.json` ([`PartialHeader`]: the
//!   run's [`RunSpec`], verbatim, and what the partial holds) and
//!   `events.jsonl`: one [`WireEvent`] per line, in ascending `seq` (the
//!   record's global sequence number in the run), each line a complete JSON
//!   document.
//! - A [`WireEvent`] carries everything [`super::Sinks`] reads of an event,
//!   so replaying the lines through the sinks writes what the events
//!   themselves would have: the counts, groups, audits, `mismatches.csv`,
//!   `diffs.txt` and the latencies (each record's own two latencies and slot waits, so the
//!   merged percentiles come from one histogram over every call, never an
//!   average of percentiles). A record that matched carries no input and
//!   no answers (no sink reads them), which keeps a partial of a mostly
//!   clean run small.
//! - The same line format is the body of a cluster chunk's result (see
//!   `crate::cluster`), so what travels and what is merged are one thing.
//! - Reading is bounded: one line at a time, at most [`MAX_LINE_BYTES`]; a
//!   bad line is a [`PartialError`] naming the file and the line.
//!
//! # Non-goals
//! Partials are not a review format: `review`, `report` and `reproduce`
//! read merged run directories, never partials.

use super::{write_err, ReportError, RunStatus};
use crate::model::{
    Answer, AppError, Charge, Difference, Event, Observed, Origin, Outcome, RecordResult,
    Rejection, RuleEffects, Verdict,
};
use crate::spec::RunSpec;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The header of a partial directory.
pub const PARTIAL_FILE: &str = "partial.json";
/// The events of a partial directory.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The longest line a partial may hold (a record's input and both answers
/// are each capped well below this by the run's own limits).
pub const MAX_LINE_BYTES: usize = 64 << 20;
/// `partial.json`'s `format`.
pub const FORMAT: u32 = 1;

/// `partial.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartialHeader {
    /// [`FORMAT`].
    pub format: u32,
    /// The run this is a share of, verbatim.
    pub spec: RunSpec,
    /// Events in `events.jsonl`.
    pub events: u64,
    /// How the share ended (the side stats of the process that wrote it).
    pub status: RunStatus,
}

/// Why a partial cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PartialError {
    #[error("cannot read {path}: {cause}. Give the directory of a partial report (it holds partial.json and events.jsonl)")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path} is not a partial report header: {cause}")]
    Header {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("{path}: partial format {found}, this cutover reads format {FORMAT}")]
    Format { path: PathBuf, found: u32 },
    #[error("{path}, line {line}: {reason}")]
    Line {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// One event as a partial line (see the module docs): `{"compared": ...}`
/// or `{"rejected": ...}` (externally tagged: a raw input cannot be buffered).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireEvent {
    Compared(Box<WireResult>),
    Rejected(WireRejection),
}

/// A [`RecordResult`] as a partial line.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireResult {
    pub seq: u64,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub source: String,
    pub line: u64,
    /// Absent for a record that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Box<RawValue>>,
    pub legacy: WireObserved,
    pub candidate: WireObserved,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub matched_error: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_differences: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_present: Vec<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_suppressed: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_used: Vec<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// What the run's behaviour contract found in the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<Box<crate::model::ContractFindings>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// One side's answer and latency as a partial line.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireObserved {
    /// Microseconds.
    pub us: u64,
    /// Microseconds of `us` the call waited for a slot (absent: none;
    /// partials written before slot waits were carried have none).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub wait_us: u64,
    /// Absent for a record that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<WireAnswer>,
}

/// An [`Answer`] as a partial line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireAnswer {
    Output(serde_json::Value),
    Error(AppError),
    /// Microseconds.
    Timeout(u64),
}

/// A [`Rejection`] as a partial line.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireRejection {
    pub seq: u64,
    pub source: String,
    pub line: u64,
    pub reason: String,
    pub excerpt: String,
}

impl WireRejection {
    pub fn of(r: &Rejection) -> WireRejection {
        WireRejection {
            seq: r.seq,
            source: r.origin.source.to_string(),
            line: r.origin.line,
            reason: r.reason.clone(),
            excerpt: r.excerpt.clone(),
        }
    }

    pub fn into_rejection(self) -> Rejection {
        Rejection {
            seq: self.seq,
            origin: Origin {
                source: self.source.into(),
                line: self.line,
            },
            reason: self.reason,
            excerpt: self.excerpt,
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl WireAnswer {
    fn of(answer: &Answer) -> WireAnswer {
        match answer {
            Answer::Output(v) => WireAnswer::Output(v.value().clone()),
            Answer::Error(e) => WireAnswer::Error(e.clone()),
            Answer::Timeout(d) => WireAnswer::Timeout(micros(*d)),
        }
    }

    fn into_answer(self) -> Answer {
        match self {
            WireAnswer::Output(v) => Answer::output(v),
            WireAnswer::Error(e) => Answer::Error(e),
            WireAnswer::Timeout(us) => Answer::Timeout(Duration::from_micros(us)),
        }
    }
}

impl WireEvent {
    /// The line form of `event`.
    pub fn of(event: &Event) -> WireEvent {
        match event {
            Event::Rejected(r) => WireEvent::Rejected(WireRejection::of(r)),
            Event::Compared(r) => {
                // The contract's findings quote the input and the answers
                // (contract.jsonl, the page) even when the outcome is clean.
                let full = !r.verdict.is_clean() || r.contract.is_some();
                let observed = |o: &Observed| WireObserved {
                    us: micros(o.latency),
                    wait_us: micros(o.waited),
                    answer: full.then(|| WireAnswer::of(&o.answer)),
                };
                WireEvent::Compared(Box::new(WireResult {
                    seq: r.seq,
                    id: r.id.clone(),
                    key: r.key.clone(),
                    source: r.origin.source.to_string(),
                    line: r.origin.line,
                    input: full.then(|| {
                        RawValue::from_string(r.input.get().to_owned()).expect("JSON text")
                    }),
                    legacy: observed(&r.legacy),
                    candidate: observed(&r.candidate),
                    outcome: r.verdict.outcome,
                    matched_error: r.verdict.matched_error,
                    differences: r.verdict.differences.clone(),
                    total_differences: r.verdict.total_differences,
                    rules_present: r.rule_effects.present.to_vec(),
                    rules_suppressed: r.rule_effects.suppressed.to_vec(),
                    known_used: r.known_used.clone(),
                    noise: r.noise.clone(),
                    drift: r.drift,
                    diff: r.diff.clone(),
                    contract: r.contract.clone(),
                }))
            }
        }
    }

    /// The event's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            WireEvent::Compared(r) => r.seq,
            WireEvent::Rejected(r) => r.seq,
        }
    }

    /// The event again (a matched record's input and answers as `null`: no
    /// sink reads them).
    pub fn into_event(self) -> Event {
        match self {
            WireEvent::Rejected(r) => Event::Rejected(r.into_rejection()),
            WireEvent::Compared(r) => {
                let r = *r;
                let observed = |o: WireObserved| Observed {
                    answer: o
                        .answer
                        .map_or(Answer::output(serde_json::Value::Null), |a| a.into_answer()),
                    latency: Duration::from_micros(o.us),
                    waited: Duration::from_micros(o.wait_us.min(o.us)),
                };
                let input: Arc<RawValue> = match r.input {
                    Some(raw) => raw.into(),
                    None => RawValue::from_string("null".into())
                        .expect("JSON text")
                        .into(),
                };
                Event::Compared(Box::new(RecordResult {
                    seq: r.seq,
                    id: r.id,
                    key: r.key,
                    origin: Origin {
                        source: r.source.into(),
                        line: r.line,
                    },
                    input,
                    legacy: observed(r.legacy),
                    candidate: observed(r.candidate),
                    verdict: Verdict {
                        outcome: r.outcome,
                        matched_error: r.matched_error,
                        differences: r.differences,
                        total_differences: r.total_differences,
                    },
                    rule_effects: RuleEffects {
                        present: r.rules_present.into(),
                        suppressed: r.rules_suppressed.into(),
                    },
                    known_used: r.known_used,
                    noise: r.noise,
                    drift: r.drift,
                    diff: r.diff,
                    contract: r.contract,
                    charge: Charge::none(),
                }))
            }
        }
    }

    /// One line of `events.jsonl` (without its newline).
    pub fn line_of(event: &Event) -> String {
        serde_json::to_string(&WireEvent::of(event)).expect("serialisable")
    }

    /// Parses one line.
    pub fn parse(line: &str) -> Result<WireEvent, String> {
        serde_json::from_str(line).map_err(|e| format!("not a partial event: {e}"))
    }
}

/// Writes a partial directory, one event at a time (ascending `seq`).
pub struct PartialWriter {
    dir: PathBuf,
    path: PathBuf,
    out: BufWriter<File>,
    spec: RunSpec,
    events: u64,
}

impl PartialWriter {
    /// Creates `dir` (and `events.jsonl` in it) for a share of `spec`.
    pub fn create(dir: &Path, spec: &RunSpec) -> Result<PartialWriter, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(EVENTS_FILE);
        let file = File::create(&path).map_err(write_err(&path))?;
        Ok(PartialWriter {
            dir: dir.to_owned(),
            out: BufWriter::new(file),
            path,
            spec: spec.clone(),
            events: 0,
        })
    }

    /// Appends one event.
    pub fn write(&mut self, event: &Event) -> Result<(), ReportError> {
        let line = WireEvent::line_of(event);
        self.write_lines(line.as_bytes(), 1)
    }

    /// Appends `count` events already in line form (each line ending in a
    /// newline, or the last one without).
    pub fn write_lines(&mut self, lines: &[u8], count: u64) -> Result<(), ReportError> {
        self.out.write_all(lines).map_err(write_err(&self.path))?;
        if !lines.is_empty() && !lines.ends_with(b"\n") {
            self.out.write_all(b"\n").map_err(write_err(&self.path))?;
        }
        self.events += count;
        Ok(())
    }

    /// Flushes the events and writes `partial.json` (last, atomically).
    pub fn finish(mut self, status: RunStatus) -> Result<PathBuf, ReportError> {
        self.out.flush().map_err(write_err(&self.path))?;
        let header = PartialHeader {
            format: FORMAT,
            spec: self.spec,
            events: self.events,
            status,
        };
        let path = self.dir.join(PARTIAL_FILE);
        let text = serde_json::to_string_pretty(&header).map_err(|e| write_err(&path)(e.into()))?;
        super::write_redacted(&path, &text)?;
        Ok(self.dir)
    }
}

/// Reads a partial directory's header.
pub fn read_header(dir: &Path) -> Result<PartialHeader, PartialError> {
    let path = dir.join(PARTIAL_FILE);
    let text = std::fs::read_to_string(&path).map_err(|cause| PartialError::Read {
        path: path.clone(),
        cause,
    })?;
    let header: PartialHeader =
        serde_json::from_str(&text).map_err(|cause| PartialError::Header {
            path: path.clone(),
            cause,
        })?;
    if header.format != FORMAT {
        return Err(PartialError::Format {
            path,
            found: header.format,
        });
    }
    Ok(header)
}

/// The events of a partial directory, one line at a time, checked to
/// ascend by `seq`.
pub struct EventReader {
    path: PathBuf,
    lines: BufReader<File>,
    line: u64,
    last: Option<u64>,
    buf: Vec<u8>,
}

impl EventReader {
    pub fn open(dir: &Path) -> Result<EventReader, PartialError> {
        let path = dir.join(EVENTS_FILE);
        let file = File::open(&path).map_err(|cause| PartialError::Read {
            path: path.clone(),
            cause,
        })?;
        Ok(EventReader {
            path,
            lines: BufReader::with_capacity(256 << 10, file),
            line: 0,
            last: None,
            buf: Vec::new(),
        })
    }

    fn bad(&self, reason: impl Into<String>) -> PartialError {
        PartialError::Line {
            path: self.path.clone(),
            line: self.line,
            reason: reason.into(),
        }
    }

    /// The next event, `None` at the end.
    pub fn next_event(&mut self) -> Result<Option<WireEvent>, PartialError> {
        loop {
            self.buf.clear();
            let n = std::io::Read::take(&mut self.lines, MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .map_err(|cause| PartialError::Read {
                    path: self.path.clone(),
                    cause,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(self.bad(format!("longer than {MAX_LINE_BYTES} bytes")));
            }
            let text = std::str::from_utf8(&self.buf).map_err(|_| self.bad("not UTF-8"))?;
            if text.trim().is_empty() {
                continue;
            }
            let event = WireEvent::parse(text).map_err(|reason| self.bad(reason))?;
            let seq = event.seq();
            if let Some(last) = self.last {
                if seq <= last {
                    return Err(self.bad(format!(
                        "seq {seq} after seq {last}: a partial's events must ascend by seq"
                    )));
                }
            }
            self.last = Some(seq);
            return Ok(Some(event));
        }
    }
}
