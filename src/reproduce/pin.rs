//! `cutover pin`: a minimal reproducer kept in the repository as a
//! regression case, replayed by the test suite forever.
//!
//! # Contract
//! - A case is one JSON file under the pin directory (default
//!   `fixtures/regressions/`), named after what it reproduces: the
//!   signature, slugified (`mismatch-accepted-changed.json`); `--name`
//!   overrides. A file of that name that holds another case is kept and the
//!   new one gets `-2`, `-3`, ...; pinning the same case again rewrites it.
//! - It holds everything needed to replay it without the run directory:
//!   the input (exact JSON text), both target specs, the config file and
//!   `--ignore` paths the run compared with, the noise-probe setting, the
//!   expected outcome and signature, and the answers seen when pinned
//!   (for the reader; the check is on the signature, which values never
//!   enter). Plus where it came from (run, record, source line, original
//!   size).
//! - `cutover pin --check [DIR]` ([`read_cases`], [`check`]) replays every
//!   case of a directory in the user's own project, each as `cutover
//!   replay` would with the case's targets, config file, `--ignore` paths
//!   and noise-probe setting (the caller builds that spec), run in the
//!   current directory: a case holds when its re-run shows exactly its
//!   pinned signature (paths, kinds and edit shapes; for a contract case,
//!   that violation among its own), the test [`super::minimize`] kept it
//!   by. The pin directory is the project's own, like its `cutover.toml`:
//!   the targets its cases name are started without `--trust-run`. A
//!   directory that cannot be read, holds no case, or a case that cannot be
//!   read or replayed is an error naming the file; a changed case is data
//!   ([`CaseCheck`]), and [`junit_xml`] gives one JUnit test case per case.

use super::minimize::Minimized;
use super::ReproduceError;
use crate::report::answer_cell;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The default pin directory.
pub const PIN_DIR: &str = "fixtures/regressions";

/// Where a pinned case came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    pub run_id: String,
    pub id: String,
    pub source: String,
    pub line: u64,
    pub original_bytes: usize,
}

/// The answers seen when the case was pinned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seen {
    pub legacy: Value,
    pub candidate: Value,
}

/// One file of `fixtures/regressions/`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PinnedCase {
    /// What it reproduces, as a file name.
    pub name: String,
    /// The expected group signature (`match` once the bug is fixed and the
    /// case is kept to stay fixed).
    pub reproduces: String,
    /// The expected outcome (`mismatch`, `candidate_error`, ..., `match`).
    pub outcome: String,
    pub legacy: String,
    pub candidate: String,
    pub config_file: Option<String>,
    pub ignore: Vec<String>,
    pub noise_probe: bool,
    /// The minimal input, as JSON text (key order and repeats kept).
    pub input: Box<RawValue>,
    pub seen: Seen,
    pub from: Provenance,
    pub pinned_at: String,
}

/// `mismatch /accepted/* changed` → `mismatch-accepted-changed`.
pub fn slug(signature: &str) -> String {
    let mut out = String::new();
    for c in signature.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c == '_' {
            out.push('_');
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_owned();
    if out.len() > 80 {
        out.truncate(80);
        out = out.trim_end_matches('-').to_owned();
    }
    if out.is_empty() {
        "case".to_owned()
    } else {
        out
    }
}

fn value(answer: &crate::model::Answer) -> Value {
    serde_json::from_str(&answer_cell(answer)).unwrap_or(Value::Null)
}

/// The case a minimization makes.
pub fn case(m: &Minimized, name: &str) -> PinnedCase {
    PinnedCase {
        name: name.to_owned(),
        reproduces: m.final_signature.clone(),
        outcome: m.row.outcome.clone(),
        legacy: m.setup.spec.legacy.to_string(),
        candidate: m.setup.spec.candidate.to_string(),
        config_file: m.setup.config_file().map(|p| p.display().to_string()),
        ignore: m.setup.ignore(),
        noise_probe: m.setup.spec.noise_probe,
        input: RawValue::from_string(m.minimal.to_json()).expect("the tree prints valid JSON"),
        seen: Seen {
            legacy: value(&m.legacy),
            candidate: value(&m.candidate),
        },
        from: Provenance {
            run_id: m.run_id.clone(),
            id: m.row.id.clone(),
            source: m.row.source.clone(),
            line: m.row.line,
            original_bytes: m.original_bytes(),
        },
        pinned_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// The same case: same input, targets and expectation.
fn same_case(a: &PinnedCase, b: &PinnedCase) -> bool {
    a.input.get() == b.input.get()
        && a.legacy == b.legacy
        && a.candidate == b.candidate
        && a.reproduces == b.reproduces
}

/// Writes the case into `dir`; returns its path.
pub fn save(m: &Minimized, dir: &Path, name: Option<&str>) -> Result<PathBuf, ReproduceError> {
    let base = name.map_or_else(|| slug(&m.final_signature), slug);
    std::fs::create_dir_all(dir).map_err(|source| ReproduceError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut n = 1;
    loop {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let path = dir.join(format!("{name}.json"));
        let new = case(m, &name);
        let free = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(source) => return Err(ReproduceError::Write { path, source }),
            Ok(bytes) => serde_json::from_slice::<PinnedCase>(&bytes)
                .map(|old| same_case(&old, &new))
                .unwrap_or(false),
        };
        if free {
            let mut text = serde_json::to_string_pretty(&new).expect("a case serializes");
            text.push('\n');
            std::fs::write(&path, text).map_err(|source| ReproduceError::Write {
                path: path.clone(),
                source,
            })?;
            return Ok(path);
        }
        n += 1;
    }
}

/// The pinned cases of `dir` (its `*.json` files), sorted by file name.
pub fn read_cases(dir: &Path) -> Result<Vec<(PathBuf, PinnedCase)>, ReproduceError> {
    let bad_dir = |source| ReproduceError::PinDir {
        path: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(bad_dir)? {
        let path = entry.map_err(bad_dir)?.path();
        if path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(ReproduceError::NoCases {
            path: dir.to_owned(),
        });
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| ReproduceError::BadCase {
                path: path.clone(),
                message: e.to_string(),
            })?;
            match serde_json::from_str::<PinnedCase>(&text) {
                Ok(case) => Ok((path, case)),
                Err(e) => Err(ReproduceError::BadCase {
                    path,
                    message: e.to_string(),
                }),
            }
        })
        .collect()
}

/// One pinned case replayed.
#[derive(Debug, Clone, Serialize)]
pub struct CaseCheck {
    pub name: String,
    pub file: PathBuf,
    /// The pinned signature.
    pub expected: String,
    /// What the replay shows (`expected` when it held).
    pub got: String,
    pub held: bool,
}

/// Replays `case` (read from `path`) the way `setup` compares; on the
/// caller's tokio runtime.
pub async fn check(
    path: &Path,
    case: &PinnedCase,
    setup: &super::setup::Setup,
) -> Result<CaseCheck, ReproduceError> {
    let failed = |source| ReproduceError::CaseFailed {
        path: path.to_owned(),
        source: Box::new(source),
    };
    // A case edited by hand may hold its input pretty-printed; a record's
    // input is one line (worker protocols frame by lines). Line breaks in
    // JSON text are whitespace between tokens (a string cannot hold one
    // raw), so dropping them keeps the input exactly, key order included.
    let one_line: String = case
        .input
        .get()
        .chars()
        .filter(|c| !matches!(c, '\n' | '\r'))
        .collect();
    let input = RawValue::from_string(one_line).map_err(|e| ReproduceError::BadCase {
        path: path.to_owned(),
        message: format!("its input: {e}"),
    })?;
    let comparer = setup.comparer().map_err(failed)?;
    let record = crate::model::Record {
        input_check: crate::model::InputCheck::Unchecked,
        seq: 0,
        id: case.name.clone(),
        key: None,
        input: input.into(),
        recorded: None,
        at: None,
        origin: crate::model::Origin {
            source: path.display().to_string().as_str().into(),
            line: 1,
        },
        charge: crate::model::Charge::none(),
    };
    let result = comparer.compare(record).await;
    comparer.shutdown().await;
    let result = result.map_err(|e| failed(e.into()))?;
    let held = super::minimize::reproduces(&result, &case.reproduces);
    Ok(CaseCheck {
        name: case.name.clone(),
        file: path.to_owned(),
        expected: case.reproduces.clone(),
        got: if held {
            case.reproduces.clone()
        } else {
            super::minimize::shown(&result, &case.reproduces)
        },
        held,
    })
}

/// `pin --check --junit`: one suite, one test case per pinned case (named
/// after it, classname `cutover.pin`), failing when it changed (message:
/// the pinned and the new signature).
pub fn junit_xml(dir: &Path, checks: &[CaseCheck]) -> String {
    use crate::report::junit_sink::{suite_xml, PlainCase};
    let cases: Vec<PlainCase> = checks
        .iter()
        .map(|c| PlainCase {
            name: c.name.clone(),
            classname: "cutover.pin".into(),
            failure: (!c.held).then(|| format!("pinned `{}`, now `{}`", c.expected, c.got)),
            system_out: format!("{}: pinned `{}`", c.file.display(), c.expected),
        })
        .collect();
    let held = checks.iter().filter(|c| c.held).count();
    suite_xml(
        &format!("cutover pin --check {}", dir.display()),
        &[
            ("dir", dir.display().to_string()),
            ("cases", checks.len().to_string()),
            ("held", held.to_string()),
        ],
        &cases,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_name_the_signature() {
        assert_eq!(
            slug("mismatch /accepted/* changed"),
            "mismatch-accepted-changed"
        );
        assert_eq!(
            slug("mismatch /accepted/* added, /rejected/* removed"),
            "mismatch-accepted-added-rejected-removed"
        );
        assert_eq!(
            slug("candidate_error ValueError"),
            "candidate_error-valueerror"
        );
        assert_eq!(slug("///"), "case");
        assert!(slug(&"x /y ".repeat(50)).len() <= 80);
    }
}
