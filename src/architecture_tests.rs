//! The guard of the house's direction: arrows point down only.
//!
//! # Contract
//! Each top-level module may name (`crate::NAME`, or `super::` enough times
//! to leave the module and name another) only the modules below it in
//! [`LAYERS`]; `model/` names nothing of the crate at all. Outside `cli/`,
//! nothing knows the command line, the terminal or the process: no `clap`,
//! no `anyhow`, no printing macros, no stdout, no tokio runtime of its own,
//! no `process::exit`. A failure names the file, the line and what it
//! names. Test modules (from a file's first `#[cfg(test)]` on) are not
//! looked at: tests may reach wherever they need to.

use std::path::{Path, PathBuf};

/// Every top-level module and the modules it may name, bottom up.
const LAYERS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("util", &[]),
    ("normalize", &["model", "util"]),
    ("traffic", &["model", "util"]),
    ("sides", &["model", "util", "normalize"]),
    ("compare", &["model", "util"]),
    ("contract", &["model", "util"]),
    ("flags", &["model", "util", "compare"]),
    (
        "spec",
        &[
            "model", "util", "traffic", "sides", "compare", "contract", "flags",
        ],
    ),
    (
        "engine",
        &["model", "util", "traffic", "sides", "compare", "contract"],
    ),
    (
        "report",
        &[
            "model", "util", "traffic", "sides", "compare", "contract", "flags", "spec", "engine",
        ],
    ),
    (
        "review",
        &[
            "model", "util", "traffic", "sides", "compare", "contract", "flags", "spec", "report",
        ],
    ),
    (
        "reproduce",
        &[
            "model", "util", "traffic", "sides", "compare", "contract", "flags", "spec", "engine",
            "report", "review",
        ],
    ),
    (
        "run",
        &[
            "model", "util", "traffic", "sides", "compare", "contract", "flags", "spec", "engine",
            "report",
        ],
    ),
    (
        "cluster",
        &[
            "model", "util", "traffic", "sides", "compare", "flags", "spec", "engine", "report",
            "run",
        ],
    ),
    (
        "serve",
        &[
            "model", "util", "sides", "compare", "contract", "flags", "spec", "report",
        ],
    ),
    (
        "cli",
        &[
            "cluster",
            "model",
            "util",
            "normalize",
            "traffic",
            "sides",
            "compare",
            "contract",
            "flags",
            "spec",
            "engine",
            "report",
            "review",
            "reproduce",
            "run",
            "serve",
        ],
    ),
];

/// What only `cli/` may use: the command line, the terminal, the process.
const CLI_ONLY: &[(&str, &str)] = &[
    ("clap::", "the command line (clap)"),
    ("anyhow", "anyhow (typed errors below cli/)"),
    ("println!", "printing"),
    ("print!", "printing"),
    ("eprintln!", "printing"),
    ("eprint!", "printing"),
    ("dbg!", "printing"),
    ("std::io::stdout", "stdout"),
    ("Runtime::new", "a tokio runtime"),
    ("runtime::Builder", "a tokio runtime"),
    ("process::exit", "exiting the process"),
    ("indicatif", "drawing on the terminal"),
];

/// Exceptions to [`CLI_ONLY`], each with its reason: (file under `src/`,
/// what it uses, why).
const EXCEPTIONS: &[(&str, &str, &str)] = &[(
    "flags/eval.rs",
    "anyhow",
    "the Unleash SDK's Transport trait, which it implements, returns anyhow::Error",
)];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, or `dir.rs` for a one-file module.
fn files_of(module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = src().join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let mut stack = vec![src().join(module)];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable directory").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// How deep a file's module is below the crate: `src/a.rs` and
/// `src/a/mod.rs` are 1, `src/a/b.rs` is 2.
fn depth(file: &Path) -> usize {
    let rel = file.strip_prefix(src()).expect("under src/");
    let parts = rel.components().count();
    if rel.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// The code of a line: what comes before a `//` comment (a rough cut that
/// is right for this crate: no `//` inside the strings it checks).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// The crate modules a line of code names.
fn named(line: &str, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    let line = code(line);
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        let after = &rest[at + "crate::".len()..];
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        rest = after;
    }
    // `super::` as many times as the file is deep leaves its module.
    let escape = "super::".repeat(depth);
    let mut rest = line;
    while let Some(at) = rest.find(&escape) {
        let after = &rest[at + escape.len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && name != "super" {
            out.push(name);
        }
        rest = after;
    }
    out
}

/// Whether `code` has `needle` as a whole word (`eprintln!` is not
/// `println!`).
fn uses(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(at, _)| {
        !code[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The lines of a file before its tests.
fn lines_before_tests(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).expect("a readable source file");
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

fn violations() -> Vec<String> {
    let modules: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let mut found = Vec::new();
    for (module, allowed) in LAYERS {
        for file in files_of(module) {
            let shown = file.strip_prefix(src()).unwrap().display().to_string();
            let depth = depth(&file);
            for (n, line) in lines_before_tests(&file) {
                for name in named(&line, depth) {
                    let is_module = modules.contains(&name.as_str());
                    if name == *module || (is_module && allowed.contains(&name.as_str())) {
                        continue;
                    }
                    if *module == "model" || is_module {
                        found.push(format!("src/{shown}:{n}: {module} names crate::{name}"));
                    }
                }
                if *module != "cli" {
                    for (needle, what) in CLI_ONLY {
                        let excused = EXCEPTIONS
                            .iter()
                            .any(|(f, n, _)| *f == shown && needle.starts_with(n));
                        if uses(code(&line), needle) && !excused {
                            found.push(format!(
                                "src/{shown}:{n}: {module} uses {what} ({needle}), which only cli/ may"
                            ));
                        }
                    }
                }
            }
        }
    }
    found
}

#[test]
fn arrows_point_down_only() {
    let found = violations();
    assert!(
        found.is_empty(),
        "{} place(s) break the direction of the house:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn every_module_has_a_place_in_the_house() {
    let known: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let is_module = path.is_dir() || path.extension().is_some_and(|e| e == "rs");
        if is_module
            && !known.contains(&name.as_str())
            && !matches!(name.as_str(), "lib" | "main" | "architecture_tests")
        {
            strays.push(name);
        }
    }
    assert!(
        strays.is_empty(),
        "modules with no layer (add them to LAYERS, in their place): {strays:?}"
    );
}

#[test]
fn the_guard_sees_what_it_guards() {
    assert_eq!(named("use crate::cli::pick;", 2), ["cli"]);
    assert_eq!(
        named("let x = crate::report::Counts::default();", 1),
        ["report"]
    );
    assert_eq!(named("use super::super::engine::Event;", 2), ["engine"]);
    assert!(named("use super::Walker;", 2).is_empty());
    assert!(named("// see crate::cli", 1).is_empty());
    assert!(named("$crate::x!()", 1).is_empty());
    assert!(uses("eprintln!(\"x\")", "eprintln!") && !uses("eprintln!(\"x\")", "println!"));
}
