//! Flag settings: the `[flags]` table of `cutover.toml`, the command-line
//! options that mirror it, the environment, and their resolution.
//!
//! # Contract
//! - Precedence, per setting: a command-line option given explicitly, then
//!   `[flags]` in the config file, then (for the server only) the environment
//!   (`UNLEASH_API_URL`, `UNLEASH_CLIENT_SECRET`), then the default shown in
//!   `--help` (and listed in [`FlagsConfig`]).
//! - Unknown keys are errors (the config loader rejects them).
//! - [`resolve`] checks every value (ladder ascending within 1..=100, a bound
//!   in (0, 1), durations that parse) and names the key or option on error.
//! - The admin token is not a setting: it is read from `UNLEASH_ADMIN_TOKEN`
//!   by [`super::admin`] only when an admin call is made.
//! - Secrets: the client secret and the credentials of a source URL are
//!   registered with [`crate::redact`] as they are resolved; [`Source`]'s
//!   `Display` shows the URL without its userinfo (the requests keep it).
//! - [`FlagSettings::source_configured`] says whether the source was chosen
//!   (an option, `[flags] source`, `UNLEASH_API_URL`) or is the default
//!   file; [`FlagSettings::nothing_configured`] is the default file missing,
//!   for which a replay says nothing about flags.

use super::{FlagNames, FlagsError, Stickiness};
use clap::ArgMatches;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Default migration name: the worked migration.
pub const DEFAULT_MIGRATION: &str = "normalize";
/// Default flag source: the local file in the repository root.
pub const DEFAULT_SOURCE: &str = "flags.json";
/// Default promotion ladder, in percent.
pub const DEFAULT_LADDER: &str = "1,5,25,50,100";
/// Default minimum records with an outcome before `promote` may move.
pub const DEFAULT_MIN_RECORDS: u64 = 1000;
/// Default maximum for the upper 95% bound on the mismatch rate.
pub const DEFAULT_MAX_MISMATCH_BOUND: f64 = 0.005;
/// Default last-known-good copy of the server's state.
pub const DEFAULT_CACHE: &str = ".cutover/unleash-cache.json";
/// Default audit log of flag changes.
pub const DEFAULT_AUDIT_LOG: &str = ".cutover/flags-audit.jsonl";
/// Environment variables read for the server source.
pub const ENV_URL: &str = "UNLEASH_API_URL";
pub const ENV_CLIENT_SECRET: &str = "UNLEASH_CLIENT_SECRET";

/// `[flags]` in `cutover.toml`; every key optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsConfig {
    /// Migration name; flag names derive from it (default `normalize`).
    pub migration: Option<String>,
    /// Name of the shadow flag (default `cutover.<migration>.shadow`).
    pub shadow_flag: Option<String>,
    /// Name of the serve flag (default `cutover.<migration>.serve`).
    pub serve_flag: Option<String>,
    /// Context field the key goes to: `userId` (default), `sessionId`, or a
    /// custom property name.
    pub stickiness: Option<String>,
    /// A flag file path (default `flags.json`) or the Unleash API URL
    /// (`http://host:4242/api`).
    pub source: Option<String>,
    /// Backend token for the server (the environment's
    /// `UNLEASH_CLIENT_SECRET` wins over it).
    pub client_secret: Option<String>,
    /// Unleash project of the flags (default `default`).
    pub project: Option<String>,
    /// Unleash environment the admin calls change (default `development`).
    pub environment: Option<String>,
    /// Promotion ladder in percent (default `[1, 5, 25, 50, 100]`).
    pub ladder: Option<Vec<u8>>,
    /// Records with an outcome needed before promoting (default 1000).
    pub min_records: Option<u64>,
    /// Largest accepted upper 95% bound on the mismatch rate (default 0.005).
    pub max_mismatch_bound: Option<f64>,
    /// Last-known-good copy of the server's state.
    pub cache: Option<PathBuf>,
    /// Append-only log of flag changes.
    pub audit_log: Option<PathBuf>,
    /// How often the server is polled (default `5s`).
    pub poll_interval: Option<String>,
    /// Deadline of each HTTP call to the server (default `5s`).
    pub timeout: Option<String>,
}

/// Options shared by `cutover replay` and `cutover flags`.
#[derive(Debug, Clone, clap::Args)]
pub struct FlagOptions {
    /// Migration whose flags are used: `cutover.<NAME>.shadow` and `cutover.<NAME>.serve`.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_MIGRATION, global = true)]
    pub migration: String,
    /// Flag state: a local file in Unleash's client-features shape, or the
    /// Unleash API URL (http://host:4242/api; token from UNLEASH_CLIENT_SECRET).
    /// Without this option and without [flags] source, UNLEASH_API_URL is used
    /// when set.
    #[arg(long, value_name = "PATH|URL", default_value = DEFAULT_SOURCE, global = true)]
    pub flags_source: String,
    /// Unleash context field that carries the request key: userId, sessionId or a custom property.
    #[arg(long, value_name = "FIELD", default_value = "userId", global = true)]
    pub stickiness: String,
}

/// Where flag state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Server {
        /// The API URL, ending in `/api`.
        url: String,
        /// The backend (client) token.
        secret: Option<String>,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Server { url, .. } => write!(f, "server {}", crate::redact::url(url)),
        }
    }
}

/// Fully resolved flag settings.
#[derive(Debug, Clone)]
pub struct FlagSettings {
    pub migration: String,
    pub names: FlagNames,
    pub stickiness: Stickiness,
    pub source: Source,
    /// The source was chosen (an option, `[flags] source` or
    /// `UNLEASH_API_URL`), not the default file.
    pub source_configured: bool,
    pub project: String,
    pub environment: String,
    /// Ascending percentages, each in 1..=100.
    pub ladder: Vec<u8>,
    pub min_records: u64,
    pub max_mismatch_bound: f64,
    pub cache: PathBuf,
    pub audit_log: PathBuf,
    pub poll_interval: Duration,
    pub timeout: Duration,
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

/// Checks a ladder: at least one step, strictly ascending, within 1..=100.
pub fn check_ladder(ladder: &[u8]) -> Result<(), String> {
    if ladder.is_empty() {
        return Err("the ladder needs at least one step, e.g. [1, 5, 25, 50, 100]".into());
    }
    if let Some(step) = ladder.iter().find(|&&s| s == 0 || s > 100) {
        return Err(format!("step {step} is not a percentage in 1..=100"));
    }
    if ladder.windows(2).any(|w| w[0] >= w[1]) {
        return Err(format!("{ladder:?} is not strictly ascending"));
    }
    Ok(())
}

/// Parses `1,5,25` (the `--ladder` option).
pub fn parse_ladder(text: &str) -> Result<Vec<u8>, String> {
    let steps = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u8>()
                .map_err(|_| format!("{s:?} is not a percentage in 1..=100"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_ladder(&steps)?;
    Ok(steps)
}

/// Merges options, `[flags]`, the environment and defaults.
///
/// `matches` are the subcommand's matches (to tell an explicit option from a
/// default); `env` looks variables up (`std::env::var` in the binary).
pub fn resolve(
    options: &FlagOptions,
    matches: &ArgMatches,
    config: &FlagsConfig,
    config_file: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<FlagSettings, FlagsError> {
    use crate::cli::{explicit, pick};
    if let Some(secret) = &config.client_secret {
        crate::redact::register(secret);
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
        let secret = env(ENV_CLIENT_SECRET)
            .filter(|s| !s.is_empty())
            .or_else(|| config.client_secret.clone());
        crate::redact::register_url(&source_text);
        if let Some(secret) = &secret {
            crate::redact::register(secret);
        }
        Source::Server {
            url: source_text.trim_end_matches('/').to_owned(),
            secret,
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

impl FlagSettings {
    /// No source was configured and the default flag file does not exist:
    /// there is no rollout to speak of.
    pub fn nothing_configured(&self) -> bool {
        !self.source_configured && matches!(&self.source, Source::File(path) if !path.exists())
    }
}

/// A mismatch-rate bound must be a rate strictly between 0 and 1.
pub fn check_bound(bound: f64) -> Result<(), String> {
    if bound > 0.0 && bound < 1.0 {
        Ok(())
    } else {
        Err(format!(
            "{bound} is not a rate between 0 and 1 (exclusive); e.g. 0.005 for 0.5%"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Test {
        #[command(flatten)]
        flags: FlagOptions,
    }

    fn resolved(
        args: &[&str],
        toml: &str,
        env: &[(&str, &str)],
    ) -> Result<FlagSettings, FlagsError> {
        let matches =
            Test::command().get_matches_from(std::iter::once("t").chain(args.iter().copied()));
        let test = Test::from_arg_matches(&matches).unwrap();
        let config = crate::config::parse(toml)
            .map_err(FlagsError::Config)?
            .flags;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&test.flags, &matches, &config, "cutover.toml", |k| {
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
        assert_eq!(crate::redact::text("x cfg-secret-5150"), "x <redacted>");
        assert_eq!(
            s.source,
            Source::Server {
                url: "http://env:4242/api".into(),
                secret: Some("s3".into())
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
        assert!(parse_ladder("1,x").is_err());
        assert_eq!(parse_ladder("1, 10,100").unwrap(), vec![1, 10, 100]);
    }
}
