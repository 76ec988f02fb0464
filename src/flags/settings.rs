//! Flag settings, resolved: what the flags of one migration are, where
//! their state comes from, and the promotion policy.
//!
//! # Contract
//! - [`FlagSettings`] is made by `cli/` from options, `[flags]` in
//!   `cutover.toml`, the environment and the defaults here (the defaults
//!   `--help` shows). [`check_ladder`] and [`check_bound`] say in words why a
//!   ladder or a bound cannot work; the caller names the key.
//! - The admin token is not a setting: it is read from `UNLEASH_ADMIN_TOKEN`
//!   by [`super::admin`] only when an admin call is made.
//! - Secrets: [`Source`]'s `Display` shows a URL without its userinfo (the
//!   requests keep it), and its serialised form (a run's spec keeps the flag
//!   settings) has neither the URL's userinfo nor the client secret, only
//!   where the secret came from (`UNLEASH_CLIENT_SECRET`, `[flags]
//!   client_secret`). A deserialised server source has no secret.
//! - [`FlagSettings::source_configured`] says whether the source was chosen
//!   (an option, `[flags] source`, `UNLEASH_API_URL`) or is the default
//!   file; [`FlagSettings::nothing_configured`] is the default file missing,
//!   for which a replay says nothing about flags.

use super::{FlagNames, Stickiness};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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

/// Where flag state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Server {
        /// The API URL, ending in `/api`.
        url: String,
        /// The backend (client) token.
        secret: Option<String>,
        /// Where the token came from (`UNLEASH_CLIENT_SECRET`, `[flags]
        /// client_secret`): what a run's spec keeps instead of the token.
        secret_from: Option<String>,
    },
}

/// [`Source`] as files keep it: no secret, no URL userinfo.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SourceForm {
    File(PathBuf),
    Server {
        url: String,
        #[serde(default)]
        secret_from: Option<String>,
    },
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Source::File(path) => SourceForm::File(path.clone()),
            Source::Server {
                url, secret_from, ..
            } => SourceForm::Server {
                url: crate::util::redact::url(url),
                secret_from: secret_from.clone(),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        Ok(match SourceForm::deserialize(de)? {
            SourceForm::File(path) => Source::File(path),
            SourceForm::Server { url, secret_from } => Source::Server {
                url,
                secret: None,
                secret_from,
            },
        })
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Server { url, .. } => write!(f, "server {}", crate::util::redact::url(url)),
        }
    }
}

/// Fully resolved flag settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagSettings {
    pub migration: String,
    pub names: FlagNames,
    #[serde(with = "stickiness_text")]
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
    #[serde(with = "crate::util::serde::duration")]
    pub poll_interval: Duration,
    #[serde(with = "crate::util::serde::duration")]
    pub timeout: Duration,
}

/// A [`Stickiness`] as Unleash names it (`userId`, `sessionId`, a property).
mod stickiness_text {
    use super::Stickiness;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &Stickiness, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Stickiness, D::Error> {
        Ok(Stickiness::parse(&String::deserialize(de)?))
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

    #[test]
    fn a_server_source_is_kept_without_its_secret_or_userinfo() {
        let source = Source::Server {
            url: "http://flag-user:flag-pw-4471@h:4242/api".into(),
            secret: Some("client-secret-9913".into()),
            secret_from: Some("UNLEASH_CLIENT_SECRET".into()),
        };
        let text = serde_json::to_string(&source).unwrap();
        assert_eq!(
            text,
            r#"{"server":{"url":"http://h:4242/api","secret_from":"UNLEASH_CLIENT_SECRET"}}"#
        );
        let back: Source = serde_json::from_str(&text).unwrap();
        assert!(matches!(back, Source::Server { secret: None, .. }));
    }

    #[test]
    fn ladders_and_bounds_are_checked() {
        assert!(parse_ladder("1,x").is_err());
        assert_eq!(parse_ladder("1, 10,100").unwrap(), vec![1, 10, 100]);
        assert!(check_ladder(&[5, 1])
            .unwrap_err()
            .contains("not strictly ascending"));
        assert!(check_ladder(&[0, 1]).unwrap_err().contains("step 0"));
        assert!(check_bound(1.5).is_err() && check_bound(0.005).is_ok());
    }
}
