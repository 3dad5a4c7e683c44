//! Helpers shared by the integration tests: the vectors folder and self-cleaning temp directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// `../shared/vectors` relative to the repository root (the interoperability fixtures).
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

/// A file of the vectors folder, e.g. `vector("env/env_current.json")`.
pub fn vector(rel: &str) -> PathBuf {
    let path = vectors().join(rel);
    assert!(path.exists(), "missing vector {}", path.display());
    path
}

/// A fresh directory under the system temp dir, removed (with its contents) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("pepeunit-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Copies a vector file into this directory under `name`, writable (the vectors are read-only).
    pub fn copy_vector(&self, rel: &str, name: &str) -> PathBuf {
        let dest = self.0.join(name);
        let bytes = std::fs::read(vector(rel)).unwrap();
        std::fs::write(&dest, bytes).unwrap();
        dest
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
