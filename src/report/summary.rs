//! `summary.json`: the run's spec, how it ended, its counts and latencies.
//!
//! # Contract
//! [`SummaryBuilder::observe`] takes every event of a run in order; memory is
//! constant (counters and two fixed-size latency histograms), whatever the
//! number of records. The counts satisfy the identities of
//! [`crate::model::Counts`] for every run, complete or not.
//!
//! `spec` is the [`RunSpec`] the run was given, verbatim; `settings` is a
//! flat view of it for people and scripts that read `summary.json` (cutover
//! itself reads `spec`). `exit_code` is [`Exit::of_run`]'s.
//!
//! Latencies are per side, over every call that got an answer or timed out,
//! in milliseconds with microsecond resolution (3 significant digits).

use super::{write_err, ReportError};
use crate::model::{Counts, Event, Exit, RunState, Side, SideStats, Signal};
use crate::spec::RunSpec;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

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

/// A flat view of a run's spec (side URLs without their userinfo: see
/// [`crate::util::redact`]), as `summary.json` has always had it.
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
    pub follow_redirects: Vec<Side>,
}

impl Settings {
    /// The view of `spec`.
    pub fn of(spec: &RunSpec) -> Settings {
        Settings {
            legacy: spec.legacy.to_string(),
            candidate: spec.candidate.to_string(),
            traffic: spec.traffic.iter().map(|t| t.display_name()).collect(),
            concurrency: spec.concurrency,
            workers: spec.sides.workers,
            timeout_ms: spec.sides.timeout.as_millis(),
            startup_timeout_ms: spec.sides.startup_timeout.as_millis(),
            retries: spec.sides.retries,
            max_record_bytes: spec.read.max_record_bytes,
            max_inflight_bytes: spec.max_inflight_bytes,
            max_diffs: spec.max_diffs,
            noise_probe: spec.noise_probe,
            config_file: spec.config_file.as_ref().map(|p| p.display().to_string()),
            follow_redirects: spec.sides.follow_redirects.clone(),
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStatus {
    /// `complete`, `interrupted` (SIGINT or SIGTERM) or `aborted` (a
    /// side failed).
    pub state: RunState,
    pub abort_reason: Option<String>,
    /// The signal that interrupted the run (absent unless `interrupted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
    /// With `--rate` or `--speed`: the pace asked for and the rate achieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<crate::model::PaceReport>,
    pub legacy_target: SideStats,
    pub candidate_target: SideStats,
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
    /// The run as it was specified (see [`RunSpec`]).
    pub spec: RunSpec,
    /// A flat view of `spec` ([`Settings::of`]).
    pub settings: Settings,
    pub counts: Counts,
    /// Per side, each call's service time: from the request leaving
    /// cutover to its answer (the same as the whole call for the kinds that
    /// wait for no slot).
    pub latency_ms: SideLatency,
    /// With an `upstream:`, `worker:` or `pipe:` side: per side, the time
    /// each call waited inside cutover for a connection slot
    /// (`--max-connections`) or behind its worker's earlier calls before
    /// its request left; not part of `latency_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_wait_ms: Option<SideLatency>,
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
    /// `--no-flags`); see [`super::rollout`].
    #[serde(default)]
    pub rollout: Option<super::rollout::RolloutReport>,
    /// What the behaviour contract found (absent without one); see
    /// [`super::contract`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<super::contract::ContractReport>,
    /// How a run merged from partials (`report merge`, a cluster run) was
    /// put together; absent for a local run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<super::MergeReport>,
    /// What a live run (`cutover serve`) did with the requests it took;
    /// absent for a replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveStats>,
}

/// What `cutover serve` did with its requests, so every one is accounted
/// for in `summary.json`: served (by which side), mirrored or why not, and
/// of the mirrors, compared (the records of this report), shed, dropped,
/// panicked or abandoned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveStats {
    /// The router's counts ([`crate::flags::RouterStats`]).
    pub router: crate::flags::RouterStats,
    /// Mirrors not sent because the method or route may not be sent twice.
    pub method_skipped: u64,
    /// Mirrors not sent because the body was over `mirror_max_body` (or of
    /// unknown length).
    pub body_too_large: u64,
    /// Mirrors still running when the shutdown grace ended: never compared.
    pub abandoned: u64,
    /// With `--capture`: exchanges written to the capture, and sampled ones
    /// not written (a body over the capture's limit, cut off, or nothing
    /// served).
    #[serde(default)]
    pub captured: u64,
    #[serde(default)]
    pub capture_skipped: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SideLatency {
    pub legacy: LatencyStats,
    pub candidate: LatencyStats,
}

impl Summary {
    /// The run's exit status ([`Exit::of_run`]; `None` for a number
    /// cutover never writes).
    pub fn exit(&self) -> Option<Exit> {
        Exit::of_code(self.exit_code.into())
    }

    /// Records that did not match (rejected lines aside): the rows
    /// `mismatches.csv` has, and the records the groups hold.
    pub fn non_matching(&self) -> u64 {
        self.counts.non_matching()
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
        self.counts.check()?;
        if self.exit().is_none() {
            return Err(format!(
                "exit_code {} is no status cutover exits with",
                self.exit_code
            ));
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
#[derive(Clone)]
pub struct SummaryBuilder {
    spec: RunSpec,
    started: std::time::Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    counts: Counts,
    drift: Drift,
    legacy: Histogram<u64>,
    candidate: Histogram<u64>,
    /// Slot waits, per side (kept only with a side that has slots).
    waits: Option<[Histogram<u64>; 2]>,
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
    pub fn new(spec: RunSpec) -> Self {
        SummaryBuilder {
            started: std::time::Instant::now(),
            started_at: chrono::Utc::now(),
            counts: Counts::default(),
            drift: Drift::default(),
            legacy: histogram(),
            candidate: histogram(),
            waits: [&spec.legacy, &spec.candidate]
                .iter()
                .any(|s| {
                    matches!(
                        s,
                        crate::sides::SideSpec::Upstream(_)
                            | crate::sides::SideSpec::Worker(_)
                            | crate::sides::SideSpec::Pipe(_)
                    )
                })
                .then(|| [histogram(), histogram()]),
            spec,
        }
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    pub fn observe(&mut self, event: &Event) {
        let result = match event {
            Event::Rejected(_) => {
                self.counts.reject();
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
        record_latency(&mut self.legacy, result.legacy.service());
        record_latency(&mut self.candidate, result.candidate.service());
        if let Some([legacy, candidate]) = &mut self.waits {
            record_latency(legacy, result.legacy.waited);
            record_latency(candidate, result.candidate.waited);
        }
        self.counts
            .record(result.verdict.outcome, result.verdict.matched_error);
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
        let exit = Exit::of_run(status.state, status.signal, &self.counts);
        Summary {
            cutover_version: env!("CARGO_PKG_VERSION").to_owned(),
            run_id: self.spec.run_id.clone(),
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
            exit_code: exit.code().into(),
            settings: Settings::of(&self.spec),
            spec: self.spec,
            counts: self.counts,
            latency_ms: SideLatency {
                legacy: stats(&self.legacy),
                candidate: stats(&self.candidate),
            },
            slot_wait_ms: self.waits.as_ref().map(|[legacy, candidate]| SideLatency {
                legacy: stats(legacy),
                candidate: stats(candidate),
            }),
            recorded_drift: self.drift,
            groups,
            rules,
            known,
            noise,
            rollout: None,
            contract: None,
            merge: None,
            live: None,
        }
    }
}
