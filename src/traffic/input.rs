//! Captures opened once, and read so that a stop is noticed at once.
//!
//! # Contract
//! - [`open_sources`] opens every file source once, up front, before a record
//!   is sent anywhere, and the reader reads that same handle: a FIFO or other
//!   pipe is never opened twice (a probe open and close would kill its
//!   writer with SIGPIPE, and the second open would wait forever). Only
//!   regular files have a [`Source::size`]; stdin, FIFOs and devices do not,
//!   so a run reading one shows no ETA.
//! - [`Input`] reads a regular file in place, on the caller's thread, in
//!   reads of [`CHUNK`] bytes into one buffer it keeps: such a read returns
//!   promptly, so the caller notices a stop between two reads, and no
//!   thread, channel or fresh buffer per chunk is needed (measured: see
//!   README "Performance").
//! - [`Input`] reads anything else (stdin, a FIFO, a device) through a pump
//!   thread that sends chunks of at most [`CHUNK`] bytes over a channel of
//!   [`CHUNKS`] (so at most `CHUNK * (CHUNKS + 2)` bytes are buffered per
//!   source). The reader waits on that channel and on the stop token at
//!   once, so a stop (Ctrl-C) ends a read blocked on an idle pipe at once:
//!   the read fails with an error that [`is_stop`] recognises. The pump
//!   thread is abandoned then, blocked in its read until the process ends or
//!   its next chunk finds the channel gone.
//! - [`Input::has_buffered`] says whether more bytes come without waiting:
//!   always, for a regular file before its end.
//! - Read errors are passed on as they are.

use super::{TrafficError, TrafficSpec};
use std::fs::File;
use std::io::{self, BufRead, Read};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bytes per chunk read from a source.
pub const CHUNK: usize = 64 << 10;
/// Chunks queued between the pump thread and the reader.
pub const CHUNKS: usize = 4;

/// A capture, opened.
#[derive(Debug)]
pub struct Source {
    pub spec: TrafficSpec,
    /// `None` for stdin.
    file: Option<File>,
    /// The size in bytes, for a regular file.
    pub size: Option<u64>,
}

/// Opens every file source once (see the module contract).
pub fn open_sources(specs: &[TrafficSpec]) -> Result<Vec<Source>, TrafficError> {
    specs
        .iter()
        .map(|spec| {
            let Some(path) = &spec.path else {
                return Ok(Source {
                    spec: spec.clone(),
                    file: None,
                    size: None,
                });
            };
            let open_err = |source| TrafficError::Open {
                path: path.display().to_string(),
                source,
            };
            let file = File::open(path).map_err(open_err)?;
            let meta = file.metadata().map_err(open_err)?;
            Ok(Source {
                spec: spec.clone(),
                size: meta.is_file().then_some(meta.len()),
                file: Some(file),
            })
        })
        .collect()
}

/// Sum of the sources' sizes, when every one has a size.
pub fn total_bytes(sources: &[Source]) -> Option<u64> {
    sources.iter().map(|s| s.size).sum()
}

/// The error a read gives once the stop token is cancelled.
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reading stopped")
    }
}

impl std::error::Error for Stopped {}

/// Whether `e` is the error of a read that the stop token ended.
pub fn is_stop(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Stopped>())
}

/// Where an [`Input`]'s bytes come from.
enum Pull {
    /// A regular file, read in place.
    File(File),
    /// A pump thread's chunks.
    Pump(mpsc::Receiver<io::Result<Vec<u8>>>),
}

/// A source's bytes (see the module contract).
pub struct Input {
    from: Pull,
    /// The bytes read and not yet consumed are `chunk[at..end]`.
    chunk: Vec<u8>,
    at: usize,
    end: usize,
    eof: bool,
    consumed: u64,
    stop: CancellationToken,
    runtime: tokio::runtime::Handle,
}

impl Input {
    /// Starts reading `source`; must be called on a thread of (or blocking
    /// thread spawned by) a tokio runtime, and not inside async code.
    pub fn start(source: Source, stop: CancellationToken) -> io::Result<Input> {
        let input = |from| Input {
            from,
            chunk: Vec::new(),
            at: 0,
            end: 0,
            eof: false,
            consumed: 0,
            stop,
            runtime: tokio::runtime::Handle::current(),
        };
        let mut from: Box<dyn Read + Send> = match source.file {
            Some(file) if source.size.is_some() => return Ok(input(Pull::File(file))),
            Some(file) => Box::new(file),
            None => Box::new(io::stdin()),
        };
        let (tx, chunks) = mpsc::channel(CHUNKS);
        std::thread::Builder::new()
            .name("cutover-input".into())
            .spawn(move || loop {
                let mut buf = vec![0; CHUNK];
                let sent = match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        tx.blocking_send(Ok(buf))
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        break;
                    }
                };
                if sent.is_err() {
                    break; // the reader is gone
                }
            })?;
        Ok(input(Pull::Pump(chunks)))
    }

    /// Whether more bytes come without waiting (see the module contract).
    pub fn has_buffered(&self) -> bool {
        self.at < self.end
            || match &self.from {
                Pull::File(_) => !self.eof,
                Pull::Pump(chunks) => !chunks.is_empty(),
            }
    }

    /// Bytes consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Waits for the next chunk; false at the end of the source.
    fn next_chunk(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let chunks = match &mut self.from {
            Pull::File(file) => {
                // The unread tail moves to the front and one read fills the
                // room after it, in a buffer that is zeroed only when it
                // grows (a read may not be given uninitialised memory).
                self.chunk.copy_within(self.at..self.end, 0);
                self.end -= self.at;
                self.at = 0;
                if self.chunk.len() < self.end + CHUNK {
                    self.chunk.resize(self.end + CHUNK, 0);
                }
                let read = loop {
                    match file.read(&mut self.chunk[self.end..]) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        read => break read?,
                    }
                };
                self.end += read;
                self.eof = read == 0;
                return Ok(read > 0);
            }
            Pull::Pump(chunks) => chunks,
        };
        let stop = &self.stop;
        let next = self.runtime.block_on(async {
            tokio::select! {
                biased;
                _ = stop.cancelled() => None,
                next = chunks.recv() => Some(next),
            }
        });
        match next {
            None => Err(io::Error::other(Stopped)),
            Some(None) => {
                self.eof = true;
                Ok(false)
            }
            Some(Some(Ok(chunk))) => {
                self.chunk.drain(..self.at);
                self.at = 0;
                if self.chunk.is_empty() {
                    self.chunk = chunk;
                } else {
                    self.chunk.extend_from_slice(&chunk);
                }
                self.end = self.chunk.len();
                Ok(true)
            }
            Some(Some(Err(e))) => Err(e),
        }
    }

    /// Skips a UTF-8 byte order mark at the current position, if there is one.
    pub fn skip_bom(&mut self) -> io::Result<()> {
        while self.end - self.at < super::BOM.len()
            && super::BOM.starts_with(&self.chunk[self.at..self.end])
            && self.next_chunk()?
        {}
        if self.chunk[self.at..self.end].starts_with(super::BOM) {
            self.consume(super::BOM.len());
        }
        Ok(())
    }
}

impl Read for Input {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at == self.end && self.next_chunk()? {}
        Ok(&self.chunk[self.at..self.end])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.at);
        self.at += n;
        self.consumed += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &mut Input) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        input.read_to_end(&mut all)?;
        Ok(all)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_fifo_has_no_size_and_is_read_through_one_open() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut w = std::fs::OpenOptions::new()
                .write(true)
                .open(writer_path)
                .unwrap();
            w.write_all(b"\xef\xbb\xbfhello\n").unwrap();
        });
        let spec = TrafficSpec::from_arg(fifo.to_str().unwrap(), super::super::Format::Auto);
        let file = dir.path().join("plain");
        std::fs::write(&file, b"12345").unwrap();
        let plain = TrafficSpec::from_arg(file.to_str().unwrap(), super::super::Format::Auto);
        let stop = CancellationToken::new();
        let got = tokio::task::spawn_blocking(move || {
            let sources = open_sources(&[spec, plain]).unwrap();
            assert_eq!(sources[0].size, None);
            assert_eq!(sources[1].size, Some(5));
            assert_eq!(total_bytes(&sources), None);
            assert_eq!(total_bytes(&sources[1..]), Some(5));
            let source = sources.into_iter().next().unwrap();
            let mut input = Input::start(source, stop).unwrap();
            input.skip_bom().unwrap();
            read_all(&mut input).unwrap()
        })
        .await
        .unwrap();
        writer.join().unwrap();
        assert_eq!(got, b"hello\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_regular_file_is_read_in_place_whole_across_its_chunks() {
        const LINES: usize = 900;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("capture.jsonl");
        // Lines that straddle every chunk boundary, a BOM in front.
        let line = |i: usize| format!("{{\"id\":\"{i}\",\"input\":\"{}\"}}\n", "x".repeat(i % 700));
        let body: String = (0..LINES).map(line).collect();
        assert!(body.len() > 3 * CHUNK);
        std::fs::write(&path, [super::super::BOM, body.as_bytes()].concat()).unwrap();
        let spec = TrafficSpec::from_arg(path.to_str().unwrap(), super::super::Format::Auto);
        let (lines, consumed, in_place, buffered_before_end) =
            tokio::task::spawn_blocking(move || {
                let source = open_sources(&[spec]).unwrap().pop().unwrap();
                let mut input = Input::start(source, CancellationToken::new()).unwrap();
                let in_place = matches!(input.from, Pull::File(_));
                input.skip_bom().unwrap();
                let (mut lines, mut buf) = (Vec::new(), Vec::new());
                let mut buffered_before_end = true;
                while crate::util::lines::read_line(&mut input, &mut buf, 1 << 20).unwrap()
                    != crate::util::lines::Line::Eof
                {
                    lines.push(String::from_utf8(buf.clone()).unwrap());
                    if lines.len() < LINES {
                        buffered_before_end &= input.has_buffered();
                    }
                }
                assert!(!input.has_buffered(), "nothing more after the end");
                (lines, input.consumed(), in_place, buffered_before_end)
            })
            .await
            .unwrap();
        assert!(in_place, "a regular file needs no pump thread");
        assert!(buffered_before_end, "a file's next bytes never wait");
        let want: Vec<String> = (0..LINES).map(|i| line(i).trim_end().to_owned()).collect();
        assert_eq!(lines, want);
        assert_eq!(consumed, body.len() as u64 + 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_stop_ends_a_read_blocked_on_an_idle_pipe() {
        // A pipe nobody writes to: the stdout of a child that sleeps.
        let mut idle = std::process::Command::new("sleep")
            .arg("30")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = idle.stdout.take().unwrap();
        let file = File::from(std::os::fd::OwnedFd::from(pipe));
        let source = Source {
            spec: TrafficSpec::from_arg("-", super::super::Format::Auto),
            file: Some(file),
            size: None,
        };
        let stop = CancellationToken::new();
        let cancel = stop.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut input = Input::start(source, stop).unwrap();
            read_all(&mut input)
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        cancel.cancel();
        let result = tokio::time::timeout(std::time::Duration::from_secs(5), read)
            .await
            .expect("the read ends soon after the stop")
            .unwrap();
        let _ = idle.kill();
        let _ = idle.wait();
        assert!(is_stop(&result.unwrap_err()));
    }
}
