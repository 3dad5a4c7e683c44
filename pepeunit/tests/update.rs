//! Applying an update to a program directory: overlay on success, byte-for-byte unchanged on failure.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pepeunit::Error;
use pepeunit::update::archive::{ExtractLimits, extract};
use pepeunit::update::{RestartMode, UpdateOptions, restart_process, update_device_program};
use support::{Node, TempDir, snapshot, vector, vectors};

/// A program directory as a unit has it before an update: old program files, its log, and files the
/// update knows nothing about.
fn program_dir(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    let p = dir.path();
    fs::write(p.join("env.json"), b"{\"PU_COMMIT_VERSION\": \"old\"}").unwrap();
    fs::write(p.join("schema.json"), b"{\"input_base_topic\": {}}").unwrap();
    fs::write(p.join("main.py"), b"print('old version')\n").unwrap();
    fs::write(
        p.join("log.json"),
        b"{\"level\": \"Info\", \"text\": \"booted\"}\n",
    )
    .unwrap();
    fs::create_dir(p.join("user")).unwrap();
    fs::write(p.join("user/data.bin"), [0u8, 1, 2, 3]).unwrap();
    fs::write(p.join("firmware.bin"), b"\x7fELF").unwrap();
    fs::set_permissions(p.join("firmware.bin"), fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// The program tree the update vectors hold, unpacked from the plain tar (checked against the
/// manifest's hashes by tests/archive.rs).
fn reference_tree() -> BTreeMap<String, Node> {
    let tmp = TempDir::new("reference");
    extract(
        &vector("archives/update.tar"),
        tmp.path(),
        &ExtractLimits::default(),
    )
    .unwrap();
    snapshot(tmp.path())
}

#[test]
fn an_update_overlays_the_program_directory() {
    let dir = program_dir("apply");
    let before = snapshot(dir.path());
    let archive = vector("archives/update_wbits9_level9.tgz");
    let report = update_device_program(&archive, dir.path(), &UpdateOptions::default()).unwrap();
    let after = snapshot(dir.path());

    // Everything the archive holds is there, exactly.
    let reference = reference_tree();
    for (rel, node) in &reference {
        assert_eq!(after.get(rel), Some(node), "{rel}");
    }
    // Everything else is as it was, and nothing hidden is left behind.
    for (rel, node) in &after {
        if !reference.contains_key(rel) {
            assert_eq!(before.get(rel), Some(node), "{rel} changed or appeared");
        }
    }
    for rel in ["log.json", "user/data.bin", "firmware.bin"] {
        assert_eq!(after.get(rel), before.get(rel), "{rel}");
    }

    let files: Vec<&String> = reference
        .iter()
        .filter(|(_, node)| !matches!(node, Node::Dir { .. }))
        .map(|(rel, _)| rel)
        .collect();
    let replaced: Vec<PathBuf> = files
        .iter()
        .filter(|rel| before.contains_key(**rel))
        .map(PathBuf::from)
        .collect();
    let added: Vec<PathBuf> = files
        .iter()
        .filter(|rel| !before.contains_key(**rel))
        .map(PathBuf::from)
        .collect();
    assert_eq!(report.replaced, replaced);
    assert_eq!(report.added, added);
    assert!(report.created_dirs.contains(&PathBuf::from("empty_dir")));
    assert!(report.created_dirs.contains(&PathBuf::from("deep/a/b/c")));
}

#[test]
fn an_update_applies_twice() {
    let dir = program_dir("twice");
    let archive = vector("archives/update.zip");
    update_device_program(&archive, dir.path(), &UpdateOptions::default()).unwrap();
    let first = snapshot(dir.path());
    let report = update_device_program(&archive, dir.path(), &UpdateOptions::default()).unwrap();
    assert_eq!(snapshot(dir.path()), first);
    assert!(report.added.is_empty() && report.created_dirs.is_empty());
    assert_eq!(
        report.replaced.len(),
        reference_tree()
            .values()
            .filter(|n| matches!(n, Node::File { .. }))
            .count()
    );
}

/// Applies `archive` with `options`, expects an error, and checks the directory did not change at all.
fn assert_refused_unchanged(dir: &TempDir, archive: &Path, options: &UpdateOptions) -> Error {
    let before = snapshot(dir.path());
    let err = update_device_program(archive, dir.path(), options).unwrap_err();
    assert_eq!(
        snapshot(dir.path()),
        before,
        "{} changed the directory: {err}",
        archive.display()
    );
    err
}

#[test]
fn a_refused_archive_leaves_the_directory_byte_for_byte_unchanged() {
    let dir = program_dir("refused");
    let small_cap = UpdateOptions {
        limits: ExtractLimits {
            max_total_bytes: 64 * 1024,
            ..ExtractLimits::default()
        },
        ..UpdateOptions::default()
    };
    let mut archives = vec![
        vector("archives/truncated_wbits9.tgz"),
        vector("archives/not_an_archive.tgz"),
    ];
    archives.extend(
        fs::read_dir(vectors().join("archives/evil"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    for archive in archives {
        let err = assert_refused_unchanged(&dir, &archive, &small_cap);
        assert!(
            matches!(err, Error::Archive { .. }),
            "{}: {err}",
            archive.display()
        );
    }
    let bomb = vector("archives/evil/bomb_512MiB.tgz");
    let err = assert_refused_unchanged(&dir, &bomb, &small_cap);
    assert!(
        err.to_string().contains("exceeds the limit of 65536 bytes"),
        "{err}"
    );
}

#[test]
fn a_failure_in_the_middle_of_the_swap_is_rolled_back() {
    // `main.py` comes after bin/, data/, deep/, env.json and lib/ in path order: those are swapped
    // (env.json backed up and replaced) before the rename onto a non-empty directory fails.
    let dir = program_dir("swap-file");
    fs::remove_file(dir.path().join("main.py")).unwrap();
    fs::create_dir(dir.path().join("main.py")).unwrap();
    fs::write(dir.path().join("main.py/keep.txt"), b"user data").unwrap();
    let archive = vector("archives/update_wbits9_level9.tgz");
    let err = assert_refused_unchanged(&dir, &archive, &UpdateOptions::default());
    let text = err.to_string();
    assert!(matches!(err, Error::Update(_)), "{text}");
    assert!(
        text.contains("main.py") && text.contains("rolled back"),
        "{text}"
    );

    // `deep` is a file where the update has a directory: bin/ and data/ were created and filled first.
    let dir = program_dir("swap-dir");
    fs::write(dir.path().join("deep"), b"not a directory").unwrap();
    let err = assert_refused_unchanged(&dir, &archive, &UpdateOptions::default());
    let text = err.to_string();
    assert!(matches!(err, Error::Update(_)), "{text}");
    assert!(
        text.contains("deep") && text.contains("rolled back"),
        "{text}"
    );
}

#[test]
fn restart_modes_without_a_process_change_return() {
    assert_eq!(RestartMode::default(), RestartMode::ExecInPlace);
    restart_process(RestartMode::ReloadOnly).unwrap();
    restart_process(RestartMode::None).unwrap();
}
