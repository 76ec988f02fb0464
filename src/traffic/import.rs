//! HTTP captures made by other tools, read as exchanges: HAR 1.2
//! ([`super::har`]) and GoReplay `.gor` files ([`super::gor`]).
//!
//! # Contract
//! - Both readers stream: a HAR file's `log.entries` are read one entry at a
//!   time, a `.gor` file one payload at a time; nothing holds the whole file.
//! - Each entry becomes an [`Imported::Exchange`] (the request as an
//!   [`HttpRequest`], its response as an [`HttpResponse`] when the file has
//!   one) or an [`Imported::Rejected`] with its position in the file (the
//!   HAR entry's 1-based index, the `.gor` payload's line) and the reason.
//! - [`Exchange::to_line`] is one line of cutover's JSON Lines capture:
//!   `{"id", "timestamp"?, "input", "recorded"?}` with the fixed exchange
//!   shape ([`crate::model::exchange`]). [`Exchange::redact`] replaces the
//!   values of the named headers (request and response) with `<redacted>`:
//!   `cutover import` does it for `authorization` and `cookie` by default
//!   ([`DEFAULT_REDACT`]); `replay` reading a `.har` or `.gor` directly sends
//!   requests as recorded and redacts nothing.
//! - [`read_into`] feeds a reader's output: every entry is one item, so
//!   `read = records + rejected` holds for these formats too.

use super::reader::Output;
use super::{Format, ReadOptions, SourceItem, TrafficError};
use crate::model::exchange::{HttpRequest, HttpResponse};
use crate::model::{Origin, Record, Rejection};
use serde_json::value::RawValue;
use std::io::BufRead;
use std::sync::Arc;

/// Headers `cutover import` redacts by default.
pub const DEFAULT_REDACT: [&str; 2] = ["authorization", "cookie"];

/// One exchange read from a HAR or `.gor` file.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Where it starts in the file (HAR: entry index, 1-based; `.gor`: line).
    pub position: u64,
    pub id: String,
    /// When the request was made, in seconds since the Unix epoch.
    pub timestamp: Option<f64>,
    pub request: HttpRequest,
    pub response: Option<HttpResponse>,
}

/// What a reader yields.
#[derive(Debug, Clone)]
pub enum Imported {
    Exchange(Box<Exchange>),
    Rejected {
        position: u64,
        reason: String,
        excerpt: String,
    },
}

impl Exchange {
    /// Replaces the values of `names` (case-insensitive) in the request's
    /// and the response's headers.
    pub fn redact(&mut self, names: &[String]) {
        let hide = |headers: &mut Vec<(String, String)>| {
            for (name, value) in headers.iter_mut() {
                if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    *value = crate::util::redact::REDACTED.to_owned();
                }
            }
        };
        hide(&mut self.request.headers);
        if let Some(response) = &mut self.response {
            hide(&mut response.headers);
        }
    }

    /// One JSON Lines capture record.
    pub fn to_line(&self) -> String {
        let mut record = serde_json::Map::new();
        record.insert("id".into(), self.id.clone().into());
        if let Some(ts) = self.timestamp {
            record.insert("timestamp".into(), serde_json::json!(ts));
        }
        record.insert("input".into(), self.request.to_value());
        if let Some(response) = &self.response {
            record.insert("recorded".into(), response.to_value());
        }
        serde_json::Value::Object(record).to_string()
    }
}

/// Reads `input` as `format` (HAR or `.gor`), calling `each` per entry
/// until it returns false.
pub fn read(
    format: Format,
    input: &mut dyn BufRead,
    max_record_bytes: usize,
    each: &mut dyn FnMut(Imported) -> bool,
) -> std::io::Result<()> {
    match format {
        Format::Har => super::har::read(input, each),
        Format::Gor => super::gor::read(input, max_record_bytes, each),
        other => Err(std::io::Error::other(format!(
            "{} is not an HTTP capture format",
            other.as_str()
        ))),
    }
}

/// Reads a HAR or `.gor` source into the reader's output (see the module docs).
pub(super) fn read_into(
    format: Format,
    input: &mut super::input::Input,
    source: Arc<str>,
    options: &ReadOptions,
    out: &mut Output,
) -> Result<(), TrafficError> {
    let mut stopped = false;
    let result = {
        let mut each = |item: Imported| -> bool {
            let item = match item {
                Imported::Rejected {
                    position,
                    reason,
                    excerpt,
                } => SourceItem::Rejected(Rejection {
                    seq: 0,
                    origin: Origin {
                        source: source.clone(),
                        line: position,
                    },
                    reason,
                    excerpt,
                }),
                Imported::Exchange(exchange) => {
                    let input = exchange.request.to_value().to_string();
                    let recorded = exchange.response.as_ref().map(|r| r.to_value().to_string());
                    let bytes = input.len() + recorded.as_ref().map_or(0, String::len);
                    let Some(charge) = out.admit(bytes as u64) else {
                        stopped = true;
                        return false;
                    };
                    let raw = |text: String| RawValue::from_string(text).expect("serialized JSON");
                    SourceItem::Record(Record {
                        input_check: crate::model::InputCheck::Unchecked,
                        seq: 0,
                        id: exchange.id.clone(),
                        key: None,
                        input: raw(input).into(),
                        recorded: recorded.map(raw),
                        at: exchange.timestamp,
                        origin: Origin {
                            source: source.clone(),
                            line: exchange.position,
                        },
                        charge,
                    })
                }
            };
            if !out.emit(item) {
                stopped = true;
                return false;
            }
            true
        };
        read(format, input, options.max_record_bytes, &mut each)
    };
    match result {
        Ok(()) => Ok(()),
        Err(_) if stopped => Ok(()),
        Err(e) if super::input::is_stop(&e) => Ok(()),
        Err(e) => Err(TrafficError::Read {
            path: source.to_string(),
            line: 0,
            source: e,
        }),
    }
}

/// The start of some text, for a rejection's excerpt.
pub(super) fn excerpt_of(bytes: &[u8]) -> String {
    crate::util::text::excerpt(bytes)
}

/// Rejections [`ImportReport`] keeps in full.
pub const REPORTED_REJECTIONS: usize = 20;

/// What [`convert`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Entries read (exchanges + rejected).
    pub read: u64,
    /// Exchanges written.
    pub exchanges: u64,
    pub rejected: u64,
    /// The first [`REPORTED_REJECTIONS`] rejections: position and reason.
    pub rejections: Vec<(u64, String)>,
}

/// Converts a HAR or `.gor` capture into cutover's JSON Lines, streaming:
/// one line per exchange, its headers named in `redact` redacted; rejected
/// entries are counted and the first few kept with their reasons.
pub fn convert(
    format: Format,
    input: &mut dyn BufRead,
    out: &mut dyn std::io::Write,
    redact: &[String],
    max_record_bytes: usize,
) -> std::io::Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut failed = None;
    read(format, input, max_record_bytes, &mut |item| {
        report.read += 1;
        match item {
            Imported::Exchange(mut exchange) => {
                exchange.redact(redact);
                let mut line = exchange.to_line();
                line.push('\n');
                if let Err(e) = out.write_all(line.as_bytes()) {
                    failed = Some(e);
                    return false;
                }
                report.exchanges += 1;
            }
            Imported::Rejected {
                position, reason, ..
            } => {
                report.rejected += 1;
                if report.rejections.len() < REPORTED_REJECTIONS {
                    report.rejections.push((position, reason));
                }
            }
        }
        true
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
