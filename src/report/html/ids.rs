//! The page's id index: every non-matching record id → its group, so the
//! filter box finds any record by its id, sampled or not.
//!
//! # Contract
//! - Every row offered is indexed ([`IdIndex::add`], in input order), up to
//!   [`ID_MEMORY_BYTES`] of ids kept in memory; ids past that are counted,
//!   not kept. An id that several records share is listed once per group.
//! - [`IdIndex::encode`] writes the index as text for the page, at most
//!   [`INDEX_BYTES`] of it (HTML escaping counted), groups in the order the
//!   page lists them (largest first); ids that do not fit are left out and
//!   counted ([`Encoded::held`] of [`Encoded::total`]), and the page says so:
//!   never silently.
//! - The format (read by the page's own script; nothing in it is code):
//!   lines, each ASCII-safe. `@LABEL` starts a group; `N SUFFIX` is an id,
//!   front-coded within its group on the sorted encoded ids: the first `N`
//!   characters of the previous id, then `SUFFIX`. An id is encoded with
//!   every character outside printable ASCII, and `\`, written `\u{HEX}`, so
//!   no id can break a line. `!WORD` after an id is the id as a shell word
//!   for `cutover report show` ([`crate::util::escape::command_line`]'s
//!   quoting), given only when it is not the id itself.
//! - The text still goes through the template's HTML escaping: captured
//!   text never reaches the page unescaped.

use std::collections::{BTreeSet, HashMap};

/// Bytes of the page the id index may take at most (after HTML escaping).
pub const INDEX_BYTES: usize = 4 * 1024 * 1024;
/// Bytes of ids kept in memory for the index at most.
pub const ID_MEMORY_BYTES: usize = 4 * INDEX_BYTES;

/// The ids of a run's non-matching records, per group.
#[derive(Debug, Default, Clone)]
pub struct IdIndex {
    groups: HashMap<String, Vec<String>>,
    bytes: usize,
    /// Rows offered.
    rows: u64,
    /// Rows whose id was not kept (memory bound).
    dropped: u64,
}

/// The index as the page carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub text: String,
    /// Distinct (id, group) entries the text holds.
    pub held: u64,
    /// Distinct (id, group) entries of the run, in any group (those past
    /// the memory bound counted once per row).
    pub total: u64,
}

impl Encoded {
    /// Whether every non-matching record's id is in the index.
    pub fn complete(&self) -> bool {
        self.held == self.total
    }
}

/// `id` as one line-safe, ASCII token (see the module docs).
pub fn encode_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        if (' '..='~').contains(&c) && c != '\\' {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
}

/// Bytes `text` takes once HTML-escaped (askama escapes `<>&"'`).
fn escaped_len(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .filter(|b| matches!(b, b'<' | b'>' | b'&' | b'"' | b'\''))
            .count()
            * 4
}

impl IdIndex {
    /// Takes the final group labels for the provisional ones the ids were
    /// recorded with ([`crate::report::Relabel`]).
    pub fn relabel(&mut self, relabel: &crate::report::Relabel) {
        self.groups = super::sampler::renamed(std::mem::take(&mut self.groups), relabel);
    }

    /// Indexes one non-matching record (call for every row, in input order).
    pub fn add(&mut self, id: &str, group: &str) {
        self.rows += 1;
        if self.bytes + id.len() > ID_MEMORY_BYTES {
            self.dropped += 1;
            return;
        }
        self.bytes += id.len();
        match self.groups.get_mut(group) {
            Some(ids) => ids.push(id.to_owned()),
            None => {
                self.groups.insert(group.to_owned(), vec![id.to_owned()]);
            }
        }
    }

    /// Rows offered so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The index text for the groups in `order` (the page's), within
    /// [`INDEX_BYTES`].
    pub fn encode<'a>(&self, order: impl IntoIterator<Item = &'a str>) -> Encoded {
        let mut text = String::new();
        let mut held = 0u64;
        let mut total = self.dropped;
        let mut sorted_groups: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for (label, ids) in &self.groups {
            let sorted: BTreeSet<String> = ids.iter().map(|id| encode_id(id)).collect();
            total += sorted.len() as u64;
            sorted_groups.insert(label, sorted);
        }
        let mut full = false;
        let mut used = 0usize;
        for label in order {
            let Some(sorted) = sorted_groups.remove(label) else {
                continue;
            };
            if full {
                break;
            }
            let header = format!("@{label}\n");
            if used + escaped_len(&header) > INDEX_BYTES {
                break;
            }
            used += escaped_len(&header);
            text.push_str(&header);
            let mut previous = "";
            for encoded in &sorted {
                let shared = encoded
                    .bytes()
                    .zip(previous.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                let mut line = format!("{shared} {}\n", &encoded[shared..]);
                let raw = decode_id(encoded);
                let word = crate::util::escape::command_line([raw.as_str()]);
                if word != raw {
                    line.push_str(&format!("!{word}\n"));
                }
                let cost = escaped_len(&line);
                if used + cost > INDEX_BYTES {
                    full = true;
                    break;
                }
                used += cost;
                text.push_str(&line);
                held += 1;
                previous = encoded;
            }
        }
        Encoded { text, held, total }
    }
}

/// The id [`encode_id`] encoded (for the shell word; the page decodes the
/// same way).
fn decode_id(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.find("\\u{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let end = after.find('}').unwrap_or(after.len());
        let c = u32::from_str_radix(&after[..end], 16)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        out.push(c);
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_front_coded_per_group_and_hostile_ids_stay_on_one_line() {
        let mut index = IdIndex::default();
        for id in ["req-0002", "req-0001", "req-0001", "req-0010"] {
            index.add(id, "g1");
        }
        index.add("a\nb\\c'", "g2");
        index.add("req-0001", "g2");
        let e = index.encode(["g1", "g2"]);
        assert_eq!(
            e.text,
            "@g1\n0 req-0001\n7 2\n6 10\n@g2\n0 a\\u{a}b\\u{5c}c'\n!'a\\nb\\c'\\'''\n0 req-0001\n"
        );
        assert_eq!((e.held, e.total), (5, 5));
        assert!(e.complete());
        for id in ["a\nb\\c'", "\u{1f600}x\u{202e}", "plain"] {
            assert_eq!(decode_id(&encode_id(id)), id);
            assert!(encode_id(id).is_ascii());
        }
    }

    #[test]
    fn an_index_over_its_cap_says_how_many_ids_it_holds() {
        let mut index = IdIndex::default();
        let long = "x".repeat(1000);
        for i in 0..(INDEX_BYTES / 1000 + 100) {
            index.add(&format!("{i:08}{long}"), "g1");
        }
        let e = index.encode(["g1"]);
        assert!(!e.complete());
        assert!(e.held > 0 && e.held < e.total, "{} of {}", e.held, e.total);
        assert!(e.text.len() <= INDEX_BYTES);
        assert_eq!(e.total, index.rows());
    }
}
