//! `cutover report diff` on a terminal: how the groups of two runs moved.

use super::style::{heading, Palette, Role};
use crate::review::rundiff::{Change, RecordChange, RunDiff};
use crate::util::escape::escape as esc;
use crate::util::text::counted;
use std::fmt::Write;

/// `cutover report diff`.
pub fn run_diff_text(d: &RunDiff, p: Palette) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} A {} ({} non-matching of {} read)",
        p.paint(Role::Heading, "cutover report diff"),
        esc(&d.a.run_id),
        d.a.non_matching,
        d.a.read
    );
    let _ = writeln!(
        out,
        "{:>21} B {} ({} non-matching of {} read)",
        "",
        esc(&d.b.run_id),
        d.b.non_matching,
        d.b.read
    );
    if !d.same_traffic {
        warn(
            &mut out,
            p,
            &format!(
                "warning: the runs are not over the same traffic (A read {} of {}, B read {} of {}); counts are not comparable one for one",
                counted(d.a.read, "record", "records"),
                d.a.traffic.join(", "),
                d.b.read,
                d.b.traffic.join(", ")
            ),
        );
    }
    if d.a.legacy != d.b.legacy || d.a.candidate != d.b.candidate {
        let _ = writeln!(
            out,
            "  targets: A {} vs {}; B {} vs {}",
            esc(&d.a.legacy),
            esc(&d.a.candidate),
            esc(&d.b.legacy),
            esc(&d.b.candidate)
        );
    }
    let t = &d.tally;
    let _ = writeln!(
        out,
        "  groups: {} appeared, {} grew, {} shrank, {} disappeared (fixed), {} unchanged",
        t.appeared, t.grew, t.shrank, t.disappeared, t.unchanged
    );
    let _ = writeln!(out);
    heading(
        &mut out,
        p,
        &format!(
            "  {:<12}{:>9} {:>9} {:>9}  {:<5} {:<5} signature",
            "change", "A", "B", "Δ", "in A", "in B"
        ),
    );
    for g in &d.groups {
        let role = match g.change {
            Change::Appeared | Change::Grew => Role::Bad,
            Change::Shrank | Change::Disappeared => Role::Good,
            Change::Unchanged => Role::Muted,
        };
        let delta = i128::from(g.count_b()) - i128::from(g.count_a());
        let _ = writeln!(
            out,
            "  {}{:>9} {:>9} {:>9}  {:<5} {:<5} {}",
            p.paint(role, &format!("{:<12}", g.change.as_str())),
            g.count_a(),
            g.count_b(),
            format!("{delta:+}"),
            esc(g.a.as_ref().map_or("-", |s| s.group.as_str())),
            esc(g.b.as_ref().map_or("-", |s| s.group.as_str())),
            esc(&g.signature)
        );
    }
    records_text(&mut out, d, p);
    let _ = writeln!(out);
    let t = &d.records.tally;
    let _ = writeln!(
        out,
        "result: {}",
        if t.new + t.changed > 0 {
            p.paint(
                Role::Bad,
                &format!(
                    "regressed: {} new, {} changed (exit 1)",
                    counted(t.new, "record", "records"),
                    t.changed
                ),
            )
        } else if d.regressed() {
            p.paint(Role::Bad, "regressed: a group appeared or grew (exit 1)")
        } else {
            p.paint(
                Role::Good,
                "no record is new or changed, no group appeared or grew (exit 0)",
            )
        }
    );
    out
}

/// Records shown per kind of change on the terminal (`--json` has up to
/// [`crate::review::rundiff::LISTED`]).
const SHOWN: usize = 20;

/// The records section: counts, then the records of each kind.
fn records_text(out: &mut String, d: &RunDiff, p: Palette) {
    let t = &d.records.tally;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  records: {} new, {} changed, {} fixed, {} still failing",
        t.new, t.changed, t.fixed, t.still_failing
    );
    if t.only_a + t.only_b > 0 {
        warn(
            out,
            p,
            &format!(
                "  counted apart: {} failing only in A's sources, {} only in B's (the other run did not read them)",
                t.only_a, t.only_b
            ),
        );
    }
    for change in [
        RecordChange::New,
        RecordChange::Changed,
        RecordChange::Fixed,
    ] {
        let of_kind: Vec<_> = d
            .records
            .records
            .iter()
            .filter(|m| m.change == change)
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        let total = match change {
            RecordChange::New => t.new,
            RecordChange::Changed => t.changed,
            _ => t.fixed,
        };
        let role = match change {
            RecordChange::Fixed => Role::Good,
            _ => Role::Bad,
        };
        let _ = writeln!(out, "  {}:", p.paint(role, change.as_str()));
        for m in of_kind.iter().take(SHOWN) {
            let sig = |s: &Option<crate::review::rundiff::RecordSide>| {
                s.as_ref().map_or("(clean)".to_owned(), |s| {
                    format!("{} {}", s.group, s.signature)
                })
            };
            let _ = writeln!(
                out,
                "    {} ({}:{})  A: {}  B: {}",
                esc(&m.id),
                esc(&m.source),
                m.line,
                esc(&sig(&m.a)),
                esc(&sig(&m.b))
            );
        }
        if total > SHOWN as u64 {
            let _ = writeln!(
                out,
                "    … {} more (--json lists them)",
                total - SHOWN as u64
            );
        }
    }
}

/// One line in the warning colour.
fn warn(out: &mut String, p: Palette, text: &str) {
    let _ = writeln!(out, "{}", p.paint(Role::Warn, text));
}
