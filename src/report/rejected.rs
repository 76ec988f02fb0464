//! `rejected.jsonl`: every capture line that could not be read as a record.
//!
//! One JSON object per line: `{"seq", "source", "line", "reason", "excerpt"}`,
//! in input order, so a user can find and fix each line.

use super::{write_err, ReportError};
use crate::traffic::Rejection;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct RejectedFile {
    path: PathBuf,
    out: BufWriter<File>,
}

impl RejectedFile {
    pub fn create(path: &Path) -> Result<Self, ReportError> {
        let file = File::create(path).map_err(write_err(path))?;
        Ok(RejectedFile {
            path: path.to_owned(),
            out: BufWriter::new(file),
        })
    }

    pub fn write(&mut self, rejection: &Rejection) -> Result<(), ReportError> {
        serde_json::to_writer(&mut self.out, rejection)
            .map_err(|e| write_err(&self.path)(e.into()))?;
        self.out.write_all(b"\n").map_err(write_err(&self.path))
    }

    pub fn finish(mut self) -> Result<(), ReportError> {
        self.out.flush().map_err(write_err(&self.path))
    }
}
