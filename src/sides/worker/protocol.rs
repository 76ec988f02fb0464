//! The worker protocol on the wire (`legacy/PROTOCOL.md`): one request per
//! line on the worker's stdin, one response per line on its stdout.
//!
//! # Contract
//! - A [`WireRequest`] embeds the record's input verbatim (JSON text, never
//!   re-serialised, shared with the record rather than copied) under a wire id that is cutover's own sequence number,
//!   never a record id, so duplicate or odd record ids cannot confuse the
//!   matching.
//! - [`parse_response`] accepts exactly `{"id": "<wire id>", "output": any}`
//!   or `{"id", "error": {"type", "message"}}` (other fields ignored; a
//!   present `null` output is an output); anything else is a protocol
//!   violation, said in words (quoting the start of the line) for the error
//!   the worker's calls get. The output is kept as the line's JSON text (no
//!   `Value` built; [`Output::from_text`]) whenever that reads as a value;
//!   any other line is read as before, to the same answer or error.
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

use crate::model::{Answer, AppError, Output};
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

/// One request line to write: the record's input is shared with the
/// record, not copied into a line of its own (a queued request of a big
/// record would otherwise hold a second copy of it).
pub(super) struct WireRequest {
    pub id: u64,
    pub input: Arc<RawValue>,
}

impl WireRequest {
    /// The line's three parts: the start, the input, the end.
    pub fn parts(&self, framing: Framing) -> (String, &[u8], &'static [u8]) {
        match framing {
            Framing::Ids => (
                format!("{{\"id\":\"{}\",\"input\":", self.id),
                self.input.get().as_bytes(),
                b"}\n",
            ),
            Framing::Ordered => (String::new(), self.input.get().as_bytes(), b"\n"),
        }
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
        let request = WireRequest {
            id: 7,
            input: input.into(),
        };
        let (start, input, end) = request.parts(Framing::Ordered);
        assert_eq!(
            [start.as_bytes(), input, end].concat(),
            b"{\"items\":[\" a\"]}\n"
        );
    }

    #[test]
    fn request_lines_embed_the_input_verbatim() {
        let input = RawValue::from_string(r#"{"items":[" a"]}"#.into()).unwrap();
        let request = WireRequest {
            id: 7,
            input: input.into(),
        };
        let (start, input, end) = request.parts(Framing::Ids);
        let line = [start.as_bytes(), input, end].concat();
        assert_eq!(line, b"{\"id\":\"7\",\"input\":{\"items\":[\" a\"]}}\n");
    }
}
