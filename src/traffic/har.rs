//! HAR 1.2 (`.har`: what browser DevTools, Playwright, mitmproxy and Charles
//! save) read as exchanges, streaming.
//!
//! # Contract
//! - The file is one JSON document; `log.entries` is read one entry at a
//!   time with a streaming deserializer (serde's visitor over the array), so
//!   only one entry is in memory at once. Other keys are skipped unread.
//! - An entry becomes an exchange: `request.method`, the `url`'s path and
//!   query, `request.headers` in order (HTTP/2 pseudo-headers such as
//!   `:authority` left out; a `host` from the URL added when there is none),
//!   `request.postData.text` as the body; the `response`'s `status`,
//!   `headers` and `content.text` (base64 when `content.encoding` says so)
//!   as `recorded`. A response the browser never got (`status` 0) or whose
//!   body was not saved (no `content.text` while `content.size` > 0) leaves
//!   the exchange without `recorded`. `startedDateTime` is its timestamp;
//!   its id is `har-N`, N its 1-based index.
//! - An entry that cannot be an exchange is rejected with its index and the
//!   reason. A file that is not JSON, or has no `log.entries` array, is an
//!   I/O error naming what is wrong.

use super::import::{excerpt_of, Exchange, Imported};
use crate::model::exchange::{Body, HttpRequest, HttpResponse};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::io::BufRead;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    started_date_time: Option<String>,
    request: HarRequest,
    #[serde(default)]
    response: Option<HarResponse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    post_data: Option<PostData>,
}

#[derive(Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostData {
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

#[derive(Deserialize)]
struct HarResponse {
    status: i64,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

fn bytes_of(text: &str, encoding: Option<&str>) -> Result<Vec<u8>, String> {
    use base64::Engine;
    match encoding {
        Some(e) if e.eq_ignore_ascii_case("base64") => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("a base64 body is not valid base64 ({e})")),
        _ => Ok(text.as_bytes().to_vec()),
    }
}

fn pairs(headers: Vec<NameValue>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|h| !h.name.starts_with(':'))
        .map(|h| (h.name, h.value))
        .collect()
}

/// One entry as an exchange, or the reason it cannot be one.
fn exchange(index: u64, entry: Entry) -> Result<Exchange, String> {
    let url = reqwest::Url::parse(&entry.request.url)
        .map_err(|e| format!("request.url {:?} is not a URL ({e})", entry.request.url))?;
    let mut headers = pairs(entry.request.headers);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        if let Some(host) = url.host_str() {
            let host = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            headers.insert(0, ("host".to_owned(), host));
        }
    }
    let body = match entry.request.post_data {
        Some(PostData {
            text: Some(text),
            encoding,
            mime_type,
        }) => {
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                if let Some(mime) = mime_type.filter(|m| !m.is_empty()) {
                    headers.push(("content-type".to_owned(), mime));
                }
            }
            Some(Body::from_wire(
                &headers,
                bytes_of(&text, encoding.as_deref())?,
            ))
        }
        _ => None,
    };
    let request = HttpRequest {
        method: entry.request.method,
        path: url.path().to_owned(),
        query: url.query().map(str::to_owned),
        headers,
        body,
    };
    // The shape every exchange has, checked as a capture line is.
    HttpRequest::parse(&raw(&request.to_value())).map_err(|e| format!("request: {e}"))?;
    let response = match entry.response {
        Some(r) if (100..=599).contains(&r.status) => {
            let headers = pairs(r.headers);
            match r.content {
                Some(Content {
                    text: Some(text),
                    encoding,
                    ..
                }) => {
                    let body = Body::from_wire(&headers, bytes_of(&text, encoding.as_deref())?);
                    Some(HttpResponse {
                        status: r.status as u16,
                        headers,
                        body,
                    })
                }
                Some(Content { size: Some(n), .. }) if n > 0 => None,
                _ => Some(HttpResponse {
                    status: r.status as u16,
                    headers,
                    body: Body::Text(String::new()),
                }),
            }
        }
        _ => None,
    };
    if let Some(r) = &response {
        HttpResponse::parse(&raw(&r.to_value())).map_err(|e| format!("response: {e}"))?;
    }
    let timestamp = entry
        .started_date_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_micros() as f64 / 1e6);
    Ok(Exchange {
        position: index,
        id: format!("har-{index}"),
        timestamp,
        request,
        response,
    })
}

fn raw(value: &serde_json::Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(value).expect("a JSON value serializes")
}

/// The streaming walk: `{ ..., "log": { ..., "entries": [ entry, ... ] } }`.
struct Walk<'a> {
    each: &'a mut dyn FnMut(Imported) -> bool,
    /// 1-based index of the entry being read.
    index: u64,
    found: bool,
    stopped: bool,
}

struct Root<'w, 'a>(&'w mut Walk<'a>);
struct Log<'w, 'a>(&'w mut Walk<'a>);
struct Entries<'w, 'a>(&'w mut Walk<'a>);

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HAR document: an object with `log`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "log" && !self.0.stopped {
                map.next_value_seed(Log(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Log<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Log<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`log`: an object with `entries`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "entries" && !self.0.stopped {
                self.0.found = true;
                map.next_value_seed(Entries(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`log.entries`: an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<serde_json::Value>()? {
            self.0.index += 1;
            let index = self.0.index;
            let item = match Entry::deserialize(&value) {
                Err(e) => Imported::Rejected {
                    position: index,
                    reason: format!("HAR entry {index} is not a HAR 1.2 entry: {e}"),
                    excerpt: excerpt_of(value.to_string().as_bytes()),
                },
                Ok(entry) => match exchange(index, entry) {
                    Ok(exchange) => Imported::Exchange(Box::new(exchange)),
                    Err(reason) => Imported::Rejected {
                        position: index,
                        reason: format!("HAR entry {index}: {reason}"),
                        excerpt: excerpt_of(value.to_string().as_bytes()),
                    },
                },
            };
            if !(self.0.each)(item) {
                // Stop reading at once: the error ends the walk.
                self.0.stopped = true;
                return Err(serde::de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// Reads a HAR document, one entry at a time (see the module docs).
pub fn read(
    input: &mut dyn BufRead,
    each: &mut dyn FnMut(Imported) -> bool,
) -> std::io::Result<()> {
    let mut walk = Walk {
        each,
        index: 0,
        found: false,
        stopped: false,
    };
    let mut de = serde_json::Deserializer::from_reader(input);
    let bad = |e: serde_json::Error| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a HAR file: {e}"),
        )
    };
    let walked = Root(&mut walk).deserialize(&mut de);
    if walk.stopped {
        return Ok(());
    }
    walked.map_err(bad)?;
    de.end().map_err(bad)?;
    if !walk.found {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a HAR file: it has no `log.entries` array",
        ));
    }
    Ok(())
}
