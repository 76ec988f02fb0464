//! `cutover replay`: the spec resolved, the run (local, or shared out over a
//! cluster with `--cluster`), the closing summary; and `cutover replayer`.

use super::args::ReplayArgs;
use super::progress::Progress;
use super::text::style::{ColorMode, Palette};
use super::text::summary::{run_text, TOP_GROUPS};
use super::{exit, settings, Exit};
use crate::model::Stop;
use crate::report::model::RunView;
use crate::report::Summary;
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
    let cluster = args.cluster.clone();
    let spec = settings::replay_spec(args, matches, config)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let outcome = match cluster.cluster {
        None => runtime.block_on(crate::run::replay(
            &spec,
            stop,
            Progress::new(spec.progress),
        ))?,
        Some(url) => {
            let options = crate::cluster::ClusterOptions {
                url,
                chunk_records: cluster.chunk_records,
                ack_wait: cluster.ack_wait,
                max_deliver: cluster.max_deliver as i64,
                window: crate::cluster::WINDOW,
                wait: cluster.cluster_wait,
            };
            runtime.block_on(crate::cluster::coordinator::run(
                &spec,
                &options,
                stop,
                Progress::new(spec.progress),
            ))?
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    print_closing(&outcome.summary, &outcome.dir)
}

/// Prints a finished run's closing summary; its exit status.
pub(super) fn print_closing(summary: &Summary, dir: &Path) -> anyhow::Result<Exit> {
    print_run(summary, dir)?;
    Ok(exit::of_replay(summary))
}

/// A finished run's closing summary on stdout (replay's, serve's).
pub fn print_run(summary: &Summary, dir: &Path) -> anyhow::Result<()> {
    let view = RunView::new(summary, dir, None);
    let palette = Palette::for_stdout(ColorMode::Auto);
    super::print(&crate::util::redact::text(&run_text(
        &view, palette, TOP_GROUPS,
    )))
}

/// Runs `cutover replayer` until `stop`.
pub fn replayer(args: crate::cli::args::ReplayerArgs, stop: &Stop) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let options = crate::cluster::replayer::ReplayerOptions {
        url: args.cluster,
        chunks_in_flight: args.chunks_in_flight,
    };
    runtime.block_on(crate::cluster::replayer::run(
        &options,
        stop.token().clone(),
    ))?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(stop.signal().map_or(Exit::Clean, Exit::of_signal))
}
