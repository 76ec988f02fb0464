//! `cutover serve`: the settings resolved, both listeners bound (their
//! addresses said on stderr), served until a signal, the closing summary.

use super::args::ServeArgs;
use super::{settings, Exit};
use crate::model::Stop;
use anyhow::Context;
use clap::ArgMatches;
use std::path::Path;

/// Runs `cutover serve`; `stop` is what the signals ask.
pub fn run(
    args: ServeArgs,
    matches: &ArgMatches,
    config: Option<&Path>,
    stop: &Stop,
) -> anyhow::Result<Exit> {
    let (spec, serve) = settings::serve_spec(args, matches, config)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        let bound = crate::serve::bind(&serve).await?;
        let (main, admin) = bound.addrs();
        eprintln!(
            "cutover serve: listening on http://{main} (metrics and health on http://{admin}); live report in {}",
            crate::util::escape::escape_lines(&spec.out.display().to_string())
        );
        crate::serve::run(bound, &spec, &serve, stop).await
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    super::replay::print_run(&outcome.summary, &outcome.dir)?;
    Ok(match stop.signal() {
        Some(signal) => Exit::of_signal(signal),
        None => Exit::Clean,
    })
}
