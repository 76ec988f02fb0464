//! CSV captures: a header row, then one record per row.
//!
//! # Contract
//! - The header names the columns; a duplicate or empty-named column is a
//!   [`TrafficError::CsvHeader`] (the whole source is unusable).
//! - Each row becomes the input object `{column: cell}` with every cell a JSON
//!   string (`""` stays `""`), keys in byte order of their names, minus the
//!   id and key columns, which become the record's id and key when the
//!   header has them. Without an id column the id is the row's line number.
//! - Rows end at `\n`, `\r\n` or `\r` (quoted cells may span lines); blank
//!   lines are skipped. A row's line is the line its first byte is on,
//!   counting `\n`s, whatever the line endings.
//! - A row with the wrong number of cells, invalid UTF-8 or more than the byte
//!   limit (counted as it stands in the file, quotes and commas included,
//!   its line ending not) is rejected with its line number; reading goes on
//!   with the next row. A row over the limit is skipped as it is parsed: at
//!   most the limit of it is ever held in memory.
//! - Parsing is `csv_core` (the `csv` crate's parser): RFC 4180 quoting,
//!   `""` for a quote inside a quoted cell.

use super::input::Input;
use super::reader::Output;
use super::{ReadOptions, SourceItem, TrafficError};
use crate::model::{Origin, Record, Rejection};
use crate::util::text::excerpt;
use csv_core::ReadRecordResult;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::io::{self, BufRead};
use std::sync::Arc;

/// Reads a CSV source, handing every row to `out` in order.
pub(super) fn read(
    input: &mut Input,
    source: Arc<str>,
    options: &ReadOptions,
    out: &mut Output,
) -> Result<(), TrafficError> {
    let mut rows = Rows::new(options.max_record_bytes);
    let header_err = |reason: String| TrafficError::CsvHeader {
        path: source.to_string(),
        reason,
    };
    let Some(header) = out.read(&source, |line| rows.next(input, usize::MAX, line))? else {
        return Ok(());
    };
    if header.bytes > options.max_record_bytes as u64 {
        return Err(header_err(format!(
            "the header row is {} bytes, over the limit of {} (--max-record-bytes)",
            header.bytes, options.max_record_bytes
        )));
    }
    let names = rows
        .cells()
        .map(|name| {
            std::str::from_utf8(name)
                .map(str::to_owned)
                .map_err(|e| header_err(format!("a column name is not valid UTF-8: {e}")))
        })
        .collect::<Result<Vec<String>, _>>()?;
    let mut seen = std::collections::HashSet::new();
    for name in &names {
        if name.is_empty() || !seen.insert(name) {
            return Err(header_err(format!(
                "column name {name:?} is empty or repeated; every column needs a distinct name"
            )));
        }
    }
    let id_index = names.iter().position(|h| *h == options.id_column);
    let key_index = names.iter().position(|h| *h == options.key_column);
    // The input object's columns, in the order its keys are written.
    let mut columns: Vec<usize> = (0..names.len())
        .filter(|&i| Some(i) != id_index && Some(i) != key_index)
        .collect();
    columns.sort_by(|&a, &b| names[a].cmp(&names[b]));
    loop {
        let Some(row) = out.read(&source, |line| rows.next(input, names.len(), line))? else {
            return Ok(());
        };
        out.counted(input.consumed());
        let origin = Origin {
            source: source.clone(),
            line: row.line,
        };
        let rejected = |reason: String, rows: &Rows| {
            SourceItem::Rejected(Rejection {
                seq: 0,
                origin: origin.clone(),
                reason,
                excerpt: excerpt(rows.kept()),
            })
        };
        let item = if row.bytes > options.max_record_bytes as u64 {
            rejected(
                format!(
                    "row is {} bytes, over the limit of {} (raise --max-record-bytes to accept it)",
                    row.bytes, options.max_record_bytes
                ),
                &rows,
            )
        } else if row.fields != names.len() {
            rejected(
                format!(
                    "bad CSV row: it has {}, but the header has {}",
                    counted(row.fields, "cell"),
                    counted(names.len(), "column")
                ),
                &rows,
            )
        } else {
            let Some(charge) = out.admit(row.bytes) else {
                return Ok(());
            };
            let cells: Vec<&[u8]> = rows.cells().collect();
            match to_record(&names, &columns, &cells, id_index, key_index) {
                Ok((id, key, input)) => SourceItem::Record(Record {
                    input_check: crate::model::InputCheck::Unchecked,
                    seq: 0,
                    id: id.unwrap_or_else(|| row.line.to_string()),
                    key,
                    input: input.into(),
                    recorded: None,
                    at: None,
                    origin,
                    charge,
                }),
                Err(reason) => rejected(reason, &rows),
            }
        };
        if !out.emit(item) {
            return Ok(());
        }
    }
}

/// Where and how big the row just read is.
struct Row {
    /// 1-based line of its first byte.
    line: u64,
    /// Its length in the file, line ending excluded.
    bytes: u64,
    /// Cells it has.
    fields: usize,
}

/// Reads rows with csv_core into buffers that never grow past the limit.
struct Rows {
    core: csv_core::Reader,
    max: usize,
    /// The cells of the current row, back to back; `ends[i]` ends cell `i`.
    cells: Vec<u8>,
    ends: Vec<usize>,
    /// How much of `cells` and `ends` the current row filled (`cells` may
    /// hold only the start of a row over the limit: see `kept`).
    used: usize,
    fields_kept: usize,
    /// Where the rest of a row over the limit goes, to be forgotten.
    scratch: Vec<u8>,
    scratch_ends: Vec<usize>,
    /// `\n`s consumed so far.
    newlines: u64,
}

impl Rows {
    fn new(max: usize) -> Self {
        Rows {
            core: csv_core::Reader::new(),
            max,
            cells: vec![0; 1024.min(max + 1)],
            ends: vec![0; 16],
            used: 0,
            fields_kept: 0,
            scratch: vec![0; 1 << 16],
            scratch_ends: vec![0; 1024],
            newlines: 0,
        }
    }

    /// The next row, at most `max_fields` of its cells kept (more mean the
    /// row is rejected anyway); `line` is told the row's line as soon as it is
    /// known, for error messages. `None` at the end of the source.
    fn next(
        &mut self,
        input: &mut Input,
        max_fields: usize,
        line: &mut u64,
    ) -> io::Result<Option<Row>> {
        // Skip blank lines (csv_core would too) to find the row's first line.
        loop {
            let buf = input.fill_buf()?;
            let n = buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            self.newlines += count_newlines(&buf[..n]);
            let all = n == buf.len();
            input.consume(n);
            if !all || n == 0 {
                break;
            }
        }
        *line = self.newlines + 1;
        let start = *line;
        let (mut bytes, mut fields, mut discarding) = (0u64, 0usize, false);
        self.used = 0;
        self.fields_kept = 0;
        loop {
            let buf = input.fill_buf()?;
            let (out, ends) = if discarding {
                (&mut self.scratch[..], &mut self.scratch_ends[..])
            } else {
                (
                    &mut self.cells[self.used..],
                    &mut self.ends[self.fields_kept..],
                )
            };
            let (result, nin, nout, nend) = self.core.read_record(buf, out, ends);
            let consumed = &buf[..nin];
            self.newlines += count_newlines(consumed);
            let ended_by_terminator = matches!(result, ReadRecordResult::Record)
                && matches!(consumed.last(), Some(b'\r' | b'\n'));
            bytes += nin as u64 - u64::from(ended_by_terminator);
            input.consume(nin);
            fields += nend;
            if !discarding {
                self.used += nout;
                self.fields_kept += nend;
            }
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull if !discarding => {
                    if self.cells.len() > self.max {
                        discarding = true;
                    } else {
                        let grown = (self.cells.len() * 2).min(self.max + 1);
                        self.cells.resize(grown, 0);
                    }
                }
                ReadRecordResult::OutputEndsFull if !discarding => {
                    if self.ends.len() > max_fields.min(self.max) {
                        discarding = true;
                    } else {
                        let grown = self.ends.len() * 2;
                        self.ends.resize(grown, 0);
                    }
                }
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                ReadRecordResult::Record => {
                    if discarding {
                        // Keep only what `kept` shows; cells are not used.
                        self.fields_kept = 0;
                    }
                    return Ok(Some(Row {
                        line: start,
                        bytes,
                        fields,
                    }));
                }
                ReadRecordResult::End => return Ok(None),
            }
            if !discarding && bytes > self.max as u64 {
                discarding = true;
            }
        }
    }

    /// The cells of the row just read (none for a row that was discarded).
    fn cells(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends[..self.fields_kept].iter().map(move |&end| {
            let cell = &self.cells[start..end];
            start = end;
            cell
        })
    }

    /// The start of the row just read, for excerpts.
    fn kept(&self) -> &[u8] {
        &self.cells[..self.used.min(self.cells.len())]
    }
}

/// `1 cell`, `2 cells`.
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

type Parts = (
    Option<String>,
    Option<String>,
    Box<serde_json::value::RawValue>,
);

/// The row as the input object, written straight to JSON text.
struct RowObject<'a> {
    names: &'a [String],
    columns: &'a [usize],
    cells: &'a [&'a str],
}

impl Serialize for RowObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for &i in self.columns {
            map.serialize_entry(&self.names[i], self.cells[i])?;
        }
        map.end()
    }
}

fn to_record(
    names: &[String],
    columns: &[usize],
    cells: &[&[u8]],
    id_index: Option<usize>,
    key_index: Option<usize>,
) -> Result<Parts, String> {
    let cells = cells
        .iter()
        .zip(names)
        .map(|(cell, name)| {
            std::str::from_utf8(cell)
                .map_err(|e| format!("column {name:?} is not valid UTF-8: {e}"))
        })
        .collect::<Result<Vec<&str>, String>>()?;
    let pick = |index: Option<usize>| index.map(|i| cells[i].to_owned());
    let input = serde_json::value::to_raw_value(&RowObject {
        names,
        columns,
        cells: &cells,
    })
    .map_err(|e| format!("cannot encode row as JSON: {e}"))?;
    Ok((pick(id_index), pick(key_index), input))
}
