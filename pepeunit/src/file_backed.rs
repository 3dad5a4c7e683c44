//! A value parsed from a file and shared by readers while a reload swaps it: the core of
//! [`crate::settings::Settings`] and [`crate::schema::Schema`]. A reload that fails leaves the value in
//! force, and watchers hear of every swap.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::error::Result;
use crate::files;

/// A value parsed from its file; see the module doc.
pub(crate) struct FileBacked<T> {
    path: PathBuf,
    parse: fn(&str, &str) -> Result<T>,
    current: RwLock<Arc<T>>,
    /// Called after every swap (see [`crate::settings::Settings::on_change`]).
    watchers: Mutex<Vec<Watcher<T>>>,
}

type Watcher<T> = Box<dyn Fn(&T) + Send + Sync>;

impl<T> FileBacked<T> {
    /// Reads and parses `path`.
    pub(crate) fn load(path: PathBuf, parse: fn(&str, &str) -> Result<T>) -> Result<Self> {
        let value = parse_file(&path, parse)?;
        Ok(FileBacked::new(value, path, parse))
    }

    /// Starts from an already parsed `value`; later reloads read `path`.
    pub(crate) fn new(value: T, path: PathBuf, parse: fn(&str, &str) -> Result<T>) -> Self {
        FileBacked {
            path,
            parse,
            current: RwLock::new(Arc::new(value)),
            watchers: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn current(&self) -> Arc<T> {
        // A panic can't happen while the lock is held (it only swaps an Arc), so poison carries no harm.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file; on any error the current value stays.
    pub(crate) fn reload(&self) -> Result<()> {
        let value = parse_file(&self.path, self.parse)?;
        self.replace(value);
        Ok(())
    }

    pub(crate) fn replace(&self, value: T) {
        let value = Arc::new(value);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = value.clone();
        for watcher in self
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            watcher(&value);
        }
    }

    pub(crate) fn on_change(&self, watcher: Watcher<T>) {
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(watcher);
    }
}

impl<T: fmt::Debug> fmt::Debug for FileBacked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBacked")
            .field("path", &self.path)
            .field("current", &self.current())
            .finish()
    }
}

fn parse_file<T>(path: &Path, parse: fn(&str, &str) -> Result<T>) -> Result<T> {
    let text = files::read_text(path)?;
    parse(&text, &path.display().to_string())
}
