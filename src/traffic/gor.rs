//! GoReplay captures (`.gor`) read as exchanges, streaming.
//!
//! # Contract
//! - A file is payloads separated by a line `🐵🙈🙉`. A payload's first line
//!   is its meta line `TYPE ID TIMESTAMP [...]` (type 1 a request, 2 its
//!   response, 3 a response GoReplay got when it replayed the request;
//!   TIMESTAMP in nanoseconds since the epoch), the rest a raw HTTP/1
//!   message. Payloads are read one at a time; one longer than
//!   `--max-record-bytes` is rejected without being held.
//! - Requests and responses are paired by id, in any order: a response may
//!   come before its request, and others may come between them. A request
//!   becomes an exchange once its response is read (or at the end of the
//!   file, without `recorded`). At most [`MAX_PENDING`] payloads wait for
//!   their partner; past that the oldest waiting request goes without its
//!   response, so memory stays bounded.
//! - Type 3 payloads are the replayer's own answers, not production's: they
//!   are skipped. A payload that is not a valid HTTP message, a response
//!   whose request never came, or a second request with one id is rejected
//!   with the line of its meta line and the reason.
//! - A body is framed by `content-length`, or by `transfer-encoding:
//!   chunked`, decoded strictly (RFC 9112 §7.1): hex chunk sizes
//!   (`httparse::parse_chunk_size`), extensions skipped, each chunk's data
//!   followed by CRLF, a last chunk `0`, trailer fields that must be valid
//!   fields and are then dropped (trailers are not modelled), a final CRLF,
//!   and nothing after it but line breaks. A malformed chunk is a rejected
//!   entry saying which chunk, at which byte of the body, and why; so are a
//!   `transfer-encoding` other than `chunked` and a chunked message that
//!   also has a `content-length`. The exchange carries the decoded body
//!   (its `transfer-encoding` header as recorded, a hop-by-hop header the
//!   upstream side neither forwards nor compares; it sends a
//!   `content-length`).

use super::import::{excerpt_of, Exchange, Imported};
use crate::model::exchange::{Body, HttpRequest, HttpResponse};
use std::collections::{HashMap, VecDeque};
use std::io::BufRead;

/// The line between two payloads.
pub const SEPARATOR: &str = "🐵🙈🙉";

/// Payloads at most waiting for their partner.
pub const MAX_PENDING: usize = 10_000;

/// One payload: where its meta line is, and its bytes after that line.
struct Payload {
    line: u64,
    kind: u8,
    id: String,
    nanos: Option<u64>,
    message: Vec<u8>,
}

fn header_pairs(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// Whether the message's body is chunked; an error for any other
/// transfer coding, or chunked with a `content-length` too.
fn is_chunked(headers: &[(String, String)]) -> Result<bool, String> {
    let codings: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    match codings.as_slice() {
        [] => Ok(false),
        [c] if c.eq_ignore_ascii_case("chunked") => {
            if crate::model::exchange::header(headers, "content-length").is_some() {
                return Err(
                    "both transfer-encoding: chunked and content-length frame the body".into(),
                );
            }
            Ok(true)
        }
        _ => Err(format!(
            "transfer-encoding {:?}: only chunked is decoded",
            codings.join(", ")
        )),
    }
}

/// A chunked body decoded (see the module docs).
fn dechunk(rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut at = 0;
    for chunk in 1.. {
        let bad = |why: &str| format!("chunked body: chunk {chunk} at byte {at}: {why}");
        let (size_len, size) = match httparse::parse_chunk_size(&rest[at..]) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Err(bad("the chunk size line is cut short")),
            Err(_) => {
                return Err(bad(
                    "not a chunk size line (hex digits, optional ;extensions, CRLF)",
                ))
            }
        };
        let data = at + size_len;
        if size == 0 {
            // Trailer fields, then the empty line that ends the message.
            let mut fields = [httparse::EMPTY_HEADER; 64];
            let end = match httparse::parse_headers(&rest[data..], &mut fields) {
                Ok(httparse::Status::Complete((n, _))) => data + n,
                Ok(httparse::Status::Partial) => {
                    return Err(bad("the last chunk is not ended by an empty line"))
                }
                Err(e) => return Err(bad(&format!("bad trailer field ({e})"))),
            };
            if !rest[end..].iter().all(|b| matches!(b, b'\r' | b'\n')) {
                return Err(format!(
                    "chunked body: {} bytes after the last chunk",
                    rest.len() - end
                ));
            }
            return Ok(body);
        }
        let size = usize::try_from(size)
            .ok()
            .filter(|&n| n <= rest.len() - data)
            .ok_or_else(|| {
                bad(&format!(
                    "its size {size} is past the end of the body ({} bytes left)",
                    rest.len() - data
                ))
            })?;
        let next = data + size;
        if !rest[next..].starts_with(b"\r\n") {
            return Err(bad(&format!(
                "its {size} bytes of data are not followed by CRLF"
            )));
        }
        body.extend_from_slice(&rest[data..next]);
        at = next + 2;
    }
    unreachable!("the chunk loop only ends by returning")
}

/// The body after the head, as `content-length` or chunked coding frames it.
fn body_of(headers: &[(String, String)], rest: &[u8]) -> Result<Vec<u8>, String> {
    if is_chunked(headers)? {
        return dechunk(rest);
    }
    match crate::model::exchange::header(headers, "content-length") {
        Some(n) => {
            let n: usize = n
                .trim()
                .parse()
                .map_err(|_| format!("content-length {n:?} is not a number"))?;
            if rest.len() < n {
                return Err(format!(
                    "the body is {} bytes, content-length says {n}",
                    rest.len()
                ));
            }
            Ok(rest[..n].to_vec())
        }
        None => Ok(rest.to_vec()),
    }
}

fn request_of(message: &[u8]) -> Result<HttpRequest, String> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Request::new(&mut headers);
    let head = match parsed.parse(message) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the request's head is cut short".into()),
        Err(e) => return Err(format!("not an HTTP request ({e})")),
    };
    let headers = header_pairs(parsed.headers);
    let target = parsed.path.unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    let bytes = body_of(&headers, &message[head..])?;
    let has_body = !bytes.is_empty()
        || crate::model::exchange::header(&headers, "content-length").is_some()
        || is_chunked(&headers)?;
    let body = has_body.then(|| Body::from_wire(&headers, bytes));
    Ok(HttpRequest {
        method: parsed.method.unwrap_or("GET").to_owned(),
        path,
        query,
        headers,
        body,
    })
}

fn response_of(message: &[u8]) -> Result<HttpResponse, String> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Response::new(&mut headers);
    let head = match parsed.parse(message) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the response's head is cut short".into()),
        Err(e) => return Err(format!("not an HTTP response ({e})")),
    };
    let headers = header_pairs(parsed.headers);
    let body = Body::from_wire(&headers, body_of(&headers, &message[head..])?);
    Ok(HttpResponse {
        status: parsed.code.unwrap_or(0),
        headers,
        body,
    })
}

fn raw(value: &serde_json::Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(value).expect("a JSON value serializes")
}

/// Pairs requests with responses by id (see the module docs).
#[derive(Default)]
struct Pairing {
    requests: HashMap<String, (u64, Option<f64>, HttpRequest)>,
    responses: HashMap<String, (u64, HttpResponse)>,
    /// Ids in the order they started waiting.
    order: VecDeque<String>,
}

impl Pairing {
    /// Takes one payload; returns what is complete now.
    fn take(&mut self, p: Payload) -> Vec<Imported> {
        let reject = |reason: String, p: &Payload| Imported::Rejected {
            position: p.line,
            reason: format!("payload at line {}: {reason}", p.line),
            excerpt: excerpt_of(&p.message),
        };
        let mut out = Vec::new();
        match p.kind {
            b'1' => match request_of(&p.message).and_then(|r| {
                HttpRequest::parse(&raw(&r.to_value())).map_err(|e| format!("request: {e}"))?;
                Ok(r)
            }) {
                Err(e) => out.push(reject(e, &p)),
                Ok(_) if self.requests.contains_key(&p.id) => {
                    out.push(reject(format!("a second request with id {}", p.id), &p))
                }
                Ok(request) => {
                    let at = p.nanos.map(|n| n as f64 / 1e9);
                    match self.responses.remove(&p.id) {
                        Some((_, response)) => {
                            out.push(exchange(p.line, p.id, at, request, Some(response)))
                        }
                        None => {
                            self.requests.insert(p.id.clone(), (p.line, at, request));
                            self.order.push_back(p.id);
                        }
                    }
                }
            },
            b'2' => match response_of(&p.message).and_then(|r| {
                HttpResponse::parse(&raw(&r.to_value())).map_err(|e| format!("response: {e}"))?;
                Ok(r)
            }) {
                Err(e) => out.push(reject(e, &p)),
                Ok(response) => match self.requests.remove(&p.id) {
                    Some((line, at, request)) => {
                        out.push(exchange(line, p.id, at, request, Some(response)))
                    }
                    None => {
                        self.responses.insert(p.id.clone(), (p.line, response));
                        self.order.push_back(p.id);
                    }
                },
            },
            b'3' => {}
            other => out.push(reject(
                format!("payload type {:?} is not 1, 2 or 3", other as char),
                &p,
            )),
        }
        while self.requests.len() + self.responses.len() > MAX_PENDING {
            let Some(id) = self.order.pop_front() else {
                break;
            };
            out.extend(self.settle(&id));
        }
        out
    }

    /// What waiting on `id` becomes when its partner will not come.
    fn settle(&mut self, id: &str) -> Option<Imported> {
        if let Some((line, at, request)) = self.requests.remove(id) {
            return Some(exchange(line, id.to_owned(), at, request, None));
        }
        self.responses
            .remove(id)
            .map(|(line, _)| Imported::Rejected {
                position: line,
                reason: format!(
                    "payload at line {line}: a response (id {id}) whose request is not in the file"
                ),
                excerpt: String::new(),
            })
    }

    /// Everything still waiting, in the order it started waiting.
    fn finish(&mut self) -> Vec<Imported> {
        let order = std::mem::take(&mut self.order);
        order.iter().filter_map(|id| self.settle(id)).collect()
    }
}

fn exchange(
    line: u64,
    id: String,
    timestamp: Option<f64>,
    request: HttpRequest,
    response: Option<HttpResponse>,
) -> Imported {
    Imported::Exchange(Box::new(Exchange {
        position: line,
        id,
        timestamp,
        request,
        response,
    }))
}

/// Parses a meta line: `TYPE ID TIMESTAMP ...`.
fn meta(line: &[u8]) -> Result<(u8, String, Option<u64>), String> {
    let text = std::str::from_utf8(line).map_err(|_| "the meta line is not UTF-8".to_owned())?;
    let mut words = text.split_whitespace();
    let kind = words.next().filter(|k| k.len() == 1).ok_or_else(|| {
        format!(
            "the meta line {:?} does not start with a payload type (1, 2 or 3)",
            excerpt_of(line)
        )
    })?;
    let id = words
        .next()
        .ok_or_else(|| format!("the meta line {:?} has no id", excerpt_of(line)))?;
    let nanos = words.next().and_then(|t| t.parse().ok());
    Ok((kind.as_bytes()[0], id.to_owned(), nanos))
}

/// Reads one line with its ending, at most `max` bytes kept: `(bytes
/// read, too long)`; a longer line is skipped to its end.
fn raw_line(
    input: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    buf.clear();
    let n = std::io::Read::take(&mut *input, max as u64 + 1).read_until(b'\n', buf)?;
    if n <= max || buf.last() == Some(&b'\n') {
        return Ok((n, false));
    }
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        if let Some(i) = memchr::memchr(b'\n', available) {
            input.consume(i + 1);
            break;
        }
        let len = available.len();
        input.consume(len);
    }
    Ok((n, true))
}

/// Reads a `.gor` file (see the module docs).
pub fn read(
    input: &mut dyn BufRead,
    max_record_bytes: usize,
    each: &mut dyn FnMut(Imported) -> bool,
) -> std::io::Result<()> {
    let mut pairing = Pairing::default();
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    // The payload being read: its meta line's number, its bytes so far, and
    // whether it went over the limit.
    let mut current: Option<(u64, Vec<u8>, bool)> = None;
    loop {
        let (n, too_long) = raw_line(input, &mut buf, max_record_bytes)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let trimmed = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        if !too_long && trimmed == SEPARATOR.as_bytes() {
            if let Some(done) = current.take() {
                for item in finish_payload(done, max_record_bytes, &mut pairing) {
                    if !each(item) {
                        return Ok(());
                    }
                }
            }
            continue;
        }
        let payload = current.get_or_insert_with(|| (line_no, Vec::new(), false));
        if too_long || payload.1.len() + buf.len() > max_record_bytes {
            payload.2 = true;
            payload.1 = Vec::new();
        } else if !payload.2 {
            payload.1.extend_from_slice(&buf);
        }
    }
    if let Some(done) = current.take() {
        for item in finish_payload(done, max_record_bytes, &mut pairing) {
            if !each(item) {
                return Ok(());
            }
        }
    }
    for item in pairing.finish() {
        if !each(item) {
            return Ok(());
        }
    }
    Ok(())
}

/// A payload's lines, read: what it makes complete.
fn finish_payload(
    (line, bytes, too_long): (u64, Vec<u8>, bool),
    max: usize,
    pairing: &mut Pairing,
) -> Vec<Imported> {
    if too_long {
        return vec![Imported::Rejected {
            position: line,
            reason: format!(
                "payload at line {line} is over the limit of {max} bytes (raise --max-record-bytes to accept it)"
            ),
            excerpt: String::new(),
        }];
    }
    // The bytes are as read; the last `\n` is the separator's line break
    // (`payload\n🐵🙈🙉\n`), not the message's.
    let (meta_line, message) = match bytes.iter().position(|&b| b == b'\n') {
        Some(n) => (&bytes[..n], &bytes[n + 1..]),
        None => (&bytes[..], &[][..]),
    };
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    match meta(meta_line.strip_suffix(b"\r").unwrap_or(meta_line)) {
        Err(reason) => vec![Imported::Rejected {
            position: line,
            reason: format!("payload at line {line}: {reason}"),
            excerpt: excerpt_of(&bytes),
        }],
        Ok((kind, id, nanos)) => pairing.take(Payload {
            line,
            kind,
            id,
            nanos,
            message: message.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(kind: u8, id: &str, message: &str) -> String {
        format!("{kind} {id} 1700000000{id:0>9}\n{message}\n{SEPARATOR}\n")
    }

    #[test]
    fn chunked_bodies_decode_strictly() {
        assert_eq!(
            dechunk(b"3;x=1\r\nabc\r\n1\r\nd\r\n0\r\nt: v\r\n\r\n").unwrap(),
            b"abcd"
        );
        assert_eq!(dechunk(b"0\r\n\r\n").unwrap(), b"");
        let error = |body: &[u8]| dechunk(body).unwrap_err();
        assert!(error(b"zz\r\n").contains("chunk 1 at byte 0: not a chunk size line"));
        assert!(error(b"3\r\nabc\r\n5\r\nab").contains("chunk 2 at byte 8: its size 5 is past"));
        assert!(error(b"2\r\nabc\r\n0\r\n\r\n").contains("not followed by CRLF"));
        assert!(error(b"1\r\na\r\n0\r\n").contains("not ended by an empty line"));
        assert!(error(b"0\r\n\r\nGET").contains("3 bytes after the last chunk"));
        assert!(
            error(b"1\r\na\r\n").contains("chunk 2 at byte 6: the chunk size line is cut short")
        );
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect()
        };
        assert!(
            is_chunked(&pairs(&[("Transfer-Encoding", "gzip, chunked")]))
                .unwrap_err()
                .contains("only chunked")
        );
        assert!(is_chunked(&pairs(&[
            ("transfer-encoding", "chunked"),
            ("content-length", "3")
        ]))
        .unwrap_err()
        .contains("both"));
    }

    #[test]
    fn out_of_order_payloads_pair_by_id() {
        let text = [
            payload(1, "1", "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"),
            payload(2, "2", "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"b\":2}"),
            payload(1, "2", "POST /b HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"),
            payload(3, "1", "HTTP/1.1 500 Oops\r\n\r\n"),
            payload(2, "1", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            payload(2, "9", "HTTP/1.1 200 OK\r\n\r\n"),
        ]
        .concat();
        let mut items = Vec::new();
        read(&mut text.as_bytes(), 1 << 20, &mut |i| {
            items.push(i);
            true
        })
        .unwrap();
        let ids: Vec<String> = items
            .iter()
            .map(|i| match i {
                Imported::Exchange(e) => format!(
                    "{} {} {}",
                    e.id,
                    e.request.target(),
                    e.response.as_ref().map_or(0, |r| r.status)
                ),
                Imported::Rejected { reason, .. } => reason.clone(),
            })
            .collect();
        assert_eq!(ids[0], "2 /b 201");
        assert_eq!(ids[1], "1 /a?x=1 200");
        assert!(
            ids[2].contains("whose request is not in the file"),
            "{ids:?}"
        );
        assert_eq!(ids.len(), 3);
    }
}
