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
