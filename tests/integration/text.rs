//! Text outputs: two real Markdown renderers, Python-Markdown as the legacy
//! and mistune as the candidate (pinned in `fixtures/text/requirements.txt`,
//! pip-installed by scripts/test into `tests/text/site/`), each wrapped in
//! one line with the Python adapter, over a generated corpus whose documents
//! are made of known constructs (`fixtures/text/generate.py` names the
//! divergences between the two libraries, found by reading their outputs).
//! The groups must hold one cause each. A plain `cargo test` leaves these
//! to scripts/test, saying so ([`left_to_scripts_test`]).

use crate::util::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(crate) const NEEDS: &str =
    "Python-Markdown and mistune (scripts/test pip-installs them into tests/text/site)";

pub(crate) const LEGACY: &str =
    "worker:python3 legacy/adapters/cutover_worker.py fixtures/text/renderers.py:python_markdown";
pub(crate) const CANDIDATE: &str =
    "worker:python3 legacy/adapters/cutover_worker.py fixtures/text/renderers.py:mistune_html";

/// Under scripts/test the renderers must be there.
pub(crate) fn corpus_installed() {
    assert!(
        repo().join("tests/text/site/markdown").is_dir() && repo().join("tests/text/site/mistune").is_dir(),
        "Python-Markdown and mistune are not installed: run `pip install --target tests/text/site -r fixtures/text/requirements.txt` (scripts/test does)"
    );
}

/// The corpus (capture and the named causes of each record) in `dir`.
fn corpus(
    dir: &std::path::Path,
    count: usize,
) -> (std::path::PathBuf, HashMap<String, Vec<String>>) {
    corpus_installed();
    let status = std::process::Command::new("python3")
        .arg(repo().join("fixtures/text/generate.py"))
        .arg("--out")
        .arg(dir)
        .args(["--count", &count.to_string()])
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let truth = std::fs::read_to_string(dir.join("truth.json")).unwrap();
    (
        dir.join("capture.jsonl"),
        serde_json::from_str(&truth).unwrap(),
    )
}

#[test]
fn real_markdown_renderers_are_grouped_one_cause_a_group() {
    if left_to_scripts_test(NEEDS) {
        return;
    }
    let tmp = tempdir();
    let (capture, truth) = corpus(tmp.path(), 600);
    let ran = Replay::new(tmp.path())
        .traffic(&capture)
        .legacy(LEGACY)
        .candidate(CANDIDATE)
        .run(1);
    // Every document differs: mistune ends its output with a line break.
    assert_eq!(ran.count("mismatched"), 600, "{}", ran.stdout);
    let rows = ran.rows();
    // group -> (named causes -> records)
    let mut groups: BTreeMap<String, BTreeMap<Vec<String>, u64>> = BTreeMap::new();
    for row in &rows {
        let causes = truth[&row["id"]].clone();
        *groups
            .entry(row["group"].clone())
            .or_default()
            .entry(causes)
            .or_default() += 1;
    }
    let signature: HashMap<String, String> = group_list(&ran.summary)
        .into_iter()
        .map(|(group, signature, _)| (group, signature))
        .collect();
    let table: String = groups
        .iter()
        .map(|(g, causes)| format!("{g}: {causes:?}\n    {}\n", signature[g]))
        .collect();
    // Purity: the share of records in the commonest cause set of their group.
    let dominant: u64 = groups.values().map(|c| c.values().max().unwrap()).sum();
    let purity = dominant as f64 / rows.len() as f64;
    assert!(purity >= 0.98, "purity {purity:.3}:\n{table}");
    let distinct: BTreeSet<&Vec<String>> = truth.values().collect();
    assert!(
        groups.len() * 4 <= distinct.len() * 5,
        "{} groups for {} cause sets: one cause is split:\n{table}",
        groups.len(),
        distinct.len()
    );
    // Each named divergence alone (with the final newline every document
    // has): most of its records in one group of its own, a different group
    // for each divergence.
    let mut home: BTreeMap<String, String> = BTreeMap::new();
    let named: BTreeSet<&String> = truth.values().flatten().collect();
    assert!(
        named.len() >= 15,
        "the corpus names its divergences: {named:?}"
    );
    for cause in named {
        let alone: Vec<String> = if cause == "final newline" {
            vec![cause.clone()]
        } else {
            let mut v = vec![cause.clone(), "final newline".to_owned()];
            v.sort();
            v
        };
        let (best, n) = groups
            .iter()
            .map(|(g, c)| (g, c.get(&alone).copied().unwrap_or(0)))
            .max_by_key(|(_, n)| *n)
            .unwrap();
        let total: u64 = groups.values().filter_map(|c| c.get(&alone)).sum();
        assert!(total > 0, "{cause}: no record shows it alone");
        assert!(
            n as f64 >= 0.9 * total as f64,
            "{cause}: only {n} of {total} records in its largest group {best}:\n{table}"
        );
        let in_best: u64 = groups[best].values().sum();
        assert!(
            n as f64 >= 0.95 * in_best as f64,
            "{cause}: its group {best} holds other causes:\n{table}"
        );
        if let Some(other) = home.insert(best.clone(), cause.clone()) {
            panic!("{cause} and {other} share group {best}:\n{table}");
        }
    }
}

/// One record with two unrelated bugs (an entity mistune decodes, a
/// strikethrough only mistune renders): minimizing keeps the record's own
/// differences (both), a `--test` for each keeps that one, and the loose
/// `--same group` may wander to a third (the final newline alone).
#[test]
fn minimize_on_a_record_with_two_bugs_keeps_each_bug() {
    if left_to_scripts_test(NEEDS) {
        return;
    }
    corpus_installed();
    let tmp = tempdir();
    let doc = "Some &copy; words here\n\n~~gone~~ and more filler words";
    let ran = Replay::new(tmp.path())
        .records(
            "two.jsonl",
            &[record("two", serde_json::json!({"text": doc}))],
        )
        .legacy(LEGACY)
        .candidate(CANDIDATE)
        .run(1);
    let original = ran.rows()[0]["signature"].clone();
    assert!(
        original.contains("&copy; → \"©\"") && original.contains("<del>"),
        "{original}"
    );
    let run = ran.out.to_str().unwrap();
    let minimized = |extra: &[&str]| -> Value {
        let mut args = vec!["minimize", run, "two", "--json", "--trust-run"];
        args.extend_from_slice(extra);
        serde_json::from_str(&stdout_of(&mut cutover_args(&args), 0)).unwrap()
    };
    // The record's own differences: both bugs stay.
    let both = minimized(&[]);
    assert_eq!(both["signature"], original.as_str(), "{both}");
    let text = both["input"]["text"].as_str().unwrap();
    assert!(text.contains("&copy;") && text.contains("~~"), "{both}");
    // One user predicate per bug: each keeps its own.
    for (bug, mark, other) in [("entity", "&copy;", "~~"), ("strike", "~~", "&copy;")] {
        let cmd = format!("python3 fixtures/text/shows.py {bug}");
        let m = minimized(&["--test", &cmd]);
        let text = m["input"]["text"].as_str().unwrap();
        assert!(text.contains(mark) && !text.contains(other), "{bug}: {m}");
        assert!(text.len() < doc.len() / 3, "{bug} shrank: {m}");
        assert!(
            !m["final_signature"]
                .as_str()
                .unwrap()
                .contains(if bug == "entity" { "<del>" } else { "&copy;" }),
            "{bug}: the other bug is gone: {m}"
        );
    }
    // The looser behaviour of old: any change at /html will do.
    let loose = minimized(&["--same", "group"]);
    let text = loose["input"]["text"].as_str().unwrap();
    assert!(!text.contains("&copy;") && !text.contains("~~"), "{loose}");
}
