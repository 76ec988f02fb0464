//! How a run ended.
//!
//! # Contract
//! [`RunState`] serialises as `summary.json`'s `status.state` strings:
//! `complete` (every line of the traffic was read), `interrupted` (a signal
//! stopped the reading; the records read were finished), `aborted` (a side
//! stopped working; the run counts as not having happened), `incomplete`
//! (a run shared out over a cluster, some of whose chunks never came back:
//! the report says which, and the run exits 1, never silently short).

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Complete,
    Interrupted,
    Aborted,
    Incomplete,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Complete => "complete",
            RunState::Interrupted => "interrupted",
            RunState::Aborted => "aborted",
            RunState::Incomplete => "incomplete",
        }
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
