//! Flags: which side serves a request, decided by Unleash feature flags.
//!
//! # The model
//! A migration has two flags, evaluated per request **key** (the capture's
//! `key`; a user or session id):
//!
//! | flag | on for the key | off for the key |
//! |---|---|---|
//! | `shadow` (`cutover.<migration>.shadow`) | the side that does not serve is mirrored and compared | nothing is mirrored |
//! | `serve` (`cutover.<migration>.serve`) | the candidate's answer is returned | the legacy's answer is returned |
//!
//! So both off is legacy only; shadow on is legacy serving with the candidate
//! compared; serve at x% is the candidate serving a sticky x% of keys with the
//! legacy compared; serve at 100% is the cutover complete.
//!
//! # Contract
//! - **One evaluation path**: every decision comes from the official Rust SDK
//!   (`unleash-api-client`, [`Evaluator`]), whether the flag state came from
//!   a local file ([`file_source`]) or from an Unleash server
//!   ([`server_source`]). Stickiness is therefore Unleash's own (MurmurHash3
//!   of `groupId:key`), the same as every official SDK.
//! - **Safe default**: with no flag state loaded, every [`Decision`] is
//!   *legacy serves, nothing mirrored* ([`Basis::NoState`]). A flag missing
//!   from a loaded state is off. A request **without a key** is never routed
//!   at random (flexibleRollout's default stickiness would fall back to a
//!   random number): it is served by the legacy, not mirrored, and counted
//!   apart as [`Basis::WithoutKey`].
//! - The key goes to the Unleash context field chosen by [`Stickiness`]
//!   (`userId` by default, `sessionId`, or a custom property).
//!
//! # Files
//! [`settings`] (the resolved flag settings), [`eval`] (the SDK wrapper),
//! [`memo`] (per-key decisions, only where deterministic), [`file_source`],
//! [`server_source`], [`router`] (the library API a service embeds),
//! [`admin`] (the Unleash Admin API), [`local_write`] (the local file
//! writer), [`evidence`] (the promotion rule, a pure function),
//! [`audit_log`], [`open`] (a source opened once for a one-shot command),
//! [`state`] (flag states and what one says about a flag).
//!
//! # Place in the house
//! Beside the pipeline: names only [`crate::model`], [`crate::compare`]
//! (the [`Router`] compares) and [`crate::util`]. What a replay says about
//! the rollout is the report stage's (its `rollout` section, above this module); the
//! `cutover flags` command is `cli/`'s.

pub mod admin;
pub mod audit_log;
pub mod eval;
pub mod evidence;
pub mod file_source;
pub mod local_write;
pub mod memo;
pub mod open;
pub mod router;
pub mod server_source;
pub mod settings;
pub mod state;

pub use eval::Evaluator;
pub use router::{Comparison, Later, Observe, Router, RouterBuilder, RouterStats};
pub use settings::{FlagSettings, Source};

use crate::model::Side;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The two flags of one migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagNames {
    pub shadow: String,
    pub serve: String,
}

impl FlagNames {
    /// `cutover.<migration>.shadow` and `cutover.<migration>.serve`.
    pub fn derived(migration: &str) -> Self {
        FlagNames {
            shadow: format!("cutover.{migration}.shadow"),
            serve: format!("cutover.{migration}.serve"),
        }
    }

    /// The flag named by a `shadow` / `serve` role.
    pub fn of(&self, role: Role) -> &str {
        match role {
            Role::Shadow => &self.shadow,
            Role::Serve => &self.serve,
        }
    }
}

/// Which of the two flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Shadow,
    Serve,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Shadow => "shadow",
            Role::Serve => "serve",
        })
    }
}

/// The Unleash context field the request key is put in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stickiness {
    UserId,
    SessionId,
    /// A custom context property of this name.
    Property(String),
}

impl Stickiness {
    /// `userId`, `sessionId`, or any other name for a custom property.
    pub fn parse(text: &str) -> Self {
        match text {
            "userId" => Stickiness::UserId,
            "sessionId" => Stickiness::SessionId,
            other => Stickiness::Property(other.to_owned()),
        }
    }

    /// The name Unleash uses (the `stickiness` parameter of flexibleRollout).
    pub fn as_str(&self) -> &str {
        match self {
            Stickiness::UserId => "userId",
            Stickiness::SessionId => "sessionId",
            Stickiness::Property(name) => name,
        }
    }
}

/// Why a decision is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Both flags were evaluated for the key.
    Flags,
    /// The request had no key: legacy serves, nothing mirrored.
    WithoutKey,
    /// No flag state is loaded yet: legacy serves, nothing mirrored.
    NoState,
}

/// Who serves one request, and whether the other side is mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub serving: Side,
    /// The side that does not serve is called too and compared.
    pub mirrored: bool,
    pub basis: Basis,
}

impl Decision {
    /// Legacy serves, nothing mirrored.
    pub const fn legacy_only(basis: Basis) -> Self {
        Decision {
            serving: Side::Legacy,
            mirrored: false,
            basis,
        }
    }

    /// The decision for evaluated flags.
    pub const fn from_flags(serve: bool, shadow: bool) -> Self {
        Decision {
            serving: if serve { Side::Candidate } else { Side::Legacy },
            mirrored: shadow,
            basis: Basis::Flags,
        }
    }
}

/// What can go wrong with flags; every message names the flag, file or
/// variable and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum FlagsError {
    #[error("flag file {path}: {message}. Fix the file (it has the shape of Unleash's GET /api/client/features response), or restore it with `cutover flags set`")]
    BadFile { path: PathBuf, message: String },
    #[error("cannot read flag file {path}: {source}. Create it with `cutover flags set shadow 100`, or set [flags] source in cutover.toml")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("Unleash Admin API at {url}: {message}")]
    Admin { url: String, message: String },
    #[error("cannot start the Unleash SDK client: {0}")]
    Sdk(String),
}
