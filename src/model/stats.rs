//! What a side's plumbing did during a run, as `summary.json` keeps it.

use serde::{Deserialize, Serialize};

/// Counters of one side's plumbing (worker pools count; others keep zeros).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SideStats {
    /// Calls sent again after the process serving them died.
    pub retries: u64,
    /// Worker processes started to replace one that died or was killed.
    pub restarts: u64,
    /// Processes killed because a call timed out.
    pub timeout_kills: u64,
    /// Response lines that broke the worker protocol.
    pub protocol_errors: u64,
}

impl SideStats {
    /// Whether anything happened worth saying.
    pub fn any(&self) -> bool {
        self.retries + self.restarts + self.timeout_kills + self.protocol_errors > 0
    }
}
