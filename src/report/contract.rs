//! The behaviour contract's part of a run's report: what `summary.json`
//! says under `contract` ([`ContractReport`]), `contract.jsonl` (each record
//! with a finding) and `legacy-shape.json` (what `cutover contract infer`
//! drafts a schema from).
//!
//! # Contract
//! - [`ContractAudit`] takes every compared record once, in input order, and
//!   counts, independently of the outcomes (a record is counted in each
//!   tally that applies to it, so these are subsets of the records read, not
//!   a partition): `outside_contract` (input outside the input schema),
//!   `legacy_violations` and `candidate_violations` (records whose output
//!   broke the output schema, whatever the verdict, `match` included),
//!   `legacy_undeclared_errors` and `candidate_undeclared_errors`. Each is
//!   at most `read - rejected`.
//! - Violations are grouped like mismatches, by side, generalised JSON
//!   Pointer (`/accepted/*`) and schema rule, each group with its records'
//!   count (a record counts once per group), first id and at most
//!   [`SAMPLE_IDS`] sample ids, largest first; likewise undeclared error
//!   types per side and inputs outside the contract by pointer and rule. At
//!   most [`MAX_GROUPS`] groups are kept; records past that are counted in
//!   `ungrouped`.
//! - [`ContractReport::fails`]: the candidate broke the output schema. That
//!   makes the run's exit status 1 even when every record matched; the
//!   legacy's violations, undeclared errors and inputs outside the contract
//!   are findings and never fail a run on their own.
//! - [`ContractFile`] writes one JSON line per record with a finding, in
//!   input order: `{"seq", "id", "key", "source", "line", "outcome",
//!   "findings", "input"}`, so such a record can be shown, minimized and
//!   pinned from the run directory alone, matched or not.
//! - [`ShapeFile`] keeps the bounded shape of every legacy answer
//!   ([`crate::contract::shape`]) and writes it at the end, with or without
//!   a contract.

use super::sink::Sink;
use super::{write_err, ReportError, Summary, MAX_GROUPS, SAMPLE_IDS};
use crate::compare::generalise;
use crate::contract::shape::{AnswerShapes, SHAPE_FILE};
use crate::contract::ContractSpec;
use crate::model::{RecordResult, Side, Violation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The file of a run directory with every record a contract found something in.
pub const CONTRACT_FILE: &str = "contract.jsonl";

/// One group of findings in `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FindingGroup {
    /// `legacy` or `candidate` (absent for inputs outside the contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// Generalised JSON Pointer (`/accepted/*`), or the error type of an
    /// undeclared error.
    pub pointer: String,
    /// The schema rule that failed (`/properties/total/minimum`; `""` for
    /// an undeclared error).
    pub rule: String,
    /// The first record's message.
    pub message: String,
    pub count: u64,
    pub first_id: String,
    pub sample_ids: Vec<String>,
}

impl FindingGroup {
    /// `legacy`, `candidate`, or `input` for an input outside the contract.
    pub fn who(&self) -> &'static str {
        self.side.map_or("input", Side::as_str)
    }
}

/// `summary.json`'s `contract`: the run's contract findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContractReport {
    /// What the contract deliberately does not promise.
    pub non_goals: String,
    pub outside_contract: u64,
    pub legacy_violations: u64,
    pub candidate_violations: u64,
    pub legacy_undeclared_errors: u64,
    pub candidate_undeclared_errors: u64,
    /// Output-schema violations, by side, pointer and rule, largest first.
    pub violations: Vec<FindingGroup>,
    /// Undeclared error types, by side and type, largest first.
    pub undeclared_errors: Vec<FindingGroup>,
    /// Inputs outside the input schema, by pointer and rule, largest first.
    pub outside: Vec<FindingGroup>,
    /// Findings of records past [`MAX_GROUPS`] groups, counted only.
    pub ungrouped: u64,
}

impl ContractReport {
    /// Whether the candidate broke the output schema (the run fails).
    pub fn fails(&self) -> bool {
        self.candidate_violations > 0
    }
}

/// Tallies a run's contract findings (see the module docs).
#[derive(Clone)]
pub struct ContractAudit {
    report: ContractReport,
    index: HashMap<(u8, Option<Side>, String, String), usize>,
    groups: Vec<(u8, FindingGroup)>,
}

const VIOLATION: u8 = 0;
const UNDECLARED: u8 = 1;
const OUTSIDE: u8 = 2;

impl ContractAudit {
    pub fn new(spec: &ContractSpec) -> Self {
        ContractAudit {
            report: ContractReport {
                non_goals: spec.non_goals.clone(),
                ..Default::default()
            },
            index: HashMap::new(),
            groups: Vec::new(),
        }
    }

    pub fn observe(&mut self, result: &RecordResult) {
        let Some(found) = &result.contract else {
            return;
        };
        let id = &result.id;
        if let Some(v) = &found.outside {
            self.report.outside_contract += 1;
            self.add(OUTSIDE, None, v, id);
        }
        for (side, violations, undeclared) in [
            (Side::Legacy, &found.legacy, &found.legacy_undeclared),
            (
                Side::Candidate,
                &found.candidate,
                &found.candidate_undeclared,
            ),
        ] {
            if !violations.is_empty() {
                match side {
                    Side::Legacy => self.report.legacy_violations += 1,
                    Side::Candidate => self.report.candidate_violations += 1,
                }
                let mut seen = std::collections::HashSet::new();
                for v in violations {
                    if seen.insert((generalise(&v.pointer), v.rule.as_str())) {
                        self.add(VIOLATION, Some(side), v, id);
                    }
                }
            }
            if let Some(kind) = undeclared {
                match side {
                    Side::Legacy => self.report.legacy_undeclared_errors += 1,
                    Side::Candidate => self.report.candidate_undeclared_errors += 1,
                }
                let v = Violation {
                    pointer: kind.clone(),
                    rule: String::new(),
                    message: format!("error type {kind:?} is not declared in [contract] errors"),
                };
                self.add(UNDECLARED, Some(side), &v, id);
            }
        }
    }

    fn add(&mut self, kind: u8, side: Option<Side>, v: &Violation, id: &str) {
        let pointer = match kind {
            UNDECLARED => v.pointer.clone(),
            _ => generalise(&v.pointer),
        };
        let key = (kind, side, pointer, v.rule.clone());
        if let Some(&i) = self.index.get(&key) {
            let group = &mut self.groups[i].1;
            group.count += 1;
            if group.sample_ids.len() < SAMPLE_IDS {
                group.sample_ids.push(id.to_owned());
            }
            return;
        }
        if self.groups.len() >= MAX_GROUPS {
            self.report.ungrouped += 1;
            return;
        }
        let group = FindingGroup {
            side,
            pointer: key.2.clone(),
            rule: key.3.clone(),
            message: v.message.clone(),
            count: 1,
            first_id: id.to_owned(),
            sample_ids: vec![id.to_owned()],
        };
        self.index.insert(key, self.groups.len());
        self.groups.push((kind, group));
    }

    pub fn finish(self) -> ContractReport {
        let mut report = self.report;
        let mut groups = self.groups;
        // Largest first; ties keep the order of first appearance.
        groups.sort_by_key(|g| std::cmp::Reverse(g.1.count));
        for (kind, group) in groups {
            match kind {
                VIOLATION => report.violations.push(group),
                UNDECLARED => report.undeclared_errors.push(group),
                _ => report.outside.push(group),
            }
        }
        report
    }
}

/// The signature of one contract violation of one side, as `minimize`
/// keeps it: `contract SIDE POINTER RULE`, the pointer generalised.
pub fn violation_signature(side: Side, v: &Violation) -> String {
    format!(
        "contract {} {} {}",
        side.as_str(),
        generalise(&v.pointer),
        v.rule
    )
}

/// Every violation signature of a record's findings, the candidate's first.
pub fn violation_signatures(findings: &crate::model::ContractFindings) -> Vec<String> {
    let candidate = findings
        .candidate
        .iter()
        .map(|v| violation_signature(Side::Candidate, v));
    let legacy = findings
        .legacy
        .iter()
        .map(|v| violation_signature(Side::Legacy, v));
    candidate.chain(legacy).collect()
}

/// One line of `contract.jsonl`, read back.
#[derive(Debug, Clone, Deserialize)]
pub struct FindingRow {
    pub seq: u64,
    pub id: String,
    pub key: Option<String>,
    pub source: String,
    pub line: u64,
    /// As `mismatches.csv` spells it (`match`, `mismatch`, ...).
    pub outcome: String,
    pub findings: crate::model::ContractFindings,
    pub input: Box<serde_json::value::RawValue>,
}

/// The first record of `dir`'s `contract.jsonl` with this id and an output
/// violation (`None`: none, or the run had no contract). Streams the file.
pub fn find_violation(dir: &Path, id: &str) -> Result<Option<FindingRow>, ReportError> {
    use std::io::BufRead;
    let path = dir.join(CONTRACT_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(write_err(&path)(e)),
    };
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(write_err(&path))?;
        let row: FindingRow = serde_json::from_str(&line).map_err(|e| {
            write_err(&path)(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line {} is damaged: {e}", number + 1),
            ))
        })?;
        if row.id == id && !violation_signatures(&row.findings).is_empty() {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// `contract.jsonl` (see the module docs).
pub struct ContractFile {
    path: PathBuf,
    out: BufWriter<File>,
}

#[derive(Serialize)]
struct ContractRow<'a> {
    seq: u64,
    id: &'a str,
    key: Option<&'a str>,
    source: &'a str,
    line: u64,
    outcome: crate::model::Outcome,
    findings: &'a crate::model::ContractFindings,
    input: &'a serde_json::value::RawValue,
}

impl ContractFile {
    pub fn create(dir: &Path) -> Result<Self, ReportError> {
        let path = &dir.join(CONTRACT_FILE);
        let file = File::create(path).map_err(write_err(path))?;
        Ok(ContractFile {
            path: path.to_owned(),
            out: BufWriter::new(file),
        })
    }
}

impl Sink for ContractFile {
    fn compared(&mut self, result: &RecordResult) -> Result<(), ReportError> {
        let Some(findings) = &result.contract else {
            return Ok(());
        };
        let row = ContractRow {
            seq: result.seq,
            id: &result.id,
            key: result.key.as_deref(),
            source: &result.origin.source,
            line: result.origin.line,
            outcome: result.verdict.outcome,
            findings,
            input: &result.input,
        };
        serde_json::to_writer(&mut self.out, &row).map_err(|e| write_err(&self.path)(e.into()))?;
        self.out.write_all(b"\n").map_err(write_err(&self.path))
    }

    fn finish(mut self: Box<Self>, _: &Summary, _: &Path) -> Result<(), ReportError> {
        self.out.flush().map_err(write_err(&self.path))
    }
}

/// `legacy-shape.json` (see the module docs).
pub struct ShapeFile {
    shapes: AnswerShapes,
}

impl ShapeFile {
    pub fn new(run_id: &str) -> Self {
        ShapeFile {
            shapes: AnswerShapes::new(run_id),
        }
    }
}

impl Sink for ShapeFile {
    fn compared(&mut self, result: &RecordResult) -> Result<(), ReportError> {
        self.shapes.add(&result.legacy.answer);
        Ok(())
    }

    fn finish(self: Box<Self>, _: &Summary, dir: &Path) -> Result<(), ReportError> {
        let path = dir.join(SHAPE_FILE);
        let text = serde_json::to_string(&self.shapes).map_err(|e| write_err(&path)(e.into()))?;
        super::write_redacted(&path, &text)
    }
}
