//! Finding and reading finished runs: the read side of a report directory.
//!
//! # Contract
//! - A *run* is a directory holding a `summary.json` (written last and
//!   atomically, so one that exists is complete). A directory without one is
//!   not a run (it may be a run still in progress, or something else).
//! - [`resolve_run`] turns what a user typed into a run directory: a path to a
//!   run directory, a run id under the reports directory, or `latest`.
//! - [`latest_run`] is the run whose `summary.json` was written last (ties:
//!   the greater directory name, so default run ids, which are UTC start
//!   times, order correctly). Only the immediate children of the reports
//!   directory are looked at; nothing is read but directory entries and their
//!   metadata.
//! - [`read_summary`] parses a run's `summary.json` and checks it
//!   ([`Summary::check`]: a duration that is a duration, counts that add up,
//!   groups that hold the non-matching records), so what review commands
//!   compute from it cannot overflow or panic. Errors name the file and say
//!   what to do (`damaged: FILE: ...` for a summary that parses but does not
//!   add up); nothing panics on a damaged or foreign file.

use super::{Summary, SUMMARY_FILE};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A run that cannot be found or read.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no finished run in {dir}: run `cutover replay` first (each run writes {dir}/<run-id>/summary.json)")]
    NoRuns { dir: PathBuf },
    #[error("run {what:?} not found: neither a directory with a summary.json nor a run id under {dir}. `cutover report` lists the latest run")]
    NotFound { what: String, dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a cutover summary ({message}); was it written by another version? Re-run `cutover replay`")]
    Parse { path: PathBuf, message: String },
    #[error("damaged: {path}: {message}. It was changed after the run; re-run `cutover replay`")]
    Damaged { path: PathBuf, message: String },
}

/// What a user names a run with: `latest`, a run id, or a directory.
pub fn resolve_run(reports_dir: &Path, what: &str) -> Result<PathBuf, RunError> {
    if what == "latest" {
        return latest_run(reports_dir)?.ok_or_else(|| RunError::NoRuns {
            dir: reports_dir.to_owned(),
        });
    }
    let as_path = PathBuf::from(what);
    for dir in [as_path.clone(), reports_dir.join(what)] {
        if dir.join(SUMMARY_FILE).is_file() {
            return Ok(dir);
        }
    }
    Err(RunError::NotFound {
        what: what.to_owned(),
        dir: reports_dir.to_owned(),
    })
}

/// The most recently finished run under `reports_dir`, if any.
pub fn latest_run(reports_dir: &Path) -> Result<Option<PathBuf>, RunError> {
    let entries = match std::fs::read_dir(reports_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RunError::Read {
                path: reports_dir.to_owned(),
                source,
            })
        }
    };
    let mut best: Option<(SystemTime, PathBuf)> = None;
    for entry in entries.flatten() {
        let dir = entry.path();
        let Ok(meta) = std::fs::metadata(dir.join(SUMMARY_FILE)) else {
            continue;
        };
        let written = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let newer = match &best {
            None => true,
            Some((t, d)) => (written, &dir) > (*t, d),
        };
        if newer {
            best = Some((written, dir));
        }
    }
    Ok(best.map(|(_, dir)| dir))
}

/// Reads a run's `summary.json` and checks it ([`Summary::check`]).
pub fn read_summary(run_dir: &Path) -> Result<Summary, RunError> {
    let path = run_dir.join(SUMMARY_FILE);
    let text = std::fs::read(&path).map_err(|source| RunError::Read {
        path: path.clone(),
        source,
    })?;
    let summary: Summary = serde_json::from_slice(&text).map_err(|e| RunError::Parse {
        path: path.clone(),
        message: e.to_string(),
    })?;
    summary
        .check()
        .map_err(|message| RunError::Damaged { path, message })?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parent: &Path, name: &str) -> PathBuf {
        let dir = parent.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(SUMMARY_FILE), "{}").unwrap();
        dir
    }

    #[test]
    fn latest_is_the_last_written_and_unfinished_runs_do_not_count() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(latest_run(tmp.path()).unwrap(), None);
        assert!(matches!(
            resolve_run(tmp.path(), "latest"),
            Err(RunError::NoRuns { .. })
        ));
        run(tmp.path(), "2026-01-01T00-00-00.000Z");
        let second = run(tmp.path(), "2026-01-02T00-00-00.000Z");
        std::fs::create_dir_all(tmp.path().join("2026-01-03T00-00-00.000Z")).unwrap();
        assert_eq!(latest_run(tmp.path()).unwrap(), Some(second.clone()));
        assert_eq!(resolve_run(tmp.path(), "latest").unwrap(), second);
        assert_eq!(
            resolve_run(tmp.path(), "2026-01-01T00-00-00.000Z").unwrap(),
            tmp.path().join("2026-01-01T00-00-00.000Z")
        );
        let e = resolve_run(tmp.path(), "nope").unwrap_err().to_string();
        assert!(e.contains("\"nope\" not found"), "{e}");
    }

    #[test]
    fn a_written_summary_reads_back_unchanged() {
        use crate::report::{RunStatus, Settings, SummaryBuilder};
        let settings = Settings {
            legacy: "worker:python3 legacy/worker.py".into(),
            candidate: "builtin:normalize".into(),
            traffic: vec!["t.jsonl".into()],
            concurrency: 4,
            workers: 1,
            timeout_ms: 10,
            startup_timeout_ms: 30,
            retries: 1,
            max_record_bytes: 100,
            max_inflight_bytes: 1,
            max_diffs: 5,
            noise_probe: false,
            config_file: None,
            follow_redirects: Vec::new(),
        };
        let summary = SummaryBuilder::new("r".into(), settings).finish(
            RunStatus {
                state: "complete".into(),
                abort_reason: None,
                signal: None,
                legacy_target: Default::default(),
                candidate_target: Default::default(),
            },
            Vec::new(),
            Vec::new(),
            Vec::new(),
            None,
        );
        let tmp = tempfile::tempdir().unwrap();
        summary.write(&tmp.path().join(SUMMARY_FILE)).unwrap();
        let back = read_summary(tmp.path()).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&summary).unwrap()
        );
    }

    #[test]
    fn a_foreign_summary_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = run(tmp.path(), "r");
        let e = read_summary(&dir).unwrap_err().to_string();
        assert!(e.contains("is not a cutover summary"), "{e}");
    }
}
