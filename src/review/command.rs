//! `cutover report` and its subcommands: flags and what each one does.

use super::records::{find, RecordView};
use super::style::{self, ColorMode, Palette};
use super::text::{self, Layout};
use super::{junit, rundiff, ReviewError, Run};
use crate::report::labels::RecheckSummary;
use crate::report::Summary;
use crate::terminal::{command_line, counted, escape as esc};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where runs are looked up.
#[derive(Debug, Clone, Args)]
pub struct RunsArgs {
    /// Parent directory of run reports [default: `reports_dir` under
    /// [replay] in cutover.toml, else reports]
    #[arg(long, value_name = "DIR")]
    pub reports_dir: Option<PathBuf>,
}

impl RunsArgs {
    /// The reports directory: the flag, else the config file's, else `reports`.
    pub fn resolve(&self, config: Option<&Path>) -> Result<PathBuf, crate::config::ConfigError> {
        if let Some(dir) = &self.reports_dir {
            return Ok(dir.clone());
        }
        let loaded = crate::config::load(config)?;
        Ok(loaded
            .config
            .replay
            .reports_dir
            .unwrap_or_else(|| PathBuf::from("reports")))
    }
}

/// How output is printed.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print JSON for machines instead of text (never coloured, never paged).
    #[arg(long)]
    pub json: bool,
    /// When to colour: auto colours only when stdout is a terminal and
    /// NO_COLOR is not set.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorMode::Auto)]
    pub color: ColorMode,
    /// Never use a pager (text is paged only when stdout is a terminal,
    /// through $PAGER, else `less`).
    #[arg(long)]
    pub no_pager: bool,
}

impl OutputArgs {
    fn palette(&self) -> Palette {
        Palette {
            color: !self.json && self.color.enabled(),
        }
    }

    fn emit_text(&self, text: &str) -> Result<(), ReviewError> {
        style::emit(text, !self.no_pager).map_err(|source| ReviewError::Write {
            path: PathBuf::from("<stdout>"),
            source,
        })
    }

    fn emit_json(&self, value: &impl Serialize) -> Result<(), ReviewError> {
        let mut text = serde_json::to_string_pretty(value).expect("review JSON serializes");
        text.push('\n');
        style::emit(&text, false).map_err(|source| ReviewError::Write {
            path: PathBuf::from("<stdout>"),
            source,
        })
    }
}

/// How diffs are laid out.
#[derive(Debug, Clone, Args)]
pub struct LayoutArgs {
    /// Show diffs side by side (legacy left, candidate right) instead of unified.
    #[arg(long, short = 'y')]
    pub side_by_side: bool,
    /// Columns for --side-by-side [default: the terminal's width, else 160]
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,
}

impl LayoutArgs {
    fn layout(&self) -> Layout {
        Layout {
            side_by_side: self.side_by_side,
            width: style::width(self.width),
        }
    }
}

/// What commands that print records share: where runs are, how diffs are
/// laid out, how output is printed.
#[derive(Debug, Clone, Args)]
pub struct RecordsArgs {
    #[command(flatten)]
    pub layout: LayoutArgs,
    #[command(flatten)]
    pub runs: RunsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl RecordsArgs {
    /// The run a user named, looked up where `--reports-dir` says.
    pub fn open(&self, run: &str, config: Option<&Path>) -> Result<Run, ReviewError> {
        Run::open(&self.runs.resolve(config)?, run)
    }
}

const REPORT_EXIT: &str = "Exit status: 0 the run found no differences, 1 it found some (mismatches, errors, timeouts or rejected lines), 2 the run cannot be found or read.";

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, after_help = REPORT_EXIT)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub action: Option<ReportAction>,
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN", default_value = "latest")]
    pub run: String,
    /// Mismatch groups listed, largest first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Also write the run as JUnit XML (one test case per group) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Make the run's index.html again from its files (recheck does it itself).
    #[arg(long)]
    pub html: bool,
    #[command(flatten)]
    pub runs: RunsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReportAction {
    /// Print non-matching records by id: input, group and a coloured diff.
    #[command(
        after_help = "Exit status: 0 shown, 1 no non-matching record has that id (it matched, or is not in the capture), 2 the run cannot be found or read."
    )]
    Show(ShowArgs),
    /// Print a mismatch group: its signature, counts and its first records.
    #[command(
        after_help = "Exit status: 0 shown, 2 no such group, or the run cannot be found or read."
    )]
    Group(GroupArgs),
    /// Compare the mismatch groups of two runs over the same traffic, matched
    /// by signature: appeared, disappeared (fixed), grew, shrank, unchanged.
    #[command(
        after_help = "Exit status: 0 no group appeared or grew, 1 some group appeared or grew, 2 a run cannot be found or read."
    )]
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The record id (every non-matching record with this id is shown).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Records shown at most when several share the id.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub limit: usize,
    #[command(flatten)]
    pub view: RecordsArgs,
}

#[derive(Debug, Args)]
pub struct GroupArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The group: its label in this run (g1, g2, ...) or its exact signature.
    #[arg(value_name = "GROUP")]
    pub group: String,
    /// Records shown at most (the first ones, in capture order).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub limit: usize,
    #[command(flatten)]
    pub view: RecordsArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run (before the fix).
    #[arg(value_name = "RUN_A")]
    pub run_a: String,
    /// The later run (after the fix).
    #[arg(value_name = "RUN_B")]
    pub run_b: String,
    #[command(flatten)]
    pub runs: RunsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

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

/// Runs `cutover report ...`; returns the exit status.
pub fn report(args: ReportArgs, config: Option<&Path>) -> Result<u8, ReviewError> {
    match args.action {
        None => overview(args, config),
        Some(ReportAction::Show(a)) => show(a, config),
        Some(ReportAction::Group(a)) => group(a, config),
        Some(ReportAction::Diff(a)) => diff(a, config),
    }
}

fn run_status(summary: &Summary) -> u8 {
    match summary.exit_code {
        0 => 0,
        2 => 2,
        _ => 1,
    }
}

fn overview(args: ReportArgs, config: Option<&Path>) -> Result<u8, ReviewError> {
    let reports = args.runs.resolve(config)?;
    let mut run = Run::open(&reports, &args.run)?;
    if args.html {
        crate::report::html::regenerate(&run.dir)?;
        run = Run::open(&reports, &run.dir.display().to_string())?;
    }
    if let Some(path) = &args.junit {
        junit::write(&run, path)?;
    }
    if args.output.json {
        args.output.emit_json(&RunJson {
            run_dir: run.dir.display().to_string(),
            summary: &run.summary,
            recheck: run.recheck.as_ref(),
        })?;
    } else {
        args.output
            .emit_text(&text::run_text(&run, args.output.palette(), args.top))?;
    }
    Ok(run_status(&run.summary))
}

fn show(args: ShowArgs, config: Option<&Path>) -> Result<u8, ReviewError> {
    let run = args.view.open(&args.run, config)?;
    let (layout, output) = (&args.view.layout, &args.view.output);
    let (records, matches) = find(&run, args.limit, |row| row.id == args.id)?;
    if output.json {
        output.emit_json(&RecordsJson {
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
            command_line(["cutover", "report", &run.summary.run_id])
        );
        return Ok(1);
    }
    if !output.json {
        let p = output.palette();
        let layout = layout.layout();
        let mut out = String::new();
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&text::record_text(r, p, layout));
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
        output.emit_text(&out)?;
    }
    Ok(0)
}

fn group(args: GroupArgs, config: Option<&Path>) -> Result<u8, ReviewError> {
    let run = args.view.open(&args.run, config)?;
    let (layout, output) = (&args.view.layout, &args.view.output);
    let g = run.group(&args.group)?.clone();
    let (records, matches) = find(&run, args.limit, |row| row.group == g.group)?;
    let labels = run.recheck.as_ref().and_then(|r| r.group(&g.group));
    if output.json {
        output.emit_json(&RecordsJson {
            run_id: &run.summary.run_id,
            run_dir: run.dir.display().to_string(),
            id: None,
            group: Some(&g),
            recheck: labels,
            matches,
            records: &records,
        })?;
        return Ok(0);
    }
    let p = output.palette();
    use super::style::Role;
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
    let layout = layout.layout();
    for r in &records {
        out.push('\n');
        out.push_str(&text::record_text(r, p, layout));
    }
    output.emit_text(&out)?;
    Ok(0)
}

fn diff(args: DiffArgs, config: Option<&Path>) -> Result<u8, ReviewError> {
    let reports = args.runs.resolve(config)?;
    let a = Run::open(&reports, &args.run_a)?;
    let b = Run::open(&reports, &args.run_b)?;
    let d = rundiff::compare((&a.summary, &a.dir), (&b.summary, &b.dir));
    if args.output.json {
        args.output.emit_json(&d)?;
    } else {
        args.output
            .emit_text(&text::run_diff_text(&d, args.output.palette()))?;
    }
    Ok(u8::from(d.regressed()))
}
