//! Reading response lines from a child process with a hard length limit.
//!
//! # Contract
//! [`read_line`] fills `buf` with the next line (newline and a trailing `\r`
//! removed) and never stores more than `max + 1` bytes. A longer line gives
//! [`AsyncLine::TooLong`]; the stream is then left mid-line, which is fine
//! because the caller treats it as a broken peer and stops reading.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

#[derive(Debug, PartialEq, Eq)]
pub enum AsyncLine {
    Complete,
    TooLong,
    Eof,
}

pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<AsyncLine> {
    buf.clear();
    let limit = max as u64 + 1;
    let n = reader.take(limit).read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(AsyncLine::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(AsyncLine::Complete);
    }
    if (n as u64) < limit {
        return Ok(AsyncLine::Complete);
    }
    Ok(AsyncLine::TooLong)
}
