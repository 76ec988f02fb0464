//! Hostile text never reaches the terminal raw: ids, keys, inputs, answers
//! and worker stderr that carry escape sequences are printed escaped by the
//! replay summary and every `report` command, and the commands cutover
//! suggests are quoted, so pasting one into a shell runs nothing else.

use crate::util::*;
use serde_json::json;
use std::path::Path;

/// The characters a terminal acts on (only `\n` may appear raw).
fn acted_on(c: char) -> bool {
    matches!(c,
        '\0'..='\x09' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}'
        | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let raw: Vec<(usize, char)> = text.char_indices().filter(|(_, c)| acted_on(*c)).collect();
    assert!(
        raw.is_empty(),
        "{what} printed raw control characters {raw:?}:\n{}",
        text.escape_debug()
    );
}

/// Ids that clear the screen, set the window title, rewrite the `result:`
/// line, reorder text, or inject a shell command; the first one is the
/// example id of the mismatch group, so it is the one the `next:` hint names.
const HOSTILE_IDS: [&str; 6] = [
    "x; touch PWNED",
    "\u{1b}[2J\u{1b}[Hclear",
    "\u{1b}]0;PWNED-TITLE\u{7}title",
    "fake\rresult: no differences (exit 0)",
    "bidi\u{202e}desrever",
    "c1\u{9b}31m",
];

fn hostile_capture(dir: &Path) -> std::path::PathBuf {
    let mut lines: Vec<String> = HOSTILE_IDS
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "key": format!("key\u{1b}[31m{id}"),
                // C1 and bidi controls survive into pretty JSON (and diffs)
                // raw: serde_json escapes only C0 controls.
                "input": {"items": [format!(" up \u{9b}2J \u{202e}{id} ")], "plant": "upper"},
            })
            .to_string()
        })
        .collect();
    lines.push(
        json!({"id": "err\u{1b}[2J", "input": {"items": ["\u{1b}[2Jx"], "plant": "echo_error"}})
            .to_string(),
    );
    capture(dir, "hostile.jsonl", &lines)
}

#[test]
fn hostile_ids_keys_and_answers_are_printed_escaped() {
    let tmp = tempdir();
    let capture = hostile_capture(tmp.path());
    let reports = tmp.path().join("reports");
    let candidate = planted_candidate("");
    let replayed = cutover_args(&[
        "replay",
        capture.to_str().unwrap(),
        "--candidate",
        &candidate,
        "--workers",
        "1",
        "--no-progress",
        "--no-flags",
        "--reports-dir",
        reports.to_str().unwrap(),
    ])
    .assert()
    .code(1)
    .get_output()
    .clone();
    assert_inert("replay (stdout)", &replayed.stdout);
    assert_inert("replay (stderr)", &replayed.stderr);
    let text = String::from_utf8(replayed.stdout).unwrap();
    assert!(text.contains("e.g. err\\x1b[2J"), "{text}");
    assert!(text.contains("result: differences found"), "{text}");
    let run = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let dir = run.to_str().unwrap();

    let mut commands: Vec<Vec<String>> = vec![
        vec!["report".into(), dir.into()],
        vec!["report".into(), "group".into(), dir.into(), "g1".into()],
        vec!["report".into(), "group".into(), dir.into(), "g2".into()],
        vec![
            "report".into(),
            "group".into(),
            dir.into(),
            "g1".into(),
            "--side-by-side".into(),
        ],
        // Not found: the id is quoted back in the error.
        vec![
            "report".into(),
            "show".into(),
            dir.into(),
            "\u{1b}[2Jnope".into(),
        ],
    ];
    for id in HOSTILE_IDS.iter().chain(&["err\u{1b}[2J"]) {
        commands.push(vec![
            "report".into(),
            "show".into(),
            dir.into(),
            (*id).into(),
        ]);
    }
    let sgr = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap();
    for args in &commands {
        for colour in ["never", "always"] {
            let out = cutover_args(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .args(["--color", colour])
                .output()
                .unwrap();
            assert!(
                matches!(out.status.code(), Some(0..=2)),
                "{args:?}: {out:?}"
            );
            let what = format!("{args:?} --color {colour}");
            if colour == "never" {
                assert_inert(&what, &out.stdout);
            } else {
                // Colour is cutover's own SGR sequences, nothing else.
                let stdout = String::from_utf8_lossy(&out.stdout);
                let stripped = sgr.replace_all(&stdout, "");
                assert_inert(&what, stripped.as_bytes());
            }
            assert_inert(&what, &out.stderr);
        }
    }
    let shown = stdout_of(
        &mut cutover_args(&["report", "show", dir, "bidi\u{202e}desrever"]),
        0,
    );
    assert!(shown.contains("record bidi\\u{202e}desrever"), "{shown}");
    assert!(
        shown.contains("\\u{9b}2J"),
        "the diff is escaped too: {shown}"
    );

    // The `next:` hint, pasted into a shell as it is, shows the record and
    // runs nothing else.
    let next = text
        .lines()
        .find(|l| l.starts_with("next:"))
        .unwrap_or_else(|| panic!("a next: line in {text}"));
    let show = next
        .split(" · ")
        .find(|part| part.contains("cutover report show"))
        .unwrap()
        .trim_start_matches("next:")
        .trim();
    let bin = assert_cmd::cargo::cargo_bin("cutover");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pasted = std::process::Command::new("sh")
        .args(["-c", show])
        .current_dir(tmp.path())
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        !tmp.path().join("PWNED").exists(),
        "pasting {show:?} ran `touch PWNED`"
    );
    assert_eq!(pasted.status.code(), Some(0), "{show}: {pasted:?}");
    assert!(
        String::from_utf8_lossy(&pasted.stdout).contains("record x; touch PWNED"),
        "{pasted:?}"
    );
}

#[test]
fn worker_stderr_quoted_in_an_abort_reason_is_printed_escaped() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    // A legacy that writes escape sequences on stderr and dies before
    // answering: the run aborts, quoting its stderr.
    let legacy = r#"worker:python3 -c "import sys; sys.stderr.write(chr(27)+'[2J'+chr(27)+']0;T'+chr(7)+'boom'+chr(13)+'result: ok'+chr(0x202e)+chr(10)); sys.exit(1)""#;
    let replayed = replay(&out, &["--legacy", legacy, "--no-flags"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert_inert("replay (stdout)", &replayed.stdout);
    assert_inert("replay (stderr)", &replayed.stderr);
    let text = String::from_utf8(replayed.stdout).unwrap();
    assert!(
        text.contains("\\x1b[2J\\x1b]0;T\\x07boom\\rresult: ok\\u{202e}"),
        "{text}"
    );
    let report = cutover_args(&["report", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(2), "{report:?}");
    assert_inert("report (stdout)", &report.stdout);
}
