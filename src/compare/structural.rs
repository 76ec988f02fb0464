//! Structural JSON diff: where two values differ, as JSON Pointer paths,
//! optionally under comparison rules.
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
//! The walk never copies or rewrites either value; its extra cost is a few
//! pattern-token comparisons per node, plus the rules' own work (a regex, a
//! lower-casing, a sort) only where the values differ.

use super::pointer::{push_token, Child};
use super::rules::{Action, PerRule, Rule};
use serde::Serialize;
use serde_json::Value;
use smallvec::SmallVec;
use std::borrow::Cow;

/// Differences kept per record (the count stays exact beyond it).
pub const MAX_DIFFERENCES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    Changed,
    TypeChanged,
    Added,
    Removed,
}

impl DiffKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Changed => "changed",
            DiffKind::TypeChanged => "type_changed",
            DiffKind::Added => "added",
            DiffKind::Removed => "removed",
        }
    }
}

/// One place where the outputs differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// JSON Pointer into both outputs (`""` is the whole document).
    pub path: String,
    pub kind: DiffKind,
}

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
    /// (`ignore` and `scrub` act on a whole subtree).
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
                if matches!(rule.action, Action::Ignore | Action::Scrub(_)) {
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

    /// Two different scalars of the same type: each rule in play, in
    /// declaration order, may cover the difference. String rules compose:
    /// every `scrub` in play rewrites both strings, then a `case_insensitive`
    /// rule compares what is left ignoring case. (The lower-cased text is
    /// never needed by a later rule, so it is compared, not built.)
    fn leaf(&mut self, a: &Value, b: &Value, active: &Active) {
        let mut strings = match (a, b) {
            (Value::String(x), Value::String(y)) => {
                Some((Cow::Borrowed(x.as_str()), Cow::Borrowed(y.as_str())))
            }
            _ => None,
        };
        let mut case_rule = None;
        for (n, p) in active.iter().enumerate() {
            let here = self.here(p);
            let covered = match &self.rules[p.rule].action {
                Action::Ignore => here || p.below,
                Action::Tolerance { absolute, relative } => {
                    here && within(a, b, *absolute, *relative)
                }
                Action::Scrub(re) if here || p.below => match &mut strings {
                    Some((x, y)) => {
                        for s in [&mut *x, &mut *y] {
                            if let Cow::Owned(scrubbed) = re.replace_all(s, "<scrubbed>") {
                                *s = Cow::Owned(scrubbed);
                            }
                        }
                        x == y
                    }
                    None => false,
                },
                Action::CaseInsensitive if here && strings.is_some() => {
                    case_rule = case_rule.or(Some(p.rule));
                    // Decide now unless a scrub in play comes later.
                    !self.scrub_later(&active[n + 1..]) && self.lowercase_eq(&strings)
                }
                Action::Scrub(_) | Action::CaseInsensitive | Action::Unordered { .. } => false,
            };
            if covered {
                return self.hide(p.rule);
            }
        }
        match case_rule {
            Some(rule) if self.lowercase_eq(&strings) => self.hide(rule),
            _ => self.report(DiffKind::Changed),
        }
    }

    /// Whether a `scrub` in `rest` acts at this node.
    fn scrub_later(&self, rest: &[Progress]) -> bool {
        rest.iter().any(|p| {
            matches!(self.rules[p.rule].action, Action::Scrub(_)) && (p.below || self.here(p))
        })
    }

    fn lowercase_eq(&self, strings: &Option<(Cow<str>, Cow<str>)>) -> bool {
        strings.as_ref().is_some_and(|(x, y)| lowercase_eq(x, y))
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

/// The elements in a canonical order: by the `key` field of each (a missing
/// field first), or by the whole element. See [`canonical_cmp`].
fn sorted<'v>(items: &'v [Value], key: &Option<String>) -> Vec<&'v Value> {
    let mut out: Vec<&Value> = items.iter().collect();
    match key {
        Some(k) => out.sort_by(|p, q| match (p.get(k), q.get(k)) {
            (Some(x), Some(y)) => canonical_cmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }),
        None => out.sort_by(|p, q| canonical_cmp(p, q)),
    }
    out
}

/// A total order on JSON values that agrees with equality (`Equal` exactly
/// when `==`), so equal elements of two multisets line up after sorting.
/// Types first (null, booleans, numbers, strings, arrays, objects), then
/// values; numbers by magnitude, ties (`1` and `1.0`) by their text.
fn canonical_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            let (f, g) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            f.total_cmp(&g).then_with(|| {
                if x == y {
                    std::cmp::Ordering::Equal
                } else {
                    x.to_string().cmp(&y.to_string())
                }
            })
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(u, v)| canonical_cmp(u, v))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .zip(y)
            .map(|((k, u), (l, v))| k.cmp(l).then_with(|| canonical_cmp(u, v)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Two numbers within `absolute` or within `relative` of the larger magnitude.
fn within(a: &Value, b: &Value, absolute: f64, relative: f64) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => {
            let gap = (x - y).abs();
            gap <= absolute || gap <= relative * x.abs().max(y.abs())
        }
        _ => false,
    }
}

/// `x.to_lowercase() == y.to_lowercase()`, without allocating in the common
/// cases. Characters lower-case one by one except the Greek capital sigma,
/// whose small form depends on its neighbours; with that choice folded away
/// (`ς` → `σ`) the comparison is char by char, so a common prefix and suffix
/// can be skipped, ASCII compares in place, and unequal strings are rejected
/// at their first difference. Only strings that pass are lower-cased whole,
/// to confirm.
fn lowercase_eq(x: &str, y: &str) -> bool {
    fn fold(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars()
            .flat_map(char::to_lowercase)
            .map(|c| if c == 'ς' { 'σ' } else { c })
    }
    let (mut u, mut v) = (x.as_bytes(), y.as_bytes());
    let prefix = common_prefix(u, v);
    // Back to the start of the character the prefix ends in (the same
    // offset is a boundary in both, as the bytes before it are equal).
    let prefix = (0..=prefix)
        .rev()
        .find(|&i| x.is_char_boundary(i))
        .unwrap_or(0);
    (u, v) = (&u[prefix..], &v[prefix..]);
    let suffix = common_suffix(u, v);
    // Forward to a character start inside the common suffix.
    let keep = |s: &[u8]| {
        (s.len() - suffix..=s.len())
            .find(|&i| i == s.len() || (s[i] as i8) >= -0x40)
            .unwrap_or(s.len())
    };
    let (ku, kv) = (keep(u), keep(v));
    let (a, b) = (&x[prefix..prefix + ku], &y[prefix..prefix + kv]);
    let folded_equal = if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold(a).eq(fold(b))
    };
    folded_equal && x.to_lowercase() == y.to_lowercase()
}

/// How many leading bytes `a` and `b` share (16 at a time, then byte by byte).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 16 <= n && a[i..i + 16] == b[i..i + 16] {
        i += 16;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// How many trailing bytes `a` and `b` share.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + 16 <= n && a[n - i - 16..n - i] == b[n - i - 16..n - i] {
        i += 16;
    }
    while i < n && a[n - i - 1] == b[n - i - 1] {
        i += 1;
    }
    i
}

#[cfg(test)]
mod lowercase_tests {
    use super::lowercase_eq;

    #[test]
    fn common_ends_are_counted_exactly() {
        use super::{common_prefix, common_suffix};
        let long = "x".repeat(40);
        for (a, b, p, s) in [
            ("", "", 0, 0),
            ("abc", "abd", 2, 0),
            ("abc", "zbc", 0, 2),
            (
                &*format!("{long}1{long}"),
                &*format!("{long}2{long}"),
                40,
                40,
            ),
            (&*long, &*format!("{long}y"), 40, 0),
        ] {
            assert_eq!(common_prefix(a.as_bytes(), b.as_bytes()), p, "{a} {b}");
            assert_eq!(common_suffix(a.as_bytes(), b.as_bytes()), s, "{a} {b}");
        }
    }

    #[test]
    fn agrees_with_lowercasing_whole_strings() {
        let words = [
            "",
            "a",
            "A",
            "abc",
            "ABC",
            "aBc",
            "abd",
            "é",
            "É",
            "éa",
            "Éa",
            "ΟΔΟΣ",
            "οδος",
            "οδoς",
            "ὈΔΥΣΣΕΎΣ",
            "ὀδυσσεύς",
            "İ",
            "i̇",
            "i",
            "ß",
            "SS",
            "ǅ",
            "ǆ",
            "\u{1e}é",
            "é\u{1e}",
            "xΣ",
            "xσ",
            "xς",
            "Σx",
            "σx",
            "a\u{2028}B",
            "A\u{2028}b",
        ];
        for x in words {
            for y in words {
                assert_eq!(
                    lowercase_eq(x, y),
                    x.to_lowercase() == y.to_lowercase(),
                    "{x:?} vs {y:?}"
                );
            }
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
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-5i64..5).prop_map(|n| json!(n)),
            "[a-c ]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
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
            kind in prop_oneof![Just("ignore"), Just("case_insensitive"), Just("scrub"), Just("tolerance")],
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
            _ => {}
        }
        let config = serde_json::from_value(config).unwrap();
        crate::compare::RuleSet::compile(&[(config, "test".into())])
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
            crate::compare::RuleSet::compile(&[(case, "t".into()), (scrub, "t".into())])
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
