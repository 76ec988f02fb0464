//! `cutover minimize`, `cutover pin` and `cutover recheck`: a run's
//! records re-run the way its spec says, from wherever the command runs.
//!
//! # Contract
//! The run is found as `report` finds it; which of its sides may start is
//! [`settings::trust`]'s (the current config names them, or `--trust-run`);
//! what the re-runs compare with is the run's own rules and known
//! differences, or a later config's when `--config` is given (said as a
//! warning). Output as text (coloured and paged only on a terminal) or
//! `--json`. `pin --check [DIR]` ([`pin_check`]) needs no run: it replays
//! the pinned cases of DIR, each with the spec [`settings::pinned_spec`]
//! makes of it, and exits like diff(1) (1: some case changed).

use super::args::{MinimizeCommon, RecheckArgs};
use super::report::{emit_json, emit_text, layout, open_run};
use super::settings;
use super::text::diff;
use super::text::style::{Palette, Role};
use super::Exit;
use crate::compare::strings::StringDiffs;
use crate::model::Stop;
use crate::report::diffview::DiffView;
use crate::reproduce::minimize::{Budget, Minimized};
use crate::reproduce::recheck::RecheckOptions;
use crate::reproduce::setup::Setup;
use crate::reproduce::{self, pin};
use crate::review::Run;
use crate::util::escape::{command_line, escape as esc, escape_lines};
use crate::util::text::counted;
use anyhow::Context;
use serde::Serialize;
use std::path::Path;

/// `minimize --json`.
#[derive(Serialize)]
struct MinimizedJson<'a> {
    run_id: &'a str,
    id: &'a str,
    group: &'a str,
    signature: &'a str,
    /// What the smallest input shows (differs from `signature` only under `--test`).
    final_signature: &'a str,
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
    /// The diffs inside the strings the answers differ in (as `report show
    /// --json` has them).
    strings: &'a StringDiffs,
    pinned: Option<String>,
    warnings: &'a [String],
}

/// How a re-running command compares: the run's setup, checked against
/// what may be started, with a later config's rules only when `--config`
/// was given.
fn setup_of(
    run: &Run,
    workers: Option<usize>,
    trust_run: bool,
    config: Option<&Path>,
) -> anyhow::Result<Setup> {
    let loaded = super::config::load(config)?;
    let trust = settings::trust(trust_run, &loaded);
    Ok(Setup::of_run(
        &run.summary,
        workers,
        &trust,
        settings::later(config, &loaded),
    )?)
}

/// `cutover minimize` (and `cutover pin`: `pin_it`).
pub fn minimize(
    run: &str,
    id: &str,
    common: MinimizeCommon,
    pin_it: bool,
    config: Option<&Path>,
) -> anyhow::Result<Exit> {
    let run = open_run(&common.view.runs, run, config)?;
    let budget = Budget {
        max_steps: common.max_steps.max(1),
        max_time: common.max_time,
    };
    // A record the run has no mismatch for is said first, before anything
    // about its sides.
    reproduce::minimize::find_row(&run, id)?;
    let setup = setup_of(&run, Some(common.workers), common.trust.trust_run, config)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let keep = match (&common.test, common.same) {
        (Some(cmd), _) => reproduce::minimize::Keep::Test(cmd.clone()),
        (None, super::args::Same::Group) => reproduce::minimize::Keep::Group,
        (None, super::args::Same::Differences) => reproduce::minimize::Keep::Differences,
    };
    let m = reproduce::minimize::minimize(
        &run,
        id,
        budget,
        keep,
        setup,
        runtime.handle(),
        &Stop::never(),
    )?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    let pinned = if pin_it {
        Some(pin::save(&m, &common.pin_dir, common.name.as_deref())?)
    } else {
        None
    };
    print_minimized(&m, &run.dir, pinned.as_deref(), &common)?;
    Ok(Exit::Clean)
}

fn answer_text(answer: &crate::model::Answer) -> String {
    crate::compare::render_answer(answer)
}

fn print_minimized(
    m: &Minimized,
    run_dir: &Path,
    pinned: Option<&Path>,
    common: &MinimizeCommon,
) -> anyhow::Result<()> {
    let view = DiffView::new(&answer_text(&m.legacy), &answer_text(&m.candidate));
    let strings = StringDiffs::new(
        &crate::compare::answer_value(&m.legacy),
        &crate::compare::answer_value(&m.candidate),
    );
    let value = |a: &crate::model::Answer| {
        serde_json::from_str(&crate::report::answer_cell(a)).unwrap_or(serde_json::Value::Null)
    };
    if common.view.output.json {
        let json = MinimizedJson {
            run_id: &m.run_id,
            id: &m.row.id,
            group: &m.row.group,
            signature: &m.signature,
            final_signature: &m.final_signature,
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
            diff: view.unified_text() + &strings.text(),
            strings: &strings,
            pinned: pinned.map(|p| p.display().to_string()),
            warnings: &m.setup.warnings,
        };
        return emit_json(&json);
    }
    let p = Palette::for_stdout(common.view.output.color);
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
    if let reproduce::minimize::Keep::Test(cmd) = &m.keep {
        out.push_str(&format!(
            "  kept by     --test {} (the smallest input shows {})\n",
            esc(cmd),
            esc(&m.final_signature)
        ));
    }
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
    let layout = layout(&common.view.layout);
    if layout.side_by_side {
        out.push_str(&diff::side_by_side(&view, p, layout.width));
    } else {
        out.push_str(&diff::unified(&view, p));
    }
    out.push_str(&diff::strings(&strings, p, layout));
    match pinned {
        Some(path) => out.push_str(&format!(
            "pinned: {} (the test suite replays it; commit it)\n",
            esc(&path.display().to_string())
        )),
        None => out.push_str(&format!(
            "pin it as a regression case: {}\n",
            command_line(["cutover", "pin", &run_dir.display().to_string(), &m.row.id])
        )),
    }
    emit_text(&common.view.output, &out)
}

/// `cutover recheck`.
pub fn recheck(args: RecheckArgs, config: Option<&Path>) -> anyhow::Result<Exit> {
    let run = open_run(&args.runs, &args.run, config)?;
    let setup = setup_of(&run, args.workers, args.trust.trust_run, config)?;
    for warning in &setup.warnings {
        eprintln!("cutover: warning: {}", esc(warning));
    }
    let options = RecheckOptions {
        times: args.times,
        concurrency: args.concurrency,
        workers: args.workers,
        group: args.group,
        max_records: args.max_records,
    };
    let bar = super::progress::recheck_bar(run.summary.non_matching(), !args.no_progress);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let summary = runtime.block_on(reproduce::recheck::recheck(
        &run,
        &setup,
        &options,
        &Stop::never(),
        |done, _| bar.set_position(done),
    ));
    bar.finish_and_clear();
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    let summary = summary?;
    if args.output.json {
        emit_json(&summary)?;
    } else {
        let p = Palette::for_stdout(args.output.color);
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
        emit_text(&args.output, &out)?;
    }
    Ok(Exit::found(summary.flaky > 0))
}

/// `pin --check --json`.
#[derive(Serialize)]
struct PinCheckJson<'a> {
    dir: String,
    cases: &'a [pin::CaseCheck],
    held: usize,
    changed: usize,
}

/// `cutover pin --check [DIR]`: every pinned case of `dir` replayed, each
/// as `cutover replay` would with the flags the case records.
pub fn pin_check(
    dir: &Path,
    junit: Option<&Path>,
    common: &MinimizeCommon,
) -> anyhow::Result<Exit> {
    let cases = pin::read_cases(dir)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let mut checks = Vec::new();
    for (path, case) in &cases {
        let spec = settings::pinned_spec(case).map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "{}: the pinned case's targets or config cannot be used",
                path.display()
            ))
        })?;
        let setup = Setup::of_spec(spec)?;
        checks.push(runtime.block_on(pin::check(path, case, &setup))?);
    }
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    if let Some(path) = junit {
        crate::report::junit_sink::write_xml(path, &pin::junit_xml(dir, &checks))?;
    }
    let held = checks.iter().filter(|c| c.held).count();
    let changed = checks.len() - held;
    let output = &common.view.output;
    if output.json {
        emit_json(&PinCheckJson {
            dir: dir.display().to_string(),
            cases: &checks,
            held,
            changed,
        })?;
    } else {
        let p = Palette::for_stdout(output.color);
        let mut out = format!(
            "{} {}: {}, {} held, {} changed\n",
            p.paint(Role::Heading, "pin --check"),
            esc(&dir.display().to_string()),
            counted(checks.len() as u64, "pinned case", "pinned cases"),
            held,
            changed
        );
        for c in &checks {
            if c.held {
                out.push_str(&format!(
                    "  {}  {}  {}\n",
                    p.paint(Role::Good, "held   "),
                    esc(&c.name),
                    esc(&c.expected)
                ));
            } else {
                out.push_str(&format!(
                    "  {}  {} ({})\n      pinned  {}\n      now     {}\n",
                    p.paint(Role::Warn, "CHANGED"),
                    esc(&c.name),
                    esc(&c.file.display().to_string()),
                    esc(&c.expected),
                    esc(&c.got)
                ));
            }
        }
        emit_text(output, &out)?;
    }
    Ok(Exit::found(changed > 0))
}
