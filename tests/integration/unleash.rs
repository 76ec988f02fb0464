//! Flags against the real Unleash server (unleash-server 7.5.1 on Node 20
//! with a throwaway PostgreSQL), the official Node SDK and the official SDK
//! conformance suite. `scripts/test` starts the server, exports
//! `UNLEASH_TEST_*` and `CUTOVER_TEST_SERVICES=1`; then these tests run, and
//! fail (saying so) when a variable is missing. A plain `cargo test` leaves
//! them to `scripts/test`, saying so ([`left_to_scripts_test`]).

use crate::util::*;
use cutover::flags::server_source::ServerSource;
use cutover::flags::state::{parse_features, Origin, Snapshot};
use cutover::flags::{Basis, Evaluator, FlagNames, FlagSettings, Router, Source, Stickiness};
use cutover::model::Side;
use predicates::str::contains;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the flag tests need the real Unleash server, the Node SDK and the \
             conformance suite that scripts/test installs and starts. Run scripts/test"
        )
    })
}

struct Server {
    url: String,
    client_secret: String,
    admin_token: String,
}

fn server() -> Server {
    Server {
        url: env("UNLEASH_TEST_URL"),
        client_secret: env("UNLEASH_TEST_CLIENT_SECRET"),
        admin_token: env("UNLEASH_TEST_ADMIN_TOKEN"),
    }
}

/// A migration name no other test (or earlier run on the same database) uses.
fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_millis()
    )
}

fn settings(migration: &str, url: &str, secret: &str, dir: &Path) -> FlagSettings {
    FlagSettings {
        migration: migration.into(),
        names: FlagNames::derived(migration),
        stickiness: Stickiness::UserId,
        source: Source::Server {
            url: url.into(),
            secret: Some(secret.into()),
            secret_from: None,
        },
        source_configured: true,
        project: "default".into(),
        environment: "development".into(),
        ladder: vec![1, 5, 25, 50, 100],
        min_records: 1000,
        max_mismatch_bound: 0.005,
        cache: dir.join("cache.json"),
        audit_log: dir.join("audit.jsonl"),
        poll_interval: Duration::from_millis(250),
        timeout: Duration::from_secs(2),
    }
}

/// `cutover --config DIR/cutover.toml ...` against `url`, with the tokens in
/// the environment (and nothing from the test's own environment).
fn cli(dir: &Path, migration: &str, url: &str, s: &Server) -> assert_cmd::Command {
    let config = config_file(
        dir,
        &format!(
            "[flags]\nsource = {url:?}\nmigration = {migration:?}\ncache = {:?}\naudit_log = {:?}\ntimeout = \"3s\"\n",
            dir.join("cache.json").display().to_string(),
            dir.join("audit.jsonl").display().to_string()
        ),
    );
    let mut cmd = cutover();
    cmd.env_remove("UNLEASH_API_URL")
        .env("UNLEASH_CLIENT_SECRET", &s.client_secret)
        .env("UNLEASH_ADMIN_TOKEN", &s.admin_token)
        .arg("--config")
        .arg(config);
    cmd
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key-{i}")).collect()
}

fn served(eval: &Evaluator, keys: &[String]) -> BTreeSet<String> {
    keys.iter()
        .filter(|k| eval.decide(Some(k)).serving == Side::Candidate)
        .cloned()
        .collect()
}

/// The server's client API, read directly, loaded into a fresh evaluator.
async fn server_view(s: &Server, migration: &str) -> Evaluator {
    let body = reqwest::Client::new()
        .get(format!("{}/client/features", s.url))
        .header("Authorization", &s.client_secret)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let eval = Evaluator::offline(FlagNames::derived(migration), Stickiness::UserId).unwrap();
    eval.load(Snapshot {
        features: parse_features(&body).unwrap(),
        origin: Origin::Server { url: s.url.clone() },
        fetched_at: chrono::Utc::now(),
    })
    .unwrap();
    eval
}

/// Waits until the server's client API has the serve flag at `percent` (and,
/// with `shadow`, the shadow flag at that percentage).
async fn until_published(
    s: &Server,
    migration: &str,
    percent: f64,
    shadow: Option<f64>,
) -> Evaluator {
    let started = Instant::now();
    loop {
        let view = server_view(s, migration).await;
        let features = view.snapshot().unwrap().features.clone();
        let names = FlagNames::derived(migration);
        let flag = cutover::flags::state::FlagView::of(&features, &names.serve);
        let shadow_flag = cutover::flags::state::FlagView::of(&features, &names.shadow);
        let shadow_ok =
            shadow.is_none_or(|p| shadow_flag.present && shadow_flag.percent == Some(p));
        if flag.present && flag.percent == Some(percent) && shadow_ok {
            return view;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the server never published {percent}%"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the router's decisions equal `expected`; returns how long it took.
async fn until_routed(eval: &Evaluator, keys: &[String], expected: &BTreeSet<String>) -> Duration {
    let started = Instant::now();
    loop {
        if &served(eval, keys) == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "routing did not follow the server within 10 s: {} keys served, {} expected",
            served(eval, keys).len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_serve_25_through_the_admin_api_reroutes_a_running_router_and_rollback_undoes_it() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let s = server();
    let tmp = tempdir();
    let m = unique("set");
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "set", "shadow", "100"])
        .assert()
        .code(0);
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "set", "serve", "0"])
        .assert()
        .code(0)
        .stdout(contains("created"));
    until_published(&s, &m, 0.0, Some(100.0)).await;

    let source = ServerSource::new(
        &settings(&m, &s.url, &s.client_secret, tmp.path()),
        &s.url,
        Some(s.client_secret.clone()),
    )
    .unwrap();
    assert_eq!(source.start().await, None);
    let stop = tokio_util::sync::CancellationToken::new();
    let polling = source.spawn_polling(stop.clone());
    let router = Router::new(source.evaluator().clone());
    let keys = keys(2000);
    assert!(served(source.evaluator(), &keys).is_empty());
    assert!(router.decide(Some("key-1")).mirrored);

    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "set", "serve", "25"])
        .assert()
        .code(0)
        .stdout(contains("0% -> 25%"));
    let changed = Instant::now();
    let expected = served(&until_published(&s, &m, 25.0, None).await, &keys);
    assert!(
        (400..600).contains(&expected.len()),
        "{} of 2000 keys at 25%",
        expected.len()
    );
    until_routed(source.evaluator(), &keys, &expected).await;
    let took = changed.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    eprintln!("serve 25%: routing followed the Admin API change in {took:?}");

    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "rollback"])
        .assert()
        .code(0)
        .stdout(contains("25% -> 0%"));
    let rolled = Instant::now();
    until_routed(source.evaluator(), &keys, &BTreeSet::new()).await;
    eprintln!("rollback: routing followed in {:?}", rolled.elapsed());
    let audit = std::fs::read_to_string(tmp.path().join("audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 4);
    assert!(audit
        .lines()
        .last()
        .unwrap()
        .contains("\"action\":\"rollback\""));
    assert!(
        !audit.contains(&s.admin_token),
        "the admin token never reaches the audit log"
    );
    stop.cancel();
    polling.await.unwrap();
}

#[test]
fn promote_against_the_server_is_refused_on_mismatches_and_accepted_when_clean() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let s = server();
    let tmp = tempdir();
    let m = unique("promote");
    let reports = tmp.path().join("reports");
    let reports_arg = reports.to_str().unwrap();
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "set", "shadow", "100"])
        .assert()
        .code(0);
    cli(tmp.path(), &m, &s.url, &s)
        .args([
            "replay",
            "--no-progress",
            "--reports-dir",
            reports_arg,
            "--candidate",
            "builtin:normalize-naive",
        ])
        .assert()
        .code(1);
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "promote", "--reports-dir", reports_arg])
        .assert()
        .code(1)
        .stdout(contains("promote refused"))
        .stdout(contains("613 against the candidate"));
    cli(tmp.path(), &m, &s.url, &s)
        .args(["replay", "--no-progress", "--reports-dir", reports_arg])
        .assert()
        .code(0)
        .stdout(contains(format!("(server {})", s.url)));
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "promote", "--reports-dir", reports_arg])
        .assert()
        .code(0)
        .stdout(contains("cutover.".to_owned() + &m + ".serve: 0% -> 1%"))
        .stdout(contains("created"));
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "promote", "--reports-dir", reports_arg])
        .assert()
        .code(0)
        .stdout(contains("1% -> 5%"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_flag_file_imports_into_the_server_with_its_rollout() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let s = server();
    let tmp = tempdir();
    let m = unique("import");
    // The bundled flags.json, for a migration of this test's own.
    let text = std::fs::read_to_string(repo().join("flags.json"))
        .unwrap()
        .replace("cutover.normalize.", &format!("cutover.{m}."));
    let file = tmp.path().join("flags.json");
    std::fs::write(&file, text).unwrap();
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "import"])
        .arg(&file)
        .assert()
        .code(0)
        .stdout(contains(format!(
            "cutover.{m}.shadow: created (enabled, 100%)"
        )))
        .stdout(contains(format!(
            "cutover.{m}.serve: created (enabled, 0%)"
        )));
    let view = until_published(&s, &m, 0.0, Some(100.0)).await;
    assert!(view.decide(Some("key-1")).mirrored);
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "import"])
        .arg(&file)
        .assert()
        .code(0)
        .stdout(contains("exists on the server; left as it is"));
    // The server now drives status the way the file did.
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "status"])
        .assert()
        .code(0)
        .stdout(contains(format!("from server {}", s.url)))
        .stdout(contains("on for 5037 of 5037 records with a key (100.00%)"));
}

/// A second unleash-server of the test's own, on the shared database, that
/// the test can kill.
struct OwnServer {
    child: std::process::Child,
    url: String,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn own_server(dir: &Path) -> OwnServer {
    let port = free_port();
    let log = std::fs::File::create(dir.join("own-unleash.log")).unwrap();
    let child = std::process::Command::new("node")
        .arg(env("UNLEASH_TEST_SERVER_JS"))
        .env("DATABASE_URL", env("UNLEASH_TEST_DATABASE_URL"))
        .env("DATABASE_SSL", "false")
        .env("HTTP_HOST", "127.0.0.1")
        .env("HTTP_PORT", port.to_string())
        .env("CHECK_VERSION", "false")
        .env("SEND_TELEMETRY", "false")
        .env("TZ", "UTC")
        .env("LOG_LEVEL", "warn")
        .current_dir(dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("node starts");
    let server = OwnServer {
        child,
        url: format!("http://127.0.0.1:{port}/api"),
    };
    let health = format!("http://127.0.0.1:{port}/health");
    let started = Instant::now();
    let http = reqwest::Client::new();
    while http
        .get(&health)
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "own unleash-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_run_keeps_the_last_state_and_a_restart_resumes_it_from_the_cache() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let s = server();
    let tmp = tempdir();
    let m = unique("kill");
    cli(tmp.path(), &m, &s.url, &s)
        .args(["flags", "set", "serve", "50"])
        .assert()
        .code(0);
    let mut own = own_server(tmp.path()).await;
    let settings = settings(&m, &own.url, &s.client_secret, tmp.path());
    let keys = keys(1000);

    let source = ServerSource::new(&settings, &own.url, Some(s.client_secret.clone())).unwrap();
    // The second server refreshes its own cache from the database: wait for 50%.
    let started = Instant::now();
    loop {
        source.fetch_once().await.unwrap();
        let view = source.evaluator().snapshot().unwrap();
        let serve = cutover::flags::state::FlagView::of(&view.features, &settings.names.serve);
        if serve.percent == Some(50.0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "own server never served the flag"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let polling = source.spawn_polling(stop.clone());
    let before = served(source.evaluator(), &keys);
    assert!((400..600).contains(&before.len()), "{}", before.len());

    own.child.kill().unwrap();
    own.child.wait().unwrap();
    let killed = Instant::now();
    while source.health().failing.is_none() {
        assert_eq!(
            served(source.evaluator(), &keys),
            before,
            "routing changed during the outage"
        );
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "the outage was never noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..10 {
        assert_eq!(served(source.evaluator(), &keys), before);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    polling.await.unwrap();

    // A restart during the outage resumes the last rollout from the cache.
    let restarted = ServerSource::new(&settings, &own.url, Some(s.client_secret.clone())).unwrap();
    let problem = restarted.start().await.expect("the outage is reported");
    assert!(
        problem.contains("unreachable") && problem.contains("last-known-good"),
        "{problem}"
    );
    assert_eq!(served(restarted.evaluator(), &keys), before);
    assert!(matches!(
        restarted.evaluator().snapshot().unwrap().origin,
        Origin::Cache { .. }
    ));

    // So does a replay: it runs, from the cache, and says so.
    let out = tmp.path().join("run");
    let mut cmd = cli(tmp.path(), &m, &own.url, &s);
    cmd.args(["replay", "--no-progress", "--out"])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(contains("last-known-good cache"))
        .stderr(contains("cannot use the Unleash server"));
    let r = summary(&out)["rollout"].clone();
    assert_eq!(r["state"], "known");
    let serves = r["candidate_serves"].as_u64().unwrap();
    assert!((2000..3000).contains(&serves), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_starts_legacy_only_and_secrets_are_never_printed() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let s = server();
    let tmp = tempdir();
    let m = unique("token");
    let wrong = "default:development.not-a-real-token-0123456789";
    let settings = settings(&m, &s.url, wrong, tmp.path());
    let source = ServerSource::new(&settings, &s.url, Some(wrong.into())).unwrap();
    let problem = source.start().await.expect("a rejected token is reported");
    assert!(problem.contains("rejected the backend token"), "{problem}");
    assert!(problem.contains("UNLEASH_CLIENT_SECRET"), "{problem}");
    assert_eq!(source.evaluator().decide(Some("k")).basis, Basis::NoState);

    let bad_admin = "*:*.definitely-wrong-admin-token-4242";
    let assert = cli(tmp.path(), &m, &s.url, &s)
        .env("UNLEASH_ADMIN_TOKEN", bad_admin)
        .args(["flags", "set", "serve", "5"])
        .assert()
        .code(2)
        .stderr(contains("UNLEASH_ADMIN_TOKEN"));
    let out = assert.get_output();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("definitely-wrong"),
        "the token was printed: {all}"
    );
    cli(tmp.path(), &m, &s.url, &s)
        .env_remove("UNLEASH_ADMIN_TOKEN")
        .args(["flags", "rollback"])
        .assert()
        .code(2)
        .stderr(contains("UNLEASH_ADMIN_TOKEN is not set"));
    cli(tmp.path(), &m, "http://127.0.0.1:9/api", &s)
        .args(["flags", "set", "serve", "5"])
        .assert()
        .code(2)
        .stderr(contains("cannot reach the server"));
    // A replay with the server out of reach and no cache still runs, legacy only.
    let out = tmp.path().join("run");
    cli(tmp.path(), &m, "http://127.0.0.1:9/api", &s)
        .args(["replay", "--no-progress", "--out"])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(contains(
            "rollout     unknown (cannot use the Unleash server",
        ))
        .stderr(contains("no last-known-good copy"));
    let r = summary(&out)["rollout"].clone();
    assert_eq!(
        (r["state"].as_str(), r["candidate_serves"].as_u64()),
        (Some("unknown"), Some(0))
    );
}

// ---------------------------------------------------------------- stickiness

fn node_modules() -> PathBuf {
    PathBuf::from(env("UNLEASH_TEST_NODE_MODULES"))
}

/// One flexibleRollout flag per percentage, with the given stickiness.
fn rollout_file(dir: &Path, percents: &[u32], stickiness: &str) -> (PathBuf, String) {
    let features: Vec<Value> = percents
        .iter()
        .map(|p| {
            let name = format!("sticky.{stickiness}.{p}");
            serde_json::json!({
                "name": name, "enabled": true, "type": "release", "project": "default",
                "strategies": [{"name": "flexibleRollout", "constraints": [],
                    "parameters": {"rollout": p.to_string(), "stickiness": stickiness, "groupId": name}}]
            })
        })
        .collect();
    let text = serde_json::json!({"version": 2, "features": features}).to_string();
    let path = dir.join(format!("rollout-{stickiness}.json"));
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

#[test]
fn stickiness_equals_the_official_node_sdk_on_10000_keys() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let _ = node_modules();
    let tmp = tempdir();
    let percents = [0, 1, 5, 25, 50, 99, 100];
    for field in ["userId", "sessionId", "tenantId"] {
        let (path, text) = rollout_file(tmp.path(), &percents, field);
        let output = std::process::Command::new("node")
            .arg(repo().join("tests/unleash/stickiness.js"))
            .arg(&path)
            .arg("10000")
            .arg(field)
            .env("NODE_PATH", node_modules())
            .output()
            .expect("node runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let reference: std::collections::BTreeMap<String, Vec<usize>> =
            serde_json::from_slice(&output.stdout).unwrap();
        let eval = Evaluator::offline(FlagNames::derived("x"), Stickiness::parse(field)).unwrap();
        eval.load(Snapshot {
            features: parse_features(text.as_bytes()).unwrap(),
            origin: Origin::File {
                path: path.display().to_string(),
            },
            fetched_at: chrono::Utc::now(),
        })
        .unwrap();
        for p in percents {
            let flag = format!("sticky.{field}.{p}");
            let ours: Vec<usize> = (0..10_000)
                .filter(|i| eval.is_on(&flag, &format!("key-{i}")))
                .collect();
            let theirs = &reference[&flag];
            assert_eq!(
                &ours, theirs,
                "{flag}: cutover and the Node SDK route different keys"
            );
            // And the share is what the percentage says (within 1.5 points).
            let share = ours.len() as f64 / 100.0;
            assert!((share - f64::from(p)).abs() <= 1.5, "{flag}: {share}%");
        }
    }
}

// ---------------------------------------------------------------- conformance

#[test]
fn the_official_sdk_conformance_suite_passes_on_cutovers_evaluation_path() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let dir = node_modules().join("@unleash/client-specification/specifications");
    let index: Vec<String> =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert!(index.len() >= 20, "{index:?}");
    let (mut cases, mut variant_cases) = (0, 0);
    let mut failures = Vec::new();
    for suite_file in &index {
        let suite: Value =
            serde_json::from_slice(&std::fs::read(dir.join(suite_file)).unwrap()).unwrap();
        let eval =
            Evaluator::offline(FlagNames::derived("conformance"), Stickiness::UserId).unwrap();
        let state = suite["state"].clone();
        if state.get("events").is_some() {
            // Delta suites (19, 20): the state is a delta update message.
            eval.load_update(serde_json::from_value(state).unwrap())
                .unwrap();
        } else {
            eval.load(Snapshot {
                features: serde_json::from_value(state)
                    .unwrap_or_else(|e| panic!("{suite_file}: {e}")),
                origin: Origin::File {
                    path: suite_file.clone(),
                },
                fetched_at: chrono::Utc::now(),
            })
            .unwrap();
        }
        for case in suite["tests"].as_array().into_iter().flatten() {
            cases += 1;
            let ctx: unleash_api_client::Context = serde_json::from_value(case["context"].clone())
                .unwrap_or_else(|e| panic!("{suite_file}: {}: context: {e}", case["description"]));
            let flag = case["toggleName"].as_str().unwrap();
            let got = eval.is_enabled(flag, &ctx);
            if Some(got) != case["expectedResult"].as_bool() {
                failures.push(format!("{suite_file}: {}: got {got}", case["description"]));
            }
        }
        for case in suite["variantTests"].as_array().into_iter().flatten() {
            variant_cases += 1;
            let ctx: unleash_api_client::Context = serde_json::from_value(case["context"].clone())
                .unwrap_or_else(|e| panic!("{suite_file}: {}: context: {e}", case["description"]));
            let flag = case["toggleName"].as_str().unwrap();
            let expected = &case["expectedResult"];
            let variant = eval.variant(flag, &ctx);
            let payload: std::collections::HashMap<String, String> = match expected.get("payload") {
                Some(p) if !p.is_null() => serde_json::from_value(p.clone()).unwrap(),
                _ => Default::default(),
            };
            let mut ok = variant.name == expected["name"].as_str().unwrap()
                && Some(variant.enabled) == expected["enabled"].as_bool()
                && variant.payload == payload;
            if let Some(feature_enabled) = expected.get("feature_enabled").and_then(Value::as_bool)
            {
                ok &= eval.is_enabled(flag, &ctx) == feature_enabled;
            }
            if !ok {
                failures.push(format!(
                    "{suite_file}: {}: got {variant:?}, expected {expected}",
                    case["description"]
                ));
            }
        }
    }
    eprintln!(
        "conformance: {} suites, {cases} enabled cases, {variant_cases} variant cases",
        index.len()
    );
    assert!(cases > 200 && variant_cases > 40, "{cases} {variant_cases}");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases + variant_cases,
        failures.join("\n")
    );
}

#[test]
fn no_secret_leaves_through_a_gateway_that_echoes_them_in_front_of_the_real_server() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    use base64::Engine;
    let s = server();
    let tmp = tempdir();
    let m = unique("echo");
    let upstream = s.url.trim_end_matches("/api");
    let gateway = Double::start(tmp.path(), "echo_gateway.py", &[upstream, "/strategies"]);
    let url = gateway
        .origin()
        .replace("http://", "http://gwuser:gw-pass-8080@")
        + "/api";
    let shown = format!("{}/api", gateway.origin());
    let mut printed = String::new();
    // An Admin API call the gateway answers with the request's headers.
    let output = cli(tmp.path(), &m, &url, &s)
        .env("CUTOVER_LOG", "debug")
        .args(["flags", "set", "shadow", "100"])
        .assert()
        .code(2)
        .stderr(contains("HTTP 502"))
        .stderr(contains("<redacted>"))
        .stderr(contains(format!("Unleash Admin API at {shown}")))
        .get_output()
        .clone();
    printed.push_str(&output_text(&output));
    // The client API through the gateway works: the state is cached.
    let output = cli(tmp.path(), &m, &url, &s)
        .env("CUTOVER_LOG", "debug")
        .args(["flags", "status"])
        .assert()
        .code(0)
        .stdout(contains(format!("from server {shown}")))
        .get_output()
        .clone();
    printed.push_str(&output_text(&output));
    assert!(tmp.path().join("cache.json").exists());
    let output = cli(tmp.path(), &m, &url, &s)
        .env("CUTOVER_LOG", "debug")
        .args(["replay", "--no-progress", "--out"])
        .arg(tmp.path().join("run"))
        .assert()
        .code(0)
        .stdout(contains(format!("(server {shown})")))
        .get_output()
        .clone();
    printed.push_str(&output_text(&output));
    let basic = base64::engine::general_purpose::STANDARD.encode("gwuser:gw-pass-8080");
    let secrets = [
        s.admin_token.as_str(),
        s.client_secret.as_str(),
        "gw-pass-8080",
        basic.as_str(),
        "gwuser:",
    ];
    for secret in secrets {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
    // The config file holds the URL as the user wrote it; nothing else may.
    std::fs::remove_file(tmp.path().join("cutover.toml")).unwrap();
    let files = files_containing(tmp.path(), &secrets);
    assert!(files.is_empty(), "a secret written:\n{}", files.join("\n"));
}

/// A new migration on the real server with its shadow and serve flags at
/// these percentages (published), and a config for `cutover serve` that
/// polls it every 250 ms, its audit log at `serve-audit.jsonl` in the
/// returned directory.
async fn serve_migration(
    prefix: &str,
    shadow: u8,
    serve: u8,
) -> (Server, String, tempfile::TempDir, PathBuf) {
    let s = server();
    let m = unique(prefix);
    let tmp = tempdir();
    for (flag, percent) in [("shadow", shadow), ("serve", serve)] {
        cli(tmp.path(), &m, &s.url, &s)
            .args(["flags", "set", flag, &percent.to_string()])
            .assert()
            .code(0);
    }
    until_published(&s, &m, f64::from(serve), Some(f64::from(shadow))).await;
    let config = tmp.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[flags]\nsource = {:?}\nmigration = {m:?}\ncache = {:?}\naudit_log = {:?}\ntimeout = \"3s\"\npoll_interval = \"250ms\"\n",
            s.url,
            tmp.path().join("serve-cache.json").display().to_string(),
            tmp.path().join("serve-audit.jsonl").display().to_string()
        ),
    )
    .unwrap();
    (s, m, tmp, config)
}

/// `cutover serve` with the candidate serving every key and a planted
/// divergence on every request: once the live upper bound passes the
/// rollback bound, the legacy serves at once (local override), and with
/// `UNLEASH_ADMIN_TOKEN` set the serve flag goes to 0 on the real server,
/// with the window's evidence in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_rolls_back_on_a_live_divergence_and_sets_the_serve_flag_to_0_on_the_server() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let (s, m, tmp, config) = serve_migration("servrb", 100, 100).await;
    let audit = tmp.path().join("serve-audit.jsonl");
    let serving = crate::serve::start_serve_env(
        &tmp.path().join("live"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--legacy",
            "builtin:normalize",
            "--candidate",
            "builtin:normalize-naive",
            "--min-samples",
            "20",
            "--rollback-bound",
            "0.05",
        ],
        &[
            ("UNLEASH_CLIENT_SECRET", &s.client_secret),
            ("UNLEASH_ADMIN_TOKEN", &s.admin_token),
        ],
    );
    let client = reqwest::Client::new();
    // U+001E: the candidate keeps it, the legacy strips it.
    let body = serde_json::json!({"items": ["\u{1e}x"]}).to_string();
    let call = |i: usize| {
        client
            .post(format!("{}/", serving.url))
            .header("X-Cutover-Key", format!("user-{i}"))
            .body(body.clone())
            .send()
    };
    let first: Value =
        serde_json::from_slice(&call(0).await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(
        first["accepted"][0], "\u{1e}x",
        "the candidate serves at first"
    );
    let started = Instant::now();
    let mut i = 1;
    loop {
        call(i).await.unwrap();
        i += 1;
        let metrics = serving.metrics().await;
        if crate::serve::sample(&metrics, "cutover_rollbacks_total") == Some(1.0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no rollback after {i} requests: {metrics}\n{}",
            serving.stderr()
        );
    }
    // At once: the legacy's answer.
    let after: Value =
        serde_json::from_slice(&call(i).await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(
        after["accepted"][0], "x",
        "the legacy serves after the rollback"
    );
    // And on the server: serve at 0%.
    until_published(&s, &m, 0.0, None).await;
    let wait = Instant::now();
    let entries = loop {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        if text.contains("\"rollback\"") {
            break text;
        }
        assert!(wait.elapsed() < Duration::from_secs(10), "no audit entry");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let entry: Value = serde_json::from_str(entries.lines().last().unwrap()).unwrap();
    assert_eq!(entry["action"], "rollback", "{entry}");
    assert_eq!(entry["to"], 0.0, "{entry}");
    assert!(
        entry["evidence"]["upper_bound"].as_f64().unwrap() > 0.05,
        "{entry}"
    );
    assert!(
        entry["evidence"]["records"].as_u64().unwrap() >= 20,
        "{entry}"
    );
    assert!(
        !entries.contains(&s.admin_token),
        "no token in the audit log"
    );
    assert!(
        serving.stderr().contains("automatic rollback"),
        "{}",
        serving.stderr()
    );
}

/// `cutover serve` with a server source reports its flags' usage the way
/// the SDKs do: the real server's metrics for both flags show the requests
/// and the `cutover` application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sends_usage_metrics_the_server_shows() {
    if left_to_scripts_test("the real Unleash server, the Node SDK and the conformance suite") {
        return;
    }
    let (s, m, tmp, config) = serve_migration("servuse", 100, 0).await;
    let serving = crate::serve::start_serve_env(
        &tmp.path().join("live"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--legacy",
            "builtin:normalize",
        ],
        &[("UNLEASH_CLIENT_SECRET", &s.client_secret)],
    );
    // The server keeps usage only for flags it knows (its list of names is
    // refreshed now and then), so requests keep coming until it shows them.
    let client = reqwest::Client::new();
    let names = FlagNames::derived(&m);
    let started = Instant::now();
    let mut i = 0;
    let mut pending: Vec<&String> = vec![&names.serve, &names.shadow];
    while !pending.is_empty() {
        for _ in 0..10 {
            client
                .post(format!("{}/", serving.url))
                .header("X-Cutover-Key", format!("user-{i}"))
                .body(r#"{"items": [" a "]}"#)
                .send()
                .await
                .unwrap();
            i += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut still = Vec::new();
        for flag in pending {
            let seen: Value = serde_json::from_slice(
                &reqwest::Client::new()
                    .get(format!("{}/admin/client-metrics/features/{flag}", s.url))
                    .header("Authorization", &s.admin_token)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap(),
            )
            .unwrap();
            let sum = |field: &str| {
                seen["lastHourUsage"].as_array().map_or(0, |a| {
                    a.iter()
                        .map(|u| u[field].as_u64().unwrap_or(0))
                        .sum::<u64>()
                })
            };
            let (yes, no) = (sum("yes"), sum("no"));
            if yes + no == 0 || !seen["seenApplications"].to_string().contains("\"cutover\"") {
                still.push(flag);
                continue;
            }
            // serve is at 0% (every decision a `no`), shadow at 100% (`yes`).
            if *flag == names.serve {
                assert_eq!(yes, 0, "{seen}");
            } else {
                assert_eq!(no, 0, "{seen}");
            }
            assert!(yes + no <= i, "no more decisions than requests: {seen}");
        }
        pending = still;
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the server never showed usage of {pending:?} from cutover after {i} requests; serve said: {}",
            serving.stderr()
        );
    }
}
