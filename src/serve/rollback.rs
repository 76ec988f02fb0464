//! Automatic rollback: a sliding window of live comparisons and the rule
//! that takes the candidate off the response path.
//!
//! # Contract
//! - [`Window`] keeps, for the last `window` of time, one bit per compared
//!   mirror: whether it counts **against** the candidate (a mismatch, a
//!   candidate error, a timeout: what the promotion gate counts). Memory is
//!   bounded by `max_samples` (the oldest go first).
//! - [`Window::observe`] says [`Trip::Rollback`] once there are at least
//!   `min_samples` in the window and the Wilson 95% upper bound
//!   ([`crate::flags::evidence::wilson_upper`], the promotion gate's own)
//!   exceeds `max_mismatch_bound`, **and** so does the window's own share
//!   (the point estimate), and no rollback happened within `cooldown`. The
//!   second condition is ours: on its own, the upper bound of a perfectly
//!   clean window stays above a small bound until there are about
//!   z²/bound samples (768 at 0.005), so the literal rule would roll back a
//!   flawless candidate on every start. It says [`Trip::Release`] when the override holds, the
//!   cooldown has passed, and the window is back under the bound with
//!   enough samples (the candidate is still mirrored meanwhile, so evidence
//!   keeps coming).
//! - What a rollback does (the local override, the log line, the counter,
//!   the Admin API call with the evidence in the audit log) is
//!   `serve/mod.rs`'s; this file is pure.

use crate::flags::evidence::{wilson_upper, Evidence, Gate, Z95};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The rollback settings (`[serve]` in cutover.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackSettings {
    pub enabled: bool,
    pub min_samples: u64,
    #[serde(with = "crate::util::serde::duration")]
    pub window: Duration,
    pub max_mismatch_bound: f64,
    #[serde(with = "crate::util::serde::duration")]
    pub cooldown: Duration,
}

/// Samples kept at most in the window.
pub const MAX_SAMPLES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trip {
    Nothing,
    Rollback,
    Release,
}

pub struct Window {
    settings: RollbackSettings,
    samples: VecDeque<(Instant, bool)>,
    against: u64,
    last_rollback: Option<Instant>,
    overridden: bool,
}

impl Window {
    pub fn new(settings: RollbackSettings) -> Self {
        Window {
            settings,
            samples: VecDeque::new(),
            against: 0,
            last_rollback: None,
            overridden: false,
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, against)) = self.samples.front() {
            if now.duration_since(at) <= self.settings.window && self.samples.len() <= MAX_SAMPLES {
                break;
            }
            self.samples.pop_front();
            self.against -= u64::from(against);
        }
    }

    /// The upper bound over the window now.
    pub fn bound(&self) -> f64 {
        wilson_upper(self.against, self.samples.len() as u64, Z95)
    }

    /// The evidence of the window, as the promotion gate writes it.
    pub fn evidence(&self) -> Evidence {
        Evidence::from_numbers(
            self.samples.len() as u64,
            self.against,
            Gate {
                min_records: self.settings.min_samples,
                max_mismatch_bound: self.settings.max_mismatch_bound,
            },
        )
    }

    /// One compared mirror (see the module docs).
    pub fn observe(&mut self, against: bool, now: Instant) -> Trip {
        self.samples.push_back((now, against));
        self.against += u64::from(against);
        self.expire(now);
        if !self.settings.enabled {
            return Trip::Nothing;
        }
        let enough = self.samples.len() as u64 >= self.settings.min_samples;
        let n = self.samples.len() as u64;
        let rate = self.against as f64 / n.max(1) as f64;
        let over = self.bound() > self.settings.max_mismatch_bound
            && rate > self.settings.max_mismatch_bound;
        let cooled = self
            .last_rollback
            .is_none_or(|at| now.duration_since(at) >= self.settings.cooldown);
        match (self.overridden, enough && over, cooled) {
            (false, true, true) => {
                self.overridden = true;
                self.last_rollback = Some(now);
                Trip::Rollback
            }
            (true, false, true) if enough => {
                self.overridden = false;
                Trip::Release
            }
            _ => Trip::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RollbackSettings {
        RollbackSettings {
            enabled: true,
            min_samples: 50,
            window: Duration::from_secs(60),
            max_mismatch_bound: 0.05,
            cooldown: Duration::from_secs(30),
        }
    }

    #[test]
    fn trips_once_past_the_bound_with_enough_samples_then_cools_down() {
        let mut w = Window::new(settings());
        let t0 = Instant::now();
        for i in 0..49 {
            assert_eq!(w.observe(true, t0), Trip::Nothing, "sample {i}");
        }
        assert_eq!(w.observe(true, t0), Trip::Rollback);
        assert_eq!(w.observe(true, t0), Trip::Nothing, "no flapping");
        assert_eq!(w.evidence().records, 51);
        // Clean traffic after the window and the cooldown: released.
        let later = t0 + Duration::from_secs(61);
        let mut trips = Vec::new();
        for _ in 0..100 {
            trips.push(w.observe(false, later));
        }
        assert_eq!(trips.iter().filter(|t| **t == Trip::Release).count(), 1);
    }

    #[test]
    fn clean_traffic_never_trips() {
        let mut w = Window::new(settings());
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert_eq!(w.observe(false, t0), Trip::Nothing);
        }
        assert!(w.bound() < 0.01);
    }
}
