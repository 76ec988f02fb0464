//! Review output for terminals: a run, a record, a group, a run-to-run diff.
//!
//! Plain text, coloured through a [`Palette`] (which is plain when colour is
//! off), deterministic apart from the timing figures a run recorded.
//!
//! Everything a run directory holds is hostile (its ids, keys, inputs and
//! answers came from traffic and targets, and the directory may come from
//! anyone): every piece of it is printed through [`crate::terminal::escape`]
//! (painted text is escaped by the palette), and every command suggested is
//! made by [`crate::terminal::command_line`].

use super::diffview::{DiffLine, DiffView, LineKind};
use super::records::{pretty, RecordView};
use super::rundiff::{Change, RunDiff};
use super::style::{Palette, Role};
use super::Run;
use crate::report::labels::Label;
use crate::terminal::{command_line, counted, escape as esc, escape_lines};
use std::fmt::Write;
use unicode_width::UnicodeWidthChar;

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "0.00%".into()
    } else {
        format!("{:.2}%", n as f64 * 100.0 / of as f64)
    }
}

fn label_role(label: Label) -> Role {
    match label {
        Label::Deterministic => Role::Good,
        Label::Flaky => Role::Warn,
        Label::Unchecked => Role::Muted,
    }
}

/// ` (e.g. ID)` for the first sample id, or nothing.
fn example(ids: &[String]) -> String {
    ids.first()
        .map_or_else(String::new, |id| format!(" (e.g. {})", esc(id)))
}

/// A run as text: its summary, its groups (the `top` largest), the rule
/// audit, known differences, noise, rollout and recheck labels, and the
/// result. `cutover report` prints it, and so does `cutover replay` when the
/// run ends: one rendering of a run, wherever it is read.
pub fn run_text(run: &Run, p: Palette, top: usize) -> String {
    let s = &run.summary;
    let c = &s.counts;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}  ({})",
        p.paint(Role::Heading, "cutover run"),
        p.paint(Role::Heading, &s.run_id),
        esc(&run.dir.display().to_string())
    );
    let _ = writeln!(
        out,
        "  {} (legacy) vs {} (candidate)",
        esc(&s.settings.legacy),
        esc(&s.settings.candidate)
    );
    let _ = writeln!(
        out,
        "  traffic {} · {} · started {} · {:.2}s · {:.0} records/s",
        esc(&s.settings.traffic.join(", ")),
        esc(&s.status.state),
        esc(&s.started_at),
        s.duration_seconds,
        s.records_per_second
    );
    let _ = writeln!(out);
    let line = |out: &mut String, name: &str, n: u64, note: String, role: Role| {
        let shown = if n > 0 {
            p.paint(role, &format!("{n:>9}"))
        } else {
            format!("{n:>9}")
        };
        let text = format!("  {name:<12}{shown}  {:>7}  {note}", pct(n, c.read));
        let _ = writeln!(out, "{}", text.trim_end());
    };
    let _ = writeln!(out, "  {:<12}{:>9}", "read", c.read);
    line(
        &mut out,
        "matched",
        c.matched,
        format!(
            "({} of them both sides raised the same error)",
            c.matched_errors
        ),
        Role::Good,
    );
    line(
        &mut out,
        "mismatched",
        c.mismatched,
        String::new(),
        Role::Bad,
    );
    if c.accepted > 0 || !s.known.is_empty() {
        line(
            &mut out,
            "accepted",
            c.accepted,
            "(declared known differences)".into(),
            Role::Muted,
        );
    }
    if c.noisy > 0 || s.noise.is_some() {
        line(
            &mut out,
            "noisy",
            c.noisy,
            "(only where the legacy disagreed with itself)".into(),
            Role::Muted,
        );
    }
    line(
        &mut out,
        "errors",
        c.errors,
        format!(
            "(legacy {}, candidate {}, both {})",
            c.legacy_errors, c.candidate_errors, c.both_errors
        ),
        Role::Bad,
    );
    line(&mut out, "timeouts", c.timeouts, String::new(), Role::Bad);
    line(
        &mut out,
        "rejected",
        c.rejected,
        "(unreadable capture lines: rejected.jsonl)".into(),
        Role::Bad,
    );
    for (side, stats) in [
        ("legacy", &s.status.legacy_target),
        ("candidate", &s.status.candidate_target),
    ] {
        if stats.retries + stats.restarts + stats.timeout_kills + stats.protocol_errors > 0 {
            let _ = writeln!(
                out,
                "  {side} workers: {}, {}, {} killed on timeout, {}",
                counted(stats.restarts, "restart", "restarts"),
                counted(stats.retries, "retried call", "retried calls"),
                stats.timeout_kills,
                counted(stats.protocol_errors, "protocol error", "protocol errors")
            );
        }
    }
    let d = &s.recorded_drift;
    if d.with_recording > 0 {
        let _ = writeln!(
            out,
            "  recorded    {} production's response: the live legacy still gives it for {}, drifted on {}{}",
            counted(d.with_recording, "record carries", "records carry"),
            d.same_as_recorded,
            d.drifted,
            example(&d.sample_ids)
        );
    }
    if let Some(rollout) = &s.rollout {
        out.push_str(&escape_lines(&crate::flags::rollout::render(rollout)));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        p.paint(
            Role::Heading,
            "latency ms        p50       p90       p99       max      mean"
        )
    );
    for (side, l) in [
        ("legacy", &s.latency_ms.legacy),
        ("candidate", &s.latency_ms.candidate),
    ] {
        let _ = writeln!(
            out,
            "  {side:<12}{:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            l.p50, l.p90, l.p99, l.max, l.mean
        );
    }
    let _ = writeln!(out);
    if s.groups.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.paint(Role::Good, "no mismatch groups: every record matched")
        );
    } else {
        let _ = writeln!(
            out,
            "{}",
            p.paint(
                Role::Heading,
                &format!("mismatch groups ({} in all, largest first)", s.groups.len())
            )
        );
        for g in s.groups.iter().take(top) {
            let labels = run
                .recheck
                .as_ref()
                .and_then(|r| r.group(&g.group))
                .map(|l| {
                    let mut parts =
                        vec![p.paint(Role::Good, &format!("{} deterministic", l.deterministic))];
                    if l.flaky > 0 {
                        parts.push(p.paint(Role::Warn, &format!("{} flaky", l.flaky)));
                    }
                    if l.unchecked > 0 {
                        parts.push(format!("{} unchecked", l.unchecked));
                    }
                    format!("  [{}]", parts.join(", "))
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<5}{:>9}  {:>7}  {}  e.g. {}{labels}",
                p.paint(Role::Id, &g.group),
                g.count,
                format!("{:.2}%", g.share * 100.0),
                esc(&g.signature),
                esc(&g.first_id)
            );
        }
        if s.groups.len() > top {
            let all = s.groups.len().to_string();
            let _ = writeln!(
                out,
                "  … {} ({} shows them)",
                counted((s.groups.len() - top) as u64, "more group", "more groups"),
                command_line(["cutover", "report", &s.run_id, "--top", &all])
            );
        }
    }
    if let Some(r) = &run.recheck {
        let _ = writeln!(
            out,
            "  recheck (--times {}): {} deterministic, {} flaky, {} unchecked",
            r.times,
            p.paint(Role::Good, &r.deterministic.to_string()),
            p.paint(
                if r.flaky > 0 { Role::Warn } else { Role::Muted },
                &r.flaky.to_string()
            ),
            r.unchecked
        );
    }
    if !s.rules.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            p.paint(Role::Heading, "comparison rules (what each one hid)")
        );
        for r in &s.rules {
            let note = if r.matched_nothing {
                format!(
                    " {}",
                    p.paint(
                        Role::Warn,
                        "WARNING: its path matched nothing in this run; check it",
                    )
                )
            } else {
                example(&r.sample_ids)
            };
            let _ = writeln!(
                out,
                "  rule {} ({} {}): present in {}, hid {} in {}{note}",
                esc(&format!("{:?}", r.name)),
                esc(&r.kind),
                esc(&r.path),
                counted(r.present_in_records, "record", "records"),
                counted(r.suppressed_paths, "path", "paths"),
                counted(r.suppressed_records, "record", "records")
            );
        }
    }
    if !s.known.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", p.paint(Role::Heading, "known differences"));
        for k in &s.known {
            let _ = writeln!(
                out,
                "  {} ({}): accepted {}  ({})",
                esc(&format!("{:?}", k.name)),
                esc(&k.path),
                counted(k.accepted_records, "record", "records"),
                esc(&k.reason)
            );
        }
    }
    if let Some(n) = &s.noise {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} {} of {} had noise",
            p.paint(Role::Heading, "noise:"),
            n.records_with_noise,
            counted(n.probed_records, "probed record", "probed records")
        );
        for path in n.paths.iter().take(top) {
            let _ = writeln!(
                out,
                "  {}  in {:.2}% of records",
                esc(&path.path),
                path.rate * 100.0
            );
        }
    }
    let _ = writeln!(out);
    if let Some(g) = s.groups.first() {
        let _ = writeln!(
            out,
            "{} {} · {} · {}",
            p.paint(Role::Muted, "next:"),
            command_line(["cutover", "report", "group", &s.run_id, &g.group]),
            command_line(["cutover", "report", "show", &s.run_id, &g.first_id]),
            esc(&run
                .dir
                .join(crate::report::html::HTML_FILE)
                .display()
                .to_string())
        );
    }
    let verdict = match s.exit_code {
        0 => p.paint(Role::Good, "no differences"),
        1 => {
            let found: Vec<String> = [
                (c.mismatched, "mismatched"),
                (c.errors, "errored"),
                (c.timeouts, "timed out"),
                (c.rejected, "rejected"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            format!(
                "{}: {}",
                p.paint(Role::Bad, "differences found"),
                found.join(", ")
            )
        }
        2 => format!(
            "{}: {}",
            p.paint(Role::Bad, "run aborted"),
            esc(s
                .status
                .abort_reason
                .as_deref()
                .unwrap_or("a target failed"))
        ),
        _ => p.paint(
            Role::Warn,
            &format!(
                "interrupted by {} (the report covers the records read before it)",
                s.status
                    .signal
                    .map_or("a signal", crate::stop::Signal::name)
            ),
        ),
    };
    let _ = writeln!(out, "result: {verdict} (exit {})", s.exit_code);
    out
}

/// How diffs are laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub side_by_side: bool,
    pub width: usize,
}

fn segments(p: Palette, line: &DiffLine, plain: Role, word: Role) -> String {
    line.segments
        .iter()
        .map(|s| p.paint(if s.emphasized { word } else { plain }, &s.text))
        .collect()
}

/// A unified diff, coloured, with the changed words highlighted.
pub fn unified(view: &DiffView, p: Palette) -> String {
    let mut out = String::new();
    if view.is_empty() {
        return out;
    }
    let _ = writeln!(out, "{}", p.paint(Role::Removed, "--- legacy"));
    let _ = writeln!(out, "{}", p.paint(Role::Added, "+++ candidate"));
    for hunk in &view.hunks {
        let _ = writeln!(out, "{}", p.paint(Role::Hunk, &hunk.header));
        for line in &hunk.lines {
            let text = match line.kind {
                LineKind::Same => format!(" {}", esc(&line.text())),
                LineKind::Removed => format!(
                    "{}{}",
                    p.paint(Role::Removed, "-"),
                    segments(p, line, Role::Removed, Role::RemovedWord)
                ),
                LineKind::Added => format!(
                    "{}{}",
                    p.paint(Role::Added, "+"),
                    segments(p, line, Role::Added, Role::AddedWord)
                ),
            };
            let _ = writeln!(out, "{text}");
        }
    }
    if view.truncated {
        let _ = writeln!(
            out,
            "{}",
            p.paint(
                Role::Muted,
                "(the diff covers the first 256 KiB of each answer)"
            )
        );
    }
    out
}

/// Cuts a line's segments, escaped, into pieces of at most `width` display
/// columns.
fn wrap(line: &DiffLine, width: usize) -> Vec<Vec<(bool, String)>> {
    let mut rows: Vec<Vec<(bool, String)>> = vec![Vec::new()];
    let mut used = 0;
    for seg in &line.segments {
        for ch in esc(&seg.text).chars() {
            let w = ch.width().unwrap_or(0);
            if used + w > width && used > 0 {
                rows.push(Vec::new());
                used = 0;
            }
            let row = rows.last_mut().expect("never empty");
            match row.last_mut() {
                Some((e, text)) if *e == seg.emphasized => text.push(ch),
                _ => row.push((seg.emphasized, ch.to_string())),
            }
            used += w;
        }
    }
    rows
}

fn cell(p: Palette, piece: Option<&Vec<(bool, String)>>, kind: LineKind, width: usize) -> String {
    let (plain, word) = match kind {
        LineKind::Same => (Role::Muted, Role::Muted),
        LineKind::Removed => (Role::Removed, Role::RemovedWord),
        LineKind::Added => (Role::Added, Role::AddedWord),
    };
    let mut used = 0;
    let mut text = String::new();
    for (emphasized, s) in piece.into_iter().flatten() {
        used += s.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>();
        let role = if *emphasized { word } else { plain };
        text.push_str(&if kind == LineKind::Same {
            s.clone()
        } else {
            p.paint(role, s)
        });
    }
    text.push_str(&" ".repeat(width.saturating_sub(used)));
    text
}

/// Legacy on the left, candidate on the right, long lines wrapped.
pub fn side_by_side(view: &DiffView, p: Palette, width: usize) -> String {
    let mut out = String::new();
    if view.is_empty() {
        return out;
    }
    // "NNNN │" on each side, a space between the halves.
    let col = (width.saturating_sub(15) / 2).max(10);
    let _ = writeln!(
        out,
        "{}",
        p.paint(
            Role::Heading,
            &format!("{:>5} {:<col$} │{:>5} {}", "", "legacy", "", "candidate")
        )
    );
    for hunk in &view.hunks {
        let _ = writeln!(out, "{}", p.paint(Role::Hunk, &hunk.header));
        for row in hunk.side_by_side() {
            let left = row.left.map(|l| wrap(l, col)).unwrap_or_default();
            let right = row.right.map(|l| wrap(l, col)).unwrap_or_default();
            for i in 0..left.len().max(right.len()).max(1) {
                let number = |line: Option<&DiffLine>, n: Option<usize>| match (i, line, n) {
                    (0, Some(_), Some(n)) => format!("{n:>5}"),
                    _ => "     ".to_owned(),
                };
                let lk = row.left.map_or(LineKind::Same, |l| l.kind);
                let rk = row.right.map_or(LineKind::Same, |l| l.kind);
                let mark = |kind: LineKind, present: bool| match (kind, present && i == 0) {
                    (LineKind::Removed, true) => p.paint(Role::Removed, "-"),
                    (LineKind::Added, true) => p.paint(Role::Added, "+"),
                    _ => " ".to_owned(),
                };
                let left_no = number(row.left, row.left.and_then(|l| l.legacy_line));
                let right_no = number(row.right, row.right.and_then(|l| l.candidate_line));
                let _ = writeln!(
                    out,
                    "{}{}{} │{}{}{}",
                    p.paint(Role::Muted, &left_no),
                    mark(lk, row.left.is_some()),
                    cell(p, left.get(i), lk, col),
                    p.paint(Role::Muted, &right_no),
                    mark(rk, row.right.is_some()),
                    cell(p, right.get(i), rk, col).trim_end()
                );
            }
        }
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// One record: where it came from, its group, its input and the diff.
pub fn record_text(r: &RecordView, p: Palette, layout: Layout) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}{}  ({}:{})",
        p.paint(Role::Heading, "record"),
        p.paint(Role::Id, &r.id),
        r.key
            .as_deref()
            .map_or_else(String::new, |k| format!("  key {}", esc(k))),
        esc(&r.source),
        r.line
    );
    let _ = writeln!(
        out,
        "  outcome  {}   group {}: {}",
        p.paint(Role::Bad, &r.outcome),
        esc(&r.group),
        esc(&r.signature)
    );
    if let Some(label) = &r.recheck {
        let mut text = format!(
            "  recheck  {} ({} of {} gave this signature)",
            p.paint(label_role(label.label), label.label.as_str()),
            label.reproduced,
            counted(label.runs.into(), "re-run", "re-runs")
        );
        if !label.seen.is_empty() {
            let _ = write!(text, "; also seen: {}", esc(&label.seen.join(" | ")));
        }
        let _ = writeln!(out, "{text}");
    }
    if !r.paths.is_empty() {
        let _ = writeln!(out, "  paths    {}", esc(&r.paths));
    }
    let _ = writeln!(out, "{}", p.paint(Role::Heading, "input"));
    out.push_str(&escape_lines(&indent(&pretty(&r.input))));
    let _ = writeln!(
        out,
        "{}",
        p.paint(Role::Heading, "diff (legacy → candidate)")
    );
    if r.view.is_empty() {
        let _ = writeln!(
            out,
            "  (the two answers print the same; the difference is in how they were classified)"
        );
    } else if layout.side_by_side {
        out.push_str(&side_by_side(&r.view, p, layout.width));
    } else {
        out.push_str(&unified(&r.view, p));
    }
    out
}

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
    let _ = writeln!(
        out,
        "{}",
        p.paint(
            Role::Heading,
            &format!(
                "  {:<12}{:>9} {:>9} {:>9}  {:<5} {:<5} signature",
                "change", "A", "B", "Δ", "in A", "in B"
            )
        )
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
