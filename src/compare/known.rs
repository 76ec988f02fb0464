//! Known differences: intentional behaviour changes of the new implementation,
//! declared with a reason, reported in their own `accepted` bucket.
//!
//! # Contract
//! - A known difference (`[[known]]` in `cutover.toml`) has a `name`, a
//!   `path` (JSON Pointer pattern, `*` for any index or key), a `reason`, and
//!   optionally `input_pattern`, a regex the record's input JSON text must
//!   match for the entry to apply (e.g. only inputs containing U+001C).
//! - A `mismatch` becomes `accepted` when *every* remaining differing path is
//!   covered by an entry that applies, or is learned noise for this record
//!   (`--noise-probe`), and at least one is covered by an entry; one other
//!   path keeps the whole record a `mismatch`. Errors and timeouts are never accepted, nor is a
//!   record with more differences than the per-record cap
//!   ([`super::MAX_DIFFERENCES`]), since the ones past the cap are unseen.
//! - [`KnownSet::compile`] rejects an entry that cannot work (bad pointer, bad
//!   regex, empty reason, duplicate name), naming it and where it was declared.
//! - Accepted records stay visible: they are counted, listed in
//!   `mismatches.csv` with outcome `accepted`, and each entry's use is audited.

use super::pointer::{parse_pointer, Token};
use super::rules::check_declaration;
use super::{Declared, RuleError};
use crate::model::{Outcome, Verdict};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// A known difference as written in `cutover.toml` (`[[known]]`), and as a
/// run's spec keeps it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KnownConfig {
    pub name: String,
    pub path: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_pattern: Option<String>,
}

/// A compiled known difference.
#[derive(Debug)]
pub struct Known {
    pub name: String,
    pub path: String,
    pub reason: String,
    tokens: Vec<Token>,
    input_pattern: Option<Regex>,
}

/// The known differences of a run, in declaration order.
#[derive(Debug, Default)]
pub struct KnownSet {
    pub entries: Vec<Known>,
}

/// Whether a concrete JSON Pointer matches a pattern.
fn covers(pattern: &[Token], path: &str) -> bool {
    let Ok(concrete) = parse_pointer(path) else {
        return false;
    };
    concrete.len() == pattern.len()
        && pattern.iter().zip(&concrete).all(|(p, c)| match (p, c) {
            (Token::Any, _) => true,
            (Token::Key(p), Token::Key(c)) => p == c,
            (Token::Key(_), Token::Any) => false,
        })
}

impl KnownSet {
    /// Compiles entries with where each was declared.
    pub fn compile(entries: &[Declared<KnownConfig>]) -> Result<KnownSet, RuleError> {
        let mut names = std::collections::HashSet::new();
        let mut compiled = Vec::new();
        for Declared {
            def: config,
            declared: location,
        } in entries
        {
            let fail = |message: String| RuleError {
                name: config.name.clone(),
                location: location.clone(),
                message,
            };
            check_declaration(
                &mut names,
                (&config.name, &config.reason, location),
                "known difference",
                "this change is intended",
            )?;
            let tokens = parse_pointer(&config.path).map_err(&fail)?;
            let input_pattern = config
                .input_pattern
                .as_deref()
                .map(Regex::new)
                .transpose()
                .map_err(|e| fail(format!("bad `input_pattern`: {e}")))?;
            compiled.push(Known {
                name: config.name.clone(),
                path: config.path.clone(),
                reason: config.reason.clone(),
                tokens,
                input_pattern,
            });
        }
        Ok(KnownSet { entries: compiled })
    }

    /// Turns a fully covered `mismatch` into `accepted`; returns, per entry,
    /// whether it covered a path of this record. `noise` lists the paths where
    /// the legacy disagreed with itself for this record: they need no entry.
    pub fn classify(&self, verdict: &mut Verdict, input: &str, noise: &[String]) -> Vec<bool> {
        let mut used = vec![false; self.entries.len()];
        if verdict.outcome != Outcome::Mismatch || self.entries.is_empty() {
            return used;
        }
        // Differences past the per-record cap are unknown: never accept those.
        if verdict.total_differences > verdict.differences.len() {
            return used;
        }
        let applies: Vec<bool> = self
            .entries
            .iter()
            .map(|k| k.input_pattern.as_ref().is_none_or(|re| re.is_match(input)))
            .collect();
        for difference in &verdict.differences {
            if noise.contains(&difference.path) {
                continue;
            }
            let covering = self
                .entries
                .iter()
                .enumerate()
                .find(|(i, k)| applies[*i] && covers(&k.tokens, &difference.path));
            match covering {
                Some((i, _)) => used[i] = true,
                None => return vec![false; self.entries.len()],
            }
        }
        if used.contains(&true) {
            verdict.outcome = Outcome::Accepted;
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::judge;
    use crate::model::Answer;
    use serde_json::json;

    fn set(path: &str, input_pattern: Option<&str>) -> KnownSet {
        let config = KnownConfig {
            name: "k".into(),
            path: path.into(),
            reason: "intended".into(),
            input_pattern: input_pattern.map(str::to_owned),
        };
        KnownSet::compile(&[Declared::new(config, "test")]).unwrap()
    }

    #[test]
    fn accepts_only_fully_covered_mismatches() {
        let known = set("/accepted/*", None);
        let mut v = judge(
            &Answer::output(json!({"accepted": ["a"]})),
            &Answer::output(json!({"accepted": ["b"]})),
        );
        assert_eq!(known.classify(&mut v, "{}", &[]), vec![true]);
        assert_eq!(v.outcome, Outcome::Accepted);
        let mut v = judge(
            &Answer::output(json!({"accepted": ["a"], "rejected": []})),
            &Answer::output(json!({"accepted": ["b"], "rejected": ["x"]})),
        );
        assert_eq!(known.classify(&mut v, "{}", &[]), vec![false]);
        assert_eq!(v.outcome, Outcome::Mismatch, "/rejected/0 is not covered");
        // ... unless the legacy itself is noisy there.
        let mut v = judge(
            &Answer::output(json!({"accepted": ["a"], "rejected": []})),
            &Answer::output(json!({"accepted": ["b"], "rejected": ["x"]})),
        );
        assert_eq!(
            known.classify(&mut v, "{}", &["/rejected/0".into()]),
            vec![true]
        );
        assert_eq!(v.outcome, Outcome::Accepted);
        // Noise alone is not a known difference.
        let mut v = judge(
            &Answer::output(json!({"rejected": []})),
            &Answer::output(json!({"rejected": ["x"]})),
        );
        assert_eq!(
            known.classify(&mut v, "{}", &["/rejected/0".into()]),
            vec![false]
        );
        assert_eq!(v.outcome, Outcome::Mismatch);
    }

    #[test]
    fn input_pattern_limits_where_it_applies() {
        let known = set("/accepted/*", Some("\\\\u001[c-f]"));
        let diff = || {
            judge(
                &Answer::output(json!({"accepted": ["a"]})),
                &Answer::output(json!({"accepted": ["b"]})),
            )
        };
        let mut v = diff();
        known.classify(&mut v, r#"{"items":["\u001c"]}"#, &[]);
        assert_eq!(v.outcome, Outcome::Accepted);
        let mut v = diff();
        known.classify(&mut v, r#"{"items":[" "]}"#, &[]);
        assert_eq!(v.outcome, Outcome::Mismatch);
    }
}
