//! One run at a time per report directory: an OS advisory lock.
//!
//! # Contract
//! - [`RunLock::acquire`] takes an exclusive lock on [`LOCK_FILE`] in the run
//!   directory (created if missing, the directory too) without waiting, and
//!   writes the holder's pid and command line into it. Two runs into the same
//!   `--out` would interleave their files; the second gets
//!   [`ReportError::Locked`], naming the directory, the holder's pid and
//!   command line, and what to do.
//! - The lock lives as long as the [`RunLock`]. Dropping it removes the file
//!   (and the directory, if the lock created it and it is still empty) and
//!   releases the lock; a process that dies, however, releases it too
//!   (the OS drops the locks of closed files), and the file it leaves behind
//!   is taken over by the next run.
//! - Race-free against a holder that removes the file as it ends: a lock
//!   taken on a file that is no longer the one at the path is retried.
//! - The command line is written with the userinfo of any URL replaced by
//!   nothing and every registered secret redacted ([`crate::util::redact::text`]), and shown escaped (it is read back from a file anyone who can
//!   write the directory can change).
//! - Non-goals: waiting for the holder, or locking against writers that do not
//!   take this lock.

use super::ReportError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".cutover.lock";

/// Holds a run directory for this process; see the module docs.
#[derive(Debug)]
pub struct RunLock {
    dir: PathBuf,
    /// The directory did not exist before: removed again if left empty.
    created_dir: bool,
    path: PathBuf,
    _file: File,
}

impl RunLock {
    /// The directory this lock holds.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Locks `dir` for a run about to write it, or says who holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, ReportError> {
        Self::acquire_with(dir, ", or write this one elsewhere with --out")
    }

    /// Locks the finished run `dir` for a command that adds to it
    /// (`cutover recheck`), or says who holds it.
    pub fn acquire_finished(dir: &Path) -> Result<RunLock, ReportError> {
        Self::acquire_with(dir, "")
    }

    fn acquire_with(dir: &Path, advice: &'static str) -> Result<RunLock, ReportError> {
        let created_dir = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(LOCK_FILE);
        let failed = |cause: io::Error| ReportError::Lock {
            path: path.clone(),
            cause,
        };
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(failed)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let holder = Holder::read(&mut file);
                    return Err(ReportError::Locked {
                        dir: dir.to_owned(),
                        pid: holder.pid.map_or_else(|| "?".into(), |p| p.to_string()),
                        command: holder.command,
                        advice,
                    });
                }
                Err(TryLockError::Error(cause)) => return Err(failed(cause)),
            }
            if !same_file(&file, &path) {
                // The holder removed the file as it ended: lock the new one.
                continue;
            }
            file.set_len(0).map_err(failed)?;
            file.rewind().map_err(failed)?;
            file.write_all(Holder::this_process().as_bytes())
                .and_then(|()| file.flush())
                .map_err(failed)?;
            return Ok(RunLock {
                dir: dir.to_owned(),
                created_dir,
                path,
                _file: file,
            });
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Remove, then unlock (when the file closes): a run that opened this
        // file meanwhile sees that it is no longer at the path, and retries.
        let _ = std::fs::remove_file(&self.path);
        if self.created_dir {
            // Only succeeds when empty: a run that could not start leaves
            // nothing behind.
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Whether `file` is still the file at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// What the lock file says about its holder.
struct Holder {
    pid: Option<u32>,
    command: String,
}

impl Holder {
    /// The text this process writes: `pid N` and `command ...` lines.
    fn this_process() -> String {
        Self::text(std::process::id(), std::env::args_os())
    }

    /// The lock file's text for process `pid` run as `args`, with every
    /// secret and URL userinfo taken out ([`crate::util::redact::text`]).
    fn text(pid: u32, args: impl Iterator<Item = std::ffi::OsString>) -> String {
        let args: Vec<String> = args
            .map(|a| crate::util::redact::text(&a.to_string_lossy()).into_owned())
            .collect();
        format!("pid {pid}\ncommand {}\n", shell_words::join(args))
    }

    /// Reads a holder's lines (at most 16 KiB of them).
    fn read(file: &mut File) -> Holder {
        let mut text = String::new();
        let _ = file.rewind();
        let _ = file.take(16 * 1024).read_to_string(&mut text);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .map(str::to_owned)
        };
        Holder {
            pid: field("pid").and_then(|p| p.trim().parse().ok()),
            command: field("command").unwrap_or_else(|| "unknown".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_held_directory_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = RunLock::acquire(dir.path()).unwrap();
        let text = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("--out"), "{text}");
        drop(held);
        assert!(!dir.path().join(LOCK_FILE).exists());
        let again = RunLock::acquire(dir.path()).unwrap();
        drop(again);
    }

    #[test]
    fn a_lock_file_left_by_a_dead_run_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "pid 1\ncommand old\n").unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(
            text.starts_with(&format!("pid {}\n", std::process::id())),
            "{text}"
        );
        drop(lock);
    }

    #[test]
    fn url_credentials_never_reach_the_lock_file() {
        let args = [
            "cutover",
            "replay",
            "--legacy",
            "http://lockuser:lock-pw-2718@host:8/api",
        ];
        let text = Holder::text(7, args.iter().map(std::ffi::OsString::from));
        assert_eq!(
            text,
            "pid 7\ncommand cutover replay --legacy http://host:8/api\n"
        );
    }
}
