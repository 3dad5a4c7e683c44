//! The instance's own file reads and writes: the repository's example files, and the unit files it
//! writes under a unit that may be running (replaced by a rename, so the unit never reads half a file).

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};

/// `path` as JSON, `None` when the file does not exist.
pub(crate) fn read_json_if_exists<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Invalid {
                source_name: path.display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Replaces `path` with `bytes` through a temp file beside it and a rename.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = path.with_extension("testkit-tmp");
    fs::write(&temp, bytes).map_err(|e| Error::io(&temp, e))?;
    fs::rename(&temp, path).map_err(|e| Error::io(path, e))
}
