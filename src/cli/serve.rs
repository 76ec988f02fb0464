//! `cutover serve`: the settings resolved, both listeners bound (their
//! addresses said on stderr), served until a signal, the closing summary.
//!
//! One runtime serves the listeners, the requests and, by default, the
//! mirrors. With `--mirror-nice N` (N > 0) the mirrors (their calls,
//! comparisons and the live report) get a runtime of their own, whose
//! threads (`cutover-mirror`) run N below the process's priority, so on
//! saturated cores the clients' requests go first and mirrors are shed
//! instead. Lowering a thread's priority is best effort: where the OS
//! refuses it, the mirrors still run apart, at serving's priority, and that
//! is logged.

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
    let mirrors = match serve.mirror_nice {
        0 => None,
        nice => Some(mirror_runtime(nice)?),
    };
    let outcome = runtime.block_on(async {
        let bound = crate::serve::bind(&serve).await?;
        let (main, admin) = bound.addrs();
        eprintln!(
            "cutover serve: listening on http://{main} (metrics and health on http://{admin}); live report in {}",
            crate::util::escape::escape_lines(&spec.out.display().to_string())
        );
        let on = mirrors.as_ref().map(|r| r.handle().clone());
        crate::serve::run(bound, &spec, &serve, on, stop).await
    })?;
    if let Some(mirrors) = mirrors {
        mirrors.shutdown_timeout(std::time::Duration::from_millis(100));
    }
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    super::replay::print_run(&outcome.summary, &outcome.dir)?;
    Ok(match stop.signal() {
        Some(signal) => Exit::of_signal(signal),
        None => Exit::Clean,
    })
}

/// The mirrors' runtime: as many threads as cores, each `nice` below the
/// process's priority.
fn mirror_runtime(nice: u8) -> anyhow::Result<tokio::runtime::Runtime> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("cutover-mirror")
        .enable_all()
        .on_thread_start(move || lower_priority(nice))
        .build()
        .context("cannot start the mirrors' async runtime")
}

/// Lowers the calling thread's CPU priority by `nice` (Linux: the nice
/// value is per thread). Best effort, logged once per thread when refused.
#[cfg(target_os = "linux")]
fn lower_priority(nice: u8) {
    let tid = nix::unistd::gettid().as_raw();
    let Ok(who) = libc::id_t::try_from(tid) else {
        return;
    };
    // getpriority can return -1 as a value: errno tells an error apart.
    nix::errno::Errno::clear();
    // SAFETY: getpriority and setpriority only read and set the scheduling
    // attribute of the thread `who`; no memory is passed.
    let now = unsafe { libc::getpriority(libc::PRIO_PROCESS, who) };
    if now == -1 && nix::errno::Errno::last_raw() != 0 {
        tracing::warn!("serve: cannot read the mirror thread's priority; it keeps serving's");
        return;
    }
    let target = (now + i32::from(nice)).min(19);
    // SAFETY: as above.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, who, target) } != 0 {
        tracing::warn!(
            "serve: cannot lower the mirror thread's priority to nice {target} ({}); it keeps serving's",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: u8) {}
