//! Leaf utilities: small, general pieces every layer may use, naming
//! nothing else in the crate.
//!
//! - [`atomic_file`]: whole files written so readers see the old or the new;
//! - [`redact`]: secrets taken out of everything shown, logged or written;
//! - [`errors`]: an error shown with each cause once;
//! - [`escape`]: hostile text made inert for terminals, suggested commands
//!   quoted;
//! - [`json`]: JSON string syntax shared by the hand-written scanners;
//! - [`lines`]: lines read with a hard length limit;
//! - [`text`]: a count with its noun, an excerpt of a bad line;
//! - [`serde`]: serde helpers of cutover's file formats.

pub mod atomic_file;
pub mod errors;
pub mod escape;
pub mod json;
pub mod lines;
pub mod redact;
pub mod serde;
pub mod text;
