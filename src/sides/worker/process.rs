//! One worker: its process and the four tasks around it.
//!
//! # Contract
//! [`spawn`] starts the pool's command through [`super::super::process`]
//! (a process group that dies with cutover) and four tasks:
//! - the writer owns stdin: requests arrive in batches over a bounded
//!   channel, and everything queued is written together (in pieces of at
//!   most [`WRITE_BUFFER`] bytes, a bigger input straight from its record),
//!   so pipelined calls share syscalls; a broken stdin dooms the worker;
//! - the reader owns stdout: each response line completes the pending call
//!   its wire id names (under [`Framing::Ordered`], the oldest one); a
//!   protocol violation or an unknown id (an answer line of a pipe with no
//!   call waiting) kills the worker (counted as a protocol error); once the worker is dead, every
//!   call left in flight is told why ([`super::pending::Orphans`]), with
//!   the exit status and the last stderr lines;
//! - the stderr task keeps the last lines for those messages (and logs each
//!   at debug level);
//! - the supervisor owns the process: it waits for it to exit, or kills it
//!   (with its group) when told, and then kills what is left of its group.

use super::super::events::{InternalEvent, ProtocolError};
use super::super::process as child;
use super::pending::{lock, WorkerState};
use super::pool::PoolShared;
use super::protocol::{line_end, line_start, parse_ordered, parse_response, Framing, WireBatch};
use crate::util::lines::{read_line_async, Line};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot};

/// Consecutive deaths of never-answering workers after which the pool gives up.
pub const SILENT_DEATH_LIMIT: u32 = 3;
/// Characters of each stderr line quoted in error messages.
const STDERR_QUOTE_CHARS: usize = 300;
/// Batches of requests (one call's, or the calls of one batch of records,
/// a few dozen) queued per worker before callers wait.
const QUEUE: usize = 256;
/// Bytes of request lines the writer gathers before it writes them; an
/// input larger than this is written from the record itself, not copied.
const WRITE_BUFFER: usize = 1 << 16;

/// Bytes each pipe between cutover and a worker holds, asked for with
/// `F_SETPIPE_SZ` (Linux's default is 64 KiB, which a worker answering a
/// whole 64 KiB read of requests at once can fill, and then waits for
/// cutover to read; paired on a 300k-record worker replay, 10 pairs: wall
/// −3%, CPU the same).
const PIPE_BYTES: libc::c_int = 1 << 20;

/// Asks the kernel for a [`PIPE_BYTES`] pipe; best effort: where that is
/// refused (over `/proc/sys/fs/pipe-max-size`, or not Linux) the pipe keeps
/// its size, which is only slower.
fn widen_pipe(pipe: &impl std::os::fd::AsRawFd) {
    // SAFETY: F_SETPIPE_SZ on a file descriptor this process owns changes
    // only the pipe's capacity; the result is ignored on purpose (above).
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES);
    }
}

/// A running worker, as the pool holds it.
pub(super) struct Worker {
    /// The process id, for logs (0 if it was not known).
    pub pid: u32,
    /// When the process was started.
    pub started: std::time::Instant,
    pub requests: mpsc::Sender<WireBatch>,
    pub state: Arc<WorkerState>,
}

/// Starts one worker of `shared`'s pool.
pub(super) fn spawn(shared: &Arc<PoolShared>) -> std::io::Result<Arc<Worker>> {
    let started = std::time::Instant::now();
    let child::Spawned { mut child, group } = child::spawn(&shared.command, shared.dir.as_deref())?;
    let (stdin, stdout, stderr) = (
        child.stdin.take().expect("stdin is piped"),
        child.stdout.take().expect("stdout is piped"),
        child.stderr.take().expect("stderr is piped"),
    );
    widen_pipe(&stdin);
    widen_pipe(&stdout);
    let state = Arc::new(WorkerState::new());
    let (requests, queue) = mpsc::channel(QUEUE);
    let (exit_tx, exit_rx) = oneshot::channel();
    let (stderr_done_tx, stderr_done_rx) = oneshot::channel();
    let pid = child.id().unwrap_or(0);
    tokio::spawn(write_requests(stdin, queue, state.clone(), shared.framing));
    tokio::spawn(keep_stderr(stderr, state.clone(), pid, stderr_done_tx));
    tokio::spawn(supervise(child, group, state.clone(), exit_tx));
    tokio::spawn(read_responses(
        stdout,
        state.clone(),
        shared.clone(),
        pid,
        exit_rx,
        stderr_done_rx,
    ));
    Ok(Arc::new(Worker {
        pid,
        started,
        requests,
        state,
    }))
}

async fn write_requests(
    mut stdin: ChildStdin,
    mut queue: mpsc::Receiver<WireBatch>,
    state: Arc<WorkerState>,
    framing: Framing,
) {
    let mut buf = Vec::with_capacity(WRITE_BUFFER);
    loop {
        let batch = tokio::select! {
            batch = queue.recv() => batch,
            _ = state.close.cancelled() => None,
            _ = state.kill.cancelled() => None,
        };
        let Some(batch) = batch else { break };
        let mut written = write_batch(&mut stdin, &mut buf, &batch, framing).await;
        // Write the whole burst already queued, then the rest at once.
        while written.is_ok() {
            match queue.try_recv() {
                Ok(batch) => written = write_batch(&mut stdin, &mut buf, &batch, framing).await,
                Err(_) => break,
            }
        }
        if written.is_ok() {
            written = write_out(&mut stdin, &mut buf).await;
        }
        if written.is_err() {
            // Its stdin broke, so it is dead or dying: let the exit status tell.
            state.kill_with(String::new());
            break;
        }
    }
    // Dropping stdin closes it: a well-behaved worker exits on EOF.
}

/// Puts a batch's request lines in `buf`, writing `buf` out whenever it
/// holds [`WRITE_BUFFER`] bytes; an input of more than that is written
/// straight from the record.
async fn write_batch(
    stdin: &mut ChildStdin,
    buf: &mut Vec<u8>,
    batch: &WireBatch,
    framing: Framing,
) -> std::io::Result<()> {
    for (id, input) in (batch.first..).zip(&batch.inputs) {
        let input = input.get().as_bytes();
        line_start(framing, id, buf);
        if input.len() > WRITE_BUFFER {
            write_out(stdin, buf).await?;
            stdin.write_all(input).await?;
        } else {
            buf.extend_from_slice(input);
        }
        buf.extend_from_slice(line_end(framing));
        if buf.len() >= WRITE_BUFFER {
            write_out(stdin, buf).await?;
        }
    }
    Ok(())
}

/// Writes what `buf` holds (if anything) and empties it.
async fn write_out(stdin: &mut ChildStdin, buf: &mut Vec<u8>) -> std::io::Result<()> {
    if !buf.is_empty() {
        stdin.write_all(buf).await?;
        buf.clear();
    }
    Ok(())
}

async fn keep_stderr(
    stderr: ChildStderr,
    state: Arc<WorkerState>,
    pid: u32,
    done: oneshot::Sender<()>,
) {
    child::keep_stderr(stderr, &state.stderr_tail, |line| {
        tracing::debug!(target: "cutover::worker", pid, "{line}");
    })
    .await;
    let _ = done.send(());
}

/// Owns the process: waits for it to exit, or kills it (with its group) when
/// told; once it has exited, kills what is left of its group, which could
/// only be holding its pipes.
async fn supervise(
    mut child: Child,
    group: child::Group,
    state: Arc<WorkerState>,
    exit: oneshot::Sender<String>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = state.kill.cancelled() => {
            group.kill();
            let _ = child.start_kill();
            child.wait().await
        }
    };
    group.kill();
    state.exited.cancel();
    let text = match status {
        Ok(s) => describe_exit(s),
        Err(e) => format!("could not be waited for: {e}"),
    };
    let _ = exit.send(text);
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => format!("ended ({status})"),
    }
}

async fn read_responses(
    stdout: ChildStdout,
    state: Arc<WorkerState>,
    pool: Arc<PoolShared>,
    pid: u32,
    exit: oneshot::Receiver<String>,
    stderr_done: oneshot::Receiver<()>,
) {
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    let mut buf = Vec::new();
    // Once the process has exited, what it wrote is still read, but a pipe
    // held open by something outside its group is not waited for.
    let after_exit = child::after_exit(&state.exited);
    tokio::pin!(after_exit);
    let violation = loop {
        // Once cutover has killed the worker, stop reading at once: its calls
        // must be told now, not whenever the pipe closes (a grandchild that
        // inherited stdout could keep it open long after the kill).
        let line = tokio::select! {
            line = read_line_async(&mut reader, &mut buf, pool.max_line) => line,
            _ = state.kill.cancelled() => break None,
            () = &mut after_exit => break None,
        };
        match line {
            Ok(Line::Complete) => {}
            Ok(Line::TooLong { .. }) => {
                break Some(format!(
                    "answered a line longer than {} bytes (--max-record-bytes)",
                    pool.max_line
                ))
            }
            Ok(Line::Eof) | Err(_) => break None,
        }
        if pool.framing == Framing::Ordered {
            // Every line answers a call, blank or garbled ones included.
            if !state.answer_oldest(parse_ordered(&buf)) {
                break Some("answered a line with no input waiting for it".to_owned());
            }
            pool.silent_deaths.store(0, Ordering::Relaxed);
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_response(&buf) {
            Ok((id, answer)) => {
                if !state.answer(id, answer) {
                    break Some(format!(
                        "answered id \"{id}\", which has no call waiting (never sent, or answered twice)"
                    ));
                }
                pool.silent_deaths.store(0, Ordering::Relaxed);
            }
            Err(reason) => break Some(reason),
        }
    };
    match violation {
        Some(v) => {
            ProtocolError {
                side: pool.side,
                pid,
                violation: &v,
            }
            .emit(&pool.counters);
            state.kill_with(format!("broke the worker protocol: it {v}"));
        }
        // Stdout is closed: whatever the process does now, it cannot answer.
        None => state.kill_with(String::new()),
    }
    let status = exit.await.unwrap_or_else(|_| "vanished".to_owned());
    let _ = tokio::time::timeout(Duration::from_millis(500), stderr_done).await;
    let mut reason = match lock(&state.kill_reason).clone() {
        Some(why) => format!("worker {why}"),
        None => format!("worker {status}"),
    };
    let tail: Vec<String> = state
        .stderr_tail
        .lines()
        .into_iter()
        .map(|line| line.chars().take(STDERR_QUOTE_CHARS).collect())
        .collect();
    if !tail.is_empty() {
        reason.push_str("; its stderr ended with: ");
        reason.push_str(&tail.join(" | "));
    }
    let orphans = state.orphans();
    if orphans.never_answered {
        let deaths = pool.silent_deaths.fetch_add(1, Ordering::Relaxed) + 1;
        if deaths >= SILENT_DEATH_LIMIT {
            lock(&pool.fatal).get_or_insert_with(|| {
                format!("{deaths} workers in a row ended before answering a single request; the last: {reason}")
            });
        }
    }
    orphans.tell(&reason);
    state.finished.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_worker_pipe_is_widened_where_the_kernel_allows() {
        let (reader, writer) = std::io::pipe().unwrap();
        let size = |fd: &dyn AsRawFd| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) };
        let before = size(&reader);
        widen_pipe(&writer);
        let allowed = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse::<libc::c_int>().ok())
            .unwrap_or(0);
        let want = if allowed >= PIPE_BYTES {
            PIPE_BYTES
        } else {
            before
        };
        assert_eq!(size(&reader), want, "pipe-max-size {allowed}");
        assert_eq!(size(&writer), want, "both ends are one pipe");
    }
}
