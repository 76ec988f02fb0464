//! Which non-matching records the HTML page shows: the first few of each
//! group, within a size budget.
//!
//! # Contract
//! - Rows are offered in input order; a group keeps its first
//!   [`SAMPLES_PER_GROUP`] rows, so the choice is the same for the same
//!   traffic whatever the concurrency, and the same when the page is made
//!   again from `mismatches.csv` (after `cutover recheck`).
//! - Memory and page size are bounded: each shown text (input, each answer)
//!   is cut at [`FIELD_BYTES`], and once the kept samples would take about
//!   [`PAGE_SAMPLE_BYTES`] of the page (their text, escaped, plus the markup
//!   of every diff row: [`Sample::page_bytes`]), further rows are not sampled
//!   (counted in [`Sampler::over_budget`], which the page reports). Counts
//!   never depend on sampling: they come from `summary.json`.
//! - Every row's id is indexed, sampled or not ([`super::ids`]), so the
//!   page finds any non-matching record by its id.

use super::ids::IdIndex;
use crate::compare::strings::StringDiffs;
use crate::report::diffview::DiffView;
use crate::report::labels::RecheckRecord;
use crate::report::row::MismatchRow;
use std::collections::HashMap;

/// Records shown per group at most.
pub const SAMPLES_PER_GROUP: usize = 10;
/// Bytes of each shown text (input, legacy answer, candidate answer) at most.
pub const FIELD_BYTES: usize = 16 * 1024;
/// Bytes of the page the samples may take, about.
pub const PAGE_SAMPLE_BYTES: usize = 3 * 1024 * 1024;

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
    /// The diffs inside the strings the two answers differ in (made from
    /// the whole answers, bounded on their own).
    pub strings: StringDiffs,
    /// True when the input or an answer was cut at [`FIELD_BYTES`].
    pub truncated: bool,
    pub label: Option<RecheckRecord>,
}

/// Picks and prepares the samples.
#[derive(Debug, Default, Clone)]
pub struct Sampler {
    groups: HashMap<String, Vec<Sample>>,
    /// Rows offered per group so far.
    offered: HashMap<String, usize>,
    used: usize,
    over_budget: u64,
    rows: u64,
    /// Every offered row's id, sampled or not.
    ids: IdIndex,
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

impl Sample {
    /// About how many bytes of the page this sample takes: its texts (HTML
    /// escaping of JSON's quotes about doubles them), the markup of each
    /// diff row and the record's frame.
    pub fn page_bytes(&self) -> usize {
        let rows: usize = self
            .diff
            .hunks
            .iter()
            .chain(self.strings.fields.iter().flat_map(|f| f.hunks.iter()))
            .map(|h| {
                60 + h
                    .lines
                    .iter()
                    .map(|l| 2 * l.text().len() + 90)
                    .sum::<usize>()
            })
            .sum();
        600 + 2 * (self.input.len() + self.id.len() + self.key.len() + self.paths.len()) + rows
    }
}

impl Sampler {
    /// Whether the next row (of `group`) will be kept: ask before building a
    /// row, so rows that are not shown cost nothing.
    pub fn wants(&self, group: &str) -> bool {
        self.used < PAGE_SAMPLE_BYTES
            && self
                .groups
                .get(group)
                .is_none_or(|kept| kept.len() < SAMPLES_PER_GROUP)
    }

    /// Offers the next row (record `id`) in input order (call for every
    /// row, kept or not, so row numbers stay right and every id is indexed).
    pub fn offer(
        &mut self,
        id: &str,
        row: impl FnOnce() -> MismatchRow,
        group: &str,
        label: Option<RecheckRecord>,
    ) {
        let index = self.rows;
        self.rows += 1;
        self.ids.add(id, group);
        let nth = match self.offered.get_mut(group) {
            Some(n) => {
                *n += 1;
                *n
            }
            None => {
                self.offered.insert(group.to_owned(), 1);
                1
            }
        };
        if !self.wants(group) {
            if nth <= SAMPLES_PER_GROUP {
                // One of the group's first rows: shown, were it not for the
                // page's budget.
                self.over_budget += 1;
            }
            return;
        }
        let row = row();
        let (input, cut_input) = pretty(&row.input);
        let (legacy, cut_legacy) = pretty(&row.legacy);
        let (candidate, cut_candidate) = pretty(&row.candidate);
        let strings = StringDiffs::new(
            &MismatchRow::answer_value(&row.legacy),
            &MismatchRow::answer_value(&row.candidate),
        );
        let sample = Sample {
            row: index,
            diff: DiffView::new(&legacy, &candidate),
            strings,
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
        self.used += sample.page_bytes();
        self.groups.entry(row.group).or_default().push(sample);
    }

    /// Rows that would have been shown (their group had room) but were not,
    /// because the page's budget was spent.
    pub fn over_budget(&self) -> u64 {
        self.over_budget
    }

    /// The id of every row offered (see [`super::ids`]).
    pub fn ids(&self) -> &IdIndex {
        &self.ids
    }

    /// Takes the final group labels for the provisional ones the rows were
    /// offered with ([`crate::report::Relabel`]).
    pub fn relabel(&mut self, relabel: &crate::report::Relabel) {
        self.groups = renamed(std::mem::take(&mut self.groups), relabel);
        self.offered = renamed(std::mem::take(&mut self.offered), relabel);
        self.ids.relabel(relabel);
    }

    /// The kept samples of `group`, in input order.
    pub fn take(&mut self, group: &str) -> Vec<Sample> {
        self.groups.remove(group).unwrap_or_default()
    }
}

/// `map` with its keys (provisional group labels) renamed to final ones.
pub(super) fn renamed<V>(
    map: HashMap<String, V>,
    relabel: &crate::report::Relabel,
) -> HashMap<String, V> {
    map.into_iter()
        .map(|(k, v)| (relabel.label(&k).to_owned(), v))
        .collect()
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
            s.offer(&format!("r{i}"), || row(g, i), g, None);
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
                &format!("r{i}"),
                || MismatchRow {
                    input: big.clone(),
                    ..row(&g, i)
                },
                &g,
                None,
            );
            n += 1;
        }
        let one_sample = 600 + 2 * (FIELD_BYTES + 100) + 4 * (FIELD_BYTES + 200);
        assert!(s.used <= PAGE_SAMPLE_BYTES + one_sample, "{}", s.used);
        assert!(s.over_budget() > 0 && s.over_budget() < n);
        let first = s.take("g0");
        assert!(first[0].truncated);
        assert!(first[0].input.len() < FIELD_BYTES + 8);
    }
}
