//! Secrets never leave: tokens and URL credentials are not printed, logged
//! or written, even when a server (or a gateway in front of it) echoes them
//! back. The servers here are fault-injection doubles; the same checks
//! against the real Unleash server are in `unleash.rs`.

use crate::util::*;
use base64::Engine;
use predicates::str::contains;
use serde_json::json;

/// What a secret looks like to a leak check: itself, and the Basic
/// credentials an echoed `Authorization` header would carry.
fn forms(user: &str, password: &str) -> Vec<String> {
    vec![
        password.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
    ]
}

fn assert_nowhere(what: &str, text: &str, dir: &std::path::Path, secrets: &[String]) {
    let needles: Vec<&str> = secrets.iter().map(String::as_str).collect();
    for secret in &needles {
        assert!(!text.contains(secret), "{what}: {secret} printed:\n{text}");
    }
    let files = files_containing(dir, &needles);
    assert!(
        files.is_empty(),
        "{what}: a secret written:\n{}",
        files.join("\n")
    );
}

#[test]
fn an_admin_token_echoed_in_an_error_body_is_redacted_everywhere() {
    let tmp = tempdir();
    let gateway = Double::start(tmp.path(), "echo_gateway.py", &["-", "/"]);
    let token = "*:*.leak-check-admin-token-5c1f0e";
    let secret = "default:development.leak-check-client-secret-77ab";
    let config = config_file(
        tmp.path(),
        &format!(
            "[flags]\nsource = \"{}/api\"\naudit_log = {:?}\ncache = {:?}\n",
            gateway.origin(),
            tmp.path().join("audit.jsonl").display().to_string(),
            tmp.path().join("cache.json").display().to_string()
        ),
    );
    let output = cutover()
        .env("UNLEASH_ADMIN_TOKEN", token)
        .env("UNLEASH_CLIENT_SECRET", secret)
        .env("CUTOVER_LOG", "debug")
        .arg("--config")
        .arg(&config)
        .args(["flags", "set", "serve", "5"])
        .assert()
        .code(2)
        .stderr(contains("HTTP 502"))
        .stderr(contains("<redacted>"))
        .get_output()
        .clone();
    let secrets = [token.to_owned(), secret.to_owned()];
    assert_nowhere("flags set", &output_text(&output), tmp.path(), &secrets);

    // A replay against the same gateway: it is down for the client API too.
    let out = tmp.path().join("run");
    let output = cutover()
        .env("UNLEASH_ADMIN_TOKEN", token)
        .env("UNLEASH_CLIENT_SECRET", secret)
        .env("CUTOVER_LOG", "debug")
        .args([
            "replay",
            "--no-progress",
            "--legacy",
            "builtin:normalize",
            "--out",
        ])
        .arg(&out)
        .arg("--config")
        .arg(&config)
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert_nowhere("replay", &output_text(&output), tmp.path(), &secrets);
}

#[test]
fn url_credentials_are_never_shown_or_stored() {
    let tmp = tempdir();
    let target = Double::start(tmp.path(), "http_normalize.py", &[]);
    let gateway = Double::start(tmp.path(), "echo_gateway.py", &["-", "/"]);
    let legacy = target
        .origin()
        .replace("http://", "http://legacyuser:legacy-pw-3141@");
    let source = gateway
        .origin()
        .replace("http://", "http://flaguser:flag-pw-2718@")
        + "/api";
    let path = capture(
        tmp.path(),
        "c.jsonl",
        &[
            record("a", json!({"items": [" a "]})),
            record("b", json!([])),
        ],
    );
    let config = config_file(
        tmp.path(),
        &format!(
            "[flags]\ncache = {:?}\n",
            tmp.path().join("cache.json").display().to_string()
        ),
    );
    let out = tmp.path().join("run");
    let output = cutover()
        .env_remove("UNLEASH_API_URL")
        .env("CUTOVER_LOG", "debug")
        .arg("--config")
        .arg(&config)
        .args(["replay", "--no-progress", "--out"])
        .arg(&out)
        .arg(&path)
        .args(["--legacy", &legacy, "--flags-source", &source])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = output_text(&output);
    let shown_legacy = target.origin();
    assert!(text.contains(&format!("{shown_legacy} (legacy)")), "{text}");
    let s = summary(&out);
    assert_eq!(s["settings"]["legacy"], shown_legacy);
    assert_eq!(
        s["rollout"]["source"],
        format!("server {}/api", gateway.origin())
    );
    let mut secrets = forms("legacyuser", "legacy-pw-3141");
    secrets.extend(forms("flaguser", "flag-pw-2718"));
    secrets.extend(["legacyuser:".to_owned(), "flaguser:".to_owned()]);
    assert_nowhere("replay", &text, tmp.path(), &secrets);

    // `flags status` shows the source without them.
    let output = cutover()
        .env_remove("UNLEASH_API_URL")
        .arg("--config")
        .arg(&config)
        .args(["flags", "status", "--flags-source", &source])
        .args(["--traffic", path.to_str().unwrap()])
        .assert()
        .code(0)
        .stdout(contains(format!(
            "source:     server {}/api",
            gateway.origin()
        )))
        .get_output()
        .clone();
    assert_nowhere("flags status", &output_text(&output), tmp.path(), &secrets);
}
