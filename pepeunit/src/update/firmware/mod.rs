//! The compiled-unit pieces of an update that need no network: checking that a downloaded binary is a
//! complete executable of this platform, swapping it in for the running one with a backup, and the
//! start-up guard (`guard.rs`, [`restart_guarded`]) that puts the backup back when the new binary does not stay up.
//!
//! A Rust unit *is* a compiled unit: its update brings a new binary (PROTOCOL §5). Downloading it is
//! the REST client's job (`download_firmware`); what happens to the file afterwards is here.

pub(crate) mod guard;

pub use guard::restart_guarded;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files;

/// The ELF `e_machine` of the architecture this library was built for, when known.
const ELF_MACHINE: Option<u16> = if cfg!(target_arch = "x86_64") {
    Some(62)
} else if cfg!(target_arch = "aarch64") {
    Some(183)
} else if cfg!(target_arch = "arm") {
    Some(40)
} else if cfg!(target_arch = "x86") {
    Some(3)
} else if cfg!(target_arch = "riscv64") || cfg!(target_arch = "riscv32") {
    Some(243)
} else if cfg!(target_arch = "mips") || cfg!(target_arch = "mips64") {
    Some(8)
} else if cfg!(target_arch = "powerpc64") {
    Some(21)
} else if cfg!(target_arch = "powerpc") {
    Some(20)
} else if cfg!(target_arch = "s390x") {
    Some(22)
} else if cfg!(target_arch = "loongarch64") {
    Some(258)
} else {
    None
};

/// A running executable replaced by an update, and what a rollback puts back with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacedExecutable {
    /// The executable's path: the new binary now.
    pub path: PathBuf,
    /// The previous binary.
    pub backup: PathBuf,
    /// Files the update replaces along with the binary (env.json, schema.json), each with a copy of
    /// its version from before the update: `(file, copy)`. A rollback puts them back too, so the old
    /// binary runs on its own settings and reports its own version (the backend then sees no success).
    pub files: Vec<(PathBuf, PathBuf)>,
}

impl ReplacedExecutable {
    /// `exe` with its backup at the usual place, `.<name>.backup` beside it.
    pub fn beside(exe: &Path) -> ReplacedExecutable {
        ReplacedExecutable {
            path: exe.to_path_buf(),
            backup: hidden_sibling(exe, "backup"),
            files: Vec::new(),
        }
    }

    /// Keeps a copy of `file` (`.<name>.before-update` beside it) for [`ReplacedExecutable::restore`].
    pub fn keep_copy(&mut self, file: &Path) -> Result<()> {
        let copy = hidden_sibling(file, "before-update");
        let bytes = fs::read(file).map_err(|e| Error::io(file, e))?;
        files::write_atomic(&copy, &bytes)?;
        self.files.push((file.to_path_buf(), copy));
        Ok(())
    }

    /// Puts the previous binary and the kept files back, one rename each (the binary first).
    pub fn restore(&self) -> Result<()> {
        restore_backup(&self.path, &self.backup)?;
        self.files
            .iter()
            .try_for_each(|(file, copy)| restore_backup(file, copy))
    }
}

/// `.<name>.<suffix>` in the directory of `exe`.
pub(crate) fn hidden_sibling(exe: &Path, suffix: &str) -> PathBuf {
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    files::parent_dir(exe).join(format!(".{name}.{suffix}"))
}

/// Checks that `path` is a non-empty executable this machine can run: on Linux and Android a complete
/// ELF executable (or PIE) of this word size, byte order and architecture — its program and section
/// header tables and every segment lie within the file; elsewhere only non-empty. A truncated
/// download, an HTML error page or a binary for another board is refused, naming why.
pub fn check_executable(path: &Path) -> Result<()> {
    let refuse = |reason: &str| Error::Update(format!("{}: {reason}", path.display()));
    let len = fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(refuse("the new executable is empty"));
    }
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return Ok(());
    }
    let elf = Elf::read(path, len).map_err(|e| Error::io(path, e))?;
    let header = &elf.header;
    if !header.starts_with(b"\x7fELF") {
        return Err(refuse("not an ELF executable"));
    }
    if header.len() < ELF_HEADER_LEN {
        return Err(refuse("too short to be an executable"));
    }
    if header[4] != if WIDE { 2 } else { 1 } {
        return Err(refuse("an ELF of another word size"));
    }
    if header[5] != if LITTLE { 1 } else { 2 } {
        return Err(refuse("an ELF of another byte order"));
    }
    // ET_EXEC or ET_DYN (a position-independent executable).
    if !matches!(elf.half(16), 2 | 3) {
        return Err(refuse("an ELF that is not an executable"));
    }
    if let Some(machine) = ELF_MACHINE.filter(|m| elf.half(18) != *m) {
        return Err(refuse(&format!(
            "an ELF for machine {}, this one is {machine}",
            elf.half(18)
        )));
    }
    elf.check_complete().map_err(|what| {
        refuse(&format!(
            "truncated: its {what} ends past the end of the file"
        ))
    })
}

/// Whether this platform's ELF files are 64-bit and little-endian.
const WIDE: bool = cfg!(target_pointer_width = "64");
const LITTLE: bool = cfg!(target_endian = "little");
/// The ELF header's size for this word size.
const ELF_HEADER_LEN: usize = if WIDE { 64 } else { 52 };

/// Largest program header table read (real ones hold a few dozen 56-byte entries).
const MAX_PROGRAM_HEADERS: usize = 64 * 1024;

/// The start of an ELF file, read in this platform's layout.
struct Elf {
    file: File,
    len: u64,
    header: Vec<u8>,
}

impl Elf {
    fn read(path: &Path, len: u64) -> io::Result<Elf> {
        let mut file = File::open(path)?;
        let mut header = Vec::with_capacity(ELF_HEADER_LEN);
        (&mut file)
            .take(ELF_HEADER_LEN as u64)
            .read_to_end(&mut header)?;
        Ok(Elf { file, len, header })
    }

    fn half(&self, at: usize) -> u16 {
        let bytes = [self.header[at], self.header[at + 1]];
        if LITTLE {
            u16::from_le_bytes(bytes)
        } else {
            u16::from_be_bytes(bytes)
        }
    }

    /// An address-sized field (`Elf64_Off` or `Elf32_Off`) of `bytes` at `at`.
    fn word(bytes: &[u8], at: usize) -> u64 {
        let width = if WIDE { 8 } else { 4 };
        let mut raw = [0u8; 8];
        let field = &bytes[at..at + width];
        if LITTLE {
            raw[..width].copy_from_slice(field);
            u64::from_le_bytes(raw)
        } else {
            raw[8 - width..].copy_from_slice(field);
            u64::from_be_bytes(raw)
        }
    }

    /// Refuses a file cut short: the program header table, the section header table and every
    /// segment's file range must lie within the file. Gives the name of the part that does not.
    fn check_complete(mut self) -> std::result::Result<(), &'static str> {
        let (phoff, shoff) = if WIDE { (32, 40) } else { (28, 32) };
        let (phentsize, phnum, shentsize, shnum) = if WIDE {
            (54, 56, 58, 60)
        } else {
            (42, 44, 46, 48)
        };
        let table_end = |off: usize, entsize: usize, num: usize| {
            let count = u64::from(self.half(entsize)) * u64::from(self.half(num));
            Elf::word(&self.header, off).saturating_add(count)
        };
        if table_end(shoff, shentsize, shnum) > self.len {
            return Err("section header table");
        }
        if table_end(phoff, phentsize, phnum) > self.len {
            return Err("program header table");
        }
        let (start, entry) = (
            Elf::word(&self.header, phoff),
            usize::from(self.half(phentsize)),
        );
        let size = entry * usize::from(self.half(phnum));
        if size > MAX_PROGRAM_HEADERS {
            return Err("program header table");
        }
        let mut table = vec![0u8; size];
        let read = io::Seek::seek(&mut self.file, io::SeekFrom::Start(start))
            .and_then(|_| self.file.read_exact(&mut table));
        if read.is_err() {
            return Err("program header table");
        }
        // p_offset and p_filesz: after p_type (and p_flags on 64-bit).
        let (offset, filesz) = if WIDE { (8, 32) } else { (4, 16) };
        let too_long = table.chunks_exact(entry.max(1)).any(|ph| {
            ph.len() >= filesz + if WIDE { 8 } else { 4 }
                && Elf::word(ph, offset).saturating_add(Elf::word(ph, filesz)) > self.len
        });
        if too_long {
            return Err("last segment");
        }
        Ok(())
    }
}

/// Gives `path` the permission bits of an executable (`rwxr-xr-x`).
pub fn make_executable(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(path, e))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Replaces the executable `exe` with `new` (same directory, so one rename), keeping the old one at
/// `backup` (replacing an older backup).
///
/// `exe` never goes missing: the old file is first hard-linked (or, where links are not possible,
/// copied) to `backup`, then `new` is renamed over `exe` — one atomic step; a running process keeps
/// running its old inode. On failure `exe` is as it was. [`restore_backup`] undoes it.
pub fn replace_exe(exe: &Path, new: &Path, backup: &Path) -> Result<()> {
    check_executable(new)?;
    match fs::remove_file(backup) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(backup, e)),
        _ => {}
    }
    if fs::hard_link(exe, backup).is_err() {
        fs::copy(exe, backup).map_err(|e| Error::io(backup, e))?;
    }
    File::open(new)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(new, e))?;
    fs::rename(new, exe).map_err(|e| Error::io(exe, e))?;
    files::sync_parent(exe)
}

/// Puts `backup` back in place of `exe` (one rename), undoing [`replace_exe`]; also used for any file
/// kept beside its live version.
pub fn restore_backup(exe: &Path, backup: &Path) -> Result<()> {
    fs::rename(backup, exe).map_err(|e| Error::io(exe, e))?;
    files::sync_parent(exe)
}
