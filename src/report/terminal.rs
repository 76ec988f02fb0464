//! The short summary printed at the end of a run.
//!
//! Plain text, no colour, a few lines: counts with rates, per-side latency, the
//! report directory, and what the exit status means. Deterministic apart from
//! timing figures.

use super::Summary;
use std::fmt::Write;
use std::path::Path;

/// ` (e.g. ID)` for the first sample id, or nothing.
fn example(ids: &[String]) -> String {
    ids.first()
        .map_or_else(String::new, |id| format!(" (e.g. {id})"))
}

/// Groups listed in the terminal summary.
pub const TOP_GROUPS: usize = 5;

pub fn render(summary: &Summary, dir: &Path) -> String {
    let c = &summary.counts;
    let pct = |n: u64| {
        if c.read == 0 {
            0.0
        } else {
            n as f64 * 100.0 / c.read as f64
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cutover replay: {} records read in {:.2}s ({:.0}/s), {} vs {}",
        c.read,
        summary.duration_seconds,
        summary.records_per_second,
        summary.settings.legacy,
        summary.settings.candidate
    );
    let _ = writeln!(
        out,
        "  matched     {:>9}  {:6.2}%  ({} of them both sides raised the same error)",
        c.matched,
        pct(c.matched),
        c.matched_errors
    );
    let _ = writeln!(
        out,
        "  mismatched  {:>9}  {:6.2}%",
        c.mismatched,
        pct(c.mismatched)
    );
    if let Some(noise) = &summary.noise {
        let _ = writeln!(
            out,
            "  noisy       {:>9}  {:6.2}%  (differ only where the legacy disagreed with itself; {} of {} probed records had noise)",
            c.noisy,
            pct(c.noisy),
            noise.records_with_noise,
            noise.probed_records
        );
        for path in noise.paths.iter().take(TOP_GROUPS) {
            let _ = writeln!(
                out,
                "    noise at {}  in {:.2}% of records",
                path.path,
                path.rate * 100.0
            );
        }
    }
    if c.accepted > 0 || !summary.known.is_empty() {
        let _ = writeln!(
            out,
            "  accepted    {:>9}  {:6.2}%  (differences declared as known and intended)",
            c.accepted,
            pct(c.accepted)
        );
    }
    let _ = writeln!(
        out,
        "  errors      {:>9}  {:6.2}%  (legacy {}, candidate {}, both {})",
        c.errors,
        pct(c.errors),
        c.legacy_errors,
        c.candidate_errors,
        c.both_errors
    );
    let _ = writeln!(
        out,
        "  timeouts    {:>9}  {:6.2}%",
        c.timeouts,
        pct(c.timeouts)
    );
    let _ = writeln!(
        out,
        "  rejected    {:>9}  {:6.2}%  (unreadable capture lines)",
        c.rejected,
        pct(c.rejected)
    );
    let l = &summary.latency_ms;
    let _ = writeln!(
        out,
        "  latency ms  p50/p90/p99/max  legacy {:.3}/{:.3}/{:.3}/{:.3}  candidate {:.3}/{:.3}/{:.3}/{:.3}",
        l.legacy.p50, l.legacy.p90, l.legacy.p99, l.legacy.max, l.candidate.p50, l.candidate.p90, l.candidate.p99, l.candidate.max
    );
    for (side, stats) in [
        ("legacy", &summary.status.legacy_target),
        ("candidate", &summary.status.candidate_target),
    ] {
        if stats.retries + stats.restarts + stats.timeout_kills + stats.protocol_errors > 0 {
            let _ = writeln!(
                out,
                "  {side} workers: {} restarts, {} retried calls, {} killed on timeout, {} protocol errors",
                stats.restarts, stats.retries, stats.timeout_kills, stats.protocol_errors
            );
        }
    }
    let drift = &summary.recorded_drift;
    if drift.with_recording > 0 {
        let _ = writeln!(
            out,
            "  recorded    {} records carry production's response: the live legacy still gives it for {}, drifted on {}{}",
            drift.with_recording,
            drift.same_as_recorded,
            drift.drifted,
            example(&drift.sample_ids)
        );
    }
    if !summary.groups.is_empty() {
        let _ = writeln!(
            out,
            "  top mismatch groups ({} in all):",
            summary.groups.len()
        );
        for g in summary.groups.iter().take(TOP_GROUPS) {
            let _ = writeln!(
                out,
                "    {:<4} {:>9}  {:6.2}%  {}  (e.g. {})",
                g.group,
                g.count,
                g.share * 100.0,
                g.signature,
                g.first_id
            );
        }
    }
    for rule in &summary.rules {
        let _ = writeln!(
            out,
            "  rule {:?} ({} {}): hid {} paths in {} records{}",
            rule.name,
            rule.kind,
            rule.path,
            rule.suppressed_paths,
            rule.suppressed_records,
            if rule.matched_nothing {
                " — WARNING: its path matched nothing in this run; check it".to_owned()
            } else {
                example(&rule.sample_ids)
            }
        );
    }
    for known in &summary.known {
        let _ = writeln!(
            out,
            "  known {:?} ({}): accepted {} records{}",
            known.name,
            known.path,
            known.accepted_records,
            example(&known.sample_ids)
        );
    }
    if let Some(rollout) = &summary.rollout {
        out.push_str(&crate::flags::rollout::render(rollout));
    }
    let _ = writeln!(out, "report: {}", dir.display());
    let verdict = match summary.exit_code {
        0 => "no differences".to_owned(),
        1 => {
            let mut parts = Vec::new();
            for (n, what) in [
                (c.mismatched, "mismatched"),
                (c.errors, "errored"),
                (c.timeouts, "timed out"),
                (c.rejected, "rejected"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            format!(
                "differences found: {} (see mismatches.csv and diffs.txt)",
                parts.join(", ")
            )
        }
        2 => format!(
            "run aborted: {}",
            summary
                .status
                .abort_reason
                .as_deref()
                .unwrap_or("a target failed")
        ),
        _ => "interrupted: the report covers the records read before Ctrl-C".to_owned(),
    };
    let _ = writeln!(out, "result: {verdict} (exit {})", summary.exit_code);
    out
}
