//! Opening the configured flag source once, for the one-shot commands
//! (`cutover replay`, `cutover flags ...`).
//!
//! # Contract
//! [`open`] never fails on an unavailable source: it returns an evaluator
//! (with no state when none could be had: legacy only) and the reason the
//! state is missing or stale, for the caller to show. Only the settings
//! themselves can be wrong, and they were checked when resolved.

use super::server_source::{Health, ServerSource};
use super::{file_source, Evaluator, FlagSettings, Source};
use std::sync::Arc;

/// A source opened once.
pub struct Opened {
    pub evaluator: Arc<Evaluator>,
    /// Why there is no state, or why it may be stale (server unreachable,
    /// state from the cache).
    pub problem: Option<String>,
    /// The file could not be used (bad or missing): a hard error for the
    /// `flags` commands.
    pub file_error: Option<super::FlagsError>,
    /// The server's health, for a server source.
    pub health: Option<Health>,
}

/// Loads the state the settings point at, once.
pub async fn open(settings: &FlagSettings) -> Opened {
    match &settings.source {
        Source::File(path) => {
            let evaluator =
                match Evaluator::offline(settings.names.clone(), settings.stickiness.clone()) {
                    Ok(e) => Arc::new(e),
                    Err(e) => return unusable(settings, e),
                };
            let loaded = file_source::read(path).and_then(|snapshot| evaluator.load(snapshot));
            match loaded {
                Ok(()) => Opened {
                    evaluator,
                    problem: None,
                    file_error: None,
                    health: None,
                },
                Err(e) => Opened {
                    evaluator,
                    problem: Some(e.to_string()),
                    file_error: Some(e),
                    health: None,
                },
            }
        }
        Source::Server { url, secret, .. } => {
            let source = match ServerSource::new(settings, url, secret.clone()) {
                Ok(s) => s,
                Err(e) => return unusable(settings, e),
            };
            let problem = source.start().await;
            Opened {
                evaluator: source.evaluator().clone(),
                problem,
                file_error: None,
                health: Some(source.health()),
            }
        }
    }
}

fn unusable(settings: &FlagSettings, e: super::FlagsError) -> Opened {
    let evaluator = Arc::new(
        Evaluator::offline(settings.names.clone(), settings.stickiness.clone())
            .expect("an offline SDK client builds"),
    );
    Opened {
        evaluator,
        problem: Some(e.to_string()),
        file_error: None,
        health: None,
    }
}
