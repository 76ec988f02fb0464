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

use std::io::{self, BufRead};
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

/// What the reader has buffered, filled if empty; a read interrupted by a
/// signal is tried again, as `read_until` does. Each read is made once: the
/// end of the stream and an error are answered from the first call (a
/// second read at the end of a terminal's input would wait for more), and
/// only buffered bytes are asked for again (returning the first call's
/// borrow from inside the loop is what the borrow checker refuses).
fn filled(reader: &mut impl BufRead) -> io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok([]) => return Ok(&[]),
            Ok(_) => break,
        }
    }
    reader.fill_buf()
}

/// Reads one line of at most `max` bytes (see the module contract). The
/// newline is found with `memchr` in what the reader has buffered (std's
/// `read_until` searches a byte-wide word at a time, several times slower on
/// long lines).
pub fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    // As `take(max + 1).read_until(b'\n', buf)`: at most `max + 1` bytes,
    // the newline included.
    let limit = max.saturating_add(1);
    while buf.len() < limit {
        let available = filled(reader)?;
        if available.is_empty() {
            break;
        }
        let window = &available[..available.len().min(limit - buf.len())];
        match memchr::memchr(b'\n', window) {
            Some(i) => {
                buf.extend_from_slice(&window[..=i]);
                reader.consume(i + 1);
                break;
            }
            None => {
                let taken = window.len();
                buf.extend_from_slice(window);
                reader.consume(taken);
            }
        }
    }
    let n = buf.len();
    let line = finish(buf, n, max);
    if !matches!(line, Line::TooLong { .. }) {
        return Ok(line);
    }
    // Over the limit: skip to the end of the line without keeping it.
    let mut bytes = n as u64;
    loop {
        let available = filled(reader)?;
        if available.is_empty() {
            break;
        }
        match memchr::memchr(b'\n', available) {
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

    /// A terminal's input: each read gives the next chunk, an empty one
    /// where the user typed Ctrl-D, and more may follow it.
    struct Terminal(std::collections::VecDeque<&'static [u8]>);

    impl io::Read for Terminal {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let chunk = self.0.pop_front().unwrap_or_default();
            out[..chunk.len()].copy_from_slice(chunk);
            Ok(chunk.len())
        }
    }

    /// The end of a terminal's input is one empty read: a second read for
    /// the same line would wait for the user to type more.
    #[test]
    fn the_end_of_input_is_read_once() {
        let terminal = Terminal([&b"a\n"[..], b"", b"b\n"].into());
        let mut reader = io::BufReader::new(terminal);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"a");
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Eof);
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"b");
    }

    /// The reading `read_line` replaced: std's `read_until` under `take`.
    fn by_read_until(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> Line {
        use std::io::Read;
        buf.clear();
        let n = reader
            .by_ref()
            .take(max as u64 + 1)
            .read_until(b'\n', buf)
            .unwrap();
        let line = finish(buf, n, max);
        if let Line::TooLong { .. } = line {
            let mut rest = Vec::new();
            let skipped = reader.read_until(b'\n', &mut rest).unwrap();
            let newline = usize::from(rest.last() == Some(&b'\n'));
            return Line::TooLong {
                bytes: (n + skipped - newline) as u64,
            };
        }
        line
    }

    proptest::proptest! {
        #[test]
        fn lines_are_read_as_read_until_reads_them_whatever_the_buffer(
            data in proptest::collection::vec(proptest::sample::select(b"ab\r\n".to_vec()), 0..200),
            capacity in 1usize..40,
            max in 0usize..30,
        ) {
            let mut ours = io::BufReader::with_capacity(capacity, &data[..]);
            let mut theirs = io::BufReader::with_capacity(capacity, &data[..]);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            loop {
                let got = read_line(&mut ours, &mut a, max).unwrap();
                let want = by_read_until(&mut theirs, &mut b, max);
                proptest::prop_assert_eq!(&got, &want);
                if want == Line::Complete {
                    proptest::prop_assert_eq!(&a, &b);
                }
                if want == Line::Eof {
                    break;
                }
            }
        }
    }

    #[test]
    fn a_line_of_exactly_max_bytes_is_complete() {
        let mut reader = io::BufReader::new(&b"12345678\n"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"12345678");
    }
}
