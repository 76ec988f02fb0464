//! Reading lines with a hard length limit, from files (captures) and from
//! child processes (worker responses).
//!
//! # Contract
//! [`read_line`] fills `buf` with the next line (without its `\n` or `\r\n`) and
//! returns [`Line::Complete`], or returns [`Line::TooLong`] after skipping a line
//! longer than `max` bytes *without storing more than `max + 1` bytes of it*, or
//! [`Line::Eof`]. Memory per line is therefore bounded by `max`, whatever the
//! input. I/O errors are returned as they are.
//!
//! [`read_line_async`] is the same for an async reader, except that a line
//! over the limit is not skipped: the stream is left mid-line, which is fine
//! because its callers treat that as a broken peer and stop reading.

use std::io::{self, BufRead, Read};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Complete,
    TooLong { bytes: u64 },
    Eof,
}

/// What a read of at most `max + 1` bytes up to `\n` gave: trims the line
/// ending of a complete line. Shared by the sync and async readers.
fn finish(buf: &mut Vec<u8>, n: usize, max: usize) -> Line {
    if n == 0 {
        return Line::Eof;
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Line::Complete;
    }
    if n <= max {
        return Line::Complete; // last line, no trailing newline
    }
    Line::TooLong { bytes: n as u64 }
}

/// Reads one line of at most `max` bytes (see the module contract).
pub fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let n = reader
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', buf)?;
    let line = finish(buf, n, max);
    if !matches!(line, Line::TooLong { .. }) {
        return Ok(line);
    }
    // Over the limit: skip to the end of the line without keeping it.
    let mut bytes = n as u64;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            break;
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                bytes += i as u64;
                reader.consume(i + 1);
                break;
            }
            None => {
                let len = available.len();
                bytes += len as u64;
                reader.consume(len);
            }
        }
    }
    Ok(Line::TooLong { bytes })
}

/// Reads one line of at most `max` bytes from an async reader (see the
/// module contract).
pub async fn read_line_async<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    buf.clear();
    let n = reader.take(max as u64 + 1).read_until(b'\n', buf).await?;
    Ok(finish(buf, n, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_bounds_long_ones() {
        let data = b"short\r\nthis line is far too long\nok\nlast";
        let mut reader = io::BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"short");
        assert_eq!(
            read_line(&mut reader, &mut buf, 8).unwrap(),
            Line::TooLong { bytes: 25 }
        );
        assert!(buf.len() <= 9);
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"ok");
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"last");
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Eof);
    }

    #[test]
    fn a_line_of_exactly_max_bytes_is_complete() {
        let mut reader = io::BufReader::new(&b"12345678\n"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"12345678");
    }
}
