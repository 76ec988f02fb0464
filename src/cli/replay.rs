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
    let runtime = replay_runtime(&spec, cluster.cluster.is_none())?;
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

/// The replay's async runtime: a thread per core, as tokio's default, but
/// one fewer (at least one) for a local replay whose sides both answer at
/// once (`builtin:`). Then nothing waits on I/O, and the capture's reader
/// thread keeps a core nearly busy by itself: a thread per core left four
/// busy threads on two cores. Paired on 2 cores, one async thread against
/// two, 200,000 records: identity replay 0.79 of the time (once its batches
/// were compared in turn; 0.94 before), `builtin:normalize` 0.98, but the
/// naive port against the faithful one (12% of records differ, each
/// diffed and written to a 640 MiB CSV) 1.04; a Python worker's replay
/// took 1.09, so sides that do I/O keep every core.
/// `TOKIO_WORKER_THREADS`, when set, decides, as it does for tokio.
fn replay_runtime(
    spec: &crate::spec::RunSpec,
    local: bool,
) -> anyhow::Result<tokio::runtime::Runtime> {
    use crate::sides::SideSpec;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let at_once = matches!(
        (&spec.legacy, &spec.candidate),
        (SideSpec::Builtin(_), SideSpec::Builtin(_))
    );
    if local && at_once && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        builder.worker_threads(cores.saturating_sub(1).max(1));
    }
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sides::SideSpec;

    /// Builtins on both sides of a local replay yield the reader a core;
    /// any side that does I/O, or a cluster replay, keeps one thread a core.
    #[test]
    fn a_replay_of_builtins_yields_a_core_to_the_reader_and_one_with_io_does_not() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let env = std::env::var("TOKIO_WORKER_THREADS").ok();
        let threads = |legacy: SideSpec, local: bool| {
            let mut spec = crate::spec::test_spec();
            spec.legacy = legacy;
            spec.candidate = SideSpec::Builtin("normalize".into());
            replay_runtime(&spec, local)
                .unwrap()
                .metrics()
                .num_workers()
        };
        let worker = crate::spec::test_spec().legacy;
        let builtin = || SideSpec::Builtin("identity".into());
        // TOKIO_WORKER_THREADS, when set, decides, as it does for tokio.
        let expected = |default: usize| {
            env.as_deref()
                .and_then(|n| n.parse().ok())
                .unwrap_or(default)
        };
        assert_eq!(
            threads(builtin(), true),
            expected(cores.saturating_sub(1).max(1))
        );
        assert_eq!(threads(worker, true), expected(cores));
        assert_eq!(threads(builtin(), false), expected(cores));
    }
}
