//! Finding non-matching records in a run and preparing them for review.
//!
//! # Contract
//! - Records come from the run's `mismatches.csv`, streamed (one row in
//!   memory at a time) and checked against the run's summary (a file with
//!   fewer or more rows, or a row cut mid-way, is an error: the run is
//!   damaged); a record's recheck label, when the run was rechecked, from
//!   `recheck.jsonl`, read in lockstep.
//! - [`find`] keeps at most `limit` records but counts every match, so a
//!   caller can say how many were left out. Ids are labels, not keys: several
//!   records may share one, and all of them match.
//! - A [`RecordView`] is what `report show` and `report group` print and
//!   what `--json` gives: the input and both answers as JSON values, the
//!   diff (`diff`, the text `diffs.txt` has) and the diffs inside the
//!   strings the answers differ in (`strings`, the shape of
//!   [`crate::compare::strings::StringDiffs`]: `fields`, each with `path`,
//!   `mode` (`lines` or `chars`), `legacy_bytes`, `candidate_bytes`,
//!   `hunks` (`header`, `lines`: `kind` `same`/`removed`/`added`,
//!   `legacy_line`, `candidate_line`, `segments` of `text` and
//!   `emphasized`), `omitted_hunks` and `notes`; and `omitted_fields`).
//!   Paths learned as noise carry `(noise)` in `paths`.

use crate::compare::strings::StringDiffs;
use crate::report::diffview::DiffView;
use crate::report::labels::{LabelReader, RecheckRecord};
use crate::report::row::MismatchRow;
use serde::Serialize;
use serde_json::Value;

/// One non-matching record, ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    /// 0-based row of `mismatches.csv`.
    pub row: u64,
    pub id: String,
    pub key: Option<String>,
    pub outcome: String,
    pub group: String,
    pub signature: String,
    pub source: String,
    pub line: u64,
    /// The differing paths (`; `-separated, as in `mismatches.csv`).
    pub paths: String,
    pub input: Value,
    pub legacy: Value,
    pub candidate: Value,
    /// The unified diff of the two answers and the diffs inside their
    /// strings, as `diffs.txt` has it.
    pub diff: String,
    /// The diffs inside the strings the two answers differ in.
    pub strings: StringDiffs,
    pub recheck: Option<RecheckRecord>,
    #[serde(skip)]
    pub view: DiffView,
}

/// Pretty JSON text of a value, newline-terminated (as `render_answer` makes it).
pub fn pretty(value: &Value) -> String {
    crate::compare::render_value(value)
}

impl RecordView {
    pub fn new(row_index: u64, row: MismatchRow, recheck: Option<RecheckRecord>) -> Self {
        let input = MismatchRow::answer_value(&row.input);
        let legacy = MismatchRow::answer_value(&row.legacy);
        let candidate = MismatchRow::answer_value(&row.candidate);
        let view = DiffView::new(&pretty(&legacy), &pretty(&candidate));
        let strings = StringDiffs::new(&legacy, &candidate);
        let diff = view.unified_text() + &strings.text();
        RecordView {
            row: row_index,
            key: row.key().map(str::to_owned),
            id: row.id,
            outcome: row.outcome,
            group: row.group,
            signature: row.signature,
            source: row.source,
            line: row.line,
            paths: row.paths,
            input,
            legacy,
            candidate,
            diff,
            strings,
            recheck,
            view,
        }
    }
}

/// The records for which `wanted` holds, at most `limit`, and how many
/// records matched in all.
pub fn find(
    run: &super::Run,
    limit: usize,
    mut wanted: impl FnMut(&MismatchRow) -> bool,
) -> Result<(Vec<RecordView>, u64), super::ReviewError> {
    let mut labels = LabelReader::open(&run.dir)?;
    let mut found = Vec::new();
    let mut matches = 0u64;
    for (index, row) in run.rows()?.enumerate() {
        let row = row?;
        if !wanted(&row) {
            continue;
        }
        matches += 1;
        if found.len() < limit {
            let label = labels.label_of(index as u64)?;
            found.push(RecordView::new(index as u64, row, label));
        }
    }
    Ok((found, matches))
}
