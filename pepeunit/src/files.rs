//! Every write of env/schema/log/program files goes through here.
//!
//! A write goes to a temporary file in the same directory, is fsynced, then renamed over the target, and
//! the directory is fsynced: a crash or power loss leaves either the old file or the new one, never half.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Parses the JSON file at `path` as a `T`; `None` when there is no such file.
pub fn read_json_if_exists<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::InvalidJson {
                source_name: path.display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Replaces `path` with `bytes` atomically (temp file + fsync + rename + directory fsync).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_via_temp(path, bytes, true)
}

/// Like [`write_atomic`] but without the fsyncs: atomic against a process crash (the rename is), not
/// against a power loss. For files rewritten often whose every line is not worth two disk flushes (the
/// log's compaction, which keeps the Python client's no-fsync durability).
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    write_via_temp(path, bytes, false)
}

fn write_via_temp(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    if sync {
        // Rare writes (env, schema, markers, the log's flush): they also sweep what killed ones left.
        remove_stale_temps(path);
    }
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        if sync {
            file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        }
        if let Ok(meta) = fs::metadata(path) {
            // Keep the permissions the file had: an update must not widen or narrow them.
            fs::set_permissions(&tmp, meta.permissions()).map_err(|e| Error::io(&tmp, e))?;
        }
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        if sync { sync_parent(path) } else { Ok(()) }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a whole text file, naming the file in the error.
pub fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Checks the file at `new_file` with `validate`, then atomically replaces `target` with it.
///
/// When `validate` refuses the new file, `target` is left untouched.
pub fn replace_validated(
    target: &Path,
    new_file: &Path,
    validate: impl FnOnce(&str) -> Result<()>,
) -> Result<()> {
    let text = read_text(new_file)?;
    validate(&text)?;
    write_atomic(target, text.as_bytes())
}

/// fsyncs the directory holding `path`, so a rename in it survives a power loss.
pub fn sync_parent(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A unique, hidden name next to `path` for a temporary file.
pub fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_dir(path).join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Removes the temporary files of [`temp_sibling`] that a writer of `path` killed mid-write left
/// behind (those of processes that no longer run); best effort.
pub fn remove_stale_temps(path: &Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for stale in stale_entries(&parent_dir(path), &format!(".{name}.tmp-")) {
        let _ = fs::remove_file(stale);
    }
}

/// The entries of `dir` named `<prefix><pid>-<n>` whose process is neither this one nor running:
/// what a killed process left (temporary files, an update's staging and backup directories).
pub(crate) fn stale_entries(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(list) = fs::read_dir(dir) else {
        return Vec::new();
    };
    list.flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|rest| rest.split('-').next()?.parse::<u32>().ok());
            pid.is_some_and(|pid| pid != std::process::id() && !process_alive(pid))
        })
        .map(|entry| entry.path())
        .collect()
}

/// Whether the process `pid` exists (unix; elsewhere it is assumed to).
pub(crate) fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists.
        libc::pid_t::try_from(pid).is_ok_and(|pid| pid > 0 && unsafe { libc::kill(pid, 0) } == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Starts writing `file`'s data to disk without waiting for it (Linux `sync_file_range`), so that the
/// fsync that must follow finds it mostly written: an update unpacking many files overlaps the disk
/// with the rest of the unpacking. A hint only, which guarantees nothing: durability still comes from
/// that fsync. Elsewhere it does nothing.
pub(crate) fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for the borrow of `file`; the call only schedules writeback.
        // An error (e.g. a filesystem without support) is ignored: the later fsync reports real ones.
        unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}
