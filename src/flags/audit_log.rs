//! The audit log of flag changes: append-only JSON Lines.
//!
//! # Contract
//! - One line per change, appended with a single `write` to a file opened in
//!   append mode, then synced: concurrent writers never interleave within a
//!   line, and an entry that [`append`] reported written survives a crash.
//! - Each entry says when, which flag, from and to which percentage, where
//!   the change was made (the file or the server), the action (`set`,
//!   `promote`, `rollback`), whether it was forced, and the evidence used
//!   (for `promote`: the report and its numbers).
//! - Never holds a secret: entries are built from [`Entry`] only, which has
//!   no field for a token, and each line goes through
//!   [`crate::util::redact::text`] (a source URL's credentials, a token quoted
//!   in some text) before it is written.

use super::evidence::Evidence;
use super::FlagsError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The evidence a change relied on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceUsed {
    /// The report directory the numbers come from.
    pub report: String,
    pub run_id: String,
    #[serde(flatten)]
    pub evidence: Evidence,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub migration: String,
    pub flag: String,
    /// `set`, `promote` or `rollback`.
    pub action: String,
    /// The percentage before (`null`: not one number, or unknown).
    pub from: Option<f64>,
    pub to: f64,
    /// `file PATH` or `server URL`.
    pub source: String,
    pub forced: bool,
    pub evidence: Option<EvidenceUsed>,
}

impl Entry {
    pub fn now(migration: &str, flag: &str, action: &str, source: String) -> Self {
        Entry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            migration: migration.to_owned(),
            flag: flag.to_owned(),
            action: action.to_owned(),
            from: None,
            to: 0.0,
            source,
            forced: false,
            evidence: None,
        }
    }
}

/// Appends `entry` to the log at `path` (created with its directory).
pub fn append(path: &Path, entry: &Entry) -> Result<(), FlagsError> {
    let err = |source| FlagsError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let json = serde_json::to_string(entry).expect("an entry serialises");
    let mut line = crate::util::redact::text(&json).into_owned().into_bytes();
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    file.write_all(&line).map_err(err)?;
    file.sync_data().map_err(err)
}

/// Reads every entry (for tests and tools); a bad line is an error naming it.
pub fn read(path: &Path) -> Result<Vec<Entry>, FlagsError> {
    let text = std::fs::read_to_string(path).map_err(|source| FlagsError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| FlagsError::BadFile {
                path: path.to_owned(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_append_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/audit.jsonl");
        let mut first = Entry::now("m", "cutover.m.serve", "set", "file flags.json".into());
        first.to = 25.0;
        append(&path, &first).unwrap();
        let mut second = Entry::now("m", "cutover.m.serve", "rollback", "file flags.json".into());
        second.from = Some(25.0);
        append(&path, &second).unwrap();
        assert_eq!(read(&path).unwrap(), vec![first, second]);
    }
}
