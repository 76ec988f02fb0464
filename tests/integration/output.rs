//! Writing to stdout: a closed pipe ends the output quietly (as ripgrep
//! does), any other write error is exit 2 with a message; never a panic.

use crate::util::*;
use std::process::Stdio;

/// A pipe whose read end is already closed: writing to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Stdio::from(write)
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

/// `cutover replay` of the bundled capture into `out`, as arguments.
fn replay_args(out: &std::path::Path) -> [&str; 5] {
    [
        "replay",
        "--out",
        out.to_str().unwrap(),
        "--no-progress",
        "--no-flags",
    ]
}

fn run(args: &[&str], stdout: Stdio) -> (Option<i32>, String) {
    let output = cutover_process()
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Regression (issue 9, item 17): `cutover builtins | true` and a replay
/// into a closed pipe panicked (exit 101).
#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let (code, stderr) = run(&["builtins"], closed_pipe());
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let (code, stderr) = run(&replay_args(&out), closed_pipe());
    // The report is written; the exit status is the run's own.
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(summary(&out)["exit_code"], 0);
}

/// Regression (issue 9, item 17): `cutover replay … >/dev/full` panicked
/// (exit 101). Any write error but a closed pipe is exit 2, named.
#[test]
fn a_full_stdout_is_exit_2_with_a_message() {
    let (code, stderr) = run(&["builtins"], dev_full());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot write <stdout>"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let tmp = tempdir();
    let out = tmp.path().join("run");
    let (code, stderr) = run(&replay_args(&out), dev_full());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot write <stdout>"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(summary(&out)["exit_code"], 0, "the report itself is whole");
}
