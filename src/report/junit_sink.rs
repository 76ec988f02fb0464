//! JUnit XML for CI: the comparison shown like a test run (a [`Sink`] for
//! `replay --junit FILE`, and [`junit_xml`] for `report --junit`).
//!
//! # Contract
//! One `<testsuite>` named after the run, with one test case per mismatch
//! group (named `LABEL: SIGNATURE`, classname `cutover.OUTCOME`): a failure
//! for `mismatch`, error and timeout groups (message: the count, the share and
//! an example id; text: how to look at it), a passing case for `accepted` and
//! `noisy` groups (differences that do not fail a run). One more case,
//! `rejected capture lines`, fails when lines could not be read; and when no
//! group exists, one passing case says every record matched. With a
//! behaviour contract, each violation group is a case too (`contract SIDE
//! POINTER RULE`, classname `cutover.contract.SIDE`): a failure for the
//! candidate's, a passing case for the legacy's (findings about the legacy);
//! undeclared error types and inputs outside the contract are passing cases
//! with their counts. So the suite
//! fails exactly when the run's exit status is 1. Properties carry the run id,
//! both targets and the counts; recheck labels, when known, go in each case's
//! text. The file is written atomically, with every secret taken out, and
//! its path is checked before the run reads its first record. [`suite_xml`]
//! and [`write_xml`] are the same writer for suites made elsewhere
//! (`pin --check`).

use super::labels::RecheckSummary;
use super::model::fails;
use super::sink::Sink;
use super::{ReportError, Summary};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::{Path, PathBuf};

/// The JUnit XML of the run in `dir`.
pub fn junit_xml(s: &Summary, dir: &Path, recheck: Option<&RecheckSummary>) -> String {
    let mut suite = TestSuite::new(format!("cutover {}", s.run_id));
    // A summary read from disk is checked (`Summary::check`); one made in
    // memory still never panics here.
    suite.set_time(std::time::Duration::try_from_secs_f64(s.duration_seconds).unwrap_or_default());
    for (name, value) in [
        ("run_id", s.run_id.clone()),
        ("legacy", s.settings.legacy.clone()),
        ("candidate", s.settings.candidate.clone()),
        ("read", s.counts.read.to_string()),
        ("matched", s.counts.matched.to_string()),
        ("exit_code", s.exit_code.to_string()),
    ] {
        suite.add_property(Property::new(name, value));
    }
    for g in &s.groups {
        let outcome = g.signature.split_whitespace().next().unwrap_or("other");
        let status = if fails(&g.signature) {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(format!(
                    "{} ({:.2}%) e.g. {}",
                    crate::util::text::counted(g.count, "record", "records"),
                    g.share * 100.0,
                    g.first_id
                ))
                .set_type(outcome.to_owned());
            status
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(format!("{}: {}", g.group, g.signature), status);
        case.set_classname(format!("cutover.{outcome}"));
        let labels = recheck
            .and_then(|r| r.group(&g.group))
            .map(|l| {
                format!(
                    "\nrecheck: {} deterministic, {} flaky, {} unchecked",
                    l.deterministic, l.flaky, l.unchecked
                )
            })
            .unwrap_or_default();
        let dir = dir.display().to_string();
        case.set_system_out(format!(
            "{}, first {}, last {}, samples {}{labels}\nsee: {}",
            crate::util::text::counted(g.count, "record", "records"),
            g.first_id,
            g.last_id,
            g.sample_ids.join(", "),
            crate::util::escape::command_line(["cutover", "report", "group", &dir, &g.group])
        ));
        suite.add_test_case(case);
    }
    let rejected = s.counts.rejected;
    let status = if rejected > 0 {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(format!(
            "{} could not be read (rejected.jsonl)",
            crate::util::text::counted(rejected, "capture line", "capture lines")
        ));
        status
    } else {
        TestCaseStatus::success()
    };
    let mut case = TestCase::new("rejected capture lines", status);
    case.set_classname("cutover.rejected");
    suite.add_test_case(case);
    if let Some(contract) = &s.contract {
        contract_cases(&mut suite, contract);
    }
    if s.groups.is_empty() {
        let mut case = TestCase::new("every record matched", TestCaseStatus::success());
        case.set_classname("cutover.match");
        suite.add_test_case(case);
    }
    xml_of(suite)
}

/// The XML of a report of one suite.
fn xml_of(suite: TestSuite) -> String {
    let mut report = Report::new("cutover");
    report.add_test_suite(suite);
    report
        .to_string()
        .expect("serializing JUnit XML to a string cannot fail")
}

/// One case per group of contract findings (see the module docs).
fn contract_cases(suite: &mut TestSuite, contract: &super::contract::ContractReport) {
    use crate::model::Side;
    let kinds = [
        ("violation", &contract.violations),
        ("undeclared error", &contract.undeclared_errors),
        ("outside the input schema", &contract.outside),
    ];
    for (kind, groups) in kinds {
        for g in groups {
            let side = g.who();
            let summary = format!(
                "{}: {} e.g. {}",
                crate::util::text::counted(g.count, "record", "records"),
                g.message,
                g.first_id
            );
            let status = if kind == "violation" && g.side == Some(Side::Candidate) {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(summary.clone())
                    .set_type("contract_violation");
                status
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(
                format!("contract {side} {kind} {:?} {}", g.pointer, g.rule),
                status,
            );
            case.set_classname(format!("cutover.contract.{side}"));
            case.set_system_out(format!("{summary}; samples {}", g.sample_ids.join(", ")));
            suite.add_test_case(case);
        }
    }
}

/// Writes the JUnit XML of the run in `dir` to `path` (atomically, secrets
/// taken out).
pub fn write(
    summary: &Summary,
    dir: &Path,
    recheck: Option<&RecheckSummary>,
    path: &Path,
) -> Result<(), ReportError> {
    write_xml(path, &junit_xml(summary, dir, recheck))
}

/// Writes JUnit XML made anywhere to `path` (`--junit FILE`): atomically,
/// secrets taken out.
pub fn write_xml(path: &Path, xml: &str) -> Result<(), ReportError> {
    crate::util::atomic_file::write(path, crate::util::redact::text(xml).as_bytes())
        .map_err(|cause| output_error(path, cause))
}

/// A test case of a suite made elsewhere ([`suite_xml`]): a failure when
/// `failure` holds its message.
pub struct PlainCase {
    pub name: String,
    pub classname: String,
    pub failure: Option<String>,
    pub system_out: String,
}

/// One suite of `cases` with `properties`, as JUnit XML (`pin --check`).
pub fn suite_xml(name: &str, properties: &[(&str, String)], cases: &[PlainCase]) -> String {
    let mut suite = TestSuite::new(name.to_owned());
    for (name, value) in properties {
        suite.add_property(Property::new(*name, value.clone()));
    }
    for c in cases {
        let status = match &c.failure {
            Some(message) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(message.clone());
                status
            }
            None => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(c.name.clone(), status);
        case.set_classname(c.classname.clone());
        case.set_system_out(c.system_out.clone());
        suite.add_test_case(case);
    }
    xml_of(suite)
}

fn output_error(path: &Path, cause: std::io::Error) -> ReportError {
    ReportError::Output {
        flag: "--junit",
        path: path.to_owned(),
        cause,
    }
}

/// `replay --junit FILE`.
pub struct JunitFile {
    path: PathBuf,
}

impl JunitFile {
    /// Checks that `path` can be written (before the run reads anything).
    pub fn create(path: &Path) -> Result<JunitFile, ReportError> {
        crate::util::atomic_file::check_writable(path)
            .map_err(|cause| output_error(path, cause))?;
        Ok(JunitFile {
            path: path.to_owned(),
        })
    }
}

impl Sink for JunitFile {
    fn finish(self: Box<Self>, summary: &Summary, dir: &Path) -> Result<(), ReportError> {
        write(summary, dir, None, &self.path)
    }

    fn after_summary(&self) -> bool {
        true
    }
}
