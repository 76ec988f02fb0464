//! The comparison a run made, rebuilt from its spec, so records can be
//! re-run the way the run ran them.
//!
//! # Contract
//! - Everything comes from the run's [`RunSpec`] (`summary.json`'s `spec`):
//!   both sides, structured (no command line is parsed again), running in the
//!   run's directory whoever re-runs them and from wherever; the timeout,
//!   retries, response limit and redirect setting; the rules and known
//!   differences as the run declared them; the noise probe. `cutover.toml`
//!   is not read: editing it after a run (adding a `[[known]]` entry) does
//!   not change what a re-run of that run compares. The behaviour contract
//!   is the one the spec kept (its schemas' JSON), never the files. Only when the caller
//!   passes a later config ([`Later`], from `--config`) are its rules and
//!   known differences used instead, and [`Setup::warnings`] says so.
//!   (`http(s)://` sides are kept without their userinfo, so a side that
//!   needs URL credentials re-runs without them.)
//! - A run against `recorded` responses cannot be re-run (the recordings are
//!   not in the run directory and a changed input has none): a
//!   [`ReproduceError::Recorded`].
//! - A run directory may come from anyone, and its sides are command lines
//!   and URLs: a side is started only when [`Trust`] trusts it (a builtin, a
//!   spec the current config names, or `--trust-run` / `trust_run`);
//!   otherwise nothing starts and [`ReproduceError::Untrusted`] shows the
//!   command lines, escaped.

use super::ReproduceError;
use crate::compare::{Declared, KnownConfig, KnownSet, RuleConfig, RuleSet};
use crate::engine::Comparer;
use crate::model::Side;
use crate::report::Summary;
use crate::sides::{self, SideOptions, SideSpec};
use crate::spec::RunSpec;
use std::path::{Path, PathBuf};

/// Which sides of a run may be started.
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
    pub named: Vec<SideSpec>,
}

impl Trust {
    /// Whether `spec` may be started.
    pub fn trusts(&self, spec: &SideSpec) -> bool {
        self.all
            || matches!(spec, SideSpec::Builtin(_) | SideSpec::Recorded)
            || self.named.contains(spec)
    }

    /// `Ok` when both sides may be started, else the error that shows the
    /// ones that may not.
    fn check(&self, spec: &RunSpec) -> Result<(), ReproduceError> {
        let untrusted: Vec<String> = Side::BOTH
            .into_iter()
            .filter(|side| !self.trusts(spec.side(*side)))
            .map(|side| {
                format!(
                    "  {} {}",
                    side.flag(),
                    crate::util::escape::escape(&spec.side(side).to_string())
                )
            })
            .collect();
        if untrusted.is_empty() {
            return Ok(());
        }
        Err(ReproduceError::Untrusted {
            run: crate::util::escape::escape(&spec.run_id).into_owned(),
            sides: untrusted.join("\n"),
        })
    }
}

/// A later config's rules and known differences, to compare with instead
/// of the run's (`--config FILE` given to the re-running command).
#[derive(Debug, Clone)]
pub struct Later {
    pub path: PathBuf,
    pub rules: Vec<Declared<RuleConfig>>,
    pub known: Vec<Declared<KnownConfig>>,
}

/// How to re-run records of a run.
#[derive(Debug)]
pub struct Setup {
    /// The run's spec.
    pub spec: RunSpec,
    /// Both sides' options: the run's, running in the run's directory.
    pub options: SideOptions,
    /// The declarations compared with: the run's, or a later config's.
    pub rules: Vec<Declared<RuleConfig>>,
    pub known: Vec<Declared<KnownConfig>>,
    /// The later config compared with, when one was given.
    pub later: Option<PathBuf>,
    /// What differs from the run, in words.
    pub warnings: Vec<String>,
}

impl Setup {
    /// Rebuilds the run's comparison; `workers` overrides the run's
    /// processes per worker side; `later` compares with a later config's
    /// rules. Sides `trust` does not trust are an error, before anything
    /// starts.
    pub fn of_run(
        summary: &Summary,
        workers: Option<usize>,
        trust: &Trust,
        later: Option<Later>,
    ) -> Result<Setup, ReproduceError> {
        let spec = summary.spec.clone();
        if !spec.legacy_is_live() || spec.candidate == SideSpec::Recorded {
            return Err(ReproduceError::Recorded {
                run: spec.run_id.clone(),
            });
        }
        trust.check(&spec)?;
        let mut options = spec.side_options();
        if let Some(workers) = workers {
            options.workers = workers.max(1);
        }
        let mut warnings = Vec::new();
        let (rules, known, later) = match later {
            None => (spec.rules.clone(), spec.known.clone(), None),
            Some(later) => {
                warnings.push(format!(
                    "comparing with the rules and known differences of {} (--config), not the ones run {} was made with",
                    later.path.display(),
                    spec.run_id
                ));
                (later.rules, later.known, Some(later.path))
            }
        };
        // Both must compile before anything starts.
        RuleSet::compile(&rules)?;
        KnownSet::compile(&known)?;
        Ok(Setup {
            spec,
            options,
            rules,
            known,
            later,
            warnings,
        })
    }

    /// Compares the way `spec` says, its own rules and known differences
    /// (a pinned case's replay, [`super::pin::check`]): nothing to trust
    /// here, the caller chose the spec.
    pub fn of_spec(spec: RunSpec) -> Result<Setup, ReproduceError> {
        RuleSet::compile(&spec.rules)?;
        KnownSet::compile(&spec.known)?;
        Ok(Setup {
            options: spec.side_options(),
            rules: spec.rules.clone(),
            known: spec.known.clone(),
            later: None,
            warnings: Vec::new(),
            spec,
        })
    }

    /// The sides, started (inside a tokio runtime: worker pools spawn
    /// tasks), with the rules and known differences, as one comparer.
    pub fn comparer(&self) -> Result<Comparer, ReproduceError> {
        let legacy = sides::build(&self.spec.legacy, Side::Legacy, &self.options)?;
        let candidate = sides::build(&self.spec.candidate, Side::Candidate, &self.options)?;
        let contract = self
            .spec
            .compile_contract()
            .map_err(|e| ReproduceError::Contract(e.to_string()))?;
        Ok(Comparer::new(
            legacy,
            candidate,
            RuleSet::compile(&self.rules)?,
            KnownSet::compile(&self.known)?,
            self.spec.noise_probe,
        )
        .with_contract(contract.map(std::sync::Arc::new)))
    }

    /// The paths of the `--ignore` flags among the rules compared with.
    pub fn ignore(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.declared == RuleConfig::ignore_flag("").declared)
            .map(|r| r.def.path.clone())
            .collect()
    }

    /// The config file whose rules are compared with: the later one, else
    /// the run's.
    pub fn config_file(&self) -> Option<&Path> {
        self.later.as_deref().or(self.spec.config_file.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_named_specs_are_trusted_other_command_lines_are_not() {
        let spec = |text: &str| SideSpec::parse(text, Side::Candidate).unwrap();
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

    #[test]
    fn a_re_run_compares_with_the_run_s_rules_unless_a_later_config_is_given() {
        let mut summary = crate::report::test_summary(Vec::new());
        summary.spec.rules = RuleSet::with_ignores(&[], &["/t".into()]);
        let trust = Trust {
            all: true,
            named: Vec::new(),
        };
        let setup = Setup::of_run(&summary, Some(3), &trust, None).unwrap();
        assert_eq!(setup.ignore(), ["/t"]);
        assert!(setup.warnings.is_empty());
        assert_eq!(setup.options.workers, 3);
        assert_eq!(setup.options.dir.as_deref(), Some(Path::new("/work")));
        let later = Later {
            path: "later.toml".into(),
            rules: Vec::new(),
            known: Vec::new(),
        };
        let setup = Setup::of_run(&summary, None, &trust, Some(later)).unwrap();
        assert!(setup.ignore().is_empty());
        assert!(
            setup.warnings[0].contains("later.toml (--config)"),
            "{:?}",
            setup.warnings
        );
        assert_eq!(setup.config_file(), Some(Path::new("later.toml")));
    }
}
