//! How fast a replay sends its records: as fast as `--concurrency` allows,
//! at a fixed rate, or at the captured timing sped up.
//!
//! # Contract
//! - [`Pace::Rate`]: at most `per_second` records start each second (a token
//!   bucket holding one token: no bursts), in input order.
//! - [`Pace::Speed`]: each record starts `(at - first at) / factor` seconds
//!   after the first record started, `at` being its captured time
//!   ([`crate::model::Record::at`]); a record without one starts at once.
//! - Both sit on top of the concurrency bound: a record that is due but has
//!   no free slot waits for one, so the achieved rate can be lower than the
//!   one asked for; [`PaceReport`] says what it was.
//! - Serialised in the run spec as `"unlimited"`, `{"rate": N}` or
//!   `{"speed": X}`.

use serde::{Deserialize, Serialize};

/// How a replay paces its records (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pace {
    #[default]
    Unlimited,
    /// Records per second.
    Rate(f64),
    /// The captured timing, this many times faster.
    Speed(f64),
}

/// What pacing achieved, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaceReport {
    /// The pace asked for.
    pub pace: Pace,
    /// Records started under it.
    pub started: u64,
    /// Records started per second, from the first start to the last
    /// (`started - 1` intervals).
    pub achieved_per_second: f64,
}
