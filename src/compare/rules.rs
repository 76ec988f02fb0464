//! Comparison rules: declared noise, each with a name and a reason, and an
//! account of everything each one hid.
//!
//! # Contract
//! - A rule applies at a JSON Pointer *pattern*: RFC 6901 tokens, where `*`
//!   stands for any array index or object key (`/items/*/served_at`). The
//!   pattern is followed where both outputs have the same structure.
//! - Rules act on the *differences* the structural diff finds, in one walk of
//!   both outputs ([`super::walk`]); neither output is copied or
//!   rewritten. What each kind covers:
//!   - `ignore`: every difference at or below the path (an object key only one
//!     side has included), except an array element only one side has at the
//!     path itself, so a length difference still shows;
//!   - `unordered`: the array at the path is compared as a multiset: both
//!     sides sorted (by the `key` field of each element, or by whole elements)
//!     and then compared index by index, so only what differs as a multiset is
//!     left (reported at the sorted positions);
//!   - `tolerance`: two numbers at the path within `absolute` and/or
//!     `relative` (of the larger magnitude);
//!   - `scrub`: two strings at or below the path that are equal once `pattern`
//!     is replaced by `<scrubbed>` in both;
//!   - `case_insensitive`: two strings at the path equal once lower-cased.
//!
//!   String rules compose on one pair: every `scrub` in play rewrites both
//!   strings (in declaration order), then `case_insensitive` compares what is
//!   left. The first `unordered` rule matching an array decides its order.
//! - [`RuleSet::compile`] rejects a rule that cannot work (unknown kind, bad
//!   pointer, bad regex, missing or meaningless parameter) with an error naming
//!   the rule and where it was declared, before any record is read.
//! - [`RuleSet::judge`] never hides silently: for each record it reports which
//!   rules' patterns were present and how many differing paths each rule
//!   covered (a path is credited to the first rule, in declaration order, that
//!   covers it; for `unordered`, the positional differences re-ordering made
//!   disappear). Rules only run on records whose outputs differ; on a record
//!   whose outputs are equal they cost one pointer walk each (for the audit).
//! - Non-goals: rules on error answers (errors compare by type and message),
//!   rules that add differences.

use super::judge;
use super::pointer::{parse_pointer, Token};
use super::walk::{diff_under_rules, RuledDiff};
use crate::model::{Answer, Outcome, PerRule, RuleEffects, Verdict};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// A rule as written in `cutover.toml` (`[[rules]]`), and as a run's spec
/// keeps it (so the run's rules can be compiled again, identically).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// A declaration (a rule, a known difference) with where it was declared
/// (`cutover.toml line 7`, `command line`), for the messages that name it.
/// Serialised flat: the declaration's fields and `declared`. (Read back from
/// a run's spec, which cutover wrote; unknown fields there are not errors,
/// as they are in `cutover.toml`.)
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Declared<T> {
    #[serde(flatten)]
    pub def: T,
    pub declared: String,
}

impl<T> Declared<T> {
    pub fn new(def: T, declared: impl Into<String>) -> Declared<T> {
        Declared {
            def,
            declared: declared.into(),
        }
    }
}

/// A rule that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("rule {name:?} ({location}): {message}")]
pub struct RuleError {
    pub name: String,
    pub location: String,
    pub message: String,
}

/// What a rule does where its pattern matches.
#[derive(Debug)]
pub(crate) enum Action {
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
    pub(crate) tokens: Vec<Token>,
    pub(crate) action: Action,
}

/// The rules of a run, in declaration order.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
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
    pub fn ignore_flag(path: &str) -> Declared<RuleConfig> {
        Declared::new(
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
            "command line",
        )
    }
}

/// The name prefix of rules made by `--ignore PATH` (the audit lists them
/// by name, so a run's `--ignore` flags can be read back from its summary).
pub const IGNORE_FLAG_PREFIX: &str = "--ignore ";

impl RuleSet {
    /// A config file's rules (with where each was declared), then one
    /// `ignore` rule per `--ignore` path, in that order: the declarations a
    /// run compiles.
    pub fn with_ignores(
        file: &[Declared<RuleConfig>],
        ignore: &[String],
    ) -> Vec<Declared<RuleConfig>> {
        let mut rules = file.to_vec();
        rules.extend(ignore.iter().map(|path| RuleConfig::ignore_flag(path)));
        rules
    }

    /// Compiles rules with where each was declared.
    pub fn compile(rules: &[Declared<RuleConfig>]) -> Result<RuleSet, RuleError> {
        let mut names = HashSet::new();
        let mut compiled = Vec::new();
        for Declared {
            def: config,
            declared: location,
        } in rules
        {
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
        let same = a == b;
        let present: PerRule<bool> = self
            .rules
            .iter()
            .map(|r| r.present_in(a) || (!same && r.present_in(b)))
            .collect();
        let walked = if same {
            RuledDiff::nothing(self.rules.len())
        } else {
            diff_under_rules(a, b, &self.rules, &present)
        };
        let verdict = Verdict {
            outcome: if walked.total == 0 {
                Outcome::Match
            } else {
                Outcome::Mismatch
            },
            matched_error: false,
            differences: walked.kept,
            total_differences: walked.total,
        };
        let effects = RuleEffects {
            present,
            suppressed: walked.hidden,
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
        RuleSet::compile(&[Declared::new(
            serde_json::from_value(cfg).unwrap(),
            "test:1",
        )])
        .unwrap()
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
    fn declarations_round_trip_flat_through_json() {
        let rule = Declared::new(
            RuleConfig {
                name: "price".into(),
                kind: "tolerance".into(),
                path: "/p".into(),
                reason: "rounding".into(),
                key: None,
                absolute: Some(0.5),
                relative: None,
                pattern: None,
            },
            "cutover.toml line 3",
        );
        let text = serde_json::to_string(&rule).unwrap();
        assert_eq!(
            text,
            r#"{"name":"price","kind":"tolerance","path":"/p","reason":"rounding","absolute":0.5,"declared":"cutover.toml line 3"}"#
        );
        assert_eq!(
            serde_json::from_str::<Declared<RuleConfig>>(&text).unwrap(),
            rule
        );
    }

    #[test]
    fn bad_rules_name_the_rule_and_the_place() {
        let bad = |cfg: Value| {
            RuleSet::compile(&[Declared::new(
                serde_json::from_value(cfg).unwrap(),
                "cutover.toml line 7",
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
