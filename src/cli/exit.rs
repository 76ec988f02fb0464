//! How each command ends: the [`Exit`] of `diff(1)`'s vocabulary (0 none
//! found, 1 found, 2 could not run, 130 SIGINT, 143 SIGTERM), decided per
//! command here from what the library returned.
//!
//! # Contract
//! - An error, whatever its kind, is [`Exit::CouldNotRun`] (printed once by
//!   [`super::main`]).
//! - `replay`: the run's own status ([`Exit::of_run`], stored in
//!   `summary.json`). `report`: the run's, except that an interrupted run
//!   still found what it found (1). `report show`: 1 when no non-matching
//!   record has the id. `report diff`: 1 when a record is new or changed, or a
//!   group appeared or grew.
//!   `recheck`: 1 when a record is flaky. `flags promote`: 1 when refused.
//!   Everything else that did its work: 0.

pub use crate::model::Exit;
use crate::report::Summary;
use std::process::ExitCode;

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// `replay`: what the run decided.
pub fn of_replay(summary: &Summary) -> Exit {
    summary.exit().unwrap_or(Exit::CouldNotRun)
}

/// `report`: 0 the run found no differences, 2 it could not happen, 1
/// otherwise (differences, or interrupted with what it found so far).
pub fn of_report(summary: &Summary) -> Exit {
    match summary.exit() {
        Some(Exit::Clean) => Exit::Clean,
        Some(Exit::CouldNotRun) | None => Exit::CouldNotRun,
        Some(_) => Exit::Found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_exits_like_the_run_it_reads() {
        let mut summary = crate::report::test_summary(Vec::new());
        for (code, exit) in [
            (0, Exit::Clean),
            (1, Exit::Found),
            (2, Exit::CouldNotRun),
            (130, Exit::Found),
            (143, Exit::Found),
        ] {
            summary.exit_code = code;
            assert_eq!(of_report(&summary), exit, "exit_code {code}");
        }
    }
}
