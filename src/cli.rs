//! The command line: clap definitions and their resolution against `cutover.toml`.
//!
//! # Contract
//! Every default is declared on the flag, so `--help` shows it. A flag given on
//! the command line wins; otherwise the config file's value; otherwise the
//! default. [`resolve_replay`] returns a [`ReplayOptions`] or a
//! [`CliError`] that names the flag (or config key) and what to do.

use crate::config::{self, ReplayConfig};
use crate::replay::{new_run_id, ReplayOptions};
use crate::target::{Side, TargetError, TargetOptions, TargetSpec, BUILTINS};
use crate::traffic::{Format, ReadOptions, TrafficSpec};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// The bundled capture of the worked migration.
pub const DEFAULT_TRAFFIC: &str = "fixtures/normalize/capture.jsonl";
/// The wrapped legacy service of the worked migration.
pub const DEFAULT_LEGACY: &str = "worker:python3 legacy/worker.py";
/// The new implementation of the worked migration.
pub const DEFAULT_CANDIDATE: &str = "builtin:normalize";

fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Default `--concurrency`: 64 records in flight per core.
pub fn default_concurrency() -> usize {
    64 * cores()
}

/// Default `--max-inflight-bytes`: 1/32 of memory, within 64 MiB..512 MiB.
pub fn default_inflight_bytes() -> u64 {
    crate::traffic::budget::default_limit()
}

fn positive_bytes(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} (write a number of bytes, e.g. 268435456)")),
    }
}

/// Default `--workers`: one worker process per core.
pub fn default_workers() -> usize {
    cores()
}

#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about = "Shadow-migration comparison harness: replay traffic through the legacy and the new implementation, diff the answers, report.",
    after_help = "Exit status: 0 every record matched, 1 differences/errors/timeouts/rejected lines found, 2 the run could not happen, 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM. A replay's first SIGINT or SIGTERM stops reading, finishes the records in flight and writes a consistent partial report; a second signal quits at once."
)]
pub struct Cli {
    /// Config file with the same settings as the flags (flags win) [default: ./cutover.toml if it exists]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug incl. worker stderr)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay captured traffic through both implementations and report the differences.
    #[command(
        after_help = "Exit status: 0 every record matched, 1 differences/errors/timeouts/rejected lines found, 2 the run could not happen, 130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM.\n\nThe first SIGINT or SIGTERM stops reading, lets the records in flight finish and writes a consistent partial report (state `interrupted`); a second signal of either kind quits at once. exec: targets run at most --workers processes at once."
    )]
    Replay(Box<ReplayArgs>),
    /// List the builtin targets.
    Builtins,
    /// Cut over with Unleash flags: status, set, promote on evidence, rollback.
    Flags(Box<crate::flags::command::FlagsArgs>),
    /// Review a run: summary, groups and rule audit; `show`, `group` and
    /// `diff` for records, groups and two runs.
    Report(Box<crate::review::command::ReportArgs>),
    /// Shrink a non-matching record's input while both sides still fail the
    /// same way (delta debugging on the JSON), and print it with its diff.
    Minimize(Box<crate::reproduce::command::MinimizeArgs>),
    /// Minimize a record and save it under fixtures/regressions/ as a
    /// regression case the test suite replays.
    Pin(Box<crate::reproduce::command::PinArgs>),
    /// Re-run every non-matching record K times; label each deterministic or flaky.
    Recheck(Box<crate::reproduce::command::RecheckArgs>),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (JSON Lines or CSV); `-` reads stdin.
    #[arg(value_name = "TRAFFIC", default_value = DEFAULT_TRAFFIC)]
    pub traffic: Vec<String>,
    /// Capture format; auto reads `.csv` as CSV and everything else as JSON Lines.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// The legacy side: builtin:NAME, worker:COMMAND, exec:COMMAND or an http(s):// URL.
    #[arg(long, value_name = "TARGET", default_value = DEFAULT_LEGACY)]
    pub legacy: String,
    /// The new side, same forms as --legacy.
    #[arg(long, value_name = "TARGET", default_value = DEFAULT_CANDIDATE)]
    pub candidate: String,
    /// Records in flight at most (64 per core by default).
    #[arg(long, value_name = "N", default_value_t = default_concurrency(), value_parser = positive)]
    pub concurrency: usize,
    /// Processes per worker: target, and exec: processes run at once (one per core by default).
    #[arg(long, value_name = "N", default_value_t = default_workers(), value_parser = positive)]
    pub workers: usize,
    /// Per-call timeout for worker, exec and http targets (e.g. 500ms, 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// How long a new worker process may take to give its first answer: calls
    /// sent to it wait until then if that is later than --timeout.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub startup_timeout: Duration,
    /// Times a call is re-sent after the worker serving it died.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u32,
    /// Longest capture line and longest response accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20)]
    pub max_record_bytes: usize,
    /// Bytes of memory the records in flight may hold, about: each record is
    /// counted from when it is read until its report is written, as its line
    /// times the memory per byte that records have shown (8 until one of
    /// 64 KiB or more is answered), then as its input and answers really
    /// take. When full, reading waits; a record bigger than this runs alone.
    /// Default: 1/32 of memory (physical, or the cgroup limit when lower),
    /// within 64 MiB..512 MiB; 256 MiB when memory cannot be read.
    #[arg(long, value_name = "BYTES", default_value_t = default_inflight_bytes(), value_parser = positive_bytes)]
    pub max_inflight_bytes: u64,
    /// Unified diffs written to diffs.txt at most (mismatches.csv always has every record).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_diffs: usize,
    /// CSV column holding the record id.
    #[arg(long, value_name = "NAME", default_value = "id")]
    pub id_column: String,
    /// CSV column holding the routing key.
    #[arg(long, value_name = "NAME", default_value = "key")]
    pub key_column: String,
    /// Parent directory of run reports; each run writes REPORTS_DIR/<run-id>/.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports_dir: PathBuf,
    /// Write this run's report into exactly this directory instead [default: REPORTS_DIR/<run-id>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Do not compare the value at this JSON Pointer (`*` = any index or key);
    /// repeatable. Audited like an `ignore` rule from cutover.toml.
    #[arg(long = "ignore", value_name = "POINTER")]
    pub ignore: Vec<String>,
    /// Call the legacy twice per record and treat paths where its two answers
    /// differ as noise for that record (outcome `noisy`; rates in summary.json)
    /// [default: off, or `noise_probe` in cutover.toml]
    #[arg(long, overrides_with = "no_noise_probe")]
    pub noise_probe: bool,
    /// Do not probe for noise, even when cutover.toml turns it on.
    #[arg(long, overrides_with = "noise_probe")]
    pub no_noise_probe: bool,
    /// Never draw the progress bar (it is only drawn when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub flags: crate::flags::settings::FlagOptions,
    /// Do not evaluate the rollout's flags (no `rollout` section in
    /// summary.json). Without a configured flag source and without the
    /// default flags.json, there is nothing to evaluate and nothing is said.
    #[arg(long)]
    pub no_flags: bool,
    /// Sides whose http(s):// target follows redirects, and only within the
    /// URL's origin (same scheme, host and port); a redirect elsewhere is not
    /// followed. Without it a 3xx is the side's answer. Repeatable or
    /// comma-separated [default: none]
    #[arg(long, value_name = "SIDE", value_enum, value_delimiter = ',')]
    pub follow_redirects: Vec<Side>,
    /// Also write the run as JUnit XML (one test case per mismatch group) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Do not write index.html, the self-contained HTML report every run
    /// writes by default.
    #[arg(long)]
    pub no_html: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Rule(#[from] crate::compare::RuleError),
    #[error(transparent)]
    Flags(#[from] crate::flags::FlagsError),
    #[error("{setting} {side}: the {side} is {spec}, not an http(s):// URL; only http sides follow redirects")]
    FollowRedirects {
        setting: String,
        side: Side,
        spec: String,
    },
    #[error("{key} in {path}: {message}")]
    ConfigValue {
        key: &'static str,
        path: String,
        message: String,
    },
}

/// Whether the user set `id` on the command line (or env), not by default.
pub(crate) fn explicit(matches: &ArgMatches, id: &str) -> bool {
    !matches!(
        matches.value_source(id),
        None | Some(ValueSource::DefaultValue)
    )
}

/// The flag's value if given, else the config's, else the flag's default.
pub(crate) fn pick<T>(matches: &ArgMatches, id: &str, flag: T, file: Option<T>) -> T {
    if explicit(matches, id) {
        flag
    } else {
        file.unwrap_or(flag)
    }
}

/// [`pick`] for a duration: the config file writes it as text (`"10s"`), and
/// a bad one is an error naming the key (`(flag id, config key)`).
fn pick_duration(
    matches: &ArgMatches,
    (id, key): (&str, &'static str),
    flag: Duration,
    file: Option<String>,
    file_name: &str,
) -> Result<Duration, CliError> {
    match file {
        Some(text) if !explicit(matches, id) => {
            humantime::parse_duration(&text).map_err(|e| CliError::ConfigValue {
                key,
                path: file_name.to_owned(),
                message: format!(
                    "{text:?} is not a duration ({e}); write e.g. \"10s\" or \"250ms\""
                ),
            })
        }
        _ => Ok(flag),
    }
}

/// Merges `replay` flags, the config file and defaults into run options.
pub fn resolve_replay(
    args: ReplayArgs,
    matches: &ArgMatches,
    config_path: Option<&std::path::Path>,
) -> Result<ReplayOptions, CliError> {
    let loaded = config::load(config_path)?;
    let rules = crate::compare::RuleSet::compile_with_ignores(&loaded.rules, &args.ignore)?;
    let known = crate::compare::KnownSet::compile(&loaded.known)?;
    let file_name = loaded
        .path
        .as_ref()
        .map_or_else(String::new, |p| p.display().to_string());
    let ReplayConfig {
        traffic,
        format,
        legacy,
        candidate,
        concurrency,
        workers,
        timeout,
        startup_timeout,
        retries,
        max_record_bytes,
        max_inflight_bytes,
        max_diffs,
        id_column,
        key_column,
        reports_dir,
        out,
        progress,
        noise_probe,
        junit,
        html,
        no_flags,
        follow_redirects,
    } = loaded.config.replay;
    let flags = if args.no_flags || no_flags.unwrap_or(false) {
        None
    } else {
        let settings = crate::flags::settings::resolve(
            &args.flags,
            matches,
            &loaded.config.flags,
            &file_name,
            |name| std::env::var(name).ok(),
        )?;
        (!settings.nothing_configured()).then_some(settings)
    };
    let timeout = pick_duration(
        matches,
        ("timeout", "replay.timeout"),
        args.timeout,
        timeout,
        &file_name,
    )?;
    let startup_timeout = pick_duration(
        matches,
        ("startup_timeout", "replay.startup_timeout"),
        args.startup_timeout,
        startup_timeout,
        &file_name,
    )?;
    let format = pick(matches, "format", args.format, format);
    let traffic = pick(matches, "traffic", args.traffic, traffic)
        .iter()
        .map(|t| TrafficSpec::from_arg(t, format))
        .collect();
    let legacy = TargetSpec::parse(&pick(matches, "legacy", args.legacy, legacy), Side::Legacy)?;
    let candidate = TargetSpec::parse(
        &pick(matches, "candidate", args.candidate, candidate),
        Side::Candidate,
    )?;
    let setting = if explicit(matches, "follow_redirects") {
        "--follow-redirects".to_owned()
    } else {
        format!("[replay] follow_redirects in {file_name}")
    };
    let follow_redirects = pick(
        matches,
        "follow_redirects",
        args.follow_redirects,
        follow_redirects,
    );
    for &side in &follow_redirects {
        let spec = match side {
            Side::Legacy => &legacy,
            Side::Candidate => &candidate,
        };
        if !matches!(spec, TargetSpec::Http(_)) {
            return Err(CliError::FollowRedirects {
                setting,
                side,
                spec: spec.to_string(),
            });
        }
    }
    let run_id = new_run_id();
    let reports_dir = pick(matches, "reports_dir", args.reports_dir, reports_dir);
    let out = if args.out.is_some() { args.out } else { out }
        .unwrap_or_else(|| reports_dir.join(&run_id));
    let concurrency = pick(matches, "concurrency", args.concurrency, concurrency).max(1);
    // One limit for capture lines and responses alike.
    let max_record_bytes = pick(
        matches,
        "max_record_bytes",
        args.max_record_bytes,
        max_record_bytes,
    );
    let max_inflight_bytes = pick(
        matches,
        "max_inflight_bytes",
        args.max_inflight_bytes,
        max_inflight_bytes,
    );
    if max_inflight_bytes == 0 {
        return Err(CliError::ConfigValue {
            key: "replay.max_inflight_bytes",
            path: file_name,
            message: "must be at least 1 (bytes)".into(),
        });
    }
    Ok(ReplayOptions {
        traffic,
        legacy,
        candidate,
        concurrency,
        max_inflight_bytes,
        targets: TargetOptions {
            timeout,
            startup_timeout,
            workers: pick(matches, "workers", args.workers, workers).max(1),
            retries: pick(matches, "retries", args.retries, retries),
            max_response_bytes: max_record_bytes,
            follow_redirects,
        },
        read: ReadOptions {
            max_record_bytes,
            id_column: pick(matches, "id_column", args.id_column, id_column),
            key_column: pick(matches, "key_column", args.key_column, key_column),
        },
        max_diffs: pick(matches, "max_diffs", args.max_diffs, max_diffs),
        out,
        run_id,
        progress: !args.no_progress && progress.unwrap_or(true),
        config_file: loaded.path,
        rules,
        known,
        noise_probe: match (args.noise_probe, args.no_noise_probe) {
            (true, _) => true,
            (_, true) => false,
            _ => noise_probe.unwrap_or(false),
        },
        junit: args.junit.or(junit),
        html: !args.no_html && html.unwrap_or(true),
        flags,
    })
}

/// The text of `cutover builtins`.
pub fn builtins_text() -> String {
    BUILTINS
        .iter()
        .map(|(name, about)| format!("builtin:{name:<18} {about}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Where each option of `replay` and `flags` is set in `cutover.toml`.
    enum Setting {
        /// A `cutover.toml` snippet that sets it.
        Config(&'static str),
        /// Command line only, and why.
        CliOnly(&'static str),
    }
    use Setting::{CliOnly, Config};

    const SETTINGS: &[(&str, Setting)] = &[
        ("config", CliOnly("it names the config file itself")),
        ("verbose", CliOnly("log level of one invocation, read before any config; CUTOVER_LOG sets it from the environment")),
        ("traffic", Config("[replay]\ntraffic = [\"a.jsonl\"]")),
        ("format", Config("[replay]\nformat = \"csv\"")),
        ("legacy", Config("[replay]\nlegacy = \"builtin:normalize\"")),
        ("candidate", Config("[replay]\ncandidate = \"builtin:normalize\"")),
        ("concurrency", Config("[replay]\nconcurrency = 4")),
        ("workers", Config("[replay]\nworkers = 2")),
        ("timeout", Config("[replay]\ntimeout = \"5s\"")),
        ("startup_timeout", Config("[replay]\nstartup_timeout = \"5s\"")),
        ("retries", Config("[replay]\nretries = 2")),
        ("max_record_bytes", Config("[replay]\nmax_record_bytes = 1024")),
        ("max_inflight_bytes", Config("[replay]\nmax_inflight_bytes = 1048576")),
        ("max_diffs", Config("[replay]\nmax_diffs = 5")),
        ("id_column", Config("[replay]\nid_column = \"rid\"")),
        ("key_column", Config("[replay]\nkey_column = \"user\"")),
        ("reports_dir", Config("[replay]\nreports_dir = \"r\"")),
        ("out", Config("[replay]\nout = \"r/x\"")),
        ("ignore", Config("[[rules]]\nname = \"n\"\nkind = \"ignore\"\npath = \"/a\"\nreason = \"r\"")),
        ("noise_probe", Config("[replay]\nnoise_probe = true")),
        ("no_noise_probe", Config("[replay]\nnoise_probe = false")),
        ("no_progress", Config("[replay]\nprogress = false")),
        ("no_flags", Config("[replay]\nno_flags = true")),
        ("junit", Config("[replay]\njunit = \"j.xml\"")),
        ("no_html", Config("[replay]\nhtml = false")),
        ("follow_redirects", Config("[replay]\nfollow_redirects = [\"legacy\"]")),
        ("migration", Config("[flags]\nmigration = \"m\"")),
        ("flags_source", Config("[flags]\nsource = \"f.json\"")),
        ("stickiness", Config("[flags]\nstickiness = \"sessionId\"")),
        ("flag", CliOnly("the operand of `flags set`: which flag to change now")),
        ("percent", CliOnly("the operand of `flags set`: the change itself")),
        ("force", CliOnly("a one-time override recorded as forced; a standing setting would switch the evidence gate off")),
        ("run", CliOnly("which report `promote` judges, chosen per promotion")),
        ("file", CliOnly("the operand of `flags import`: the file to copy once")),
    ];

    #[test]
    fn every_option_of_replay_and_flags_has_a_config_key_or_a_reason() {
        let cli = Cli::command();
        let mut commands = vec![cli.clone()];
        let mut ids = std::collections::BTreeSet::new();
        let mut missing = Vec::new();
        for name in ["replay", "flags"] {
            let sub = cli
                .find_subcommand(name)
                .expect("subcommand exists")
                .clone();
            commands.extend(sub.get_subcommands().cloned());
            commands.push(sub);
        }
        for command in &commands {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                ids.insert(id.to_owned());
                if !SETTINGS.iter().any(|(name, _)| *name == id) {
                    missing.push(format!("{} --{id}", command.get_name()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "no config key and no reason: {missing:?}"
        );
        for (id, setting) in SETTINGS {
            assert!(ids.contains(*id), "{id} is listed but is no option");
            match setting {
                Config(toml) => {
                    if let Err(e) = crate::config::parse(toml) {
                        panic!("{id}: {toml:?} is not a config key: {e}");
                    }
                }
                CliOnly(reason) => assert!(!reason.is_empty(), "{id}: no reason"),
            }
        }
    }
}
