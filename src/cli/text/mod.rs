//! Text for terminals: everything cutover prints, drawn from the library's
//! data.
//!
//! - [`summary`]: a run (the run-summary model), section by section;
//! - [`record`]: one non-matching record; [`diff`]: a diff of two answers;
//! - [`rundiff`]: how the groups of two runs moved;
//! - [`rollout`]: the rollout lines of a run;
//! - [`style`]: colour and width; [`pager`]: stdout and the pager.
//!
//! Hostile text (from traffic, sides and run directories) is made inert
//! with [`crate::util::escape`] wherever it is printed.

pub mod diff;
pub mod pager;
pub mod record;
pub mod rollout;
pub mod rundiff;
pub mod style;
pub mod summary;
