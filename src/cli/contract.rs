//! `cutover contract infer RUN`: a draft output schema and `[contract]`
//! section from what a run's legacy answered.
//!
//! Reads the run's `legacy-shape.json` (every legacy answer of the run, as
//! a bounded shape: [`crate::contract::shape`]), never re-runs anything,
//! and writes `output.schema.json` and `contract.toml` into `--out`
//! (default `RUN/contract-draft`), each atomically.

use super::args::InferArgs;
use super::report::open_run;
use super::Exit;
use crate::contract::infer;
use crate::contract::shape::{AnswerShapes, SHAPE_FILE};
use anyhow::Context;
use std::path::Path;

/// The schema file's name in the draft directory.
const SCHEMA_FILE: &str = "output.schema.json";
/// The draft section's file name.
const TOML_FILE: &str = "contract.toml";

pub fn infer(args: InferArgs, config: Option<&Path>) -> anyhow::Result<Exit> {
    let run = open_run(&args.runs, &args.run, config)?;
    let shape_path = run.dir.join(SHAPE_FILE);
    let text = std::fs::read_to_string(&shape_path).with_context(|| {
        format!(
            "cannot read {}: the run was written by a cutover without it; replay it again",
            shape_path.display()
        )
    })?;
    let shapes: AnswerShapes = serde_json::from_str(&text)
        .with_context(|| format!("{} is damaged; replay the run again", shape_path.display()))?;
    let out = args.out.unwrap_or_else(|| run.dir.join("contract-draft"));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create {}; pick another --out", out.display()))?;
    let schema = serde_json::to_string_pretty(&infer::schema(&shapes))? + "\n";
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        crate::util::atomic_file::write(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    };
    write(SCHEMA_FILE, &schema)?;
    write(TOML_FILE, &infer::contract_toml(&shapes, SCHEMA_FILE))?;
    super::print(&format!(
        "drafted from {} legacy outputs and {} error types of run {}:\n  {}\n  {}\nedit them, then add the [contract] section to cutover.toml\n",
        shapes.outputs.seen,
        shapes.errors.len(),
        shapes.run_id,
        out.join(SCHEMA_FILE).display(),
        out.join(TOML_FILE).display(),
    ))?;
    Ok(Exit::Clean)
}
