//! Update archives (PROTOCOL §8): detect the format by content, then unpack safely into a staging directory.
//!
//! Pepeunit's `.tgz` is usually *not* gzip: it is a tar compressed with Python's `zlib.compressobj`, whose
//! `wbits` picks a zlib stream, raw deflate or gzip. Plain tar and zip are accepted too. Archives are
//! streamed entry by entry (never held in memory) and never trusted: see [`extract`] for what is refused.

mod staging;
mod zip;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::bufread::{DeflateDecoder, GzDecoder, ZlibDecoder};

use crate::error::{Error, Result};
use staging::{Kind, Staging};

/// How an update archive is packed, as found by [`detect_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// A tar in a zlib stream (`wbits` 9…15): what the backend sends by default.
    Zlib,
    /// A tar in a raw deflate stream (`wbits` −15…−9).
    RawDeflate,
    /// A tar in a gzip stream (`wbits` 25…31).
    Gzip,
    /// An uncompressed tar.
    Tar,
    /// A zip archive (stored or deflated members).
    Zip,
}

/// Caps that keep a hostile or broken archive from filling the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Most bytes all files together may unpack to. Checked before each file from its header, and no
    /// file is ever written past its header's size, so the bytes actually written stay under it.
    pub max_total_bytes: u64,
    /// Most entries (files, directories, links) the archive may hold.
    pub max_entries: usize,
}

impl Default for ExtractLimits {
    /// 256 MiB and 100 000 entries: far above a unit's program, far below a decompression bomb.
    fn default() -> Self {
        ExtractLimits {
            max_total_bytes: 256 * 1024 * 1024,
            max_entries: 100_000,
        }
    }
}

/// What [`extract`] unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractReport {
    /// The detected format.
    pub format: ArchiveFormat,
    /// Regular files written.
    pub files: u64,
    /// Directory entries (the archive's own `.` not counted).
    pub dirs: u64,
    /// Symbolic and hard links created.
    pub links: u64,
    /// Bytes written to files.
    pub bytes: u64,
}

/// Size of a tar block: headers, padding and the end-of-archive marker are made of them.
const TAR_BLOCK: usize = 512;
/// Most bytes accepted after a tar's end-of-archive marker (Python pads to a 10 KiB record).
const TAR_TRAILER_LIMIT: u64 = 1024 * 1024;

/// Finds how `path` is packed by looking at its content, never at its name.
///
/// A zip starts with `PK\x03\x04` and a plain tar has `ustar` at offset 257. A gzip (`1f 8b`) or zlib
/// (a valid CMF/FLG header: any window size, so `0x18 …` for wbits 9 as well as `0x78 …`) candidate is
/// confirmed by inflating its first block into a tar header; anything else is tried as raw deflate,
/// confirmed the same way. So a raw deflate stream whose first bytes happen to pass the zlib check is
/// still recognised.
pub fn detect_format(path: &Path) -> Result<ArchiveFormat> {
    let mut head = Vec::with_capacity(TAR_BLOCK);
    File::open(path)
        .and_then(|f| f.take(TAR_BLOCK as u64).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    if head.starts_with(b"PK\x03\x04") {
        return Ok(ArchiveFormat::Zip);
    }
    if is_tar_header(&head) {
        return Ok(ArchiveFormat::Tar);
    }
    let candidates = [
        (head.starts_with(&[0x1f, 0x8b]), ArchiveFormat::Gzip),
        (is_zlib_header(&head), ArchiveFormat::Zlib),
        (true, ArchiveFormat::RawDeflate),
    ];
    for (plausible, format) in candidates {
        if plausible && inflates_to_tar(path, format)? {
            return Ok(format);
        }
    }
    Err(Error::Archive {
        archive: path.to_path_buf(),
        entry: None,
        reason: "not a tar, zip, gzip, zlib or deflate archive".into(),
    })
}

/// Unpacks `archive` into `dest`, an existing empty directory, and says what it wrote.
///
/// Refused, with an error naming the entry: absolute paths, `..` components, entries inside a symlink,
/// symlinks pointing outside `dest` (resolved from the link's own directory), hard links to anything but
/// a file unpacked before, devices, fifos and other special entries, encrypted or zip64 zip members,
/// corrupt or truncated data (CRC-32, sizes, the tar end-of-archive marker, the zlib/gzip checksum) and
/// anything over `limits`. Only the permission bits of modes are applied. On error, `dest` may hold part
/// of the archive: it is a staging area the caller removes.
pub fn extract(archive: &Path, dest: &Path, limits: &ExtractLimits) -> Result<ExtractReport> {
    let format = detect_format(archive)?;
    let mut staging = Staging::new(archive, dest, limits)?;
    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    match format {
        ArchiveFormat::Zip => zip::extract(&file, &mut staging)?,
        _ => extract_tar(decompressed(format, BufReader::new(file)), &mut staging)?,
    }
    staging.finish(format)
}

/// Streams the tar entries of `reader` into `staging`, then checks the stream really ended.
fn extract_tar(reader: Box<dyn Read>, staging: &mut Staging) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| staging.corrupt(None, &e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| staging.corrupt(None, &e))?;
        let name = entry.path_bytes().into_owned();
        let mode = entry.header().mode().ok();
        let link = entry.link_name_bytes().map(|l| l.into_owned());
        let size = entry.size();
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File {
                size,
                data: &mut entry,
            },
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link.unwrap_or_default()),
            tar::EntryType::Link => Kind::Hardlink(link.unwrap_or_default()),
            // Metadata for the whole archive (Python writes none, other tools may): nothing to unpack.
            tar::EntryType::XGlobalHeader => {
                staging.skip(&name)?;
                continue;
            }
            other => {
                let reason =
                    format!("unsupported entry type {other:?} (only files, directories and links)");
                return Err(staging.refuse(&name, reason));
            }
        };
        staging.add(&name, kind, mode)?;
    }
    // The tar crate stops at the first zero block or at end of input; reading on tells a truncated
    // stream (no second zero block, an unfinished deflate stream, a bad checksum) from a complete one.
    let rest = io::copy(
        &mut archive.into_inner().take(TAR_TRAILER_LIMIT + 1),
        &mut io::sink(),
    )
    .map_err(|e| staging.corrupt(None, &e))?;
    if rest < TAR_BLOCK as u64 {
        return Err(staging.corrupt(None, &"the end-of-archive marker is missing"));
    }
    if rest > TAR_TRAILER_LIMIT {
        let reason =
            format!("more than {TAR_TRAILER_LIMIT} bytes follow the end-of-archive marker");
        return Err(staging.corrupt(None, &reason));
    }
    Ok(())
}

/// The tar stream inside `reader` for a tar-based `format` (zip is never read as a stream).
fn decompressed(format: ArchiveFormat, reader: BufReader<File>) -> Box<dyn Read> {
    match format {
        ArchiveFormat::Zlib => Box::new(ZlibDecoder::new(reader)),
        ArchiveFormat::RawDeflate => Box::new(DeflateDecoder::new(reader)),
        ArchiveFormat::Gzip => Box::new(GzDecoder::new(reader)),
        ArchiveFormat::Tar | ArchiveFormat::Zip => Box::new(reader),
    }
}

/// Whether the first block of `format` inflates to a tar header.
fn inflates_to_tar(path: &Path, format: ArchiveFormat) -> Result<bool> {
    let mut block = [0u8; TAR_BLOCK];
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let read = decompressed(format, BufReader::new(file)).read_exact(&mut block);
    Ok(read.is_ok() && is_tar_header(&block))
}

/// A POSIX (`ustar\0`) or GNU (`ustar `) tar header: the magic at offset 257.
fn is_tar_header(block: &[u8]) -> bool {
    block.get(257..262) == Some(b"ustar")
}

/// RFC 1950 header: deflate method, window ≤ 32 KiB, no preset dictionary, checksum divisible by 31.
fn is_zlib_header(head: &[u8]) -> bool {
    let [cmf, flg, ..] = *head else {
        return false;
    };
    cmf & 0x0f == 8
        && cmf >> 4 <= 7
        && flg & 0x20 == 0
        && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}
