//! The comparison a run made, rebuilt from its `summary.json`, so records can
//! be re-run the way the run ran them.
//!
//! # Contract
//! - Targets: the run's `--legacy` and `--candidate` specs (as recorded in
//!   `settings`), parsed with [`TargetSpec::parse`] and built with
//!   [`crate::target::build`], with the run's timeout, retries, response
//!   limit and redirect setting. (`http(s)://` specs are recorded without
//!   their userinfo, so a side that needs URL credentials re-runs without
//!   them.) Relative paths in command lines resolve from the working
//!   directory, as during the run.
//! - Rules and known differences: the run's config file (when it had one) is
//!   read again, and the run's `--ignore` rules are read back from its rule
//!   audit (they are named `--ignore PATH`). When the rules or known
//!   differences found now are not the ones the audit lists (the file
//!   changed), [`Setup::warnings`] says so; the re-run still uses the file as
//!   it is now.
//! - A run against `recorded` responses cannot be re-run (the recordings are
//!   not in the run directory and a changed input has none): a
//!   [`ReproduceError::Recorded`].
//! - A run directory may come from anyone, and its specs are command lines
//!   and URLs: a side is started only when [`Trust`] trusts it (a builtin, a
//!   spec the current config names, or `--trust-run` / `trust_run`);
//!   otherwise nothing starts and [`ReproduceError::Untrusted`] shows the
//!   command lines, escaped.

use super::ReproduceError;
use crate::compare::{KnownSet, RuleSet, IGNORE_FLAG_PREFIX};
use crate::engine::Comparer;
use crate::report::Summary;
use crate::target::{self, Side, TargetOptions, TargetSpec};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which targets of a run may be started.
///
/// A builtin runs no code from the run directory; a spec the current config
/// names (its `legacy` and `candidate` under `[replay]`, else replay's
/// defaults) is what `cutover replay` would run here anyway. Anything else
/// (a `worker:`/`exec:` command line, an `http(s)://` URL) came from the
/// run's `summary.json` and is started only with `--trust-run` or
/// `trust_run = true` under `[reproduce]`.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// `--trust-run`, or `trust_run` in the config: every side is started.
    pub all: bool,
    /// The specs the current config (or replay's defaults) names.
    pub named: Vec<TargetSpec>,
}

impl Trust {
    /// The trust of this command: its `--trust-run` flag, and the config file
    /// (`--config`, else `./cutover.toml`).
    pub fn load(trust_run: bool, config: Option<&Path>) -> Result<Trust, ReproduceError> {
        let loaded = crate::config::load(config)?;
        let replay = &loaded.config.replay;
        let named = [
            (
                replay.legacy.as_deref(),
                crate::cli::DEFAULT_LEGACY,
                Side::Legacy,
            ),
            (
                replay.candidate.as_deref(),
                crate::cli::DEFAULT_CANDIDATE,
                Side::Candidate,
            ),
        ]
        .into_iter()
        .filter_map(|(text, default, side)| TargetSpec::parse(text.unwrap_or(default), side).ok())
        .collect();
        Ok(Trust {
            all: trust_run || loaded.config.reproduce.trust_run.unwrap_or(false),
            named,
        })
    }

    /// Whether `spec` may be started.
    pub fn trusts(&self, spec: &TargetSpec) -> bool {
        self.all
            || matches!(spec, TargetSpec::Builtin(_) | TargetSpec::Recorded)
            || self.named.contains(spec)
    }

    /// `Ok` when both sides may be started, else the error that shows the
    /// ones that may not.
    fn check(
        &self,
        summary: &Summary,
        sides: [(&TargetSpec, Side); 2],
    ) -> Result<(), ReproduceError> {
        let untrusted: Vec<String> = sides
            .iter()
            .filter(|(spec, _)| !self.trusts(spec))
            .map(|(spec, side)| {
                format!(
                    "  {} {}",
                    side.flag(),
                    crate::terminal::escape(&spec.to_string())
                )
            })
            .collect();
        if untrusted.is_empty() {
            return Ok(());
        }
        Err(ReproduceError::Untrusted {
            run: crate::terminal::escape(&summary.run_id).into_owned(),
            sides: untrusted.join("\n"),
        })
    }
}

/// How to re-run records of a run.
#[derive(Debug)]
pub struct Setup {
    pub legacy: TargetSpec,
    pub candidate: TargetSpec,
    pub targets: TargetOptions,
    pub rules: RuleSet,
    pub known: KnownSet,
    pub noise_probe: bool,
    /// The run's config file, when it had one.
    pub config_file: Option<PathBuf>,
    /// The paths of the run's `--ignore` flags.
    pub ignore: Vec<String>,
    /// Differences between the run and this rebuild, in words.
    pub warnings: Vec<String>,
}

impl Setup {
    /// Rebuilds the run's comparison; `workers` overrides the run's
    /// processes per worker target. Sides `trust` does not trust are an
    /// error, before anything starts.
    pub fn from_summary(
        summary: &Summary,
        workers: Option<usize>,
        trust: &Trust,
    ) -> Result<Setup, ReproduceError> {
        let s = &summary.settings;
        let legacy = TargetSpec::parse(&s.legacy, Side::Legacy)?;
        let candidate = TargetSpec::parse(&s.candidate, Side::Candidate)?;
        if legacy == TargetSpec::Recorded || candidate == TargetSpec::Recorded {
            return Err(ReproduceError::Recorded {
                run: summary.run_id.clone(),
            });
        }
        trust.check(
            summary,
            [(&legacy, Side::Legacy), (&candidate, Side::Candidate)],
        )?;
        let config_file = s.config_file.as_ref().map(PathBuf::from);
        let loaded = match &config_file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ReproduceError::ConfigGone {
                        run: summary.run_id.clone(),
                        path: path.clone(),
                    });
                }
                crate::config::load(Some(path))?
            }
            None => crate::config::Loaded::default(),
        };
        let ignore: Vec<String> = summary
            .rules
            .iter()
            .filter_map(|r| r.name.strip_prefix(IGNORE_FLAG_PREFIX).map(str::to_owned))
            .collect();
        let rules = RuleSet::compile_with_ignores(&loaded.rules, &ignore)?;
        let known = KnownSet::compile(&loaded.known)?;
        let mut warnings = Vec::new();
        let now: Vec<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
        let then: Vec<&str> = summary.rules.iter().map(|r| r.name.as_str()).collect();
        if now != then {
            warnings.push(format!(
                "the run had the rules [{}], the config file has [{}] now; re-running with the latter",
                then.join(", "),
                now.join(", ")
            ));
        }
        let now: Vec<&str> = known.entries.iter().map(|k| k.name.as_str()).collect();
        let then: Vec<&str> = summary.known.iter().map(|k| k.name.as_str()).collect();
        if now != then {
            warnings.push(format!(
                "the run had the known differences [{}], the config file has [{}] now; re-running with the latter",
                then.join(", "),
                now.join(", ")
            ));
        }
        Ok(Setup {
            legacy,
            candidate,
            targets: TargetOptions {
                timeout: Duration::from_millis(s.timeout_ms.min(u64::MAX as u128) as u64),
                startup_timeout: Duration::from_millis(
                    s.startup_timeout_ms.min(u64::MAX as u128) as u64
                ),
                workers: workers.unwrap_or(s.workers).max(1),
                retries: s.retries,
                max_response_bytes: s.max_record_bytes,
                follow_redirects: s.follow_redirects.clone(),
            },
            rules,
            known,
            noise_probe: s.noise_probe,
            config_file,
            ignore,
            warnings,
        })
    }

    /// Starts both targets (inside a tokio runtime: worker pools spawn
    /// tasks). The rules and known differences move into the comparer; the
    /// rest of the setup stays, to be reported.
    pub fn comparer(&mut self) -> Result<Comparer, ReproduceError> {
        let legacy = target::build(&self.legacy, Side::Legacy, &self.targets)?;
        let candidate = target::build(&self.candidate, Side::Candidate, &self.targets)?;
        Ok(Comparer::new(
            legacy,
            candidate,
            std::mem::take(&mut self.rules),
            std::mem::take(&mut self.known),
            self.noise_probe,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_named_specs_are_trusted_other_command_lines_are_not() {
        let spec = |text: &str| TargetSpec::parse(text, Side::Candidate).unwrap();
        let trust = Trust {
            all: false,
            named: vec![spec("worker:python3 legacy/worker.py")],
        };
        assert!(trust.trusts(&spec("builtin:normalize")));
        assert!(trust.trusts(&spec("worker:python3 legacy/worker.py")));
        assert!(!trust.trusts(&spec("worker:python3 legacy/worker.py --evil")));
        assert!(!trust.trusts(&spec("exec:sh -c 'touch PWNED'")));
        assert!(!trust.trusts(&spec("http://127.0.0.1:1/")));
        let all = Trust {
            all: true,
            named: Vec::new(),
        };
        assert!(all.trusts(&spec("exec:sh -c 'touch PWNED'")));
    }
}
