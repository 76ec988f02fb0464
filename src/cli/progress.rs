//! The progress bars: a replay's records done, rate and ETA, and a
//! recheck's records done, on a terminal only.
//!
//! Drawn on stderr when stderr is a TTY (and not turned off); otherwise
//! hidden, so logs and pipes stay clean. A replay's ETA is based on bytes
//! read when every source is a file of known size; on stdin it shows a
//! spinner with the count and rate instead.

use crate::traffic::ReaderProgress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;

/// A replay's bar, following the run as its [`crate::run::Observer`].
pub struct Progress {
    enabled: bool,
    bar: Option<ProgressBar>,
    sized: bool,
}

impl Progress {
    /// A bar drawn only when `enabled` and stderr is a terminal.
    pub fn new(enabled: bool) -> Self {
        Progress {
            enabled,
            bar: None,
            sized: false,
        }
    }

    fn bar(total_bytes: Option<u64>, enabled: bool) -> ProgressBar {
        let visible = enabled && std::io::stderr().is_terminal();
        let bar = match total_bytes {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} ETA {eta}",
                )
                .expect("valid template"),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .expect("valid template"),
            ),
        };
        bar.set_draw_target(if visible {
            ProgressDrawTarget::stderr_with_hz(8)
        } else {
            ProgressDrawTarget::hidden()
        });
        bar
    }
}

impl crate::run::Observer for Progress {
    fn started(&mut self, total_bytes: Option<u64>) {
        self.sized = total_bytes.is_some();
        self.bar = Some(Progress::bar(total_bytes, self.enabled));
    }

    /// Called once per record delivered.
    fn progress(&mut self, reader: &ReaderProgress, done: u64) {
        let Some(bar) = &self.bar else { return };
        if bar.is_hidden() || !done.is_multiple_of(256) {
            return;
        }
        if self.sized {
            bar.set_position(reader.bytes.load(Ordering::Relaxed));
        }
        let rate = done as f64 / bar.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("{done} records, {rate:.0}/s"));
    }

    fn finished(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A recheck's bar: records done of those to re-run.
pub fn recheck_bar(total: u64, enabled: bool) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if !(enabled && std::io::stderr().is_terminal()) {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}
