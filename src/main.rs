//! The `cutover` binary: installs the signal handling, parses the command
//! line, runs, prints, and maps results to exit codes like `diff(1)`: 0 no
//! differences, 1 differences, 2 could not run, 130 after SIGINT, 143 after
//! SIGTERM. Errors are printed once, on stderr, with what to do.
//! Everything printed or logged goes through [`cutover::redact::text`]: the
//! secrets of the environment are registered before anything else runs.
//!
//! # Signals
//! The very first thing `main` does is block SIGINT and SIGTERM in every
//! thread and start one thread that waits for them (`sigwait`), so a signal
//! can never arrive unhandled, however early. During a replay (from the
//! moment its command line is parsed) the first signal asks the run to stop
//! ([`cutover::stop`]): reading stops, the records in flight finish, the
//! report is written, and the exit status is 130 or 143. A signal that comes
//! before a replay has parsed its command line, a signal to any other
//! command, and a second signal during a replay all quit at once with that
//! status. Every exit path kills the process groups of the targets' child
//! processes (they also have a parent-death signal for when cutover itself
//! is killed).
//!
//! # Output
//! Stdout is written without panicking: a closed pipe (`cutover … | head`)
//! ends the output quietly, as ripgrep does, and the exit status is the
//! command's own; any other write error (`>/dev/full`) is exit 2 with a
//! message.

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};
use cutover::cli::{builtins_text, resolve_replay, Cli, Command};
use cutover::stop::{Signal, Stop};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

// Records allocate and free many small strings and maps across threads;
// mimalloc measured faster than the system allocator on the replay benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: in mimalloc.h (v2 and v3) the option
/// just before `mi_option_use_numa_nodes`, which the crate does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

fn main() -> ExitCode {
    let signals = Signals::install();
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
    register_env_secrets();
    init_logging(cli.verbose);
    if matches!(cli.command, Command::Replay(_)) {
        signals.drain.store(true, Ordering::SeqCst);
    }
    let code = match run(cli, &matches, &signals.stop) {
        Ok(code) => ExitCode::from(code),
        // The reader went away (`cutover … | head`): nothing to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors quote ids, answers and worker stderr: printed inert.
            eprintln!(
                "cutover: error: {}",
                cutover::terminal::escape_lines(&cutover::redact::text(&format!("{e:#}")))
            );
            ExitCode::from(2)
        }
    };
    cutover::target::kill_all_processes();
    code
}

/// The signal thread's state (see the module docs).
struct Signals {
    /// The replay's stop request.
    stop: Stop,
    /// Whether the first signal drains (a replay) or quits.
    drain: AtomicBool,
}

impl Signals {
    fn install() -> &'static Signals {
        use nix::sys::signal::{SigSet, Signal as Sig};
        static SIGNALS: OnceLock<Signals> = OnceLock::new();
        let signals = SIGNALS.get_or_init(|| Signals {
            stop: Stop::new(),
            drain: AtomicBool::new(false),
        });
        let mut set = SigSet::empty();
        set.add(Sig::SIGINT);
        set.add(Sig::SIGTERM);
        // Blocked here, before any other thread exists, so every thread
        // inherits the mask and only the waiting thread takes the signals.
        // Child processes start with an empty mask (the standard library
        // resets it before exec).
        if set.thread_block().is_err() {
            eprintln!("cutover: warning: cannot block SIGINT and SIGTERM; a signal will end the run at once");
            return signals;
        }
        let waiter = std::thread::Builder::new()
            .name("cutover-signals".into())
            .spawn(move || loop {
                match set.wait() {
                    Ok(Sig::SIGTERM) => signals.on_signal(Signal::Sigterm),
                    Ok(_) => signals.on_signal(Signal::Sigint),
                    Err(_) => continue,
                }
            });
        if waiter.is_err() {
            // Without the waiter the signals would stay blocked for ever.
            let _ = set.thread_unblock();
        }
        signals
    }

    fn on_signal(&self, signal: Signal) {
        if self.drain.load(Ordering::SeqCst) && self.stop.request(signal) {
            match signal {
                Signal::Sigint => eprintln!("cutover: interrupted; finishing the records in flight, then writing the report (Ctrl-C again to quit at once)"),
                Signal::Sigterm => eprintln!("cutover: SIGTERM received; finishing the records in flight, then writing the report (a second signal quits at once)"),
            }
            return;
        }
        cutover::target::kill_all_processes();
        std::process::exit(signal.exit_code());
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

/// Writes `text` to stdout (a closed pipe is not an error: see the module docs).
fn print(text: &str) -> anyhow::Result<()> {
    cutover::review::style::emit(text, false).context("cannot write <stdout>")
}

/// The secrets the environment holds, taken out of everything shown.
fn register_env_secrets() {
    use cutover::flags::{admin::ENV_ADMIN_TOKEN, settings};
    for name in [ENV_ADMIN_TOKEN, settings::ENV_CLIENT_SECRET] {
        if let Ok(secret) = std::env::var(name) {
            cutover::redact::register(&secret);
        }
    }
    if let Ok(url) = std::env::var(settings::ENV_URL) {
        cutover::redact::register_url(&url);
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
        .with_writer(cutover::redact::Stderr)
        .with_ansi(!matches!(
            anstream::AutoStream::choice(&std::io::stderr()),
            anstream::ColorChoice::Never
        ))
        .init();
}

fn run(cli: Cli, matches: &clap::ArgMatches, stop: &Stop) -> anyhow::Result<u8> {
    match cli.command {
        Command::Builtins => {
            print(&builtins_text())?;
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
            let (summary, dir) =
                runtime.block_on(cutover::replay::replay(options, stop.clone()))?;
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            let run = cutover::review::Run {
                dir,
                summary,
                recheck: None,
            };
            let palette = cutover::review::style::Palette {
                color: cutover::review::style::ColorMode::Auto.enabled(),
            };
            print(&cutover::redact::text(&cutover::review::text::run_text(
                &run,
                palette,
                cutover::review::TOP_GROUPS,
            )))?;
            Ok(run.summary.exit_code.clamp(0, 255) as u8)
        }
    }
}
