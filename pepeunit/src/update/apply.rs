//! Applying a new program version: unpack, swap in with a backup, roll back on failure.
//!
//! [`update_device_program`] has *overlay* semantics, like the Python client: files the archive holds
//! replace or join the program directory's; files it does not hold (log.json, a compiled binary, user
//! data) stay untouched. It either applies the whole archive or leaves the directory as it was.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::archive::{self, ArchiveFormat, ExtractLimits};
use crate::error::{Error, Result};
use crate::files;

/// How [`update_device_program`] treats the archive, and how a new executable is watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOptions {
    /// Caps on what the archive may unpack to.
    pub limits: ExtractLimits,
    /// A new executable that exits sooner after the restart is rolled back to the previous one
    /// (see [`crate::update::firmware::restart_guarded`]); default 30 s.
    pub startup_grace: std::time::Duration,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            limits: ExtractLimits::default(),
            startup_grace: super::firmware::guard::DEFAULT_GRACE,
        }
    }
}

/// What [`update_device_program`] changed; paths are relative to the program directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateReport {
    /// How the archive was packed.
    pub format: ArchiveFormat,
    /// Files (or links) that existed and were replaced.
    pub replaced: Vec<PathBuf>,
    /// Files (or links) that are new.
    pub added: Vec<PathBuf>,
    /// Directories that had to be created.
    pub created_dirs: Vec<PathBuf>,
}

impl std::fmt::Display for UpdateReport {
    /// A one-line summary for the unit log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} archive, {} files replaced, {} added, {} directories created",
            self.format,
            self.replaced.len(),
            self.added.len(),
            self.created_dirs.len()
        )
    }
}

/// Applies the update `archive` to `program_dir`, all or nothing.
///
/// 1. The archive is unpacked into a hidden staging directory inside `program_dir` (same filesystem,
///    so the moves below are atomic renames); if it is refused, the staging directory is removed and
///    `program_dir` was never touched.
/// 2. Each staged entry, in path order, is renamed into place (one atomic rename over an existing file,
///    which is first hard-linked, or copied, into a hidden backup directory: a crash never leaves a
///    file missing or half-written); missing directories are created.
/// 3. If any step fails, every step done is undone in reverse order and [`Error::Update`] says why
///    (and that the directory was rolled back).
/// 4. The new files and the touched directories are fsynced, then the backup is removed.
///
/// Files of `program_dir` that the archive does not hold are kept (overlay, as the Python client does);
/// existing directories keep their modes.
pub fn update_device_program(
    archive: &Path,
    program_dir: &Path,
    options: &UpdateOptions,
) -> Result<UpdateReport> {
    update_device_program_checked(archive, program_dir, options, |_| Ok(()))
}

/// [`update_device_program`] that first runs `check` on the staging directory (the unpacked archive):
/// an error from it refuses the update with `program_dir` untouched. The REST update flow checks the
/// archive's env.json and schema.json this way, so it never installs files it could not reload.
pub fn update_device_program_checked(
    archive: &Path,
    program_dir: &Path,
    options: &UpdateOptions,
    check: impl FnOnce(&Path) -> Result<()>,
) -> Result<UpdateReport> {
    // What an update killed mid-way left (each file in place is whole, old or new).
    for what in ["staging", "backup"] {
        for stale in files::stale_entries(program_dir, &format!(".pepeunit-{what}-")) {
            remove_dir_all(&stale);
        }
    }
    let staging = hidden_dir(program_dir, "staging")?;
    let result = archive::extract(archive, &staging, &options.limits).and_then(|extracted| {
        check(&staging)?;
        let backup = hidden_dir(program_dir, "backup")?;
        let mut swap = Swap {
            program_dir,
            staging: &staging,
            backup: &backup,
            journal: Vec::new(),
        };
        match swap.run() {
            Ok(()) => {
                remove_dir_all(&backup);
                Ok(swap.report(extracted.format))
            }
            Err(cause) => Err(swap.roll_back(&cause)),
        }
    });
    remove_dir_all(&staging);
    result
}

/// One undoable step of the swap (paths relative to the program directory).
enum Step {
    CreatedDir(PathBuf),
    BackedUp(PathBuf),
    Placed(PathBuf),
}

impl Step {
    fn rel(&self) -> &Path {
        match self {
            Step::CreatedDir(rel) | Step::BackedUp(rel) | Step::Placed(rel) => rel,
        }
    }
}

/// The swap in progress: what was done so far, to undo it or report it.
struct Swap<'a> {
    program_dir: &'a Path,
    staging: &'a Path,
    backup: &'a Path,
    journal: Vec<Step>,
}

impl Swap<'_> {
    /// Moves every staged entry into the program directory, journaling each step.
    fn run(&mut self) -> Result<()> {
        let mut entries = Vec::new();
        staged_entries(self.staging, Path::new(""), &mut entries)?;
        for (rel, _) in entries.iter().filter(|(_, is_dir)| !is_dir) {
            // Data on disk before any rename makes it visible.
            let path = self.staging.join(rel);
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                File::open(&path)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io(&path, e))?;
            }
        }
        for (rel, is_dir) in &entries {
            let target = self.program_dir.join(rel);
            let existing = fs::symlink_metadata(&target).ok();
            if *is_dir {
                if !existing.is_some_and(|m| m.is_dir()) {
                    fs::create_dir(&target).map_err(|e| Error::io(&target, e))?;
                    self.journal.push(Step::CreatedDir(rel.clone()));
                }
                continue;
            }
            if existing.is_some_and(|m| !m.is_dir()) {
                // A link (or copy), not a move: the rename below replaces the file in one step, so a
                // crash never leaves it missing.
                let saved = self.backup.join(rel);
                fs::create_dir_all(files::parent_dir(&saved))
                    .and_then(|()| {
                        fs::hard_link(&target, &saved).or_else(|_| copy(&target, &saved))
                    })
                    .map_err(|e| Error::io(&target, e))?;
                self.journal.push(Step::BackedUp(rel.clone()));
            }
            fs::rename(self.staging.join(rel), &target).map_err(|e| Error::io(&target, e))?;
            self.journal.push(Step::Placed(rel.clone()));
        }
        // Modes last, so a read-only directory did not block its own content.
        for step in &self.journal {
            if let Step::CreatedDir(rel) = step {
                let (staged, target) = (self.staging.join(rel), self.program_dir.join(rel));
                fs::symlink_metadata(&staged)
                    .and_then(|m| fs::set_permissions(&target, m.permissions()))
                    .map_err(|e| Error::io(&target, e))?;
            }
        }
        self.sync()
    }

    /// fsyncs every directory whose entries changed, so the new version survives a power loss.
    fn sync(&self) -> Result<()> {
        let dirs: BTreeSet<PathBuf> = self
            .journal
            .iter()
            .map(|step| files::parent_dir(&self.program_dir.join(step.rel())))
            .collect();
        dirs.iter().try_for_each(|dir| {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(dir, e))
        })
    }

    /// Undoes the journal in reverse and removes the backup; returns the error to report for `cause`.
    /// If a step cannot be undone, the backup is kept: it may hold the only copy of a replaced file.
    fn roll_back(&mut self, cause: &Error) -> Error {
        let mut failures = Vec::new();
        let backed_up = self.backed_up();
        for step in self.journal.iter().rev() {
            let target = self.program_dir.join(step.rel());
            let undone = match step {
                // One rename puts a replaced file back; the old file is still in place until then.
                Step::Placed(rel) if backed_up.contains(rel) => {
                    fs::rename(self.backup.join(rel), &target)
                }
                Step::Placed(_) => fs::remove_file(&target),
                Step::BackedUp(_) => Ok(()),
                Step::CreatedDir(_) => fs::remove_dir(&target),
            };
            if let Err(e) = undone {
                failures.push(format!("{}: {e}", target.display()));
            }
        }
        if failures.is_empty() {
            remove_dir_all(self.backup);
            Error::Update(format!("{cause}; the program directory was rolled back"))
        } else {
            Error::Update(format!(
                "{cause}; rollback incomplete ({}); replaced files are kept in {}",
                failures.join(", "),
                self.backup.display()
            ))
        }
    }

    /// The files whose previous version is in the backup.
    fn backed_up(&self) -> BTreeSet<PathBuf> {
        self.journal
            .iter()
            .filter_map(|step| match step {
                Step::BackedUp(rel) => Some(rel.clone()),
                _ => None,
            })
            .collect()
    }

    fn report(&self, format: ArchiveFormat) -> UpdateReport {
        let mut report = UpdateReport {
            format,
            replaced: Vec::new(),
            added: Vec::new(),
            created_dirs: Vec::new(),
        };
        let backed_up = self.backed_up();
        for step in &self.journal {
            match step {
                Step::CreatedDir(rel) => report.created_dirs.push(rel.clone()),
                Step::Placed(rel) if backed_up.contains(rel) => report.replaced.push(rel.clone()),
                Step::Placed(rel) => report.added.push(rel.clone()),
                Step::BackedUp(_) => {}
            }
        }
        report
    }
}

/// Lists the entries under `root/rel` in path order, each directory before its content.
fn staged_entries(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, bool)>) -> Result<()> {
    let dir = root.join(rel);
    let mut names = fs::read_dir(&dir)
        .and_then(|list| {
            list.map(|entry| entry.map(|e| e.file_name()))
                .collect::<io::Result<Vec<_>>>()
        })
        .map_err(|e| Error::io(&dir, e))?;
    names.sort();
    for name in names {
        let rel = rel.join(name);
        let path = root.join(&rel);
        let is_dir = fs::symlink_metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .is_dir();
        out.push((rel.clone(), is_dir));
        if is_dir {
            staged_entries(root, &rel, out)?;
        }
    }
    Ok(())
}

/// Creates a fresh hidden directory `.pepeunit-<what>-<pid>-<n>` inside `program_dir`.
fn hidden_dir(program_dir: &Path, what: &str) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = program_dir.join(format!(".pepeunit-{what}-{}-{n}", std::process::id()));
    fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

/// Copies `from` to `to` where hard links are not possible; a symbolic link is copied as a link.
fn copy(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Ok(link) = fs::read_link(from) {
        return std::os::unix::fs::symlink(link, to);
    }
    fs::copy(from, to).map(drop)
}

/// Removes a staging or backup directory; a leftover is harmless (hidden, never reused), so a failure
/// here does not turn a finished update into an error.
fn remove_dir_all(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
}
