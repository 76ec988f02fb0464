//! `cutover report` and its subcommands: `show`, `group`, `diff`, `merge`.
//!
//! # Contract
//! Finds the run where `--reports-dir` (else `[replay] reports_dir`, else
//! `reports`) says, reads it with [`crate::review`], prints it as text
//! (coloured and paged only on a terminal) or as `--json`, and exits as
//! [`super::exit`] says for each subcommand.

use super::args::{
    DiffArgs, GroupArgs, LayoutArgs, MergeArgs, OutputArgs, ReportAction, ReportArgs, RunsArgs,
    ShowArgs,
};
use super::text::diff::Layout;
use super::text::style::{self, Palette, Role};
use super::text::{pager, record, rundiff, summary};
use super::{exit, settings, Exit};
use crate::report::labels::RecheckSummary;
use crate::report::model::RunView;
use crate::report::Summary;
use crate::review::records::{find, RecordView};
use crate::review::Run;
use crate::util::escape::{command_line, escape as esc};
use crate::util::text::counted;
use anyhow::Context;
use serde::Serialize;
use std::path::Path;

/// `report --json`.
#[derive(Serialize)]
struct RunJson<'a> {
    run_dir: String,
    #[serde(flatten)]
    summary: &'a Summary,
    recheck: Option<&'a RecheckSummary>,
}

/// `report show --json` and `report group --json`.
#[derive(Serialize)]
struct RecordsJson<'a> {
    run_id: &'a str,
    run_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a crate::report::Group>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recheck: Option<&'a crate::report::labels::GroupLabels>,
    /// Records that matched the query in all.
    matches: u64,
    /// The first `limit` of them.
    records: &'a [RecordView],
}

/// The run a user named, looked up where `--reports-dir` says.
pub(super) fn open_run(runs: &RunsArgs, run: &str, config: Option<&Path>) -> anyhow::Result<Run> {
    let reports = settings::reports_dir(runs.reports_dir.as_deref(), config)?;
    Ok(Run::open(&reports, run)?)
}

/// How text is coloured.
pub(super) fn palette(output: &OutputArgs) -> Palette {
    Palette {
        color: !output.json && output.color.enabled(),
    }
}

/// Prints text, through the pager unless `--no-pager`.
pub(super) fn emit_text(output: &OutputArgs, text: &str) -> anyhow::Result<()> {
    pager::emit(text, !output.no_pager).context("cannot write <stdout>")
}

/// Prints JSON, never paged.
pub(super) fn emit_json(value: &impl Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("cannot serialise the JSON")?;
    text.push('\n');
    pager::emit(&text, false).context("cannot write <stdout>")
}

/// How diffs are laid out.
pub(super) fn layout(args: &LayoutArgs) -> Layout {
    Layout {
        side_by_side: args.side_by_side,
        width: style::width(args.width),
    }
}

/// Runs `cutover report ...`.
pub fn run(args: ReportArgs, config: Option<&Path>) -> anyhow::Result<Exit> {
    match args.action {
        None => overview(args, config),
        Some(ReportAction::Show(a)) => show(a, config),
        Some(ReportAction::Group(a)) => group(a, config),
        Some(ReportAction::Diff(a)) => diff(a, config),
        Some(ReportAction::Merge(a)) => merge(a),
    }
}

/// `report merge`: the partials merged ([`crate::report::merge`]), the
/// merged run's closing summary printed as `replay` prints it.
fn merge(args: MergeArgs) -> anyhow::Result<Exit> {
    let (spec, _) = crate::report::merge::common_spec(&args.partials)?;
    let rollout = match &spec.flags {
        Some(flags) => {
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let tally = runtime.block_on(crate::report::rollout::RolloutTally::open(flags));
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            Some(tally)
        }
        None => None,
    };
    let plan = crate::report::merge::MergePlan {
        rollout,
        ..Default::default()
    };
    let summary = crate::report::merge::merge(&args.partials, &args.out, plan)?;
    super::replay::print_closing(&summary, &args.out)
}

fn overview(args: ReportArgs, config: Option<&Path>) -> anyhow::Result<Exit> {
    let mut run = open_run(&args.runs, &args.run, config)?;
    if args.html {
        crate::report::html::regenerate(&run.dir)?;
        run = Run::open(Path::new(""), &run.dir.display().to_string())?;
    }
    if let Some(path) = &args.junit {
        crate::report::junit_sink::write(&run.summary, &run.dir, run.recheck.as_ref(), path)?;
    }
    if args.output.json {
        emit_json(&RunJson {
            run_dir: run.dir.display().to_string(),
            summary: &run.summary,
            recheck: run.recheck.as_ref(),
        })?;
    } else {
        let view = RunView::new(&run.summary, &run.dir, run.recheck.as_ref());
        emit_text(
            &args.output,
            &summary::run_text(&view, palette(&args.output), args.top),
        )?;
    }
    Ok(exit::of_report(&run.summary))
}

fn show(args: ShowArgs, config: Option<&Path>) -> anyhow::Result<Exit> {
    let run = open_run(&args.view.runs, &args.run, config)?;
    let output = &args.view.output;
    let (records, matches) = find(&run, args.limit, |row| row.id == args.id)?;
    if output.json {
        emit_json(&RecordsJson {
            run_id: &run.summary.run_id,
            run_dir: run.dir.display().to_string(),
            id: Some(&args.id),
            group: None,
            recheck: None,
            matches,
            records: &records,
        })?;
    }
    if records.is_empty() {
        eprintln!(
            "cutover: no non-matching record has id {} in run {} ({}): it matched, or it is not in the capture. `{}` lists groups with example ids",
            esc(&format!("{:?}", args.id)),
            esc(&run.summary.run_id),
            esc(&run.dir.display().to_string()),
            command_line(["cutover", "report", &run.dir.display().to_string()])
        );
        return Ok(Exit::Found);
    }
    if !output.json {
        let p = palette(output);
        let layout = layout(&args.view.layout);
        let mut out = String::new();
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&record::record_text(r, p, layout));
        }
        if matches > records.len() as u64 {
            let more = matches - records.len() as u64;
            out.push_str(&format!(
                "\n… {} more {} id {} (--limit {} shows them)\n",
                more,
                if more == 1 {
                    "record has"
                } else {
                    "records have"
                },
                esc(&format!("{:?}", args.id)),
                matches
            ));
        }
        emit_text(output, &out)?;
    }
    Ok(Exit::Clean)
}

fn group(args: GroupArgs, config: Option<&Path>) -> anyhow::Result<Exit> {
    let run = open_run(&args.view.runs, &args.run, config)?;
    let output = &args.view.output;
    let g = run.group(&args.group)?.clone();
    let (records, matches) = find(&run, args.limit, |row| row.group == g.group)?;
    let labels = run.recheck.as_ref().and_then(|r| r.group(&g.group));
    if output.json {
        emit_json(&RecordsJson {
            run_id: &run.summary.run_id,
            run_dir: run.dir.display().to_string(),
            id: None,
            group: Some(&g),
            recheck: labels,
            matches,
            records: &records,
        })?;
        return Ok(Exit::Clean);
    }
    let p = palette(output);
    let mut out = format!(
        "{} {}: {}\n  {} ({:.2}% of the records compared), first {}, last {}\n",
        p.paint(Role::Heading, "group"),
        p.paint(Role::Id, &g.group),
        p.paint(Role::Heading, &g.signature),
        counted(g.count, "record", "records"),
        g.share * 100.0,
        esc(&g.first_id),
        esc(&g.last_id)
    );
    if let Some(l) = labels {
        out.push_str(&format!(
            "  recheck: {} deterministic, {} flaky, {} unchecked\n",
            p.paint(Role::Good, &l.deterministic.to_string()),
            p.paint(
                if l.flaky > 0 { Role::Warn } else { Role::Muted },
                &l.flaky.to_string()
            ),
            l.unchecked
        ));
    }
    out.push_str(&format!(
        "  showing the first {} of {} (--limit N for more)\n",
        records.len(),
        g.count
    ));
    let layout = layout(&args.view.layout);
    for r in &records {
        out.push('\n');
        out.push_str(&record::record_text(r, p, layout));
    }
    emit_text(output, &out)?;
    Ok(Exit::Clean)
}

fn diff(args: DiffArgs, config: Option<&Path>) -> anyhow::Result<Exit> {
    let a = open_run(&args.runs, &args.run_a, config)?;
    let b = open_run(&args.runs, &args.run_b, config)?;
    let mut d = crate::review::rundiff::compare((&a.summary, &a.dir), (&b.summary, &b.dir));
    d.records =
        crate::review::rundiff::compare_records((&a.summary, &a.dir), (&b.summary, &b.dir))?;
    if let Some(path) = &args.junit {
        let xml = crate::review::rundiff::junit_xml(&d);
        crate::util::atomic_file::write(path, crate::util::redact::text(&xml).as_bytes())
            .with_context(|| format!("--junit: cannot write {}", path.display()))?;
    }
    if args.output.json {
        emit_json(&d)?;
    } else {
        emit_text(
            &args.output,
            &rundiff::run_diff_text(&d, palette(&args.output)),
        )?;
    }
    Ok(Exit::found(d.regressed()))
}
