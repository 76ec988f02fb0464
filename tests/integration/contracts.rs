//! Behaviour contracts (`[contract]` in `cutover.toml`): both sides held to
//! input and output JSON Schemas and declared error types, through the real
//! `cutover replay` against real Python functions; `cutover contract infer`.

use crate::util::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `lenient_total` (fixtures/adapters/pyfuncs.py) sums negative values
/// too: served on both sides, a negative total is a bug both share.
const LENIENT: &str =
    "worker:python3 legacy/adapters/cutover_worker.py fixtures.adapters.pyfuncs:lenient_total";

/// `total` raises on a negative value, as the contract wants.
const STRICT: &str =
    "worker:python3 legacy/adapters/cutover_worker.py fixtures.adapters.pyfuncs:total";

/// Replays `lines` (as `dir/NAME.jsonl`, into `dir/NAME`) with `config`.
fn replay_with(
    dir: &Path,
    name: &str,
    lines: &[String],
    sides: (&str, &str),
    config: &Path,
    extra: &[&str],
    code: i32,
) -> Ran {
    Replay::new(dir)
        .out(&dir.join(name))
        .records(&format!("{name}.jsonl"), lines)
        .legacy(sides.0)
        .candidate(sides.1)
        .args(&["--config", config.to_str().unwrap()])
        .args(extra)
        .run(code)
}

/// A `[contract]` in `dir/cutover.toml` with these schemas (written beside it).
fn contract_config(
    dir: &Path,
    input: Option<Value>,
    output: Option<Value>,
    extra: &str,
) -> PathBuf {
    let mut text = String::from("[contract]\n");
    for (key, schema) in [("input_schema", input), ("output_schema", output)] {
        if let Some(schema) = schema {
            let name = format!("{key}.json");
            std::fs::write(dir.join(&name), schema.to_string()).unwrap();
            text.push_str(&format!("{key} = \"{name}\"\n"));
        }
    }
    text.push_str(extra);
    config_file(dir, &text)
}

pub(crate) fn total_schema() -> Value {
    json!({
        "type": "object",
        "required": ["total", "count"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "count": {"type": "integer", "minimum": 0}
        }
    })
}

/// 12 records of `{"values": [...]}`; r2, r5, r8 and r11 sum to a negative total.
fn values_lines() -> Vec<String> {
    (0..12i64)
        .map(|i| {
            let values = if i % 3 == 2 {
                json!([i, -2 * i])
            } else {
                json!([i, 1])
            };
            record(&format!("r{i}"), json!({ "values": values }))
        })
        .collect()
}

#[test]
fn a_shared_bug_is_a_contract_violation_of_both_sides_while_the_outcome_is_match() {
    let dir = tempdir();
    let config = contract_config(dir.path(), None, Some(total_schema()), "");
    let junit = dir.path().join("junit.xml");
    let ran = replay_with(
        dir.path(),
        "run",
        &values_lines(),
        (LENIENT, LENIENT),
        &config,
        &["--junit", junit.to_str().unwrap()],
        1,
    );
    // Both sides agree on every record...
    assert_eq!(ran.count("matched"), 12, "{}", ran.summary);
    assert!(ran.rows().is_empty(), "no record is a mismatch");
    // ...and four of those agreed answers break the contract, on both sides.
    let c = &ran.summary["contract"];
    assert_eq!(c["legacy_violations"], 4, "{c}");
    assert_eq!(c["candidate_violations"], 4, "{c}");
    let groups = c["violations"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{c}");
    for group in groups {
        assert_eq!(group["pointer"], "/total");
        assert_eq!(group["rule"], "/properties/total/minimum");
        assert_eq!(group["count"], 4);
        assert_eq!(group["first_id"], "r2");
    }
    let sides: Vec<&Value> = groups.iter().map(|g| &g["side"]).collect();
    assert!(sides.contains(&&json!("legacy")) && sides.contains(&&json!("candidate")));
    // Each such record is in contract.jsonl, outcome and input with it.
    let rows: Vec<Value> = std::fs::read_to_string(ran.out.join("contract.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["r2", "r5", "r8", "r11"]);
    assert!(rows.iter().all(|r| r["outcome"] == "match"));
    assert_eq!(rows[0]["input"], json!({"values": [2, -4]}));
    assert_eq!(rows[0]["findings"]["candidate"][0]["pointer"], "/total");
    // The candidate's violations fail the run; the terminal, the page and
    // JUnit say why.
    assert!(
        ran.stdout
            .contains("candidate broke the output schema in 4 records")
            && ran
                .stdout
                .contains("4 broke the output schema (candidate) (exit 1)"),
        "{}",
        ran.stdout
    );
    let page = std::fs::read_to_string(ran.out.join("index.html")).unwrap();
    assert!(
        page.contains("<h2>Behaviour contract</h2>"),
        "no contract section"
    );
    assert!(page.contains("/properties/total/minimum"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let failures: Vec<&str> = xml
        .lines()
        .filter(|l| l.contains("type=\"contract_violation\""))
        .collect();
    assert_eq!(failures.len(), 1, "{xml}");
    assert!(
        xml.contains("classname=\"cutover.contract.legacy\""),
        "{xml}"
    );
}

#[test]
fn the_legacys_violations_are_findings_and_do_not_fail_the_run() {
    let dir = tempdir();
    let config = contract_config(dir.path(), None, Some(total_schema()), "");
    // The candidate clamps a negative total to 0 where the lenient legacy
    // sums it; the total is not compared (`--ignore /total`), so every
    // record matches and only the legacy breaks the schema.
    std::fs::write(
        dir.path().join("clamped.py"),
        "def total(payload):\n    values = payload['values']\n    return {'total': max(0, sum(values)), 'count': len(values)}\n",
    )
    .unwrap();
    let clamped = format!(
        "worker:python3 legacy/adapters/cutover_worker.py {}:total",
        dir.path().join("clamped.py").display()
    );
    let ran = replay_with(
        dir.path(),
        "run",
        &values_lines(),
        (LENIENT, &clamped),
        &config,
        &["--ignore", "/total"],
        0,
    );
    assert_eq!(ran.count("matched"), 12);
    let c = &ran.summary["contract"];
    assert_eq!(c["legacy_violations"], 4, "{c}");
    assert_eq!(c["candidate_violations"], 0, "{c}");
    assert!(
        ran.stdout
            .contains("legacy in 4 (findings about the legacy)"),
        "{}",
        ran.stdout
    );
}

#[test]
fn inputs_outside_the_input_schema_are_counted_as_outside_contract() {
    let dir = tempdir();
    let input = json!({
        "type": "object",
        "required": ["values"],
        "properties": {"values": {"type": "array", "maxItems": 2}}
    });
    let config = contract_config(dir.path(), Some(input), Some(total_schema()), "");
    let lines: Vec<String> = (0..8)
        .map(|i| {
            let values = if i < 3 { json!([1, 2, 3]) } else { json!([i]) };
            record(&format!("r{i}"), json!({ "values": values }))
        })
        .collect();
    // Outside the contract, still compared, and not failing the run.
    let ran = replay_with(dir.path(), "run", &lines, (STRICT, STRICT), &config, &[], 0);
    assert_eq!(ran.count("matched"), 8);
    let c = &ran.summary["contract"];
    assert_eq!(c["outside_contract"], 3, "{c}");
    assert_eq!(c["outside"][0]["pointer"], "/values");
    assert_eq!(c["outside"][0]["rule"], "/properties/values/maxItems");
    assert_eq!(c["outside"][0]["sample_ids"], json!(["r0", "r1", "r2"]));
}

#[test]
fn an_undeclared_error_type_is_flagged_per_side() {
    let dir = tempdir();
    let errors = "[[contract.errors]]\ntype = \"KeyError\"\nmeaning = \"no values\"\n";
    let config = contract_config(dir.path(), None, None, errors);
    let lines = vec![
        record("ok", json!({"values": [1]})),
        record("neg", json!({"values": [-1]})),
        record("none", json!({})),
    ];
    let ran = replay_with(dir.path(), "run", &lines, (STRICT, STRICT), &config, &[], 0);
    let c = &ran.summary["contract"];
    assert_eq!(c["legacy_undeclared_errors"], 1, "{c}");
    assert_eq!(c["candidate_undeclared_errors"], 1, "{c}");
    let flagged = c["undeclared_errors"].as_array().unwrap();
    assert!(
        flagged
            .iter()
            .all(|g| g["pointer"] == "ValueError" && g["sample_ids"] == json!(["neg"])),
        "{c}"
    );
}

#[test]
fn a_bad_schema_file_is_a_start_up_error_naming_the_file_and_the_pointer_inside_it() {
    let dir = tempdir();
    let bad = json!({"type": "object", "properties": {"total": {"type": "integr"}}});
    let config = contract_config(dir.path(), None, Some(bad), "");
    let run = dir.path().join("run");
    let mut cmd = cutover_args(&[
        "--config",
        config.to_str().unwrap(),
        "replay",
        "--no-progress",
        "--out",
        run.to_str().unwrap(),
    ]);
    let err = stderr_of(&mut cmd, 2);
    assert!(err.contains("output_schema.json"), "{err}");
    assert!(err.contains("\"/properties/total/type\""), "{err}");
    assert!(!run.join("summary.json").exists(), "the run did not start");
}

#[test]
fn contract_infer_on_the_bundled_capture_gives_a_schema_the_same_run_validates() {
    let dir = tempdir();
    let first = Replay::new(dir.path())
        .out(&dir.path().join("first"))
        .candidate("builtin:normalize-naive")
        .run(1);
    let draft = dir.path().join("draft");
    let out = stdout_of(
        &mut cutover_args(&[
            "contract",
            "infer",
            first.out.to_str().unwrap(),
            "--out",
            draft.to_str().unwrap(),
        ]),
        0,
    );
    assert!(out.contains("output.schema.json"), "{out}");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(draft.join("output.schema.json")).unwrap())
            .unwrap();
    assert_eq!(
        schema["required"],
        json!(["accepted", "rejected"]),
        "{schema:#}"
    );
    let toml = std::fs::read_to_string(draft.join("contract.toml")).unwrap();
    for kind in ["AttributeError", "KeyError", "TypeError"] {
        assert!(toml.contains(&format!("type = \"{kind}\"")), "{toml}");
    }
    // The same run, held to the draft (its error types declared too).
    let again = Replay::new(dir.path())
        .out(&dir.path().join("again"))
        .candidate("builtin:normalize-naive")
        .args(&["--config", draft.join("contract.toml").to_str().unwrap()])
        .run(1);
    let c = &again.summary["contract"];
    for key in [
        "legacy_violations",
        "candidate_violations",
        "legacy_undeclared_errors",
    ] {
        assert_eq!(c[key], 0, "{key}: {c}");
    }
    assert_eq!(again.count("mismatched"), first.count("mismatched"));
}

/// The worked migration's contract (legacy/contract/) over the bundled
/// capture: the replay the README shows still matches every record, and the
/// capture's hostile inputs are counted outside the contract.
#[test]
fn the_worked_migration_declares_its_contract() {
    let dir = tempdir();
    let ran = Replay::new(dir.path())
        .candidate("builtin:normalize")
        .args(&["--config", "legacy/contract/cutover.toml"])
        .run(0);
    assert_eq!(ran.count("matched"), ran.count("read"));
    let c = &ran.summary["contract"];
    assert!(c["outside_contract"].as_u64().unwrap() > 0, "{c}");
    for key in [
        "legacy_violations",
        "candidate_violations",
        "legacy_undeclared_errors",
        "candidate_undeclared_errors",
    ] {
        assert_eq!(c[key], 0, "{key}: {c}");
    }
    assert!(c["non_goals"].as_str().unwrap().contains("str.strip()"));
    // The schemas are in the run's spec: nothing re-reads the files.
    let spec = &ran.summary["spec"]["contract"];
    assert_eq!(
        spec["output_schema"]["schema"]["required"],
        json!(["accepted", "rejected"])
    );
}

/// A record that matched but broke the contract is minimized keeping its
/// violation, and pinned as a case that says which one it reproduces.
#[test]
fn a_contract_violation_of_a_matching_record_can_be_minimized_and_pinned() {
    let dir = tempdir();
    let config = contract_config(dir.path(), None, Some(total_schema()), "");
    let lines = vec![
        record("ok", json!({"values": [1, 2]})),
        record("neg", json!({"values": [3, 1, -20, 4, 2], "note": "extra"})),
    ];
    let ran = replay_with(
        dir.path(),
        "run",
        &lines,
        (LENIENT, LENIENT),
        &config,
        &[],
        1,
    );
    assert_eq!(ran.count("matched"), 2);
    let pins = dir.path().join("pins");
    let out = stdout_of(
        &mut cutover_args(&[
            "pin",
            ran.out.to_str().unwrap(),
            "neg",
            "--trust-run",
            "--pin-dir",
            pins.to_str().unwrap(),
        ]),
        0,
    );
    assert!(
        out.contains("contract candidate /total /properties/total/minimum"),
        "{out}"
    );
    let case_file = pins.join("contract-candidate-total-properties-total-minimum.json");
    let case: Value =
        serde_json::from_str(&std::fs::read_to_string(&case_file).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; pinned: {:?}",
                case_file.display(),
                std::fs::read_dir(&pins).map(|d| d.count())
            )
        }))
        .unwrap();
    assert_eq!(case["outcome"], "match");
    // Shrunk to one negative value: every other value and key went.
    let input = &case["input"];
    let values = input["values"].as_array().expect("values kept");
    assert_eq!(input.as_object().unwrap().len(), 1, "{case:#}");
    assert!(
        values.len() == 1 && values[0].as_i64().unwrap() < 0,
        "{case:#}"
    );
    // The pinned case replays as the suite replays every pinned case.
    let got = crate::reproduce::replay_pinned(&case, dir.path(), "pinned");
    assert_eq!(got, case["reproduces"].as_str().unwrap());
}
