//! Which non-matching records the HTML page shows: the first few of each
//! group, within a size budget.
//!
//! # Contract
//! - Rows are offered in input order; a group keeps its first
//!   [`SAMPLES_PER_GROUP`] rows, so the choice is the same for the same
//!   traffic whatever the concurrency, and the same when the page is made
//!   again from `mismatches.csv` (after `cutover recheck`).
//! - Memory and page size are bounded: each shown text (input, each answer)
//!   is cut at [`FIELD_BYTES`], and once [`PAGE_SAMPLE_BYTES`] of sample text
//!   is kept, further rows are not sampled (counted in
//!   [`Sampler::over_budget`], which the page reports). Counts never depend on
//!   sampling: they come from `summary.json`.

use crate::report::labels::RecheckRecord;
use crate::report::row::MismatchRow;
use crate::review::diffview::DiffView;
use std::collections::HashMap;

/// Records shown per group at most.
pub const SAMPLES_PER_GROUP: usize = 10;
/// Bytes of each shown text (input, legacy answer, candidate answer) at most.
pub const FIELD_BYTES: usize = 16 * 1024;
/// Bytes of sample text on the page at most.
pub const PAGE_SAMPLE_BYTES: usize = 4 * 1024 * 1024;

/// One record as the page shows it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// 0-based row of `mismatches.csv`.
    pub row: u64,
    pub id: String,
    pub key: String,
    pub outcome: String,
    pub source: String,
    pub line: u64,
    pub paths: String,
    pub input: String,
    pub diff: DiffView,
    /// True when the input or an answer was cut at [`FIELD_BYTES`].
    pub truncated: bool,
    pub label: Option<RecheckRecord>,
}

/// Picks and prepares the samples.
#[derive(Debug, Default)]
pub struct Sampler {
    groups: HashMap<String, Vec<Sample>>,
    used: usize,
    over_budget: u64,
    rows: u64,
}

/// Pretty JSON of a cell (`render_answer`'s text for an answer cell), cut
/// at [`FIELD_BYTES`].
fn pretty(cell: &str) -> (String, bool) {
    let value = MismatchRow::answer_value(cell);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| cell.to_owned());
    text.push('\n');
    if text.len() <= FIELD_BYTES {
        return (text, false);
    }
    let mut end = FIELD_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("\n…\n");
    (text, true)
}

impl Sampler {
    /// Whether the next row (of `group`) will be kept: ask before building a
    /// row, so rows that are not shown cost nothing.
    pub fn wants(&self, group: &str) -> bool {
        self.used < PAGE_SAMPLE_BYTES
            && self
                .groups
                .get(group)
                .map_or(true, |kept| kept.len() < SAMPLES_PER_GROUP)
    }

    /// Offers the next row in input order (call for every row, kept or not,
    /// so row numbers stay right).
    pub fn offer(
        &mut self,
        row: impl FnOnce() -> MismatchRow,
        group: &str,
        label: Option<RecheckRecord>,
    ) {
        let index = self.rows;
        self.rows += 1;
        if !self.wants(group) {
            if self.used >= PAGE_SAMPLE_BYTES {
                self.over_budget += 1;
            }
            return;
        }
        let row = row();
        let (input, cut_input) = pretty(&row.input);
        let (legacy, cut_legacy) = pretty(&row.legacy);
        let (candidate, cut_candidate) = pretty(&row.candidate);
        self.used += input.len() + legacy.len() + candidate.len();
        let sample = Sample {
            row: index,
            diff: DiffView::new(&legacy, &candidate),
            truncated: cut_input || cut_legacy || cut_candidate,
            input,
            id: row.id,
            key: row.key,
            outcome: row.outcome,
            source: row.source,
            line: row.line,
            paths: row.paths,
            label,
        };
        self.groups.entry(row.group).or_default().push(sample);
    }

    /// Rows not sampled because the page's budget was spent.
    pub fn over_budget(&self) -> u64 {
        self.over_budget
    }

    /// The kept samples of `group`, in input order.
    pub fn take(&mut self, group: &str) -> Vec<Sample> {
        self.groups.remove(group).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, i: usize) -> MismatchRow {
        MismatchRow {
            id: format!("r{i}"),
            key: String::new(),
            outcome: "mismatch".into(),
            group: group.into(),
            paths: "/a changed".into(),
            legacy: r#"{"a":1}"#.into(),
            candidate: r#"{"a":2}"#.into(),
            source: "t.jsonl".into(),
            line: i as u64 + 1,
            signature: "mismatch /a changed".into(),
            input: format!("{{\"n\":{i}}}"),
        }
    }

    #[test]
    fn keeps_the_first_rows_of_each_group() {
        let mut s = Sampler::default();
        for i in 0..30 {
            let g = if i % 3 == 0 { "g1" } else { "g2" };
            s.offer(|| row(g, i), g, None);
        }
        let g1 = s.take("g1");
        assert_eq!(g1.len(), SAMPLES_PER_GROUP);
        assert_eq!(g1[0].id, "r0");
        assert_eq!(g1[0].row, 0);
        assert_eq!(g1[1].id, "r3");
        assert_eq!(g1[1].row, 3);
        assert_eq!(s.take("g2").len(), SAMPLES_PER_GROUP);
        assert!(!g1[0].diff.is_empty());
        assert_eq!(s.over_budget(), 0);
    }

    #[test]
    fn big_fields_are_cut_and_the_budget_holds() {
        let mut s = Sampler::default();
        let big = format!("\"{}\"", "x".repeat(FIELD_BYTES * 2));
        let mut n = 0;
        for i in 0..2000 {
            let g = format!("g{i}");
            s.offer(
                || MismatchRow {
                    input: big.clone(),
                    ..row(&g, i)
                },
                &g,
                None,
            );
            n += 1;
        }
        assert!(s.used <= PAGE_SAMPLE_BYTES + 3 * (FIELD_BYTES + 8));
        assert!(s.over_budget() > 0 && s.over_budget() < n);
        let first = s.take("g0");
        assert!(first[0].truncated);
        assert!(first[0].input.len() < FIELD_BYTES + 8);
    }
}
