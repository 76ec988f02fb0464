//! `cutover.toml`: every setting a flag can make, in a file.
//!
//! # Contract
//! - The file is read from `--config PATH` (which must exist) or, without the
//!   flag, from `./cutover.toml` when that exists. Nothing else is read.
//! - Every option of `replay` and of `flags` has a key here (`[replay]`,
//!   `[flags]`, `[[rules]]` for `--ignore`), except the few a test in
//!   `cli.rs` lists as command-line only, each with its reason.
//! - Unknown keys are errors (a typo must not be silently ignored); errors name
//!   the file and the line and column.
//! - Precedence: a flag given on the command line beats the file, which beats
//!   the built-in default shown in `--help`. Merging is done by the CLI layer,
//!   which knows which flags were given explicitly.
//!
//! Comparison rules are `[[rules]]` tables (see [`crate::compare::RuleSet`]).
//! `[reproduce]` holds `trust_run` (see `crate::reproduce::setup::Trust`).
//!
//! ```toml
//! [replay]
//! legacy = "worker:python3 legacy/worker.py"
//! candidate = "builtin:normalize"
//! traffic = ["fixtures/normalize/capture.jsonl"]
//! concurrency = 128
//! timeout = "10s"
//! ```

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
    pub rules: Vec<toml::Spanned<crate::compare::RuleConfig>>,
    /// `[[known]]`: declared known differences.
    #[serde(default)]
    pub known: Vec<toml::Spanned<crate::compare::KnownConfig>>,
    /// `[flags]`: the rollout's flags (see [`crate::flags::settings`]).
    #[serde(default)]
    pub flags: crate::flags::settings::FlagsConfig,
    /// `[reproduce]`: the settings of `minimize`, `pin` and `recheck`.
    #[serde(default)]
    pub reproduce: ReproduceConfig,
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
#[derive(Debug, Default, Deserialize)]
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
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    /// `false` is `--no-html`.
    pub html: Option<bool>,
    /// `true` is `--no-flags`.
    pub no_flags: Option<bool>,
    /// `--follow-redirects`: the sides (`"legacy"`, `"candidate"`) whose
    /// http target follows same-host redirects.
    pub follow_redirects: Option<Vec<crate::target::Side>>,
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
    pub rules: Vec<(crate::compare::RuleConfig, String)>,
    /// Each known difference with where it was declared.
    pub known: Vec<(crate::compare::KnownConfig, String)>,
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
fn located<T>(tables: Vec<toml::Spanned<T>>, text: &str, path: &Path) -> Vec<(T, String)> {
    tables
        .into_iter()
        .map(|table| {
            let start = table.span().start.min(text.len());
            let line = text[..start].matches('\n').count() + 1;
            (
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
