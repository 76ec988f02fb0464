//! cutover: a shadow-migration comparison harness.

pub mod cli;
pub mod compare;
pub mod engine;
pub mod flags;
pub mod model;
pub mod normalize;
pub mod report;
pub mod reproduce;
pub mod review;
pub mod run;
pub mod sides;
pub mod spec;
pub mod traffic;
pub mod util;

#[cfg(test)]
mod architecture_tests;
