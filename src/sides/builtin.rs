//! `builtin:NAME`: Rust implementations called in-process.
//!
//! # Contract
//! The registry [`BUILTINS`] lists every name; an unknown name is a
//! [`SideError::BadSpec`] listing the known ones. Builtins run inline on the
//! calling task (they are microseconds of CPU), so `--timeout` does not apply.
//! A builtin's error becomes an [`Answer::Error`] with the same type and message
//! the legacy would report.

use super::{Implementation, Request, SideError};
use crate::model::{Answer, AppError, Side};
use crate::normalize::{normalize_with, Whitespace};
use futures::future::BoxFuture;

/// Every builtin: name and one-line description.
pub const BUILTINS: &[(&str, &str)] = &[
    ("normalize", "the Rust port of legacy/normalize.py (Python whitespace rules)"),
    (
        "normalize-naive",
        "the first-draft port that strips with Rust's str::trim (differs on U+001C..U+001F); kept as the worked example of a divergence",
    ),
];

pub struct Builtin {
    whitespace: Whitespace,
}

impl Builtin {
    pub fn new(name: &str, side: Side) -> Result<Self, SideError> {
        let whitespace = match name {
            "normalize" => Whitespace::Python,
            "normalize-naive" => Whitespace::Unicode,
            _ => {
                let known: Vec<String> = BUILTINS
                    .iter()
                    .map(|(n, _)| format!("builtin:{n}"))
                    .collect();
                return Err(SideError::BadSpec {
                    flag: side.flag(),
                    spec: format!("builtin:{name}"),
                    reason: format!("no such builtin; known: {}", known.join(", ")),
                });
            }
        };
        Ok(Builtin { whitespace })
    }
}

impl Implementation for Builtin {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        let answer = match normalize_with(request.input, self.whitespace) {
            Ok(output) => Answer::Output(output),
            Err(e) => Answer::Error(AppError::new(e.kind, e.message)),
        };
        Box::pin(std::future::ready(Ok(answer)))
    }
}
