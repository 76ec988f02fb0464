//! Changing a flag's percentage in the local flag file, atomically.
//!
//! # Contract
//! - [`write_atomic`] writes a temp file beside the target, flushes it to
//!   disk, then renames it over the target: a reader (a running cutover's
//!   [`super::file_source::Watcher`]) sees the old file or the new one, never
//!   a half-written one. The file keeps its mode and owner, so a service
//!   reading it as another user keeps reading it. On error the target is
//!   untouched and the temp file removed.
//! - [`set_percent`] edits the document as JSON, keeping every field it does
//!   not own, so the file stays importable into Unleash. A missing file
//!   starts as an empty state; a missing flag is created with a 0%
//!   flexibleRollout strategy first (as the Admin API path does), then set.
//!   A flag with anything but one unconstrained flexibleRollout strategy is
//!   refused: one percentage would not describe it.

use super::state::{percent_text, FlagView};
use super::{FlagsError, Stickiness};
use serde_json::{json, Value};
use std::path::Path;

/// Writes `bytes` to `path` atomically ([`crate::util::atomic_file::write`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FlagsError> {
    crate::util::atomic_file::write(path, bytes).map_err(|source| FlagsError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A new, empty client-features document.
fn empty_document() -> Value {
    json!({"version": 2, "features": []})
}

/// A flag as the Unleash server lists it, with a 0% flexibleRollout.
fn new_flag(name: &str, stickiness: &Stickiness, description: &str) -> Value {
    json!({
        "name": name,
        "type": "release",
        "description": description,
        "project": "default",
        "enabled": true,
        "stale": false,
        "impressionData": false,
        "strategies": [{
            "name": "flexibleRollout",
            "constraints": [],
            "parameters": {"rollout": "0", "stickiness": stickiness.as_str(), "groupId": name},
            "variants": []
        }],
        "variants": []
    })
}

/// What a change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The effective percentage before (`None`: not one number).
    pub from: Option<f64>,
    pub to: f64,
    /// The flag did not exist and was created.
    pub created: bool,
}

/// Sets `flag` to `percent` in the flag file at `path`, atomically.
pub fn set_percent(
    path: &Path,
    flag: &str,
    percent: u8,
    stickiness: &Stickiness,
    description: &str,
) -> Result<Change, FlagsError> {
    let bad = |message: String| FlagsError::BadFile {
        path: path.to_owned(),
        message,
    };
    let mut doc = match std::fs::read(path) {
        Ok(bytes) => {
            // Check the shape the SDK needs before editing it as JSON.
            super::state::parse_features(&bytes).map_err(bad)?;
            serde_json::from_slice::<Value>(&bytes).map_err(|e| bad(e.to_string()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => empty_document(),
        Err(source) => {
            return Err(FlagsError::ReadFile {
                path: path.to_owned(),
                source,
            })
        }
    };
    let before = super::state::parse_features(doc.to_string().as_bytes()).map_err(bad)?;
    let from = FlagView::of(&before, flag).percent;
    let features = doc["features"]
        .as_array_mut()
        .ok_or_else(|| bad("`features` is not an array".into()))?;
    let created = !features.iter().any(|f| f["name"] == flag);
    if created {
        features.push(new_flag(flag, stickiness, description));
    }
    let feature = features
        .iter_mut()
        .find(|f| f["name"] == flag)
        .expect("present or just added");
    let strategies = feature["strategies"].as_array().map_or(0, Vec::len);
    if strategies == 0 {
        feature["strategies"] = new_flag(flag, stickiness, description)["strategies"].clone();
    }
    let strategy = &mut feature["strategies"][0];
    let constrained = strategy["constraints"]
        .as_array()
        .is_some_and(|c| !c.is_empty());
    if strategies > 1 || strategy["name"] != "flexibleRollout" || constrained {
        return Err(bad(format!(
            "flag {flag:?} is not one unconstrained flexibleRollout strategy, so one percentage cannot describe it; change it by hand or in Unleash"
        )));
    }
    strategy["parameters"]["rollout"] = Value::String(percent_text(f64::from(percent)));
    feature["enabled"] = Value::Bool(true);
    let mut text = serde_json::to_vec_pretty(&doc).expect("a JSON value serialises");
    text.push(b'\n');
    write_atomic(path, &text)?;
    Ok(Change {
        from,
        to: f64::from(percent),
        created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.json")]);
    }

    #[test]
    fn atomic_write_to_an_impossible_place_fails_and_keeps_the_target() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f.json");
        std::fs::write(&path, "old").unwrap();
        // A directory in the way of the temp file's directory.
        let blocked = tmp.path().join("file-not-dir");
        std::fs::write(&blocked, "x").unwrap();
        assert!(write_atomic(&blocked.join("f.json"), b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn set_creates_at_zero_then_sets_and_keeps_other_fields() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("flags.json");
        let c = set_percent(&path, "cutover.m.serve", 25, &Stickiness::UserId, "d").unwrap();
        assert_eq!(
            c,
            Change {
                from: Some(0.0),
                to: 25.0,
                created: true
            }
        );
        let c = set_percent(&path, "cutover.m.serve", 50, &Stickiness::UserId, "d").unwrap();
        assert_eq!(
            c,
            Change {
                from: Some(25.0),
                to: 50.0,
                created: false
            }
        );
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let f = &doc["features"][0];
        assert_eq!(f["strategies"][0]["parameters"]["rollout"], "50");
        assert_eq!(
            f["strategies"][0]["parameters"]["groupId"],
            "cutover.m.serve"
        );
        assert_eq!(f["type"], "release");
    }

    #[test]
    fn a_corrupt_file_is_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("flags.json");
        std::fs::write(&path, "{oops").unwrap();
        let e = set_percent(&path, "f", 5, &Stickiness::UserId, "d")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("flags.json") && e.contains("line 1, column 2"),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"{oops");
    }
}
