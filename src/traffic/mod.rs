//! Traffic sources: captured requests read as a stream of [`Record`]s.
//!
//! # Contract
//! - Input: one or more captures ([`TrafficSpec`]): JSON Lines files, CSV files,
//!   HTTP captures of other tools (HAR, GoReplay: [`import`]), or standard
//!   input (`-`), FIFOs included. Each is opened once, up front
//!   ([`open_sources`]), and read in the order given, streaming, one line (or
//!   CSV row) at a time; nothing holds a whole capture in memory, and a line
//!   longer than the configured limit is rejected without being buffered. A
//!   UTF-8 byte order mark at the start of a source is skipped.
//! - Memory: every record holds a [`Charge`] on the run's byte [`Budget`]
//!   (`--max-inflight-bytes`, [`crate::model::budget`]) until the report is
//!   done with it; the reader waits when the budget is full.
//! - Output: [`SourceItem`]s in capture order, each with a run-wide sequence
//!   number `seq` (0, 1, 2, ... with no gaps). Every line read becomes exactly
//!   one item: a [`Record`] or a [`Rejection`] (the core types of
//!   [`crate::model`]), so `read = records + rejected` holds by construction.
//! - Errors: a malformed line is never fatal; it becomes a [`Rejection`] naming
//!   the source, the line and the reason; lines that are not strict JSON (lone
//!   surrogates, nesting deeper than 128) are rejected too ([`strict`]). Only a
//!   source that cannot be opened or read at all (missing file, I/O error, bad
//!   CSV header) is a [`TrafficError`]. With [`ReadOptions::exchanges`], a
//!   line that is not a valid HTTP exchange is rejected with its reason too.
//! - Non-goals: deduplicating ids (ids are labels, not keys; two records may
//!   share one), reordering, sampling.

mod csv;
pub mod gor;
pub mod har;
pub mod import;
mod input;
mod jsonl;
mod reader;
pub mod strict;

pub use input::{open_sources, total_bytes, Source};
pub use reader::{spawn_reader, ReaderHandle, ReaderProgress};

#[cfg(doc)]
use crate::model::{Budget, Charge};
use crate::model::{Record, Rejection};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a source yields.
#[derive(Debug)]
pub enum SourceItem {
    Record(Record),
    Rejected(Rejection),
}

/// Capture formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `.csv` files are CSV, `.har` HAR, `.gor` GoReplay, everything else
    /// (and stdin) JSON Lines.
    Auto,
    /// One JSON object per line: `{"id"?: string, "key"?: string, "input": any}`.
    Jsonl,
    /// A header row, then one record per row; the row (minus id/key columns) is the input object.
    Csv,
    /// HAR 1.2 (`.har`): HTTP exchanges ([`har`]).
    Har,
    /// GoReplay (`.gor`): HTTP exchanges ([`gor`]).
    Gor,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Har => "har",
            Format::Gor => "gor",
        }
    }
}

/// One capture to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficSpec {
    /// `None` is standard input.
    pub path: Option<PathBuf>,
    pub format: Format,
}

impl TrafficSpec {
    /// Parses a command-line argument: `-` is stdin, anything else a path.
    pub fn from_arg(arg: &str, format: Format) -> Self {
        TrafficSpec {
            path: (arg != "-").then(|| PathBuf::from(arg)),
            format,
        }
    }

    pub fn display_name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "-".to_owned(), |p| p.display().to_string())
    }

    /// The format this source is read with, `auto` resolved.
    pub fn effective_format(&self) -> Format {
        match (self.format, &self.path) {
            (Format::Auto, Some(p))
                if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) =>
            {
                Format::Csv
            }
            (Format::Auto, Some(p))
                if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("har")) =>
            {
                Format::Har
            }
            (Format::Auto, Some(p))
                if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gor")) =>
            {
                Format::Gor
            }
            (Format::Auto, _) => Format::Jsonl,
            (f, _) => f,
        }
    }
}

/// Options that shape how captures are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOptions {
    /// Longest accepted line (or CSV row), in bytes.
    pub max_record_bytes: usize,
    /// CSV column holding the record id.
    pub id_column: String,
    /// CSV column holding the routing key.
    pub key_column: String,
    /// Every record is an HTTP exchange (a side is `upstream:`): a line
    /// whose `input` is not a valid request, or whose `recorded` is not a
    /// valid response, is rejected with the reason
    /// ([`crate::model::exchange`]).
    #[serde(default)]
    pub exchanges: bool,
}

/// A capture that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error(
        "cannot open traffic file {path}: {source}. Check the path, or pass `-` to read stdin"
    )]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read traffic from {path} (after line {line}): {source}")]
    Read {
        path: String,
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: bad CSV header: {reason}")]
    CsvHeader { path: String, reason: String },
}

/// The UTF-8 byte order mark.
pub(crate) const BOM: &[u8] = b"\xef\xbb\xbf";
