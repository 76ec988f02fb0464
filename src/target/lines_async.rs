//! Reading response lines from a child process with a hard length limit.
//!
//! # Contract
//! [`read_line`] fills `buf` with the next line (newline and a trailing `\r`
//! removed) and never stores more than `max + 1` bytes. A longer line gives
//! [`Line::TooLong`]; the stream is then left mid-line, which is fine
//! because the caller treats it as a broken peer and stops reading.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

pub use crate::traffic::lines::Line;

/// Reads one line of at most `max` bytes (see the module contract).
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let n = reader.take(max as u64 + 1).read_until(b'\n', buf).await?;
    Ok(crate::traffic::lines::finish(buf, n, max))
}
