//! The command line: the only place that knows clap, printing, colour and
//! the pager, exit codes, the tokio runtime and signals.
//!
//! # Contract
//! - [`main`] is the binary: it takes the signals first ([`signals`]),
//!   parses the command line ([`args`]), registers the environment's secrets
//!   with [`crate::util::redact`], sets up logging (on stderr, redacted,
//!   coloured only on a terminal), runs one command and ends with its
//!   [`Exit`] ([`exit`]).
//! - One file per command, each doing the same three things: resolve the
//!   flags with `cutover.toml` ([`settings`]), call the library, print what
//!   it returned ([`text`]): [`replay`], [`report`], [`flags`],
//!   [`reproduce`] (`minimize`, `pin`, `recheck`), [`builtins`],
//!   [`contract`] (`contract infer`), [`serve`], [`import`].
//! - An error is printed once, on stderr, with each of its causes once
//!   ([`crate::util::errors::chain`]), redacted and inert, and the exit
//!   status is 2.
//! - Stdout is written without panicking: a closed pipe (`cutover … | head`)
//!   ends the output quietly, as ripgrep does, and the exit status is the
//!   command's own; any other write error (`>/dev/full`) is exit 2 with a
//!   message.

mod args;
mod builtins;
pub mod config;
mod contract;
mod exit;
mod flags;
mod import;
mod progress;
mod replay;
mod report;
mod reproduce;
mod serve;
mod settings;
mod signals;
mod text;

pub use exit::Exit;

use anyhow::Context;
use args::{Cli, Command};
use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

/// The `cutover` binary (see the module docs). `tune` runs right after the
/// signals are taken, before anything else (the binary sets its allocator's
/// options there).
pub fn main(tune: fn()) -> ExitCode {
    let signals = signals::Signals::install();
    tune();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    register_env_secrets();
    init_logging(cli.verbose);
    if matches!(
        cli.command,
        Command::Replay(_) | Command::Replayer(_) | Command::Serve(_)
    ) {
        signals.drain();
    }
    let exit = match run(cli, &matches, signals) {
        Ok(exit) => exit,
        // The reader went away (`cutover … | head`): nothing to say.
        Err(e) if is_broken_pipe(&e) => Exit::Clean,
        Err(e) => {
            eprintln!("cutover: error: {}", error_text(&e));
            Exit::CouldNotRun
        }
    };
    crate::sides::kill_all_processes();
    exit.into()
}

/// An error as printed: each cause once, no secret, inert (errors quote
/// ids, answers and worker stderr).
fn error_text(e: &anyhow::Error) -> String {
    let chain = crate::util::errors::chain(e.as_ref());
    crate::util::escape::escape_lines(&crate::util::redact::text(&chain)).into_owned()
}

fn run(cli: Cli, matches: &clap::ArgMatches, signals: &signals::Signals) -> anyhow::Result<Exit> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Replayer(args) => replay::replayer(*args, signals.stop()),
        Command::Builtins => {
            print(&builtins::text())?;
            Ok(Exit::Clean)
        }
        Command::Flags(args) => {
            let sub = matches
                .subcommand_matches("flags")
                .context("flags arguments missing")?;
            flags::run(*args, sub, config)
        }
        Command::Import(args) => import::run(*args),
        Command::Report(args) => report::run(*args, config),
        Command::Minimize(args) => {
            let args = *args;
            reproduce::minimize(&args.run, &args.id, args.common, args.pin, config)
        }
        Command::Pin(args) => match (args.check.clone(), args.run, args.id) {
            (Some(dir), _, _) => reproduce::pin_check(&dir, args.junit.as_deref(), &args.common),
            (None, Some(run), Some(id)) => {
                reproduce::minimize(&run, &id, args.common, true, config)
            }
            _ => anyhow::bail!("cutover pin needs RUN and ID, or --check [DIR]"),
        },
        Command::Recheck(args) => reproduce::recheck(*args, config),
        Command::Contract(args::ContractCommand::Infer(args)) => contract::infer(*args, config),
        Command::Replay(args) => {
            let sub = matches
                .subcommand_matches("replay")
                .context("replay arguments missing")?;
            replay::run(*args, sub, config, signals.stop())
        }
        Command::Serve(args) => {
            let sub = matches
                .subcommand_matches("serve")
                .context("serve arguments missing")?;
            serve::run(*args, sub, config, signals.stop())
        }
    }
}

/// Whether `e` is a write to a closed pipe.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes `text` to stdout, never paged (a closed pipe is not an error:
/// see the module docs).
pub fn print(text: &str) -> anyhow::Result<()> {
    text::pager::emit(text, false).context("cannot write <stdout>")
}

/// The secrets the environment holds, taken out of everything shown.
fn register_env_secrets() {
    use crate::flags::{admin::ENV_ADMIN_TOKEN, settings};
    for name in [ENV_ADMIN_TOKEN, settings::ENV_CLIENT_SECRET] {
        if let Ok(secret) = std::env::var(name) {
            crate::util::redact::register(&secret);
        }
    }
    if let Ok(url) = std::env::var(settings::ENV_URL) {
        crate::util::redact::register_url(&url);
    }
}

/// Logs on stderr, redacted, in colour only when stderr is a terminal (and
/// `NO_COLOR` is unset).
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
        .with_writer(crate::util::redact::Stderr)
        .with_ansi(!matches!(
            anstream::AutoStream::choice(&std::io::stderr()),
            anstream::ColorChoice::Never
        ))
        .init();
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read config file x.toml: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn an_error_is_printed_with_each_cause_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = anyhow::Error::new(Repeats(io));
        let text = super::error_text(&e);
        assert_eq!(text.matches("entity not found").count(), 1, "{text}");
    }
}
