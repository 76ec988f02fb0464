//! `rejected.jsonl`: every capture line that could not be read as a record
//! (a [`Sink`]).
//!
//! One JSON object per line: `{"seq", "source", "line", "reason", "excerpt"}`,
//! in input order, so a user can find and fix each line.

use super::sink::Sink;
use super::{write_err, ReportError, Summary, REJECTED_FILE};
use crate::model::Rejection;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct RejectedFile {
    path: PathBuf,
    out: BufWriter<File>,
}

impl RejectedFile {
    /// Creates `rejected.jsonl` in `dir`.
    pub fn create(dir: &Path) -> Result<Self, ReportError> {
        let path = &dir.join(REJECTED_FILE);
        let file = File::create(path).map_err(write_err(path))?;
        Ok(RejectedFile {
            path: path.to_owned(),
            out: BufWriter::new(file),
        })
    }
}

impl Sink for RejectedFile {
    fn rejected(&mut self, rejection: &Rejection) -> Result<(), ReportError> {
        serde_json::to_writer(&mut self.out, rejection)
            .map_err(|e| write_err(&self.path)(e.into()))?;
        self.out.write_all(b"\n").map_err(write_err(&self.path))
    }

    fn finish(mut self: Box<Self>, _: &Summary, _: &Path) -> Result<(), ReportError> {
        self.out.flush().map_err(write_err(&self.path))
    }
}
