//! How every command ends: exit statuses like `diff(1)`'s, written here and
//! nowhere else.
//!
//! # Contract
//! - [`Exit`] is the whole vocabulary: 0 nothing found, 1 something found
//!   (differences, a refused promotion, a flaky record, a group that grew),
//!   2 could not run, 130 interrupted by SIGINT, 143 by SIGTERM.
//! - [`Exit::of_run`] decides a replay's status from how it ended and what
//!   it counted; `summary.json` stores it as `exit_code`, and
//!   [`Exit::of_code`] reads it back. Each command's own decisions (a
//!   review command's, an error's) are made in `cli/` from these variants.

use super::{Counts, RunState, Signal};

/// The exit status of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exit {
    /// Nothing found: every record matched, the promotion moved, ...
    Clean = 0,
    /// Something found: differences, errors, timeouts, rejected lines, a
    /// refused promotion, a flaky record, a group that appeared or grew.
    Found = 1,
    /// The command could not do its work (bad input, a side that cannot
    /// start, a run that cannot be read).
    CouldNotRun = 2,
    /// Interrupted by SIGINT (Ctrl-C).
    Interrupted = 130,
    /// Interrupted by SIGTERM.
    Terminated = 143,
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// `Found` when `found`, else `Clean`.
    pub fn found(found: bool) -> Exit {
        if found {
            Exit::Found
        } else {
            Exit::Clean
        }
    }

    /// The status after `signal`: 128 + its number, as a shell reports it.
    pub fn of_signal(signal: Signal) -> Exit {
        match signal {
            Signal::Sigint => Exit::Interrupted,
            Signal::Sigterm => Exit::Terminated,
        }
    }

    /// A replay's status: 2 aborted (a side failed), 130/143 interrupted by
    /// a signal, else 0 when every record read matched (or differed only in
    /// declared known ways, or only in learned noise) and 1 otherwise.
    pub fn of_run(state: RunState, signal: Option<Signal>, counts: &Counts) -> Exit {
        match state {
            RunState::Aborted => Exit::CouldNotRun,
            RunState::Incomplete => Exit::Found,
            RunState::Interrupted => Exit::of_signal(signal.unwrap_or(Signal::Sigint)),
            RunState::Complete => Exit::found(!counts.all_matched()),
        }
    }

    /// The status a `summary.json`'s `exit_code` stands for (`None` for a
    /// number cutover never exits with).
    pub fn of_code(code: i64) -> Option<Exit> {
        [
            Exit::Clean,
            Exit::Found,
            Exit::CouldNotRun,
            Exit::Interrupted,
            Exit::Terminated,
        ]
        .into_iter()
        .find(|e| i64::from(e.code()) == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;

    #[test]
    fn a_run_exits_like_diff() {
        let mut counts = Counts::default();
        counts.record(Outcome::Match, false);
        assert_eq!(Exit::of_run(RunState::Complete, None, &counts), Exit::Clean);
        counts.record(Outcome::Timeout, false);
        assert_eq!(Exit::of_run(RunState::Complete, None, &counts), Exit::Found);
        assert_eq!(
            Exit::of_run(RunState::Interrupted, Some(Signal::Sigterm), &counts).code(),
            143
        );
        assert_eq!(
            Exit::of_run(RunState::Aborted, Some(Signal::Sigint), &counts).code(),
            2
        );
        assert_eq!(Exit::of_code(130), Some(Exit::Interrupted));
        assert_eq!(Exit::of_code(7), None);
    }
}
