//! `builtin:NAME`: Rust implementations called in-process.
//!
//! # Contract
//! The registry [`BUILTINS`] lists every name; an unknown name is a
//! [`SideError::BadSpec`] listing the known ones. Builtins run inline on the
//! calling task (they are microseconds of CPU), so `--timeout` does not apply;
//! they answer through [`Implementation::answer_now`] as well as `call`, so
//! the engine boxes and polls no future for them (5% of an identity
//! replay's instructions, 3% of a builtin one's).
//! A builtin's error becomes an [`Answer::Error`] with the same type and message
//! the legacy would report. `builtin:normalize` skips the port's own pass for
//! lone surrogates when the request says its input is strict JSON
//! ([`Request::input_check`], set for what the capture reader checked); the
//! answer is the same either way.
//!
//! `builtin:identity` answers with its input's JSON text (shared with the
//! record: no copy, no parse; [`Output::from_shared_text`], not even its
//! check for an input the capture reader vouched for): on both sides it
//! measures the harness alone (reading, dispatch, comparison, reports,
//! flags), with no implementation's work in the way (`scripts/bench`).

use super::{Implementation, Request, SideError};
use crate::model::{Answer, AppError, InputCheck, Output, Side};
use crate::normalize::{normalize_text_of_strict, normalize_text_with, Whitespace};
use futures::future::BoxFuture;

/// Every builtin: name and one-line description.
pub const BUILTINS: &[(&str, &str)] = &[
    ("normalize", "the Rust port of legacy/normalize.py (Python whitespace rules)"),
    (
        "normalize-naive",
        "the first-draft port that strips with Rust's str::trim (differs on U+001C..U+001F); kept as the worked example of a divergence",
    ),
    (
        "identity",
        "answers with its input: on both sides, the cost of cutover itself",
    ),
];

pub struct Builtin {
    work: Work,
}

/// What a builtin does with an input.
#[derive(Debug, Clone, Copy)]
enum Work {
    Normalize(Whitespace),
    Identity,
}

impl Builtin {
    pub fn new(name: &str, side: Side) -> Result<Self, SideError> {
        let work = match name {
            "normalize" => Work::Normalize(Whitespace::Python),
            "normalize-naive" => Work::Normalize(Whitespace::Unicode),
            "identity" => Work::Identity,
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
        Ok(Builtin { work })
    }
}

impl Implementation for Builtin {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        Box::pin(std::future::ready(Ok(self.answer(request))))
    }

    fn answer_now(&self, request: Request<'_>) -> Option<Answer> {
        Some(self.answer(request))
    }

    fn answers_at_once(&self) -> bool {
        true
    }
}

impl Builtin {
    /// The answer to `request`, worked out here and now.
    fn answer(&self, request: Request<'_>) -> Answer {
        match self.work {
            // The answer is JSON text cut from the input's own text (its
            // escapes kept), compared as JSON, never as bytes. The function
            // vouches for its text (Output::from_valid_json_text), so it is
            // not parsed again.
            // A strict input (the capture reader's) has no lone surrogate
            // escape: the port's own pass for them is skipped.
            Work::Normalize(whitespace) => {
                let normalized = if request.input_check.strict() {
                    normalize_text_of_strict(request.input, whitespace)
                } else {
                    normalize_text_with(request.input, whitespace)
                };
                match normalized {
                    Ok(text) => Answer::Output(Output::from_valid_json_text(text)),
                    Err(e) => Answer::Error(AppError::new(e.kind, e.message)),
                }
            }
            // An input the capture reader vouched for reads as a value,
            // so it is not checked again; any other is checked (a failure
            // would still be an answer, never a panic).
            Work::Identity if request.input_check == InputCheck::Reads => {
                Answer::Output(Output::from_shared_valid_text(request.input.clone()))
            }
            Work::Identity => match Output::from_shared_text(request.input.clone()) {
                Ok(output) => Answer::Output(output),
                Err(e) => Answer::Error(AppError::new("ValueError", e.to_string())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;
    use std::sync::Arc;

    async fn answer(builtin: &Builtin, input: &Arc<RawValue>, strict: bool) -> Answer {
        let input_check = match strict {
            true => InputCheck::Strict,
            false => InputCheck::Unchecked,
        };
        builtin
            .call(Request {
                input,
                input_check,
                recorded: None,
            })
            .await
            .unwrap()
    }

    fn input(text: &str) -> Arc<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap().into()
    }

    #[tokio::test]
    async fn the_answer_at_once_is_the_answer_of_the_call() {
        let capture = std::fs::read_to_string("fixtures/normalize/capture.jsonl").unwrap();
        for name in ["normalize", "normalize-naive", "identity"] {
            let builtin = Builtin::new(name, Side::Candidate).unwrap();
            for line in capture.lines().take(500) {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                let input = input(&record["input"].to_string());
                let request = Request {
                    input: &input,
                    input_check: InputCheck::Unchecked,
                    recorded: None,
                };
                assert_eq!(
                    builtin.answer_now(request),
                    Some(answer(&builtin, &input, false).await),
                    "{name}: {line}"
                );
            }
        }
    }

    #[tokio::test]
    async fn an_input_nobody_checked_still_has_its_lone_surrogates_refused() {
        let builtin = Builtin::new("normalize", Side::Candidate).unwrap();
        let lone = input(r#"{"items":["a\ud800b"]}"#);
        let Answer::Error(e) = answer(&builtin, &lone, false).await else {
            panic!("a lone surrogate was answered");
        };
        let want = crate::normalize::normalize_with(&lone, Whitespace::Python).unwrap_err();
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            (want.kind, want.message.as_str())
        );
    }

    #[tokio::test]
    async fn a_strict_input_is_answered_as_an_unchecked_one_is() {
        let builtin = Builtin::new("normalize", Side::Candidate).unwrap();
        let capture = std::fs::read_to_string("fixtures/normalize/capture.jsonl").unwrap();
        let mut compared = 0;
        for line in capture.lines() {
            // The lines the capture reader accepts as strict.
            #[derive(serde::Deserialize)]
            struct Line {
                input: Box<RawValue>,
            }
            let Ok(Line { input }) = serde_json::from_str::<Line>(line) else {
                continue;
            };
            if crate::model::lone_surrogate(line.as_bytes()).is_some() {
                continue;
            }
            let input: Arc<RawValue> = input.into();
            assert_eq!(
                answer(&builtin, &input, true).await,
                answer(&builtin, &input, false).await,
                "{line}"
            );
            compared += 1;
        }
        assert!(compared > 5000, "{compared} records");
    }
}
