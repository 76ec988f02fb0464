//! A run on a terminal: the run-summary model ([`RunView`]) drawn section
//! by section, one function each. `cutover report` prints it, and so does
//! `cutover replay` when the run ends: one rendering of a run, wherever it
//! is read.
//!
//! # Contract
//! Plain text, coloured through a [`Palette`] (plain when colour is off),
//! deterministic apart from the timing figures a run recorded. Everything a
//! run directory holds is hostile (ids, keys, signatures and reasons came
//! from traffic and sides, and the directory may come from anyone): every
//! piece of it is printed through [`crate::util::escape`] (painted text is
//! escaped by the palette), and the commands suggested were quoted by the
//! model.

use super::style::{heading, Palette, Role};
use crate::report::model::{CountLine, RunView};
use crate::util::escape::{escape as esc, escape_lines};
use crate::util::text::counted;
use std::fmt::Write;

/// Mismatch groups the replay lists when it ends (`cutover report` shows more).
pub const TOP_GROUPS: usize = 5;

/// The whole run: every section, `top` groups at most.
pub fn run_text(view: &RunView<'_>, p: Palette, top: usize) -> String {
    let mut out = String::new();
    header(&mut out, view, p);
    out.push('\n');
    counts(&mut out, view, p);
    workers(&mut out, view);
    drift(&mut out, view);
    if let Some(rollout) = &view.summary.rollout {
        out.push_str(&escape_lines(&super::rollout::lines(rollout)));
    }
    out.push('\n');
    latency(&mut out, view, p);
    out.push('\n');
    groups(&mut out, view, p, top);
    recheck(&mut out, view, p);
    rules(&mut out, view, p);
    known(&mut out, view, p);
    contract(&mut out, view, p, top);
    noise(&mut out, view, p, top);
    out.push('\n');
    next(&mut out, view, p);
    verdict(&mut out, view, p);
    out
}

/// ` (e.g. ID)` for the first sample id, or nothing.
fn example(ids: &[String]) -> String {
    ids.first()
        .map_or_else(String::new, |id| format!(" (e.g. {})", esc(id)))
}

/// Which run, which sides, which traffic, how it went.
fn header(out: &mut String, view: &RunView<'_>, p: Palette) {
    let s = view.summary;
    let traffic: Vec<String> = s.spec.traffic.iter().map(|t| t.display_name()).collect();
    let _ = writeln!(
        out,
        "{} {}  ({})",
        p.paint(Role::Heading, "cutover run"),
        p.paint(Role::Heading, &s.run_id),
        esc(&view.dir)
    );
    let _ = writeln!(
        out,
        "  {} (legacy) vs {} (candidate)",
        esc(&s.spec.legacy.to_string()),
        esc(&s.spec.candidate.to_string())
    );
    let _ = writeln!(
        out,
        "  traffic {} · {} · started {} · {:.2}s · {:.0} records/s",
        esc(&traffic.join(", ")),
        s.status.state,
        esc(&s.started_at),
        s.duration_seconds,
        s.records_per_second
    );
}

/// The counts, with their shares and the numbers behind them; the three
/// kinds of error folded into `errors`.
fn counts(out: &mut String, view: &RunView<'_>, p: Palette) {
    for c in &view.counts {
        if c.part || !c.relevant {
            continue;
        }
        if c.name == "read" {
            let _ = writeln!(out, "  {:<12}{:>9}", "read", c.value);
            continue;
        }
        count_line(out, c, p);
    }
}

fn count_line(out: &mut String, c: &CountLine, p: Palette) {
    let n = c.value;
    let shown = if n > 0 {
        p.paint(c.tone.into(), &format!("{n:>9}"))
    } else {
        format!("{n:>9}")
    };
    let text = format!("  {:<12}{shown}  {:>7}  {}", c.name, c.percent, c.note);
    let _ = writeln!(out, "{}", text.trim_end());
}

/// What the sides' plumbing did, when it did anything.
fn workers(out: &mut String, view: &RunView<'_>) {
    for (side, stats) in &view.workers {
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

/// The live legacy against production's recorded responses.
fn drift(out: &mut String, view: &RunView<'_>) {
    let Some(d) = view.drift else {
        return;
    };
    let _ = writeln!(
        out,
        "  recorded    {} production's response: the live legacy still gives it for {}, drifted on {}{}",
        counted(d.with_recording, "record carries", "records carry"),
        d.same_as_recorded,
        d.drifted,
        example(&d.sample_ids)
    );
}

fn latency(out: &mut String, view: &RunView<'_>, p: Palette) {
    let summary = view.summary;
    let rows = |out: &mut String, l: &crate::report::SideLatency| {
        for (side, l) in [("legacy", &l.legacy), ("candidate", &l.candidate)] {
            let _ = writeln!(
                out,
                "  {side:<12}{:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                l.p50, l.p90, l.p99, l.max, l.mean
            );
        }
    };
    match &summary.slot_wait_ms {
        None => heading(
            out,
            p,
            "latency ms        p50       p90       p99       max      mean",
        ),
        Some(_) => heading(
            out,
            p,
            "service ms        p50       p90       p99       max      mean  (request sent → answer)",
        ),
    }
    rows(out, &summary.latency_ms);
    if let Some(waits) = &summary.slot_wait_ms {
        heading(
            out,
            p,
            "slot wait ms      p50       p90       p99       max      mean  (waiting for a connection or a worker, before the request left)",
        );
        rows(out, waits);
    }
    if let Some(pace) = &summary.status.pace {
        let asked = match pace.pace {
            crate::model::Pace::Rate(n) => format!("--rate {n}/s"),
            crate::model::Pace::Speed(x) => format!("--speed {x}x"),
            crate::model::Pace::Unlimited => "unpaced".to_owned(),
        };
        let _ = writeln!(
            out,
            "  pace        {asked}: {} records started at {}/s",
            pace.started, pace.achieved_per_second
        );
    }
}

/// The `top` largest groups, with their recheck labels.
fn groups(out: &mut String, view: &RunView<'_>, p: Palette, top: usize) {
    if view.groups.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.paint(Role::Good, "no mismatch groups: every record matched")
        );
        return;
    }
    heading(
        out,
        p,
        &format!(
            "mismatch groups ({} in all, largest first)",
            view.groups.len()
        ),
    );
    for g in view.groups.iter().take(top) {
        let labels = g
            .labels
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
            p.paint(Role::Id, &g.group.group),
            g.group.count,
            g.percent,
            esc(&g.group.signature),
            esc(&g.group.first_id)
        );
    }
    if view.groups.len() > top {
        let more = (view.groups.len() - top) as u64;
        let _ = writeln!(
            out,
            "  … {} ({} shows them)",
            counted(more, "more group", "more groups"),
            view.next
                .as_ref()
                .map_or_else(String::new, |n| n.all_groups.clone())
        );
    }
}

fn recheck(out: &mut String, view: &RunView<'_>, p: Palette) {
    let Some(r) = view.recheck else {
        return;
    };
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

/// The rule audit: what each rule hid, and rules that matched nothing.
fn rules(out: &mut String, view: &RunView<'_>, p: Palette) {
    let rules = &view.summary.rules;
    if rules.is_empty() {
        return;
    }
    let _ = writeln!(out);
    heading(out, p, "comparison rules (what each one hid)");
    for r in rules {
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

/// What the behaviour contract found: counts, then the largest groups.
fn contract(out: &mut String, view: &RunView<'_>, p: Palette, top: usize) {
    let Some(c) = &view.summary.contract else {
        return;
    };
    let _ = writeln!(out);
    heading(
        out,
        p,
        "behaviour contract ([contract]; whatever the outcome)",
    );
    let candidate = format!(
        "candidate broke the output schema in {}",
        counted(c.candidate_violations, "record", "records")
    );
    let role = if c.fails() { Role::Bad } else { Role::Good };
    let _ = writeln!(
        out,
        "  {}{}; legacy in {} (findings about the legacy)",
        p.paint(role, &candidate),
        if c.fails() { " (fails the run)" } else { "" },
        c.legacy_violations
    );
    let _ = writeln!(
        out,
        "  outside the input schema: {} (still compared; never fail a run)",
        counted(c.outside_contract, "record", "records")
    );
    let _ = writeln!(
        out,
        "  undeclared error types: legacy {}, candidate {}",
        c.legacy_undeclared_errors, c.candidate_undeclared_errors
    );
    let groups = c
        .violations
        .iter()
        .chain(&c.undeclared_errors)
        .chain(&c.outside);
    for g in groups.take(top) {
        let who = g.who();
        let what = if g.rule.is_empty() {
            format!("undeclared error {}", esc(&g.pointer))
        } else {
            format!("at {:?} rule {}", esc(&g.pointer), esc(&g.rule))
        };
        let _ = writeln!(
            out,
            "  {who:<9} {:>6}  {what}: {}{}",
            g.count,
            esc(&g.message),
            example(&g.sample_ids)
        );
    }
    if !c.non_goals.is_empty() {
        let _ = writeln!(out, "  non-goals: {}", esc(&c.non_goals));
    }
}

fn known(out: &mut String, view: &RunView<'_>, p: Palette) {
    let known = &view.summary.known;
    if known.is_empty() {
        return;
    }
    let _ = writeln!(out);
    heading(out, p, "known differences");
    for k in known {
        // Audited like a rule: an entry that covered nothing (often one from
        // a cutover.toml meant for another comparison) is said loudly.
        let note = match k.accepted_records {
            0 => format!(
                " {}",
                p.paint(
                    Role::Warn,
                    "WARNING: it covered nothing in this run; check it"
                )
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} ({}): accepted {}  ({}){note}",
            esc(&format!("{:?}", k.name)),
            esc(&k.path),
            counted(k.accepted_records, "record", "records"),
            esc(&k.reason)
        );
    }
}

/// What the noise probe learned, the `top` noisiest paths.
fn noise(out: &mut String, view: &RunView<'_>, p: Palette, top: usize) {
    let Some(n) = &view.summary.noise else {
        return;
    };
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

/// Where to look next.
fn next(out: &mut String, view: &RunView<'_>, p: Palette) {
    let Some(next) = &view.next else {
        return;
    };
    let _ = writeln!(
        out,
        "{} {} · {} · {}",
        p.paint(Role::Muted, "next:"),
        next.group,
        next.show,
        esc(&next.page)
    );
}

fn verdict(out: &mut String, view: &RunView<'_>, p: Palette) {
    let v = &view.verdict;
    let mut text = p.paint(v.tone.into(), &v.headline);
    if let Some(detail) = &v.detail {
        let _ = write!(text, ": {}", esc(detail));
    }
    let _ = writeln!(out, "result: {text} (exit {})", view.summary.exit_code);
}
