//! The noise report: per-path rates of what the legacy disagreed with itself on.
//!
//! Paths are generalised (`/items/*/served_at`) so they can be copied into an
//! `ignore` rule. At most [`MAX_NOISE_PATHS`] distinct paths are tracked (the
//! rest are counted in `untracked_paths`); the report lists them most frequent
//! first.

use crate::compare::generalise;
use crate::model::RecordResult;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Distinct noisy paths tracked.
pub const MAX_NOISE_PATHS: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NoisePath {
    pub path: String,
    pub records: u64,
    /// `records` over the records probed.
    pub rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NoiseReport {
    pub probed_records: u64,
    pub records_with_noise: u64,
    pub paths: Vec<NoisePath>,
    pub untracked_paths: u64,
}

#[derive(Debug, Default, Clone)]
pub struct NoiseAudit {
    probed: u64,
    with_noise: u64,
    paths: BTreeMap<String, u64>,
    untracked: u64,
}

impl NoiseAudit {
    pub fn observe(&mut self, result: &RecordResult) {
        let Some(noise) = &result.noise else { return };
        self.probed += 1;
        if noise.is_empty() {
            return;
        }
        self.with_noise += 1;
        let general: HashSet<String> = noise.iter().map(|p| generalise(p)).collect();
        for path in general {
            let room = self.paths.len() < MAX_NOISE_PATHS;
            match self.paths.get_mut(&path) {
                Some(n) => *n += 1,
                None if room => {
                    self.paths.insert(path, 1);
                }
                None => self.untracked += 1,
            }
        }
    }

    /// `None` when no record was probed.
    pub fn finish(self) -> Option<NoiseReport> {
        if self.probed == 0 {
            return None;
        }
        let mut paths: Vec<NoisePath> = self
            .paths
            .into_iter()
            .map(|(path, records)| NoisePath {
                path,
                records,
                rate: (records as f64 / self.probed as f64 * 1e6).round() / 1e6,
            })
            .collect();
        paths.sort_by_key(|p| std::cmp::Reverse(p.records));
        Some(NoiseReport {
            probed_records: self.probed,
            records_with_noise: self.with_noise,
            paths,
            untracked_paths: self.untracked,
        })
    }
}
