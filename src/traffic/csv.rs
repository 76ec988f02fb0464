//! CSV captures: a header row, then one record per row.
//!
//! # Contract
//! - The header names the columns; a duplicate or empty-named column is a
//!   [`TrafficError::CsvHeader`] (the whole source is unusable).
//! - Each row becomes the input object `{column: cell}` with every cell a JSON
//!   string (`""` stays `""`), minus the id and key columns, which become the
//!   record's id and key when the header has them. Without an id column the id
//!   is the row's line number.
//! - A row with the wrong number of cells, invalid UTF-8 or more than the byte
//!   limit is rejected with its line number; reading goes on with the next row.

use super::reader::Output;
use super::{ReadOptions, SourceItem, TrafficError};
use crate::model::{Origin, Record, Rejection};
use crate::util::text::excerpt;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::io::Read;
use std::sync::Arc;

/// Reads a CSV source, handing every row to `out` in order.
pub(super) fn read(
    input: impl Read,
    source: Arc<str>,
    options: &ReadOptions,
    out: &mut Output,
) -> Result<(), TrafficError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| TrafficError::CsvHeader {
            path: source.to_string(),
            reason: e.to_string(),
        })?
        .clone();
    let mut seen = std::collections::HashSet::new();
    for name in headers.iter() {
        if name.is_empty() || !seen.insert(name) {
            return Err(TrafficError::CsvHeader {
                path: source.to_string(),
                reason: format!(
                    "column name {name:?} is empty or repeated; every column needs a distinct name"
                ),
            });
        }
    }
    let id_index = headers.iter().position(|h| h == options.id_column);
    let key_index = headers.iter().position(|h| h == options.key_column);
    let mut row = csv::ByteRecord::new();
    loop {
        let result = reader.read_byte_record(&mut row);
        let line = row.position().map_or(0, |p| p.line());
        let position_bytes = reader.position().byte();
        out.counted(position_bytes);
        let item = match result {
            Ok(false) => return Ok(()),
            Ok(true) => to_record(&headers, &row, id_index, key_index, options)
                .map(|(id, key, input)| Record {
                    seq: out.next_seq(),
                    id: id.unwrap_or_else(|| line.to_string()),
                    key,
                    input,
                    recorded: None,
                    origin: Origin {
                        source: source.clone(),
                        line,
                    },
                })
                .map(SourceItem::Record)
                .unwrap_or_else(|reason| {
                    SourceItem::Rejected(Rejection {
                        seq: out.next_seq(),
                        origin: Origin {
                            source: source.clone(),
                            line,
                        },
                        reason,
                        excerpt: excerpt(row.as_slice()),
                    })
                }),
            Err(e) if e.is_io_error() => {
                let csv::ErrorKind::Io(source_err) = e.into_kind() else {
                    unreachable!("is_io_error checked")
                };
                return Err(TrafficError::Read {
                    path: source.to_string(),
                    line,
                    source: source_err,
                });
            }
            Err(e) => SourceItem::Rejected(Rejection {
                seq: out.next_seq(),
                origin: Origin {
                    source: source.clone(),
                    line: e.position().map_or(line, |p| p.line()),
                },
                reason: format!("bad CSV row: {e}"),
                excerpt: String::new(),
            }),
        };
        if !out.emit(item) {
            return Ok(());
        }
    }
}

type Parts = (Option<String>, Option<String>, Box<RawValue>);

fn to_record(
    headers: &csv::StringRecord,
    row: &csv::ByteRecord,
    id_index: Option<usize>,
    key_index: Option<usize>,
    options: &ReadOptions,
) -> Result<Parts, String> {
    if row.as_slice().len() > options.max_record_bytes {
        return Err(format!(
            "row is {} bytes, over the limit of {} (--max-record-bytes)",
            row.as_slice().len(),
            options.max_record_bytes
        ));
    }
    let mut id = None;
    let mut key = None;
    let mut object = Map::new();
    for (index, (name, cell)) in headers.iter().zip(row.iter()).enumerate() {
        let cell = std::str::from_utf8(cell)
            .map_err(|e| format!("column {name:?} is not valid UTF-8: {e}"))?
            .to_owned();
        if Some(index) == id_index {
            id = Some(cell);
        } else if Some(index) == key_index {
            key = Some(cell);
        } else {
            object.insert(name.to_owned(), Value::String(cell));
        }
    }
    let input = serde_json::value::to_raw_value(&object)
        .map_err(|e| format!("cannot encode row as JSON: {e}"))?;
    Ok((id, key, input))
}
