//! `http://…` / `https://…`: POST the input as JSON, the response body is the output.
//!
//! # Contract
//! - One `POST` per call with `Content-Type: application/json` and the input
//!   as the body; one shared connection pool per target.
//! - A 2xx status with a JSON body → [`Answer::Output`]. Any other status →
//!   [`Answer::Error`] with type `http_status` and message `"<code>: <body
//!   start>"`, so that the same failure on both sides compares equal.
//! - Redirects are not followed: a 3xx is the answer (an `http_status`
//!   error naming the `Location`), so captured traffic never goes to a host
//!   it was not sent to. With `--follow-redirects SIDE` the side follows up
//!   to [`MAX_REDIRECTS`] redirects within the URL's origin (same scheme,
//!   host and port; a 307/308 sends the input again there); a redirect to
//!   another origin is not followed and is the answer, saying so.
//! - A 2xx body that is not JSON → `cutover.bad_output`; a connection failure →
//!   `cutover.http_transport` with the whole cause chain, each cause once
//!   (e.g. `… connection reset by peer`); a body over the size limit →
//!   `cutover.output_too_large`; past `timeout` → [`Answer::Timeout`].
//! - Error messages quote the server; they go through
//!   [`crate::util::redact::text`], so no registered secret (a URL's credentials
//!   echoed back) is reported.

use super::{parse_output, too_large, Implementation, Request, SideError, SideOptions};
use crate::model::{Answer, AppError, Side};
use crate::util::{errors, redact, text};
use futures::future::BoxFuture;
use serde_json::value::RawValue;
use std::time::Duration;

/// Redirects one call follows at most, with `--follow-redirects`.
pub const MAX_REDIRECTS: usize = 10;

pub struct Http {
    client: reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
    max_body: usize,
    follow: bool,
}

/// Follow redirects within `url`'s origin only; stop (the 3xx is the
/// answer) at one to another origin.
fn same_origin(url: &reqwest::Url) -> reqwest::redirect::Policy {
    let origin = url.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.url().origin() != origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

impl Http {
    pub fn new(url: &str, side: Side, options: &SideOptions) -> Result<Self, SideError> {
        let bad = |reason: String| SideError::BadSpec {
            flag: side.flag(),
            spec: redact::url(url),
            reason,
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| bad(format!("not a valid URL: {e}")))?;
        let follow = options.follow_redirects.contains(&side);
        let redirects = if follow {
            same_origin(&parsed)
        } else {
            reqwest::redirect::Policy::none()
        };
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .redirect(redirects)
            .build()
            .map_err(|e| bad(format!("cannot build an HTTP client: {e}")))?;
        Ok(Http {
            client,
            url: parsed,
            timeout: options.timeout,
            max_body: options.max_response_bytes,
            follow,
        })
    }

    /// The `http_status` error for a non-2xx answer.
    fn status_error(&self, response: &reqwest::Response, body: &[u8]) -> Answer {
        let status = response.status();
        let mut message = status.as_u16().to_string();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
                .unwrap_or_default();
            let why = if self.follow {
                "to another host"
            } else {
                "redirects are followed only with --follow-redirects, to the same host"
            };
            message.push_str(&format!(" redirect to {location:?} not followed ({why})"));
        }
        message.push_str(": ");
        message.push_str(&text::excerpt(body));
        Answer::Error(AppError::new(
            "http_status",
            redact::text(&message).into_owned(),
        ))
    }

    async fn post(&self, input: &RawValue) -> Answer {
        let sent = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(input.get().to_owned())
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Answer::Timeout(self.timeout),
            Err(e) => return transport_error(&e),
        };
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > self.max_body {
                        return too_large("response body", self.max_body);
                    }
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Answer::Timeout(self.timeout),
                Err(e) => return transport_error(&e),
            }
        }
        if !response.status().is_success() {
            return self.status_error(&response, &body);
        }
        parse_output(&body, "response body")
    }
}

/// A failed exchange, with every cause once and no secret.
fn transport_error(e: &reqwest::Error) -> Answer {
    Answer::Error(AppError::new(
        "cutover.http_transport",
        redact::text(&errors::chain(e)).into_owned(),
    ))
}

impl Implementation for Http {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        Box::pin(async move { Ok(self.post(request.input).await) })
    }
}
