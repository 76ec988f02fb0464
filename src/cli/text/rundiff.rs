//! `cutover report diff` on a terminal: how the groups of two runs moved.

use super::style::{heading, Palette, Role};
use crate::review::rundiff::{Change, RunDiff};
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
        let _ = writeln!(
            out,
            "{}",
            p.paint(
                Role::Warn,
                &format!(
                    "warning: the runs are not over the same traffic (A read {} of {}, B read {} of {}); counts are not comparable one for one",
                    counted(d.a.read, "record", "records"),
                    d.a.traffic.join(", "),
                    d.b.read,
                    d.b.traffic.join(", ")
                )
            )
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
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "result: {}",
        if d.regressed() {
            p.paint(Role::Bad, "regressed: a group appeared or grew (exit 1)")
        } else {
            p.paint(Role::Good, "no group appeared or grew (exit 0)")
        }
    );
    out
}
