//! `index.html`: the run as one self-contained page for people.
//!
//! # Contract
//! - One file, opened from disk, no network: the style and the one script are
//!   inline, the latency charts are inline SVG drawn here from the
//!   distributions in `summary.json`; nothing is fetched (no CDN, font or
//!   image).
//! - Captured traffic is untrusted. Every value taken from a run (ids, keys,
//!   inputs, answers, error messages, signatures, rule names, paths) reaches
//!   the page only through the template engine's HTML escaping (askama, with
//!   escaping on for `.html` templates); no captured value is ever put in a
//!   script, a URL or an unquoted attribute. The page also carries a
//!   Content-Security-Policy that allows only its own script, by hash, so even
//!   an escaping mistake could not run injected code.
//! - Counts are exact (from `summary.json`); records are sampled
//!   ([`sampler`]): at most [`SAMPLES_PER_GROUP`] per group, each text cut at
//!   [`sampler::FIELD_BYTES`], within [`sampler::PAGE_SAMPLE_BYTES`] for the
//!   page. The page states these caps.
//! - Every non-matching record's id is on the page, sampled or not, in a
//!   compact index ([`ids`], at most [`ids::INDEX_BYTES`]) that the page's
//!   own script reads: the filter box finds a record by its exact id, shows
//!   that record alone when it is sampled, and otherwise says so, names its
//!   group and gives the `cutover report show RUN ID` command (shell-quoted
//!   as [`crate::util::escape::command_line`] quotes). An id that is no
//!   non-matching record's is said to be none (or, when the index hit its
//!   cap, not among the ids it holds, which the page counts). Any other
//!   query filters the page's text as before.
//! - The page stays under [`PAGE_BYTES`] (8 MiB) whatever the run: samples
//!   3 MiB, the id index 4 MiB, the rest (the groups table at the group cap,
//!   the counts, rules, settings) well under 1 MiB. Measured at 100,000
//!   mismatches over 1000 groups with 40-byte ids (`req-` and a UUID): see
//!   the test `the_page_stays_under_its_cap_at_100k_mismatches`.
//! - Written with every run (a [`Sink`], finished before `summary.json`, so
//!   a finished run has one), and made again by [`regenerate`] from the run
//!   directory (after `cutover recheck`, to show the labels).
//! - What it shows of the run is the run-summary model
//!   ([`super::model::RunView`]), the one the terminal draws too.

mod chart;
pub mod ids;
pub mod sampler;

pub use sampler::{Sampler, SAMPLES_PER_GROUP};

use super::labels::{GroupLabels, LabelReader, RecheckSummary};
use super::model::{CountLine, RunView};
use super::row::RowReader;
use super::sink::{Mismatch, Sink};
use super::{ReportError, Summary, SUMMARY_FILE};
use askama::Template;
use base64::Engine;
use sha2::Digest;
use std::path::Path;

/// The most bytes a page takes (see the module docs).
pub const PAGE_BYTES: usize = 8 * 1024 * 1024;

/// The page's file name in a run directory.
pub const HTML_FILE: &str = "index.html";

/// The page's one script: the filter box (an exact id first, looked up in
/// the id index, else the page's text) and expand/collapse-all. It reads
/// the page's text (the index is text of the page, escaped like the rest);
/// it writes only `textContent`, never markup.
const SCRIPT: &str = r#"(function () {
  var box = document.getElementById("filter");
  var status = document.getElementById("filter-status");
  var result = document.getElementById("search-result");
  var message = document.getElementById("search-message");
  var command = document.getElementById("search-command");
  var indexEl = document.getElementById("id-index");
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.group"));
  var byLabel = new Map();
  groups.forEach(function (g) { byLabel.set(g.dataset.group, g); });
  var index = null;
  function counted(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function records(g) { return Array.prototype.slice.call(g.querySelectorAll("details.record")); }
  function decode(s) {
    return s.replace(/\\u\{([0-9a-f]+)\}/g, function (m, h) { return String.fromCodePoint(parseInt(h, 16)); });
  }
  // The id index (see ids.rs): "@LABEL" starts a group, "N SUFFIX" is an
  // id front-coded on the one before, "!WORD" its shell word.
  function load() {
    index = new Map();
    var group = "", prev = "", last = null;
    indexEl.textContent.split("\n").forEach(function (line) {
      if (line === "") { return; }
      var c = line.charAt(0);
      if (c === "@") { group = line.slice(1); prev = ""; last = null; return; }
      if (c === "!") { if (last) { last.word = line.slice(1); } return; }
      var space = line.indexOf(" ");
      var encoded = prev.slice(0, Number(line.slice(0, space))) + line.slice(space + 1);
      prev = encoded;
      var id = decode(encoded);
      last = { group: group, word: id };
      var hits = index.get(id);
      if (hits) { hits.push(last); } else { index.set(id, [last]); }
    });
  }
  var complete = indexEl.dataset.held === indexEl.dataset.total;
  function say(text, word) {
    message.textContent = text;
    command.textContent = word === null ? "" : indexEl.dataset.command + " " + word;
    command.hidden = word === null;
    result.hidden = false;
  }
  function kindOf(label) {
    var g = byLabel.get(label);
    var k = g ? g.querySelector(".kind") : null;
    return k ? k.textContent : "";
  }
  function showId(id, hits, all) {
    var shownGroups = 0, shownRecords = 0;
    groups.forEach(function (g) {
      var any = false;
      records(g).forEach(function (r) {
        var hit = r.dataset.id === id;
        r.hidden = !hit;
        if (hit) { any = true; shownRecords++; }
      });
      g.hidden = !any;
      if (any) { shownGroups++; }
    });
    var unsampled = hits.filter(function (h) {
      var g = byLabel.get(h.group);
      return !g || !records(g).some(function (r) { return r.dataset.id === id; });
    });
    status.textContent = shownGroups + " of " + all + ", " +
      counted(shownRecords, "sampled record has", "sampled records have") + " this id";
    if (unsampled.length === 0) {
      say("Record \u201c" + id + "\u201d: shown below (" + hits.map(function (h) { return h.group; }).join(", ") + ").", null);
    } else {
      var where = unsampled.map(function (h) { return h.group + " (" + kindOf(h.group) + ")"; }).join(", ");
      say("Record \u201c" + id + "\u201d is in " + where + " but not sampled on this page" +
        (shownRecords > 0 ? " (its sampled records are shown below)" : "") + "; print it with:", unsampled[0].word);
    }
  }
  function apply() {
    var raw = box.value.trim();
    var q = raw.toLowerCase();
    var all = counted(groups.length, "group", "groups");
    result.hidden = true;
    if (raw !== "") {
      if (index === null) { load(); }
      var hits = index.get(raw);
      if (hits) { showId(raw, hits, all); return; }
    }
    var shownGroups = 0, shownRecords = 0;
    groups.forEach(function (g) {
      var head = g.querySelector(".group-head").textContent.toLowerCase();
      var headHit = q === "" || head.indexOf(q) >= 0;
      var any = false;
      records(g).forEach(function (r) {
        var hit = headHit || r.textContent.toLowerCase().indexOf(q) >= 0;
        r.hidden = !hit;
        if (hit) { any = true; shownRecords++; }
      });
      g.hidden = !(headHit || any);
      if (!g.hidden) { shownGroups++; }
    });
    status.textContent = q === "" ? all : shownGroups + " of " + all + ", " +
      counted(shownRecords, "sampled record matches", "sampled records match");
    if (raw !== "") {
      if (complete) {
        say("No non-matching record has the id \u201c" + raw + "\u201d; the page's text is filtered instead.", null);
      } else {
        say("No record among the " + indexEl.dataset.held + " ids indexed (of " + indexEl.dataset.total +
          ") has the id \u201c" + raw + "\u201d; it may be among the others (the page's text is filtered instead):", "ID");
      }
    }
  }
  box.addEventListener("input", apply);
  function setAll(open) {
    Array.prototype.forEach.call(document.querySelectorAll("details.record"), function (d) {
      if (!d.hidden) { d.open = open; }
    });
  }
  document.getElementById("expand-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setAll(false); });
  apply();
})();"#;

/// A group as the page shows it.
struct GroupView {
    label: String,
    signature: String,
    /// The signature's first word (`mismatch`, `candidate_error`, ...), for styling.
    kind: String,
    count: u64,
    percent: String,
    first_id: String,
    last_id: String,
    samples: Vec<sampler::Sample>,
    labels: Option<GroupLabels>,
}

impl GroupView {
    fn fails(&self) -> bool {
        super::model::fails(&self.signature)
    }
}

#[derive(Template)]
#[template(
    path = "report.html",
    escape = "html",
    config = "src/report/html/askama.toml"
)]
struct Page<'a> {
    summary: &'a Summary,
    legacy: String,
    candidate: String,
    traffic: Vec<String>,
    /// `no differences (exit 0)`, `differences found: 3 mismatched (exit 1)`, ...
    verdict: String,
    verdict_ok: bool,
    counts: Vec<CountLine>,
    charts: Vec<chart::Chart>,
    groups: Vec<GroupView>,
    recheck: Option<&'a RecheckSummary>,
    over_budget: u64,
    samples_per_group: usize,
    field_kib: usize,
    budget_mib: usize,
    chart_width: f64,
    chart_height: f64,
    /// Every non-matching record's id, for the filter box ([`ids`]).
    index: ids::Encoded,
    index_mib: usize,
    /// `cutover report show RUN`, shell-quoted: the page appends the id.
    show_command: String,
    csp: String,
    script: &'static str,
}

/// The page's Content-Security-Policy: nothing but its own inline style and
/// its own script (by hash).
fn csp() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; img-src 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// Renders the page.
pub fn render(summary: &Summary, mut sampler: Sampler, recheck: Option<&RecheckSummary>) -> String {
    let view = RunView::new(summary, std::path::Path::new(""), recheck);
    let verdict = match &view.verdict.detail {
        Some(detail) => format!("{}: {detail}", view.verdict.headline),
        None => view.verdict.headline.clone(),
    };
    let index = sampler
        .ids()
        .encode(view.groups.iter().map(|g| g.group.group.as_str()));
    let groups = view
        .groups
        .iter()
        .map(|g| GroupView {
            label: g.group.group.clone(),
            signature: g.group.signature.clone(),
            kind: g.kind.clone(),
            count: g.group.count,
            percent: g.percent.clone(),
            first_id: g.group.first_id.clone(),
            last_id: g.group.last_id.clone(),
            samples: sampler.take(&g.group.group),
            labels: g.labels.cloned(),
        })
        .collect();
    let spec = &summary.spec;
    Page {
        summary,
        legacy: spec.legacy.to_string(),
        candidate: spec.candidate.to_string(),
        traffic: spec.traffic.iter().map(|t| t.display_name()).collect(),
        verdict: format!("{verdict} (exit {})", view.verdict.exit.code()),
        verdict_ok: view.verdict.exit == crate::model::Exit::Clean,
        // The table lists each error count apart, not their sum.
        counts: view
            .counts
            .into_iter()
            .filter(|c| c.name != "errors")
            .collect(),
        charts: vec![
            chart::chart("legacy", &summary.latency_ms.legacy),
            chart::chart("candidate", &summary.latency_ms.candidate),
        ],
        groups,
        recheck,
        over_budget: sampler.over_budget(),
        samples_per_group: SAMPLES_PER_GROUP,
        field_kib: sampler::FIELD_BYTES / 1024,
        budget_mib: sampler::PAGE_SAMPLE_BYTES / (1024 * 1024),
        chart_width: chart::WIDTH,
        chart_height: chart::HEIGHT,
        index,
        index_mib: ids::INDEX_BYTES / (1024 * 1024),
        show_command: crate::util::escape::command_line([
            "cutover",
            "report",
            "show",
            summary.run_id.as_str(),
        ]),
        csp: csp(),
        script: SCRIPT,
    }
    .render()
    .expect("the report template renders any summary")
}

/// `index.html` for a run as it happens: samples the non-matching records
/// as they come, renders the page when the run ends.
#[derive(Debug, Default)]
pub struct HtmlSink {
    sampler: Sampler,
}

impl Sink for HtmlSink {
    fn mismatch(&mut self, mismatch: &Mismatch<'_>) -> Result<(), ReportError> {
        self.sampler.offer(
            &mismatch.result.id,
            || mismatch.cells.to_row(),
            mismatch.group,
            None,
        );
        Ok(())
    }

    fn checkpoint(&mut self, summary: &Summary, dir: &Path) -> Result<(), ReportError> {
        write(dir, summary, self.sampler.clone(), None)
    }

    fn relabel(&mut self, relabel: &crate::report::Relabel) {
        self.sampler.relabel(relabel);
    }

    fn finish(self: Box<Self>, summary: &Summary, dir: &Path) -> Result<(), ReportError> {
        let started = std::time::Instant::now();
        write(dir, summary, self.sampler, None)?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "index.html written"
        );
        Ok(())
    }
}

/// Writes `index.html` into `dir` (atomically: temp file, then rename).
pub fn write(
    dir: &Path,
    summary: &Summary,
    sampler: Sampler,
    recheck: Option<&RecheckSummary>,
) -> Result<(), ReportError> {
    let path = dir.join(HTML_FILE);
    crate::report::write_redacted(&path, &render(summary, sampler, recheck))
}

/// Why a page could not be made again.
#[derive(Debug, thiserror::Error)]
pub enum RegenerateError {
    #[error(transparent)]
    Run(#[from] super::RunError),
    #[error(transparent)]
    Rows(#[from] super::row::RowError),
    #[error(transparent)]
    Labels(#[from] super::labels::LabelError),
    #[error(transparent)]
    Write(#[from] ReportError),
}

/// Makes `index.html` again from a run directory: `summary.json`, the rows
/// of `mismatches.csv` (streamed) and the recheck labels, if any.
pub fn regenerate(dir: &Path) -> Result<(), RegenerateError> {
    let summary = super::read_summary(dir)?;
    let recheck = RecheckSummary::read(dir)?;
    let mut labels = LabelReader::open(dir)?;
    let mut sampler = Sampler::default();
    for (index, row) in RowReader::open(dir, summary.non_matching())?.enumerate() {
        let row = row?;
        let label = labels.label_of(index as u64)?;
        let (id, group) = (row.id.clone(), row.group.clone());
        sampler.offer(&id, || row, &group, label);
    }
    debug_assert!(dir.join(SUMMARY_FILE).is_file());
    write(dir, &summary, sampler, recheck.as_ref())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_page_script() {
        let policy = csp();
        assert!(policy.contains("default-src 'none'"));
        assert!(policy.contains("script-src 'sha256-"));
        let script_src = policy
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!script_src.contains("unsafe"), "{policy}");
    }

    /// A UUID-shaped id, the same for the same `n` (from its SHA-256).
    fn uuid_id(n: u64) -> String {
        let hex: String = sha2::Sha256::digest(n.to_le_bytes())[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let part = |r: std::ops::Range<usize>| &hex[r];
        [
            part(0..8),
            part(8..12),
            part(12..16),
            part(16..20),
            part(20..32),
        ]
        .join("-")
    }

    /// 100,000 mismatches over the most groups a run keeps (1000), ten
    /// sampled each, every id a 40-byte `req-UUID`: the page stays under
    /// its cap, holds every id in its index, and says how many records it
    /// left unsampled.
    #[test]
    fn the_page_stays_under_its_cap_at_100k_mismatches() {
        use crate::report::row::MismatchRow;
        use crate::report::{Group, MAX_GROUPS};
        let mut sampler = Sampler::default();
        let mut groups = Vec::new();
        for g in 0..MAX_GROUPS {
            let label = format!("g{}", g + 1);
            for i in 0..100 {
                let items: Vec<String> = (0..6).map(|j| format!(" item {g} {i} {j} ")).collect();
                let row = MismatchRow {
                    id: format!("req-{}", uuid_id((g * 100 + i) as u64)),
                    key: format!("user-{i}"),
                    outcome: "mismatch".into(),
                    group: label.clone(),
                    paths: format!("/accepted/{g} changed"),
                    legacy: serde_json::json!({"accepted": items, "rejected": []}).to_string(),
                    candidate: serde_json::json!({"accepted": items.iter().map(|s| s.trim()).collect::<Vec<_>>(), "rejected": []}).to_string(),
                    source: "t.jsonl".into(),
                    line: i as u64,
                    signature: format!("mismatch /accepted/{g} changed"),
                    input: serde_json::json!({"items": items}).to_string(),
                };
                sampler.offer(&row.id.clone(), || row, &label, None);
            }
            groups.push(Group {
                group: label,
                signature: format!("mismatch /accepted/{g} changed"),
                count: 100,
                share: 0.001,
                first_id: format!("req-{}", uuid_id(g as u64 * 100)),
                last_id: format!("req-{}", uuid_id(g as u64 * 100 + 99)),
                sample_ids: vec![],
            });
        }
        let over = sampler.over_budget();
        assert!(over > 0, "the budget must bite at this size");
        let summary = crate::report::test_summary(groups);
        let page = render(&summary, sampler, None);
        let index_bytes = page[page.find("<pre id=\"id-index\"").unwrap()..]
            .find("</pre>")
            .unwrap();
        eprintln!(
            "page: {} bytes at 100,000 mismatches, the id index {index_bytes} of them",
            page.len()
        );
        assert!(page.len() < PAGE_BYTES, "{} bytes", page.len());
        assert!(page.contains(&format!("{over} more records were not sampled")));
        assert!(
            page.contains("data-group-count=\"g1000\""),
            "every group is listed"
        );
        assert!(
            page.contains("holds 100000 of 100000 non-matching record ids"),
            "every id is indexed"
        );
        // The last group's last id is in the index (front-coded).
        let last = ids::encode_id(&format!("req-{}", uuid_id(999 * 100 + 99)));
        let tail = &page[page.find("@g1000\n").unwrap()..];
        assert!(
            tail.lines()
                .any(|l| l.split_once(' ').is_some_and(|(_, s)| last.ends_with(s))),
            "{last}"
        );
    }

    #[test]
    fn group_kinds() {
        use super::super::model::kind_of;
        assert_eq!(kind_of("mismatch /a changed"), "mismatch");
        assert_eq!(kind_of("candidate_error ValueError"), "candidate_error");
        assert_eq!(
            kind_of("(other: more than 1000 distinct signatures)"),
            "other"
        );
    }
}
