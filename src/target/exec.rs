//! `exec:COMMAND`: one process per call, for legacy programs that cannot speak
//! the worker protocol.
//!
//! # Contract
//! - The input JSON is written to the process's stdin, which is then closed;
//!   its whole stdout must be one JSON document, the output.
//! - Exit status 0 with JSON on stdout → [`Answer::Output`]. A non-zero exit is
//!   the program's way to report an error → [`Answer::Error`] with type
//!   `exit_status` and message `"<code>: <last stderr line>"`, so that two
//!   programs failing the same way compare equal.
//! - Status 0 with stdout that is not JSON → `cutover.bad_output`; a process
//!   that cannot be spawned → `cutover.spawn_failed`; stdout over the size
//!   limit → `cutover.output_too_large`.
//! - Past `timeout` the process is killed and the call answers
//!   [`Answer::Timeout`].

use super::{
    parse_output, too_large, Answer, AppError, CommandLine, Request, Side, Target, TargetError,
    TargetOptions,
};
use futures::future::BoxFuture;
use serde_json::value::RawValue;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Exec {
    command: CommandLine,
    timeout: Duration,
    max_output: usize,
}

impl Exec {
    pub fn new(
        command: CommandLine,
        side: Side,
        options: &TargetOptions,
    ) -> Result<Self, TargetError> {
        command
            .resolve_program()
            .map_err(|reason| TargetError::CannotStart {
                flag: side.flag(),
                command: command.to_string(),
                reason,
            })?;
        Ok(Exec {
            command,
            timeout: options.timeout,
            max_output: options.max_response_bytes,
        })
    }

    async fn run(&self, input: &RawValue) -> Answer {
        let mut child = match self.command.command().spawn() {
            Ok(child) => child,
            Err(e) => {
                return Answer::Error(AppError::new(
                    "cutover.spawn_failed",
                    format!("{}: {e}", self.command),
                ))
            }
        };
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let write = async move {
            // A program that exits without reading its input is not an error here.
            let _ = stdin.write_all(input.get().as_bytes()).await;
        };
        let limit = self.max_output as u64 + 1;
        let read_out = async {
            let mut out = Vec::new();
            let _ = stdout.take(limit).read_to_end(&mut out).await;
            out
        };
        let read_err = async {
            let mut err = Vec::new();
            let _ = stderr.take(64 * 1024).read_to_end(&mut err).await;
            err
        };
        let ((), out, err, status) = tokio::join!(write, read_out, read_err, child.wait());
        let status = match status {
            Ok(status) => status,
            Err(e) => return Answer::Error(AppError::new("cutover.spawn_failed", e.to_string())),
        };
        if !status.success() {
            let last = String::from_utf8_lossy(&err)
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_owned();
            let code = status
                .code()
                .map_or_else(|| "killed".to_owned(), |c| c.to_string());
            return Answer::Error(AppError::new("exit_status", format!("{code}: {last}")));
        }
        if out.len() as u64 >= limit {
            return too_large("stdout", self.max_output);
        }
        parse_output(&out, "stdout")
    }
}

impl Target for Exec {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, TargetError>> {
        Box::pin(async move {
            // Dropping the unfinished run on timeout drops the child, which
            // kill_on_drop kills.
            Ok(tokio::time::timeout(self.timeout, self.run(request.input))
                .await
                .unwrap_or(Answer::Timeout(self.timeout)))
        })
    }
}
