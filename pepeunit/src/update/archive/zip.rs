//! A small zip reader: enough for update archives, nothing more.
//!
//! The central directory (found through the End Of Central Directory record) is the authority for names,
//! sizes, CRCs and modes; each member's data is then read from its local header, stored or deflated,
//! and checked against its CRC-32 and size. Encrypted members, zip64 and other methods are refused.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use flate2::bufread::DeflateDecoder;

use super::staging::{Kind, Staging};
use crate::error::Result;

const EOCD_SIGNATURE: &[u8] = b"PK\x05\x06";
const ZIP64_LOCATOR_SIGNATURE: &[u8] = b"PK\x06\x07";
const CENTRAL_SIGNATURE: &[u8] = b"PK\x01\x02";
const LOCAL_SIGNATURE: &[u8] = b"PK\x03\x04";
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_LEN: usize = 20;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
/// The EOCD record may be followed by a comment of up to this many bytes.
const MAX_COMMENT: usize = 0xffff;
/// A 32-bit size or offset of this value means "see the zip64 extra field".
const ZIP64_MARK: u32 = 0xffff_ffff;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;
const FLAG_ENCRYPTED: u16 = 1;
const UNIX_TYPE_MASK: u32 = 0o170_000;
const UNIX_DIR: u32 = 0o040_000;
const UNIX_FILE: u32 = 0o100_000;

/// A member as the central directory describes it.
struct Member {
    name: Vec<u8>,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u32,
    size: u32,
    /// Unix mode (type and permission bits) when the archiver recorded one.
    unix_mode: Option<u32>,
    /// The disk the member's local header is on: only 0 exists in a single-file archive.
    disk_start: u16,
    local_offset: u32,
}

/// Unpacks every member of the zip `file` into `staging`, one at a time (memory does not grow with
/// the member count).
pub(super) fn extract(file: &File, staging: &mut Staging) -> Result<()> {
    let (count, mut offset) = find_central_directory(file, staging)?;
    for _ in 0..count {
        let (member, next) = read_central_header(file, offset, staging)?;
        extract_member(file, &member, staging)?;
        offset = next;
    }
    Ok(())
}

/// Reads the EOCD record at the end of `file`: the member count and the central directory's offset.
fn find_central_directory(mut file: &File, staging: &Staging) -> Result<(u16, u64)> {
    let read_error = |e: io::Error| staging.corrupt(None, &e);
    let len = file.seek(SeekFrom::End(0)).map_err(read_error)?;
    let tail_len = len.min((ZIP64_LOCATOR_LEN + EOCD_LEN + MAX_COMMENT) as u64);
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(len - tail_len))
        .and_then(|_| file.take(tail_len).read_to_end(&mut tail))
        .map_err(read_error)?;
    let at = (0..=tail.len().saturating_sub(EOCD_LEN))
        .rev()
        .find(|&i| tail[i..].starts_with(EOCD_SIGNATURE) && tail.len() - i >= EOCD_LEN)
        .ok_or_else(|| staging.corrupt(None, &"no zip end of central directory record"))?;
    let eocd = &tail[at..at + EOCD_LEN];
    let zip64 = at >= ZIP64_LOCATOR_LEN
        && tail[at - ZIP64_LOCATOR_LEN..].starts_with(ZIP64_LOCATOR_SIGNATURE);
    let (count, offset) = (u16_at(eocd, 10), u32_at(eocd, 16));
    if zip64 || count == 0xffff || offset == ZIP64_MARK {
        return Err(staging.error(None, "zip64 archives are not supported"));
    }
    // This disk, the directory's disk, and the members on this disk vs in total.
    if u16_at(eocd, 4) != 0 || u16_at(eocd, 6) != 0 || u16_at(eocd, 8) != count {
        return Err(staging.error(None, "multi-disk zip archives are not supported"));
    }
    Ok((count, offset.into()))
}

/// Reads the central directory header at `offset`: the member and where the next header starts.
fn read_central_header(mut file: &File, offset: u64, staging: &Staging) -> Result<(Member, u64)> {
    let read_error = |e: io::Error| staging.corrupt(None, &e);
    let mut header = [0u8; CENTRAL_LEN];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut header))
        .map_err(read_error)?;
    if !header.starts_with(CENTRAL_SIGNATURE) {
        return Err(staging.corrupt(None, &"bad central directory header signature"));
    }
    let name_len = u16_at(&header, 28);
    let mut name = vec![0u8; name_len.into()];
    file.read_exact(&mut name).map_err(read_error)?;
    let next = offset
        + CENTRAL_LEN as u64
        + u64::from(name_len)
        + u64::from(u16_at(&header, 30))
        + u64::from(u16_at(&header, 32));
    let external = u32_at(&header, 38);
    let member = Member {
        flags: u16_at(&header, 8),
        method: u16_at(&header, 10),
        crc: u32_at(&header, 16),
        compressed: u32_at(&header, 20),
        size: u32_at(&header, 24),
        unix_mode: Some(external >> 16).filter(|&mode| mode != 0),
        disk_start: u16_at(&header, 34),
        local_offset: u32_at(&header, 42),
        name,
    };
    Ok((member, next))
}

/// Checks one member and unpacks it through `staging`.
fn extract_member(mut file: &File, member: &Member, staging: &mut Staging) -> Result<()> {
    let name = &member.name;
    if member.flags & FLAG_ENCRYPTED != 0 {
        return Err(staging.refuse(name, "encrypted zip entries are not supported"));
    }
    if [member.compressed, member.size, member.local_offset].contains(&ZIP64_MARK) {
        return Err(staging.refuse(name, "zip64 entries are not supported"));
    }
    if member.disk_start != 0 {
        let reason = format!(
            "multi-disk zip archives are not supported (entry on disk {})",
            member.disk_start
        );
        return Err(staging.refuse(name, reason));
    }
    let file_type = member.unix_mode.map(|mode| mode & UNIX_TYPE_MASK);
    let is_dir = name.ends_with(b"/") || file_type == Some(UNIX_DIR);
    if !matches!(file_type, None | Some(0) | Some(UNIX_DIR) | Some(UNIX_FILE)) {
        let reason = format!(
            "unsupported entry type (unix mode {:o})",
            member.unix_mode.unwrap_or(0)
        );
        return Err(staging.refuse(name, reason));
    }
    if is_dir {
        return staging.add(name, Kind::Dir, member.unix_mode);
    }
    if member.method != METHOD_STORED && member.method != METHOD_DEFLATE {
        let reason = format!("compression method {} is not supported", member.method);
        return Err(staging.refuse(name, reason));
    }
    let mut local = [0u8; LOCAL_LEN];
    file.seek(SeekFrom::Start(member.local_offset.into()))
        .and_then(|_| file.read_exact(&mut local))
        .map_err(|e| staging.corrupt(Some(name), &e))?;
    if !local.starts_with(LOCAL_SIGNATURE) {
        return Err(staging.corrupt(Some(name), &"bad local header signature"));
    }
    let skip = i64::from(u16_at(&local, 26)) + i64::from(u16_at(&local, 28));
    file.seek(SeekFrom::Current(skip))
        .map_err(|e| staging.corrupt(Some(name), &e))?;
    let raw = BufReader::new(file.take(member.compressed.into()));
    let data: Box<dyn Read> = match member.method {
        METHOD_DEFLATE => Box::new(DeflateDecoder::new(raw)),
        _ => Box::new(raw),
    };
    let mut data = Crc32Reader {
        inner: data,
        hasher: crc32fast::Hasher::new(),
    };
    let kind = Kind::File {
        size: member.size.into(),
        data: &mut data,
    };
    staging.add(name, kind, member.unix_mode)?;
    if data.hasher.finalize() != member.crc {
        return Err(staging.refuse(name, "CRC-32 mismatch: corrupt archive"));
    }
    Ok(())
}

/// Passes data through while computing its CRC-32.
struct Crc32Reader<R> {
    inner: R,
    hasher: crc32fast::Hasher,
}

impl<R: Read> Read for Crc32Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
