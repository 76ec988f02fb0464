//! `cutover minimize`, `cutover pin` and `cutover recheck`: flags and output.

use super::minimize::{minimize, Budget, Minimized};
use super::pin::{self, PIN_DIR};
use super::recheck::{recheck, RecheckOptions};
use super::setup::Trust;
use super::ReproduceError;
use crate::review::command::{OutputArgs, RecordsArgs, RunsArgs};
use crate::review::diffview::DiffView;
use crate::review::style::Role;
use crate::review::{text, Run};
use crate::terminal::{command_line, counted, escape as esc, escape_lines};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What minimize and pin share.
#[derive(Debug, Args)]
pub struct MinimizeCommon {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The record id (the first non-matching record with this id).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Re-runs of both sides at most; the smallest input so far is kept when
    /// it runs out.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_steps: usize,
    /// Time spent at most (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub max_time: Duration,
    /// Processes per worker target while minimizing (calls are sequential).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub workers: usize,
    /// Directory of pinned regression cases.
    #[arg(long, value_name = "DIR", default_value = PIN_DIR)]
    pub pin_dir: PathBuf,
    /// File name of the pinned case [default: the signature, slugified]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub view: RecordsArgs,
}

/// Whether to start targets the run names but the config does not.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Start the run's targets even when cutover.toml does not name them:
    /// their command lines (or URLs) come from the run's summary.json, so
    /// only for runs you trust [default: `trust_run` under [reproduce] in
    /// cutover.toml, else off; builtins and the config's own legacy and
    /// candidate always start]
    #[arg(long)]
    pub trust_run: bool,
}

impl TrustArgs {
    fn load(&self, config: Option<&Path>) -> Result<Trust, ReproduceError> {
        Trust::load(self.trust_run, config)
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 minimized (and pinned with --pin), 2 the record cannot be found, does not fail the same way when re-run, or a target cannot run."
)]
pub struct MinimizeArgs {
    #[command(flatten)]
    pub common: MinimizeCommon,
    /// Also save the smallest input as a regression case (like `cutover pin`).
    #[arg(long)]
    pub pin: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 pinned, 2 the record cannot be found, does not fail the same way when re-run, or a target cannot run."
)]
pub struct PinArgs {
    #[command(flatten)]
    pub common: MinimizeCommon,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 every checked record is deterministic, 1 some are flaky, 2 the run cannot be read or a target cannot run."
)]
pub struct RecheckArgs {
    /// The run: `latest`, a run id under --reports-dir, or a run directory.
    #[arg(value_name = "RUN", default_value = "latest")]
    pub run: String,
    /// Re-runs per non-matching record.
    #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub times: u32,
    /// Records re-run at once at most (64 per core by default).
    #[arg(long, value_name = "N", default_value_t = crate::cli::default_concurrency())]
    pub concurrency: usize,
    /// Processes per worker target [default: the run's --workers]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Only this group (label or signature); the others are `unchecked`.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Check only the first N records (in capture order); the rest are
    /// `unchecked` [default: every non-matching record]
    #[arg(long, value_name = "N")]
    pub max_records: Option<u64>,
    /// Never draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub runs: RunsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `minimize --json`.
#[derive(Serialize)]
struct MinimizedJson<'a> {
    run_id: &'a str,
    id: &'a str,
    group: &'a str,
    signature: &'a str,
    original_bytes: usize,
    minimal_bytes: usize,
    steps: usize,
    seconds: f64,
    finished: bool,
    confirmed: bool,
    input: serde_json::Value,
    input_json: String,
    legacy: serde_json::Value,
    candidate: serde_json::Value,
    diff: String,
    pinned: Option<String>,
    warnings: &'a [String],
}

fn run_minimize(
    common: MinimizeCommon,
    pin_it: bool,
    config: Option<&Path>,
) -> Result<u8, ReproduceError> {
    let run = Run::open(&common.view.runs.resolve(config)?, &common.run)?;
    let budget = Budget {
        max_steps: common.max_steps.max(1),
        max_time: common.max_time,
    };
    let trust = common.trust.load(config)?;
    let m = minimize(&run, &common.id, budget, Some(common.workers), &trust)?;
    let pinned = if pin_it {
        Some(pin::save(&m, &common.pin_dir, common.name.as_deref())?)
    } else {
        None
    };
    print(&m, pinned.as_deref(), &common)?;
    Ok(0)
}

fn answer_text(answer: &crate::target::Answer) -> String {
    crate::compare::render_answer(answer)
}

fn print(
    m: &Minimized,
    pinned: Option<&Path>,
    common: &MinimizeCommon,
) -> Result<(), ReproduceError> {
    let view = DiffView::new(&answer_text(&m.legacy), &answer_text(&m.candidate));
    let value = |a: &crate::target::Answer| {
        serde_json::from_str(&crate::report::answer_cell(a)).unwrap_or(serde_json::Value::Null)
    };
    let emit_err = |source| ReproduceError::Write {
        path: PathBuf::from("<stdout>"),
        source,
    };
    if common.view.output.json {
        let json = MinimizedJson {
            run_id: &m.run_id,
            id: &m.row.id,
            group: &m.row.group,
            signature: &m.signature,
            original_bytes: m.original_bytes(),
            minimal_bytes: m.minimal_bytes(),
            steps: m.steps,
            seconds: (m.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            finished: m.finished,
            confirmed: m.confirmed,
            input: serde_json::from_str(&m.minimal.to_json()).unwrap_or_default(),
            input_json: m.minimal.to_json(),
            legacy: value(&m.legacy),
            candidate: value(&m.candidate),
            diff: view.unified_text(),
            pinned: pinned.map(|p| p.display().to_string()),
            warnings: &m.setup.warnings,
        };
        let mut text = serde_json::to_string_pretty(&json).expect("serializes");
        text.push('\n');
        return crate::review::style::emit(&text, false).map_err(emit_err);
    }
    let p = crate::review::style::Palette {
        color: common.view.output.color.enabled(),
    };
    let mut out = String::new();
    for w in &m.setup.warnings {
        out.push_str(&format!("{} {}\n", p.paint(Role::Warn, "warning:"), esc(w)));
    }
    out.push_str(&format!(
        "{} record {} of run {} ({}:{})\n",
        p.paint(Role::Heading, "minimized"),
        p.paint(Role::Id, &m.row.id),
        esc(&m.run_id),
        esc(&m.row.source),
        m.row.line
    ));
    out.push_str(&format!(
        "  reproduces  {}  (group {})\n",
        p.paint(Role::Heading, &m.signature),
        esc(&m.row.group)
    ));
    out.push_str(&format!(
        "  size        {} → {} bytes of JSON, {} of both sides in {:.2}s\n",
        m.original_bytes(),
        m.minimal_bytes(),
        counted(m.steps as u64, "re-run", "re-runs"),
        m.elapsed.as_secs_f64()
    ));
    if !m.finished {
        out.push_str(&format!(
            "  {} the budget ran out (--max-steps {}, --max-time {}): the input may shrink further\n",
            p.paint(Role::Warn, "note:"),
            common.max_steps,
            humantime::format_duration(common.max_time)
        ));
    }
    if !m.confirmed {
        out.push_str(&format!(
            "  {} a last re-run of the smallest input failed differently: the record may be flaky (`cutover recheck`)\n",
            p.paint(Role::Warn, "warning:")
        ));
    }
    out.push_str(&format!(
        "{}\n  {}\n",
        p.paint(Role::Heading, "smallest input"),
        esc(&m.minimal.to_json())
    ));
    let pretty = escape_lines(&m.minimal.pretty()).into_owned();
    if m.minimal_bytes() > 60 {
        for line in pretty.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str(&format!(
        "{}\n",
        p.paint(Role::Heading, "diff (legacy → candidate)")
    ));
    let layout = &common.view.layout;
    if layout.side_by_side {
        out.push_str(&text::side_by_side(
            &view,
            p,
            crate::review::style::width(layout.width),
        ));
    } else {
        out.push_str(&text::unified(&view, p));
    }
    match pinned {
        Some(path) => out.push_str(&format!(
            "pinned: {} (the test suite replays it; commit it)\n",
            esc(&path.display().to_string())
        )),
        None => out.push_str(&format!(
            "pin it as a regression case: {}\n",
            command_line(["cutover", "pin", &m.run_id, &m.row.id])
        )),
    }
    crate::review::style::emit(&out, !common.view.output.no_pager).map_err(emit_err)
}

/// `cutover minimize`.
pub fn minimize_command(args: MinimizeArgs, config: Option<&Path>) -> Result<u8, ReproduceError> {
    run_minimize(args.common, args.pin, config)
}

/// `cutover pin`.
pub fn pin_command(args: PinArgs, config: Option<&Path>) -> Result<u8, ReproduceError> {
    run_minimize(args.common, true, config)
}

/// `cutover recheck`.
pub fn recheck_command(args: RecheckArgs, config: Option<&Path>) -> Result<u8, ReproduceError> {
    let run = Run::open(&args.runs.resolve(config)?, &args.run)?;
    let summary = recheck(
        &run,
        &RecheckOptions {
            times: args.times,
            concurrency: args.concurrency,
            workers: args.workers,
            group: args.group,
            max_records: args.max_records,
            progress: !args.no_progress,
            trust: args.trust.load(config)?,
        },
    )?;
    let emit_err = |source| ReproduceError::Write {
        path: PathBuf::from("<stdout>"),
        source,
    };
    if args.output.json {
        let mut text = serde_json::to_string_pretty(&summary).expect("serializes");
        text.push('\n');
        crate::review::style::emit(&text, false).map_err(emit_err)?;
    } else {
        let p = crate::review::style::Palette {
            color: args.output.color.enabled(),
        };
        let mut out = format!(
            "{} run {}: {} re-run {} in {:.2}s: {} deterministic, {} flaky, {} unchecked\n",
            p.paint(Role::Heading, "rechecked"),
            esc(&run.summary.run_id),
            counted(summary.deterministic + summary.flaky, "record", "records"),
            counted(summary.times.into(), "time", "times"),
            summary.duration_seconds,
            p.paint(Role::Good, &summary.deterministic.to_string()),
            p.paint(
                if summary.flaky > 0 {
                    Role::Warn
                } else {
                    Role::Muted
                },
                &summary.flaky.to_string()
            ),
            summary.unchecked
        );
        for g in &summary.groups {
            out.push_str(&format!(
                "  {:<5} {:>9} deterministic {:>9} flaky {:>9} unchecked  {}\n",
                esc(&g.group),
                g.deterministic,
                g.flaky,
                g.unchecked,
                esc(&g.signature)
            ));
        }
        out.push_str(&format!(
            "labels: {} (shown by `cutover report` and index.html)\n",
            esc(&run
                .dir
                .join(crate::report::labels::RECHECK_RECORDS_FILE)
                .display()
                .to_string())
        ));
        crate::review::style::emit(&out, !args.output.no_pager).map_err(emit_err)?;
    }
    Ok(u8::from(summary.flaky > 0))
}
