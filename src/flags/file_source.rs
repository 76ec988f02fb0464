//! The local flag file: the embedded default source.
//!
//! # Contract
//! - The file has the exact shape of Unleash's `GET /api/client/features`
//!   response, so the same file can be imported into a server, and a server's
//!   response can be saved as the file. It is parsed into the SDK's
//!   `ClientFeatures` and loaded into the [`Evaluator`] (the one evaluation
//!   path).
//! - [`read`] fails with [`FlagsError::ReadFile`] / [`FlagsError::BadFile`],
//!   naming the file (and the line and column of a syntax error).
//! - [`Watcher`] re-reads the file when its size or modification time
//!   changes. A change that does not parse is reported once (per distinct
//!   error) and the **last good state stays loaded**; the next good version
//!   is loaded as soon as it appears. [`watch`] runs a watcher on tokio.
//! - Non-goal: inotify. Polling the metadata every interval is portable and
//!   cheap for one small file; writers should replace the file atomically
//!   (as `cutover flags set` does).

use super::state::{parse_features, Origin, Snapshot};
use super::{Evaluator, FlagsError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// Reads and parses a flag file.
pub fn read(path: &Path) -> Result<Snapshot, FlagsError> {
    let bytes = std::fs::read(path).map_err(|source| FlagsError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    let features = parse_features(&bytes).map_err(|message| FlagsError::BadFile {
        path: path.to_owned(),
        message,
    })?;
    Ok(Snapshot {
        features,
        origin: Origin::File {
            path: path.display().to_string(),
        },
        fetched_at: chrono::Utc::now(),
    })
}

/// What one look at the file found.
#[derive(Debug)]
pub enum Poll {
    Unchanged,
    Reloaded,
    /// The file changed but cannot be used; the previous state stays.
    Failed(FlagsError),
}

/// Re-reads a flag file into an evaluator when it changes.
pub struct Watcher {
    path: PathBuf,
    eval: Arc<Evaluator>,
    seen: Option<(u64, Option<SystemTime>)>,
    last_error: Option<String>,
}

impl Watcher {
    pub fn new(path: PathBuf, eval: Arc<Evaluator>) -> Self {
        Watcher {
            path,
            eval,
            seen: None,
            last_error: None,
        }
    }

    /// Loads the file if it changed since the last look.
    pub fn poll(&mut self) -> Poll {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.len(), m.modified().ok()));
        if stamp.is_some() && stamp == self.seen {
            return Poll::Unchanged;
        }
        let result = read(&self.path).and_then(|snapshot| self.eval.load(snapshot));
        match result {
            Ok(()) => {
                self.seen = stamp;
                if self.last_error.take().is_some() {
                    tracing::warn!(file = %self.path.display(), "flag file readable again; its state is loaded");
                }
                Poll::Reloaded
            }
            Err(e) => {
                // Remember the stamp so a broken file is not re-read (and
                // re-reported) every interval; a new version gets a new stamp.
                self.seen = stamp;
                Poll::Failed(e)
            }
        }
    }

    /// Polls and reports a failure once per distinct message.
    pub fn poll_and_report(&mut self) -> Poll {
        let poll = self.poll();
        if let Poll::Failed(e) = &poll {
            let message = e.to_string();
            if self.last_error.as_deref() != Some(&message) {
                let kept = if self.eval.is_loaded() {
                    "the last good flag state stays in use"
                } else {
                    "no flag state yet: the legacy serves everything"
                };
                tracing::warn!("{message} ({kept})");
                self.last_error = Some(message);
            }
        }
        poll
    }
}

/// Loads `path` now (an error is returned, for the caller to decide), then
/// re-reads it every `interval` until `stop` is cancelled.
pub fn watch(
    path: PathBuf,
    eval: Arc<Evaluator>,
    interval: Duration,
    stop: CancellationToken,
) -> (Result<(), FlagsError>, tokio::task::JoinHandle<()>) {
    let mut watcher = Watcher::new(path, eval);
    let first = match watcher.poll() {
        Poll::Failed(e) => {
            watcher.last_error = Some(e.to_string());
            Err(e)
        }
        _ => Ok(()),
    };
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => { watcher.poll_and_report(); }
            }
        }
    });
    (first, task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{FlagNames, Stickiness};
    use crate::model::Side;

    fn doc(serve: u32) -> String {
        format!(
            r#"{{"version":2,"features":[{{"name":"cutover.m.serve","enabled":true,"strategies":[{{"name":"flexibleRollout","parameters":{{"rollout":"{serve}","stickiness":"userId","groupId":"cutover.m.serve"}}}}]}}]}}"#
        )
    }

    #[test]
    fn a_corrupt_file_is_named_and_the_last_good_state_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("flags.json");
        std::fs::write(&path, doc(100)).unwrap();
        let eval =
            Arc::new(Evaluator::offline(FlagNames::derived("m"), Stickiness::UserId).unwrap());
        let mut w = Watcher::new(path.clone(), eval.clone());
        assert!(matches!(w.poll(), Poll::Reloaded));
        assert!(matches!(w.poll(), Poll::Unchanged));
        assert_eq!(eval.decide(Some("u")).serving, Side::Candidate);

        std::fs::write(&path, "{\"version\": 2, \"features\": [").unwrap();
        let Poll::Failed(e) = w.poll_and_report() else {
            panic!("corrupt file accepted")
        };
        let message = e.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("line 1, column 28"), "{message}");
        assert_eq!(
            eval.decide(Some("u")).serving,
            Side::Candidate,
            "last good state kept"
        );

        std::fs::write(&path, doc(0)).unwrap();
        assert!(matches!(w.poll(), Poll::Reloaded));
        assert_eq!(eval.decide(Some("u")).serving, Side::Legacy);
    }

    #[tokio::test]
    async fn watch_picks_up_a_change_while_running() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("flags.json");
        std::fs::write(&path, doc(0)).unwrap();
        let eval =
            Arc::new(Evaluator::offline(FlagNames::derived("m"), Stickiness::UserId).unwrap());
        let stop = CancellationToken::new();
        let (first, task) = watch(
            path.clone(),
            eval.clone(),
            Duration::from_millis(20),
            stop.clone(),
        );
        first.unwrap();
        assert_eq!(eval.decide(Some("u")).serving, Side::Legacy);
        super::super::local_write::write_atomic(&path, doc(100).as_bytes()).unwrap();
        let started = std::time::Instant::now();
        while eval.decide(Some("u")).serving != Side::Candidate {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the change was never picked up"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.cancel();
        task.await.unwrap();
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let e = read(Path::new("/nonexistent/flags.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read flag file /nonexistent/flags.json"),
            "{e}"
        );
    }
}
