//! `cutover builtins`: the in-process implementations.

use crate::sides::BUILTINS;

/// The text of `cutover builtins`.
pub fn text() -> String {
    BUILTINS
        .iter()
        .map(|(name, about)| format!("builtin:{name:<18} {about}\n"))
        .collect()
}
