//! A bounded summary of the shapes of many JSON values: what a run keeps of
//! its legacy's answers, so that a draft output schema can be inferred from
//! the run directory alone ([`super::infer`]).
//!
//! # Contract
//! - [`Shape::add`] takes one value; after any number of values a shape
//!   says, for its location: how many values it saw and of which JSON types,
//!   the distinct strings while there are at most [`MAX_ENUM`] of at most
//!   [`MAX_ENUM_CHARS`] characters (then it stops keeping them), the keys of
//!   objects (each with its own shape; at most [`MAX_PROPERTIES`] keys per
//!   object, later keys are counted in `more_keys` and not described) and
//!   the merged shape of array items. Below [`MAX_DEPTH`] only types are
//!   kept. Memory is bounded by those limits, whatever the number of values.
//! - [`Shape::add_text`] takes a value as its JSON text, with the same
//!   result as adding the value it reads as, without building it (a text
//!   output's shape costs no `Value`, and one pass over the text whatever
//!   its nesting).
//! - Every value added is described by the shape, so a schema inferred from
//!   it accepts every one of them ([`super::infer`]'s promise).
//! - [`AnswerShapes`] is what a run writes ([`SHAPE_FILE`]): the shape of
//!   the legacy's outputs and the error types it raised (at most
//!   [`MAX_ERROR_TYPES`], `cutover.*` plumbing errors left out).

use crate::model::valid::skip_ws;
use crate::model::Answer;
use crate::util::json::{container_end, literal_end, string_end};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// The file of a run directory that holds its [`AnswerShapes`].
pub const SHAPE_FILE: &str = "legacy-shape.json";
/// Distinct strings kept per location, at most.
pub const MAX_ENUM: usize = 16;
/// Longest string kept as a possible enum value, in characters.
pub const MAX_ENUM_CHARS: usize = 64;
/// Keys described per object location, at most.
pub const MAX_PROPERTIES: usize = 256;
/// Nesting below which only types are kept.
pub const MAX_DEPTH: usize = 16;
/// Error types kept, at most.
pub const MAX_ERROR_TYPES: usize = 100;

/// The JSON types seen at one location, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Types {
    pub null: u64,
    pub boolean: u64,
    pub integer: u64,
    /// Numbers that are not integers.
    pub number: u64,
    pub string: u64,
    pub array: u64,
    pub object: u64,
}

/// The shape of the values seen at one location (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub seen: u64,
    pub types: Types,
    /// The distinct strings seen, while they are few and short (`None`
    /// once there were more, or a longer one).
    pub strings: Option<BTreeSet<String>>,
    /// Object keys and the shapes of their values.
    pub properties: BTreeMap<String, Shape>,
    /// Keys seen past [`MAX_PROPERTIES`] (not described).
    pub more_keys: u64,
    /// The merged shape of every array item seen here.
    pub items: Option<Box<Shape>>,
}

impl Shape {
    /// Takes one more value seen at this location.
    pub fn add(&mut self, value: &Value) {
        self.add_at(value, 0);
    }

    /// Takes one more value, given as its JSON text (an output's text, which
    /// reads as a value), exactly as [`Shape::add`] takes that value,
    /// without building it: the text is read once into tokens (strings
    /// skipped, escapes undecoded; the members of containers at
    /// [`MAX_DEPTH`] skipped), then the shape is taken from the tokens, so
    /// the cost is one pass over the text whatever its nesting. An object
    /// is visited in the text's order when that takes the same shape as the
    /// value's order (at most `IN_ORDER_KEYS` keys, plain and distinct,
    /// and room for all or none of them), else in the value's order (keys
    /// sorted, a repeated key's last value). A string is decoded only while
    /// this location still keeps strings. The text must be valid JSON (an
    /// output's text is): of other text the shape is unspecified (never a
    /// panic).
    pub fn add_text(&mut self, text: &str) {
        TOKENS.with_borrow_mut(|toks| {
            read_tokens(text, toks);
            self.add_at(Tokens { text, toks, at: 0 }, 0);
            if toks.capacity() > KEPT_TOKENS {
                *toks = Vec::new();
            }
        });
    }

    fn add_at<'a, N: Node<'a>>(&mut self, value: N, depth: usize) {
        if self.seen == 0 {
            self.strings = Some(BTreeSet::new());
        }
        self.seen += 1;
        let deeper = depth < MAX_DEPTH;
        let room = MAX_PROPERTIES.saturating_sub(self.properties.len());
        match value.view(deeper, room) {
            View::Null => self.types.null += 1,
            View::Bool => self.types.boolean += 1,
            View::Integer => self.types.integer += 1,
            View::Number => self.types.number += 1,
            View::String(s) => {
                self.types.string += 1;
                if let Some(strings) = &mut self.strings {
                    let s = s.get();
                    if s.chars().count() > MAX_ENUM_CHARS
                        || (strings.len() >= MAX_ENUM && !strings.contains(s.as_ref()))
                    {
                        self.strings = None;
                    } else if !strings.contains(s.as_ref()) {
                        strings.insert(s.into_owned());
                    }
                }
            }
            View::Array(items) => {
                self.types.array += 1;
                if deeper {
                    let shape = self.items.get_or_insert_with(Default::default);
                    for item in items {
                        shape.add_at(item, depth + 1);
                    }
                }
            }
            View::Object(members) => {
                self.types.object += 1;
                if deeper {
                    for (key, value) in members {
                        if let Some(shape) = self.properties.get_mut(key.as_ref()) {
                            shape.add_at(value, depth + 1);
                        } else if self.properties.len() < MAX_PROPERTIES {
                            let mut shape = Shape::default();
                            shape.add_at(value, depth + 1);
                            self.properties.insert(key.into_owned(), shape);
                        } else {
                            self.more_keys += 1;
                        }
                    }
                }
            }
        }
    }
}

/// One JSON value as [`Shape::add_at`] sees it.
enum View<'a, I, M> {
    Null,
    Bool,
    Integer,
    Number,
    String(JsonStr<'a>),
    Array(I),
    Object(M),
}

/// A string, decoded only when asked.
enum JsonStr<'a> {
    Value(&'a str),
    /// The string's JSON text, quotes included.
    Text(&'a str),
}

impl<'a> JsonStr<'a> {
    fn get(&self) -> Cow<'a, str> {
        match self {
            JsonStr::Value(s) => Cow::Borrowed(s),
            // The text is a JSON string (it was split from valid JSON): its
            // body is its value unless it has an escape.
            JsonStr::Text(raw) => match memchr::memchr(b'\\', raw.as_bytes()) {
                None => Cow::Borrowed(raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default()),
                Some(_) => serde_json::from_str::<Key>(raw).map_or(Cow::Borrowed(""), |k| k.0),
            },
        }
    }
}

/// A JSON value [`Shape`] can take: a [`Value`], or a value's text read into
/// [`Tokens`].
trait Node<'a>: Sized {
    type Items: Iterator<Item = Self>;
    type Members: Iterator<Item = (Cow<'a, str>, Self)>;
    /// `deeper`: whether the members of a container will be visited;
    /// `room`: how many more keys the location describes (an object's
    /// members may come in any order that takes the same shape as a
    /// `Value`'s order, keys sorted).
    fn view(self, deeper: bool, room: usize) -> View<'a, Self::Items, Self::Members>;
}

type ValueMembers<'a> = std::iter::Map<
    serde_json::map::Iter<'a>,
    fn((&'a String, &'a Value)) -> (Cow<'a, str>, &'a Value),
>;

impl<'a> Node<'a> for &'a Value {
    type Items = std::slice::Iter<'a, Value>;
    type Members = ValueMembers<'a>;

    fn view(self, _deeper: bool, _room: usize) -> View<'a, Self::Items, Self::Members> {
        match self {
            Value::Null => View::Null,
            Value::Bool(_) => View::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => View::Integer,
            Value::Number(_) => View::Number,
            Value::String(s) => View::String(JsonStr::Value(s)),
            Value::Array(items) => View::Array(items.iter()),
            Value::Object(map) => View::Object(map.iter().map(
                (|(k, v)| (Cow::Borrowed(k.as_str()), v)) as fn((&'a String, &'a Value)) -> _,
            )),
        }
    }
}

/// One token of a value's text, as [`tokens`] reads it: the text is read
/// once, and the shape is then taken from the tokens, so no part of the text
/// is scanned again for each container around it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Null,
    Bool,
    Integer,
    Number,
    /// A string's JSON text, quotes included, is `text[start..end]`
    /// (whether it has escapes is asked only of the strings decoded).
    Str {
        start: usize,
        end: usize,
    },
    /// `end`: the index of the token after the array's items.
    Array {
        end: usize,
    },
    /// `end` as for arrays; the members are pairs of a key (a `Str`) and the
    /// value's tokens, `members` of them.
    Object {
        end: usize,
        members: usize,
    },
}

/// [`read_tokens`] into a new vector.
#[cfg(test)]
fn tokens(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    read_tokens(text, &mut toks);
    toks
}

/// The most tokens [`TOKENS`] keeps room for between texts: a bigger text's
/// room is given back after it.
const KEPT_TOKENS: usize = 4096;

thread_local! {
    /// The tokens of the text [`Shape::add_text`] is taking, cleared for
    /// each text: the room is kept, so that a text costs no allocation.
    static TOKENS: std::cell::RefCell<Vec<Tok>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads a value's text into [`Tok`]s in one pass: each byte is looked at
/// once (a container at [`MAX_DEPTH`], whose members are not visited, is
/// skipped by a scan and has no member tokens). Of text that is not JSON the
/// tokens still nest (every container has its `end`), whatever they say.
/// `toks` is cleared first.
fn read_tokens(text: &str, toks: &mut Vec<Tok>) {
    toks.clear();
    let b = text.as_bytes();
    // The open containers' token indices, outermost first.
    let mut open = [0usize; MAX_DEPTH];
    let mut depth = 0;
    let mut at = skip_ws(b, 0);
    'value: loop {
        // A value starts at `at`.
        match b.get(at) {
            Some(b'"') => {
                let end = string_end(b, at);
                toks.push(Tok::Str { start: at, end });
                at = end;
            }
            Some(&open_byte @ (b'[' | b'{')) => {
                let index = toks.len();
                let array = open_byte == b'[';
                if depth == MAX_DEPTH {
                    // Its members are not visited: skipped, not read.
                    toks.push(match array {
                        true => Tok::Array { end: index + 1 },
                        false => Tok::Object {
                            end: index + 1,
                            members: 0,
                        },
                    });
                    at = container_end(b, at);
                } else {
                    toks.push(match array {
                        true => Tok::Array { end: 0 },
                        false => Tok::Object { end: 0, members: 0 },
                    });
                    open[depth] = index;
                    depth += 1;
                    at = skip_ws(b, at + 1);
                    // `]` and `}` are `[` and `{` plus 2.
                    if b.get(at) != Some(&(open_byte + 2)) {
                        if !array {
                            match key(text, at, toks, index) {
                                Some(value_at) => at = value_at,
                                None => break 'value,
                            }
                        }
                        continue 'value;
                    }
                }
            }
            _ => {
                let end = literal_end(b, at);
                toks.push(literal(text.get(at..end).unwrap_or_default()));
                at = end;
            }
        }
        // After a value: the next member, or the end of containers.
        while depth > 0 {
            at = skip_ws(b, at);
            let container = open[depth - 1];
            match b.get(at) {
                Some(b',') => {
                    at = skip_ws(b, at + 1);
                    if matches!(toks.get(container), Some(Tok::Object { .. })) {
                        match key(text, at, toks, container) {
                            Some(value_at) => at = value_at,
                            None => break 'value,
                        }
                    }
                    continue 'value;
                }
                Some(b']' | b'}') => {
                    close(toks, container);
                    depth -= 1;
                    at += 1;
                }
                _ => break 'value,
            }
        }
        return;
    }
    // Not JSON: what is open ends here.
    while depth > 0 {
        depth -= 1;
        close(toks, open[depth]);
    }
}

/// Sets the `end` of the container whose token is at `index`: here.
fn close(toks: &mut [Tok], index: usize) {
    let here = toks.len();
    if let Some(Tok::Array { end } | Tok::Object { end, .. }) = toks.get_mut(index) {
        *end = here;
    }
}

/// Reads an object member's key at `at` and its colon, counting the member
/// in the object's token at `object`; where its value starts (`None`: not
/// JSON).
fn key(text: &str, at: usize, toks: &mut Vec<Tok>, object: usize) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let end = string_end(b, at);
    let colon = skip_ws(b, end);
    if b.get(colon) != Some(&b':') {
        return None;
    }
    toks.push(Tok::Str { start: at, end });
    if let Some(Tok::Object { members, .. }) = toks.get_mut(object) {
        *members += 1;
    }
    Some(skip_ws(b, colon + 1))
}

/// A literal's token. A number is an integer exactly when serde_json reads
/// it as `u64` or `i64` (`-0`, fractions, exponents and integers beyond 64
/// bits are read as `f64`).
fn literal(text: &str) -> Tok {
    match text.as_bytes().first() {
        Some(b'n') => Tok::Null,
        Some(b't' | b'f') => Tok::Bool,
        _ if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) => Tok::Number,
        _ if text.starts_with('-') => match text.parse::<i64>() {
            Ok(n) if n < 0 => Tok::Integer,
            _ => Tok::Number,
        },
        _ if text.parse::<u64>().is_ok() => Tok::Integer,
        _ => Tok::Number,
    }
}

/// Objects with at most this many keys are visited in the text's order when
/// their keys are plain and distinct (checked pair by pair); others are
/// sorted as a `Value`'s are.
const IN_ORDER_KEYS: usize = 16;

/// One value of a text read into [`Tok`]s: the token at `at`.
#[derive(Clone, Copy)]
struct Tokens<'a> {
    text: &'a str,
    toks: &'a [Tok],
    at: usize,
}

impl<'a> Tokens<'a> {
    fn to(self, at: usize) -> Self {
        Tokens { at, ..self }
    }

    /// The index of the token after the value at `at` (always past `at`).
    fn after(self, at: usize) -> usize {
        match self.toks.get(at) {
            Some(Tok::Array { end } | Tok::Object { end, .. }) => (*end).max(at + 1),
            _ => at + 1,
        }
    }

    /// The string token at `at`: its JSON text, quotes included.
    fn string(self, at: usize) -> Option<&'a str> {
        match self.toks.get(at) {
            Some(&Tok::Str { start, end }) => Some(self.text.get(start..end).unwrap_or_default()),
            _ => None,
        }
    }

    /// The members of the object whose members start at `at` and end
    /// before `end`: the index of each key token.
    fn members(self, at: usize, end: usize) -> MemberKeys<'a> {
        MemberKeys { of: self, at, end }
    }

    /// Whether the object's keys (at most [`IN_ORDER_KEYS`]) are all plain
    /// (no escapes) and distinct.
    fn plain_distinct_keys(self, at: usize, end: usize) -> bool {
        let mut keys = [""; IN_ORDER_KEYS];
        let mut n = 0;
        for key in self.members(at, end) {
            match self.string(key) {
                Some(raw) if n < IN_ORDER_KEYS && !raw.contains('\\') => {
                    if keys[..n].contains(&raw) {
                        return false;
                    }
                    keys[n] = raw;
                    n += 1;
                }
                _ => return false,
            }
        }
        true
    }

    /// The key at `at`, decoded.
    fn key(self, at: usize) -> Cow<'a, str> {
        self.string(at)
            .map_or(Cow::Borrowed(""), |raw| JsonStr::Text(raw).get())
    }
}

/// The index of each key token of an object read into [`Tok`]s, while
/// there are a key and a value.
struct MemberKeys<'a> {
    of: Tokens<'a>,
    at: usize,
    end: usize,
}

impl Iterator for MemberKeys<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.at + 1 >= self.end || self.of.string(self.at).is_none() {
            return None;
        }
        let key = self.at;
        self.at = self.of.after(key + 1);
        Some(key)
    }
}

/// The items of an array read into [`Tok`]s.
struct TokenItems<'a> {
    of: Tokens<'a>,
    at: usize,
    end: usize,
}

impl<'a> Iterator for TokenItems<'a> {
    type Item = Tokens<'a>;
    fn next(&mut self) -> Option<Tokens<'a>> {
        if self.at >= self.end {
            return None;
        }
        let item = self.of.to(self.at);
        self.at = self.of.after(self.at);
        Some(item)
    }
}

/// The members of an object read into [`Tok`]s, in the order [`Shape`]
/// takes them.
enum TokenMembers<'a> {
    /// In the text's order (keys distinct, and no key left out for want of
    /// room whatever the order).
    InOrder(MemberKeys<'a>),
    /// A `Value`'s order: keys sorted, a repeated key's last value.
    Sorted(std::vec::IntoIter<(Cow<'a, str>, Tokens<'a>)>),
}

impl<'a> Iterator for TokenMembers<'a> {
    type Item = (Cow<'a, str>, Tokens<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            TokenMembers::InOrder(keys) => {
                let of = keys.of;
                keys.next().map(|k| (of.key(k), of.to(k + 1)))
            }
            TokenMembers::Sorted(members) => members.next(),
        }
    }
}

impl<'a> Node<'a> for Tokens<'a> {
    type Items = TokenItems<'a>;
    type Members = TokenMembers<'a>;

    fn view(self, deeper: bool, room: usize) -> View<'a, Self::Items, Self::Members> {
        match self.toks.get(self.at) {
            Some(Tok::Null) => View::Null,
            Some(Tok::Bool) => View::Bool,
            Some(Tok::Integer) => View::Integer,
            Some(Tok::Number) | None => View::Number,
            Some(Tok::Str { .. }) => View::String(match self.string(self.at) {
                Some(raw) => JsonStr::Text(raw),
                None => JsonStr::Value(""),
            }),
            Some(&Tok::Array { end }) => View::Array(TokenItems {
                of: self,
                at: self.at + 1,
                end: if deeper { end } else { 0 },
            }),
            Some(&Tok::Object { end, members }) => {
                let (at, end) = (self.at + 1, if deeper { end } else { 0 });
                // Visiting in the text's order takes the same as a `Value`'s
                // order when no key repeats and every new key has room (or
                // none has: then none is described, whatever the order).
                let in_order = members <= 1
                    || ((room == 0 || members <= room)
                        && members <= IN_ORDER_KEYS
                        && self.plain_distinct_keys(at, end));
                View::Object(if in_order {
                    TokenMembers::InOrder(self.members(at, end))
                } else {
                    let mut members: Vec<_> = self
                        .members(at, end)
                        .map(|k| (self.key(k), self.to(k + 1)))
                        .collect();
                    // Stable: of a repeated key's values the last is kept.
                    members.sort_by(|a, b| a.0.cmp(&b.0));
                    let mut kept: Vec<(Cow<'a, str>, Tokens<'a>)> =
                        Vec::with_capacity(members.len());
                    for member in members {
                        match kept.last_mut() {
                            Some(last) if last.0 == member.0 => *last = member,
                            _ => kept.push(member),
                        }
                    }
                    TokenMembers::Sorted(kept.into_iter())
                })
            }
        }
    }
}

/// A string that borrows from the text when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// What a run keeps of one side's answers ([`SHAPE_FILE`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerShapes {
    /// The run it was taken from.
    pub run_id: String,
    /// The shape of every output.
    pub outputs: Shape,
    /// Error types raised, with how often (`cutover.*` left out).
    pub errors: BTreeMap<String, u64>,
    /// Error types past [`MAX_ERROR_TYPES`], counted, not kept.
    pub more_error_types: u64,
}

impl AnswerShapes {
    pub fn new(run_id: &str) -> Self {
        AnswerShapes {
            run_id: run_id.to_owned(),
            ..Default::default()
        }
    }

    /// Takes one answer (timeouts add nothing).
    pub fn add(&mut self, answer: &Answer) {
        match answer {
            // A text output's shape is taken from its text (no value built).
            Answer::Output(output) => match (output.value_if_built(), output.text()) {
                (None, Some(text)) => self.outputs.add_text(text),
                _ => self.outputs.add(output.value()),
            },
            Answer::Error(e) if e.kind.starts_with("cutover.") => {}
            Answer::Error(e) => {
                if let Some(n) = self.errors.get_mut(&e.kind) {
                    *n += 1;
                } else if self.errors.len() < MAX_ERROR_TYPES {
                    self.errors.insert(e.kind.clone(), 1);
                } else {
                    self.more_error_types += 1;
                }
            }
            Answer::Timeout(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shape of texts, taken from the texts, and of the values they read as.
    fn both(texts: &[String]) -> (Shape, Shape) {
        let (mut from_text, mut from_value) = (Shape::default(), Shape::default());
        for text in texts {
            from_text.add_text(text);
            from_value.add(&serde_json::from_str(text).unwrap());
        }
        (from_text, from_value)
    }

    /// The tokens' room is kept between texts, but not a big text's.
    #[test]
    fn a_big_texts_token_room_is_given_back_and_a_small_ones_kept() {
        let big = format!("[{}]", vec!["1"; KEPT_TOKENS * 2].join(","));
        let texts = [big, r#"{"a": [1, "x"]}"#.to_owned(), "[true]".to_owned()];
        let (from_text, from_value) = both(&texts);
        assert_eq!(from_text, from_value);
        let room = TOKENS.with_borrow(|toks| toks.capacity());
        assert!((1..=KEPT_TOKENS).contains(&room), "{room}");
        both(&texts[..1]);
        assert_eq!(TOKENS.with_borrow(|toks| toks.capacity()), 0);
    }

    #[test]
    fn a_texts_shape_is_its_values_shape_with_repeated_keys_escapes_and_many_keys() {
        let many: Vec<String> = (0..300).rev().map(|i| format!("\"k{i}\": {i}")).collect();
        let texts = [
            r#"{"b": 1, "a": "x", "b": "two", "a\u0041": [1.5, -0, 1e3, 18446744073709551616]}"#
                .to_owned(),
            r#"{"a": "\u00e9t\u00e9", "b": null, "c": {"d": [true, {"e": []}]}}"#.to_owned(),
            format!("{{{}}}", many.join(", ")),
            r#"["x", "x", "\ud83d\ude00", 3]"#.to_owned(),
            " [ -0, -1, 0, 18446744073709551615, 18446744073709551616, -9223372036854775808, -9223372036854775809, 2.0 ] ".to_owned(),
            format!("[{}]", ["\"long \\u00e9\""; 20].concat().replace("\"\"", "\", \"")),
            format!("[\"{}\", \"{}\"]", "\\u00e9".repeat(70), "y".repeat(65)),
        ];
        let (a, b) = both(&texts);
        assert_eq!(a, b);
        // Not JSON: whatever shape, but no panic.
        for broken in ["[1,", "{\"a\"", "\"x", "{\"a\" 1}", "]", ""] {
            Shape::default().add_text(broken);
        }
    }

    /// A JSON text's parts, to render with any whitespace between tokens
    /// (objects may repeat keys, which a `Value` cannot).
    #[derive(Debug, Clone)]
    enum Json {
        Leaf(&'static str),
        Array(Vec<Json>),
        Object(Vec<(&'static str, Json)>),
    }

    /// Leaves of every class the walk tells apart: integers and the numbers
    /// serde_json reads as `f64` (`-0`, fractions, exponents, beyond 64
    /// bits), strings with escapes (quotes and backslashes among them), at
    /// and past [`MAX_ENUM_CHARS`] characters.
    const LEAVES: &[&str] = &[
        "0",
        "-0",
        "1",
        "-1",
        "0.0",
        "-1.5e3",
        "1E2",
        "2e-3",
        "1e+2",
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "null",
        "true",
        "false",
        r#""""#,
        r#""s""#,
        r#""t""#,
        r#""\u00e9""#,
        r#""é""#,
        r#""\"""#,
        r#""\\""#,
        r#""\u0022""#,
        r#""\u005c\"\\""#,
        r#""\ud83d\ude00""#,
        r#""a\nb\/""#,
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
        r#""\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9éééééééééééééééééééééééééééééééé""#,
        r#""v1""#,
        r#""v2""#,
        r#""v3""#,
        r#""v4""#,
        r#""v5""#,
        r#""v6""#,
        r#""v7""#,
        r#""v8""#,
        r#""v9""#,
        r#""v10""#,
        r#""v11""#,
        r#""v12""#,
        r#""v13""#,
        r#""v14""#,
        r#""v15""#,
        r#""v16""#,
        r#""v17""#,
        "[]",
        "{}",
    ];
    /// Keys, some the same key spelt with escapes.
    const KEYS: &[&str] = &[
        "a",
        "b",
        r"\u0061",
        r"\u0062",
        "c",
        "",
        "é",
        r"\u00e9",
        r#"q\"q"#,
        r#"q\u0022q"#,
        r"\\",
        "a b",
        "d",
        "e",
        "f",
        "g",
        "h",
        "i",
        "j",
    ];
    const SPACES: &[&str] = &["", "", "", " ", "\n", "\t \r\n"];

    fn render(json: &Json, spaces: &[&str], at: &mut usize, out: &mut String) {
        fn space(spaces: &[&str], at: &mut usize, out: &mut String) {
            *at += 1;
            out.push_str(spaces[*at % spaces.len()]);
        }
        space(spaces, at, out);
        match json {
            Json::Leaf(text) => out.push_str(text),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    render(item, spaces, at, out);
                }
                space(spaces, at, out);
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(spaces, at, out);
                    out.push_str(&format!("\"{key}\""));
                    space(spaces, at, out);
                    out.push(':');
                    render(value, spaces, at, out);
                }
                space(spaces, at, out);
                out.push('}');
            }
        }
        space(spaces, at, out);
    }

    fn json() -> impl proptest::strategy::Strategy<Value = Json> {
        use proptest::prelude::*;
        let leaf = proptest::sample::select(LEAVES).prop_map(Json::Leaf);
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..8)
                    .prop_map(Json::Object),
            ]
        })
    }

    /// `json` inside `nest` arrays and objects (`{"a": …}`), alternately:
    /// past [`MAX_DEPTH`] when `nest` is large.
    fn nested(json: Json, nest: usize) -> Json {
        (0..nest).fold(json, |inner, level| match level % 2 {
            0 => Json::Array(vec![inner, Json::Leaf("1")]),
            _ => Json::Object(vec![("a", inner), ("b", Json::Leaf("{}"))]),
        })
    }

    proptest::proptest! {
        #[test]
        fn a_random_texts_shape_is_its_values_shape(
            values in proptest::collection::vec((json(), 0..20usize), 1..6),
            spaces in proptest::collection::vec(proptest::sample::select(SPACES), 1..9),
        ) {
            let texts: Vec<String> = values.into_iter().map(|(json, nest)| {
                let mut text = String::new();
                render(&nested(json, nest), &spaces, &mut 0, &mut text);
                text
            }).collect();
            let (a, b) = both(&texts);
            proptest::prop_assert_eq!(a, b);
        }

        #[test]
        fn a_texts_shape_is_its_values_shape_when_an_object_fills_the_last_room(
            kept in (MAX_PROPERTIES - 20)..=MAX_PROPERTIES,
            keys in proptest::collection::vec(0..(MAX_PROPERTIES + 20), 1..24),
        ) {
            // A first object leaves room for `MAX_PROPERTIES - kept` keys;
            // the next ones bring old and new keys in any order.
            let first: Vec<String> = (0..kept).map(|i| format!("\"k{i:03}\": {i}")).collect();
            let next: Vec<String> = keys.iter().map(|i| format!("\"k{i:03}\": \"v\"")).collect();
            let texts = [format!("{{{}}}", first.join(",")), format!("{{{}}}", next.join(","))];
            let (a, b) = both(&texts);
            proptest::prop_assert_eq!(a, b);
        }

        #[test]
        fn a_cut_or_garbled_text_takes_some_shape_without_a_panic(
            json in json(),
            cut in 0..1000usize,
            garble in proptest::sample::select(vec!["", "]", "}", ",", ":", "\"", "\\", "[", "{", "x"]),
        ) {
            let mut text = String::new();
            render(&json, &[" "], &mut 0, &mut text);
            let mut cut = cut.min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let mut shape = Shape::default();
            shape.add_text(&text[..cut]);
            shape.add_text(&format!("{}{garble}{}", &text[..cut], &text[cut..]));
            proptest::prop_assert_eq!(shape.seen, 2);
        }
    }

    #[test]
    fn a_text_is_read_into_tokens_once_with_containers_ends_and_key_counts() {
        let text = r#" {"a": [1, -0, "x\"y"], "b\u0062": {}, "c": [[]]} "#;
        let str_at = |needle: &str| {
            let start = text.find(needle).unwrap();
            Tok::Str {
                start,
                end: start + needle.len(),
            }
        };
        assert_eq!(
            tokens(text),
            [
                Tok::Object {
                    end: 11,
                    members: 3
                },
                str_at(r#""a""#),
                Tok::Array { end: 6 },
                Tok::Integer,
                Tok::Number,
                str_at(r#""x\"y""#),
                str_at(r#""b\u0062""#),
                Tok::Object { end: 8, members: 0 },
                str_at(r#""c""#),
                Tok::Array { end: 11 },
                Tok::Array { end: 11 },
            ]
        );
        // Below MAX_DEPTH a container's members are skipped, not read.
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 3), "]".repeat(MAX_DEPTH + 3));
        assert_eq!(tokens(&deep).len(), MAX_DEPTH + 1);
    }

    #[test]
    fn an_objects_repeated_key_takes_its_last_value_once_even_spelt_with_escapes() {
        for text in [
            r#"{"a": 1, "b": true, "a": "x"}"#,
            r#"{"a": 1, "b": true, "\u0061": "x"}"#,
            r#"{"\u0061": 1, "b": true, "a": "x"}"#,
        ] {
            let (a, b) = both(&[text.to_owned()]);
            assert_eq!(a, b, "{text}");
            let a_shape = &a.properties["a"];
            assert_eq!((a_shape.seen, a_shape.types.string), (1, 1), "{text}");
        }
        // More keys than are checked pair by pair, one repeated.
        let mut keys: Vec<String> = (0..IN_ORDER_KEYS + 4)
            .map(|i| format!("\"k{i}\": {i}"))
            .collect();
        keys.push("\"k3\": \"last\"".to_owned());
        let (a, b) = both(&[format!("{{{}}}", keys.join(","))]);
        assert_eq!(a, b);
        assert_eq!(a.properties["k3"].types.string, 1);
    }

    #[test]
    fn an_object_that_fills_the_last_room_describes_the_keys_a_value_would() {
        let first: Vec<String> = (0..MAX_PROPERTIES - 1)
            .map(|i| format!("\"k{i:03}\": 0"))
            .collect();
        // One room left: of the new keys, a `Value` describes the least.
        let texts = [
            format!("{{{}}}", first.join(",")),
            r#"{"z": 1, "k000": 1, "y": 2}"#.to_owned(),
            // No room: new keys counted, old ones described, in any order.
            r#"{"x": 1, "k001": 1, "w": 2}"#.to_owned(),
        ];
        let (a, b) = both(&texts);
        assert_eq!(a, b);
        assert!(a.properties.contains_key("y") && !a.properties.contains_key("z"));
        assert_eq!(a.more_keys, 3);
        assert_eq!(a.properties["k001"].seen, 2);
    }

    #[test]
    fn below_max_depth_a_texts_containers_give_only_their_types() {
        let deep = format!(
            "{}\"s\"{}",
            "[".repeat(MAX_DEPTH + 2),
            "]".repeat(MAX_DEPTH + 2)
        );
        let (a, b) = both(&[
            deep,
            format!(
                "{}1{}",
                "{\"a\": ".repeat(MAX_DEPTH + 2),
                "}".repeat(MAX_DEPTH + 2)
            ),
        ]);
        assert_eq!(a, b);
        let (mut array, mut object) = (&a, &a);
        for _ in 0..MAX_DEPTH {
            array = array.items.as_deref().unwrap();
            object = &object.properties["a"];
        }
        assert_eq!((array.types.array, object.types.object), (1, 1));
        assert!(array.items.is_none() && object.properties.is_empty());
    }

    #[test]
    fn a_texts_strings_are_kept_by_their_decoded_characters() {
        let at_most = format!("\"{}\"", "\\u00e9".repeat(MAX_ENUM_CHARS));
        let past = format!("\"{}\"", "é".repeat(MAX_ENUM_CHARS + 1));
        let (a, b) = both(&[format!("[{at_most}, \"\\u0022\\\\\"]")]);
        assert_eq!(a, b);
        let kept = a.items.as_ref().unwrap().strings.as_ref().unwrap();
        assert!(kept.contains(&"é".repeat(MAX_ENUM_CHARS)) && kept.contains("\"\\"));
        let (a, b) = both(&[format!("[{at_most}, {past}]")]);
        assert_eq!(a, b);
        assert_eq!(a.items.unwrap().strings, None);
    }

    #[test]
    fn a_texts_numbers_are_integers_exactly_when_serde_json_reads_them_as_64_bit_integers() {
        let integers = ["0", "-1", "18446744073709551615", "-9223372036854775808"];
        let numbers = [
            "-0",
            "1.0",
            "1e2",
            "1E+2",
            "18446744073709551616",
            "-9223372036854775809",
        ];
        let text = format!("[{}, {}]", integers.join(","), numbers.join(","));
        let (a, b) = both(&[text]);
        assert_eq!(a, b);
        let items = a.items.unwrap().types;
        assert_eq!((items.integer, items.number), (4, 6));
    }

    #[test]
    fn a_shape_stays_bounded_and_stops_keeping_strings_when_there_are_many() {
        let mut shape = Shape::default();
        for i in 0..1000 {
            shape.add(
                &json!({"status": if i % 2 == 0 { "ok" } else { "no" }, "id": format!("x{i}")}),
            );
        }
        assert_eq!(shape.seen, 1000);
        assert_eq!(shape.types.object, 1000);
        let status = &shape.properties["status"];
        assert_eq!(
            status.strings.as_ref().unwrap().iter().collect::<Vec<_>>(),
            ["no", "ok"]
        );
        assert_eq!(shape.properties["id"].strings, None, "too many to keep");
        let mut wide = Shape::default();
        let object: serde_json::Map<String, Value> = (0..MAX_PROPERTIES + 5)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        wide.add(&Value::Object(object));
        assert_eq!(wide.properties.len(), MAX_PROPERTIES);
        assert_eq!(wide.more_keys, 5);
    }
}
