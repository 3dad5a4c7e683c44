//! The one place that decides what an archive may create in the staging directory.
//!
//! Both readers (tar, zip) hand every entry to [`Staging::add`], which checks its path, type and size
//! before anything touches the disk. Nothing is ever written through a symlink: every parent of an entry
//! must be a real directory inside the staging root, so link targets can be checked lexically.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::{ArchiveFormat, ExtractLimits, ExtractReport};
use crate::error::{Error, Result};
use crate::files;

/// One archive entry, as the readers see it.
pub(super) enum Kind<'a> {
    /// A directory.
    Dir,
    /// A regular file of `size` bytes (as its header says) whose content `data` yields.
    File { size: u64, data: &'a mut dyn Read },
    /// A symbolic link to this target, relative to the link's directory.
    Symlink(Vec<u8>),
    /// A hard link to this archive member.
    Hardlink(Vec<u8>),
}

/// The staging directory being filled, with the running totals the limits apply to.
pub(super) struct Staging<'a> {
    archive: &'a Path,
    root: &'a Path,
    limits: &'a ExtractLimits,
    entries: usize,
    files: u64,
    dirs: u64,
    links: u64,
    bytes: u64,
    /// Directory modes, applied at the end so a read-only directory does not block its own content.
    dir_modes: Vec<(PathBuf, u32)>,
}

impl<'a> Staging<'a> {
    /// Starts filling `root`, which must be an existing empty directory.
    pub(super) fn new(
        archive: &'a Path,
        root: &'a Path,
        limits: &'a ExtractLimits,
    ) -> Result<Self> {
        let mut listing = fs::read_dir(root).map_err(|e| Error::io(root, e))?;
        if listing.next().is_some() {
            let e = io::Error::new(
                io::ErrorKind::DirectoryNotEmpty,
                "the staging directory must be empty",
            );
            return Err(Error::io(root, e));
        }
        Ok(Staging {
            archive,
            root,
            limits,
            entries: 0,
            files: 0,
            dirs: 0,
            links: 0,
            bytes: 0,
            dir_modes: Vec::new(),
        })
    }

    /// Checks and unpacks one entry named `name` (as stored in the archive).
    pub(super) fn add(&mut self, name: &[u8], kind: Kind<'_>, mode: Option<u32>) -> Result<()> {
        self.skip(name)?;
        let rel = self.member_path(name, name)?;
        if rel.as_os_str().is_empty() {
            // The archive's own root (`.`, the first member of a Python tar): the staging dir itself.
            return match kind {
                Kind::Dir => Ok(()),
                _ => Err(self.refuse(name, "a non-directory entry names the archive root")),
            };
        }
        let added = self.prepare(name, &rel).and_then(|path| match kind {
            Kind::Dir => self.dir(name, &path, mode),
            _ if fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_dir()) => Err(self.refuse(
                name,
                "an entry that is not a directory replaces an earlier directory",
            )),
            Kind::File { size, data } => self.file(name, &path, mode, size, data),
            Kind::Symlink(target) => self.symlink(name, &rel, &path, &target),
            Kind::Hardlink(target) => self.hardlink(name, &path, &target),
        });
        // A name no file can have here (a component over NAME_MAX, …) is the archive's fault.
        added.map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == io::ErrorKind::InvalidFilename => {
                self.refuse(name, format!("the file system refuses the name: {source}"))
            }
            other => other,
        })
    }

    /// Counts an entry that has nothing to unpack (metadata), so the entry limit still holds.
    pub(super) fn skip(&mut self, name: &[u8]) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            let reason = format!(
                "the archive exceeds the limit of {} entries",
                self.limits.max_entries
            );
            return Err(self.refuse(name, reason));
        }
        Ok(())
    }

    /// Applies the directory modes and returns the totals.
    pub(super) fn finish(self, format: ArchiveFormat) -> Result<ExtractReport> {
        for (dir, mode) in self.dir_modes.iter().rev() {
            set_mode(dir, *mode).map_err(|e| Error::io(dir, e))?;
        }
        Ok(ExtractReport {
            format,
            files: self.files,
            dirs: self.dirs,
            links: self.links,
            bytes: self.bytes,
        })
    }

    /// An [`Error::Archive`] about this archive, blaming `entry` when one is to blame.
    pub(super) fn error(&self, entry: Option<&[u8]>, reason: impl Into<String>) -> Error {
        Error::Archive {
            archive: self.archive.to_path_buf(),
            entry: entry.map(|n| String::from_utf8_lossy(n).into_owned()),
            reason: reason.into(),
        }
    }

    /// An [`Error::Archive`] refusing the entry `name`.
    pub(super) fn refuse(&self, name: &[u8], reason: impl Into<String>) -> Error {
        self.error(Some(name), reason)
    }

    /// An [`Error::Archive`] for data that cannot be read (in `entry` when one is being read).
    pub(super) fn corrupt(&self, entry: Option<&[u8]>, cause: &dyn std::fmt::Display) -> Error {
        self.error(entry, format!("corrupt or truncated archive: {cause}"))
    }

    fn dir(&mut self, name: &[u8], path: &Path, mode: Option<u32>) -> Result<()> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(self.refuse(
                    name,
                    "a directory replaces an earlier entry that is not one",
                ));
            }
            Err(_) => fs::create_dir(path).map_err(|e| Error::io(path, e))?,
        }
        if let Some(mode) = mode {
            self.dir_modes.push((path.to_path_buf(), mode));
        }
        self.dirs += 1;
        Ok(())
    }

    fn file(
        &mut self,
        name: &[u8],
        path: &Path,
        mode: Option<u32>,
        size: u64,
        data: &mut dyn Read,
    ) -> Result<()> {
        // The cap is checked against the header, and no more than the header's size is ever written:
        // so the bytes actually written stay under the cap, whatever the data holds.
        if size > self.limits.max_total_bytes.saturating_sub(self.bytes) {
            return Err(self.too_big(name));
        }
        let mut file = File::create_new(path).map_err(|e| Error::io(path, e))?;
        let unreadable = |e: io::Error| self.corrupt(Some(name), &e);
        let written = io::copy(&mut data.take(size), &mut file).map_err(unreadable)?;
        let longer = written == size && data.read(&mut [0u8]).map_err(unreadable)? != 0;
        self.bytes += written;
        if written != size || longer {
            let holds = if longer { "more" } else { "fewer" };
            let reason = format!(
                "the entry holds {holds} bytes than the {size} its header says: corrupt or truncated archive"
            );
            return Err(self.refuse(name, reason));
        }
        // The swap fsyncs every staged file before the first rename; writing starts now.
        files::start_writeback(&file);
        if let Some(mode) = mode {
            set_mode(path, mode).map_err(|e| Error::io(path, e))?;
        }
        self.files += 1;
        Ok(())
    }

    fn symlink(&mut self, name: &[u8], rel: &Path, path: &Path, target: &[u8]) -> Result<()> {
        let target = std::str::from_utf8(target)
            .map_err(|_| self.refuse(name, "the link target is not UTF-8"))?;
        if !symlink_stays_inside(rel, Path::new(target)) {
            return Err(self.refuse(
                name,
                format!("symlink target {target:?} points outside the archive"),
            ));
        }
        make_symlink(Path::new(target), path).map_err(|e| Error::io(path, e))?;
        self.links += 1;
        Ok(())
    }

    fn hardlink(&mut self, name: &[u8], path: &Path, target: &[u8]) -> Result<()> {
        let target_rel = self.member_path(name, target)?;
        let target_path = self.root.join(&target_rel);
        let is_file = self.real_parents(&target_rel)
            && fs::symlink_metadata(&target_path).is_ok_and(|m| m.is_file());
        if !is_file {
            let reason = format!(
                "hard link target {:?} is not a file unpacked before it",
                String::from_utf8_lossy(target)
            );
            return Err(self.refuse(name, reason));
        }
        fs::hard_link(&target_path, path).map_err(|e| Error::io(path, e))?;
        self.links += 1;
        Ok(())
    }

    /// The relative path in the archive that `raw` names: no root, no `..`; `.` components dropped.
    /// Errors blame the entry `name` (which is `raw` itself, or the link whose target `raw` is).
    fn member_path(&self, name: &[u8], raw: &[u8]) -> Result<PathBuf> {
        let text =
            std::str::from_utf8(raw).map_err(|_| self.refuse(name, "the path is not UTF-8"))?;
        // No file system takes one (zip names may hold any byte).
        if text.contains('\0') {
            return Err(self.refuse(name, format!("{text:?} contains a NUL byte")));
        }
        let mut rel = PathBuf::new();
        for component in Path::new(text).components() {
            match component {
                Component::Normal(part) => rel.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(self.refuse(name, format!("{text:?} contains `..`")));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(self.refuse(name, format!("{text:?} is an absolute path")));
                }
            }
        }
        Ok(rel)
    }

    /// Makes every parent of `rel` a real directory (creating missing ones) and clears the way for the
    /// entry itself: a later entry replaces an earlier file or link, never a directory.
    fn prepare(&self, name: &[u8], rel: &Path) -> Result<PathBuf> {
        let mut dir = self.root.to_path_buf();
        for part in rel.parent().into_iter().flat_map(Path::components) {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(self.refuse(
                        name,
                        "a parent of the entry is a file or a symlink, not a directory",
                    ));
                }
                Err(_) => fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?,
            }
        }
        let path = self.root.join(rel);
        if fs::symlink_metadata(&path).is_ok_and(|meta| !meta.is_dir()) {
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
        Ok(path)
    }

    /// Whether every parent of `rel` is a real directory (not a symlink) in the staging root.
    fn real_parents(&self, rel: &Path) -> bool {
        let mut dir = self.root.to_path_buf();
        rel.parent()
            .into_iter()
            .flat_map(Path::components)
            .all(|part| {
                dir.push(part);
                fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir())
            })
    }

    fn too_big(&self, name: &[u8]) -> Error {
        let reason = format!(
            "unpacked size exceeds the limit of {} bytes",
            self.limits.max_total_bytes
        );
        self.refuse(name, reason)
    }
}

/// Whether a relative symlink at `link` (a member path) pointing to `target` resolves inside the archive.
///
/// The target must be leading `..`s then plain names: a `..` after a name could climb out through another
/// symlink (`l -> .` then `m -> l/..`), so it is refused even when it would look inside on paper.
fn symlink_stays_inside(link: &Path, target: &Path) -> bool {
    let depth = link.components().count() - 1;
    let mut ups = 0;
    let mut seen_name = false;
    for component in target.components() {
        match component {
            Component::ParentDir if !seen_name => ups += 1,
            Component::Normal(_) => seen_name = true,
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    ups <= depth && !target.as_os_str().is_empty()
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o777))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn make_symlink(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks need a unix system",
    ))
}
