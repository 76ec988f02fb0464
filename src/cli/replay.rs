//! `cutover replay`: the spec resolved, the run, the closing summary.

use super::args::ReplayArgs;
use super::progress::Progress;
use super::text::style::{ColorMode, Palette};
use super::text::summary::{run_text, TOP_GROUPS};
use super::{exit, settings, Exit};
use crate::model::Stop;
use crate::report::model::RunView;
use anyhow::Context;
use clap::ArgMatches;
use std::path::Path;

/// Runs `cutover replay`; `stop` is what the signals ask.
pub fn run(
    args: ReplayArgs,
    matches: &ArgMatches,
    config: Option<&Path>,
    stop: &Stop,
) -> anyhow::Result<Exit> {
    let spec = settings::replay_spec(args, matches, config)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let outcome = runtime.block_on(crate::run::replay(
        &spec,
        stop,
        Progress::new(spec.progress),
    ))?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    print_run(&outcome.summary, &outcome.dir)?;
    Ok(exit::of_replay(&outcome.summary))
}

/// A finished run's closing summary on stdout (replay's, serve's).
pub fn print_run(summary: &crate::report::Summary, dir: &Path) -> anyhow::Result<()> {
    let view = RunView::new(summary, dir, None);
    let palette = Palette::for_stdout(ColorMode::Auto);
    super::print(&crate::util::redact::text(&run_text(
        &view, palette, TOP_GROUPS,
    )))
}
