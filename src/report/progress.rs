//! The progress bar: records done, rate and ETA, on a terminal only.
//!
//! Drawn on stderr when stderr is a TTY; otherwise hidden, so logs and pipes
//! stay clean. The ETA is based on bytes read when every source is a file of
//! known size; on stdin it shows a spinner with the count and rate instead.

use crate::traffic::ReaderProgress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;

pub struct Progress {
    bar: ProgressBar,
    sized: bool,
}

impl Progress {
    pub fn new(total_bytes: Option<u64>, enabled: bool) -> Self {
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
        Progress {
            bar,
            sized: total_bytes.is_some(),
        }
    }

    /// Called once per record delivered.
    pub fn tick(&self, reader: &ReaderProgress, done: u64) {
        if self.bar.is_hidden() || !done.is_multiple_of(256) {
            return;
        }
        if self.sized {
            self.bar.set_position(reader.bytes.load(Ordering::Relaxed));
        }
        let rate = done as f64 / self.bar.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_message(format!("{done} records, {rate:.0}/s"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
