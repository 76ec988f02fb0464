//! Re-running recorded records.
