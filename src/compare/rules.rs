//! Comparison rules: declared noise, each with a name and a reason, and an
//! account of everything each one hid.
//!
//! # Contract
//! - A rule applies at a JSON Pointer *pattern*: RFC 6901 tokens, where `*`
//!   stands for any array index or object key (`/items/*/served_at`). The
//!   pattern is followed where both outputs have the same structure.
//! - Kinds: `ignore` (the value at the path is not compared: object keys are
//!   removed on both sides, array elements blanked on both sides, so a length
//!   difference still shows), `unordered` (the array at the path is compared as
//!   a multiset, sorted by the `key` field of its objects or by the whole
//!   element), `tolerance` (numbers at the path equal within `absolute` and/or
//!   `relative`), `scrub` (every string under the path has the `pattern` regex
//!   replaced by `<scrubbed>`), `case_insensitive` (strings at the path compared
//!   lower-cased).
//! - [`RuleSet::compile`] rejects a rule that cannot work (unknown kind, bad
//!   pointer, bad regex, missing or meaningless parameter) with an error naming
//!   the rule and where it was declared, before any record is read.
//! - [`RuleSet::judge`] never hides silently: for each record it reports which
//!   rules' patterns were present and how many differing paths each rule made
//!   disappear (rules are applied in declaration order; a path is credited to
//!   the first rule that removed it). Rules only run on records whose outputs
//!   differ, so matching records cost one pointer walk per rule.
//! - Non-goals: rules on error answers (errors compare by type and message),
//!   rules that add differences.

use super::{diff, judge, Outcome, Verdict};
use crate::target::Answer;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;

/// A rule as written in `cutover.toml` (`[[rules]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub reason: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub absolute: Option<f64>,
    #[serde(default)]
    pub relative: Option<f64>,
    #[serde(default)]
    pub pattern: Option<String>,
}

/// A rule that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("rule {name:?} ({location}): {message}")]
pub struct RuleError {
    pub name: String,
    pub location: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Token {
    Any,
    Key(String),
}

#[derive(Debug)]
enum Action {
    Ignore,
    Unordered { key: Option<String> },
    Tolerance { absolute: f64, relative: f64 },
    Scrub(Regex),
    CaseInsensitive,
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub reason: String,
    tokens: Vec<Token>,
    action: Action,
}

/// What the rules did to one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleEffects {
    /// Per rule: its pattern found a value in either output.
    pub present: Vec<bool>,
    /// Per rule: differing paths it made disappear.
    pub suppressed: Vec<u32>,
}

/// The rules of a run, in declaration order.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

pub(crate) fn parse_pointer(path: &str) -> Result<Vec<Token>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or_else(|| {
        format!("path {path:?} is not a JSON Pointer: it must be empty or start with '/'")
    })?;
    rest.split('/')
        .map(|token| {
            if token == "*" {
                return Ok(Token::Any);
            }
            let mut out = String::new();
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, true) => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("path {path:?}: '~' must be followed by 0 or 1")),
                    },
                    (c, false) => out.push(c),
                }
            }
            Ok(Token::Key(out))
        })
        .collect()
}

impl Rule {
    /// Compiles one rule; `location` says where it was declared (file and line).
    /// (Name and reason are checked by [`RuleSet::compile`].)
    fn compile(config: &RuleConfig, location: &str) -> Result<Rule, RuleError> {
        let fail = |message: String| RuleError {
            name: config.name.clone(),
            location: location.to_owned(),
            message,
        };
        let tokens = parse_pointer(&config.path).map_err(fail)?;
        let unused = |field: &str, set: bool| -> Result<(), RuleError> {
            if set {
                Err(fail(format!(
                    "`{field}` does not apply to kind {:?}",
                    config.kind
                )))
            } else {
                Ok(())
            }
        };
        let action = match config.kind.as_str() {
            "ignore" | "case_insensitive" => {
                unused("key", config.key.is_some())?;
                unused("absolute", config.absolute.is_some())?;
                unused("relative", config.relative.is_some())?;
                unused("pattern", config.pattern.is_some())?;
                if config.kind == "ignore" {
                    Action::Ignore
                } else {
                    Action::CaseInsensitive
                }
            }
            "unordered" => Action::Unordered {
                key: config.key.clone(),
            },
            "tolerance" => {
                let (absolute, relative) = (config.absolute.unwrap_or(0.0), config.relative.unwrap_or(0.0));
                if config.absolute.is_none() && config.relative.is_none() {
                    return Err(fail("kind \"tolerance\" needs `absolute` and/or `relative`".into()));
                }
                if !(absolute >= 0.0 && relative >= 0.0) {
                    return Err(fail("`absolute` and `relative` must be zero or positive".into()));
                }
                Action::Tolerance { absolute, relative }
            }
            "scrub" => {
                let pattern = config
                    .pattern
                    .as_deref()
                    .ok_or_else(|| fail("kind \"scrub\" needs a `pattern` (a regex)".into()))?;
                Action::Scrub(Regex::new(pattern).map_err(|e| fail(format!("bad `pattern`: {e}")))?)
            }
            other => {
                return Err(fail(format!(
                    "unknown kind {other:?}; use ignore, unordered, tolerance, scrub or case_insensitive"
                )))
            }
        };
        Ok(Rule {
            name: config.name.clone(),
            kind: config.kind.clone(),
            path: config.path.clone(),
            reason: config.reason.clone(),
            tokens,
            action,
        })
    }

    /// Whether the pattern finds a value in `v`.
    fn present_in(&self, v: &Value) -> bool {
        fn walk(tokens: &[Token], v: &Value) -> bool {
            let Some((first, rest)) = tokens.split_first() else {
                return true;
            };
            match (first, v) {
                (Token::Key(k), Value::Object(m)) => m.get(k).is_some_and(|c| walk(rest, c)),
                (Token::Key(k), Value::Array(a)) => k
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| a.get(i))
                    .is_some_and(|c| walk(rest, c)),
                (Token::Any, Value::Object(m)) => m.values().any(|c| walk(rest, c)),
                (Token::Any, Value::Array(a)) => a.iter().any(|c| walk(rest, c)),
                _ => false,
            }
        }
        walk(&self.tokens, v)
    }

    /// Applies the rule to both outputs, where both have the pattern's
    /// structure; true when it changed anything.
    fn apply(&self, a: &mut Value, b: &mut Value) -> bool {
        apply_at(&self.tokens, a, b, &self.action)
    }
}

/// Whether `token` selects array index `i`.
fn selects(token: &Token, i: usize) -> bool {
    match token {
        Token::Any => true,
        Token::Key(k) => k.parse() == Ok(i),
    }
}

/// Follows `tokens` in both values together and applies `action` at the end;
/// true when anything changed.
fn apply_at(tokens: &[Token], a: &mut Value, b: &mut Value, action: &Action) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return act(action, a, b);
    };
    let mut changed = false;
    if rest.is_empty() && matches!(action, Action::Ignore) {
        // Ignoring a child: remove it (objects) or blank it (arrays) on both sides.
        match (first, a, b) {
            (Token::Key(k), Value::Object(x), Value::Object(y)) => {
                changed = x.remove(k).is_some() | y.remove(k).is_some();
            }
            (Token::Any, Value::Object(x), Value::Object(y)) => {
                changed = !(x.is_empty() && y.is_empty());
                x.clear();
                y.clear();
            }
            (token, Value::Array(x), Value::Array(y)) => {
                for (i, (u, v)) in x.iter_mut().zip(y.iter_mut()).enumerate() {
                    if selects(token, i) {
                        changed |= act(action, u, v);
                    }
                }
            }
            _ => {}
        }
        return changed;
    }
    match (first, a, b) {
        (Token::Key(k), Value::Object(x), Value::Object(y)) => {
            if let (Some(u), Some(v)) = (x.get_mut(k), y.get_mut(k)) {
                changed = apply_at(rest, u, v, action);
            }
        }
        (Token::Any, Value::Object(x), Value::Object(y)) => {
            for (k, u) in x.iter_mut() {
                if let Some(v) = y.get_mut(k) {
                    changed |= apply_at(rest, u, v, action);
                }
            }
        }
        (token, Value::Array(x), Value::Array(y)) => {
            for (i, (u, v)) in x.iter_mut().zip(y.iter_mut()).enumerate() {
                if selects(token, i) {
                    changed |= apply_at(rest, u, v, action);
                }
            }
        }
        _ => {}
    }
    changed
}

/// Applies `action` to the pair of values; true when either changed.
fn act(action: &Action, a: &mut Value, b: &mut Value) -> bool {
    match action {
        Action::Ignore => {
            let changed = !(a.is_null() && b.is_null());
            *a = Value::Null;
            *b = Value::Null;
            changed
        }
        Action::CaseInsensitive => match (a, b) {
            (Value::String(x), Value::String(y)) => {
                let (lx, ly) = (x.to_lowercase(), y.to_lowercase());
                let changed = lx != *x || ly != *y;
                (*x, *y) = (lx, ly);
                changed
            }
            _ => false,
        },
        Action::Tolerance { absolute, relative } => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) if a != b => {
                let gap = (x - y).abs();
                let close = gap <= *absolute || gap <= relative * x.abs().max(y.abs());
                if close {
                    *b = a.clone();
                }
                close
            }
            _ => false,
        },
        Action::Unordered { key } => {
            let mut changed = false;
            for v in [a, b] {
                if let Value::Array(items) = v {
                    let sort_key = |item: &Value| match key {
                        Some(k) => item.get(k).map_or_else(String::new, Value::to_string),
                        None => item.to_string(),
                    };
                    let keys: Vec<String> = items.iter().map(sort_key).collect();
                    if keys.windows(2).any(|w| w[0] > w[1]) {
                        let mut keyed: Vec<(String, Value)> =
                            keys.into_iter().zip(items.drain(..)).collect();
                        keyed.sort_by(|p, q| p.0.cmp(&q.0));
                        items.extend(keyed.into_iter().map(|(_, item)| item));
                        changed = true;
                    }
                }
            }
            changed
        }
        Action::Scrub(re) => scrub(re, a) | scrub(re, b),
    }
}

/// Scrubs every string under `v`; true when any changed.
fn scrub(re: &Regex, v: &mut Value) -> bool {
    match v {
        Value::String(s) if re.is_match(s) => {
            *s = re.replace_all(s, "<scrubbed>").into_owned();
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, i| scrub(re, i) | c),
        Value::Object(map) => map.values_mut().fold(false, |c, i| scrub(re, i) | c),
        _ => false,
    }
}

/// What every declaration (a rule, a known difference) must have: a name no
/// other one of its `kind` has (names identify them in the audit), and a
/// reason saying `why`.
pub(crate) fn check_declaration(
    names: &mut HashSet<String>,
    (name, reason, location): (&str, &str, &str),
    kind: &str,
    why: &str,
) -> Result<(), RuleError> {
    let fail = |message: String| {
        Err(RuleError {
            name: name.to_owned(),
            location: location.to_owned(),
            message,
        })
    };
    if !names.insert(name.to_owned()) {
        return fail(format!(
            "another {kind} has the same name; names identify them in the audit"
        ));
    }
    if reason.trim().is_empty() {
        return fail(format!("`reason` is empty; say why {why}"));
    }
    Ok(())
}

impl RuleConfig {
    /// The rule `--ignore PATH` makes, with where it was declared.
    pub fn ignore_flag(path: &str) -> (RuleConfig, String) {
        (
            RuleConfig {
                name: format!("{IGNORE_FLAG_PREFIX}{path}"),
                kind: "ignore".into(),
                path: path.to_owned(),
                reason: "given with --ignore on the command line".into(),
                key: None,
                absolute: None,
                relative: None,
                pattern: None,
            },
            "command line".into(),
        )
    }
}

/// The name prefix of rules made by `--ignore PATH` (the audit lists them
/// by name, so a run's `--ignore` flags can be read back from its summary).
pub const IGNORE_FLAG_PREFIX: &str = "--ignore ";

impl RuleSet {
    /// Compiles rules with where each was declared.
    pub fn compile(rules: &[(RuleConfig, String)]) -> Result<RuleSet, RuleError> {
        let mut names = HashSet::new();
        let mut compiled = Vec::new();
        for (config, location) in rules {
            check_declaration(
                &mut names,
                (&config.name, &config.reason, location),
                "rule",
                "this difference is noise",
            )?;
            compiled.push(Rule::compile(config, location)?);
        }
        Ok(RuleSet { rules: compiled })
    }

    /// Compares two answers under the rules.
    pub fn judge(&self, legacy: &Answer, candidate: &Answer) -> (Verdict, RuleEffects) {
        let (Answer::Output(a), Answer::Output(b)) = (legacy, candidate) else {
            return (judge(legacy, candidate), RuleEffects::default());
        };
        if self.rules.is_empty() {
            return (judge(legacy, candidate), RuleEffects::default());
        }
        let mut effects = RuleEffects {
            present: self
                .rules
                .iter()
                .map(|r| r.present_in(a) || r.present_in(b))
                .collect(),
            suppressed: vec![0; self.rules.len()],
        };
        if a == b {
            return (judge(legacy, candidate), effects);
        }
        let (mut x, mut y) = (a.clone(), b.clone());
        let (mut differences, mut total) = diff(&x, &y);
        for (i, rule) in self.rules.iter().enumerate() {
            if !effects.present[i] || total == 0 {
                continue;
            }
            if !rule.apply(&mut x, &mut y) {
                continue; // nothing changed, nothing hidden: no need to diff again
            }
            let (after, after_total) = diff(&x, &y);
            let remaining: HashSet<&str> = after.iter().map(|d| d.path.as_str()).collect();
            effects.suppressed[i] = differences
                .iter()
                .filter(|d| !remaining.contains(d.path.as_str()))
                .count() as u32;
            (differences, total) = (after, after_total);
        }
        let verdict = Verdict {
            outcome: if total == 0 {
                Outcome::Match
            } else {
                Outcome::Mismatch
            },
            matched_error: false,
            differences,
            total_differences: total,
        };
        (verdict, effects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(kind: &str, path: &str, extra: &[(&str, Value)]) -> RuleSet {
        let mut cfg = json!({"name": "r", "kind": kind, "path": path, "reason": "test"});
        for (k, v) in extra {
            cfg[*k] = v.clone();
        }
        RuleSet::compile(&[(serde_json::from_value(cfg).unwrap(), "test:1".into())]).unwrap()
    }

    /// Judges under `rules`; returns (outcome, remaining paths, suppressed by rule 0).
    fn run(rules: &RuleSet, a: Value, b: Value) -> (Outcome, Vec<String>, u32) {
        let (v, e) = rules.judge(&Answer::Output(a), &Answer::Output(b));
        (
            v.outcome,
            v.differences.into_iter().map(|d| d.path).collect(),
            e.suppressed[0],
        )
    }

    #[test]
    fn ignore_hides_the_path_and_nothing_next_to_it() {
        let r = rule("ignore", "/items/*/served_at", &[]);
        assert_eq!(
            run(
                &r,
                json!({"items": [{"served_at": 1, "v": 1}]}),
                json!({"items": [{"served_at": 2, "v": 1}]})
            ),
            (Outcome::Match, vec![], 1)
        );
        assert_eq!(
            run(
                &r,
                json!({"items": [{"served_at": 1, "v": 1}]}),
                json!({"items": [{"served_at": 2, "v": 2}]})
            ),
            (Outcome::Mismatch, vec!["/items/0/v".into()], 1)
        );
        // A field only one side has is hidden too.
        assert_eq!(
            run(
                &r,
                json!({"items": [{}]}),
                json!({"items": [{"served_at": 2}]})
            )
            .0,
            Outcome::Match
        );
    }

    #[test]
    fn unordered_compares_multisets() {
        let r = rule("unordered", "/tags", &[]);
        assert_eq!(
            run(&r, json!({"tags": ["a", "b"]}), json!({"tags": ["b", "a"]})).0,
            Outcome::Match
        );
        assert_eq!(
            run(&r, json!({"tags": ["a", "b"]}), json!({"tags": ["b", "c"]})).0,
            Outcome::Mismatch
        );
        let r = rule("unordered", "/rows", &[("key", json!("id"))]);
        assert_eq!(
            run(
                &r,
                json!({"rows": [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}]}),
                json!({"rows": [{"id": 2, "v": "y"}, {"id": 1, "v": "x"}]})
            )
            .0,
            Outcome::Match
        );
        assert_eq!(
            run(
                &r,
                json!({"rows": [{"id": 1, "v": "x"}, {"id": 2}]}),
                json!({"rows": [{"id": 2}, {"id": 1, "v": "z"}]})
            )
            .1,
            vec!["/rows/0/v".to_owned()]
        );
    }

    #[test]
    fn tolerance_is_bounded() {
        let r = rule("tolerance", "/price", &[("absolute", json!(0.01))]);
        assert_eq!(
            run(&r, json!({"price": 1.0}), json!({"price": 1.005})),
            (Outcome::Match, vec![], 1)
        );
        assert_eq!(
            run(&r, json!({"price": 1.0}), json!({"price": 1.02})).0,
            Outcome::Mismatch
        );
        let r = rule("tolerance", "/n", &[("relative", json!(0.001))]);
        assert_eq!(
            run(&r, json!({"n": 1000}), json!({"n": 1000.5})).0,
            Outcome::Match
        );
        assert_eq!(
            run(&r, json!({"n": 1000}), json!({"n": 1002})).0,
            Outcome::Mismatch
        );
    }

    #[test]
    fn scrub_replaces_only_the_pattern() {
        let r = rule(
            "scrub",
            "",
            &[(
                "pattern",
                json!("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
            )],
        );
        let a = json!({"msg": "req 123e4567-e89b-12d3-a456-426614174000 ok"});
        let b = json!({"msg": "req 00000000-e89b-12d3-a456-426614174999 ok"});
        assert_eq!(run(&r, a.clone(), b), (Outcome::Match, vec![], 1));
        let c = json!({"msg": "req 00000000-e89b-12d3-a456-426614174999 FAILED"});
        assert_eq!(run(&r, a, c).0, Outcome::Mismatch);
    }

    #[test]
    fn case_insensitive_only_at_its_path() {
        let r = rule("case_insensitive", "/accepted/*", &[]);
        assert_eq!(
            run(&r, json!({"accepted": ["Ab"]}), json!({"accepted": ["aB"]})).0,
            Outcome::Match
        );
        assert_eq!(
            run(
                &r,
                json!({"accepted": ["Ab"], "rejected": ["X"]}),
                json!({"accepted": ["aB"], "rejected": ["x"]})
            )
            .1,
            vec!["/rejected/0".to_owned()]
        );
    }

    #[test]
    fn bad_rules_name_the_rule_and_the_place() {
        let bad = |cfg: Value| {
            RuleSet::compile(&[(
                serde_json::from_value(cfg).unwrap(),
                "cutover.toml line 7".into(),
            )])
            .unwrap_err()
            .to_string()
        };
        let e = bad(json!({"name": "ts", "kind": "ignore", "path": "items/x", "reason": "r"}));
        assert!(
            e.starts_with(
                "rule \"ts\" (cutover.toml line 7): path \"items/x\" is not a JSON Pointer"
            ),
            "{e}"
        );
        let e =
            bad(json!({"name": "ts", "kind": "scrub", "path": "", "reason": "r", "pattern": "("}));
        assert!(e.contains("bad `pattern`"), "{e}");
        let e = bad(json!({"name": "ts", "kind": "fuzzy", "path": "", "reason": "r"}));
        assert!(e.contains("unknown kind \"fuzzy\""), "{e}");
        let e = bad(json!({"name": "ts", "kind": "tolerance", "path": "/a", "reason": "r"}));
        assert!(e.contains("needs `absolute` and/or `relative`"), "{e}");
        let e = bad(json!({"name": "ts", "kind": "ignore", "path": "/a", "reason": " "}));
        assert!(e.contains("`reason` is empty"), "{e}");
    }
}
