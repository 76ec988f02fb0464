//! The worker protocol on the wire (`legacy/PROTOCOL.md`): one request per
//! line on the worker's stdin, one response per line on its stdout.
//!
//! # Contract
//! - A request line ([`line_start`], the input, [`line_end`]) embeds the
//!   record's input verbatim (JSON text, never re-serialised, shared with
//!   the record rather than copied; [`WireBatch`] holds a batch's inputs)
//!   under a wire id that is cutover's own sequence number (the worker's
//!   count), never a record id, so duplicate or odd record ids cannot
//!   confuse the matching.
//! - [`parse_response`] accepts exactly `{"id": "<wire id>", "output": any}`
//!   or `{"id", "error": {"type", "message"}}` (other fields ignored; a
//!   present `null` output is an output); anything else is a protocol
//!   violation, said in words (quoting the start of the line) for the error
//!   the worker's calls get. The output is kept as the line's JSON text (no
//!   `Value` built) whenever that reads as a value: the line `worker.py`
//!   writes (`{"id":"N","output":…}`, nothing else in it) is checked in one
//!   pass ([`valid::value_at`]), any other through serde_json
//!   ([`Output::from_text`]); a line neither vouches for is read as before,
//!   to the same answer or error.
//! - The envelope costs no nesting: an output as deep as an input may be
//!   (traffic accepts 128 levels, the record line's own object included) is
//!   read as deep as it is, although the envelope puts it one level deeper
//!   than serde_json's limit of 128. An output deeper than that limit is
//!   that call's `cutover.bad_output`, not a broken protocol: the worker
//!   answered the right id and is kept.
//! - Under [`Framing::Ordered`] (`pipe:`) a request line is the input alone,
//!   and [`parse_ordered`] reads a response line as the answer of the oldest
//!   call: `{"error": {"type", "message"}}` (that one key) is an error, any
//!   other JSON value the output, and a line that is not JSON the call's
//!   `cutover.bad_output` error. No line of a pipe breaks its protocol.

use crate::model::{valid, Answer, AppError, Output};
use crate::util::serde::present;
use crate::util::text::excerpt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;

/// How requests and responses are framed on a pool's pipes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `worker:`: `{"id", "input"}` in, `{"id", "output"|"error"}` out, any order.
    Ids,
    /// `pipe:`: the input in, one answer line out per input line, in order.
    Ordered,
}

/// Request lines to write, one per input, under the consecutive wire ids
/// `first`, `first + 1`, ...: a call's or a batch's. The inputs are shared
/// with the records, not copied into lines of their own (a queued request
/// of a big record would otherwise hold a second copy of it).
pub(super) struct WireBatch {
    pub first: u64,
    pub inputs: Vec<Arc<RawValue>>,
}

/// Appends the start of request line `id` (what comes before the input) to `out`.
pub(super) fn line_start(framing: Framing, id: u64, out: &mut Vec<u8>) {
    if framing == Framing::Ids {
        out.extend_from_slice(br#"{"id":""#);
        out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
        out.extend_from_slice(br#"","input":"#);
    }
}

/// What ends a request line, after the input.
pub(super) fn line_end(framing: Framing) -> &'static [u8] {
    match framing {
        Framing::Ids => b"}\n",
        Framing::Ordered => b"\n",
    }
}

#[derive(Deserialize)]
struct WireResponse {
    id: String,
    #[serde(default, deserialize_with = "present")]
    output: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    error: Option<AppError>,
}

/// The same envelope with the output left as text, for outputs nested too
/// deep to be read inside it (serde_json skips over raw values without a
/// depth limit).
#[derive(Deserialize)]
struct DeepResponse<'a> {
    id: String,
    #[serde(borrow)]
    output: &'a RawValue,
}

/// The envelope with the output kept as text (borrowed from the line; the
/// id borrowed too, a wire id has no escapes).
#[derive(Deserialize)]
struct TextResponse<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "present")]
    output: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "present")]
    error: Option<AppError>,
}

/// The line `legacy/worker.py` (and any worker written the same way)
/// answers an output with, exactly `{"id":"<digits>","output":` then the
/// output then `}` and JSON whitespace, read without serde_json when
/// [`valid::value_at`] vouches for the output: its text is kept as it is
/// ([`Output::from_valid_json_text`]). `None` for any other line, which
/// the general readers below read to the same answer or error.
fn parse_output_line(line: &[u8]) -> Option<(u64, Answer)> {
    let rest = line.strip_prefix(br#"{"id":""#)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let id = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let rest = rest[digits..].strip_prefix(br#"","output":"#)?;
    let (output, end) = valid::value_at(rest, 0)?;
    let mut tail = rest[end..].iter().skip_while(|&&b| valid::is_ws(b));
    (tail.next() == Some(&b'}') && tail.all(|&b| valid::is_ws(b))).then(|| {
        let output = Output::from_valid_json_text(output.to_owned());
        (id, Answer::Output(output))
    })
}

/// The common response, its output kept as JSON text ([`Output::from_text`]).
/// `None` for anything else, which [`parse_response`] reads as it always
/// did, so the answer or the protocol error is the same.
fn parse_text_response(line: &[u8]) -> Option<Result<(u64, Answer), String>> {
    let wire: TextResponse = serde_json::from_slice(line).ok()?;
    let id = match wire_id(&wire.id) {
        Ok(id) => id,
        Err(e) => return Some(Err(e)),
    };
    let answer = match (wire.output, wire.error) {
        (Some(output), None) => Answer::Output(Output::from_text(output.to_owned()).ok()?),
        (None, Some(error)) => Answer::Error(error),
        _ => return None,
    };
    Some(Ok((id, answer)))
}

/// Parses one response line into (wire id, answer), or says how it breaks the protocol.
pub(super) fn parse_response(line: &[u8]) -> Result<(u64, Answer), String> {
    if let Some(parsed) = parse_output_line(line) {
        return Ok(parsed);
    }
    if let Some(parsed) = parse_text_response(line) {
        return parsed;
    }
    let wire: WireResponse = match serde_json::from_slice(line) {
        Ok(wire) => wire,
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
            return parse_deep(line).unwrap_or_else(|| Err(not_a_response(&e, line)));
        }
        Err(e) => return Err(not_a_response(&e, line)),
    };
    let id = wire_id(&wire.id)?;
    match (wire.output, wire.error) {
        (Some(output), None) => Ok((id, Answer::output(output))),
        (None, Some(error)) => Ok((id, Answer::Error(error))),
        _ => Err(format!(
            "answered a response with both or neither of `output` and `error`: {}",
            excerpt(line)
        )),
    }
}

fn not_a_response(e: &serde_json::Error, line: &[u8]) -> String {
    format!(
        "answered a line that is not a protocol response ({e}): {}",
        excerpt(line)
    )
}

fn wire_id(id: &str) -> Result<u64, String> {
    id.parse::<u64>()
        .map_err(|_| format!("answered id {id:?}, which cutover never sent"))
}

/// A response whose output is too deep to read inside the envelope: the
/// output read on its own, or, deeper still, that call's `bad_output`.
/// `None` when the line is not an output response at all.
fn parse_deep(line: &[u8]) -> Option<Result<(u64, Answer), String>> {
    let wire: DeepResponse = serde_json::from_slice(line).ok()?;
    let id = match wire_id(&wire.id) {
        Ok(id) => id,
        Err(e) => return Some(Err(e)),
    };
    Some(Ok((
        id,
        crate::sides::parse_output(wire.output.get().as_bytes(), "the output"),
    )))
}

/// The error envelope of a pipe's answer line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PipeError {
    error: AppError,
}

/// One answer line of a `pipe:` program: the oldest call's answer.
pub(super) fn parse_ordered(line: &[u8]) -> Answer {
    if let Ok(PipeError { error }) = serde_json::from_slice(line) {
        return Answer::Error(error);
    }
    super::super::parse_output(line, "the answer line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_checked_against_the_protocol() {
        assert_eq!(
            parse_response(br#"{"id":"3","output":null}"#).unwrap(),
            (3, Answer::output(Value::Null))
        );
        assert!(matches!(
            parse_response(br#"{"id":"4","error":{"type":"E","message":"m"}}"#).unwrap(),
            (4, Answer::Error(_))
        ));
        assert!(parse_response(br#"{"id":"x","output":1}"#)
            .unwrap_err()
            .contains("never sent"));
        assert!(parse_response(br#"{"id":"1"}"#)
            .unwrap_err()
            .contains("neither"));
        assert!(
            parse_response(br#"{"id":"1","output":1,"error":{"type":"E","message":"m"}}"#)
                .unwrap_err()
                .contains("both")
        );
        assert!(parse_response(b"Traceback (most recent call last):")
            .unwrap_err()
            .contains("not a protocol response"));
    }

    /// A record nested as deep as traffic accepts, echoed by a worker, used
    /// to break the protocol (the envelope is one level more than serde_json
    /// reads): the worker was restarted and the record blamed on its death.
    #[test]
    fn an_output_as_deep_as_traffic_allows_is_read_inside_the_envelope() {
        // Deeper is that call's bad output, on the id it answered.
        let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        let line = format!(r#"{{"id":"5","output":{}}}"#, nested(127));
        let (id, answer) = parse_response(line.as_bytes()).unwrap();
        assert_eq!(id, 5);
        assert!(matches!(answer, Answer::Output(_)), "{answer:?}");
        let line = format!(r#"{{"id":"6","output":{}}}"#, nested(400));
        match parse_response(line.as_bytes()).unwrap() {
            (6, Answer::Error(e)) => assert_eq!(e.kind, "cutover.bad_output"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pipe_lines_are_outputs_errors_or_that_records_bad_output() {
        assert_eq!(
            parse_ordered(br#"{"accepted":[],"rejected":[]}"#),
            Answer::output(serde_json::json!({"accepted": [], "rejected": []}))
        );
        assert_eq!(
            parse_ordered(br#"{"error":{"type":"ValueError","message":"m"}}"#),
            Answer::Error(AppError::new("ValueError", "m"))
        );
        // An output that merely has an `error` key among others is an output.
        assert!(matches!(
            parse_ordered(br#"{"error":{"type":"E","message":"m"},"x":1}"#),
            Answer::Output(_)
        ));
        match parse_ordered(b"Traceback (most recent call last):") {
            Answer::Error(e) => assert_eq!(e.kind, "cutover.bad_output"),
            other => panic!("{other:?}"),
        }
        let input = RawValue::from_string(r#"{"items":[" a"]}"#.into()).unwrap();
        assert_eq!(line(Framing::Ordered, 7, &input), b"{\"items\":[\" a\"]}\n");
    }

    /// The general readers alone: what [`parse_response`] answered before
    /// [`parse_output_line`] read the common line first.
    fn general(line: &[u8]) -> Result<(u64, Answer), String> {
        parse_text_response(line).unwrap_or_else(|| {
            let wire: WireResponse = serde_json::from_slice(line).map_err(|e| e.to_string())?;
            Ok((
                wire_id(&wire.id)?,
                Answer::output(wire.output.ok_or("no output")?),
            ))
        })
    }

    /// What each reader made of a line: the id and the answer, an output as
    /// its value and its text (where the reader kept the text), so that a
    /// text kept differently (escapes, number spelling) shows too.
    fn read_by(reader: Reader, line: &[u8]) -> Option<Read> {
        described(reader(line).ok()?)
    }

    type Read = (u64, String, Option<String>);
    type Reader = fn(&[u8]) -> Result<(u64, Answer), String>;

    fn described((id, answer): (u64, Answer)) -> Option<Read> {
        Some(match answer {
            Answer::Output(output) => (
                id,
                output.value().to_string(),
                output.text().map(str::to_owned),
            ),
            other => (id, format!("{other:?}"), None),
        })
    }

    /// The same answer: the same value, and the same text where both kept
    /// it (the general reader keeps no text where a number has an exponent).
    fn same(a: &Option<Read>, b: &Option<Read>) -> bool {
        match (a, b) {
            (Some((i, v, t)), Some((j, w, u))) => {
                i == j && v == w && (t.is_none() || u.is_none() || t == u)
            }
            _ => a == b,
        }
    }

    /// The line `legacy/worker.py` writes is read without serde_json, to
    /// the answer the general readers give; any line that is not exactly
    /// that form, or whose output the one-pass check does not vouch for,
    /// is left to them.
    #[test]
    fn the_workers_own_line_is_read_in_one_pass_to_the_same_answer() {
        for line in [
            r#"{"id":"3","output":{"accepted":["gamma","\u0395\u03bb"],"rejected":["\n\u001e"]}}"#,
            r#"{"id":"3","output":null}"#,
            r#"{"id":"18446744073709551615","output":[1.5e3,-0,"\ud83d\ude00"]}"#,
            "{\"id\":\"9\",\"output\":\"x\"} \r\n",
            r#"{"id":"4","output":"x" }"#,
        ] {
            let fast = parse_output_line(line.as_bytes());
            assert!(fast.is_some(), "not read in one pass: {line}");
            let (fast, general) = (
                read_by(parse_response, line.as_bytes()),
                read_by(general, line.as_bytes()),
            );
            assert!(
                same(&fast, &general),
                "{line}: {fast:?} against {general:?}"
            );
            assert!(
                fast.is_some_and(|(_, _, text)| text.is_some()),
                "{line}: no text kept"
            );
        }
        for line in [
            // Not the worker's form: the general readers' answer or error.
            r#"{"id": "3", "output": 1}"#,
            r#"{"id":"3","output":1,"x":2}"#,
            r#"{"id":"+3","output":1}"#,
            r#"{"id":"3","error":{"type":"E","message":"m"}}"#,
            // Beyond what the one-pass check vouches for, or broken.
            r#"{"id":"3","output":"\ud800"}"#,
            r#"{"id":"3","output":1e999}"#,
            r#"{"id":"3","output":{"a":1}"#,
            r#"{"id":"3","output":1}}"#,
            "{\"id\":\"3\",\"output\":1}\u{c}",
            r#"{"id":"99999999999999999999","output":1}"#,
        ] {
            assert!(
                parse_output_line(line.as_bytes()).is_none(),
                "read in one pass: {line}"
            );
        }
    }

    proptest::proptest! {
        /// Any output a worker may write, read either way, is the same
        /// answer with the same text.
        #[test]
        fn one_pass_and_the_general_readers_agree(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "[", "]", ",", ":", " ", "\"", "\"k\":", "\\u00e9", "\\ud83d", "\\ude00",
                "\\n", "\\q", "1", "0", "-", ".", "e", "true", "null", "x",
            ]), 0..24),
            id in 0u64..1000,
        ) {
            let line = format!(r#"{{"id":"{id}","output":{}}}"#, parts.concat());
            if let Some(fast) = parse_output_line(line.as_bytes()) {
                let (fast, general) = (described(fast), read_by(general, line.as_bytes()));
                proptest::prop_assert!(same(&fast, &general), "{}: {:?} against {:?}", line, fast, general);
            }
        }
    }

    /// One whole request line, as the writer puts it together.
    fn line(framing: Framing, id: u64, input: &RawValue) -> Vec<u8> {
        let mut out = Vec::new();
        line_start(framing, id, &mut out);
        out.extend_from_slice(input.get().as_bytes());
        out.extend_from_slice(line_end(framing));
        out
    }

    #[test]
    fn request_lines_embed_the_input_verbatim() {
        let input = RawValue::from_string(r#"{"items":[" a"]}"#.into()).unwrap();
        assert_eq!(
            line(Framing::Ids, 7, &input),
            b"{\"id\":\"7\",\"input\":{\"items\":[\" a\"]}}\n"
        );
        assert_eq!(
            line(Framing::Ids, u64::MAX, &input),
            format!(
                "{{\"id\":\"{}\",\"input\":{{\"items\":[\" a\"]}}}}\n",
                u64::MAX
            )
            .as_bytes()
        );
    }
}
