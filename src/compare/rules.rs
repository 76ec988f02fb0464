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
//!   - `case_insensitive`: two strings at the path equal once lower-cased;
//!   - `text`: two strings at or below the path equal once both are
//!     normalised for common text noise, each option saying one thing
//!     ([`TextNorm`]): `line_endings = true` (CRLF and a lone CR read as
//!     LF), `whitespace = "trim"` (leading and trailing whitespace dropped)
//!     or `"collapse"` (that, and every inner run of whitespace, line breaks
//!     included, read as one space), `case = true` (Unicode lower-casing).
//!     At least one option is required.
//!
//!   String rules compose on one pair: every `scrub` and `text` rule in play
//!   rewrites both strings (in declaration order), then `case_insensitive`
//!   compares what is left. The first `unordered` rule matching an array decides its order.
//! - [`RuleSet::compile`] rejects a rule that cannot work (unknown kind, bad
//!   pointer, bad regex, missing or meaningless parameter) with an error naming
//!   the rule and where it was declared, before any record is read.
//! - [`RuleSet::judge`] never hides silently: for each record it reports which
//!   rules' patterns were present and how many differing paths each rule
//!   covered (a path is credited to the first rule, in declaration order, that
//!   covers it; for `unordered`, the positional differences re-ordering made
//!   disappear). Rules only run on records whose outputs differ; on a record
//!   whose outputs are equal they cost one pointer walk each (for the audit),
//!   over the outputs' JSON text when they arrived as text
//!   ([`present_in_text`]), so an equal pair of texts, spelled alike or
//!   not ([`same_output`]), is judged without building either value.
//! - Non-goals: rules on error answers (errors compare by type and message),
//!   rules that add differences.

use super::pointer::{parse_pointer, present_in_text, present_in_value, Token};
use super::walk::{diff_under_rules, RuledDiff};
use super::{judge, same_output};
use crate::model::{Answer, Outcome, Output, PerRule, RuleEffects, Verdict};
use regex::Regex;
use serde::{Deserialize, Serialize};
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
    /// `text`: `"trim"` or `"collapse"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitespace: Option<String>,
    /// `text`: CRLF and CR read as LF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_endings: Option<bool>,
    /// `text`: compare lower-cased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<bool>,
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
    Text(TextNorm),
}

/// What a `text` rule normalises in both strings before they are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextNorm {
    pub whitespace: Option<Whitespace>,
    pub line_endings: bool,
    pub case: bool,
}

/// `whitespace = "trim" | "collapse"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whitespace {
    /// Leading and trailing whitespace dropped.
    Trim,
    /// Trimmed, and every inner run of whitespace read as one space.
    Collapse,
}

impl TextNorm {
    /// `s` normalised: owned when anything changed, `s` itself otherwise.
    pub fn apply<'s>(&self, s: &'s str) -> std::borrow::Cow<'s, str> {
        use std::borrow::Cow;
        let mut out: Cow<'s, str> = Cow::Borrowed(s);
        if self.line_endings && out.contains('\r') {
            out = Cow::Owned(out.replace("\r\n", "\n").replace('\r', "\n"));
        }
        match self.whitespace {
            Some(Whitespace::Trim) => {
                let trimmed = out.trim();
                if trimmed.len() != out.len() {
                    out = Cow::Owned(trimmed.to_owned());
                }
            }
            Some(Whitespace::Collapse) => {
                let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
                if collapsed != *out {
                    out = Cow::Owned(collapsed);
                }
            }
            None => {}
        }
        if self.case && out.chars().any(|c| c.is_uppercase() || c == 'ς') {
            // Folded as `case_insensitive` compares (the final sigma too).
            out = Cow::Owned(out.to_lowercase().replace('ς', "σ"));
        }
        out
    }
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
        if config.kind != "text" {
            unused("whitespace", config.whitespace.is_some())?;
            unused("line_endings", config.line_endings.is_some())?;
            unused("case", config.case.is_some())?;
        }
        let action = match config.kind.as_str() {
            "text" => {
                unused("key", config.key.is_some())?;
                unused("absolute", config.absolute.is_some())?;
                unused("relative", config.relative.is_some())?;
                unused("pattern", config.pattern.is_some())?;
                let whitespace = match config.whitespace.as_deref() {
                    None => None,
                    Some("trim") => Some(Whitespace::Trim),
                    Some("collapse") => Some(Whitespace::Collapse),
                    Some(other) => {
                        return Err(fail(format!(
                            "`whitespace = {other:?}`: use \"trim\" or \"collapse\""
                        )))
                    }
                };
                let norm = TextNorm {
                    whitespace,
                    line_endings: config.line_endings.unwrap_or(false),
                    case: config.case.unwrap_or(false),
                };
                if norm.whitespace.is_none() && !norm.line_endings && !norm.case {
                    return Err(fail(
                        "kind \"text\" needs at least one of `whitespace = \"trim\" | \"collapse\"`, `line_endings = true`, `case = true`".into(),
                    ));
                }
                Action::Text(norm)
            }
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
                    "unknown kind {other:?}; use ignore, unordered, tolerance, scrub, case_insensitive or text"
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

    /// Whether the pattern finds a value in `output`: read from its JSON
    /// text while no value was built from it (an equal pair's outputs then
    /// never are), else in the value; the same answer either way.
    fn present_in_output(&self, output: &Output) -> bool {
        if output.value_if_built().is_none() {
            if let Some(found) = output
                .text()
                .and_then(|text| present_in_text(&self.tokens, text.as_bytes(), 0))
            {
                return found;
            }
        }
        present_in_value(&self.tokens, output.value())
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
                whitespace: None,
                line_endings: None,
                case: None,
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
        // Two texts compared without building either value when that is
        // sure, so an equal pair is judged with no value built at all.
        let same = same_output(a, b);
        let present: PerRule<bool> = self
            .rules
            .iter()
            .map(|r| r.present_in_output(a) || (!same && r.present_in_output(b)))
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
    use serde_json::{json, Value};

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

    /// Why one rule declared at `location` does not compile.
    fn compile_error(cfg: Value, location: &str) -> String {
        RuleSet::compile(&[Declared::new(
            serde_json::from_value(cfg).unwrap(),
            location,
        )])
        .unwrap_err()
        .to_string()
    }

    /// Judges under `rules`; returns (outcome, remaining paths, suppressed by rule 0).
    fn run(rules: &RuleSet, a: Value, b: Value) -> (Outcome, Vec<String>, u32) {
        let (v, e) = rules.judge(&Answer::output(a), &Answer::output(b));
        (
            v.outcome,
            v.differences.into_iter().map(|d| d.path).collect(),
            e.suppressed[0],
        )
    }

    /// Rules on an equal pair of texts used to build the legacy's value (to
    /// find the rules' paths) and, for two spellings of one value (a
    /// worker's `ensure_ascii` text against UTF-8), both values: a worker
    /// replay with five rules cost 1.51× one without (callgrind), now 1.21×.
    #[test]
    fn an_equal_pair_of_texts_under_rules_is_judged_without_building_a_value() {
        let rules = RuleSet::compile(
            &["/accepted/*", "/rejected", "/score", ""]
                .iter()
                .enumerate()
                .map(|(i, path)| {
                    Declared::new(
                        serde_json::from_value(json!({
                            "name": format!("r{i}"), "kind": "ignore", "path": path, "reason": "test"
                        }))
                        .unwrap(),
                        "test:1",
                    )
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let text = |t: &str| Output::from_json_text(t.to_owned()).unwrap();
        let (a, b) = (
            text(r#"{"accepted":["Stra\u00dfe"],"rejected":[]}"#),
            text(r#"{"accepted":["Straße"],"rejected":[]}"#),
        );
        let (verdict, effects) =
            rules.judge(&Answer::Output(a.clone()), &Answer::Output(b.clone()));
        assert_eq!(verdict.outcome, Outcome::Match);
        let by_value = rules
            .judge(
                &Answer::output(a.value().clone()),
                &Answer::output(b.value().clone()),
            )
            .1;
        assert_eq!(effects.present.to_vec(), vec![true, true, false, true]);
        assert_eq!(effects.present, by_value.present);
        let (a, b) = (
            Answer::Output(text(r#"{"accepted":["Stra\u00dfe"],"rejected":[]}"#)),
            Answer::Output(text(r#"{"accepted":["Straße"],"rejected":[]}"#)),
        );
        rules.judge(&a, &b);
        for answer in [a, b] {
            let Answer::Output(output) = answer else {
                unreachable!()
            };
            assert!(output.value_if_built().is_none(), "{output:?} was built");
        }
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

    /// One `text` rule at `/t` with `options`; judges `legacy` against
    /// `candidate` as `{"t": ..., "u": ...}`.
    fn text(
        options: &[(&str, Value)],
        a: (&str, &str),
        b: (&str, &str),
    ) -> (Outcome, Vec<String>, u32) {
        let r = rule("text", "/t", options);
        run(&r, json!({"t": a.0, "u": a.1}), json!({"t": b.0, "u": b.1}))
    }

    #[test]
    fn text_line_endings_hides_crlf_and_nothing_else() {
        let le = [("line_endings", json!(true))];
        assert_eq!(
            text(&le, ("a\r\nb\r", "u"), ("a\nb\n", "u")),
            (Outcome::Match, vec![], 1)
        );
        // Next to it, a real change in the same string is still reported,
        // and so is a change at another path.
        assert_eq!(text(&le, ("a\r\nb", "u"), ("a\nc", "u")).1, ["/t"]);
        assert_eq!(
            text(&le, ("a\r\n", "u"), ("a\n", "v")),
            (Outcome::Mismatch, vec!["/u".into()], 1)
        );
        // Other whitespace is not a line ending.
        assert_eq!(
            text(&le, ("a\r\n", "u"), ("a \n", "u")).0,
            Outcome::Mismatch
        );
    }

    #[test]
    fn text_whitespace_trim_hides_only_the_ends() {
        let trim = [("whitespace", json!("trim"))];
        assert_eq!(
            text(&trim, (" a b\n", "u"), ("a b", "u")),
            (Outcome::Match, vec![], 1)
        );
        assert_eq!(text(&trim, ("a  b", "u"), ("a b", "u")).1, ["/t"]);
        assert_eq!(text(&trim, (" a", "u"), ("a", "v")).1, ["/u"]);
    }

    #[test]
    fn text_whitespace_collapse_hides_runs_and_ends() {
        let collapse = [("whitespace", json!("collapse"))];
        assert_eq!(
            text(
                &collapse,
                ("<p>\n  a\t b </p>\n", "u"),
                ("<p> a b </p>", "u")
            ),
            (Outcome::Match, vec![], 1)
        );
        // Whitespace that appears where there was none is a change.
        assert_eq!(text(&collapse, ("ab", "u"), ("a b", "u")).1, ["/t"]);
        assert_eq!(text(&collapse, ("a  b", "u"), ("a b", "v")).1, ["/u"]);
    }

    #[test]
    fn text_case_hides_case_alone() {
        let case = [("case", json!(true))];
        assert_eq!(
            text(&case, ("ΣΑΣ Ab", "u"), ("σας aB", "u")),
            (Outcome::Match, vec![], 1)
        );
        assert_eq!(text(&case, ("Ab", "u"), ("aC", "u")).1, ["/t"]);
        assert_eq!(text(&case, ("Ab", "U"), ("ab", "u")).1, ["/u"]);
    }

    #[test]
    fn text_options_compose_and_reach_below_the_path() {
        let all = [
            ("whitespace", json!("collapse")),
            ("line_endings", json!(true)),
            ("case", json!(true)),
        ];
        assert_eq!(
            text(&all, (" A\r\n  B ", "u"), ("a b", "u")),
            (Outcome::Match, vec![], 1)
        );
        let r = rule("text", "", &[("whitespace", json!("trim"))]);
        assert_eq!(
            run(
                &r,
                json!({"x": [{"y": " a "}], "z": "b"}),
                json!({"x": [{"y": "a"}], "z": "c"})
            ),
            (Outcome::Mismatch, vec!["/z".into()], 1)
        );
        // A text rule and a scrub compose on one pair, in declaration order.
        let both = RuleSet::compile(&[
            Declared::new(
                serde_json::from_value(json!({"name": "ws", "kind": "text", "path": "/m", "whitespace": "collapse", "reason": "r"})).unwrap(),
                "t:1",
            ),
            Declared::new(
                serde_json::from_value(json!({"name": "id", "kind": "scrub", "path": "/m", "pattern": "[0-9]+", "reason": "r"})).unwrap(),
                "t:2",
            ),
        ])
        .unwrap();
        let (v, e) = both.judge(
            &Answer::output(json!({"m": "order  12 "})),
            &Answer::output(json!({"m": "order 99"})),
        );
        assert_eq!(
            (v.outcome, e.suppressed.to_vec()),
            (Outcome::Match, vec![0, 1])
        );
    }

    #[test]
    fn a_text_rule_needs_an_option_and_only_its_own() {
        let bad = |cfg: Value| compile_error(cfg, "cutover.toml line 9");
        let e = bad(json!({"name": "t", "kind": "text", "path": "/a", "reason": "r"}));
        assert!(
            e.starts_with("rule \"t\" (cutover.toml line 9): kind \"text\" needs at least one of"),
            "{e}"
        );
        let e = bad(
            json!({"name": "t", "kind": "text", "path": "/a", "reason": "r", "line_endings": false, "case": false}),
        );
        assert!(e.contains("needs at least one of"), "{e}");
        let e = bad(
            json!({"name": "t", "kind": "text", "path": "/a", "reason": "r", "whitespace": "squash"}),
        );
        assert!(e.contains("use \"trim\" or \"collapse\""), "{e}");
        let e = bad(
            json!({"name": "t", "kind": "text", "path": "/a", "reason": "r", "case": true, "pattern": "x"}),
        );
        assert!(e.contains("`pattern` does not apply"), "{e}");
        let e =
            bad(json!({"name": "t", "kind": "ignore", "path": "/a", "reason": "r", "case": true}));
        assert!(
            e.contains("`case` does not apply to kind \"ignore\""),
            "{e}"
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
                whitespace: None,
                line_endings: None,
                case: None,
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
        let bad = |cfg: Value| compile_error(cfg, "cutover.toml line 7");
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
