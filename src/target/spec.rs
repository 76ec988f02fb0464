//! Parsing target specs: `builtin:NAME`, `worker:CMD`, `exec:CMD`, `http(s)://URL`.
//!
//! # Contract
//! [`TargetSpec::parse`] accepts exactly those four forms and returns an error
//! naming the flag and the accepted forms otherwise. Command lines are split
//! with `shell-words` (POSIX quoting rules); an empty command is an error.
//! [`CommandLine::resolve_program`] finds the program the way `execvp` would
//! (a path containing `/` as is, a bare name on `PATH`) and checks that it is
//! executable, so a missing or non-executable program is reported before the
//! run starts. An `http(s)://` spec's credentials
//! (`http://user:pass@host/`) are registered with [`crate::redact`] when it
//! is parsed, and its `Display` leaves them out (the requests use them).

use super::{Side, TargetError};
use std::fmt;
use std::path::PathBuf;

/// How one side is plugged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Builtin(String),
    Worker(CommandLine),
    Exec(CommandLine),
    Http(String),
    /// The capture's `recorded` responses (production's answers).
    Recorded,
}

/// A program and its arguments, never interpreted by a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect();
        f.write_str(&shell_words::join(words))
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSpec::Builtin(name) => write!(f, "builtin:{name}"),
            TargetSpec::Worker(cmd) => write!(f, "worker:{cmd}"),
            TargetSpec::Exec(cmd) => write!(f, "exec:{cmd}"),
            TargetSpec::Http(url) => f.write_str(&crate::redact::url(url)),
            TargetSpec::Recorded => f.write_str("recorded"),
        }
    }
}

impl CommandLine {
    fn parse(text: &str) -> Result<Self, String> {
        let mut words =
            shell_words::split(text).map_err(|e| format!("cannot split the command line: {e}"))?;
        if words.is_empty() {
            return Err("the command line is empty".into());
        }
        let program = words.remove(0);
        Ok(CommandLine {
            program,
            args: words,
        })
    }

    /// Where the program is, or why it cannot be run: found the way `execvp`
    /// finds it (a path containing `/` as is, a bare name on `PATH`) and
    /// executable by cutover, so that `worker:` and `exec:` both stop the run
    /// before any record is read when it is not.
    pub fn resolve_program(&self) -> Result<PathBuf, String> {
        if let Ok(path) = which::which(&self.program) {
            return Ok(path);
        }
        let candidate = PathBuf::from(&self.program);
        Err(if !self.program.contains('/') {
            format!("program `{}` is not on PATH", self.program)
        } else if candidate.is_file() {
            format!(
                "program {} is not executable: make it so (chmod +x), or name its interpreter first (e.g. `python3 {}`)",
                candidate.display(),
                candidate.display()
            )
        } else {
            format!("program {} does not exist", candidate.display())
        })
    }

    /// The process to spawn: stdin, stdout and stderr piped, killed if
    /// cutover drops it, in its own process group (so Ctrl-C on the terminal
    /// reaches cutover only, which then drains instead of losing calls).
    /// Started through [`super::process::spawn`], which adds the rest.
    pub(crate) fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        command
    }
}

impl TargetSpec {
    /// Parses the value of `--legacy` or `--candidate`.
    pub fn parse(text: &str, side: Side) -> Result<Self, TargetError> {
        let bad = |reason: String| TargetError::BadSpec {
            flag: side.flag(),
            spec: crate::redact::url(text),
            reason,
        };
        if let Some(name) = text.strip_prefix("builtin:") {
            return Ok(TargetSpec::Builtin(name.to_owned()));
        }
        if let Some(cmd) = text.strip_prefix("worker:") {
            return CommandLine::parse(cmd).map(TargetSpec::Worker).map_err(bad);
        }
        if let Some(cmd) = text.strip_prefix("exec:") {
            return CommandLine::parse(cmd).map(TargetSpec::Exec).map_err(bad);
        }
        if text == "recorded" {
            return Ok(TargetSpec::Recorded);
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            crate::redact::register_url(text);
            return Ok(TargetSpec::Http(text.to_owned()));
        }
        Err(bad(
            "not a target; use builtin:NAME, worker:COMMAND LINE, exec:COMMAND LINE, an http(s):// URL, or recorded".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            TargetSpec::parse("builtin:normalize", Side::Candidate).unwrap(),
            TargetSpec::Builtin("normalize".into())
        );
        assert_eq!(
            TargetSpec::parse("worker:python3 'legacy dir/worker.py' -x", Side::Legacy).unwrap(),
            TargetSpec::Worker(CommandLine {
                program: "python3".into(),
                args: vec!["legacy dir/worker.py".into(), "-x".into()]
            })
        );
        assert!(matches!(
            TargetSpec::parse("exec:./run.sh", Side::Legacy).unwrap(),
            TargetSpec::Exec(_)
        ));
        assert!(matches!(
            TargetSpec::parse("http://127.0.0.1:1/x", Side::Legacy).unwrap(),
            TargetSpec::Http(_)
        ));
    }

    #[test]
    fn errors_name_the_flag() {
        let e = TargetSpec::parse("python3 worker.py", Side::Legacy)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--legacy \"python3 worker.py\""), "{e}");
        assert!(e.contains("worker:COMMAND LINE"), "{e}");
        let e = TargetSpec::parse("worker:", Side::Candidate)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--candidate") && e.contains("empty"), "{e}");
        let e = TargetSpec::parse("worker:python3 'unclosed", Side::Legacy)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot split"), "{e}");
    }
}
