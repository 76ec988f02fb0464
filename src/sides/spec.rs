//! Side specs: `builtin:NAME`, `worker:CMD`, `pipe:CMD`, `exec:CMD`,
//! `http(s)://URL`, `upstream:http(s)://HOST:PORT`, `recorded`.
//!
//! # Contract
//! [`SideSpec::parse`] accepts exactly the seven forms of [`FORMS`] and
//! returns an error naming the flag and the accepted forms otherwise.
//! Command lines are split with `shell-words` (POSIX quoting rules); an
//! empty command is an error. [`CommandLine::resolve_program`] finds the
//! program the way `execvp` would (a path containing `/` as is, relative to
//! the directory the command runs in; a bare name on `PATH`) and checks that
//! it is executable, so a missing or non-executable program is reported
//! before the run starts. An `http(s)://` spec's credentials
//! (`http://user:pass@host/`) are registered with [`crate::util::redact`]
//! when it is parsed; its `Display` and its serialised form leave them out
//! (the requests use them).
//!
//! Serialised (in the run spec of `summary.json`) as `{"builtin": NAME}`,
//! `{"worker": {"program", "args"}}`, `{"pipe": {"program", "args"}}`,
//! `{"exec": {"program", "args"}}`,
//! `{"http": URL}` (without userinfo), `{"upstream": {"url", "rewrite",
//! "max_connections", "headers", "ca_file"?}}` ([`super::upstream::UpstreamSpec`]: its
//! rewriting, connection bound and header policy are set by whoever builds
//! the run spec; parsing gives the defaults) or `"recorded"`: structured, so what
//! re-runs a run's records never parses a command line again.

use super::SideError;
use crate::model::Side;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};

/// The forms a side spec takes, as `--help` and errors list them.
pub const FORMS: [&str; 7] = [
    "builtin:NAME",
    "worker:COMMAND LINE",
    "pipe:COMMAND LINE",
    "exec:COMMAND LINE",
    "an http(s):// URL",
    "upstream:http(s)://HOST:PORT",
    "recorded",
];

/// How one side is plugged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SideSpec {
    Builtin(String),
    Worker(CommandLine),
    /// A persistent program answering one JSON line per input line, in
    /// order, with no ids (`legacy/PROTOCOL.md`, "Pipes").
    Pipe(CommandLine),
    Exec(CommandLine),
    Http(#[serde(serialize_with = "without_userinfo")] String),
    /// An HTTP service sent each record's whole request.
    Upstream(Box<super::upstream::UpstreamSpec>),
    /// The capture's `recorded` responses (production's answers).
    Recorded,
}

fn without_userinfo<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::util::redact::url(url))
}

/// A program and its arguments, never interpreted by a shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl fmt::Display for SideSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SideSpec::Builtin(name) => write!(f, "builtin:{name}"),
            SideSpec::Worker(cmd) => write!(f, "worker:{cmd}"),
            SideSpec::Pipe(cmd) => write!(f, "pipe:{cmd}"),
            SideSpec::Exec(cmd) => write!(f, "exec:{cmd}"),
            SideSpec::Http(url) => f.write_str(&crate::util::redact::url(url)),
            SideSpec::Upstream(spec) => write!(f, "upstream:{}", spec.url),
            SideSpec::Recorded => f.write_str("recorded"),
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
    /// finds it (a path containing `/` as is, relative to `dir` when it is
    /// relative; a bare name on `PATH`) and executable by cutover, so that
    /// `worker:` and `exec:` both stop the run before any record is read
    /// when it is not.
    pub fn resolve_program(&self, dir: Option<&Path>) -> Result<PathBuf, String> {
        let found = match dir {
            Some(dir) => which::which_in(&self.program, std::env::var_os("PATH"), dir),
            None => which::which(&self.program),
        };
        if let Ok(path) = found {
            return Ok(path);
        }
        let candidate = match dir {
            Some(dir) if self.program.contains('/') => dir.join(&self.program),
            _ => PathBuf::from(&self.program),
        };
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

    /// The process to spawn, in `dir` when given: stdin, stdout and stderr
    /// piped, killed if cutover drops it, in its own process group (so
    /// Ctrl-C on the terminal reaches cutover only, which then drains
    /// instead of losing calls). Started through [`super::process::spawn`],
    /// which adds the rest.
    pub(super) fn command(&self, dir: Option<&Path>) -> tokio::process::Command {
        let program = match dir {
            // A relative path with a `/` is the program's path from `dir`.
            Some(dir) if self.program.contains('/') => dir.join(&self.program),
            _ => PathBuf::from(&self.program),
        };
        let mut command = tokio::process::Command::new(program);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
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

impl SideSpec {
    /// Whether many calls may wait on this side at once at nobody's
    /// expense: `builtin:` runs inside cutover, `worker:` and `pipe:` calls
    /// queue in the pipes of `--workers` processes that serve them one at a
    /// time, and `recorded` calls nothing. False for `exec:` (a program per
    /// call) and for an HTTP service (`http(s)://`, `upstream:`), which sees
    /// every call in flight as a request of its own.
    pub fn queues_here(&self) -> bool {
        match self {
            SideSpec::Builtin(_) | SideSpec::Worker(_) | SideSpec::Pipe(_) | SideSpec::Recorded => {
                true
            }
            SideSpec::Exec(_) | SideSpec::Http(_) | SideSpec::Upstream(_) => false,
        }
    }

    /// Parses the value of `--legacy` or `--candidate`.
    pub fn parse(text: &str, side: Side) -> Result<Self, SideError> {
        let bad = |reason: String| SideError::BadSpec {
            flag: side.flag(),
            spec: crate::util::redact::url(text),
            reason,
        };
        if let Some(name) = text.strip_prefix("builtin:") {
            return Ok(SideSpec::Builtin(name.to_owned()));
        }
        if let Some(cmd) = text.strip_prefix("worker:") {
            return CommandLine::parse(cmd).map(SideSpec::Worker).map_err(bad);
        }
        if let Some(cmd) = text.strip_prefix("pipe:") {
            return CommandLine::parse(cmd).map(SideSpec::Pipe).map_err(bad);
        }
        if let Some(cmd) = text.strip_prefix("exec:") {
            return CommandLine::parse(cmd).map(SideSpec::Exec).map_err(bad);
        }
        if let Some(url) = text.strip_prefix("upstream:") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(
                    "upstream: takes an http://HOST:PORT or https://HOST:PORT base URL".into(),
                ));
            }
            if url.contains('@') {
                return Err(bad(
                    "an upstream URL carries no credentials; send them with --legacy-secret-header / --candidate-secret-header".into(),
                ));
            }
            return Ok(SideSpec::Upstream(Box::new(
                super::upstream::UpstreamSpec::new(url),
            )));
        }
        if text == "recorded" {
            return Ok(SideSpec::Recorded);
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            crate::util::redact::register_url(text);
            return Ok(SideSpec::Http(text.to_owned()));
        }
        let (last, rest) = FORMS.split_last().expect("six forms");
        Err(bad(format!(
            "not a target; use {}, or {last}",
            rest.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            SideSpec::parse("builtin:normalize", Side::Candidate).unwrap(),
            SideSpec::Builtin("normalize".into())
        );
        assert_eq!(
            SideSpec::parse("worker:python3 'legacy dir/worker.py' -x", Side::Legacy).unwrap(),
            SideSpec::Worker(CommandLine {
                program: "python3".into(),
                args: vec!["legacy dir/worker.py".into(), "-x".into()]
            })
        );
        assert!(matches!(
            SideSpec::parse("exec:./run.sh", Side::Legacy).unwrap(),
            SideSpec::Exec(_)
        ));
        assert_eq!(
            SideSpec::parse("pipe:python3 legacy/batch.py --pipe", Side::Legacy).unwrap(),
            SideSpec::Pipe(CommandLine {
                program: "python3".into(),
                args: vec!["legacy/batch.py".into(), "--pipe".into()]
            })
        );
        assert!(matches!(
            SideSpec::parse("http://127.0.0.1:1/x", Side::Legacy).unwrap(),
            SideSpec::Http(_)
        ));
    }

    #[test]
    fn specs_serialise_structured_and_without_url_credentials() {
        let spec = SideSpec::parse("worker:python3 'a b.py' -x", Side::Legacy).unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            json,
            r#"{"worker":{"program":"python3","args":["a b.py","-x"]}}"#
        );
        assert_eq!(serde_json::from_str::<SideSpec>(&json).unwrap(), spec);
        let http = SideSpec::parse("http://spec-user:spec-pw-31@h:1/x", Side::Legacy).unwrap();
        assert_eq!(
            serde_json::to_string(&http).unwrap(),
            r#"{"http":"http://h:1/x"}"#
        );
        assert_eq!(
            serde_json::to_string(&SideSpec::Recorded).unwrap(),
            r#""recorded""#
        );
    }

    /// The module contract names every form there is (it once said "four").
    #[test]
    fn the_contract_counts_the_forms_there_are() {
        let contract: String = include_str!("spec.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            ["four", "five", "six"]
                .iter()
                .all(|n| !contract.contains(n)),
            "{contract}"
        );
        for form in [
            "builtin:",
            "worker:",
            "pipe:",
            "exec:",
            "http(s)://",
            "upstream:",
            "recorded",
        ] {
            assert!(contract.contains(form), "the contract lacks {form}");
        }
        let e = SideSpec::parse("nope", Side::Legacy)
            .unwrap_err()
            .to_string();
        for form in FORMS {
            assert!(e.contains(form), "{e} lacks {form}");
        }
    }

    #[test]
    fn errors_name_the_flag() {
        let e = SideSpec::parse("python3 worker.py", Side::Legacy)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--legacy \"python3 worker.py\""), "{e}");
        assert!(e.contains("worker:COMMAND LINE"), "{e}");
        let e = SideSpec::parse("worker:", Side::Candidate)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--candidate") && e.contains("empty"), "{e}");
        let e = SideSpec::parse("worker:python3 'unclosed", Side::Legacy)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot split"), "{e}");
    }
}
