//! Writing files and directories durably. A file's contents are durable
//! only once it is synced, and its name only once its directory is synced
//! (a power cut can otherwise leave a synced file with no name). These
//! helpers do both, for configuration, state and secrets that a crash must
//! leave either whole and old or whole and new, and for the files a commit
//! writes before it publishes them.

use std::io::Write;
use std::path::Path;

/// Syncs a directory, making the names created, renamed or removed in it
/// durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `path` and any missing parents, like `create_dir_all`, and makes
/// every directory it created durable: each new directory and the directory
/// holding it are synced.
pub fn create_dir_all_durable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dir_all_durable(parent)?;
    }
    match std::fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    sync_dir(path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Writes a new file (or replaces one in place) and makes it durable: its
/// directories are created durably, its contents synced, then its directory.
/// Not atomic: use it for files no reader looks at until something durable
/// points to them.
pub fn write_durable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_dir_all_durable(dir)?;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    sync_dir(dir)
}

/// Replaces `path` with `bytes`: written to `<path>.tmp` with `mode` (on
/// Unix), synced, renamed over `path`, and the directory synced. A reader
/// never sees half a file, and a crash leaves the old one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

#[cfg(test)]
mod tests;
