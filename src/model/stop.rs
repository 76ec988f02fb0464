//! Asking work to stop early, and why: the cancellation token every
//! long-running library function takes, with the signal that asked.
//!
//! # Contract
//! A [`Stop`] is shared between whoever receives signals (`cli/`) and the
//! work. [`Stop::request`] records the first signal and cancels the token
//! the work watches (a replay stops reading, finishes the records in flight
//! and writes its report); it returns false for every later request, which
//! the caller treats as "quit at once". The exit status after a stop is the
//! shell's convention for the signal ([`super::Exit::of_signal`]: 130 for
//! SIGINT, 143 for SIGTERM), in `summary.json` and for the process alike.
//! [`Stop::never`] is a stop nobody requests, for work that runs to its end.
//!
//! # Non-goals
//! It does not install handlers or read signals itself: `cli/` does,
//! before anything else.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use tokio_util::sync::CancellationToken;

/// The signals that stop a run gracefully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// Ctrl-C.
    #[serde(rename = "SIGINT")]
    Sigint,
    /// What `docker stop`, Kubernetes, systemd and `timeout` send.
    #[serde(rename = "SIGTERM")]
    Sigterm,
}

impl Signal {
    /// How people name it.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Sigint => "SIGINT",
            Signal::Sigterm => "SIGTERM",
        }
    }
}

/// A request to stop, shared by the signal handler and the run.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    signal: Arc<OnceLock<Signal>>,
}

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    /// A stop nobody requests (until someone calls [`Stop::request`]).
    pub fn never() -> Self {
        Self::default()
    }

    /// Asks the run to stop because of `signal`; true for the first request.
    pub fn request(&self, signal: Signal) -> bool {
        let first = self.signal.set(signal).is_ok();
        self.token.cancel();
        first
    }

    /// Cancelled once a stop was requested.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The signal of the first request, if any.
    pub fn signal(&self) -> Option<Signal> {
        self.signal.get().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_is_the_one_kept() {
        let stop = Stop::new();
        assert_eq!(stop.signal(), None);
        assert!(stop.request(Signal::Sigterm));
        assert!(!stop.request(Signal::Sigint));
        assert_eq!(stop.signal(), Some(Signal::Sigterm));
        assert!(stop.token().is_cancelled());
        assert_eq!(
            serde_json::to_string(&Signal::Sigterm).unwrap(),
            "\"SIGTERM\""
        );
    }
}
