//! The tests a plain `cargo test` leaves to `scripts/test`, listed, so none
//! is skipped silently (see `util`'s module docs).

use crate::util::*;

/// Every test that starts with `left_to_scripts_test`, as `module::name`.
fn gated() -> Vec<String> {
    let dir = repo().join("tests/integration");
    let mut found = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        let module = file.file_stem().unwrap().to_str().unwrap().to_owned();
        if module == "util" || module == "services" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let mut last_fn = None;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed
                .strip_prefix("fn ")
                .or_else(|| trimmed.strip_prefix("async fn "))
            {
                last_fn = rest.split('(').next().map(str::to_owned);
            }
            if trimmed.starts_with("if left_to_scripts_test(") {
                if let Some(name) = &last_fn {
                    found.push(format!("{module}::{name}"));
                }
            }
        }
    }
    found
}

#[test]
fn left_to_scripts_test_are_listed() {
    let gated = gated();
    assert!(
        gated.iter().any(|t| t.starts_with("unleash::"))
            && gated.iter().any(|t| t.starts_with("browser::")),
        "the flag and browser tests are gated: {gated:?}"
    );
    if std::env::var_os(SERVICES).is_some_and(|v| v == "1") {
        return;
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "LEFT TO scripts/test ({} tests; they need the real Unleash server, Node, Chromium, nats-server or the pip-installed text renderers, which scripts/test provides):
  {}",
        gated.len(),
        gated.join("\n  ")
    );
}
