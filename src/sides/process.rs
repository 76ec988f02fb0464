//! Child processes of `worker:` and `exec:` targets: how they are started,
//! how their stderr is kept, and how they are ended, so that none outlives
//! cutover and none can make it hang or grow without bound.
//!
//! # Contract
//! - [`spawn`] starts a [`CommandLine`] (in the directory given, the run's:
//!   see [`super::SideOptions::dir`]) with stdin, stdout and stderr piped,
//!   in a process group of its own (its pgid is its pid: Ctrl-C on the
//!   terminal reaches cutover only, which then drains), and with a
//!   parent-death signal (`PR_SET_PDEATHSIG`, SIGKILL), so the process dies
//!   with cutover even when cutover is killed with SIGKILL and no cleanup can
//!   run. Linux sends that signal when the *thread* that forked the child
//!   exits, not the process; so every child is forked by one long-lived
//!   thread that lives as long as cutover (tokio's worker and blocking
//!   threads come and go). The child also checks, after setting the signal,
//!   that its parent is still cutover, which closes the race with a cutover
//!   that died while forking.
//! - A [`Group`] owns the process group. [`Group::kill`] and dropping it send
//!   SIGKILL to the whole group, so children the program started (and left
//!   holding its pipes) go with it. Callers kill the group as soon as the
//!   program itself exits: whatever is left of it can only hold pipes open.
//! - [`kill_all`] kills every group still alive, for the exit paths that do
//!   not unwind (a second signal, an error in `main`).
//! - [`keep_stderr`] reads a stderr pipe to its end as bytes: each line is
//!   cut to [`STDERR_LINE_BYTES`] (the rest of it is discarded as it
//!   arrives, so a stream with no newline costs nothing), shown lossily (bytes
//!   that are not UTF-8 become U+FFFD), and the last few non-blank lines are
//!   kept for error messages. The pipe is always read to its end, so a
//!   chatty program never blocks on (or dies of) a full or closed stderr.
//! - [`AFTER_EXIT`] bounds how long pipes are read after the program exited
//!   and its group was killed: only a process that escaped the group (its
//!   own `setsid`) can hold them longer, and it is not waited for.
//!
//! # Non-goals
//! Grandchildren of a program are not followed once they leave its process
//! group, and the parent-death signal reaches only the program itself: a
//! SIGKILL to cutover ends the program, and its own children only if it
//! takes them with it.

use super::CommandLine;
use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Bytes of one stderr line kept; the rest of the line is discarded.
pub const STDERR_LINE_BYTES: usize = 512;
/// How long a program's pipes are still read after it exited.
pub const AFTER_EXIT: Duration = Duration::from_millis(500);

/// A started program and its process group.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub group: Group,
}

/// The process group of a started program; see the module contract.
#[derive(Debug)]
pub struct Group {
    pgid: i32,
}

impl Group {
    /// Sends SIGKILL to every process still in the group.
    pub fn kill(&self) {
        kill_group(self.pgid);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
        lock_live().remove(&self.pgid);
    }
}

fn kill_group(pgid: i32) {
    use nix::sys::signal::{killpg, Signal};
    // ESRCH (nobody left in the group) is the usual, and fine.
    let _ = killpg(nix::unistd::Pid::from_raw(pgid), Signal::SIGKILL);
}

/// Process groups started and not yet dropped.
fn lock_live() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Kills every process group cutover started and has not ended yet.
pub fn kill_all() {
    for &pgid in lock_live().iter() {
        kill_group(pgid);
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The long-lived thread every child is forked from (see the contract).
fn spawner() -> io::Result<&'static mpsc::Sender<Job>> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("cutover-spawner".into())
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
        .ok_or_else(|| io::Error::other("cannot start the thread that starts processes"))
}

/// Starts `command` (in `dir`, when given) as the module contract says.
/// Must be called inside a tokio runtime (the child is reaped by it).
pub fn spawn(command: &CommandLine, dir: Option<&std::path::Path>) -> io::Result<Spawned> {
    let handle = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let mut cmd = command.command(dir);
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only
    // makes two system calls (prctl, getppid); it allocates nothing (an
    // `io::Error` from a raw errno does not allocate).
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            if nix::unistd::getppid().as_raw() as u32 != parent {
                // cutover died before the signal was set: do not run orphaned.
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::sync_channel(1);
    spawner()?
        .send(Box::new(move || {
            let _runtime = handle.enter();
            let spawned = cmd.spawn().and_then(|child| {
                let pid = child
                    .id()
                    .ok_or_else(|| io::Error::other("the process exited at once"))?;
                let pgid = pid as i32;
                lock_live().insert(pgid);
                Ok(Spawned {
                    child,
                    group: Group { pgid },
                })
            });
            let _ = tx.send(spawned);
        }))
        .map_err(|_| io::Error::other("the thread that starts processes is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the thread that starts processes is gone"))?
}

/// The last non-blank stderr lines of a program, shared with its readers.
#[derive(Debug, Default)]
pub struct StderrTail {
    lines: Mutex<VecDeque<String>>,
}

impl StderrTail {
    /// Lines kept: the last this many non-blank ones.
    pub const LINES: usize = 8;

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    /// The last non-blank line, if any.
    pub fn last(&self) -> Option<String> {
        self.lock().back().cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, line: &[u8], cut: bool) -> Option<String> {
        let mut text = String::from_utf8_lossy(line).trim_end().to_owned();
        if text.trim().is_empty() {
            return None;
        }
        if cut {
            text.push('…');
        }
        let mut lines = self.lock();
        if lines.len() == Self::LINES {
            lines.pop_front();
        }
        lines.push_back(text.clone());
        Some(text)
    }
}

/// Reads `stderr` to its end into `tail` (see the module contract); calls
/// `on_line` with each non-blank line as kept.
pub async fn keep_stderr<R: AsyncRead + Unpin>(
    stderr: R,
    tail: &StderrTail,
    mut on_line: impl FnMut(&str),
) {
    let mut reader = BufReader::with_capacity(8 << 10, stderr);
    let mut line = Vec::with_capacity(STDERR_LINE_BYTES);
    let mut cut = false;
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let (piece, end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(at) => (&chunk[..at], Some(at + 1)),
            None => (chunk, None),
        };
        let room = STDERR_LINE_BYTES - line.len();
        cut |= piece.len() > room;
        line.extend_from_slice(&piece[..piece.len().min(room)]);
        let used = end.unwrap_or(chunk.len());
        reader.consume(used);
        if end.is_some() {
            if let Some(text) = tail.push(&line, cut) {
                on_line(&text);
            }
            line.clear();
            cut = false;
        }
    }
    if let Some(text) = tail.push(&line, cut) {
        on_line(&text);
    }
}

/// Completes [`AFTER_EXIT`] after `exited` is cancelled: the deadline for
/// reading the pipes of a program that has exited.
pub async fn after_exit(exited: &tokio_util::sync::CancellationToken) {
    exited.cancelled().await;
    tokio::time::sleep(AFTER_EXIT).await;
}

/// Runs `future` until it ends or until [`after_exit`], whichever comes
/// first; `None` if it was cut short.
pub async fn until_after_exit<F: std::future::Future>(
    exited: &tokio_util::sync::CancellationToken,
    future: F,
) -> Option<F::Output> {
    tokio::select! {
        output = future => Some(output),
        () = after_exit(exited) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn tail_of(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
        let tail = StderrTail::default();
        let mut seen = Vec::new();
        keep_stderr(bytes, &tail, |l| seen.push(l.to_owned())).await;
        (tail.lines(), seen)
    }

    #[tokio::test]
    async fn stderr_lines_are_bytes_shown_lossily_and_cut() {
        let (lines, seen) = tail_of(b"ok\n\xff\xfe bad\n\n   \nlast without newline").await;
        assert_eq!(
            lines,
            ["ok", "\u{fffd}\u{fffd} bad", "last without newline"]
        );
        assert_eq!(seen, lines);
        let long = vec![b'x'; 10 * STDERR_LINE_BYTES];
        let (lines, _) = tail_of(&[&long[..], b"\nnext\n"].concat()).await;
        assert_eq!(lines[0].len(), STDERR_LINE_BYTES + '…'.len_utf8());
        assert!(lines[0].ends_with('…'));
        assert_eq!(lines[1], "next");
    }

    #[tokio::test]
    async fn only_the_last_lines_are_kept() {
        let text: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let (lines, seen) = tail_of(text.as_bytes()).await;
        assert_eq!(seen.len(), 20);
        assert_eq!(lines.len(), StderrTail::LINES);
        assert_eq!(lines.last().unwrap(), "line 19");
    }

    #[tokio::test]
    async fn a_child_dies_with_its_group() {
        let command = CommandLine {
            program: "sh".into(),
            args: vec!["-c".into(), "sleep 600 & echo $!; wait".into()],
        };
        let Spawned { mut child, group } = spawn(&command, None).unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut pid = String::new();
        out.read_line(&mut pid).await.unwrap();
        let grandchild: i32 = pid.trim().parse().unwrap();
        assert!(lock_live().contains(&(child.id().unwrap() as i32)));
        drop(group);
        let status = child.wait().await.unwrap();
        assert!(!status.success());
        // The grandchild went with the group (it is a zombie or gone).
        let gone = || {
            let stat =
                std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(") ").map(|(_, s)| &s[..1]);
            matches!(state, None | Some("Z" | "X"))
        };
        for _ in 0..100 {
            if gone() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(gone(), "the grandchild {grandchild} survived its group");
    }
}
