//! `cutover.toml`: every setting a flag can make, in a file.
//!
//! # Contract
//! - The file is read from `--config PATH` (which must exist) or, without the
//!   flag, from `./cutover.toml` when that exists. Nothing else is read.
//! - Every option of `replay`, `flags` and `serve` has a key here
//!   (`[replay]`, `[flags]`, `[serve]`, `[[rules]]` for `--ignore`), except the few a test in
//!   `settings.rs` lists as command-line only, each with its reason.
//! - Unknown keys are errors (a typo must not be silently ignored); errors name
//!   the file and the line and column.
//! - Precedence: a flag given on the command line beats the file, which beats
//!   the built-in default shown in `--help`. Merging is [`super::settings`]'
//!   work, which knows which flags were given explicitly.
//! - Raw tables only: every value is as written (durations as text), checked
//!   when it is resolved. Rules and known differences are the comparison's
//!   own declarations ([`crate::compare::RuleConfig`],
//!   [`crate::compare::KnownConfig`]), each with where it was declared.
//!
//! Comparison rules are `[[rules]]` tables (see [`crate::compare::RuleSet`]).
//! `[reproduce]` holds `trust_run` (see [`crate::reproduce::setup::Trust`]).
//! `[contract]` is the behaviour contract ([`crate::contract::ContractConfig`]).
//! `[sides.legacy]` and `[sides.candidate]` hold an `upstream:` side's
//! request rewriting (`host`, `headers`, `secret_headers`, `path_prefix`) and
//! the CA file an `https://` side trusts (`ca_file`).
//!
//! ```toml
//! [replay]
//! legacy = "worker:python3 legacy/worker.py"
//! candidate = "builtin:normalize"
//! traffic = ["fixtures/normalize/capture.jsonl"]
//! concurrency = 128
//! timeout = "10s"
//! ```

use crate::compare::{Declared, KnownConfig, RuleConfig};
use crate::model::Side;
use crate::traffic::Format;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The default config file, looked for in the working directory.
pub const DEFAULT_CONFIG: &str = "cutover.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub replay: ReplayConfig,
    /// `[[rules]]`: comparison rules, in declaration order.
    #[serde(default)]
    pub rules: Vec<toml::Spanned<RuleConfig>>,
    /// `[[known]]`: declared known differences.
    #[serde(default)]
    pub known: Vec<toml::Spanned<KnownConfig>>,
    /// `[flags]`: the rollout's flags (see [`crate::flags::settings`]).
    #[serde(default)]
    pub flags: FlagsConfig,
    /// `[reproduce]`: the settings of `minimize`, `pin` and `recheck`.
    #[serde(default)]
    pub reproduce: ReproduceConfig,
    /// `[contract]`: the behaviour contract both sides are held to (see
    /// [`crate::contract`]); its schema paths are relative to this file.
    pub contract: Option<crate::contract::ContractConfig>,
    /// `[serve]`: the settings of `cutover serve`.
    #[serde(default)]
    pub serve: ServeConfig,
    /// `[sides.legacy]`, `[sides.candidate]`: how an `upstream:` side
    /// rewrites each request.
    #[serde(default)]
    pub sides: SidesConfig,
}

/// `[serve]`: the settings of `cutover serve`, each optional, each named as
/// its flag (durations as text).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub public: Option<bool>,
    pub key_header: Option<String>,
    pub key_cookie: Option<String>,
    pub key_query: Option<String>,
    pub key_field: Option<String>,
    pub legacy: Option<String>,
    pub candidate: Option<String>,
    pub out: Option<PathBuf>,
    pub reports_dir: Option<PathBuf>,
    pub capture: Option<PathBuf>,
    pub workers: Option<usize>,
    pub timeout: Option<String>,
    pub startup_timeout: Option<String>,
    pub retries: Option<u32>,
    pub max_body: Option<usize>,
    pub mirror_max_body: Option<usize>,
    pub mirrors: Option<usize>,
    pub mirror_queue: Option<usize>,
    pub mirror_nice: Option<u8>,
    pub mirror_timeout: Option<String>,
    pub flush_interval: Option<String>,
    pub shutdown_grace: Option<String>,
    pub max_diffs: Option<usize>,
    /// `false` is `--no-html`.
    pub html: Option<bool>,
    /// `false` is `--no-rollback`.
    pub rollback: Option<bool>,
    pub min_samples: Option<u64>,
    pub rollback_window: Option<String>,
    pub rollback_bound: Option<f64>,
    pub rollback_cooldown: Option<String>,
    /// `true` is `--no-flags`.
    pub no_flags: Option<bool>,
    pub capture_sample: Option<f64>,
    pub capture_max_bytes: Option<u64>,
    /// `--redact-field`.
    pub redact_fields: Option<Vec<String>>,
    /// `--redact-query`.
    pub redact_query: Option<Vec<String>>,
    /// `--mirror-route`, each `METHOD PATTERN`.
    pub mirror_routes: Option<Vec<String>>,
    pub shadow_header: Option<String>,
    /// `--noise-probe`.
    pub noise_probe: Option<bool>,
    /// `--ready-input`: JSON text.
    pub ready_input: Option<String>,
    /// Proxy mode: `--max-connections`, per upstream.
    pub max_connections: Option<usize>,
    /// Proxy mode: `--hop-by-hop-headers`.
    pub hop_by_hop_headers: Option<Vec<String>>,
    /// Proxy mode: `--volatile-headers`.
    pub volatile_headers: Option<Vec<String>>,
    /// Proxy mode: `--redact-headers`.
    pub redact_headers: Option<Vec<String>>,
}

/// `[sides.legacy]` and `[sides.candidate]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SidesConfig {
    #[serde(default)]
    pub legacy: RewriteConfig,
    #[serde(default)]
    pub candidate: RewriteConfig,
}

/// One `upstream:` side's request rewriting (`--legacy-host`, ...).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteConfig {
    /// The `host` header sent instead of the recorded one.
    pub host: Option<String>,
    /// Headers set on every request: `{ "x-shadow" = "1" }`.
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// Headers set from environment variables: `{ authorization = "LEGACY_TOKEN" }`.
    pub secret_headers: Option<std::collections::BTreeMap<String, String>>,
    /// Put before every request path.
    pub path_prefix: Option<String>,
    /// `https://`: CA certificates (PEM) trusted besides the platform's
    /// roots, relative to this file.
    pub ca_file: Option<std::path::PathBuf>,
}

/// `[reproduce]`: the settings of `cutover minimize`, `pin` and `recheck`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReproduceConfig {
    /// `true` is `--trust-run`: start the targets a run's `summary.json`
    /// names even when this file does not name them.
    pub trust_run: Option<bool>,
}

/// `[replay]`: the settings of `cutover replay`, each optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    pub traffic: Option<Vec<String>>,
    pub format: Option<Format>,
    pub legacy: Option<String>,
    pub candidate: Option<String>,
    pub concurrency: Option<usize>,
    pub workers: Option<usize>,
    /// A duration such as `"10s"` or `"250ms"`.
    pub timeout: Option<String>,
    /// A duration such as `"30s"`.
    pub startup_timeout: Option<String>,
    pub retries: Option<u32>,
    pub max_record_bytes: Option<usize>,
    /// `--max-inflight-bytes`.
    pub max_inflight_bytes: Option<u64>,
    pub max_diffs: Option<usize>,
    pub id_column: Option<String>,
    pub key_column: Option<String>,
    pub reports_dir: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub progress: Option<bool>,
    pub noise_probe: Option<bool>,
    /// `--group-by`: `signature`, `key`, `input:/POINTER` or `output:/POINTER`.
    pub group_by: Option<String>,
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    /// `false` is `--no-html`.
    pub html: Option<bool>,
    /// `true` is `--no-flags`.
    pub no_flags: Option<bool>,
    /// `--follow-redirects`: the sides (`"legacy"`, `"candidate"`) whose
    /// http side follows same-host redirects.
    pub follow_redirects: Option<Vec<Side>>,
    /// `--rate`: records per second.
    pub rate: Option<f64>,
    /// `--speed`: the captured timing sped up this many times.
    pub speed: Option<f64>,
    /// `--max-connections`: per upstream side.
    pub max_connections: Option<usize>,
    /// `--hop-by-hop-headers`.
    pub hop_by_hop_headers: Option<Vec<String>>,
    /// `--volatile-headers`.
    pub volatile_headers: Option<Vec<String>>,
    /// `--redact-headers`.
    pub redact_headers: Option<Vec<String>>,
}

/// `[flags]` in `cutover.toml`; every key optional (the defaults are in
/// [`crate::flags::settings`] and shown by `cutover flags --help`).
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

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// A loaded config file and where it came from.
#[derive(Debug, Default)]
pub struct Loaded {
    pub path: Option<PathBuf>,
    pub config: FileConfig,
    /// Each rule with where it was declared (`FILE line N`).
    pub rules: Vec<Declared<RuleConfig>>,
    /// Each known difference with where it was declared.
    pub known: Vec<Declared<KnownConfig>>,
}

impl Loaded {
    /// The file's name for messages (`""` without a file).
    pub fn file_name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(String::new, |p| p.display().to_string())
    }
}

/// Loads `explicit`, or `./cutover.toml` if present, or nothing.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_owned(),
        None if Path::new(DEFAULT_CONFIG).is_file() => PathBuf::from(DEFAULT_CONFIG),
        None => return Ok(Loaded::default()),
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let mut config = parse(&text).map_err(|message| ConfigError::Parse {
        path: path.clone(),
        message,
    })?;
    let rules = located(std::mem::take(&mut config.rules), &text, &path);
    let known = located(std::mem::take(&mut config.known), &text, &path);
    Ok(Loaded {
        path: Some(path),
        config,
        rules,
        known,
    })
}

/// Each table with where it was declared (`FILE line N`), for error messages.
fn located<T>(tables: Vec<toml::Spanned<T>>, text: &str, path: &Path) -> Vec<Declared<T>> {
    tables
        .into_iter()
        .map(|table| {
            let start = table.span().start.min(text.len());
            let line = text[..start].matches('\n').count() + 1;
            Declared::new(
                table.into_inner(),
                format!("{} line {line}", path.display()),
            )
        })
        .collect()
}

/// Parses config text; the error names line and column.
pub fn parse(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|e| {
        let location = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}: ")
            })
            .unwrap_or_default();
        format!("{location}{}", e.message())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_replay_settings() {
        let c =
            parse("[replay]\nlegacy = \"exec:./x\"\nconcurrency = 4\nformat = \"csv\"\n").unwrap();
        assert_eq!(c.replay.legacy.as_deref(), Some("exec:./x"));
        assert_eq!(c.replay.concurrency, Some(4));
        assert_eq!(c.replay.format, Some(Format::Csv));
    }

    #[test]
    fn unknown_keys_name_the_line() {
        let e = parse("[replay]\nlegacy = \"builtin:normalize\"\nconcurrancy = 4\n").unwrap_err();
        assert!(
            e.starts_with("line 3, column 1: unknown field `concurrancy`"),
            "{e}"
        );
    }
}
