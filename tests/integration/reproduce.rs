//! Minimal reproducers, pinned regressions and flaky-or-deterministic labels:
//! `cutover minimize`, `cutover pin`, `cutover recheck`.

use crate::util::*;
use serde_json::{json, Value};

#[test]
fn minimize_finds_a_trigger_buried_in_a_large_input() {
    let tmp = tempdir();
    // 400 filler items, nested metadata, and one item carrying the planted
    // trigger: the planted worker upper-cases the answer when any string
    // contains "TRIGGER".
    let mut items: Vec<Value> = (0..400)
        .map(|i| json!(format!("  filler item {i} with some words  ")))
        .collect();
    let planted_item = "xxTRIGGERyy";
    items.insert(287, json!(planted_item));
    let input = json!({
        "meta": {"source": "batch", "tags": ["a", "b", "c"], "n": 12345.5},
        "items": items,
        "trailer": [1, 2, 3, {"k": "v"}],
    });
    let capture = capture(tmp.path(), "buried.jsonl", &[record("big", input.clone())]);
    let run = tmp.path().join("run");
    replay_planted(&run, &capture, "", &[]);
    // The planted candidate is named by this test's replay, not by a config:
    // re-running it takes --trust-run.
    let out = stdout_of(
        &mut cutover_args(&[
            "minimize",
            run.to_str().unwrap(),
            "big",
            "--json",
            "--trust-run",
        ]),
        0,
    );
    let m: Value = serde_json::from_str(&out).unwrap();
    let planted_trigger = json!({"items": [planted_item]}).to_string();
    let minimal = m["input_json"].as_str().unwrap();
    assert!(
        minimal.len() <= planted_trigger.len(),
        "{minimal} is bigger than the planted trigger {planted_trigger}"
    );
    assert!(minimal.contains("TRIGGER"), "{minimal}");
    assert_eq!(m["signature"], "mismatch /accepted/* changed");
    assert_eq!(m["finished"], true);
    assert_eq!(m["confirmed"], true);
    assert_eq!(m["original_bytes"], input.to_string().len());
    assert!(m["diff"].as_str().unwrap().contains("+    \""), "{m}");

    // A tight budget stops early, says so, and still gives a reproducer.
    let out = stdout_of(
        &mut cutover_args(&[
            "minimize",
            run.to_str().unwrap(),
            "big",
            "--max-steps",
            "5",
            "--trust-run",
        ]),
        0,
    );
    assert!(out.contains("the budget ran out (--max-steps 5"), "{out}");

    // An id the run has no mismatch for is an error naming it.
    let err = cutover_args(&["minimize", run.to_str().unwrap(), "nope"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("no non-matching record has id \"nope\""));
}

/// Replays one pinned case through both sides with `cutover replay` and
/// returns the signature it now shows (`match` when it matched); for a
/// contract case (`contract SIDE POINTER RULE`), that violation when the
/// replay shows it among its findings.
pub fn replay_pinned(case: &Value, tmp: &std::path::Path, name: &str) -> String {
    let input = serde_json::to_string(&case["input"]).unwrap();
    let path = tmp.join(format!("{name}.jsonl"));
    std::fs::write(
        &path,
        format!("{{\"id\": {}, \"input\": {input}}}\n", json!(name)),
    )
    .unwrap();
    let out = tmp.join(name);
    let mut args: Vec<String> = vec![
        path.display().to_string(),
        "--legacy".into(),
        case["legacy"].as_str().unwrap().into(),
        "--candidate".into(),
        case["candidate"].as_str().unwrap().into(),
    ];
    if let Some(config) = case["config_file"].as_str() {
        args.extend(["--config".into(), config.into()]);
    }
    for path in case["ignore"].as_array().unwrap() {
        args.extend(["--ignore".into(), path.as_str().unwrap().into()]);
    }
    if case["noise_probe"] == true {
        args.push("--noise-probe".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    replay(&out, &args).assert().code(predicates::ord::lt(2));
    let s = summary(&out);
    assert_eq!(count(&s, "read"), 1);
    let expected = case["reproduces"].as_str().unwrap_or_default();
    if expected.starts_with("contract ") {
        let shown = s["contract"]["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                format!(
                    "contract {} {} {}",
                    g["side"].as_str().unwrap_or_default(),
                    g["pointer"].as_str().unwrap_or_default(),
                    g["rule"].as_str().unwrap_or_default()
                )
            });
        return shown
            .into_iter()
            .find(|sig| sig == expected)
            .unwrap_or_else(|| "no such contract violation".to_owned());
    }
    s["groups"][0]["signature"]
        .as_str()
        .unwrap_or("match")
        .to_owned()
}

#[test]
fn every_pinned_regression_still_reproduces() {
    let dir = repo().join("fixtures/regressions");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/regressions exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 2,
        "the worked migration's pinned cases are missing from {}",
        dir.display()
    );
    let tmp = tempdir();
    for path in &cases {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = case["name"].as_str().unwrap();
        assert_eq!(
            path.file_stem().unwrap().to_str().unwrap(),
            name,
            "a case is named after what it reproduces"
        );
        let got = replay_pinned(&case, tmp.path(), name);
        assert_eq!(
            got,
            case["reproduces"].as_str().unwrap(),
            "{}: the pinned outcome changed (answers when pinned: {})",
            path.display(),
            case["seen"]
        );
    }
}

/// `capture` replayed against the naive port (it differs: exit 1) into
/// `dir/run`.
fn naive_run(dir: &std::path::Path, capture: &std::path::Path) -> std::path::PathBuf {
    let run = dir.join("run");
    replay(
        &run,
        &[
            capture.to_str().unwrap(),
            "--candidate",
            "builtin:normalize-naive",
        ],
    )
    .assert()
    .code(1);
    run
}

#[test]
fn pin_saves_a_case_that_replays_and_is_named_after_its_signature() {
    let tmp = tempdir();
    let capture = capture(
        tmp.path(),
        "sep.jsonl",
        &[record(
            "sep",
            json!({"items": ["  keep me ", "\u{1c}\u{1c}sep tail  ", ""]}),
        )],
    );
    let run = naive_run(tmp.path(), &capture);
    // What minimize prints, whole.
    let minimized = stdout_of(
        &mut cutover_args(&["minimize", run.to_str().unwrap(), "sep"]),
        0,
    );
    redactions(tmp.path()).bind(|| insta::assert_snapshot!("minimize_text", minimized));
    let pins = tmp.path().join("pins");
    let out = stdout_of(
        &mut cutover_args(&[
            "pin",
            run.to_str().unwrap(),
            "sep",
            "--pin-dir",
            pins.to_str().unwrap(),
        ]),
        0,
    );
    let path = pins.join("mismatch-accepted-changed.json");
    assert!(
        out.contains(&format!("pinned: {}", path.display())),
        "{out}"
    );
    let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(case["reproduces"], "mismatch /accepted/* changed");
    assert_eq!(case["legacy"], "worker:python3 legacy/worker.py");
    assert_eq!(case["candidate"], "builtin:normalize-naive");
    assert_eq!(case["from"]["id"], "sep");
    // The separators survive; everything else went.
    let input = case["input"].to_string();
    assert!(
        input.len() < r#"{"items":["\u001c\u001csep tail  "]}"#.len(),
        "{input}"
    );
    assert!(input.contains("\\u001c"), "{input}");
    assert_eq!(
        replay_pinned(&case, tmp.path(), "again"),
        "mismatch /accepted/* changed"
    );
    // Pinning the same case again rewrites it rather than adding a copy.
    cutover_args(&[
        "pin",
        run.to_str().unwrap(),
        "sep",
        "--pin-dir",
        pins.to_str().unwrap(),
    ])
    .assert()
    .code(0);
    assert_eq!(std::fs::read_dir(&pins).unwrap().count(), 1);
}

#[test]
fn recheck_labels_flaky_and_deterministic_records_in_every_report() {
    let tmp = tempdir();
    let mut lines = Vec::new();
    for i in 0..4 {
        lines.push(record(
            &format!("steady-{i}"),
            json!({"items": [format!("a{i}")], "plant": "upper"}),
        ));
        lines.push(record(
            &format!("flaky-{i}"),
            json!({"items": [format!("b{i}")], "plant": "flaky"}),
        ));
    }
    let capture = capture(tmp.path(), "flaky.jsonl", &lines);
    let run = tmp.path().join("run");
    replay_planted(&run, &capture, "", &["--workers", "1"]);
    assert_eq!(count(&summary(&run), "mismatched"), 8);
    let out = stdout_of(
        &mut cutover_args(&[
            "recheck",
            run.to_str().unwrap(),
            "--times",
            "3",
            "--workers",
            "1",
            "--json",
            "--trust-run",
        ]),
        1,
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r["deterministic"].as_u64(), r["flaky"].as_u64()),
        (Some(4), Some(4)),
        "{r}"
    );
    let labels: Vec<Value> = std::fs::read_to_string(run.join("recheck.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(labels.len(), 8);
    for l in &labels {
        let id = l["id"].as_str().unwrap();
        let expected = if id.starts_with("flaky") {
            "flaky"
        } else {
            "deterministic"
        };
        assert_eq!(l["label"], expected, "{l}");
        if expected == "flaky" {
            assert_eq!(l["seen"], json!(["match"]), "{l}");
            assert_eq!(
                (l["reproduced"].as_u64(), l["runs"].as_u64()),
                (Some(2), Some(3))
            );
        }
    }
    // The labels show in the terminal report, its JSON, `show`, and the page.
    let text = stdout_of(&mut cutover_args(&["report", run.to_str().unwrap()]), 1);
    assert!(text.contains("4 deterministic, 4 flaky"), "{text}");
    let json: Value = serde_json::from_str(&stdout_of(
        &mut cutover_args(&["report", run.to_str().unwrap(), "--json"]),
        1,
    ))
    .unwrap();
    assert_eq!(json["recheck"]["flaky"], 4);
    let show = stdout_of(
        &mut cutover_args(&["report", "show", run.to_str().unwrap(), "flaky-2"]),
        0,
    );
    assert!(
        show.contains("recheck  flaky (2 of 3 re-runs gave this signature); also seen: match"),
        "{show}"
    );
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(
        html.contains("<span data-count=\"flaky\">4</span> flaky"),
        "page regenerated with the labels"
    );
    assert!(html.contains("flaky (2/3)"));

    // --max-records limits the work; the rest are unchecked. The first two
    // rows are steady-0 and flaky-0; flaky-0 on a fresh worker is wrong on
    // calls 1 and 3 and right on call 2: flaky, exit 1.
    let out = stdout_of(
        &mut cutover_args(&[
            "recheck",
            run.to_str().unwrap(),
            "--max-records",
            "2",
            "--json",
            "--trust-run",
        ]),
        1,
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["unchecked"], 6, "{r}");
}

/// Copies `run` to `to` with its summary's candidate replaced by `candidate`
/// (in the run's spec, which re-runs read, and in the flat `settings` view).
fn with_candidate(run: &std::path::Path, to: &std::path::Path, candidate: &str) {
    copy_run(run, to);
    let mut s = summary(run);
    s["settings"]["candidate"] = json!(candidate);
    s["spec"]["candidate"] = match candidate.split_once(':') {
        Some(("builtin", name)) => json!({ "builtin": name }),
        Some((kind @ ("worker" | "exec"), line)) => {
            let mut words = shell_words::split(line).unwrap();
            let program = words.remove(0);
            json!({ kind: { "program": program, "args": words } })
        }
        _ => panic!("no such candidate form: {candidate}"),
    };
    std::fs::write(to.join("summary.json"), s.to_string()).unwrap();
}

#[test]
fn review_commands_start_no_target_the_config_does_not_name_unless_trusted() {
    let tmp = tempdir();
    let run = one_mismatch_run(tmp.path());
    // Someone sends a run directory whose summary names a candidate that
    // runs their code (with an escape sequence in its command line).
    let marker = tmp.path().join("PWNED");
    let hostile = format!(
        "worker:sh -c 'touch {}; : \u{1b}]0;title\u{7}; exec python3 fixtures/doubles/planted_worker.py'",
        marker.display()
    );
    let sent = tmp.path().join("sent");
    with_candidate(&run, &sent, &hostile);
    let d = sent.to_str().unwrap();
    let pins = tmp.path().join("pins");
    for args in [
        vec!["minimize", d, "upper-0"],
        vec!["pin", d, "upper-0", "--pin-dir", pins.to_str().unwrap()],
        vec!["recheck", d],
        vec!["recheck", d, "--json"],
    ] {
        let out = cutover_args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!marker.exists(), "{args:?} ran the run's candidate");
        assert!(
            err.contains("--trust-run") && err.contains("trust_run"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("--candidate worker:sh -c")
                && err.contains("\\x1b]0;title\\x07")
                && !err.contains('\u{1b}'),
            "the command line is shown, escaped: {err}"
        );
        assert!(
            !err.contains("--legacy"),
            "the default legacy is what `cutover replay` runs here: {err}"
        );
    }
    assert!(!pins.exists() && !sent.join("recheck.jsonl").exists());

    // --trust-run runs it.
    cutover_args(&["recheck", d, "--trust-run"])
        .assert()
        .code(0);
    assert!(marker.exists(), "--trust-run starts the run's candidate");
    std::fs::remove_file(&marker).unwrap();
    // So does `trust_run = true` under [reproduce] in the config file.
    let trusting = tmp.path().join("trusting.toml");
    std::fs::write(&trusting, "[reproduce]\ntrust_run = true\n").unwrap();
    cutover_args(&[
        "--config",
        trusting.to_str().unwrap(),
        "minimize",
        d,
        "upper-0",
    ])
    .assert()
    .code(0);
    assert!(marker.exists());
    std::fs::remove_file(&marker).unwrap();
    // A config that names the side trusts it (it is what replay runs here).
    let naming = tmp.path().join("naming.toml");
    std::fs::write(
        &naming,
        format!(
            "[replay]\ncandidate = {}\n",
            toml::Value::from(hostile.as_str())
        ),
    )
    .unwrap();
    cutover_args(&["--config", naming.to_str().unwrap(), "recheck", d])
        .assert()
        .code(0);
    assert!(marker.exists());
    // Builtins run no code from the run directory: always trusted.
    let builtin = tmp.path().join("builtin");
    with_candidate(&run, &builtin, "builtin:normalize-naive");
    let out = cutover_args(&["recheck", builtin.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "re-run, not refused: {out:?}"
    );
}

/// `recheck` writes `recheck.jsonl`, `recheck.json` and `index.html` into
/// the run directory: while another process holds the directory (a replay
/// writing into it, or another recheck), it is refused, exit 2, naming the
/// holder, and writes nothing.
#[test]
fn recheck_refuses_a_run_directory_another_process_holds() {
    let tmp = tempdir();
    let run = one_mismatch_run(tmp.path());
    let lock_path = run.join(".cutover.lock");
    let holder = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    holder.try_lock().unwrap();
    std::fs::write(&lock_path, "pid 4242\ncommand cutover replay --out run\n").unwrap();
    let before: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let stderr = stderr_of(
        &mut cutover_args(&["recheck", run.to_str().unwrap(), "--trust-run"]),
        2,
    );
    assert!(stderr.contains("4242"), "names the holder: {stderr}");
    assert!(stderr.contains(&run.display().to_string()), "{stderr}");
    assert!(!run.join("recheck.jsonl").exists());
    assert!(!run.join("recheck.json").exists());
    let after: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing written while the run is held");

    // Once the holder lets go, recheck runs and labels the record.
    drop(holder);
    cutover_args(&["recheck", run.to_str().unwrap(), "--trust-run"])
        .assert()
        .code(0);
    assert!(run.join("recheck.json").exists());
}

/// `cutover pin --check DIR` replays a user's own pinned cases: exit 0 while
/// each shows its pinned signature; exit 1 naming a case whose signature
/// changed (both signatures shown), with a JUnit file that fails that case
/// alone; exit 2 for a directory that is not there or a case that is not
/// one, naming it.
#[test]
fn pin_check_replays_a_project_s_pinned_cases_and_names_the_one_that_changed() {
    let tmp = tempdir();
    let capture = capture(
        tmp.path(),
        "two.jsonl",
        &[
            record("sep", json!({"items": ["\u{1e}e"]})),
            record("drop", json!({"items": ["\u{1e}"]})),
        ],
    );
    let run = naive_run(tmp.path(), &capture);
    let pins = tmp.path().join("pins");
    let pins_arg = pins.to_str().unwrap();
    for id in ["sep", "drop"] {
        cutover_args(&["pin", run.to_str().unwrap(), id, "--pin-dir", pins_arg])
            .assert()
            .code(0);
    }
    let cases: Vec<_> = std::fs::read_dir(&pins)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cases.len(), 2, "{cases:?}");

    let out = stdout_of(&mut cutover_args(&["pin", "--check", pins_arg]), 0);
    assert!(out.contains("2 pinned cases, 2 held, 0 changed"), "{out}");
    let json_out = stdout_of(
        &mut cutover_args(&["pin", "--check", pins_arg, "--json"]),
        0,
    );
    let v: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(v["held"], 2, "{v}");

    // Another signature pinned than the one the case shows: it changed.
    let path = pins.join("mismatch-accepted-changed.json");
    let mut case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let shows = case["reproduces"].as_str().unwrap().to_owned();
    let pinned = "mismatch /accepted/* changed (inserted \"<b>\")";
    case["reproduces"] = json!(pinned);
    std::fs::write(&path, serde_json::to_string_pretty(&case).unwrap()).unwrap();
    let junit = tmp.path().join("pins.xml");
    let assert = cutover_args(&[
        "pin",
        "--check",
        pins_arg,
        "--junit",
        junit.to_str().unwrap(),
    ])
    .assert()
    .code(1);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(out.contains("2 pinned cases, 1 held, 1 changed"), "{out}");
    assert!(out.contains("CHANGED  mismatch-accepted-changed"), "{out}");
    assert!(out.contains(&format!("pinned  {pinned}")), "{out}");
    assert!(out.contains(&format!("now     {shows}")), "{out}");
    let report =
        quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(&junit).unwrap())
            .expect("a valid JUnit file");
    let suite = &report.test_suites[0];
    assert_eq!(suite.test_cases.len(), 2);
    let failing: Vec<&str> = suite
        .test_cases
        .iter()
        .filter(|c| !matches!(c.status, quick_junit::TestCaseStatus::Success { .. }))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failing, ["mismatch-accepted-changed"]);

    // Could not run: no such directory, and a file that is no case.
    let missing = tmp.path().join("no-such-dir");
    let err = stderr_of(
        &mut cutover_args(&["pin", "--check", missing.to_str().unwrap()]),
        2,
    );
    assert!(
        err.contains(&format!(
            "cannot read the pin directory {}",
            missing.display()
        )),
        "{err}"
    );
    std::fs::write(pins.join("broken.json"), "{\"name\": 1").unwrap();
    let err = stderr_of(&mut cutover_args(&["pin", "--check", pins_arg]), 2);
    assert!(
        err.contains(&format!(
            "{}: not a pinned case",
            pins.join("broken.json").display()
        )),
        "{err}"
    );
}
