//! The structural walk: where two JSON values differ, as JSON Pointer
//! paths, optionally under comparison rules.
//!
//! # Contract
//! [`diff`] walks both values together and reports each place they differ:
//! - `changed`: same JSON type, different value (strings, numbers, booleans);
//! - `type_changed`: different JSON types (`null` vs `""`, `[]` vs `{}`, ...);
//! - `removed`: present on the legacy side only (object key or trailing array
//!   element); `added`: present on the candidate side only.
//!
//! Objects are compared key by key (order ignored); arrays index by index (no
//! alignment: an inserted element shows as changes from that index on, which is
//! what a client reading by position would see). Paths are RFC 6901 JSON
//! Pointers (`~` → `~0`, `/` → `~1`), emitted in a deterministic order (object
//! keys sorted). At most [`MAX_DIFFERENCES`] are kept per record; the total is
//! always exact.
//!
//! [`diff_under_rules`] is the same walk with comparison rules applied as it
//! goes, in one pass: a difference a rule covers is not reported but credited
//! to that rule (see [`crate::compare::RuleSet`] for what each kind covers).
//! The walk follows each rule's pattern down the tree; what a rule says
//! about two differing values is [`super::leaf`]'s, and the order an
//! `unordered` array is compared in is [`super::order`]'s. The walk never
//! copies or rewrites either value; its extra cost is a few pattern-token
//! comparisons per node, plus the rules' own work (a regex, a lower-casing,
//! a sort) only where the values differ.

use super::leaf::{covering, InPlay};
use super::order::sorted;
use super::pointer::{push_token, Child};
use super::rules::{Action, Rule};
use crate::model::{DiffKind, Difference, PerRule};
use serde_json::Value;
use smallvec::SmallVec;

/// Differences kept per record (the count stays exact beyond it).
pub const MAX_DIFFERENCES: usize = 100;

/// Returns the first [`MAX_DIFFERENCES`] differences and the total count.
pub fn diff(legacy: &Value, candidate: &Value) -> (Vec<Difference>, usize) {
    let mut walker = Walker::new(&[], false);
    walker.walk(legacy, candidate, &Active::new());
    (walker.kept, walker.total)
}

/// What a walk under rules found.
#[derive(Debug)]
pub(crate) struct RuledDiff {
    /// The differences no rule covered (the first [`MAX_DIFFERENCES`]).
    pub kept: Vec<Difference>,
    /// How many differences no rule covered.
    pub total: usize,
    /// Per rule: the differences it covered.
    pub hidden: PerRule<u32>,
}

impl RuledDiff {
    /// The walk of two equal values.
    pub fn nothing(rules: usize) -> Self {
        RuledDiff {
            kept: Vec::new(),
            total: 0,
            hidden: smallvec::smallvec![0; rules],
        }
    }
}

/// Diffs two outputs under `rules`; only rules whose `enabled` entry is true
/// take part (the others cannot match anything in these outputs).
pub(crate) fn diff_under_rules(
    legacy: &Value,
    candidate: &Value,
    rules: &[Rule],
    enabled: &[bool],
) -> RuledDiff {
    let mut walker = Walker::new(rules, false);
    let root: Active = (0..rules.len())
        .filter(|&i| enabled.get(i).copied().unwrap_or(false))
        .map(|rule| Progress {
            rule,
            matched: 0,
            below: false,
        })
        .collect();
    walker.walk(legacy, candidate, &root);
    RuledDiff {
        kept: walker.kept,
        total: walker.total,
        hidden: walker.hidden,
    }
}

/// How far one rule's pattern has matched along the path being walked.
#[derive(Debug, Clone, Copy)]
struct Progress {
    rule: usize,
    /// Pattern tokens matched so far (all of them: the pattern matches here).
    matched: u32,
    /// The pattern matched at an ancestor, and the rule reaches below it
    /// (`ignore`, `scrub` and `text` act on a whole subtree).
    below: bool,
}

/// The rules still in play at a node, in declaration order (on the stack for
/// up to four; a walk without rules carries an empty one).
type Active = SmallVec<[Progress; 4]>;

struct Walker<'r> {
    kept: Vec<Difference>,
    total: usize,
    path: String,
    rules: &'r [Rule],
    hidden: PerRule<u32>,
    /// Counting only: nothing is kept and no rule is credited.
    dry: bool,
}

impl<'r> Walker<'r> {
    fn new(rules: &'r [Rule], dry: bool) -> Self {
        Walker {
            kept: Vec::new(),
            total: 0,
            path: String::new(),
            rules,
            hidden: smallvec::smallvec![0; rules.len()],
            dry,
        }
    }

    fn report(&mut self, kind: DiffKind) {
        self.total += 1;
        if !self.dry && self.kept.len() < MAX_DIFFERENCES {
            self.kept.push(Difference {
                path: self.path.clone(),
                kind,
            });
        }
    }

    fn hide(&mut self, rule: usize) {
        if !self.dry {
            self.hidden[rule] += 1;
        }
    }

    /// Whether `p`'s whole pattern matches exactly at this node.
    fn here(&self, p: &Progress) -> bool {
        !p.below && p.matched as usize == self.rules[p.rule].tokens.len()
    }

    /// The rules still in play at `child` of the current node.
    fn child_rules(&self, active: &Active, child: Child) -> Active {
        let mut out = Active::new();
        for p in active {
            let rule = &self.rules[p.rule];
            if p.below || p.matched as usize == rule.tokens.len() {
                if matches!(
                    rule.action,
                    Action::Ignore | Action::Scrub(_) | Action::Text(_)
                ) {
                    out.push(Progress { below: true, ..*p });
                }
            } else if rule.tokens[p.matched as usize].selects(child) {
                out.push(Progress {
                    matched: p.matched + 1,
                    ..*p
                });
            }
        }
        out
    }

    fn at(&mut self, token: &str, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        push_token(&mut self.path, token);
        f(self);
        self.path.truncate(len);
    }

    /// A node present on both sides, or on one (`one_sided`), that differs
    /// structurally: hidden by an `ignore` that covers it, else reported. An
    /// array element only one side has is covered only by an `ignore` of an
    /// ancestor, so a length difference still shows.
    fn point(&mut self, kind: DiffKind, active: &Active, one_sided_element: bool) {
        for p in active {
            if matches!(self.rules[p.rule].action, Action::Ignore)
                && (p.below || (self.here(p) && !one_sided_element))
            {
                return self.hide(p.rule);
            }
        }
        self.report(kind);
    }

    /// Two different scalars of the same type: hidden by the first rule in
    /// play that covers the difference ([`super::leaf::covering`]), else
    /// reported as changed.
    fn leaf(&mut self, a: &Value, b: &Value, active: &Active) {
        let in_play: SmallVec<[InPlay<'r>; 4]> = active
            .iter()
            .map(|p| InPlay {
                rule: p.rule,
                action: &self.rules[p.rule].action,
                here: self.here(p),
                below: p.below,
            })
            .collect();
        match covering(&in_play, a, b) {
            Some(rule) => self.hide(rule),
            None => self.report(DiffKind::Changed),
        }
    }

    fn walk(&mut self, a: &Value, b: &Value, active: &Active) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x
                    .keys()
                    .chain(y.keys().filter(|k| !x.contains_key(*k)))
                    .collect();
                keys.sort();
                for key in keys {
                    let inner = self.child_rules(active, Child::Key(key));
                    self.at(key, |w| match (x.get(key), y.get(key)) {
                        (Some(u), Some(v)) => w.walk(u, v, &inner),
                        (Some(_), None) => w.point(DiffKind::Removed, &inner, false),
                        (None, Some(_)) => w.point(DiffKind::Added, &inner, false),
                        (None, None) => {}
                    });
                }
            }
            (Value::Array(x), Value::Array(y)) => match self.unordered_here(active) {
                Some((rule, key)) if x != y => self.walk_unordered(x, y, rule, key, active),
                _ => self.walk_elements(x.iter(), y.iter(), active),
            },
            _ if a == b => {}
            _ if std::mem::discriminant(a) == std::mem::discriminant(b) => self.leaf(a, b, active),
            _ => self.point(DiffKind::TypeChanged, active, false),
        }
    }

    /// Index by index.
    fn walk_elements<'v>(
        &mut self,
        x: impl ExactSizeIterator<Item = &'v Value>,
        y: impl ExactSizeIterator<Item = &'v Value>,
        active: &Active,
    ) {
        let len = x.len().max(y.len());
        let (mut x, mut y) = (x.fuse(), y.fuse());
        for i in 0..len {
            let inner = self.child_rules(active, Child::Index(i));
            let (u, v) = (x.next(), y.next());
            self.at(&i.to_string(), |w| match (u, v) {
                (Some(u), Some(v)) => w.walk(u, v, &inner),
                (Some(_), None) => w.point(DiffKind::Removed, &inner, true),
                (None, Some(_)) => w.point(DiffKind::Added, &inner, true),
                (None, None) => {}
            });
        }
    }

    /// The first `unordered` rule whose pattern matches here, with its key.
    fn unordered_here(&self, active: &Active) -> Option<(usize, &'r Option<String>)> {
        let rules = self.rules;
        active.iter().find_map(|p| match &rules[p.rule].action {
            Action::Unordered { key } if self.here(p) => Some((p.rule, key)),
            _ => None,
        })
    }

    /// Compares two arrays as multisets: both sorted (by the `key` field of
    /// their elements, or by whole elements), then index by index. The rule is
    /// credited with the differences the positional comparison had and the
    /// sorted one does not.
    fn walk_unordered(
        &mut self,
        x: &[Value],
        y: &[Value],
        rule: usize,
        key: &Option<String>,
        active: &Active,
    ) {
        let positional = {
            let mut dry = Walker::new(self.rules, true);
            dry.walk_elements(x.iter(), y.iter(), active);
            dry.total
        };
        let before = self.total;
        self.walk_elements(
            sorted(x, key).into_iter(),
            sorted(y, key).into_iter(),
            active,
        );
        let after = self.total - before;
        if !self.dry {
            self.hidden[rule] += positional.saturating_sub(after) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn paths(a: Value, b: Value) -> Vec<(String, DiffKind)> {
        diff(&a, &b)
            .0
            .into_iter()
            .map(|d| (d.path, d.kind))
            .collect()
    }

    #[test]
    fn kinds_and_pointers() {
        assert_eq!(
            paths(
                json!({"a": 1, "b": [1, 2, 3], "c": null, "d/e~": "x", "gone": 1}),
                json!({"a": 2, "b": [1, 2], "c": "", "d/e~": "x", "new": []})
            ),
            vec![
                ("/a".into(), DiffKind::Changed),
                ("/b/2".into(), DiffKind::Removed),
                ("/c".into(), DiffKind::TypeChanged),
                ("/gone".into(), DiffKind::Removed),
                ("/new".into(), DiffKind::Added),
            ]
        );
        assert_eq!(paths(json!({"k~/": 1}), json!({"k~/": 2}))[0].0, "/k~0~1");
        assert_eq!(
            paths(json!(null), json!([])),
            vec![(String::new(), DiffKind::TypeChanged)]
        );
    }

    #[test]
    fn empty_is_not_missing() {
        for (a, b) in [
            (json!({}), json!({"x": null})),
            (json!({"x": null}), json!({"x": ""})),
            (json!({"x": ""}), json!({"x": []})),
            (json!({"x": []}), json!({"x": {}})),
        ] {
            assert!(!paths(a.clone(), b.clone()).is_empty(), "{a} vs {b}");
        }
    }

    #[test]
    fn counts_are_exact_past_the_cap() {
        let a = Value::Array((0..500).map(|i| json!(i)).collect());
        let b = Value::Array((0..500).map(|i| json!(i + 1)).collect());
        let (kept, total) = diff(&a, &b);
        assert_eq!((kept.len(), total), (MAX_DIFFERENCES, 500));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        crate::compare::arb::value("[a-c ]{0,3}", "[a-c]", -5..5, (3, 24, 4))
    }

    proptest! {
        #[test]
        fn no_differences_iff_equal(a in arb_json(), b in arb_json()) {
            let (_, total) = diff(&a, &b);
            prop_assert_eq!(total == 0, a == b);
        }

        #[test]
        fn diff_is_antisymmetric(a in arb_json(), b in arb_json()) {
            let forward = diff(&a, &b).0;
            let backward = diff(&b, &a).0;
            let flip = |k| match k { DiffKind::Added => DiffKind::Removed, DiffKind::Removed => DiffKind::Added, k => k };
            let flipped: Vec<_> = backward.into_iter().map(|d| Difference { path: d.path, kind: flip(d.kind) }).collect();
            prop_assert_eq!(forward, flipped);
        }

        /// Rules other than `unordered` only ever hide what the plain diff
        /// finds, and every difference is either shown or credited to a rule.
        #[test]
        fn rules_hide_and_account_for_every_difference(
            a in arb_json(),
            b in arb_json(),
            kind in prop_oneof![Just("ignore"), Just("case_insensitive"), Just("scrub"), Just("tolerance"), Just("text")],
            path in prop_oneof![Just(""), Just("/a"), Just("/*"), Just("/*/b"), Just("/0"), Just("/a/*")],
        ) {
            let rules = one_rule(kind, path);
            let (plain, plain_total) = diff(&a, &b);
            let ruled = diff_under_rules(&a, &b, &rules, &[true]);
            prop_assert!(ruled.kept.iter().all(|d| plain.contains(d)), "{:?} not within {:?}", ruled.kept, plain);
            prop_assert_eq!(ruled.total + ruled.hidden[0] as usize, plain_total);
        }

        /// An array and any reordering of it are equal under `unordered`.
        #[test]
        fn unordered_sees_no_difference_in_a_permutation(
            items in prop::collection::vec(arb_json(), 0..6),
            seed in any::<u64>(),
        ) {
            let mut shuffled = items.clone();
            // A deterministic shuffle from the seed (Fisher-Yates with an LCG).
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            let rules = one_rule("unordered", "/v");
            let ruled = diff_under_rules(&json!({"v": items}), &json!({"v": shuffled}), &rules, &[true]);
            prop_assert_eq!(ruled.total, 0, "{:?}", ruled.kept);
        }
    }

    fn one_rule(kind: &str, path: &str) -> Vec<crate::compare::Rule> {
        let mut config = json!({"name": "r", "kind": kind, "path": path, "reason": "test"});
        match kind {
            "scrub" => config["pattern"] = json!("[ab]"),
            "tolerance" => config["absolute"] = json!(1),
            "text" => {
                config["whitespace"] = json!("collapse");
                config["case"] = json!(true);
            }
            _ => {}
        }
        let config = serde_json::from_value(config).unwrap();
        crate::compare::RuleSet::compile(&[crate::compare::Declared::new(config, "test")])
            .unwrap()
            .rules
    }

    #[test]
    fn string_rules_compose_scrub_then_case() {
        let rules = {
            let scrub = serde_json::from_value(json!({"name": "id", "kind": "scrub", "path": "/m", "pattern": "[0-9]+", "reason": "ids"})).unwrap();
            let case = serde_json::from_value(
                json!({"name": "case", "kind": "case_insensitive", "path": "/m", "reason": "case"}),
            )
            .unwrap();
            // Declared case first: it still compares what the scrub leaves.
            crate::compare::RuleSet::compile(&[
                crate::compare::Declared::new(case, "t"),
                crate::compare::Declared::new(scrub, "t"),
            ])
            .unwrap()
            .rules
        };
        let walk = |x: &str, y: &str| {
            diff_under_rules(&json!({"m": x}), &json!({"m": y}), &rules, &[true, true])
        };
        let both = walk("Order 12 failed", "order 99 FAILED");
        assert_eq!((both.total, both.hidden.to_vec()), (0, vec![1, 0]));
        let scrub_only = walk("order 12", "order 99");
        assert_eq!(
            (scrub_only.total, scrub_only.hidden.to_vec()),
            (0, vec![0, 1])
        );
        assert_eq!(walk("order 12 ok", "order 99 failed").total, 1);
    }

    #[test]
    fn unordered_credits_what_reordering_hid_and_shows_what_remains() {
        let rules = one_rule("unordered", "/v");
        let ruled = diff_under_rules(
            &json!({"v": ["a", "b", "c"]}),
            &json!({"v": ["c", "a", "x"]}),
            &rules,
            &[true],
        );
        // Sorted: [a, b, c] vs [a, c, x]: two positions still differ, where
        // the positional comparison had three.
        assert_eq!(
            ruled
                .kept
                .iter()
                .map(|d| d.path.as_str())
                .collect::<Vec<_>>(),
            ["/v/1", "/v/2"]
        );
        assert_eq!(ruled.hidden[0], 1);
    }
}
