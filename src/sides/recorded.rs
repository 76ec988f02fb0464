//! `recorded`: the response production gave, as captured with the request.
//!
//! # Contract
//! For replaying captures when the legacy can no longer be run: the answer is
//! the record's `recorded` value as an [`Answer::Output`] (any JSON value,
//! `null` included), kept as the capture's JSON text. A record without `recorded` is answered with a
//! `cutover.no_recording` error, so it shows up in the report instead of
//! passing silently. When the run's other side is an `upstream:` one, a
//! recorded HTTP response ([`crate::model::exchange::HttpResponse`]) is
//! answered in its comparable form, under that side's header policy, so the
//! two compare like for like (a recorded response that is not a valid one is
//! a `cutover.bad_recording` error with the reason). Non-goal: recorded
//! errors or latencies (a capture records an output).

use super::{Implementation, Request, SideError};
use crate::model::exchange::{HeaderPolicy, HttpResponse};
use crate::model::{Answer, AppError, Output};
use futures::future::BoxFuture;

/// The recorded side; `exchanges`: the header policy HTTP responses are
/// compared under (the other side is an upstream).
pub struct Recorded {
    pub exchanges: Option<HeaderPolicy>,
}

impl Implementation for Recorded {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        let answer = match request.recorded {
            Some(raw) if self.exchanges.is_some() => match HttpResponse::parse(raw) {
                Ok(response) => {
                    Answer::output(response.comparable(self.exchanges.as_ref().expect("checked")))
                }
                Err(e) => Answer::Error(AppError::new("cutover.bad_recording", e)),
            },
            // Kept as the capture's text (a copy, no parse) where it reads.
            Some(raw) => match Output::from_text(raw.to_owned()) {
                Ok(output) => Answer::Output(output),
                Err(e) => Answer::Error(AppError::new("cutover.bad_recording", e.to_string())),
            },
            None => Answer::Error(AppError::new(
                "cutover.no_recording",
                "the capture record has no `recorded` field to replay",
            )),
        };
        Box::pin(std::future::ready(Ok(answer)))
    }
}
