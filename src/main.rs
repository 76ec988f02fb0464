//! The `cutover` binary: parses the command line, runs, maps results to exit
//! codes like `diff(1)`: 0 no differences, 1 differences, 2 could not run
//! (130 interrupted). Errors are printed once, on stderr, with what to do.

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};
use cutover::cli::{builtins_text, resolve_replay, Cli, Command};
use std::process::ExitCode;

// Records allocate and free many small strings and maps across threads;
// mimalloc measured faster than the system allocator on the replay benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;

/// mimalloc's `mi_option_purge_delay`: in mimalloc.h (v2 and v3) the option
/// just before `mi_option_use_numa_nodes`, which the crate does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

fn main() -> ExitCode {
    // Freed memory goes back to the OS at once, not 10 ms later: with big
    // records the allocator otherwise keeps tens of MiB of freed pages, and
    // peak memory would not track what records hold (--max-inflight-bytes).
    // A MIMALLOC_PURGE_DELAY in the environment wins.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a plain integer option; mimalloc allows it at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging(cli.verbose);
    match run(cli, &matches) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("cutover: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUTOVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<u8> {
    match cli.command {
        Command::Builtins => {
            print!("{}", builtins_text());
            Ok(0)
        }
        Command::Flags(args) => {
            let sub = matches
                .subcommand_matches("flags")
                .context("flags arguments missing")?;
            cutover::flags::command::run(*args, sub, cli.config.as_deref())
        }
        Command::Report(args) => Ok(cutover::review::command::report(
            *args,
            cli.config.as_deref(),
        )?),
        Command::Minimize(args) => Ok(cutover::reproduce::command::minimize_command(
            *args,
            cli.config.as_deref(),
        )?),
        Command::Pin(args) => Ok(cutover::reproduce::command::pin_command(
            *args,
            cli.config.as_deref(),
        )?),
        Command::Recheck(args) => Ok(cutover::reproduce::command::recheck_command(
            *args,
            cli.config.as_deref(),
        )?),
        Command::Replay(args) => {
            let sub = matches
                .subcommand_matches("replay")
                .context("replay arguments missing")?;
            let options = resolve_replay(*args, sub, cli.config.as_deref())?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let (summary, dir) = runtime.block_on(async {
                let stop = CancellationToken::new();
                let on_signal = stop.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        eprintln!("cutover: interrupted; finishing the records in flight, then writing the report (Ctrl-C again to quit at once)");
                        on_signal.cancel();
                        if tokio::signal::ctrl_c().await.is_ok() {
                            std::process::exit(130);
                        }
                    }
                });
                cutover::replay::replay(options, stop).await
            })?;
            let run = cutover::review::Run {
                dir,
                summary,
                recheck: None,
            };
            let palette = cutover::review::style::Palette {
                color: cutover::review::style::ColorMode::Auto.enabled(),
            };
            print!(
                "{}",
                cutover::review::text::run_text(&run, palette, cutover::review::TOP_GROUPS)
            );
            let summary = run.summary;
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            Ok(summary.exit_code.clamp(0, 255) as u8)
        }
    }
}
