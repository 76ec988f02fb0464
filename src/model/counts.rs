//! Record counts of a run, and the identities they always satisfy.
//!
//! # Contract
//! [`Counts::reject`] and [`Counts::record`] take every line a run read,
//! once each; whatever the order and however the run ended, the counts then
//! satisfy ([`Counts::check`]):
//! - `read = rejected + compared + errored`
//! - `compared = matched + mismatched + accepted + noisy` (`matched`
//!   includes `matched_errors`, records where both sides raised the same
//!   error; `accepted` are mismatches covered by declared known differences;
//!   `noisy` mismatches only where the legacy disagreed with itself)
//! - `errored = errors + timeouts`,
//!   `errors = legacy_errors + candidate_errors + both_errors`
//!
//! [`Counts::check`] is also how a `summary.json` read back from disk is
//! told apart from a damaged one: it never overflows, whatever the numbers.

use super::Outcome;
use serde::{Deserialize, Serialize};

/// Record counts; see the module docs for the identities they satisfy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub rejected: u64,
    pub compared: u64,
    pub matched: u64,
    pub matched_errors: u64,
    pub mismatched: u64,
    /// Mismatches entirely covered by declared known differences.
    pub accepted: u64,
    /// Mismatches only at paths where the legacy disagreed with itself.
    pub noisy: u64,
    pub errored: u64,
    pub errors: u64,
    pub legacy_errors: u64,
    pub candidate_errors: u64,
    pub both_errors: u64,
    pub timeouts: u64,
}

impl Counts {
    /// One capture line that could not be read as a record.
    pub fn reject(&mut self) {
        self.read += 1;
        self.rejected += 1;
    }

    /// One record with its outcome (`matched_error`: both sides raised the
    /// same error).
    pub fn record(&mut self, outcome: Outcome, matched_error: bool) {
        self.read += 1;
        match outcome {
            Outcome::Match => {
                self.compared += 1;
                self.matched += 1;
                self.matched_errors += u64::from(matched_error);
            }
            Outcome::Mismatch => {
                self.compared += 1;
                self.mismatched += 1;
            }
            Outcome::Accepted => {
                self.compared += 1;
                self.accepted += 1;
            }
            Outcome::Noisy => {
                self.compared += 1;
                self.noisy += 1;
            }
            Outcome::LegacyError | Outcome::CandidateError | Outcome::BothError => {
                self.errored += 1;
                self.errors += 1;
                match outcome {
                    Outcome::LegacyError => self.legacy_errors += 1,
                    Outcome::CandidateError => self.candidate_errors += 1,
                    _ => self.both_errors += 1,
                }
            }
            Outcome::Timeout => {
                self.errored += 1;
                self.timeouts += 1;
            }
        }
    }

    /// Whether every record read was compared and matched (or differed only
    /// in declared known ways, or only in learned noise).
    pub fn all_matched(&self) -> bool {
        self.read == self.matched + self.accepted + self.noisy
    }

    /// Records that did not match (rejected lines aside): the rows
    /// `mismatches.csv` has, and the records the mismatch groups hold.
    pub fn non_matching(&self) -> u64 {
        self.read
            .saturating_sub(self.rejected)
            .saturating_sub(self.matched)
    }

    /// Records that got an outcome: `compared + errored`.
    pub fn with_outcome(&self) -> u64 {
        self.compared.saturating_add(self.errored)
    }

    /// `Ok` when the identities of the module docs hold, else which one
    /// does not, in words.
    pub fn check(&self) -> Result<(), String> {
        let c = self;
        let sum = |parts: &[u64]| {
            parts
                .iter()
                .try_fold(0u64, |total, n| total.checked_add(*n))
        };
        for (total, name, parts, names) in [
            (
                c.read,
                "read",
                vec![c.rejected, c.compared, c.errored],
                "rejected + compared + errored",
            ),
            (
                c.compared,
                "compared",
                vec![c.matched, c.mismatched, c.accepted, c.noisy],
                "matched + mismatched + accepted + noisy",
            ),
            (
                c.errored,
                "errored",
                vec![c.errors, c.timeouts],
                "errors + timeouts",
            ),
            (
                c.errors,
                "errors",
                vec![c.legacy_errors, c.candidate_errors, c.both_errors],
                "legacy_errors + candidate_errors + both_errors",
            ),
        ] {
            if sum(&parts) != Some(total) {
                return Err(format!(
                    "its counts do not add up: {name} {total} is not {names} ({})",
                    parts
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" + ")
                ));
            }
        }
        if c.matched_errors > c.matched {
            return Err(format!(
                "its counts do not add up: matched_errors {} is more than matched {}",
                c.matched_errors, c.matched
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OUTCOMES: [Outcome; 8] = [
        Outcome::Match,
        Outcome::Mismatch,
        Outcome::Accepted,
        Outcome::Noisy,
        Outcome::LegacyError,
        Outcome::CandidateError,
        Outcome::BothError,
        Outcome::Timeout,
    ];

    proptest! {
        /// Whatever a run read, in whatever order, the identities hold and
        /// every line is counted once.
        #[test]
        fn the_identities_hold_for_any_run(
            lines in prop::collection::vec((prop::option::of(0usize..8), any::<bool>()), 0..200)
        ) {
            let mut counts = Counts::default();
            for (outcome, same_error) in &lines {
                match outcome {
                    None => counts.reject(),
                    Some(i) => counts.record(OUTCOMES[*i], *same_error && *i == 0),
                }
            }
            prop_assert_eq!(counts.check(), Ok(()));
            prop_assert_eq!(counts.read, lines.len() as u64);
            let rejected = lines.iter().filter(|(o, _)| o.is_none()).count() as u64;
            prop_assert_eq!(counts.rejected, rejected);
            prop_assert_eq!(counts.with_outcome(), counts.read - rejected);
            let clean = lines.iter().filter(|(o, _)| matches!(o, Some(0))).count() as u64;
            prop_assert_eq!(counts.non_matching(), counts.read - rejected - clean);
        }
    }

    #[test]
    fn counts_that_do_not_add_up_say_which_identity_fails() {
        let mut counts = Counts::default();
        counts.record(Outcome::Mismatch, false);
        assert_eq!(counts.check(), Ok(()));
        counts.mismatched += 1;
        let e = counts.check().unwrap_err();
        assert!(e.contains("compared 1 is not matched + mismatched"), "{e}");
        let huge = Counts {
            read: u64::MAX,
            rejected: u64::MAX,
            compared: 1,
            ..Counts::default()
        };
        assert!(huge.check().unwrap_err().contains("read"), "no overflow");
    }

    #[test]
    fn all_matched_allows_accepted_and_noisy_but_nothing_else() {
        let mut counts = Counts::default();
        for outcome in [Outcome::Match, Outcome::Accepted, Outcome::Noisy] {
            counts.record(outcome, false);
        }
        assert!(counts.all_matched());
        counts.reject();
        assert!(!counts.all_matched());
    }
}
