//! Automatic rollback: a sliding window of live comparisons and the rule
//! that takes the candidate off the response path.
//!
//! # Contract
//! - [`Window`] counts, for the last `window` of time, the compared
//!   mirrors and those that count **against** the candidate (a mismatch, a
//!   candidate error, a timeout: what the promotion gate counts). It keeps
//!   counts per slice of `window / `[`SLICES`] (one slice begins with the
//!   first comparison past the previous slice's end), not one entry per
//!   comparison: its memory is at most [`SLICES`]` + 1` slices whatever the
//!   rate. A comparison leaves the window when its slice began more than
//!   `window` ago (so it counts for `window` to `window + window / SLICES`).
//!   At most [`MAX_SAMPLES`] comparisons are counted (the oldest slices go
//!   first).
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

/// Comparisons counted at most in the window.
pub const MAX_SAMPLES: usize = 1 << 20;
/// The slices a window is counted in.
pub const SLICES: u32 = 1024;

/// The comparisons of one slice of the window.
#[derive(Debug, Clone, Copy)]
struct Slice {
    began: Instant,
    n: u64,
    against: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trip {
    Nothing,
    Rollback,
    Release,
}

pub struct Window {
    settings: RollbackSettings,
    slices: VecDeque<Slice>,
    /// The width of one slice.
    slice: Duration,
    /// Comparisons in the window.
    n: u64,
    against: u64,
    last_rollback: Option<Instant>,
    overridden: bool,
}

impl Window {
    pub fn new(settings: RollbackSettings) -> Self {
        Window {
            slice: (settings.window / SLICES).max(Duration::from_millis(1)),
            settings,
            slices: VecDeque::new(),
            n: 0,
            against: 0,
            last_rollback: None,
            overridden: false,
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&oldest) = self.slices.front() {
            let too_many = self.n > MAX_SAMPLES as u64 && self.slices.len() > 1;
            if now.saturating_duration_since(oldest.began) <= self.settings.window && !too_many {
                break;
            }
            self.slices.pop_front();
            self.n -= oldest.n;
            self.against -= oldest.against;
        }
    }

    /// Entries the window holds (its memory, in slices).
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.slices.len()
    }

    /// The upper bound over the window now.
    pub fn bound(&self) -> f64 {
        wilson_upper(self.against, self.n, Z95)
    }

    /// The evidence of the window, as the promotion gate writes it.
    pub fn evidence(&self) -> Evidence {
        Evidence::from_numbers(
            self.n,
            self.against,
            Gate {
                min_records: self.settings.min_samples,
                max_mismatch_bound: self.settings.max_mismatch_bound,
            },
        )
    }

    /// One compared mirror (see the module docs).
    pub fn observe(&mut self, against: bool, now: Instant) -> Trip {
        let current = self
            .slices
            .back_mut()
            .filter(|s| now.saturating_duration_since(s.began) < self.slice);
        match current {
            Some(slice) => {
                slice.n += 1;
                slice.against += u64::from(against);
            }
            None => self.slices.push_back(Slice {
                began: now,
                n: 1,
                against: u64::from(against),
            }),
        }
        self.n += 1;
        self.against += u64::from(against);
        self.expire(now);
        if !self.settings.enabled {
            return Trip::Nothing;
        }
        let n = self.n;
        let enough = n >= self.settings.min_samples;
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

    /// Before the fix the window kept one entry (24 bytes) per comparison,
    /// up to 2^20 of them: at a few thousand comparisons a second serve's
    /// RSS grew by tens of MiB over the first minutes.
    #[test]
    fn the_windows_memory_does_not_grow_with_the_rate() {
        let mut w = Window::new(settings());
        let t0 = Instant::now();
        for i in 0..200_000u64 {
            // 200,000 comparisons over 20 s.
            w.observe(i % 1000 == 0, t0 + Duration::from_micros(i * 100));
        }
        assert_eq!(w.evidence().records, 200_000);
        assert_eq!(w.evidence().against, 200);
        assert!(w.entries() <= 1100, "{} entries", w.entries());
        // What is older than the window leaves it.
        let later = t0 + Duration::from_secs(20) + settings().window + Duration::from_secs(1);
        w.observe(false, later);
        assert_eq!(w.evidence().records, 1);
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
