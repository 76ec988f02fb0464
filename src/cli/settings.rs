//! The command line resolved (ripgrep's "high-level arguments"): flags
//! over `cutover.toml` over the defaults `--help` shows, into the library's
//! own descriptions: a [`RunSpec`] for `replay`, [`FlagSettings`] for the
//! flags, where runs are for the review commands, the [`Trust`] of
//! `minimize`, `pin` and `recheck`.
//!
//! # Contract
//! - Per setting, a flag given on the command line wins (clap's matches say
//!   whether it was given: [`explicit`]); otherwise the config file's value;
//!   otherwise the default on the flag ([`pick`]).
//! - One `[replay]` resolution ([`capture`]) serves every command that reads
//!   the capture or looks for runs: `replay`, `flags status` and
//!   `flags promote` see the same traffic, record limit, id and key columns
//!   and reports directory, and so do the review commands' `--reports-dir`.
//! - A value that cannot work is a [`CliError`] naming the flag or the
//!   config key (and its file) and what to do; rules and known differences
//!   are compiled here once so a bad one stops the run before anything
//!   starts.
//! - The flag settings' secrets are registered with [`crate::util::redact`]
//!   as they are resolved.

use super::args::{
    FlagOptions, ReplayArgs, ServeArgs, DEFAULT_CANDIDATE, DEFAULT_ID_COLUMN, DEFAULT_KEY_COLUMN,
    DEFAULT_LEGACY, DEFAULT_MAX_RECORD_BYTES, DEFAULT_REPORTS_DIR, DEFAULT_TRAFFIC,
};
use super::config::{self, FlagsConfig, Loaded, ReplayConfig};
use crate::compare::{GroupBy, KnownSet, RuleSet};
use crate::flags::settings::{
    check_bound, check_ladder, parse_ladder, DEFAULT_AUDIT_LOG, DEFAULT_CACHE, DEFAULT_LADDER,
    DEFAULT_MAX_MISMATCH_BOUND, DEFAULT_MIN_RECORDS, ENV_CLIENT_SECRET, ENV_URL,
};
use crate::flags::{FlagNames, FlagSettings, FlagsError, Source, Stickiness};
use crate::model::exchange::HeaderPolicy;
use crate::model::{Pace, Side};
use crate::reproduce::setup::{Later, Trust};
use crate::serve::capture::CaptureSettings;
use crate::serve::key::KeyFrom;
use crate::serve::proxy::ProxySettings;
use crate::serve::rollback::RollbackSettings;
use crate::serve::ServeSettings;
use crate::sides::upstream::Rewrite;
use crate::sides::{SideError, SideOptions, SideSpec};
use crate::spec::{new_run_id, RunSpec};
use crate::traffic::{Format, ReadOptions, TrafficSpec};
use clap::parser::ValueSource;
use clap::ArgMatches;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("its targets or --ignore paths are not what `cutover replay` takes: {0}")]
    PinnedCase(String),
    #[error(transparent)]
    Side(#[from] SideError),
    #[error(transparent)]
    Rule(#[from] crate::compare::RuleError),
    #[error(transparent)]
    Flags(#[from] FlagsError),
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
    #[error("{setting} {side}: the {side} is {spec}, not an http(s):// URL; only http sides follow redirects")]
    FollowRedirects {
        setting: String,
        side: Side,
        spec: String,
    },
    #[error("{setting}: the {side} is {spec}, not an upstream: side; only upstream sides rewrite requests")]
    NotUpstream {
        setting: String,
        side: Side,
        spec: String,
    },
    #[error("{setting}: {message}")]
    Rewrite { setting: String, message: String },
    #[error("{key} in {path}: {message}")]
    ConfigValue {
        key: &'static str,
        path: String,
        message: String,
    },
    #[error("cannot tell the working directory: {0}. Run cutover from a directory that exists")]
    Cwd(std::io::Error),
    #[error("{flag} {addr} is not a loopback address: listening there serves anyone who can reach this host; give --public (or `public = true` under [serve]) to mean it")]
    Public {
        flag: &'static str,
        addr: std::net::SocketAddr,
    },
    #[error("--key-header {0:?} is not a valid HTTP header name")]
    KeyHeader(String),
    #[error("{flag}: {message}")]
    FlagValue { flag: &'static str, message: String },
    #[error("{0}")]
    NotYet(String),
    #[error("--noise-probe with --legacy recorded: a noise probe calls the legacy twice per record, and a recorded legacy cannot be called twice (it gives the one recorded answer again), so it would always find no noise. Drop --noise-probe (or noise_probe in [replay]), or probe a live legacy")]
    NoiseProbeRecorded,
}

/// `--group-by` when given, else `group_by` from the config file (checked
/// here, naming the file), else the flag's default.
fn group_by_of(
    flag: &GroupBy,
    matches: &ArgMatches,
    file: Option<String>,
    file_name: &str,
) -> Result<GroupBy, CliError> {
    match file {
        Some(text) if !explicit(matches, "group_by") => {
            text.parse()
                .map_err(|e: crate::compare::GroupByError| CliError::ConfigValue {
                    key: "group_by",
                    path: file_name.to_owned(),
                    message: e.to_string(),
                })
        }
        _ => Ok(flag.clone()),
    }
}

/// Whether the user set `id` on the command line (or env), not by default.
pub fn explicit(matches: &ArgMatches, id: &str) -> bool {
    !matches!(
        matches.value_source(id),
        None | Some(ValueSource::DefaultValue)
    )
}

/// The flag's value if given, else the config's, else the flag's default.
pub fn pick<T>(matches: &ArgMatches, id: &str, flag: T, file: Option<T>) -> T {
    if explicit(matches, id) {
        flag
    } else {
        file.unwrap_or(flag)
    }
}

/// `--concurrency`: the flag (it has no clap default, so it is `Some` only
/// when given), else the config file's, else the default for the sides
/// ([`super::args::default_local_concurrency`] when both queue calls here,
/// [`super::args::default_concurrency`] otherwise).
fn concurrency_of(flag: Option<usize>, file: Option<usize>, sides: [&SideSpec; 2]) -> usize {
    flag.or(file)
        .unwrap_or_else(|| match sides.iter().all(|s| s.queues_here()) {
            true => super::args::default_local_concurrency(),
            false => super::args::default_concurrency(),
        })
        .max(1)
}

/// The flag's value when it was given explicitly.
pub fn given<T>(matches: &ArgMatches, id: &str, flag: T) -> Option<T> {
    explicit(matches, id).then_some(flag)
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

/// What a command gave of the settings `[replay]` holds for every command
/// that reads the capture or looks for runs (`None`: not given).
#[derive(Debug, Default, Clone)]
pub struct CaptureFlags {
    pub traffic: Option<Vec<String>>,
    pub format: Option<Format>,
    pub max_record_bytes: Option<usize>,
    pub id_column: Option<String>,
    pub key_column: Option<String>,
    pub reports_dir: Option<PathBuf>,
}

/// The capture and where runs are, as every command sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub traffic: Vec<TrafficSpec>,
    pub read: ReadOptions,
    pub reports_dir: PathBuf,
}

/// The one `[replay]` resolution of the capture and the reports directory:
/// a flag given, else `[replay]`, else the default.
pub fn capture(flags: CaptureFlags, file: &ReplayConfig) -> Capture {
    let format = flags.format.or(file.format).unwrap_or(Format::Auto);
    let traffic = flags
        .traffic
        .or_else(|| file.traffic.clone())
        .unwrap_or_else(|| vec![DEFAULT_TRAFFIC.to_owned()]);
    Capture {
        traffic: traffic
            .iter()
            .map(|t| TrafficSpec::from_arg(t, format))
            .collect(),
        read: ReadOptions {
            // One limit for capture lines and responses alike.
            max_record_bytes: flags
                .max_record_bytes
                .or(file.max_record_bytes)
                .unwrap_or(DEFAULT_MAX_RECORD_BYTES),
            id_column: flags
                .id_column
                .or_else(|| file.id_column.clone())
                .unwrap_or_else(|| DEFAULT_ID_COLUMN.to_owned()),
            key_column: flags
                .key_column
                .or_else(|| file.key_column.clone())
                .unwrap_or_else(|| DEFAULT_KEY_COLUMN.to_owned()),
            exchanges: false,
        },
        reports_dir: flags
            .reports_dir
            .or_else(|| file.reports_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_REPORTS_DIR)),
    }
}

/// Where runs are: `--reports-dir` when given, else `[replay] reports_dir`
/// of the config (`--config`, else `./cutover.toml`), else `reports`.
pub fn reports_dir(flag: Option<&Path>, config: Option<&Path>) -> Result<PathBuf, CliError> {
    if let Some(dir) = flag {
        return Ok(dir.to_owned());
    }
    let loaded = config::load(config)?;
    Ok(capture(CaptureFlags::default(), &loaded.config.replay).reports_dir)
}

/// Merges `replay` flags, the config file and defaults into the run's spec.
pub fn replay_spec(
    args: ReplayArgs,
    matches: &ArgMatches,
    config_path: Option<&Path>,
) -> Result<RunSpec, CliError> {
    spec_of(args, matches, config::load(config_path)?)
}

/// The spec `cutover replay` makes for a pinned case: its targets, its
/// config file (exactly that one: none when it names none, whatever
/// `./cutover.toml` says), its `--ignore` paths and noise-probe setting; no
/// flags, page or progress bar.
pub fn pinned_spec(case: &crate::reproduce::pin::PinnedCase) -> Result<RunSpec, CliError> {
    let mut argv: Vec<String> = [
        "cutover",
        "replay",
        "-",
        "--legacy",
        &case.legacy,
        "--candidate",
        &case.candidate,
        "--no-flags",
        "--no-html",
        "--no-progress",
    ]
    .map(str::to_owned)
    .into();
    for path in &case.ignore {
        argv.extend(["--ignore".to_owned(), path.clone()]);
    }
    if case.noise_probe {
        argv.push("--noise-probe".to_owned());
    }
    use clap::{CommandFactory, FromArgMatches};
    let matches = super::args::Cli::command()
        .try_get_matches_from(&argv)
        .map_err(|e| CliError::PinnedCase(e.to_string()))?;
    let sub = matches
        .subcommand_matches("replay")
        .expect("the argv names replay");
    let args =
        ReplayArgs::from_arg_matches(sub).map_err(|e| CliError::PinnedCase(e.to_string()))?;
    let loaded = match &case.config_file {
        Some(path) => config::load(Some(Path::new(path)))?,
        None => Loaded::default(),
    };
    spec_of(args, sub, loaded)
}

fn spec_of(args: ReplayArgs, matches: &ArgMatches, loaded: Loaded) -> Result<RunSpec, CliError> {
    let rules = RuleSet::with_ignores(&loaded.rules, &args.ignore);
    // Compiled now, so a rule that cannot work stops the run before
    // anything starts (the run compiles its spec's again).
    RuleSet::compile(&rules)?;
    KnownSet::compile(&loaded.known)?;
    let file_name = loaded.file_name();
    let ReplayConfig {
        legacy,
        candidate,
        concurrency,
        workers,
        timeout,
        startup_timeout,
        retries,
        max_inflight_bytes,
        max_diffs,
        out,
        progress,
        noise_probe,
        junit,
        html,
        no_flags,
        follow_redirects,
        group_by,
        ..
    } = loaded.config.replay.clone();
    let flags = run_flags(
        args.no_flags || no_flags.unwrap_or(false),
        &args.flags,
        matches,
        &loaded,
    )?;
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
    let capture = capture(
        CaptureFlags {
            traffic: given(matches, "traffic", args.traffic),
            format: given(matches, "format", args.format),
            max_record_bytes: given(matches, "max_record_bytes", args.max_record_bytes),
            id_column: given(matches, "id_column", args.id_column),
            key_column: given(matches, "key_column", args.key_column),
            reports_dir: given(matches, "reports_dir", args.reports_dir),
        },
        &loaded.config.replay,
    );
    let legacy = SideSpec::parse(&pick(matches, "legacy", args.legacy, legacy), Side::Legacy)?;
    let candidate = SideSpec::parse(
        &pick(matches, "candidate", args.candidate, candidate),
        Side::Candidate,
    )?;
    let (mut legacy, mut candidate) = (legacy, candidate);
    let replay_file = &loaded.config.replay;
    upstream_sides(
        matches,
        &args.upstream,
        UpstreamFile {
            max_connections: replay_file.max_connections,
            hop_by_hop_headers: replay_file.hop_by_hop_headers.clone(),
            volatile_headers: replay_file.volatile_headers.clone(),
            redact_headers: replay_file.redact_headers.clone(),
        },
        &loaded,
        [&mut legacy, &mut candidate],
    )?;
    let mut read = capture.read;
    read.exchanges = [&legacy, &candidate]
        .iter()
        .any(|s| matches!(s, SideSpec::Upstream(_)));
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
        if !matches!(spec, SideSpec::Http(_)) {
            return Err(CliError::FollowRedirects {
                setting,
                side,
                spec: spec.to_string(),
            });
        }
    }
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
    let concurrency = concurrency_of(args.concurrency, concurrency, [&legacy, &candidate]);
    let run_id = new_run_id();
    let out = if args.out.is_some() { args.out } else { out }
        .unwrap_or_else(|| capture.reports_dir.join(&run_id));
    let cwd = std::env::current_dir().map_err(CliError::Cwd)?;
    let contract = contract_of(&loaded, &cwd)?;
    let pace = pace_of(
        given(matches, "rate", args.rate).flatten(),
        given(matches, "speed", args.speed).flatten(),
        &loaded.config.replay,
        &file_name,
    )?;
    Ok(RunSpec {
        pace,
        run_id,
        cwd,
        legacy,
        candidate,
        traffic: capture.traffic,
        sides: SideOptions {
            timeout,
            startup_timeout,
            workers: pick(matches, "workers", args.workers, workers).max(1),
            retries: pick(matches, "retries", args.retries, retries),
            max_response_bytes: read.max_record_bytes,
            follow_redirects,
            dir: None,
        },
        read,
        concurrency,
        max_inflight_bytes,
        reports_dir: capture.reports_dir,
        out,
        max_diffs: pick(matches, "max_diffs", args.max_diffs, max_diffs),
        html: !args.no_html && html.unwrap_or(true),
        junit: args.junit.or(junit),
        progress: !args.no_progress && progress.unwrap_or(true),
        noise_probe: match (args.noise_probe, args.no_noise_probe) {
            (true, _) => true,
            (_, true) => false,
            _ => noise_probe.unwrap_or(false),
        },
        rules,
        known: loaded.known,
        group_by: group_by_of(&args.group_by, matches, group_by, &file_name)?,
        flags,
        contract,
        config_file: loaded.path,
    })
    .and_then(
        |spec: RunSpec| match spec.noise_probe && !spec.legacy_is_live() {
            true => Err(CliError::NoiseProbeRecorded),
            false => Ok(spec),
        },
    )
}

/// A run's flags: none with `--no-flags` (or its config key) or when
/// nothing is configured, else the resolved settings.
fn run_flags(
    off: bool,
    options: &FlagOptions,
    matches: &ArgMatches,
    loaded: &Loaded,
) -> Result<Option<FlagSettings>, CliError> {
    if off {
        return Ok(None);
    }
    let settings = flag_settings(
        options,
        matches,
        &loaded.config.flags,
        &loaded.file_name(),
        |name| std::env::var(name).ok(),
    )?;
    Ok((!settings.nothing_configured()).then_some(settings))
}

/// `cutover serve`'s settings: its [`RunSpec`] (what the live report
/// compares, written into its `summary.json` so the review commands work
/// on the directory) and the rest ([`ServeSettings`]), flags over `[serve]`
/// (and `[flags]`, `[[rules]]`, `[[known]]`) over the defaults.
pub fn serve_spec(
    args: ServeArgs,
    matches: &ArgMatches,
    config_path: Option<&Path>,
) -> Result<(RunSpec, ServeSettings), CliError> {
    let loaded = config::load(config_path)?;
    let rules = loaded.rules.clone();
    RuleSet::compile(&rules)?;
    KnownSet::compile(&loaded.known)?;
    let file_name = loaded.file_name();
    let file = loaded.config.serve.clone();
    let value_err = |key: &'static str, message: String| CliError::ConfigValue {
        key,
        path: file_name.clone(),
        message,
    };
    let dur = |id: &'static str, key: &'static str, flag: Duration, text: Option<String>| {
        pick_duration(matches, (id, key), flag, text, &file_name)
    };
    let addr = |id: &str, key: &'static str, flag: std::net::SocketAddr, text: Option<String>| {
        match text {
            Some(text) if !explicit(matches, id) => text.parse().map_err(|e| {
                value_err(
                    key,
                    format!("{text:?} is not an address ({e}); write e.g. \"127.0.0.1:8080\""),
                )
            }),
            _ => Ok(flag),
        }
    };
    let listen = addr("listen", "serve.listen", args.listen, file.listen.clone())?;
    let admin_listen = addr(
        "admin_listen",
        "serve.admin_listen",
        args.admin_listen,
        file.admin_listen.clone(),
    )?;
    let public = args.public || file.public.unwrap_or(false);
    for (flag, addr) in [("--listen", listen), ("--admin-listen", admin_listen)] {
        if !public && !addr.ip().is_loopback() {
            return Err(CliError::Public { flag, addr });
        }
    }
    let key_header = pick(
        matches,
        "key_header",
        args.key_header,
        file.key_header.clone(),
    );
    if axum::http::HeaderName::from_bytes(key_header.as_bytes()).is_err() {
        return Err(CliError::KeyHeader(key_header));
    }
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let key = KeyFrom {
        header: Some(key_header.to_ascii_lowercase()),
        cookie: nonempty(args.key_cookie.or(file.key_cookie.clone())),
        query: nonempty(args.key_query.or(file.key_query.clone())),
        json_field: nonempty(args.key_field.or(file.key_field.clone())),
    };
    let legacy_text = pick(matches, "legacy", args.legacy, file.legacy.clone());
    let candidate_text = pick(matches, "candidate", args.candidate, file.candidate.clone());
    // Proxy mode: both sides `upstream:` (the replay's side kind, with its
    // rewriting and header policy); function mode: neither.
    let mut legacy = SideSpec::parse(&legacy_text, Side::Legacy)?;
    let mut candidate = SideSpec::parse(&candidate_text, Side::Candidate)?;
    upstream_sides(
        matches,
        &args.upstream,
        UpstreamFile {
            max_connections: file.max_connections,
            hop_by_hop_headers: file.hop_by_hop_headers.clone(),
            volatile_headers: file.volatile_headers.clone(),
            redact_headers: file.redact_headers.clone(),
        },
        &loaded,
        [&mut legacy, &mut candidate],
    )?;
    let proxy = match (&legacy, &candidate) {
        (SideSpec::Upstream(_), SideSpec::Upstream(_)) => {
            let settings = ProxySettings {
                mirror_routes: if explicit(matches, "mirror_route") {
                    args.mirror_route.clone()
                } else {
                    file.mirror_routes.clone().unwrap_or_default()
                },
                shadow_header: pick(
                    matches,
                    "shadow_header",
                    args.shadow_header.clone(),
                    file.shadow_header.clone(),
                ),
            };
            crate::serve::proxy::check(&settings).map_err(CliError::NotYet)?;
            Some(settings)
        }
        (SideSpec::Upstream(_), _) | (_, SideSpec::Upstream(_)) => {
            return Err(CliError::NotYet(
                "--legacy and --candidate: proxy mode needs both sides upstream:http://…, function mode neither".into(),
            ))
        }
        _ => None,
    };
    let flags = run_flags(
        args.no_flags || file.no_flags.unwrap_or(false),
        &args.flags,
        matches,
        &loaded,
    )?;
    let bound = match args.rollback_bound.or(file.rollback_bound) {
        Some(bound) => {
            check_bound(bound).map_err(|m| value_err("serve.rollback_bound", m))?;
            bound
        }
        None => flags
            .as_ref()
            .map_or(DEFAULT_MAX_MISMATCH_BOUND, |f| f.max_mismatch_bound),
    };
    let rollback = RollbackSettings {
        enabled: !args.no_rollback && file.rollback.unwrap_or(true),
        min_samples: pick(matches, "min_samples", args.min_samples, file.min_samples).max(1),
        window: dur(
            "rollback_window",
            "serve.rollback_window",
            args.rollback_window,
            file.rollback_window.clone(),
        )?,
        max_mismatch_bound: bound,
        cooldown: dur(
            "rollback_cooldown",
            "serve.rollback_cooldown",
            args.rollback_cooldown,
            file.rollback_cooldown.clone(),
        )?,
    };
    let mirrors = pick(matches, "mirrors", args.mirrors, file.mirrors).max(1);
    let mirror_nice = pick(matches, "mirror_nice", args.mirror_nice, file.mirror_nice);
    if mirror_nice > 19 {
        return Err(value_err(
            "serve.mirror_nice",
            format!("{mirror_nice} is not a nice increment; write a number from 0 (the serving path's priority) to 19"),
        ));
    }
    let serve = ServeSettings {
        listen,
        admin_listen,
        key,
        max_body: pick(matches, "max_body", args.max_body, file.max_body).max(1),
        mirror_max_body: pick(
            matches,
            "mirror_max_body",
            args.mirror_max_body,
            file.mirror_max_body,
        ),
        mirrors,
        mirror_nice,
        mirror_queue: pick(
            matches,
            "mirror_queue",
            args.mirror_queue,
            file.mirror_queue,
        )
        .max(1),
        mirror_timeout: dur(
            "mirror_timeout",
            "serve.mirror_timeout",
            args.mirror_timeout,
            file.mirror_timeout.clone(),
        )?,
        flush_interval: dur(
            "flush_interval",
            "serve.flush_interval",
            args.flush_interval,
            file.flush_interval.clone(),
        )?,
        shutdown_grace: dur(
            "shutdown_grace",
            "serve.shutdown_grace",
            args.shutdown_grace,
            file.shutdown_grace.clone(),
        )?,
        rollback,
        capture: None,
        ready_input: {
            // Named where it was set: the flag, else the config key.
            let bad = |message: String| match args.ready_input {
                Some(_) => CliError::FlagValue {
                    flag: "--ready-input",
                    message,
                },
                None => value_err("serve.ready_input", message),
            };
            match args.ready_input.clone().or(file.ready_input.clone()) {
                Some(text) => {
                    if let Err(e) = serde_json::from_str::<Box<serde_json::value::RawValue>>(&text)
                    {
                        return Err(bad(format!(
                            "not JSON ({e}); give a JSON input the sides answer, e.g. '{{\"items\": []}}'"
                        )));
                    }
                    if proxy.is_some() {
                        return Err(bad(
                            "proxy mode checks each upstream by connecting to it; the probe input is for function mode: drop it".into(),
                        ));
                    }
                    Some(text)
                }
                None => None,
            }
        },
        proxy,
    };
    let mut serve = serve;
    if let Some(path) = args.capture.or(file.capture.clone()) {
        let sample = pick(
            matches,
            "capture_sample",
            args.capture_sample,
            file.capture_sample,
        );
        if !(0.0..=1.0).contains(&sample) {
            return Err(value_err(
                "serve.capture_sample",
                format!("{sample} is not a share; write a number from 0 to 1"),
            ));
        }
        serve.capture = Some(CaptureSettings {
            path,
            max_bytes: pick(
                matches,
                "capture_max_bytes",
                args.capture_max_bytes,
                file.capture_max_bytes,
            )
            .max(1),
            sample,
            redact_fields: if explicit(matches, "redact_field") {
                args.redact_field.clone()
            } else {
                file.redact_fields.clone().unwrap_or_default()
            },
            redact_query: if explicit(matches, "redact_query") {
                args.redact_query.clone()
            } else {
                file.redact_query.clone().unwrap_or_default()
            },
        });
    }
    let timeout = dur(
        "timeout",
        "serve.timeout",
        args.timeout,
        file.timeout.clone(),
    )?;
    let startup_timeout = dur(
        "startup_timeout",
        "serve.startup_timeout",
        args.startup_timeout,
        file.startup_timeout.clone(),
    )?;
    let reports_dir = pick(
        matches,
        "reports_dir",
        args.reports_dir,
        file.reports_dir.clone(),
    );
    let run_id = new_run_id();
    let out = args
        .out
        .or(file.out.clone())
        .unwrap_or_else(|| reports_dir.join(&run_id));
    let cwd = std::env::current_dir().map_err(CliError::Cwd)?;
    let spec = RunSpec {
        run_id,
        cwd,
        legacy,
        candidate,
        // Live traffic: no capture is read.
        traffic: Vec::new(),
        read: ReadOptions {
            max_record_bytes: serve.max_body,
            id_column: DEFAULT_ID_COLUMN.into(),
            key_column: DEFAULT_KEY_COLUMN.into(),
            exchanges: false,
        },
        sides: SideOptions {
            timeout,
            startup_timeout,
            workers: pick(matches, "workers", args.workers, file.workers).max(1),
            retries: pick(matches, "retries", args.retries, file.retries),
            max_response_bytes: serve.max_body,
            follow_redirects: Vec::new(),
            dir: None,
        },
        concurrency: mirrors,
        max_inflight_bytes: (serve.max_body as u64).saturating_mul(mirrors as u64),
        reports_dir,
        out,
        max_diffs: pick(matches, "max_diffs", args.max_diffs, file.max_diffs),
        html: !args.no_html && file.html.unwrap_or(true),
        junit: None,
        progress: false,
        noise_probe: args.noise_probe || file.noise_probe.unwrap_or(false),
        contract: contract_of(&loaded, &std::env::current_dir().map_err(CliError::Cwd)?)?,
        // Live traffic comes at its own pace.
        pace: Pace::Unlimited,
        rules,
        known: loaded.known,
        // The live report groups by content alone (no --group-by there yet).
        group_by: GroupBy::Signature,
        flags,
        config_file: loaded.path,
    };
    Ok((spec, serve))
}

/// `--rate` / `--speed` over `[replay] rate` / `speed`: one of them, above 0.
fn pace_of(
    rate: Option<f64>,
    speed: Option<f64>,
    file: &ReplayConfig,
    file_name: &str,
) -> Result<Pace, CliError> {
    let (rate, speed) = match (rate, speed) {
        (None, None) => (file.rate, file.speed),
        given => given,
    };
    let bad = |key: &'static str, message: &str| CliError::ConfigValue {
        key,
        path: file_name.to_owned(),
        message: message.to_owned(),
    };
    match (rate, speed) {
        (Some(_), Some(_)) => Err(bad(
            "replay.rate",
            "rate and speed are two ways to pace a replay: set one",
        )),
        (Some(r), None) if !(r.is_finite() && r > 0.0) => {
            Err(bad("replay.rate", "must be a number above 0"))
        }
        (None, Some(x)) if !(x.is_finite() && x > 0.0) => {
            Err(bad("replay.speed", "must be a number above 0"))
        }
        (Some(r), None) => Ok(Pace::Rate(r)),
        (None, Some(x)) => Ok(Pace::Speed(x)),
        (None, None) => Ok(Pace::Unlimited),
    }
}

/// The config's `[contract]`, its schema paths taken relative to the
/// config file that names them.
fn contract_of(
    loaded: &Loaded,
    cwd: &Path,
) -> Result<Option<crate::contract::ContractSpec>, CliError> {
    match (&loaded.config.contract, &loaded.path) {
        (Some(config), Some(path)) => {
            let base = cwd.join(path.parent().unwrap_or(Path::new("")));
            Ok(Some(crate::contract::ContractSpec::load(
                config,
                &base,
                &loaded.file_name(),
            )?))
        }
        _ => Ok(None),
    }
}

/// The config file's values of the `upstream:` options (under `[replay]`
/// or `[serve]`).
struct UpstreamFile {
    max_connections: Option<usize>,
    hop_by_hop_headers: Option<Vec<String>>,
    volatile_headers: Option<Vec<String>>,
    redact_headers: Option<Vec<String>>,
}

/// Gives each `upstream:` side its connection bound, header policy and
/// rewriting (flags over the file over the defaults); a rewriting setting
/// for a side that is not `upstream:` is an error naming the setting.
fn upstream_sides(
    matches: &ArgMatches,
    args: &super::args::UpstreamArgs,
    file: UpstreamFile,
    loaded: &Loaded,
    [legacy, candidate]: [&mut SideSpec; 2],
) -> Result<(), CliError> {
    let file_name = loaded.file_name();
    let policy = HeaderPolicy {
        hop_by_hop: header_list(pick(
            matches,
            "hop_by_hop_headers",
            args.hop_by_hop_headers.clone(),
            file.hop_by_hop_headers,
        )),
        volatile: header_list(pick(
            matches,
            "volatile_headers",
            args.volatile_headers.clone(),
            file.volatile_headers,
        )),
        redacted: header_list(pick(
            matches,
            "redact_headers",
            args.redact_headers.clone(),
            file.redact_headers,
        )),
    };
    let max_connections = pick(
        matches,
        "max_connections",
        args.max_connections,
        file.max_connections,
    )
    .max(1);
    let sides_file = &loaded.config.sides;
    let cwd = std::env::current_dir().map_err(CliError::Cwd)?;
    // A CA file named in cutover.toml is relative to that file.
    let config_dir = cwd.join(
        loaded
            .path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new("")),
    );
    for (side, spec, flags, file) in [
        (
            Side::Legacy,
            legacy,
            args.legacy_rewrite.rewriting(),
            &sides_file.legacy,
        ),
        (
            Side::Candidate,
            candidate,
            args.candidate_rewrite.rewriting(),
            &sides_file.candidate,
        ),
    ] {
        let ca_file = match (&flags.ca_file, &file.ca_file) {
            (Some(path), _) => Some((cwd.join(path), format!("--{}-ca-file", side.as_str()))),
            (None, Some(path)) => Some((
                config_dir.join(path),
                format!("[sides.{}] ca_file in {file_name}", side.as_str()),
            )),
            (None, None) => None,
        };
        let (rewrite, setting) = rewrite_of(side, flags, file, &file_name)?;
        let setting = setting.or_else(|| ca_file.as_ref().map(|(_, s)| s.clone()));
        match spec {
            SideSpec::Upstream(up) => {
                up.ca_file = ca_file.map(|(path, _)| path);
                up.rewrite = rewrite;
                up.max_connections = max_connections;
                up.headers = policy.clone();
            }
            other => {
                if let Some(setting) = setting {
                    return Err(CliError::NotUpstream {
                        setting,
                        side,
                        spec: other.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// A header list as given: trimmed, lower-cased, empty items dropped (so
/// an empty value is an empty list).
fn header_list(items: Vec<String>) -> Vec<String> {
    items
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// One side's request rewriting: each setting from its flag when given,
/// else from `[sides.SIDE]`; with the first setting's name when any is set.
fn rewrite_of(
    side: Side,
    flags: super::args::Rewriting,
    file: &super::config::RewriteConfig,
    file_name: &str,
) -> Result<(Rewrite, Option<String>), CliError> {
    let side_name = side.as_str();
    let mut setting = None;
    let mut note = |flag: &str, key: &str, from_flag: bool| {
        setting.get_or_insert_with(|| {
            if from_flag {
                format!("--{side_name}-{flag}")
            } else {
                format!("[sides.{side_name}] {key} in {file_name}")
            }
        });
    };
    let host = match (flags.host, &file.host) {
        (Some(h), _) => {
            note("host", "host", true);
            Some(h)
        }
        (None, Some(h)) => {
            note("host", "host", false);
            Some(h.clone())
        }
        (None, None) => None,
    };
    let pairs = |given: Vec<String>,
                 file: &Option<std::collections::BTreeMap<String, String>>,
                 sep: char,
                 flag: &str|
     -> Result<Vec<(String, String)>, CliError> {
        if given.is_empty() {
            return Ok(file
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect());
        }
        given
            .iter()
            .map(|item| {
                item.split_once(sep)
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .filter(|(n, _)| !n.is_empty())
                    .ok_or_else(|| CliError::Rewrite {
                        setting: format!("--{side_name}-{flag} {item:?}"),
                        message: format!(
                            "write NAME{sep}{}",
                            if sep == ':' { " VALUE" } else { "VARIABLE" }
                        ),
                    })
            })
            .collect()
    };
    let headers_given = !flags.headers.is_empty();
    let headers = pairs(flags.headers, &file.headers, ':', "header")?;
    if !headers.is_empty() {
        note("header", "headers", headers_given);
    }
    let secrets_given = !flags.secret_headers.is_empty();
    let secret_headers = pairs(
        flags.secret_headers,
        &file.secret_headers,
        '=',
        "secret-header",
    )?;
    if !secret_headers.is_empty() {
        note("secret-header", "secret_headers", secrets_given);
    }
    let path_prefix = match (flags.path_prefix, &file.path_prefix) {
        (Some(p), _) => {
            note("path-prefix", "path_prefix", true);
            p
        }
        (None, Some(p)) => {
            note("path-prefix", "path_prefix", false);
            p.clone()
        }
        (None, None) => String::new(),
    };
    Ok((
        Rewrite {
            host,
            headers,
            secret_headers,
            path_prefix,
        },
        setting,
    ))
}

/// Which sides of a run `minimize`, `pin` and `recheck` may start: the
/// `--trust-run` flag, and what the current config (`--config`, else
/// `./cutover.toml`) names and allows. This reads the config for
/// permission only; what a re-run compares comes from the run.
pub fn trust(trust_run: bool, loaded: &Loaded) -> Trust {
    let replay = &loaded.config.replay;
    let named = [
        (replay.legacy.as_deref(), DEFAULT_LEGACY, Side::Legacy),
        (
            replay.candidate.as_deref(),
            DEFAULT_CANDIDATE,
            Side::Candidate,
        ),
    ]
    .into_iter()
    .filter_map(|(text, default, side)| SideSpec::parse(text.unwrap_or(default), side).ok())
    .collect();
    Trust {
        all: trust_run || loaded.config.reproduce.trust_run.unwrap_or(false),
        named,
    }
}

/// The later config a re-running command compares with: only when it was
/// given `--config` (a `./cutover.toml` found by default is not "asked").
pub fn later(config_path: Option<&Path>, loaded: &Loaded) -> Option<Later> {
    config_path.map(|path| Later {
        path: path.to_owned(),
        rules: loaded.rules.clone(),
        known: loaded.known.clone(),
    })
}

fn bad(key: &str, file: &str, message: impl std::fmt::Display) -> FlagsError {
    let place = if file.is_empty() {
        String::new()
    } else {
        format!(" in {file}")
    };
    FlagsError::Config(format!("[flags] {key}{place}: {message}"))
}

fn duration(
    key: &str,
    file: &str,
    text: Option<&str>,
    default: Duration,
) -> Result<Duration, FlagsError> {
    match text {
        None => Ok(default),
        Some(text) => humantime::parse_duration(text).map_err(|e| {
            bad(
                key,
                file,
                format!("{text:?} is not a duration ({e}); write e.g. \"5s\" or \"500ms\""),
            )
        }),
    }
}

/// Merges options, `[flags]`, the environment and defaults.
///
/// `matches` are the subcommand's matches (to tell an explicit option from a
/// default); `env` looks variables up (`std::env::var` in the binary).
pub fn flag_settings(
    options: &FlagOptions,
    matches: &ArgMatches,
    config: &FlagsConfig,
    config_file: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<FlagSettings, FlagsError> {
    if let Some(secret) = &config.client_secret {
        crate::util::redact::register(secret);
    }
    let migration = pick(
        matches,
        "migration",
        options.migration.clone(),
        config.migration.clone(),
    );
    if migration.trim().is_empty() {
        return Err(bad("migration", config_file, "must not be empty"));
    }
    let derived = FlagNames::derived(&migration);
    let names = FlagNames {
        shadow: config.shadow_flag.clone().unwrap_or(derived.shadow),
        serve: config.serve_flag.clone().unwrap_or(derived.serve),
    };
    if names.shadow == names.serve {
        return Err(bad(
            "shadow_flag",
            config_file,
            format!(
                "{:?} is also the serve flag; the two flags must differ",
                names.shadow
            ),
        ));
    }
    let stickiness = pick(
        matches,
        "stickiness",
        options.stickiness.clone(),
        config.stickiness.clone(),
    );
    if stickiness.trim().is_empty() || stickiness == "default" || stickiness == "random" {
        return Err(bad(
            "stickiness",
            config_file,
            format!("{stickiness:?} would route keys at random; use userId, sessionId or a property name"),
        ));
    }
    let (source_text, source_configured) = if explicit(matches, "flags_source") {
        (options.flags_source.clone(), true)
    } else if let Some(source) = &config.source {
        (source.clone(), true)
    } else if let Some(url) = env(ENV_URL).filter(|u| !u.is_empty()) {
        (url, true)
    } else {
        (options.flags_source.clone(), false)
    };
    let source = if source_text.starts_with("http://") || source_text.starts_with("https://") {
        let (secret, secret_from) = match env(ENV_CLIENT_SECRET).filter(|s| !s.is_empty()) {
            Some(secret) => (Some(secret), Some(ENV_CLIENT_SECRET.to_owned())),
            None => (
                config.client_secret.clone(),
                config
                    .client_secret
                    .as_ref()
                    .map(|_| "[flags] client_secret".to_owned()),
            ),
        };
        crate::util::redact::register_url(&source_text);
        if let Some(secret) = &secret {
            crate::util::redact::register(secret);
        }
        Source::Server {
            url: source_text.trim_end_matches('/').to_owned(),
            secret,
            secret_from,
        }
    } else if source_text.is_empty() {
        return Err(bad(
            "source",
            config_file,
            "must not be empty: a flag file path or an http(s):// URL",
        ));
    } else {
        Source::File(PathBuf::from(source_text))
    };
    let ladder = config
        .ladder
        .clone()
        .unwrap_or_else(|| parse_ladder(DEFAULT_LADDER).expect("valid default ladder"));
    check_ladder(&ladder).map_err(|m| bad("ladder", config_file, m))?;
    let max_mismatch_bound = config
        .max_mismatch_bound
        .unwrap_or(DEFAULT_MAX_MISMATCH_BOUND);
    check_bound(max_mismatch_bound).map_err(|m| bad("max_mismatch_bound", config_file, m))?;
    Ok(FlagSettings {
        migration,
        names,
        stickiness: Stickiness::parse(&stickiness),
        source,
        source_configured,
        project: config.project.clone().unwrap_or_else(|| "default".into()),
        environment: config
            .environment
            .clone()
            .unwrap_or_else(|| "development".into()),
        ladder,
        min_records: config.min_records.unwrap_or(DEFAULT_MIN_RECORDS),
        max_mismatch_bound,
        cache: config.cache.clone().unwrap_or_else(|| DEFAULT_CACHE.into()),
        audit_log: config
            .audit_log
            .clone()
            .unwrap_or_else(|| DEFAULT_AUDIT_LOG.into()),
        poll_interval: duration(
            "poll_interval",
            config_file,
            config.poll_interval.as_deref(),
            Duration::from_secs(5),
        )?,
        timeout: duration(
            "timeout",
            config_file,
            config.timeout.as_deref(),
            Duration::from_secs(5),
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

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
        ("group_by", Config("[replay]\ngroup_by = \"input:/lang\"")),
        ("no_progress", Config("[replay]\nprogress = false")),
        ("no_flags", Config("[replay]\nno_flags = true")),
        ("junit", Config("[replay]\njunit = \"j.xml\"")),
        ("no_html", Config("[replay]\nhtml = false")),
        ("follow_redirects", Config("[replay]\nfollow_redirects = [\"legacy\"]")),
        ("cluster", CliOnly("where this run's work goes is chosen per run, like the capture; replayers are given it too")),
        ("chunk_records", CliOnly("cluster plumbing, not part of what the run compares (not in the RunSpec): tuned per cluster run")),
        ("ack_wait", CliOnly("cluster plumbing, not part of what the run compares (not in the RunSpec): tuned per cluster run")),
        ("max_deliver", CliOnly("cluster plumbing, not part of what the run compares (not in the RunSpec): tuned per cluster run")),
        ("cluster_wait", CliOnly("cluster plumbing, not part of what the run compares (not in the RunSpec): tuned per cluster run")),
        ("rate", Config("[replay]\nrate = 100.0")),
        ("speed", Config("[replay]\nspeed = 2.0")),
        ("max_connections", Config("[replay]\nmax_connections = 8")),
        ("hop_by_hop_headers", Config("[replay]\nhop_by_hop_headers = [\"connection\"]")),
        ("redact_headers", Config("[replay]\nredact_headers = [\"cookie\"]")),
        ("volatile_headers", Config("[replay]\nvolatile_headers = [\"date\"]")),
        ("legacy-host", Config("[sides.legacy]\nhost = \"h\"")),
        ("legacy-header", Config("[sides.legacy]\nheaders = { x-a = \"1\" }")),
        ("legacy-secret-header", Config("[sides.legacy]\nsecret_headers = { authorization = \"TOKEN\" }")),
        ("legacy-path-prefix", Config("[sides.legacy]\npath_prefix = \"/v2\"")),
        ("candidate-host", Config("[sides.candidate]\nhost = \"h\"")),
        ("candidate-header", Config("[sides.candidate]\nheaders = { x-a = \"1\" }")),
        ("candidate-secret-header", Config("[sides.candidate]\nsecret_headers = { authorization = \"TOKEN\" }")),
        ("candidate-path-prefix", Config("[sides.candidate]\npath_prefix = \"/v2\"")),
        ("legacy-ca-file", Config("[sides.legacy]\nca_file = \"ca.pem\"")),
        ("candidate-ca-file", Config("[sides.candidate]\nca_file = \"ca.pem\"")),
        ("migration", Config("[flags]\nmigration = \"m\"")),
        ("flags_source", Config("[flags]\nsource = \"f.json\"")),
        ("stickiness", Config("[flags]\nstickiness = \"sessionId\"")),
        ("flag", CliOnly("the operand of `flags set`: which flag to change now")),
        ("percent", CliOnly("the operand of `flags set`: the change itself")),
        ("force", CliOnly("a one-time override recorded as forced; a standing setting would switch the evidence gate off")),
        ("run", CliOnly("which report `promote` judges, chosen per promotion")),
        ("file", CliOnly("the operand of `flags import`: the file to copy once")),
        ("admin_listen", Config("[serve]\nadmin_listen = \"127.0.0.1:9091\"")),
        ("listen", Config("[serve]\nlisten = \"127.0.0.1:8081\"")),
        ("public", Config("[serve]\npublic = true")),
        ("key_header", Config("[serve]\nkey_header = \"x-user\"")),
        ("key_cookie", Config("[serve]\nkey_cookie = \"sid\"")),
        ("key_query", Config("[serve]\nkey_query = \"user\"")),
        ("key_field", Config("[serve]\nkey_field = \"user\"")),
        ("capture", Config("[serve]\ncapture = \"c.jsonl\"")),
        ("max_body", Config("[serve]\nmax_body = 1024")),
        ("mirror_max_body", Config("[serve]\nmirror_max_body = 1024")),
        ("mirrors", Config("[serve]\nmirrors = 8")),
        ("mirror_queue", Config("[serve]\nmirror_queue = 8")),
        ("mirror_nice", Config("[serve]\nmirror_nice = 5")),
        ("mirror_timeout", Config("[serve]\nmirror_timeout = \"1s\"")),
        ("flush_interval", Config("[serve]\nflush_interval = \"1s\"")),
        ("shutdown_grace", Config("[serve]\nshutdown_grace = \"1s\"")),
        ("no_rollback", Config("[serve]\nrollback = false")),
        ("min_samples", Config("[serve]\nmin_samples = 10")),
        ("rollback_window", Config("[serve]\nrollback_window = \"1m\"")),
        ("rollback_bound", Config("[serve]\nrollback_bound = 0.01")),
        ("rollback_cooldown", Config("[serve]\nrollback_cooldown = \"1m\"")),
        ("capture_sample", Config("[serve]\ncapture_sample = 0.5")),
        ("capture_max_bytes", Config("[serve]\ncapture_max_bytes = 1000000")),
        ("redact_field", Config("[serve]\nredact_fields = [\"password\"]")),
        ("mirror_route", Config("[serve]\nmirror_routes = [\"POST /normalize\"]")),
        ("shadow_header", Config("[serve]\nshadow_header = \"x-shadow\"")),
        ("redact_query", Config("[serve]\nredact_query = [\"token\"]")),
        ("ready_input", Config("[serve]\nready_input = '{\"items\": []}'")),
    ];

    #[test]
    fn every_option_of_replay_flags_and_serve_has_a_config_key_or_a_reason() {
        let cli = super::super::args::Cli::command();
        let mut commands = vec![cli.clone()];
        let mut ids = std::collections::BTreeSet::new();
        let mut missing = Vec::new();
        for name in ["replay", "flags", "serve"] {
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
                    if let Err(e) = super::super::config::parse(toml) {
                        panic!("{id}: {toml:?} is not a config key: {e}");
                    }
                }
                CliOnly(reason) => assert!(!reason.is_empty(), "{id}: no reason"),
            }
        }
    }

    #[derive(Parser)]
    struct FlagsTest {
        #[command(flatten)]
        flags: FlagOptions,
    }

    fn resolved(
        args: &[&str],
        toml: &str,
        env: &[(&str, &str)],
    ) -> Result<FlagSettings, FlagsError> {
        let matches =
            FlagsTest::command().get_matches_from(std::iter::once("t").chain(args.iter().copied()));
        let test = FlagsTest::from_arg_matches(&matches).unwrap();
        let config = config::parse(toml).map_err(FlagsError::Config)?.flags;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        flag_settings(&test.flags, &matches, &config, "cutover.toml", |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_derive_the_flag_names_and_use_the_local_file() {
        let s = resolved(&[], "", &[]).unwrap();
        assert_eq!(s.names, FlagNames::derived("normalize"));
        assert_eq!(s.names.serve, "cutover.normalize.serve");
        assert_eq!(s.source, Source::File("flags.json".into()));
        assert_eq!(s.ladder, vec![1, 5, 25, 50, 100]);
        assert_eq!(s.stickiness, Stickiness::UserId);
        assert!(
            !s.source_configured,
            "the default file is not a configured source"
        );
    }

    #[test]
    fn option_beats_file_beats_environment() {
        let env = [(ENV_URL, "http://env:4242/api"), (ENV_CLIENT_SECRET, "s3")];
        let s = resolved(&[], "", &env).unwrap();
        assert!(s.source_configured && !s.nothing_configured());
        resolved(&[], "[flags]\nclient_secret = \"cfg-secret-5150\"\n", &[]).unwrap();
        assert_eq!(
            crate::util::redact::text("x cfg-secret-5150"),
            "x <redacted>"
        );
        assert_eq!(
            s.source,
            Source::Server {
                url: "http://env:4242/api".into(),
                secret: Some("s3".into()),
                secret_from: Some(ENV_CLIENT_SECRET.into()),
            }
        );
        let s = resolved(
            &[],
            "[flags]\nsource = \"f.json\"\nmigration = \"m\"\n",
            &env,
        )
        .unwrap();
        assert_eq!(
            (s.source, s.names.shadow.as_str()),
            (Source::File("f.json".into()), "cutover.m.shadow")
        );
        let s = resolved(
            &["--flags-source", "g.json", "--migration", "x"],
            "[flags]\nsource = \"f.json\"\nmigration = \"m\"\n",
            &env,
        )
        .unwrap();
        assert_eq!(
            (s.source, s.migration.as_str()),
            (Source::File("g.json".into()), "x")
        );
    }

    #[test]
    fn config_errors_name_the_key() {
        let e = resolved(&[], "[flags]\nladder = [5, 1]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[flags] ladder in cutover.toml: [5, 1] is not strictly ascending"),
            "{e}"
        );
        let e = resolved(&[], "[flags]\nladder = [0, 1]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("step 0 is not a percentage"), "{e}");
        let e = resolved(&[], "[flags]\nmax_mismatch_bound = 1.5\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[flags] max_mismatch_bound"), "{e}");
        let e = resolved(&[], "[flags]\npoll_interval = \"soon\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[flags] poll_interval"), "{e}");
        let e = resolved(&["--stickiness", "random"], "", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at random"), "{e}");
        let e = resolved(&[], "[flags]\nladdr = [1]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `laddr`"), "{e}");
    }

    /// `resolve` given the matches of `cutover COMMAND argv...` and the path
    /// of a config file holding `toml`.
    fn with_command<T>(
        command: &str,
        argv: &[&str],
        toml: &str,
        resolve: impl FnOnce(&ArgMatches, &Path) -> T,
    ) -> T {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cutover.toml");
        std::fs::write(&path, toml).unwrap();
        let matches = super::super::args::Cli::command()
            .try_get_matches_from(["cutover", command].iter().chain(argv))
            .unwrap();
        resolve(matches.subcommand_matches(command).unwrap(), &path)
    }

    /// `cutover replay` resolved from `argv` (after `replay`) and a config file.
    fn replay_resolved(argv: &[&str], toml: &str) -> RunSpec {
        with_command("replay", argv, toml, |sub, path| {
            let args = ReplayArgs::from_arg_matches(sub).unwrap();
            replay_spec(args, sub, Some(path)).unwrap()
        })
    }

    /// Worker replays ran 10% faster at 512 records in flight than at the
    /// old default of 128 on 2 cores; an HTTP service must not get that
    /// many requests at once unasked.
    #[test]
    fn the_default_concurrency_is_deep_only_when_both_sides_queue_here() {
        let deep = super::super::args::default_local_concurrency();
        let shallow = super::super::args::default_concurrency();
        assert!(deep > shallow);
        let of = |argv: &[&str], toml: &str| replay_resolved(argv, toml).concurrency;
        let worker = [
            "--legacy",
            "worker:python3 w.py",
            "--candidate",
            "builtin:normalize",
        ];
        assert_eq!(of(&worker, ""), deep);
        assert_eq!(of(&[], ""), deep, "the embedded default: builtin sides");
        assert_eq!(
            of(&["--legacy", "recorded", "--candidate", "pipe:./p"], ""),
            deep
        );
        assert_eq!(of(&["--legacy", "exec:./x"], ""), shallow);
        assert_eq!(of(&["--candidate", "http://127.0.0.1:9/n"], ""), shallow);
        assert_eq!(
            of(&["--legacy", "upstream:http://127.0.0.1:9"], ""),
            shallow
        );
        let four = "[replay]\nconcurrency = 4\n";
        assert_eq!(of(&worker, four), 4, "the config file beats the default");
        assert_eq!(of(&["--candidate", "http://127.0.0.1:9/n"], four), 4);
        assert_eq!(
            of(&["--concurrency", "7"], four),
            7,
            "the flag beats the file"
        );
    }

    /// `cutover serve` resolved from `argv` (after `serve`) and a config file.
    fn serve_resolved(argv: &[&str], toml: &str) -> Result<(RunSpec, ServeSettings), CliError> {
        with_command("serve", argv, toml, |sub, path| {
            let args = ServeArgs::from_arg_matches(sub).unwrap();
            serve_spec(args, sub, Some(path))
        })
    }

    /// Before the fix a bad `--ready-input` came through the generic
    /// "not yet" error, which named neither where the value was set (flag
    /// or file) as the other settings' errors do.
    #[test]
    fn a_bad_ready_input_names_the_flag_or_the_config_key_and_what_to_do() {
        let e = serve_resolved(&["--ready-input", "{not json"], "").unwrap_err();
        assert!(!matches!(e, CliError::NotYet(_)), "{e:?}");
        let e = e.to_string();
        assert!(e.starts_with("--ready-input: "), "{e}");
        assert!(e.contains("give a JSON input"), "{e}");
        let e = serve_resolved(&[], "[serve]\nready_input = '{not json'\n").unwrap_err();
        assert!(matches!(e, CliError::ConfigValue { .. }), "{e:?}");
        let e = e.to_string();
        assert!(
            e.contains("ready_input in ") && e.contains("cutover.toml"),
            "{e}"
        );
        assert!(e.contains("give a JSON input"), "{e}");
    }

    #[test]
    fn one_replay_resolution_for_every_command_that_reads_the_capture() {
        let file = config::parse(
            "[replay]\ntraffic = [\"t.csv\"]\nmax_record_bytes = 99\nid_column = \"rid\"\nreports_dir = \"r\"\n",
        )
        .unwrap()
        .replay;
        let shared = capture(CaptureFlags::default(), &file);
        assert_eq!(shared.read.max_record_bytes, 99);
        assert_eq!(shared.read.id_column, "rid");
        assert_eq!(shared.reports_dir, PathBuf::from("r"));
        assert_eq!(shared.traffic[0].effective_format(), Format::Csv);
        let flagged = capture(
            CaptureFlags {
                key_column: Some("user".into()),
                reports_dir: Some("elsewhere".into()),
                ..CaptureFlags::default()
            },
            &file,
        );
        assert_eq!(flagged.read.key_column, "user");
        assert_eq!(flagged.reports_dir, PathBuf::from("elsewhere"));
        let defaults = capture(CaptureFlags::default(), &ReplayConfig::default());
        assert_eq!(defaults.read.max_record_bytes, DEFAULT_MAX_RECORD_BYTES);
        assert_eq!(defaults.traffic[0].display_name(), DEFAULT_TRAFFIC);
    }
}
