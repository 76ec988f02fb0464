//! Flag decisions per second through cutover's one evaluation path (the
//! official Rust SDK), after warm-up.
//!
//!     cargo run --release --example flag_decisions -- [FLAGS_FILE] [DECISIONS]
//!
//! Loads FLAGS_FILE (default `flags.json`, shadow 100% and serve 0%), and the
//! same with serve rewritten to 25% so that both outcomes occur, then times:
//! - `decide`: both flags of the migration for one key, as replay and the
//!   Router call it (see `flags::eval`'s plan: a flag that is the same for
//!   every key is asked once per state, the rest remembered per key when the
//!   state allows it): with the bundled state; at 25% over 10,000 keys
//!   (remembered); at 25% over 1,000,000 keys (more than a thread
//!   remembers, so mostly asked of the SDK);
//! - `2 flags, SDK`: the two answers asked of the SDK every time;
//! - `one flag, SDK`: one `is_enabled` through the SDK.
//!
//! Prints one line each: `NAME decisions/s ns/decision`. `scripts/bench`
//! runs it.

use cutover::flags::state::{parse_features, Origin, Snapshot};
use cutover::flags::{Evaluator, FlagNames, Stickiness};
use cutover::model::Side;
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
    let load = |text: &str| {
        let eval = Evaluator::offline(names.clone(), Stickiness::UserId).expect("SDK client");
        eval.load(Snapshot {
            features: parse_features(text.as_bytes()).expect("flag file parses"),
            origin: Origin::File { path: path.clone() },
            fetched_at: chrono::Utc::now(),
        })
        .expect("state loads");
        eval
    };
    let bundled = load(&text);
    let eval = load(&text.replace("\"rollout\": \"0\"", "\"rollout\": \"25\""));
    let hot: Vec<String> = (0..10_000).map(|i| format!("user-{i}")).collect();
    let many: Vec<String> = (0..1_000_000).map(|i| format!("user-{i}")).collect();
    let run = |label: &str, keys: &[String], f: &dyn Fn(&str) -> bool| {
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
            "{label:<30} {:>12.0} decisions/s {:>8.1} ns/decision  ({:.1}% on)",
            n as f64 / secs,
            secs * 1e9 / n as f64,
            on as f64 * 100.0 / n as f64
        );
    };
    let candidate = |e: &Evaluator, k: &str| e.decide(Some(k)).serving == Side::Candidate;
    run("decide, bundled state", &hot, &|k| candidate(&bundled, k));
    run("decide, serve 25%, 10k keys", &hot, &|k| {
        candidate(&eval, k)
    });
    run("decide, serve 25%, 1M keys", &many, &|k| {
        candidate(&eval, k)
    });
    run("2 flags, SDK", &hot, &|k| {
        let shadow = eval.is_on(&names.shadow, k);
        eval.is_on(&names.serve, k) && shadow
    });
    run("one flag, SDK", &hot, &|k| eval.is_on(&names.serve, k));
}
