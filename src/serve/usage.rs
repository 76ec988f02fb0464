//! Unleash usage metrics: how often serve asked each flag, sent to the
//! server the way the SDKs send theirs, so the Unleash UI shows the flags in
//! use.
//!
//! # Contract
//! - With a server flag source only (a local file reports nothing, as with
//!   the SDK). The client registers itself when polling starts
//!   ([`crate::flags::server_source::ServerSource::spawn_polling`]); this
//!   file adds the metrics, because the Rust SDK posts them only from inside
//!   its own `poll_for_updates`, which cutover does not use, and because
//!   cutover answers most decisions without asking the SDK (its memo).
//! - [`Usage::observe`] counts, per decision taken on flags (not for a
//!   request without a key or before a state is loaded), one `yes` or `no`
//!   for each of the two flags. Every `interval` (and once at the end) the
//!   counts since the last successful report are POSTed to
//!   `{api}/client/metrics` as `{"appName", "instanceId", "bucket": {"start",
//!   "stop", "toggles": {NAME: {"yes", "no", "variants": {}}}}}` with the
//!   backend token; a failed post keeps its counts for the next one and is
//!   logged at debug level only (never per request). The token is never
//!   logged.

use crate::flags::{Basis, Decision, FlagNames};
use crate::model::Side;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct Usage {
    serve_yes: AtomicU64,
    serve_no: AtomicU64,
    shadow_yes: AtomicU64,
    shadow_no: AtomicU64,
}

impl Usage {
    pub fn observe(&self, decision: &Decision) {
        if decision.basis != Basis::Flags {
            return;
        }
        let bump = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
        bump(if decision.serving == Side::Candidate {
            &self.serve_yes
        } else {
            &self.serve_no
        });
        bump(if decision.mirrored {
            &self.shadow_yes
        } else {
            &self.shadow_no
        });
    }

    fn take(&self) -> [u64; 4] {
        [
            self.serve_yes.swap(0, Ordering::Relaxed),
            self.serve_no.swap(0, Ordering::Relaxed),
            self.shadow_yes.swap(0, Ordering::Relaxed),
            self.shadow_no.swap(0, Ordering::Relaxed),
        ]
    }

    fn give_back(&self, counts: [u64; 4]) {
        let cells = [
            &self.serve_yes,
            &self.serve_no,
            &self.shadow_yes,
            &self.shadow_no,
        ];
        for (cell, n) in cells.into_iter().zip(counts) {
            cell.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Where and how to report.
pub struct Reporter {
    pub usage: Arc<Usage>,
    pub api: String,
    pub secret: Option<String>,
    pub names: FlagNames,
    pub http: reqwest::Client,
    pub interval: Duration,
}

impl Reporter {
    /// Reports every `interval` until `stop`, then once more.
    pub fn spawn(self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let instance = format!("cutover-serve-{}", std::process::id());
            let mut start = chrono::Utc::now();
            loop {
                let stopping = tokio::select! {
                    _ = stop.cancelled() => true,
                    _ = tokio::time::sleep(self.interval) => false,
                };
                if self.send(&instance, &mut start).await.is_err() && stopping {
                    tracing::debug!("usage metrics: the last report could not be sent");
                }
                if stopping {
                    return;
                }
            }
        })
    }

    async fn send(
        &self,
        instance: &str,
        start: &mut chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ()> {
        let counts = self.usage.take();
        if counts.iter().all(|&n| n == 0) {
            return Ok(());
        }
        let stop = chrono::Utc::now();
        let toggle = |yes: u64, no: u64| json!({"yes": yes, "no": no, "variants": {}});
        let body = json!({
            "appName": crate::flags::eval::APP_NAME,
            "instanceId": instance,
            "bucket": {
                "start": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "stop": stop.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "toggles": {
                    self.names.serve.clone(): toggle(counts[0], counts[1]),
                    self.names.shadow.clone(): toggle(counts[2], counts[3]),
                },
            },
        });
        let mut request = self
            .http
            .post(format!("{}/client/metrics", self.api))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(secret) = &self.secret {
            request = request.header("Authorization", secret);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                *start = stop;
                Ok(())
            }
            Ok(r) => {
                tracing::debug!("usage metrics: the server answered {}", r.status());
                self.usage.give_back(counts);
                Err(())
            }
            Err(e) => {
                tracing::debug!(
                    "usage metrics: {}",
                    crate::util::redact::text(&e.to_string())
                );
                self.usage.give_back(counts);
                Err(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_decisions_on_flags_only_and_keeps_what_was_not_sent() {
        let usage = Usage::default();
        usage.observe(&Decision {
            serving: Side::Candidate,
            mirrored: true,
            basis: Basis::Flags,
        });
        usage.observe(&Decision::legacy_only(Basis::WithoutKey));
        let counts = usage.take();
        assert_eq!(counts, [1, 0, 1, 0]);
        usage.give_back(counts);
        assert_eq!(usage.take(), [1, 0, 1, 0]);
        assert_eq!(usage.take(), [0, 0, 0, 0]);
    }
}
