//! The promotion rule: when the diff evidence lets the serve flag move up.
//!
//! # What counts
//! Evidence comes from one replay report's counts:
//! - **records** = every record that got an outcome: `compared + errored`
//!   (rejected capture lines never reached either side and do not count);
//! - **against** the candidate = `mismatched + errors + timeouts`: every
//!   record where a user served by the candidate could have seen something
//!   other than the legacy's answer (an error on either side, or both with
//!   different errors, is a visible difference too);
//! - `matched`, `accepted` (declared, intended differences) and `noisy`
//!   (differences only where the legacy disagrees with itself) are clean.
//!
//! # The rule
//! The gate passes when `records >= min_records` **and** the upper bound of
//! the 95% Wilson score interval of `against / records` is at most
//! `max_mismatch_bound`. Wilson (not `against / records` itself) is used so
//! that a small clean sample does not look perfect: with no mismatch in
//! `n` records the bound is `z² / (n + z²)`, about `3.84 / n`.
//!
//! **The percentage the evidence supports** is what `promote` would set now:
//! the next ladder step above the current serve percentage when the gate
//! passes (the current one at the top), and 0 when it does not (the
//! evidence does not support serving the candidate to anyone yet).
//! One step at a time: a ladder is climbed, never jumped.
//!
//! # Promotion
//! [`promotion`] is what `cutover flags promote` does, as a pure function
//! of the evidence, whether the run read its whole capture, the ladder, the
//! current percentage and `--force`: stay at the top of the ladder, move one
//! step (forced when the gate did not pass), or refuse.

use crate::util::text::counted;
use serde::{Deserialize, Serialize};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Upper bound of the Wilson score interval for `failures` in `n` trials
/// (1.0 when `n` is 0: nothing is known).
pub fn wilson_upper(failures: u64, n: u64, z: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let n_f = n as f64;
    let p = failures.min(n) as f64 / n_f;
    let z2 = z * z;
    let center = p + z2 / (2.0 * n_f);
    let margin = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    ((center + margin) / (1.0 + z2 / n_f)).min(1.0)
}

/// The next ladder step strictly above `current`; `None` at or past the top.
pub fn next_step(ladder: &[u8], current: f64) -> Option<u8> {
    ladder.iter().copied().find(|&s| f64::from(s) > current)
}

/// The thresholds of the gate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub min_records: u64,
    pub max_mismatch_bound: f64,
}

/// The evidence of one report, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `compared + errored`.
    pub records: u64,
    /// `mismatched + errors + timeouts`.
    pub against: u64,
    pub mismatch_rate: f64,
    /// Upper bound of the 95% Wilson interval of the mismatch rate.
    pub upper_bound: f64,
    pub min_records: u64,
    pub max_mismatch_bound: f64,
    pub passes: bool,
    /// Why the gate does not pass, and what would make it pass.
    pub needed: Option<String>,
}

impl Evidence {
    /// Judges a report's counts against the gate.
    pub fn judge(counts: &crate::model::Counts, gate: Gate) -> Self {
        let records = counts.with_outcome();
        let against = counts.mismatched + counts.errors + counts.timeouts;
        Self::from_numbers(records, against, gate)
    }

    pub fn from_numbers(records: u64, against: u64, gate: Gate) -> Self {
        let upper_bound = wilson_upper(against, records, Z95);
        let enough = records >= gate.min_records;
        let low = upper_bound <= gate.max_mismatch_bound;
        let needed = match (enough, low) {
            (true, true) => None,
            _ => Some(what_is_needed(records, against, gate, enough, low)),
        };
        Evidence {
            records,
            against,
            mismatch_rate: if records == 0 {
                0.0
            } else {
                against as f64 / records as f64
            },
            upper_bound,
            min_records: gate.min_records,
            max_mismatch_bound: gate.max_mismatch_bound,
            passes: enough && low,
            needed,
        }
    }

    /// The percentage this evidence supports from `current` (see the module
    /// docs).
    pub fn supported(&self, ladder: &[u8], current: f64) -> f64 {
        if !self.passes {
            return 0.0;
        }
        next_step(ladder, current).map_or(current.min(100.0), f64::from)
    }
}

/// What `cutover flags promote` does (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Promotion {
    /// Already at (or past) the top of the ladder: nothing to move.
    AtTop { current: f64 },
    /// Move `serve` from `from` to `to`; `forced` when the gate did not pass
    /// (or the run was not complete) and `--force` moved anyway.
    Move { from: f64, to: u8, forced: bool },
    /// Stay at `from`: the gate does not pass, or the run did not read its
    /// whole capture (`incomplete`).
    Refused { from: f64, to: u8, incomplete: bool },
}

/// Decides a promotion (see the module docs).
pub fn promotion(
    evidence: &Evidence,
    run_complete: bool,
    ladder: &[u8],
    current: f64,
    force: bool,
) -> Promotion {
    let Some(to) = next_step(ladder, current) else {
        return Promotion::AtTop { current };
    };
    let refused = !evidence.passes || !run_complete;
    if refused && !force {
        Promotion::Refused {
            from: current,
            to,
            incomplete: !run_complete,
        }
    } else {
        Promotion::Move {
            from: current,
            to,
            forced: refused,
        }
    }
}

/// Clean records to add (with no new mismatch) before the bound drops to the
/// threshold; `None` if even a huge number would not do.
pub fn clean_records_needed(records: u64, against: u64, bound: f64) -> Option<u64> {
    let ok = |extra: u64| wilson_upper(against, records + extra, Z95) <= bound;
    if ok(0) {
        return Some(0);
    }
    let mut high = 1u64;
    while !ok(high) {
        high = high.checked_mul(2)?;
        if high > 1 << 50 {
            return None;
        }
    }
    let mut low = high / 2;
    while low + 1 < high {
        let mid = low + (high - low) / 2;
        if ok(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    Some(high)
}

fn what_is_needed(records: u64, against: u64, gate: Gate, enough: bool, low: bool) -> String {
    let mut parts = Vec::new();
    if !enough {
        parts.push(format!(
            "{}, {} more than the report has",
            counted(
                gate.min_records,
                "record with an outcome",
                "records with an outcome"
            ),
            gate.min_records - records
        ));
    }
    if !low {
        let bound = gate.max_mismatch_bound;
        let rate = if records == 0 {
            0.0
        } else {
            against as f64 / records as f64
        };
        let upper = wilson_upper(against, records, Z95) * 100.0;
        match clean_records_needed(records, against, bound) {
            Some(extra) if rate <= bound => parts.push(format!(
                "the upper 95% bound on the mismatch rate at most {:.4}% (it is {upper:.4}%): about {} without a mismatch",
                bound * 100.0,
                counted(extra, "more record", "more records")
            )),
            _ => parts.push(format!(
                "the upper 95% bound on the mismatch rate at most {:.4}% (it is {upper:.4}%; the rate itself is {:.4}%): fix the {} against the candidate and replay",
                bound * 100.0,
                rate * 100.0,
                counted(against, "record", "records")
            )),
        }
    }
    format!("needs {}", parts.join("; and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn wilson_matches_known_values() {
        // Published Wilson 95% intervals: 0/10 is [0, 0.2775], 5/10 is
        // [0.2366, 0.7634], 1/100 is [0.0018, 0.0545].
        assert!(
            close(wilson_upper(0, 10, Z95), 0.277_532_8),
            "{}",
            wilson_upper(0, 10, Z95)
        );
        assert!(
            close(wilson_upper(5, 10, Z95), 0.763_406_9),
            "{}",
            wilson_upper(5, 10, Z95)
        );
        assert!(
            close(wilson_upper(1, 100, Z95), 0.054_486_2),
            "{}",
            wilson_upper(1, 100, Z95)
        );
        assert!(close(wilson_upper(10, 10, Z95), 1.0));
        assert_eq!(wilson_upper(0, 0, Z95), 1.0);
        // No failures: z² / (n + z²).
        let n = 5037u64;
        assert!(close(
            wilson_upper(0, n, Z95),
            Z95 * Z95 / (n as f64 + Z95 * Z95)
        ));
    }

    #[test]
    fn ladder_steps_one_at_a_time() {
        let ladder = [1, 5, 25, 50, 100];
        assert_eq!(next_step(&ladder, 0.0), Some(1));
        assert_eq!(next_step(&ladder, 1.0), Some(5));
        assert_eq!(next_step(&ladder, 10.0), Some(25));
        assert_eq!(next_step(&ladder, 100.0), None);
    }

    #[test]
    fn promotion_climbs_one_step_on_evidence_and_only_forced_without() {
        let gate = Gate {
            min_records: 1000,
            max_mismatch_bound: 0.005,
        };
        let ladder = [1, 5, 25, 50, 100];
        let clean = Evidence::from_numbers(5037, 0, gate);
        let dirty = Evidence::from_numbers(5037, 613, gate);
        assert_eq!(
            promotion(&clean, true, &ladder, 0.0, false),
            Promotion::Move {
                from: 0.0,
                to: 1,
                forced: false
            }
        );
        assert_eq!(
            promotion(&clean, true, &ladder, 5.0, false),
            Promotion::Move {
                from: 5.0,
                to: 25,
                forced: false
            }
        );
        assert_eq!(
            promotion(&dirty, true, &ladder, 1.0, false),
            Promotion::Refused {
                from: 1.0,
                to: 5,
                incomplete: false
            }
        );
        assert_eq!(
            promotion(&dirty, true, &ladder, 1.0, true),
            Promotion::Move {
                from: 1.0,
                to: 5,
                forced: true
            }
        );
        // Clean but interrupted: not the whole capture, so no evidence.
        assert_eq!(
            promotion(&clean, false, &ladder, 0.0, false),
            Promotion::Refused {
                from: 0.0,
                to: 1,
                incomplete: true
            }
        );
        assert_eq!(
            promotion(&clean, false, &ladder, 0.0, true),
            Promotion::Move {
                from: 0.0,
                to: 1,
                forced: true
            }
        );
        assert_eq!(
            promotion(&dirty, true, &ladder, 100.0, true),
            Promotion::AtTop { current: 100.0 }
        );
        // A percentage between steps moves to the next one above it.
        assert_eq!(
            promotion(&clean, true, &ladder, 10.0, false),
            Promotion::Move {
                from: 10.0,
                to: 25,
                forced: false
            }
        );
    }

    #[test]
    fn the_gate_needs_enough_records_and_a_low_bound() {
        let gate = Gate {
            min_records: 1000,
            max_mismatch_bound: 0.005,
        };
        let clean = Evidence::from_numbers(5037, 0, gate);
        assert!(clean.passes && clean.needed.is_none());
        assert_eq!(clean.supported(&[1, 5, 25, 50, 100], 0.0), 1.0);
        assert_eq!(clean.supported(&[1, 5, 25, 50, 100], 50.0), 100.0);
        assert_eq!(clean.supported(&[1, 5, 25, 50, 100], 100.0), 100.0);

        let few = Evidence::from_numbers(500, 0, gate);
        assert!(!few.passes);
        assert!(
            few.needed.as_deref().unwrap().contains("500 more"),
            "{:?}",
            few.needed
        );
        assert_eq!(few.supported(&[1, 5], 0.0), 0.0);

        let dirty = Evidence::from_numbers(5037, 613, gate);
        assert!(!dirty.passes);
        let needed = dirty.needed.unwrap();
        assert!(needed.contains("fix the 613 records against"), "{needed}");
        let close_call = Evidence::from_numbers(1000, 1, gate);
        assert!(close_call
            .needed
            .unwrap()
            .contains("more records without a mismatch"));

        // Clean records needed brings the bound to the threshold, and not one fewer.
        let extra = clean_records_needed(1000, 3, 0.005).unwrap();
        assert!(wilson_upper(3, 1000 + extra, Z95) <= 0.005);
        assert!(wilson_upper(3, 1000 + extra - 1, Z95) > 0.005);
    }
}
