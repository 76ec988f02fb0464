//! The run spec: one resolved, serialisable description of a run.
//!
//! # Contract
//! - A [`RunSpec`] says everything a run does: both sides (their command
//!   lines, and the directory they run in: [`RunSpec::cwd`], absolute), the
//!   traffic and how it is read, every option, the comparison rules and
//!   known differences as they were declared (so they compile again to the
//!   same rules), the behaviour contract with its schemas' JSON (so no one
//!   reads the schema files again), the noise probe, the flag settings, and
//!   the run id.
//! - `cli/` makes it (flags over `cutover.toml` over the defaults `--help`
//!   shows); [`crate::run::replay`] runs it; the report writes it verbatim
//!   into `summary.json` under `spec`. Every command that re-runs or judges a
//!   finished run (`minimize`, `pin`, `recheck`, `report`, `flags promote`)
//!   reads it back from there and never re-reads `cutover.toml` for what the
//!   run was (a later config is used only when the command is given
//!   `--config`, and it says so).
//! - Adding an option means adding it here (or to the stage's options it
//!   embeds: [`ReadOptions`], [`SideOptions`]), to `cli/settings.rs`, and to
//!   the place that uses it.
//! - Secrets are never in it: URLs are kept without userinfo and the flag
//!   source's client secret only by where it came from (see
//!   [`crate::flags::Source`]).
//!
//! Names [`crate::model`], [`crate::traffic`], [`crate::sides`],
//! [`crate::compare`], [`crate::contract`], [`crate::flags`] and
//! [`crate::util`].

use crate::compare::{Declared, GroupBy, KnownConfig, KnownSet, RuleConfig, RuleError, RuleSet};
use crate::contract::{Contract, ContractError, ContractSpec};
use crate::flags::FlagSettings;
use crate::model::{Pace, Side};
use crate::sides::{SideOptions, SideSpec};
use crate::traffic::{ReadOptions, TrafficSpec};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One run, resolved (see the module docs). Serialised as `summary.json`'s
/// `spec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The run's id: its UTC start time, sortable ([`new_run_id`]).
    pub run_id: String,
    /// The working directory the run started in, absolute: the sides' command
    /// lines run there, and relative paths (traffic, out) are relative to it.
    pub cwd: PathBuf,
    pub legacy: SideSpec,
    pub candidate: SideSpec,
    /// The captures, in the order they are read.
    pub traffic: Vec<TrafficSpec>,
    pub read: ReadOptions,
    /// Deadlines, processes, retries and limits of both sides.
    pub sides: SideOptions,
    /// Records in flight at most (at least 1).
    pub concurrency: usize,
    /// How fast records start (`--rate`, `--speed`), within `concurrency`.
    #[serde(default)]
    pub pace: Pace,
    /// Bytes of memory the records in flight may hold, about
    /// (`--max-inflight-bytes`; see [`crate::model::budget`]).
    pub max_inflight_bytes: u64,
    /// Where runs are kept (`--reports-dir`).
    pub reports_dir: PathBuf,
    /// This run's directory (`--out`, else `reports_dir/run_id`).
    pub out: PathBuf,
    /// Unified diffs written to `diffs.txt` at most.
    pub max_diffs: usize,
    /// Write `index.html`.
    pub html: bool,
    /// Also write the run as JUnit XML here.
    pub junit: Option<PathBuf>,
    /// Draw a progress bar (on a terminal only).
    pub progress: bool,
    /// Call the legacy twice per record to learn its noise.
    pub noise_probe: bool,
    /// The comparison rules as declared, `--ignore` ones last.
    pub rules: Vec<Declared<RuleConfig>>,
    /// The known differences as declared.
    pub known: Vec<Declared<KnownConfig>>,
    /// What splits mismatch groups besides content (`--group-by`; a
    /// summary written before it existed groups by content alone).
    #[serde(default)]
    pub group_by: GroupBy,
    /// The rollout's flags (`None`: not evaluated, with `--no-flags` or
    /// when nothing is configured and the default flag file is missing).
    pub flags: Option<FlagSettings>,
    /// The behaviour contract both sides are held to (`None`: none; a
    /// summary written before contracts existed has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractSpec>,
    /// The config file the run read, if any.
    pub config_file: Option<PathBuf>,
}

impl RunSpec {
    /// The spec of one side.
    pub fn side(&self, side: Side) -> &SideSpec {
        match side {
            Side::Legacy => &self.legacy,
            Side::Candidate => &self.candidate,
        }
    }

    /// The sides' options, running in the run's directory.
    pub fn side_options(&self) -> SideOptions {
        SideOptions {
            dir: Some(self.cwd.clone()),
            ..self.sides.clone()
        }
    }

    /// The rules, compiled.
    pub fn compile_rules(&self) -> Result<RuleSet, RuleError> {
        RuleSet::compile(&self.rules)
    }

    /// The known differences, compiled.
    pub fn compile_known(&self) -> Result<KnownSet, RuleError> {
        KnownSet::compile(&self.known)
    }

    /// The contract, compiled (`None`: the run has none).
    pub fn compile_contract(&self) -> Result<Option<Contract>, ContractError> {
        self.contract
            .as_ref()
            .map(ContractSpec::compile)
            .transpose()
    }

    /// The request headers every report shows `<redacted>` (an `upstream:`
    /// side's header policy; none without one).
    pub fn redacted_headers(&self) -> Vec<String> {
        [&self.legacy, &self.candidate]
            .iter()
            .find_map(|s| match s {
                SideSpec::Upstream(up) => Some(up.headers.redacted.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Whether the legacy side is live (not `recorded`): then records that
    /// carry a recorded response are checked for drift.
    pub fn legacy_is_live(&self) -> bool {
        self.legacy != SideSpec::Recorded
    }

    /// A path of the run (traffic, out) as seen from the run's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.cwd.join(path)
    }
}

/// A new run id: the UTC start time, sortable (`2026-11-25T04-47-01.123Z`).
pub fn new_run_id() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H-%M-%S%.3fZ")
        .to_string()
}

#[cfg(test)]
pub(crate) fn test_spec() -> RunSpec {
    RunSpec {
        run_id: "r".into(),
        cwd: "/work".into(),
        legacy: SideSpec::parse("worker:python3 legacy/worker.py", Side::Legacy).unwrap(),
        candidate: SideSpec::Builtin("normalize-naive".into()),
        traffic: vec![TrafficSpec::from_arg(
            "t.jsonl",
            crate::traffic::Format::Auto,
        )],
        read: ReadOptions {
            max_record_bytes: 1,
            id_column: "id".into(),
            key_column: "key".into(),
            exchanges: false,
        },
        sides: SideOptions {
            timeout: std::time::Duration::from_millis(1),
            startup_timeout: std::time::Duration::from_millis(1),
            workers: 1,
            retries: 0,
            max_response_bytes: 1,
            follow_redirects: Vec::new(),
            dir: None,
        },
        concurrency: 1,
        pace: Pace::Unlimited,
        max_inflight_bytes: 1 << 20,
        reports_dir: "reports".into(),
        out: "reports/r".into(),
        max_diffs: 1,
        html: true,
        junit: None,
        progress: false,
        noise_probe: false,
        rules: Vec::new(),
        known: Vec::new(),
        group_by: Default::default(),
        flags: None,
        contract: None,
        config_file: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_back_as_written() {
        let mut spec = test_spec();
        spec.rules = RuleSet::with_ignores(&[], &["/a/*".into()]);
        spec.known.push(Declared::new(
            KnownConfig {
                name: "k".into(),
                path: "/b".into(),
                reason: "r".into(),
                input_pattern: Some("x".into()),
            },
            "cutover.toml line 4",
        ));
        let text = serde_json::to_string_pretty(&spec).unwrap();
        let back: RunSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, spec, "{text}");
        assert_eq!(back.compile_rules().unwrap().rules[0].name, "--ignore /a/*");
        assert_eq!(back.side_options().dir.as_deref(), Some(Path::new("/work")));
    }
}
