//! `http://…` / `https://…`: POST the input as JSON, the response body is the output.
//!
//! # Contract
//! - One `POST` per call with `Content-Type: application/json` and the input
//!   as the body; one shared connection pool per target.
//! - A 2xx status with a JSON body → [`Answer::Output`]. Any other status →
//!   [`Answer::Error`] with type `http_status` and message `"<code>: <body
//!   start>"`, so that the same failure on both sides compares equal.
//! - A 2xx body that is not JSON → `cutover.bad_output`; a connection failure →
//!   `cutover.http_transport`; a body over the size limit →
//!   `cutover.output_too_large`; past `timeout` → [`Answer::Timeout`].

use super::{
    parse_output, too_large, Answer, AppError, Request, Side, Target, TargetError, TargetOptions,
};
use futures::future::BoxFuture;
use serde_json::value::RawValue;
use std::time::Duration;

pub struct Http {
    client: reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
    max_body: usize,
}

impl Http {
    pub fn new(url: &str, side: Side, options: &TargetOptions) -> Result<Self, TargetError> {
        let bad = |reason: String| TargetError::BadSpec {
            flag: side.flag(),
            spec: url.to_owned(),
            reason,
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| bad(format!("not a valid URL: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(|e| bad(format!("cannot build an HTTP client: {e}")))?;
        Ok(Http {
            client,
            url: parsed,
            timeout: options.timeout,
            max_body: options.max_response_bytes,
        })
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
            Err(e) => return Answer::Error(AppError::new("cutover.http_transport", e.to_string())),
        };
        let status = response.status();
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
                Err(e) => {
                    return Answer::Error(AppError::new("cutover.http_transport", e.to_string()))
                }
            }
        }
        if !status.is_success() {
            return Answer::Error(AppError::new(
                "http_status",
                format!("{}: {}", status.as_u16(), crate::traffic::excerpt(&body)),
            ));
        }
        parse_output(&body, "response body")
    }
}

impl Target for Http {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, TargetError>> {
        Box::pin(async move { Ok(self.post(request.input).await) })
    }
}
