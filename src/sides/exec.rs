//! `exec:COMMAND`: one process per call, for legacy programs that cannot speak
//! the worker protocol.
//!
//! # Contract
//! - At most `--workers` programs run at once (calls wait for a free slot;
//!   the wait does not count against `--timeout`), however many records
//!   `--concurrency` keeps in flight.
//! - The input JSON is written to the process's stdin, which is then closed;
//!   its whole stdout must be one JSON document, the output.
//! - Exit status 0 with JSON on stdout → [`Answer::Output`]. A non-zero exit is
//!   the program's way to report an error → [`Answer::Error`] with type
//!   `exit_status` and message `"<code>: <last stderr line>"`, so that two
//!   programs failing the same way compare equal. Stderr is read as bytes
//!   and shown lossily, in lines of bounded length (see [`super::process`]).
//! - Status 0 with stdout that is not JSON → `cutover.bad_output`; stdout over
//!   the size limit → `cutover.output_too_large` (the program is killed as
//!   soon as it passes the limit, whatever its exit status then); a program
//!   that cannot be waited for → `cutover.wait_failed`.
//! - The program runs in its own process group, killed as soon as the program
//!   exits: a child it left holding stdout does not delay its answer.
//! - Past `timeout` the process group is killed and the call answers
//!   [`Answer::Timeout`].
//! - A program that cannot be started (missing, not executable, a bad
//!   interpreter line) is a [`SideError::CannotStart`]: checked up front
//!   where it can be, and the run stops if a start fails later, as for
//!   `worker:`.

use super::process::{self, StderrTail};
use super::{
    parse_output, too_large, CommandLine, Implementation, Request, SideError, SideOptions,
};
use crate::model::{Answer, AppError, Side};
use futures::future::BoxFuture;
use serde_json::value::RawValue;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

pub struct Exec {
    command: CommandLine,
    side: Side,
    timeout: Duration,
    max_output: usize,
    /// Where the program runs.
    dir: Option<PathBuf>,
    /// One permit per program allowed to run at once (`--workers`).
    slots: tokio::sync::Semaphore,
}

impl Exec {
    pub fn new(command: CommandLine, side: Side, options: &SideOptions) -> Result<Self, SideError> {
        let exec = Exec {
            command,
            side,
            timeout: options.timeout,
            max_output: options.max_response_bytes,
            dir: options.dir.clone(),
            slots: tokio::sync::Semaphore::new(options.workers.max(1)),
        };
        exec.command
            .resolve_program(exec.dir.as_deref())
            .map_err(|reason| exec.cannot_start(reason))?;
        Ok(exec)
    }

    fn cannot_start(&self, reason: String) -> SideError {
        SideError::CannotStart {
            flag: self.side.flag(),
            what: "exec program",
            command: self.command.to_string(),
            reason,
        }
    }

    async fn run(&self, spawned: process::Spawned, input: &RawValue) -> Answer {
        let process::Spawned { mut child, group } = spawned;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let exited = CancellationToken::new();
        let tail = StderrTail::default();
        let limit = self.max_output as u64 + 1;
        let mut out = Vec::new();
        let write = process::until_after_exit(&exited, async move {
            // A program that exits without reading its input is not an error here.
            let _ = stdin.write_all(input.get().as_bytes()).await;
        });
        let read_out = async {
            let mut stdout = stdout.take(limit);
            let _ = process::until_after_exit(&exited, stdout.read_to_end(&mut out)).await;
            if out.len() as u64 >= limit {
                // The answer is decided: do not wait for the rest.
                group.kill();
            }
        };
        let read_err =
            process::until_after_exit(&exited, process::keep_stderr(stderr, &tail, |_| {}));
        let wait = async {
            let status = child.wait().await;
            // What is left of its group could only hold the pipes open.
            group.kill();
            exited.cancel();
            status
        };
        let (_, (), _, status) = tokio::join!(write, read_out, read_err, wait);
        if out.len() as u64 >= limit {
            return too_large("stdout", self.max_output);
        }
        let status = match status {
            Ok(status) => status,
            Err(e) => return Answer::Error(AppError::new("cutover.wait_failed", e.to_string())),
        };
        if !status.success() {
            let last = tail.last().unwrap_or_default();
            let code = status
                .code()
                .map_or_else(|| "killed".to_owned(), |c| c.to_string());
            return Answer::Error(AppError::new("exit_status", format!("{code}: {last}")));
        }
        parse_output(&out, "stdout")
    }
}

impl Implementation for Exec {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Answer, SideError>> {
        Box::pin(async move {
            // The semaphore is never closed.
            let _slot = self.slots.acquire().await.expect("exec slots stay open");
            let spawned = process::spawn(&self.command, self.dir.as_deref())
                .map_err(|e| self.cannot_start(e.to_string()))?;
            // Dropping the unfinished run on timeout drops its process
            // group, which kills it.
            Ok(
                tokio::time::timeout(self.timeout, self.run(spawned, request.input))
                    .await
                    .unwrap_or(Answer::Timeout(self.timeout)),
            )
        })
    }
}
