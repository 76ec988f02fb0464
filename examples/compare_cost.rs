//! The comparison's own cost per record, with and without comparison rules.
//!
//! Reads the first `--records` records of a normalize capture (JSON Lines),
//! answers each with both builtin ports (`normalize` as the legacy,
//! `normalize-naive` as the candidate, which differ on about 12% of generated
//! records), keeps the answer pairs in memory, then times judging every pair
//! with no rules and with the rules of `--config`, alternating the two for
//! `--rounds` rounds and keeping each one's best round. Only the comparison is
//! timed: no reading, no targets, no reports, one thread, so the ratio is
//! stable on a busy machine. Prints one line per variant and the ratio.
//!
//!     cargo run --release --example compare_cost -- TRAFFIC --config rules.toml
//!
//! `scripts/bench` runs it with five rules, one of each kind.

use cutover::compare::RuleSet;
use cutover::model::{Answer, AppError};
use cutover::normalize::{normalize_with, Whitespace};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::{Duration, Instant};

// The same allocator as the `cutover` binary, so the costs are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct Record {
    input: Box<RawValue>,
}

struct Args {
    traffic: String,
    config: String,
    records: usize,
    rounds: usize,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut out = Args {
        traffic: String::new(),
        config: String::new(),
        records: 200_000,
        rounds: 7,
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--config" => out.config = value("--config")?,
            "--records" => {
                out.records = value("--records")?
                    .parse()
                    .map_err(|e| format!("--records: {e}"))?
            }
            "--rounds" => {
                out.rounds = value("--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?
            }
            _ if out.traffic.is_empty() => out.traffic = arg,
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    if out.traffic.is_empty() || out.config.is_empty() {
        return Err(
            "usage: compare_cost TRAFFIC --config RULES.toml [--records N] [--rounds N]".into(),
        );
    }
    Ok(out)
}

fn answer(input: &RawValue, whitespace: Whitespace) -> Answer {
    match normalize_with(input, whitespace) {
        Ok(v) => Answer::output(v),
        Err(e) => Answer::Error(AppError::new(e.kind, e.message)),
    }
}

/// Judges the pairs at `indexes` once; returns the time taken.
fn judge_all(rules: &RuleSet, pairs: &[(Answer, Answer)], indexes: &[usize]) -> Duration {
    let started = Instant::now();
    for &i in indexes {
        let (a, b) = &pairs[i];
        std::hint::black_box(rules.judge(a, b));
    }
    started.elapsed()
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("compare_cost: {e}");
            return ExitCode::from(2);
        }
    };
    let loaded = match cutover::cli::config::load(Some(std::path::Path::new(&args.config))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("compare_cost: {e}");
            return ExitCode::from(2);
        }
    };
    let rules = match RuleSet::compile(&loaded.rules) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("compare_cost: {e}");
            return ExitCode::from(2);
        }
    };
    let none = RuleSet::default();
    let file = match std::fs::File::open(&args.traffic) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("compare_cost: cannot open {}: {e}", args.traffic);
            return ExitCode::from(2);
        }
    };
    let mut pairs = Vec::with_capacity(args.records);
    for line in std::io::BufReader::new(file).lines().take(args.records) {
        let Ok(line) = line else { break };
        let Ok(record) = serde_json::from_str::<Record>(&line) else {
            continue;
        };
        pairs.push((
            answer(&record.input, Whitespace::Python),
            answer(&record.input, Whitespace::Unicode),
        ));
    }
    // The whole mix, and its two parts: rules cost a few pointer walks on a
    // record whose outputs are equal, and their real work on one that differs.
    let all: Vec<usize> = (0..pairs.len()).collect();
    let (equal, differ): (Vec<usize>, Vec<usize>) =
        all.iter().partition(|&&i| pairs[i].0 == pairs[i].1);
    let parts = [
        ("all records", &all),
        ("equal outputs", &equal),
        ("different outputs", &differ),
    ];
    let mut best = [[Duration::MAX; 2]; 3];
    for _ in 0..args.rounds.max(1) {
        for (p, (_, indexes)) in parts.iter().enumerate() {
            for (v, set) in [&none, &rules].into_iter().enumerate() {
                best[p][v] = best[p][v].min(judge_all(set, &pairs, indexes));
            }
        }
    }
    println!(
        "compare_cost: {} record pairs, {} rules, best of {} rounds (ns per record: no rules / with rules = ratio)",
        pairs.len(),
        rules.rules.len(),
        args.rounds
    );
    for (p, (name, indexes)) in parts.iter().enumerate() {
        let per = |d: Duration| d.as_nanos() as f64 / indexes.len().max(1) as f64;
        let (none_ns, rules_ns) = (per(best[p][0]), per(best[p][1]));
        println!(
            "  {name:<18} {:>7} records  {none_ns:8.1} / {rules_ns:8.1} = {:.2}",
            indexes.len(),
            rules_ns / none_ns
        );
    }
    ExitCode::SUCCESS
}
