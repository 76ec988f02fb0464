//! Flag decisions per second through cutover's one evaluation path (the
//! official Rust SDK), after warm-up.
//!
//!     cargo run --release --example flag_decisions -- [FLAGS_FILE] [DECISIONS]
//!
//! Loads FLAGS_FILE (default `flags.json`) with the serve flag rewritten to
//! 25% so that both outcomes occur, then times, over 10,000 distinct keys:
//! - `decide`: both flags of the migration for one key, as replay and the
//!   Router call it (remembered per key when the state allows it, see
//!   `flags::memo`);
//! - `2 flags, SDK`: the same two answers asked of the SDK every time;
//! - `one flag, SDK`: one `is_enabled` through the SDK.
//!
//! Prints one line each: `NAME decisions/s ns/decision`. `scripts/bench`
//! runs it.

use cutover::flags::state::{parse_features, Origin, Snapshot};
use cutover::flags::{Evaluator, FlagNames, Stickiness};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "flags.json".into());
    let n: usize = args
        .next()
        .map_or(2_000_000, |s| s.parse().expect("DECISIONS is a number"));
    let text = std::fs::read_to_string(&path).expect("flag file readable");
    let names = FlagNames::derived("normalize");
    let text = text.replace("\"rollout\": \"0\"", "\"rollout\": \"25\"");
    let features = parse_features(text.as_bytes()).expect("flag file parses");
    let eval = Evaluator::offline(names.clone(), Stickiness::UserId).expect("SDK client");
    eval.load(Snapshot {
        features,
        origin: Origin::File { path },
        fetched_at: chrono::Utc::now(),
    })
    .expect("state loads");
    let keys: Vec<String> = (0..10_000).map(|i| format!("user-{i}")).collect();
    let run = |label: &str, f: &dyn Fn(&str) -> bool| {
        for key in keys.iter().cycle().take(200_000) {
            black_box(f(key));
        }
        let started = Instant::now();
        let mut on = 0usize;
        for key in keys.iter().cycle().take(n) {
            on += usize::from(black_box(f(black_box(key))));
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{label:<18} {:>12.0} decisions/s {:>8.1} ns/decision  ({:.1}% on)",
            n as f64 / secs,
            secs * 1e9 / n as f64,
            on as f64 * 100.0 / n as f64
        );
    };
    println!("remembered per key: {}", eval.remembers_decisions());
    run("decide", &|k| {
        eval.decide(Some(k)).serving == cutover::target::Side::Candidate
    });
    run("2 flags, SDK", &|k| {
        let shadow = eval.is_on(&names.shadow, k);
        eval.is_on(&names.serve, k) && shadow
    });
    run("one flag, SDK", &|k| eval.is_on(&names.serve, k));
}
