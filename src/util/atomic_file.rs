//! Writing a whole file so that readers see the old one or the new one.
//!
//! # Contract
//! [`write`] writes the bytes to a temp file beside the target (same
//! directory, so the rename cannot cross file systems), flushes it to disk,
//! and renames it over the target. A reader (a person opening `summary.json`,
//! a running cutover watching its flag file) never sees a half-written file,
//! and a file that exists is complete. The directory is created if missing.
//!
//! Modes: a file that did not exist gets what `File::create` would give it
//! (0666 less the umask), like every other report file. A file that existed
//! keeps its mode and, where this process may set them, its owner and group
//! (a service reading `flags.json` as another user keeps reading it); when
//! the owner cannot be kept (not root), the file keeps at least its group if
//! this user is in it, and a warning names the file.
//!
//! [`check_writable`] tells up front whether [`write`] can write a path, for
//! outputs that are only written at the end of a long run.
//!
//! On error the target is untouched and the temp file removed; the error is
//! the I/O error, for the caller to name the file in its own terms.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temp file and a rename.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    let existing = std::fs::metadata(path).ok().filter(|m| m.is_file());
    let mut tmp = temp_in(dir)?;
    #[cfg(unix)]
    if let Some(old) = &existing {
        keep_owner_and_mode(tmp.as_file(), old, path)?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether [`write`] could write `path`, checked before the work that
/// produces its bytes: its directory can be created and written (a temp
/// file is made there and removed), and `path` is not a directory.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    let dir = parent(path);
    if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is a file, not a directory", file.display()),
        ));
    }
    std::fs::create_dir_all(dir)?;
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    temp_in(dir).map(drop)
}

/// A new temp file in `dir`, with the mode `File::create` would give it.
fn temp_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".cutover-").suffix(".tmp");
    // tempfile's default is 0600; ask for what `File::create` asks for, so
    // the umask decides, as it does for the other report files.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(dir)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Gives the temp file `old`'s owner, group and mode (the mode last: a
/// change of owner may clear set-id bits).
#[cfg(unix)]
fn keep_owner_and_mode(
    file: &std::fs::File,
    old: &std::fs::Metadata,
    path: &Path,
) -> std::io::Result<()> {
    use std::os::unix::fs::{fchown, MetadataExt, PermissionsExt};
    let new = file.metadata()?;
    if (new.uid(), new.gid()) != (old.uid(), old.gid())
        && fchown(file, Some(old.uid()), Some(old.gid())).is_err()
    {
        let group = match new.gid() == old.gid() {
            true => Ok(()),
            false => fchown(file, None, Some(old.gid())),
        };
        tracing::warn!(
            "{}: cannot keep its owner (uid {}){}; the rewritten file belongs to this user",
            path.display(),
            old.uid(),
            match group {
                Ok(()) => String::new(),
                Err(e) => format!(" nor its group (gid {}: {e})", old.gid()),
            }
        );
    }
    file.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_file_gets_the_mode_a_plain_create_gives() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let target = dir.path().join("new");
        write(&target, b"x").unwrap();
        assert_eq!(
            format!("{:o}", mode(&target)),
            format!("{:o}", mode(&plain))
        );
    }

    #[test]
    fn rewriting_a_file_keeps_its_mode_and_owner() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("flags.json");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o604)).unwrap();
        // Another owner when this process may give files away (root, as
        // scripts/test runs); otherwise the owner must simply stay ours.
        let given = std::os::unix::fs::chown(&target, Some(65534), Some(65534)).is_ok();
        let before = std::fs::metadata(&target).unwrap();
        write(&target, b"new").unwrap();
        let after = std::fs::metadata(&target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(format!("{:o}", mode(&target)), "604");
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        if given {
            assert_eq!((after.uid(), after.gid()), (65534, 65534));
        }
    }
}
