//! Secrets are never shown: the one place that knows the configured secrets
//! and takes them out of text, and that strips credentials from URLs.
//!
//! # Contract
//! - [`register`] adds a secret (a token, a password) to the process-wide
//!   set; [`register_url`] adds a URL's credentials: its password (as
//!   written and percent-decoded), a user name given without a password
//!   (such a URL carries a token), and the Basic credentials
//!   (`base64(user:password)`) an `Authorization` header makes of them.
//!   cutover registers `UNLEASH_ADMIN_TOKEN`, `UNLEASH_CLIENT_SECRET`,
//!   `[flags] client_secret`, the flag source's URL and every `http(s)://`
//!   target's URL as soon as it reads them. Secrets shorter than
//!   [`MIN_SECRET_CHARS`] are not searched for (they would match ordinary
//!   words); a URL's userinfo is stripped whatever its length.
//! - [`text`] is the text with every registered secret replaced by
//!   [`REDACTED`] and the userinfo of every `scheme://user:pass@host` in it
//!   removed. It is applied to everything cutover prints (errors, the run
//!   summary, `flags` output), logs (every `tracing` event, through
//!   [`Stderr`]) and writes that can carry a server's or a target's text
//!   (`summary.json`, `recheck.json`, `index.html`, JUnit XML, the flag
//!   audit log, the messages of `http(s)://` targets' errors).
//! - [`url`] is a URL without its userinfo, for showing and storing (the
//!   settings in `summary.json`, the flag source, the flag cache); requests
//!   still use the credentials.
//!
//! # Non-goals
//! A target's successful answers are data under comparison, not messages:
//! they are not rewritten. Secrets are matched as written, not in every
//! encoding a server might echo them in (only the Basic form is added).

use base64::Engine;
use regex::Regex;
use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Shorter secrets are not searched for in text.
pub const MIN_SECRET_CHARS: usize = 6;

fn secrets() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// `scheme://` and the userinfo after it, up to its last `@` before the host.
fn userinfo() -> &'static Regex {
    static USERINFO: OnceLock<Regex> = OnceLock::new();
    USERINFO.get_or_init(|| {
        Regex::new(r#"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s"'<>\\]*@"#).expect("a valid regex")
    })
}

/// Adds `secret` to the secrets taken out of everything shown.
pub fn register(secret: &str) {
    if secret.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let mut all = secrets().write().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_owned());
        // Longest first, so that a secret containing another goes whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Registers the credentials in `url`, if it has any.
pub fn register_url(url: &str) {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return;
    };
    let (user, password) = (parsed.username(), parsed.password());
    if user.is_empty() && password.is_none() {
        return;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user_text = decode(user);
    match password {
        Some(password) => {
            register(password);
            register(&decode(password));
            let basic = format!("{user_text}:{}", decode(password));
            register(&base64::engine::general_purpose::STANDARD.encode(basic));
        }
        None => {
            register(user);
            register(&user_text);
            let basic = format!("{user_text}:");
            register(&base64::engine::general_purpose::STANDARD.encode(basic));
        }
    }
}

/// `text` with every registered secret replaced by [`REDACTED`] and the
/// userinfo of every URL in it removed.
pub fn text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if text.contains('@') {
        if let Cow::Owned(stripped) = userinfo().replace_all(text, "$1") {
            out = Cow::Owned(stripped);
        }
    }
    let all = secrets().read().unwrap_or_else(|p| p.into_inner());
    for secret in all.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
        }
    }
    out
}

/// `url` without its userinfo (`http://user:pass@host/api` → `http://host/api`),
/// otherwise exactly as written.
pub fn url(url: &str) -> String {
    userinfo().replace_all(url, "$1").into_owned()
}

/// The `tracing` writer: stderr, with every event passed through [`text`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

/// One event's writer (see [`Stderr`]).
#[derive(Debug)]
pub struct StderrWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = StderrWriter;

    fn make_writer(&'a self) -> Self::Writer {
        StderrWriter
    }
}

impl std::io::Write for StderrWriter {
    /// The formatter hands over each event whole, so a secret is never cut
    /// in two between writes.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let event = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(text(&event).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_replaced_wherever_they_appear() {
        register("unit-test-token-91f2c");
        let echoed = r#"{"headers": {"authorization": "unit-test-token-91f2c"}}"#;
        assert_eq!(
            text(echoed),
            r#"{"headers": {"authorization": "<redacted>"}}"#
        );
        assert!(matches!(text("nothing secret here"), Cow::Borrowed(_)));
        register("abc");
        assert_eq!(text("abcdef"), "abcdef", "too short to search for");
    }

    #[test]
    fn url_credentials_are_stripped_and_registered() {
        assert_eq!(
            url("http://admin:pa%40ss@host:4242/api"),
            "http://host:4242/api"
        );
        assert_eq!(url("https://host/api?x=a@b"), "https://host/api?x=a@b");
        assert_eq!(url("http://127.0.0.1:9"), "http://127.0.0.1:9");
        register_url("http://unit-user:unit-pa%40ss-77@host/api");
        let basic = base64::engine::general_purpose::STANDARD.encode("unit-user:unit-pa@ss-77");
        let echoed = format!("Basic {basic}; password unit-pa@ss-77 or unit-pa%40ss-77");
        assert_eq!(
            text(&echoed),
            "Basic <redacted>; password <redacted> or <redacted>"
        );
        assert_eq!(
            text("GET http://unit-user:x@h/api failed"),
            "GET http://h/api failed"
        );
        // JSON stays JSON: the userinfo match stops at a quote.
        let json = r#"{"a":"x://","b":"c@d"}"#;
        assert_eq!(text(json), json);
    }
}
