//! The compiled-unit pieces of an update that need no network: checking that a downloaded binary is a
//! complete executable of this platform, and swapping it in for the running one with a backup.
//!
//! A Rust unit *is* a compiled unit: its update brings a new binary (PROTOCOL §5). Downloading it is
//! the REST client's job (`download_firmware`); what happens to the file afterwards is here.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

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

/// Checks that `path` is a non-empty executable this machine can run: on Linux and Android an ELF
/// executable (or PIE) of this word size, byte order and architecture; elsewhere only non-empty.
/// A truncated download, an HTML error page or a binary for another board is refused, naming why.
pub fn check_executable(path: &Path) -> Result<()> {
    let refuse = |reason: &str| Error::Update(format!("{}: {reason}", path.display()));
    let len = fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(refuse("the new executable is empty"));
    }
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return Ok(());
    }
    let mut header = Vec::with_capacity(20);
    File::open(path)
        .and_then(|f| f.take(20).read_to_end(&mut header))
        .map_err(|e| Error::io(path, e))?;
    if !header.starts_with(b"\x7fELF") {
        return Err(refuse("not an ELF executable"));
    }
    if header.len() < 20 {
        return Err(refuse("too short to be an executable"));
    }
    let class = if cfg!(target_pointer_width = "64") {
        2
    } else {
        1
    };
    if header[4] != class {
        return Err(refuse("an ELF of another word size"));
    }
    let little = cfg!(target_endian = "little");
    if header[5] != if little { 1 } else { 2 } {
        return Err(refuse("an ELF of another byte order"));
    }
    let half = |at: usize| {
        let bytes = [header[at], header[at + 1]];
        if little {
            u16::from_le_bytes(bytes)
        } else {
            u16::from_be_bytes(bytes)
        }
    };
    // ET_EXEC or ET_DYN (a position-independent executable).
    if !matches!(half(16), 2 | 3) {
        return Err(refuse("an ELF that is not an executable"));
    }
    match ELF_MACHINE {
        Some(machine) if half(18) != machine => Err(refuse(&format!(
            "an ELF for machine {}, this one is {machine}",
            half(18)
        ))),
        _ => Ok(()),
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

/// Puts `backup` back in place of `exe` (one rename), undoing [`replace_exe`].
pub fn restore_backup(exe: &Path, backup: &Path) -> Result<()> {
    fs::rename(backup, exe).map_err(|e| Error::io(exe, e))?;
    files::sync_parent(exe)
}
