//! Writing a run's report files: one run per directory, the files' modes,
//! output paths checked before any record is read, bounded diffs.

use crate::util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn summary_and_page_get_the_mode_of_the_other_report_files() {
    let tmp = tempdir();
    let out = tmp.path().join("run");
    replay(&out, &["--candidate", "builtin:normalize-naive"])
        .assert()
        .code(1);
    let csv = mode(&out.join("mismatches.csv"));
    for file in ["summary.json", "index.html", "diffs.txt", "rejected.jsonl"] {
        assert_eq!(
            format!("{:o}", mode(&out.join(file))),
            format!("{csv:o}"),
            "{file} has the mode of mismatches.csv (what the umask gives)"
        );
    }
}
