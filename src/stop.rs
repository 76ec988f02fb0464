//! Asking a run to stop early, and why: the signal that asked.
//!
//! # Contract
//! A [`Stop`] is shared between whoever receives signals (the binary) and
//! the run. [`Stop::request`] records the first signal and cancels the
//! token the engine watches (reading stops, records in flight finish, the
//! report is written); it returns false for every later request, which the
//! caller treats as "quit at once". The run's exit status after a stop is
//! the shell's convention for the signal ([`Signal::exit_code`]: 130 for
//! SIGINT, 143 for SIGTERM), in `summary.json` and for the process alike.
//!
//! # Non-goals
//! It does not install handlers or read signals itself: the binary does,
//! before anything else (see `main.rs`).

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
    /// 128 + the signal number, as a shell reports a process it ended.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Sigint => 130,
            Signal::Sigterm => 143,
        }
    }

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
        assert_eq!(Signal::Sigterm.exit_code(), 143);
        assert_eq!(
            serde_json::to_string(&Signal::Sigterm).unwrap(),
            "\"SIGTERM\""
        );
    }
}
