//! What a replay says about the rollout, on a terminal: two lines of the
//! run summary (the `rollout` section of `summary.json`, drawn).

use crate::flags::state::percent_text;
use crate::report::rollout::RolloutReport;
use crate::util::text::counted;

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "mixed".into(), |p| format!("{}%", percent_text(p)))
}

/// The run summary's lines about the rollout.
pub fn lines(report: &RolloutReport) -> String {
    let r = report;
    let mut out = String::new();
    if r.state == "unknown" {
        out.push_str(&format!(
            "  rollout     unknown ({}): legacy serves every record, none shadowed\n",
            r.unknown_reason.as_deref().unwrap_or("no flag state")
        ));
    } else {
        out.push_str(&format!(
            "  rollout     serve {} / shadow {} ({}): candidate serves {}, {} of them differ; {} shadowed; {} without key\n",
            pct(r.serve_percent),
            pct(r.shadow_percent),
            r.state_origin.as_deref().unwrap_or(&r.source),
            counted(r.candidate_serves, "record", "records"),
            r.candidate_serves_differing,
            r.shadowed,
            r.without_key
        ));
    }
    let e = &r.evidence;
    let verdict = if e.passes {
        format!("supports serve {}%", percent_text(r.supported_percent))
    } else {
        format!(
            "supports serve 0% ({})",
            e.needed.as_deref().unwrap_or("the gate does not pass")
        )
    };
    out.push_str(&format!(
        "  evidence    {} of {} against the candidate, upper 95% bound {:.4}% (max {:.4}%, min {}): {verdict}\n",
        e.against,
        counted(e.records, "record", "records"),
        e.upper_bound * 100.0,
        e.max_mismatch_bound * 100.0,
        counted(e.min_records, "record", "records")
    ));
    out
}
