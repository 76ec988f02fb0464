//! `summary.json`: the run's counts, latencies and settings.
//!
//! # Contract
//! [`SummaryBuilder::observe`] takes every event of a run in order; memory is
//! constant (counters and two fixed-size latency histograms), whatever the
//! number of records. Count identities, for every run, complete or not:
//! - `read = rejected + compared + errored`
//! - `compared = matched + mismatched + accepted` (`matched` includes
//!   `matched_errors`, records where both sides raised the same error;
//!   `accepted` are mismatches covered by declared known differences)
//! - `errored = errors + timeouts`, `errors = legacy_errors + candidate_errors + both_errors`
//!
//! Latencies are per side, over every call that got an answer or timed out,
//! in milliseconds with microsecond resolution (3 significant digits).

use super::{write_err, ReportError};
use crate::compare::Outcome;
use crate::engine::Event;
use crate::target::TargetStats;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

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
    /// Whether every record read was compared and matched.
    pub fn all_matched(&self) -> bool {
        self.read == self.matched + self.accepted + self.noisy
    }
}

/// The live legacy against the responses production recorded, for records
/// whose capture carries one. Reported apart from the verdicts: drift says the
/// legacy itself (or its environment) changed since the capture, which makes
/// the capture a weaker reference.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Drift {
    pub with_recording: u64,
    pub same_as_recorded: u64,
    pub drifted: u64,
    /// The first few drifted record ids (at most [`DRIFT_SAMPLES`]).
    pub sample_ids: Vec<String>,
}

/// Drifted record ids kept in [`Drift::sample_ids`].
pub const DRIFT_SAMPLES: usize = 10;

/// Latency percentiles of one side, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencyStats {
    pub calls: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
    /// How the calls spread over latency: log2 buckets from the fastest call's
    /// to the slowest's, each with the calls up to `le_ms` (and over the
    /// bucket before). Drawn as a chart in `index.html`.
    #[serde(default)]
    pub distribution: Vec<LatencyBucket>,
}

/// One bucket of [`LatencyStats::distribution`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencyBucket {
    /// Upper bound of the bucket, in milliseconds.
    pub le_ms: f64,
    pub calls: u64,
}

/// The settings a run used, as resolved from flags, config and defaults
/// (target URLs without their userinfo: see [`crate::redact`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub legacy: String,
    pub candidate: String,
    pub traffic: Vec<String>,
    pub concurrency: usize,
    pub workers: usize,
    pub timeout_ms: u128,
    #[serde(default)]
    pub startup_timeout_ms: u128,
    pub retries: u32,
    pub max_record_bytes: usize,
    /// `--max-inflight-bytes` (0 in summaries written before it existed).
    #[serde(default)]
    pub max_inflight_bytes: u64,
    pub max_diffs: usize,
    pub noise_probe: bool,
    pub config_file: Option<String>,
    /// Sides whose http target followed same-host redirects.
    #[serde(default)]
    pub follow_redirects: Vec<crate::target::Side>,
}

/// How the run ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStatus {
    /// `complete`, `interrupted` (SIGINT or SIGTERM) or `aborted` (a
    /// target failed).
    pub state: String,
    pub abort_reason: Option<String>,
    /// The signal that interrupted the run (absent unless `interrupted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<crate::stop::Signal>,
    pub legacy_target: TargetStats,
    pub candidate_target: TargetStats,
}

/// Everything `summary.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub cutover_version: String,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    pub records_per_second: f64,
    pub status: RunStatus,
    pub exit_code: i32,
    pub settings: Settings,
    pub counts: Counts,
    pub latency_ms: SideLatency,
    pub recorded_drift: Drift,
    /// Mismatch groups, largest first.
    pub groups: Vec<super::Group>,
    /// The rule audit, in declaration order.
    pub rules: Vec<super::RuleReport>,
    /// Known differences and the records each accepted, in declaration order.
    pub known: Vec<super::KnownReport>,
    /// What the noise probe learned (`null` without `--noise-probe`).
    pub noise: Option<super::NoiseReport>,
    /// What the current flag rollout means for this traffic (`null` with
    /// `--no-flags`); see `crate::flags::rollout`.
    #[serde(default)]
    pub rollout: Option<crate::flags::rollout::RolloutReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SideLatency {
    pub legacy: LatencyStats,
    pub candidate: LatencyStats,
}

impl Summary {
    /// Exit status in the manner of `diff(1)`: 0 every record read matched (or
    /// differed only in declared known ways), 1 mismatches, errors, timeouts
    /// or rejected lines, 2 the run could not
    /// happen (a target failed), 130 interrupted by SIGINT, 143 by SIGTERM.
    pub fn decide_exit_code(status: &RunStatus, counts: &Counts) -> i32 {
        match status.state.as_str() {
            "aborted" => 2,
            "interrupted" => status
                .signal
                .map_or(crate::stop::Signal::Sigint, |s| s)
                .exit_code(),
            _ if counts.all_matched() => 0,
            _ => 1,
        }
    }

    /// Records that did not match (rejected lines aside): the rows
    /// `mismatches.csv` has, and the records the groups hold.
    pub fn non_matching(&self) -> u64 {
        let c = &self.counts;
        c.read.saturating_sub(c.rejected).saturating_sub(c.matched)
    }

    /// What makes a summary read back from disk unusable, in words: a
    /// duration that is no duration, counts that do not satisfy the
    /// identities of the module docs, groups that do not hold exactly the
    /// non-matching records. `Ok` for every summary a run writes.
    pub fn check(&self) -> Result<(), String> {
        if Duration::try_from_secs_f64(self.duration_seconds).is_err() {
            return Err(format!(
                "duration_seconds {} is not a duration in seconds",
                self.duration_seconds
            ));
        }
        let c = &self.counts;
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
        let grouped = self
            .groups
            .iter()
            .try_fold(0u64, |total, g| total.checked_add(g.count));
        if grouped != Some(self.non_matching()) {
            return Err(format!(
                "its groups hold {} records, but its counts have {} that did not match",
                grouped.map_or_else(|| "more than 2^64".to_owned(), |n| n.to_string()),
                self.non_matching()
            ));
        }
        Ok(())
    }

    /// Writes `summary.json` atomically, with secrets taken out.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| write_err(path)(e.into()))?;
        super::write_redacted(path, &text)
    }
}

/// Accumulates a [`Summary`] from a run's events.
pub struct SummaryBuilder {
    run_id: String,
    settings: Settings,
    started: std::time::Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    counts: Counts,
    drift: Drift,
    legacy: Histogram<u64>,
    candidate: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 hour at 3 significant digits: about 180 kB per side, fixed.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn record_latency(h: &mut Histogram<u64>, d: Duration) {
    let micros = (d.as_micros() as u64).clamp(1, h.high());
    h.record(micros).expect("clamped into range");
}

fn stats(h: &Histogram<u64>) -> LatencyStats {
    if h.is_empty() {
        return LatencyStats::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    LatencyStats {
        calls: h.len(),
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
        mean: h.mean().round() / 1000.0,
        distribution: h
            .iter_log(1, 2.0)
            .map(|v| LatencyBucket {
                le_ms: ms(v.value_iterated_to()),
                calls: v.count_since_last_iteration(),
            })
            .skip_while(|b| b.calls == 0)
            .collect(),
    }
}

impl SummaryBuilder {
    pub fn new(run_id: String, settings: Settings) -> Self {
        SummaryBuilder {
            run_id,
            settings,
            started: std::time::Instant::now(),
            started_at: chrono::Utc::now(),
            counts: Counts::default(),
            drift: Drift::default(),
            legacy: histogram(),
            candidate: histogram(),
        }
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    pub fn observe(&mut self, event: &Event) {
        let c = &mut self.counts;
        c.read += 1;
        let result = match event {
            Event::Rejected(_) => {
                c.rejected += 1;
                return;
            }
            Event::Compared(result) => result,
        };
        if let Some(drifted) = result.drift {
            let d = &mut self.drift;
            d.with_recording += 1;
            if drifted {
                d.drifted += 1;
                if d.sample_ids.len() < DRIFT_SAMPLES {
                    d.sample_ids.push(result.id.clone());
                }
            } else {
                d.same_as_recorded += 1;
            }
        }
        record_latency(&mut self.legacy, result.legacy.latency);
        record_latency(&mut self.candidate, result.candidate.latency);
        match result.verdict.outcome {
            Outcome::Match => {
                c.compared += 1;
                c.matched += 1;
                c.matched_errors += u64::from(result.verdict.matched_error);
            }
            Outcome::Mismatch => {
                c.compared += 1;
                c.mismatched += 1;
            }
            Outcome::Accepted => {
                c.compared += 1;
                c.accepted += 1;
            }
            Outcome::Noisy => {
                c.compared += 1;
                c.noisy += 1;
            }
            Outcome::LegacyError | Outcome::CandidateError | Outcome::BothError => {
                c.errored += 1;
                c.errors += 1;
                match result.verdict.outcome {
                    Outcome::LegacyError => c.legacy_errors += 1,
                    Outcome::CandidateError => c.candidate_errors += 1,
                    _ => c.both_errors += 1,
                }
            }
            Outcome::Timeout => {
                c.errored += 1;
                c.timeouts += 1;
            }
        }
    }

    pub fn finish(
        self,
        status: RunStatus,
        groups: Vec<super::Group>,
        rules: Vec<super::RuleReport>,
        known: Vec<super::KnownReport>,
        noise: Option<super::NoiseReport>,
    ) -> Summary {
        let elapsed = self.started.elapsed().as_secs_f64();
        let exit_code = Summary::decide_exit_code(&status, &self.counts);
        Summary {
            cutover_version: env!("CARGO_PKG_VERSION").to_owned(),
            run_id: self.run_id,
            started_at: self
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_seconds: (elapsed * 1000.0).round() / 1000.0,
            records_per_second: if elapsed > 0.0 {
                (self.counts.read as f64 / elapsed).round()
            } else {
                0.0
            },
            status,
            exit_code,
            settings: self.settings,
            counts: self.counts,
            latency_ms: SideLatency {
                legacy: stats(&self.legacy),
                candidate: stats(&self.candidate),
            },
            recorded_drift: self.drift,
            groups,
            rules,
            known,
            noise,
            rollout: None,
        }
    }
}
