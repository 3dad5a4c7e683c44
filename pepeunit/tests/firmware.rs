//! Compiled-unit binaries on real files: the executable check, the atomic swap with a backup, and
//! the restore.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use pepeunit::update::firmware::{check_executable, make_executable, replace_exe, restore_backup};
use support::TempDir;

/// This test binary: a real executable of this platform.
fn this_binary() -> Vec<u8> {
    fs::read(std::env::current_exe().unwrap()).unwrap()
}

#[test]
fn only_complete_executables_of_this_platform_pass() {
    let dir = TempDir::new("fw-check");
    let binary = this_binary();
    let cases: [(&str, Vec<u8>, Option<&str>); 8] = [
        ("real", binary.clone(), None),
        ("empty", Vec::new(), Some("empty")),
        ("short", binary[..19].to_vec(), Some("too short")),
        // A download cut short whose Content-Length was honest about the cut file.
        (
            "truncated",
            binary[..binary.len() / 2].to_vec(),
            Some("truncated"),
        ),
        (
            "one-byte-short",
            binary[..binary.len() - 1].to_vec(),
            Some("truncated"),
        ),
        (
            "script",
            b"#!/bin/sh\necho hi\n".to_vec(),
            Some("not an ELF"),
        ),
        (
            "other-arch",
            {
                let mut other = binary.clone();
                other[18] ^= 0x40;
                other
            },
            Some("an ELF for machine"),
        ),
        (
            "object",
            {
                let mut object = binary.clone();
                object[16] = 1; // ET_REL: a relocatable object, not an executable
                object
            },
            Some("not an executable"),
        ),
    ];
    for (name, bytes, refused) in cases {
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        match (check_executable(&path), refused) {
            (Ok(()), None) => {}
            (Err(e), Some(reason)) => assert!(e.to_string().contains(reason), "{name}: {e}"),
            (result, _) => panic!("{name}: {result:?}"),
        }
    }
}

#[test]
fn the_swap_keeps_a_backup_and_the_new_binary_runs() {
    let dir = TempDir::new("fw-swap");
    let exe = dir.path().join("unit");
    fs::write(&exe, b"#!/bin/sh\necho old\n").unwrap();
    make_executable(&exe).unwrap();
    let new = dir.path().join(".unit.new");
    fs::write(&new, this_binary()).unwrap();
    make_executable(&new).unwrap();
    let backup = dir.path().join(".unit.backup");
    fs::write(&backup, "an older backup").unwrap();

    replace_exe(&exe, &new, &backup).unwrap();
    assert_eq!(fs::read(&exe).unwrap(), this_binary());
    assert_eq!(fs::read(&backup).unwrap(), b"#!/bin/sh\necho old\n");
    assert!(!new.exists());
    assert_eq!(
        fs::metadata(&exe).unwrap().permissions().mode() & 0o777,
        0o755
    );
    // The new binary (this test harness) starts: it lists its tests and exits 0.
    let listed = Command::new(&exe).arg("--list").output().unwrap();
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("the_swap_keeps_a_backup"));

    restore_backup(&exe, &backup).unwrap();
    assert_eq!(fs::read(&exe).unwrap(), b"#!/bin/sh\necho old\n");
    assert!(!backup.exists());
}

#[test]
fn a_bad_new_binary_is_refused_and_the_old_one_stays() {
    let dir = TempDir::new("fw-refuse");
    let exe = dir.path().join("unit");
    fs::write(&exe, this_binary()).unwrap();
    let new = dir.path().join(".unit.new");
    fs::write(&new, b"<html>404</html>").unwrap();
    let backup = dir.path().join(".unit.backup");
    let error = replace_exe(&exe, &new, &backup).unwrap_err();
    assert!(error.to_string().contains("not an ELF"), "{error}");
    assert_eq!(fs::read(&exe).unwrap(), this_binary());
    assert!(!backup.exists());
}
