//! `recorded`: the response production gave, as captured with the request.
//!
//! # Contract
//! For replaying captures when the legacy can no longer be run: the answer is
//! the record's `recorded` value as an [`Answer::Output`] (any JSON value,
//! `null` included). A record without `recorded` is answered with a
//! `cutover.no_recording` error, so it shows up in the report instead of
//! passing silently. Non-goal: recorded errors or latencies (a capture records
//! an output).

use super::{Implementation, Request, SideError};
use crate::model::{Answer, AppError};
use futures::future::BoxFuture;

pub struct Recorded;

impl Implementation for Recorded {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        let answer = match request.recorded {
            Some(raw) => match serde_json::from_str(raw.get()) {
                Ok(value) => Answer::Output(value),
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
