//! `cutover.toml`: settings from a file, overridden by flags.

use crate::util::*;
use predicates::str::contains;

#[test]
fn config_sets_what_flags_can_and_flags_win() {
    let tmp = tempdir();
    let config = config_file(
        tmp.path(),
        "[replay]\ncandidate = \"builtin:normalize-naive\"\nconcurrency = 3\ntimeout = \"5s\"\n",
    );
    let out = tmp.path().join("from-file");
    replay(&out, &["--config", config.to_str().unwrap()])
        .assert()
        .code(1);
    let s = summary(&out);
    assert_eq!(s["settings"]["candidate"], "builtin:normalize-naive");
    assert_eq!(s["settings"]["concurrency"], 3);
    assert_eq!(s["settings"]["timeout_ms"], 5000);

    let out = tmp.path().join("flag-wins");
    replay(
        &out,
        &[
            "--config",
            config.to_str().unwrap(),
            "--candidate",
            "builtin:normalize",
        ],
    )
    .assert()
    .code(0);
    assert_eq!(summary(&out)["settings"]["concurrency"], 3);
}

#[test]
fn a_config_typo_names_the_file_and_line() {
    let tmp = tempdir();
    let config = config_file(
        tmp.path(),
        "[replay]\nlegacy = \"builtin:normalize\"\nconcurency = 3\n",
    );
    replay(
        &tmp.path().join("run"),
        &["--config", config.to_str().unwrap()],
    )
    .assert()
    .code(2)
    .stderr(contains(
        "cutover.toml: line 3, column 1: unknown field `concurency`",
    ));
}

#[test]
fn help_shows_every_default() {
    cutover()
        .args(["replay", "--help"])
        .assert()
        .code(0)
        .stdout(contains("[default: \"worker:python3 legacy/worker.py\"]"))
        .stdout(contains("[default: builtin:normalize]"))
        .stdout(contains("[default: fixtures/normalize/capture.jsonl]"))
        .stdout(contains("[default: 10s]"));
}

#[test]
fn a_switch_the_config_turns_on_can_be_turned_off_on_the_command_line() {
    let tmp = tempdir();
    let config = config_file(
        tmp.path(),
        "[replay]\nlegacy = \"builtin:normalize\"\nnoise_probe = true\n",
    );
    let probe = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend_from_slice(extra);
        replay(&out, &args).assert().code(0);
        summary(&out)["settings"]["noise_probe"].clone()
    };
    assert_eq!(probe("file", &[]), true);
    assert_eq!(probe("off", &["--no-noise-probe"]), false);
    // The last of the pair given wins, as for any flag given twice.
    assert_eq!(
        probe("on-again", &["--no-noise-probe", "--noise-probe"]),
        true
    );
}
