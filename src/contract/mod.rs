//! Behaviour contracts: what the migrated behaviour promises, checked on
//! every record of a run, on both sides.
//!
//! # Contract
//! - A contract ([`ContractConfig`], `[contract]` in `cutover.toml`) has an
//!   input schema, an output schema (JSON Schema files, any draft the
//!   `jsonschema` crate knows; 2020-12 when a schema does not say), the error
//!   types that are part of it (`errors`, each with its meaning) and its
//!   non-goals (free text the report shows). Every part is optional.
//! - [`ContractSpec::load`] reads the files once, relative to the config
//!   file's directory, and keeps their JSON in the run's spec, so whatever
//!   judges or re-runs a finished run never reads them again. A file that
//!   cannot be read, is not JSON (line and column) or is not a valid schema
//!   (the JSON Pointer inside it, and the rule it breaks) is a
//!   [`ContractError`] naming the file: the run does not start.
//! - [`Contract::check`] judges one record: its input against the input
//!   schema (`outside`: counted, still compared, never failing a run on its
//!   own), each side's output against the output schema (at most
//!   [`MAX_VIOLATIONS`] per side, each with the JSON Pointer in the output
//!   and the schema rule that failed, whatever the verdict), and each side's
//!   error type against `errors` when `errors` is declared (`cutover.*`
//!   errors are the plumbing's, never the contract's, and are not judged).
//!   Timeouts are not judged. Messages never quote the offending value
//!   (captured traffic is hostile).
//! - [`shape`] keeps a bounded summary of the shapes a side answered with,
//!   and [`infer`] turns it into a draft output schema.
//!
//! # Non-goals
//! No remote `$ref` (schemas are self-contained files, resolved without
//! network or file access) and no `format` assertions (annotations only, as
//! 2020-12 says). A finding never changes a record's verdict.
//!
//! Names [`crate::model`] only.

pub mod infer;
pub mod shape;

use crate::model::{Answer, ContractFindings, Violation, MAX_VIOLATIONS};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `[contract]` in `cutover.toml`, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractConfig {
    /// The JSON Schema every record's input should satisfy.
    pub input_schema: Option<PathBuf>,
    /// The JSON Schema both sides' outputs must satisfy.
    pub output_schema: Option<PathBuf>,
    /// `[[contract.errors]]`: the error types that are part of the contract.
    #[serde(default)]
    pub errors: Vec<DeclaredError>,
    /// What the contract deliberately does not promise, shown in the report.
    pub non_goals: Option<String>,
}

/// One error type of a contract and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredError {
    #[serde(rename = "type")]
    pub kind: String,
    pub meaning: String,
}

/// A schema file as the run read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaFile {
    /// Where it was read from (as the config names it, joined to the config
    /// file's directory).
    pub path: PathBuf,
    /// Its JSON.
    pub schema: Value,
}

/// A contract, resolved: what the run spec keeps (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContractSpec {
    pub input_schema: Option<SchemaFile>,
    pub output_schema: Option<SchemaFile>,
    /// The declared error types (empty: error types are not judged).
    pub errors: Vec<DeclaredError>,
    pub non_goals: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("[contract] {key} in {config}: cannot read {path}: {source}")]
    Read {
        key: &'static str,
        config: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("[contract] {key}: {path} is not JSON: {reason}")]
    NotJson {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "[contract] {key}: {path} is not a valid JSON Schema: at {pointer:?} inside it: {reason}"
    )]
    BadSchema {
        key: &'static str,
        path: PathBuf,
        /// JSON Pointer inside the schema file (`""`: the whole file).
        pointer: String,
        reason: String,
    },
    #[error("[contract] errors in {config}: {reason}")]
    BadErrors { config: String, reason: String },
}

impl ContractSpec {
    /// Reads and checks the files `config` names, relative to `base` (the
    /// config file's directory); `config_name` names the file in errors.
    pub fn load(
        config: &ContractConfig,
        base: &Path,
        config_name: &str,
    ) -> Result<ContractSpec, ContractError> {
        let read = |key: &'static str, path: &Option<PathBuf>| -> Result<_, ContractError> {
            let Some(path) = path else { return Ok(None) };
            let path = base.join(path);
            let text = std::fs::read_to_string(&path).map_err(|source| ContractError::Read {
                key,
                config: config_name.to_owned(),
                path: path.clone(),
                source,
            })?;
            let schema: Value =
                serde_json::from_str(&text).map_err(|e| ContractError::NotJson {
                    key,
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            compile(key, &path, &schema)?;
            Ok(Some(SchemaFile { path, schema }))
        };
        let mut seen = std::collections::HashSet::new();
        for e in &config.errors {
            if e.kind.is_empty() || e.meaning.trim().is_empty() {
                return Err(ContractError::BadErrors {
                    config: config_name.to_owned(),
                    reason: format!(
                        "error type {:?} needs a non-empty `type` and `meaning`",
                        e.kind
                    ),
                });
            }
            if !seen.insert(e.kind.as_str()) {
                return Err(ContractError::BadErrors {
                    config: config_name.to_owned(),
                    reason: format!("error type {:?} is declared twice", e.kind),
                });
            }
        }
        Ok(ContractSpec {
            input_schema: read("input_schema", &config.input_schema)?,
            output_schema: read("output_schema", &config.output_schema)?,
            errors: config.errors.clone(),
            non_goals: config.non_goals.clone().unwrap_or_default(),
        })
    }

    /// The contract, compiled.
    pub fn compile(&self) -> Result<Contract, ContractError> {
        let compile_file = |key, file: &Option<SchemaFile>| {
            file.as_ref()
                .map(|f| compile(key, &f.path, &f.schema))
                .transpose()
        };
        Ok(Contract {
            input: compile_file("input_schema", &self.input_schema)?,
            output: compile_file("output_schema", &self.output_schema)?,
            errors: self.errors.iter().map(|e| e.kind.clone()).collect(),
        })
    }
}

fn compile(
    key: &'static str,
    path: &Path,
    schema: &Value,
) -> Result<jsonschema::Validator, ContractError> {
    jsonschema::validator_for(schema).map_err(|e| ContractError::BadSchema {
        key,
        path: path.to_owned(),
        pointer: e.instance_path().to_string(),
        reason: e.masked().to_string(),
    })
}

/// A compiled contract (see the module docs).
pub struct Contract {
    input: Option<jsonschema::Validator>,
    output: Option<jsonschema::Validator>,
    /// Declared error types (empty: not judged).
    errors: std::collections::BTreeSet<String>,
}

impl Contract {
    /// What the contract finds in one record (`None`: nothing).
    pub fn check(
        &self,
        input: &RawValue,
        legacy: &Answer,
        candidate: &Answer,
    ) -> Option<Box<ContractFindings>> {
        let outside = self.input.as_ref().and_then(|v| {
            // A record's input is JSON (the reader checked it).
            let value: Value = serde_json::from_str(input.get()).ok()?;
            violations(v, &value, 1).into_iter().next()
        });
        let findings = ContractFindings {
            outside,
            legacy: self.output_violations(legacy),
            candidate: self.output_violations(candidate),
            legacy_undeclared: self.undeclared(legacy),
            candidate_undeclared: self.undeclared(candidate),
        };
        (!findings.is_empty()).then(|| Box::new(findings))
    }

    fn output_violations(&self, answer: &Answer) -> Vec<Violation> {
        match (&self.output, answer) {
            (Some(v), Answer::Output(value)) => violations(v, value, MAX_VIOLATIONS),
            _ => Vec::new(),
        }
    }

    fn undeclared(&self, answer: &Answer) -> Option<String> {
        match answer {
            Answer::Error(e)
                if !self.errors.is_empty()
                    && !e.kind.starts_with("cutover.")
                    && !self.errors.contains(&e.kind) =>
            {
                Some(e.kind.clone())
            }
            _ => None,
        }
    }
}

/// The first `max` ways `value` breaks the schema (none when it is valid:
/// the common case costs one `is_valid` walk).
fn violations(validator: &jsonschema::Validator, value: &Value, max: usize) -> Vec<Violation> {
    if validator.is_valid(value) {
        return Vec::new();
    }
    validator
        .iter_errors(value)
        .take(max)
        .map(|e| Violation {
            pointer: e.instance_path().to_string(),
            rule: e.schema_path().to_string(),
            message: e.masked().to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AppError;
    use serde_json::json;

    fn file(schema: Value) -> Option<SchemaFile> {
        Some(SchemaFile {
            path: "s.json".into(),
            schema,
        })
    }

    #[test]
    fn outputs_are_judged_whatever_the_verdict_and_inputs_only_counted() {
        let spec = ContractSpec {
            input_schema: file(json!({"type": "object", "required": ["items"]})),
            output_schema: file(json!({
                "type": "object",
                "properties": {"total": {"type": "number", "minimum": 0}},
                "required": ["total"]
            })),
            errors: vec![DeclaredError {
                kind: "TypeError".into(),
                meaning: "items is not a list".into(),
            }],
            non_goals: String::new(),
        };
        let contract = spec.compile().unwrap();
        let input = RawValue::from_string(r#"{"other": 1}"#.into()).unwrap();
        let negative = Answer::output(json!({"total": -3}));
        let found = contract.check(&input, &negative, &negative).unwrap();
        assert_eq!(found.outside.as_ref().unwrap().rule, "/required");
        for side in [&found.legacy, &found.candidate] {
            assert_eq!(side.len(), 1);
            assert_eq!(side[0].pointer, "/total");
            assert_eq!(side[0].rule, "/properties/total/minimum");
            assert!(!side[0].message.contains("-3"), "{}", side[0].message);
        }
        let good = RawValue::from_string(r#"{"items": []}"#.into()).unwrap();
        let ok = Answer::output(json!({"total": 3}));
        assert!(contract.check(&good, &ok, &ok).is_none());
        let declared = Answer::Error(AppError::new("TypeError", "m"));
        let other = Answer::Error(AppError::new("KeyError", "m"));
        let plumbing = Answer::Error(AppError::new("cutover.worker_died", "m"));
        assert!(contract.check(&good, &declared, &plumbing).is_none());
        let found = contract.check(&good, &declared, &other).unwrap();
        assert_eq!(found.candidate_undeclared.as_deref(), Some("KeyError"));
        assert_eq!(found.legacy_undeclared, None);
    }

    #[test]
    fn a_bad_schema_names_the_file_and_the_pointer_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("out.json"),
            r#"{"type": "object", "properties": {"total": {"minimum": "zero"}}}"#,
        )
        .unwrap();
        let config = ContractConfig {
            output_schema: Some("out.json".into()),
            ..Default::default()
        };
        let e = ContractSpec::load(&config, dir.path(), "cutover.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("out.json"), "{e}");
        assert!(e.contains("\"/properties/total/minimum\""), "{e}");
        std::fs::write(dir.path().join("out.json"), "{\n  \"type\": ").unwrap();
        let e = ContractSpec::load(&config, dir.path(), "cutover.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("out.json is not JSON") && e.contains("line 2"),
            "{e}"
        );
    }
}
