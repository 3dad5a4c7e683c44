//! Update archives as the backend serves them (PROTOCOL §8): a Python-`tarfile`-like tar with `./` names,
//! that tar compressed like `zlib.compressobj(level, wbits)`, and a zip like `shutil.make_archive`.
//!
//! Known difference: the deflate data always comes from miniz_oxide with a 32 KiB window; for `wbits` < 15
//! the zlib header declares the smaller window Python would use, so a strict small-window inflater could
//! reject a far back-reference. Every 32 KiB inflater (which §8 asks units to use) reads it.

use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::Compression;
use flate2::GzBuilder;
use flate2::write::{DeflateEncoder, ZlibEncoder};

use crate::error::{Error, Result};

/// One entry of a program tree: a directory or a file, path relative to the program root with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A directory (empty ones are kept).
    Dir { path: String, mode: u32 },
    /// A regular file.
    File {
        path: String,
        mode: u32,
        bytes: Vec<u8>,
    },
}

impl Entry {
    fn path(&self) -> &str {
        match self {
            Entry::Dir { path, .. } | Entry::File { path, .. } => path,
        }
    }
}

/// A program's files, sorted by path, parent directories listed before their contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tree(Vec<Entry>);

impl Tree {
    /// Snapshots a directory (files and directories; symlinks and special files are skipped).
    pub(crate) fn from_dir(root: &Path) -> Result<Tree> {
        let mut entries = Vec::new();
        walk(root, "", &mut entries)?;
        Ok(Tree::sorted(entries))
    }

    /// A tree of the given files (mode 0644), with their parent directories (mode 0755).
    pub(crate) fn from_files(files: &[(String, Vec<u8>)]) -> Tree {
        let mut entries = Vec::new();
        for (path, bytes) in files {
            let path = path.trim_start_matches("./").trim_start_matches('/');
            let mut dir = String::new();
            for part in path
                .split('/')
                .collect::<Vec<_>>()
                .split_last()
                .map_or(&[][..], |p| p.1)
            {
                dir = if dir.is_empty() {
                    part.to_string()
                } else {
                    format!("{dir}/{part}")
                };
                entries.push(Entry::Dir {
                    path: dir.clone(),
                    mode: 0o755,
                });
            }
            entries.push(Entry::File {
                path: path.to_string(),
                mode: 0o644,
                bytes: bytes.clone(),
            });
        }
        Tree::sorted(entries)
    }

    /// This tree with `name` at the root replaced by (or added as) a 0644 file holding `bytes`.
    pub(crate) fn with_file(&self, name: &str, bytes: Vec<u8>) -> Tree {
        let mut entries: Vec<Entry> = self
            .0
            .iter()
            .filter(|e| e.path() != name)
            .cloned()
            .collect();
        entries.push(Entry::File {
            path: name.to_string(),
            mode: 0o644,
            bytes,
        });
        Tree::sorted(entries)
    }

    fn sorted(mut entries: Vec<Entry>) -> Tree {
        entries.sort_by(|a, b| a.path().cmp(b.path()));
        entries.dedup_by(|a, b| a.path() == b.path());
        Tree(entries)
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> Result<()> {
    let read = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for item in read {
        let item = item.map_err(|e| Error::io(dir, e))?;
        let path = item.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        let rel = format!("{prefix}{}", item.file_name().to_string_lossy());
        let mode = unix_mode(&meta);
        if meta.is_dir() {
            out.push(Entry::Dir {
                path: rel.clone(),
                mode,
            });
            walk(&path, &format!("{rel}/"), out)?;
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            out.push(Entry::File {
                path: rel,
                mode,
                bytes,
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn unix_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn unix_mode(meta: &std::fs::Metadata) -> u32 {
    if meta.is_dir() { 0o755 } else { 0o644 }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The tar of `tree` as `shutil.make_archive(.., "tar")` writes it: `./` first, then `./path` names.
pub(crate) fn tar(tree: &Tree) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mtime = now_secs();
    append_tar(
        &mut builder,
        ".",
        &[],
        0o700,
        tar::EntryType::Directory,
        mtime,
    )?;
    for entry in &tree.0 {
        match entry {
            Entry::Dir { path, mode } => append_tar(
                &mut builder,
                path,
                &[],
                *mode,
                tar::EntryType::Directory,
                mtime,
            )?,
            Entry::File { path, mode, bytes } => append_tar(
                &mut builder,
                path,
                bytes,
                *mode,
                tar::EntryType::Regular,
                mtime,
            )?,
        }
    }
    builder.into_inner()
}

fn append_tar(
    builder: &mut tar::Builder<Vec<u8>>,
    path: &str,
    bytes: &[u8],
    mode: u32,
    kind: tar::EntryType,
    mtime: u64,
) -> io::Result<()> {
    let mut name = if path == "." {
        String::from(".")
    } else {
        format!("./{path}")
    };
    if kind == tar::EntryType::Directory {
        name.push('/');
    }
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(bytes.len() as u64);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("root")?;
    header.set_groupname("root")?;
    if name.len() <= 100 {
        // Written raw: `set_path` would drop the leading `./` that Python's tarfile keeps.
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        builder.append(&header, bytes)
    } else {
        builder.append_data(&mut header, &name, bytes)
    }
}

/// The zip of `tree` as `shutil.make_archive(.., "zip")` writes it: deflated files, directory entries
/// ending in `/`, unix modes in the external attributes, names without `./`.
pub(crate) fn zip(tree: &Tree) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut count: u16 = 0;
    for entry in &tree.0 {
        let (name, mode, data, method, crc, size) = match entry {
            Entry::Dir { path, mode } => {
                (format!("{path}/"), 0o040000 | mode, Vec::new(), 0u16, 0, 0)
            }
            Entry::File { path, mode, bytes } => {
                let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
                enc.write_all(bytes)?;
                let data = enc.finish()?;
                (
                    path.clone(),
                    0o100000 | mode,
                    data,
                    8u16,
                    crc32fast::hash(bytes),
                    bytes.len(),
                )
            }
        };
        let (size, csize) = (u32_of(size)?, u32_of(data.len())?);
        let offset = u32_of(out.len())?;
        let name_len = u16::try_from(name.len()).map_err(|_| too_big("zip entry name"))?;
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]); // DOS time 00:00:00, date 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&csize.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        // Central directory record.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&(3u16 << 8 | 20).to_le_bytes()); // made by: unix, 2.0
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0x21, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&csize.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk number, internal attributes
        let dos_dir = if matches!(entry, Entry::Dir { .. }) {
            0x10
        } else {
            0
        };
        central.extend_from_slice(&((mode << 16) | dos_dir).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
        count = count
            .checked_add(1)
            .ok_or_else(|| too_big("zip entry count"))?;
    }
    let central_offset = u32_of(out.len())?;
    let central_size = u32_of(central.len())?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    Ok(out)
}

fn u32_of(n: usize) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| too_big("zip (no zip64)"))
}

fn too_big(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: too large"))
}

/// Whether the backend accepts `wbits` (`-15..=-9`, `9..=15`, `25..=31`).
pub(crate) fn valid_wbits(wbits: i32) -> bool {
    matches!(wbits, -15..=-9 | 9..=15 | 25..=31)
}

/// Whether the backend accepts `level` (`-1..=9`).
pub(crate) fn valid_level(level: i32) -> bool {
    (-1..=9).contains(&level)
}

/// `data` compressed like Python's `zlib.compressobj(level=level, wbits=wbits)`; both must be valid.
pub(crate) fn compress(data: &[u8], wbits: i32, level: i32) -> io::Result<Vec<u8>> {
    let level_u = u32::try_from(level).unwrap_or(6); // -1 is zlib's default, 6
    let compression = Compression::new(level_u);
    match wbits {
        -15..=-9 => {
            let mut enc = DeflateEncoder::new(Vec::new(), compression);
            enc.write_all(data)?;
            enc.finish()
        }
        9..=15 => {
            let mut enc = ZlibEncoder::new(Vec::new(), compression);
            enc.write_all(data)?;
            let mut out = enc.finish()?;
            let header = zlib_header(wbits, level_u);
            out[..2].copy_from_slice(&header);
            Ok(out)
        }
        _ => {
            let mut enc = GzBuilder::new()
                .operating_system(3)
                .write(Vec::new(), compression);
            enc.write_all(data)?;
            enc.finish()
        }
    }
}

/// The two zlib header bytes zlib writes for a window of `2^wbits` and `level` (RFC 1950, deflate.c).
fn zlib_header(wbits: i32, level: u32) -> [u8; 2] {
    let cinfo = u16::try_from(wbits - 8).unwrap_or(7); // ok: wbits is 9..=15 here
    let flevel: u16 = match level {
        0 | 1 => 0,
        2..=5 => 1,
        6 => 2,
        _ => 3,
    };
    let mut header = ((cinfo << 4 | 8) << 8) | (flevel << 6);
    header += 31 - (header % 31);
    header.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zlib_header_matches_python_for_default_tgz() {
        assert_eq!(zlib_header(9, 9), [0x18, 0xD3]);
        assert_eq!(zlib_header(15, 6), [0x78, 0x9C]);
        assert_eq!(zlib_header(15, 1), [0x78, 0x01]);
        assert_eq!(zlib_header(15, 9), [0x78, 0xDA]);
    }

    #[test]
    fn files_get_their_parent_directories() {
        let tree = Tree::from_files(&[("src/a/main.py".into(), b"x".to_vec())]);
        let paths: Vec<&str> = tree.0.iter().map(Entry::path).collect();
        assert_eq!(paths, ["src", "src/a", "src/a/main.py"]);
    }
}
