//! The run-summary model: one run, laid out in the sections people read,
//! computed once and drawn by both the terminal (`cli/text`) and the HTML
//! page ([`super::html`]).
//!
//! # Contract
//! - [`RunView::new`] is a pure function of a run's summary, its directory
//!   (as it is named where the view is shown) and its recheck labels. It
//!   does the work both renderings need: each count with its share of the
//!   records read, what it means and the numbers behind it; which sides'
//!   plumbing did something; each group with its share, kind and labels;
//!   the commands to look further (naming the run by its directory, so they
//!   work from where the view is shown, whatever `--out` or
//!   `--reports-dir` was); and the verdict in words with the exit status.
//! - What the view holds came from a run directory (ids, signatures,
//!   commands): it is data, not yet inert text. Renderers escape it (the
//!   terminal through [`crate::util::escape`], the page through askama);
//!   the suggested commands are already quoted for a shell
//!   ([`crate::util::escape::command_line`]).
//! - Presentation (widths, colour, which counts a terminal folds together,
//!   how many groups it lists) is the renderers'.

use super::labels::{GroupLabels, RecheckSummary};
use super::{Drift, Group, Summary};
use crate::model::{Exit, Side, SideStats};
use crate::util::escape::command_line;
use std::path::Path;

/// How a piece of the view should strike the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Muted,
    Plain,
}

/// One count of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct CountLine {
    /// The count's name, as `summary.json`'s `counts` has it.
    pub name: &'static str,
    pub value: u64,
    /// Its share of the records read (`12.34%`).
    pub percent: String,
    /// What the count means, in words.
    pub meaning: &'static str,
    /// The numbers behind it (`380 of them both sides raised the same
    /// error`), or what to look at; may be empty.
    pub note: String,
    /// One of the parts of `errors` (`legacy_errors`, ...).
    pub part: bool,
    /// Worth a line where space is short: always, but for `accepted` and
    /// `noisy`, which are only when the run declared known differences or
    /// probed for noise (or has some).
    pub relevant: bool,
    /// How a non-zero value strikes the reader.
    pub tone: Tone,
}

/// One group of non-matching records.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupLine<'a> {
    pub group: &'a Group,
    /// Its share of the records with an outcome (`4.92%`).
    pub percent: String,
    /// The signature's first word (`mismatch`, `candidate_error`, ...), or
    /// `other`.
    pub kind: String,
    /// Whether records like these fail a run (`accepted` and `noisy` do not).
    pub fails: bool,
    /// Its recheck labels, when the run was rechecked.
    pub labels: Option<&'a GroupLabels>,
}

/// Where to look next: commands, quoted for a shell, and the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    /// `cutover report group RUN g1`.
    pub group: String,
    /// `cutover report show RUN ID` for the first record of the largest group.
    pub show: String,
    /// The run's `index.html`.
    pub page: String,
    /// `cutover report RUN --top N`, which lists every group.
    pub all_groups: String,
}

/// The verdict, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub exit: Exit,
    pub tone: Tone,
    /// `no differences`, `differences found`, `run aborted`, `interrupted
    /// by SIGINT (...)`.
    pub headline: String,
    /// What was found, or why the run was aborted.
    pub detail: Option<String>,
}

/// A run, laid out for reading (see the module docs).
#[derive(Debug, Clone)]
pub struct RunView<'a> {
    pub summary: &'a Summary,
    /// The run's directory, as it is named where the view is shown.
    pub dir: String,
    pub counts: Vec<CountLine>,
    /// The sides whose plumbing retried, restarted, killed or saw protocol
    /// errors.
    pub workers: Vec<(Side, &'a SideStats)>,
    /// Drift from recorded responses, when records carried one.
    pub drift: Option<&'a Drift>,
    /// Every group, largest first.
    pub groups: Vec<GroupLine<'a>>,
    pub recheck: Option<&'a RecheckSummary>,
    /// `None` when every record matched.
    pub next: Option<Next>,
    pub verdict: Verdict,
}

/// `n` as a share of `of`: `12.34%` (`0.00%` of nothing).
pub fn percent(n: u64, of: u64) -> String {
    if of == 0 {
        "0.00%".to_owned()
    } else {
        format!("{:.2}%", n as f64 * 100.0 / of as f64)
    }
}

/// A signature's first word (`mismatch`, `candidate_error`, ...), or
/// `other` for the overflow group.
pub fn kind_of(signature: &str) -> String {
    match signature.split_whitespace().next() {
        Some(word) if word.chars().all(|c| c.is_ascii_lowercase() || c == '_') => word.to_owned(),
        _ => "other".to_owned(),
    }
}

/// Whether a group with this signature fails the run (`accepted` and
/// `noisy` groups do not).
pub fn fails(signature: &str) -> bool {
    !(signature.starts_with("accepted ") || signature.starts_with("noisy "))
}

impl<'a> RunView<'a> {
    pub fn new(
        summary: &'a Summary,
        dir: &Path,
        recheck: Option<&'a RecheckSummary>,
    ) -> RunView<'a> {
        let dir = dir.display().to_string();
        RunView {
            counts: counts(summary),
            workers: [
                (Side::Legacy, &summary.status.legacy_target),
                (Side::Candidate, &summary.status.candidate_target),
            ]
            .into_iter()
            .filter(|(_, stats)| stats.any())
            .collect(),
            drift: Some(&summary.recorded_drift).filter(|d| d.with_recording > 0),
            groups: summary
                .groups
                .iter()
                .map(|g| GroupLine {
                    group: g,
                    percent: format!("{:.2}%", g.share * 100.0),
                    kind: kind_of(&g.signature),
                    fails: fails(&g.signature),
                    labels: recheck.and_then(|r| r.group(&g.group)),
                })
                .collect(),
            recheck,
            next: summary.groups.first().map(|g| Next {
                group: command_line(["cutover", "report", "group", &dir, &g.group]),
                show: command_line(["cutover", "report", "show", &dir, &g.first_id]),
                page: Path::new(&dir)
                    .join(super::html::HTML_FILE)
                    .display()
                    .to_string(),
                all_groups: command_line([
                    "cutover",
                    "report",
                    &dir,
                    "--top",
                    &summary.groups.len().to_string(),
                ]),
            }),
            verdict: verdict(summary),
            dir,
            summary,
        }
    }
}

fn counts(s: &Summary) -> Vec<CountLine> {
    let c = &s.counts;
    let line = |name, value, meaning, note: String, tone| CountLine {
        name,
        value,
        percent: percent(value, c.read),
        meaning,
        note,
        part: false,
        relevant: true,
        tone,
    };
    let part = |name, value, meaning| CountLine {
        part: true,
        ..line(name, value, meaning, String::new(), Tone::Bad)
    };
    vec![
        line(
            "read",
            c.read,
            "capture lines read",
            String::new(),
            Tone::Plain,
        ),
        line(
            "matched",
            c.matched,
            "equal answers (or the same error on both sides)",
            format!(
                "({} of them both sides raised the same error)",
                c.matched_errors
            ),
            Tone::Good,
        ),
        line(
            "mismatched",
            c.mismatched,
            "different answers",
            String::new(),
            Tone::Bad,
        ),
        CountLine {
            relevant: c.accepted > 0 || !s.known.is_empty(),
            ..line(
                "accepted",
                c.accepted,
                "differences declared as known and intended",
                "(declared known differences)".into(),
                Tone::Muted,
            )
        },
        CountLine {
            relevant: c.noisy > 0 || s.noise.is_some(),
            ..line(
                "noisy",
                c.noisy,
                "differ only where the legacy disagreed with itself",
                "(only where the legacy disagreed with itself)".into(),
                Tone::Muted,
            )
        },
        line(
            "errors",
            c.errors,
            "a side raised an error",
            format!(
                "(legacy {}, candidate {}, both {})",
                c.legacy_errors, c.candidate_errors, c.both_errors
            ),
            Tone::Bad,
        ),
        part("legacy_errors", c.legacy_errors, "only the legacy raised"),
        part(
            "candidate_errors",
            c.candidate_errors,
            "only the candidate raised",
        ),
        part("both_errors", c.both_errors, "both raised, differently"),
        line(
            "timeouts",
            c.timeouts,
            "a side gave no answer in time",
            String::new(),
            Tone::Bad,
        ),
        line(
            "rejected",
            c.rejected,
            "unreadable capture lines (rejected.jsonl)",
            "(unreadable capture lines: rejected.jsonl)".into(),
            Tone::Bad,
        ),
    ]
}

fn verdict(s: &Summary) -> Verdict {
    let c = &s.counts;
    let exit = s.exit().unwrap_or(Exit::CouldNotRun);
    match exit {
        Exit::Clean => Verdict {
            exit,
            tone: Tone::Good,
            headline: "no differences".into(),
            detail: None,
        },
        Exit::Found => {
            let found: Vec<String> = [
                (c.mismatched, "mismatched"),
                (c.errors, "errored"),
                (c.timeouts, "timed out"),
                (c.rejected, "rejected"),
                (
                    s.contract.as_ref().map_or(0, |k| k.candidate_violations),
                    "broke the output schema (candidate)",
                ),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            Verdict {
                exit,
                tone: Tone::Bad,
                headline: "differences found".into(),
                detail: Some(found.join(", ")),
            }
        }
        Exit::CouldNotRun => Verdict {
            exit,
            tone: Tone::Bad,
            headline: "run aborted".into(),
            detail: Some(
                s.status
                    .abort_reason
                    .clone()
                    .unwrap_or_else(|| "a side failed".into()),
            ),
        },
        Exit::Interrupted | Exit::Terminated => Verdict {
            exit,
            tone: Tone::Warn,
            headline: format!(
                "interrupted by {} (the report covers the records read before it)",
                s.status
                    .signal
                    .map_or("a signal", crate::model::Signal::name)
            ),
            detail: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_names_the_run_by_its_directory_and_counts_in_shares() {
        let group = Group {
            group: "g1".into(),
            signature: "mismatch /a changed".into(),
            count: 1,
            share: 0.5,
            first_id: "x; touch PWNED".into(),
            last_id: "x".into(),
            sample_ids: vec![],
        };
        let mut summary = super::super::test_summary(vec![group]);
        summary.counts.record(crate::model::Outcome::Match, false);
        summary
            .counts
            .record(crate::model::Outcome::Mismatch, false);
        summary.exit_code = 1;
        let view = RunView::new(&summary, Path::new("out dir/x"), None);
        let next = view.next.as_ref().unwrap();
        assert_eq!(next.group, "cutover report group 'out dir/x' g1");
        assert_eq!(
            next.show,
            "cutover report show 'out dir/x' 'x; touch PWNED'"
        );
        let mismatched = view.counts.iter().find(|c| c.name == "mismatched").unwrap();
        assert_eq!(mismatched.percent, "50.00%");
        assert_eq!(view.verdict.headline, "differences found");
        assert_eq!(view.verdict.detail.as_deref(), Some("1 mismatched"));
        assert_eq!(view.groups[0].kind, "mismatch");
        assert!(view.groups[0].fails);
        assert!(
            !view
                .counts
                .iter()
                .find(|c| c.name == "accepted")
                .unwrap()
                .relevant
        );
    }
}
