//! Update archives: format detection by content, exact unpacking of every vector, refusal of the
//! broken and hostile ones.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use pepeunit::Error;
use pepeunit::update::archive::{ArchiveFormat, ExtractLimits, detect_format, extract};
use support::{Node, TempDir, snapshot, vector, vectors};

/// A fresh empty staging directory `stage` two levels below a temp dir, so `../..` stays observable.
fn staging_dir(tag: &str) -> (TempDir, PathBuf) {
    let tmp = TempDir::new(tag);
    let dest = tmp.path().join("outer/inner/stage");
    fs::create_dir_all(&dest).unwrap();
    (tmp, dest)
}

fn manifest() -> serde_json::Value {
    serde_json::from_slice(&fs::read(vector("archives/manifest.json")).unwrap()).unwrap()
}

/// The `update*` files of vectors/archives.
fn update_archives() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(vectors().join("archives"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("update")
        })
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected the whole family of update archives"
    );
    paths
}

/// The format an archive's file name promises: `update.tar`, `update.zip`, `update_wbits{W}_level{L}.tgz`.
fn expected_format(path: &Path) -> ArchiveFormat {
    let name = path.file_name().unwrap().to_str().unwrap();
    match name {
        "update.tar" => return ArchiveFormat::Tar,
        "update.zip" => return ArchiveFormat::Zip,
        _ => {}
    }
    let wbits: i32 = name
        .strip_prefix("update_wbits")
        .and_then(|rest| rest.split('_').next())
        .unwrap_or_else(|| panic!("unexpected vector name {name}"))
        .parse()
        .unwrap();
    match wbits {
        9..=15 => ArchiveFormat::Zlib,
        -15..=-9 => ArchiveFormat::RawDeflate,
        25..=31 => ArchiveFormat::Gzip,
        _ => panic!("unexpected wbits in {name}"),
    }
}

#[test]
fn detects_every_update_archive_by_content() {
    for path in update_archives() {
        assert_eq!(
            detect_format(&path).unwrap(),
            expected_format(&path),
            "{}",
            path.display()
        );
    }
}

#[test]
fn every_update_archive_unpacks_to_exactly_the_manifest() {
    let manifest = manifest();
    let files = manifest["files"].as_object().unwrap();
    let empty_dirs: Vec<&str> = manifest["empty_dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let mut expected_dirs: Vec<String> = empty_dirs.iter().map(|d| d.to_string()).collect();
    for path in files.keys() {
        let mut parent = Path::new(path).parent();
        while let Some(dir) = parent.filter(|p| !p.as_os_str().is_empty()) {
            expected_dirs.push(dir.to_str().unwrap().to_owned());
            parent = dir.parent();
        }
    }

    for path in update_archives() {
        let (_tmp, dest) = staging_dir("unpack");
        let report = extract(&path, &dest, &ExtractLimits::default()).unwrap();
        let name = path.display();
        assert_eq!(report.format, expected_format(&path), "{name}");
        assert_eq!(report.files as usize, files.len(), "{name}");
        let unpacked = snapshot(&dest);

        let mut total = 0;
        for (rel, spec) in files {
            let Some(Node::File { mode, bytes }) = unpacked.get(rel) else {
                panic!("{name}: {rel} is missing or not a file");
            };
            assert_eq!(
                bytes.len() as u64,
                spec["size"].as_u64().unwrap(),
                "{name}: {rel}"
            );
            assert_eq!(
                hex(&sha256(bytes)),
                spec["sha256"].as_str().unwrap(),
                "{name}: {rel}"
            );
            let want =
                u32::from_str_radix(spec["mode"].as_str().unwrap().trim_start_matches("0o"), 8);
            assert_eq!(*mode, want.unwrap(), "{name}: {rel}");
            total += bytes.len() as u64;
        }
        assert_eq!(report.bytes, total, "{name}");
        for dir in &expected_dirs {
            assert!(
                matches!(unpacked.get(dir), Some(Node::Dir { .. })),
                "{name}: {dir}"
            );
        }
        for dir in &empty_dirs {
            assert!(
                fs::read_dir(dest.join(dir)).unwrap().next().is_none(),
                "{name}: {dir}"
            );
        }
        let extra: Vec<&String> = unpacked
            .keys()
            .filter(|p| !files.contains_key(*p) && !expected_dirs.contains(p))
            .collect();
        assert!(extra.is_empty(), "{name}: unexpected {extra:?}");
    }
}

#[test]
fn refuses_broken_archives() {
    let not_an_archive = vector("archives/not_an_archive.tgz");
    let err = detect_format(&not_an_archive).unwrap_err();
    assert!(
        err.to_string()
            .contains("not a tar, zip, gzip, zlib or deflate archive"),
        "{err}"
    );
    for rel in [
        "archives/not_an_archive.tgz",
        "archives/truncated_wbits9.tgz",
    ] {
        let (_tmp, dest) = staging_dir("broken");
        let err = extract(&vector(rel), &dest, &ExtractLimits::default()).unwrap_err();
        assert!(matches!(err, Error::Archive { .. }), "{rel}: {err}");
    }
    let err = extract(
        &vector("archives/truncated_wbits9.tgz"),
        &staging_dir("truncated").1,
        &ExtractLimits::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

/// The first member of a zlib-compressed tar that the manifest does not list: the hostile one.
fn first_foreign_member(archive: &Path) -> (String, u64) {
    let manifest = manifest();
    let file = fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::ZlibDecoder::new(file));
    for entry in tar.entries().unwrap() {
        let entry = entry.unwrap();
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        if manifest["files"]
            .get(name.trim_start_matches("./"))
            .is_none()
        {
            return (name, entry.size());
        }
    }
    panic!("{} holds no foreign member", archive.display());
}

#[test]
fn refuses_every_evil_archive_naming_the_entry_and_writing_nothing_outside() {
    let cap = 1024 * 1024;
    let limits = ExtractLimits {
        max_total_bytes: cap,
        ..ExtractLimits::default()
    };
    let mut evil: Vec<PathBuf> = fs::read_dir(vectors().join("archives/evil"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    evil.sort();
    assert!(evil.len() >= 7);
    for path in evil {
        let name = path.display();
        let (tmp, dest) = staging_dir("evil");
        let (bad, size) = first_foreign_member(&path);
        let outside = dest.join(&bad);
        let existed = outside.exists();

        let err = extract(&path, &dest, &limits).unwrap_err();
        let Error::Archive {
            entry: Some(entry),
            reason,
            ..
        } = &err
        else {
            panic!("{name}: {err}");
        };
        assert_eq!(entry, &bad, "{name}: {err}");
        assert!(err.to_string().contains(&bad), "{name}: {err}");
        if size > cap {
            assert!(
                reason.contains(&format!("exceeds the limit of {cap} bytes")),
                "{name}: {err}"
            );
        }

        let unpacked = snapshot(tmp.path());
        let stray: Vec<&String> = unpacked
            .keys()
            .filter(|p| !["outer", "outer/inner", "outer/inner/stage"].contains(&p.as_str()))
            .filter(|p| !p.starts_with("outer/inner/stage/"))
            .collect();
        assert!(
            stray.is_empty(),
            "{name}: wrote {stray:?} outside the staging dir"
        );
        assert_eq!(
            outside.exists(),
            existed,
            "{name}: touched {}",
            outside.display()
        );
        let written: usize = snapshot(&dest)
            .values()
            .map(|n| match n {
                Node::File { bytes, .. } => bytes.len(),
                _ => 0,
            })
            .sum();
        assert!(written as u64 <= cap, "{name}: wrote {written} bytes");
    }
}

#[test]
fn the_bomb_is_refused_by_the_default_cap_too() {
    let (_tmp, dest) = staging_dir("bomb");
    let limits = ExtractLimits::default();
    let err = extract(&vector("archives/evil/bomb_512MiB.tgz"), &dest, &limits).unwrap_err();
    let limit = format!("exceeds the limit of {} bytes", limits.max_total_bytes);
    assert!(err.to_string().contains(&limit), "{err}");
}

#[test]
fn caps_the_number_of_entries() {
    let (_tmp, dest) = staging_dir("entries");
    let limits = ExtractLimits {
        max_entries: 3,
        ..ExtractLimits::default()
    };
    for rel in ["archives/update.tar", "archives/update.zip"] {
        fs::remove_dir_all(&dest).unwrap();
        fs::create_dir(&dest).unwrap();
        let err = extract(&vector(rel), &dest, &limits).unwrap_err();
        assert!(
            err.to_string().contains("limit of 3 entries"),
            "{rel}: {err}"
        );
    }
}

#[test]
fn staging_dir_must_exist_and_be_empty() {
    let (_tmp, dest) = staging_dir("nonempty");
    fs::write(dest.join("left-over"), b"x").unwrap();
    let archive = vector("archives/update.tar");
    assert!(extract(&archive, &dest, &ExtractLimits::default()).is_err());
    assert!(extract(&archive, &dest.join("missing"), &ExtractLimits::default()).is_err());
    assert_eq!(snapshot(&dest).len(), 1);
}

/// The bytes of update.tar as raw deflate stored blocks, the first of length 0x021d: its first two
/// bytes (`08 1d`) are a valid zlib header, though the stream is not zlib.
fn raw_deflate_looking_like_zlib() -> Vec<u8> {
    let tar = fs::read(vector("archives/update.tar")).unwrap();
    let (first, rest) = tar.split_at(0x021d);
    let mut out = Vec::new();
    for (header, block) in [(0x08u8, first), (0x01, rest)] {
        let len = block.len() as u16;
        out.push(header); // BFINAL in bit 0, BTYPE 00 (stored), the other bits are padding
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend(block);
    }
    out
}

#[test]
fn raw_deflate_passing_the_zlib_header_check_is_still_raw_deflate() {
    let bytes = raw_deflate_looking_like_zlib();
    let (cmf, flg) = (bytes[0], bytes[1]);
    assert!(cmf & 0x0f == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0);
    let (tmp, dest) = staging_dir("fake-zlib");
    let archive = tmp.path().join("fake.tgz");
    fs::write(&archive, bytes).unwrap();

    assert_eq!(detect_format(&archive).unwrap(), ArchiveFormat::RawDeflate);
    let report = extract(&archive, &dest, &ExtractLimits::default()).unwrap();
    let (_ref_tmp, reference) = staging_dir("reference");
    extract(
        &vector("archives/update.tar"),
        &reference,
        &ExtractLimits::default(),
    )
    .unwrap();
    assert_eq!(report.format, ArchiveFormat::RawDeflate);
    assert_eq!(snapshot(&dest), snapshot(&reference));
}

#[test]
fn a_tar_without_its_end_of_archive_marker_is_truncated() {
    let tar = fs::read(vector("archives/update.tar")).unwrap();
    let mut end = 0;
    for entry in tar::Archive::new(tar.as_slice()).entries().unwrap() {
        let entry = entry.unwrap();
        end = entry.raw_file_position() + entry.size().div_ceil(512) * 512;
    }
    assert!(end < tar.len() as u64);
    let (tmp, dest) = staging_dir("cut");
    let archive = tmp.path().join("cut.tar");
    // Every member complete, cut on a block boundary: only the end-of-archive marker tells.
    fs::write(&archive, &tar[..end as usize]).unwrap();
    let err = extract(&archive, &dest, &ExtractLimits::default()).unwrap_err();
    assert!(
        err.to_string().contains("end-of-archive marker is missing"),
        "{err}"
    );
}

/// A tar member to build: name, type, and content (files), target (links) or nothing (directories).
type Member<'a> = (&'a str, tar::EntryType, &'a str);

/// Builds an uncompressed tar of `members`.
fn build_tar(members: &[Member]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, data) in members {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        if kind.is_file() {
            header.set_size(data.len() as u64);
            builder
                .append_data(&mut header, name, data.as_bytes())
                .unwrap();
        } else if kind.is_dir() {
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, name, std::io::empty())
                .unwrap();
        } else {
            header.set_size(0);
            builder.append_link(&mut header, name, data).unwrap();
        }
    }
    builder.into_inner().unwrap()
}

fn extract_tar_bytes(tag: &str, bytes: Vec<u8>) -> (TempDir, PathBuf, pepeunit::Result<()>) {
    let (tmp, dest) = staging_dir(tag);
    let archive = tmp.path().join("a.tar");
    fs::write(&archive, bytes).unwrap();
    let result = extract(&archive, &dest, &ExtractLimits::default()).map(|_| ());
    (tmp, dest, result)
}

#[test]
fn links_that_stay_inside_are_unpacked() {
    use tar::EntryType::{Link, Regular, Symlink};
    let bytes = build_tar(&[
        ("lib/util.py", Regular, "x = 1\n"),
        ("lib/alias.py", Symlink, "util.py"),
        ("bin/up", Symlink, "../lib/util.py"),
        ("here", Symlink, "."),
        ("copy.py", Link, "lib/util.py"),
    ]);
    let (_tmp, dest, result) = extract_tar_bytes("links-ok", bytes);
    result.unwrap();
    assert_eq!(fs::read(dest.join("lib/alias.py")).unwrap(), b"x = 1\n");
    assert_eq!(fs::read(dest.join("bin/up")).unwrap(), b"x = 1\n");
    assert_eq!(fs::read_link(dest.join("here")).unwrap(), Path::new("."));
    assert_eq!(fs::read(dest.join("copy.py")).unwrap(), b"x = 1\n");
}

#[test]
fn links_that_could_escape_are_refused() {
    use tar::EntryType::{Link, Regular, Symlink};
    let cases: [(&[Member], &str); 5] = [
        // `a/root` is the staging root, so `a/root/..`, inside on paper, is its parent.
        (
            &[("a/root", Symlink, ".."), ("a/x", Symlink, "root/..")],
            "a/x",
        ),
        (&[("a/up", Symlink, "../..")], "a/up"),
        (
            &[
                ("sub/x", Regular, "1"),
                ("a", Symlink, "sub"),
                ("a/y", Regular, "2"),
            ],
            "a/y",
        ),
        (&[("hl", Link, "missing")], "hl"),
        (&[("l", Symlink, "x"), ("hl", Link, "l")], "hl"),
    ];
    for (members, bad) in cases {
        let (_tmp, _dest, result) = extract_tar_bytes("links-bad", build_tar(members));
        let err = result.unwrap_err();
        assert!(
            matches!(&err, Error::Archive { entry: Some(e), .. } if e == bad),
            "{members:?}: {err}"
        );
    }
}

#[test]
fn an_entry_over_an_earlier_directory_is_refused_by_name() {
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    // A directory is never replaced: by a file, a symlink or a hard link of the same name.
    let cases: [&[Member]; 3] = [
        &[("deep/c", Directory, ""), ("deep/c", Regular, "1")],
        &[("deep/c/x", Regular, "1"), ("deep/c", Symlink, "x")],
        &[
            ("f", Regular, "1"),
            ("deep/c", Directory, ""),
            ("deep/c", Link, "f"),
        ],
    ];
    for members in cases {
        let (_tmp, dest, result) = extract_tar_bytes("over-dir", build_tar(members));
        let err = result.unwrap_err();
        assert!(
            matches!(&err, Error::Archive { entry: Some(e), reason, .. }
                if e == "deep/c" && reason.contains("earlier directory")),
            "{members:?}: {err}"
        );
        assert!(dest.join("deep/c").is_dir(), "{members:?}");
    }
}

/// update.zip with `edit` applied to the first central directory header of a deflated file.
fn edited_zip(edit: impl Fn(&mut Vec<u8>, usize)) -> Vec<u8> {
    let mut zip = fs::read(vector("archives/update.zip")).unwrap();
    let at = (0..zip.len() - 4)
        .find(|&i| zip[i..].starts_with(b"PK\x01\x02") && zip[i + 10] == 8)
        .unwrap();
    edit(&mut zip, at);
    zip
}

fn extract_zip_bytes(bytes: Vec<u8>) -> Error {
    let (tmp, dest) = staging_dir("zip");
    let archive = tmp.path().join("a.zip");
    fs::write(&archive, bytes).unwrap();
    extract(&archive, &dest, &ExtractLimits::default()).unwrap_err()
}

#[test]
fn refuses_bad_zip_members() {
    let encrypted = edited_zip(|zip, at| zip[at + 8] |= 1);
    let err = extract_zip_bytes(encrypted);
    assert!(err.to_string().contains("encrypted"), "{err}");

    let bzip2 = edited_zip(|zip, at| zip[at + 10] = 12);
    let err = extract_zip_bytes(bzip2);
    assert!(err.to_string().contains("compression method 12"), "{err}");

    let wrong_crc = edited_zip(|zip, at| zip[at + 16] ^= 0xff);
    let err = extract_zip_bytes(wrong_crc);
    assert!(err.to_string().contains("CRC-32 mismatch"), "{err}");

    // The central directory's uncompressed size, one below and one above the truth.
    for (delta, says) in [(-1i64, "more bytes than"), (1, "fewer bytes than")] {
        let wrong_size = edited_zip(|zip, at| {
            let size = u32::from_le_bytes(zip[at + 24..at + 28].try_into().unwrap());
            let wrong = (i64::from(size) + delta) as u32;
            zip[at + 24..at + 28].copy_from_slice(&wrong.to_le_bytes());
        });
        let err = extract_zip_bytes(wrong_size);
        assert!(err.to_string().contains(says), "{err}");
    }

    let zip = fs::read(vector("archives/update.zip")).unwrap();
    let err = extract_zip_bytes(zip[..zip.len() - 30].to_vec());
    assert!(
        err.to_string().contains("end of central directory"),
        "{err}"
    );
}

#[test]
fn a_zip_entry_is_named_when_refused() {
    // Rename the first deflated member to an absolute path of the same length.
    let absolute = edited_zip(|zip, at| zip[at + 46] = b'/');
    let err = extract_zip_bytes(absolute);
    let Error::Archive {
        entry: Some(entry), ..
    } = &err
    else {
        panic!("{err}");
    };
    assert!(entry.starts_with('/'), "{err}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (FIPS 180-4), small and slow: enough to check the manifest's hashes.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend((data.len() as u64 * 8).to_be_bytes());
    for chunk in message.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes(word.try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (x, y) in h.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[test]
fn sha256_matches_the_standard_test_vector() {
    // FIPS 180-2 appendix B.1 ("abc"), so the manifest check above can be trusted.
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // B.2: a message that needs two blocks.
    assert_eq!(
        hex(&sha256(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}
