//! Writing a whole file so that readers see the old one or the new one.
//!
//! # Contract
//! [`write`] writes the bytes to a temp file beside the target (same
//! directory, so the rename cannot cross file systems), flushes it to disk,
//! and renames it over the target. A reader (a person opening `summary.json`,
//! a running cutover watching its flag file) never sees a half-written file,
//! and a file that exists is complete. The directory is created if missing.
//! On error the target is untouched and the temp file removed; the error is
//! the I/O error, for the caller to name the file in its own terms.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temp file and a rename.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".cutover-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
