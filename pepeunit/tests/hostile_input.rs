//! Hostile input, property-based: every parser of outside data (token, env.json, schema.json, log.json,
//! cipher strings, tar/zlib/gzip/deflate/zip archives, command payloads) gets the malformed cases the
//! other tests already have as fixed cases, then random corruptions and truncations of valid inputs.
//! The property is always the same: no panic; either accepted or refused with the typed error that
//! names what was wrong; a refused input leaves the files on disk (and the state in memory) as they
//! were. Each property prints its case count (`cargo test --test hostile_input -- --nocapture`).
//! The random cases come from proptest (`support/prop.rs`): a failing one is shrunk, and its seed is
//! kept in `hostile_input.proptest-regressions` beside this file, to be committed.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use pepeunit::Error;
use pepeunit::cipher::Cipher;
use pepeunit::client::PepeunitClient;
use pepeunit::update::archive::ExtractLimits;
use pepeunit::update::{UpdateOptions, update_device_program};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Value, json};
use support::prop::{Property, Verdict, mutated, mutated_json, mutated_text};
use support::{TempDir, snapshot, unit_uuid_from_token, vector, vectors};

fn read(rel: &str) -> Vec<u8> {
    fs::read(vector(rel)).unwrap()
}

fn json_vector(rel: &str) -> Value {
    serde_json::from_slice(&read(rel)).unwrap()
}

/// Text for a parser that takes `&str`: invalid UTF-8 becomes replacement characters.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A JSON document derived from `seeds`: a structural edit of one, or a byte-level edit of its text.
fn json_case(seeds: &[Value]) -> impl Strategy<Value = Vec<u8>> + use<> {
    let texts = seeds.iter().map(|s| serde_json::to_vec_pretty(s).unwrap());
    prop_oneof![
        mutated_json(seeds.to_vec()).prop_map(|value| serde_json::to_vec(&value).unwrap()),
        mutated(texts.collect()),
    ]
}

/// Passes when `err` is one of the `expected` variants and its message names `source`.
fn typed(err: &Error, expected: &[&str], source: &str) -> Result<Verdict, String> {
    let variant = format!("{err:?}");
    let variant = variant.split([' ', '(', '{']).next().unwrap_or_default();
    if !expected.contains(&variant) {
        return Err(format!("untyped error {variant}: {err}"));
    }
    if !err.to_string().contains(source) {
        return Err(format!("the error does not name {source}: {err}"));
    }
    Ok(Verdict::Refused)
}

#[test]
fn token() {
    let tokens = json_vector("tokens/tokens.json");
    let all = |kind: &str| -> Vec<String> {
        tokens[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["token"].as_str().unwrap().to_owned())
            .collect()
    };
    let valid = all("valid");
    let mut fixed = all("invalid");
    fixed.extend(valid.iter().cloned());
    let claims = json!({"uuid": "6b872f9a-0070-424a-9829-834bb582fc3f", "type": "Unit"});
    let edited_claims = mutated_json(vec![claims]).prop_map(|claims| {
        let payload = serde_json::to_vec(&claims).unwrap();
        format!(
            "eyJhbGciOiJIUzI1NiJ9.{}.sig",
            URL_SAFE_NO_PAD.encode(payload)
        )
    });
    Property {
        name: "token",
        fixed,
        random: 3000,
    }
    .run(
        file!(),
        prop_oneof![1 => edited_claims, 2 => mutated_text(valid)],
        |token| match unit_uuid_from_token(token) {
            Ok(_) => Ok(Verdict::Accepted),
            Err(Error::InvalidToken(reason)) if reason.is_empty() => Err("no reason".into()),
            Err(err @ Error::InvalidToken(_)) => {
                let shown = format!("{err} {err:?}");
                match token
                    .split('.')
                    .find(|part| part.len() >= 6 && shown.contains(part))
                {
                    Some(part) => Err(format!("the error shows the token's {part:?}: {shown}")),
                    None => Ok(Verdict::Refused),
                }
            }
            Err(other) => Err(format!("untyped error: {other:?}")),
        },
    );
}

/// A client over copies of the repo's env.json and schema.json, with an empty log.
fn offline_client(dir: &TempDir) -> PepeunitClient {
    let env = dir.copy_vector("env/env_current.json", "env.json");
    let schema = dir.copy_vector("schema/schema.json", "schema.json");
    PepeunitClient::builder(env, schema, dir.path().join("log.json"))
        .build()
        .unwrap()
}

/// A file the client replaces from a candidate file, and what the client has loaded from it.
struct Replaced<'a, T> {
    target: &'a Path,
    replace: &'a dyn Fn(&Path) -> pepeunit::Result<()>,
    loaded: &'a dyn Fn() -> T,
    /// The error variants a refusal may be.
    errors: &'a [&'a str],
}

/// A refused replacement leaves the file and what is loaded from it as they were; an accepted one is
/// undone, so every case starts from the same file.
fn replace_property<T: PartialEq>(
    name: &str,
    fixed: Vec<Vec<u8>>,
    random: u32,
    seeds: &[Value],
    file: Replaced<'_, T>,
) {
    let candidate = file.target.with_file_name(format!("candidate-{name}"));
    let original = fs::read(file.target).unwrap();
    let source = candidate.display().to_string();
    Property {
        name,
        fixed,
        random,
    }
    .run(file!(), json_case(seeds), |bytes| {
        fs::write(&candidate, bytes).unwrap();
        let before = (file.loaded)();
        match (file.replace)(&candidate) {
            Ok(()) => {
                fs::write(&candidate, &original).unwrap();
                (file.replace)(&candidate).map_err(|e| format!("restoring: {e}"))?;
                Ok(Verdict::Accepted)
            }
            Err(err) => {
                let verdict = typed(&err, file.errors, &source)?;
                if fs::read(file.target).unwrap() != original {
                    return Err(format!("refused ({err}) but {name} changed"));
                }
                if (file.loaded)() != before {
                    return Err(format!("refused ({err}) but what was loaded changed"));
                }
                Ok(verdict)
            }
        }
    });
}

/// The malformed env.json texts of tests/settings.rs.
fn env_corpus() -> Vec<Vec<u8>> {
    let current = read("env/env_current.json");
    let mut corpus: Vec<Vec<u8>> = [
        r#"{"PU_MQTT_PORT": "abc"}"#,
        r#"{"PU_MQTT_PORT": 70000}"#,
        r#"{"MQTT_PORT": "70000"}"#,
        r#"{"PU_MQTT_PING_INTERVAL": -5}"#,
        r#"{"PU_STATE_SEND_INTERVAL": "-1"}"#,
        r#"{"PU_MAX_LOG_LENGTH": 1.5}"#,
        r#"{"PU_MQTT_KEEPALIVE": true}"#,
        r#"{"PU_MIN_LOG_LEVEL": "Verbose"}"#,
        r#"{"MINIMAL_LOG_LEVEL": 3}"#,
        r#"{"PU_DOMAIN": 5}"#,
        r#"{"PU_AUTH_TOKEN": {"a": 1}}"#,
        r#"{"PEPEUNIT_TOKEN": null}"#,
        "not json",
        "[1, 2]",
        "42",
        "\"[1]\"",
        "\"not json\"",
        "",
        "{ \"PU_MQTT_PORT\": ",
    ]
    .iter()
    .map(|t| t.as_bytes().to_vec())
    .collect();
    corpus.push(current[..current.len() / 2].to_vec());
    corpus.push(vec![0xff, 0xfe, b'{', b'}']);
    for rel in [
        "env/env_current.json",
        "env/env_example.json",
        "env/env_legacy_0_10.json",
        "env/env_numeric_strings.json",
        "env/env_response_backend_1_0.json",
        "env/env_response_backend_1_1.json",
    ] {
        corpus.push(read(rel));
    }
    corpus
}

#[test]
fn env_json() {
    let dir = TempDir::new("hostile-env");
    let client = offline_client(&dir);
    let seeds: Vec<Value> = ["env/env_current.json", "env/env_legacy_0_10.json"]
        .iter()
        .map(|rel| json_vector(rel))
        .collect();
    replace_property(
        "env.json",
        env_corpus(),
        1500,
        &seeds,
        Replaced {
            target: client.settings().path(),
            replace: &|candidate| client.update_env_from_file(candidate),
            loaded: &|| client.settings().current(),
            errors: &["InvalidJson", "InvalidSetting", "InvalidToken", "Io"],
        },
    );
}

#[test]
fn schema_json() {
    let dir = TempDir::new("hostile-schema");
    let client = offline_client(&dir);
    let seeds: Vec<Value> = ["schema/schema.json", "schema/schema_minimal.json"]
        .iter()
        .map(|rel| json_vector(rel))
        .collect();
    let mut fixed: Vec<Vec<u8>> = [
        r#"{"input_topic": ["input/pepeunit"]}"#,
        r#"{"output_base_topic": null}"#,
        r#"{"output_topic": {"output/pepeunit": ["d/a", 5]}}"#,
        r#"{"input_topic": {"in": "d/a"}}"#,
        r#"{"input_topic": ["x"]}"#,
        "not json",
        "[]",
        "\"{\"",
        "",
    ]
    .iter()
    .map(|t| t.as_bytes().to_vec())
    .collect();
    for rel in [
        "schema/schema.json",
        "schema/schema_minimal.json",
        "schema/schema_example.json",
        "schema/schema_response_backend_1_0.json",
    ] {
        fixed.push(read(rel));
    }
    replace_property(
        "schema.json",
        fixed,
        1500,
        &seeds,
        Replaced {
            target: client.schema().path(),
            replace: &|candidate| client.update_schema_from_file(candidate),
            loaded: &|| client.schema().current(),
            errors: &["InvalidJson", "InvalidSchema", "Io"],
        },
    );
}

/// log.json as a unit's own file (read at start) and as a replacement (`update_log_from_file`).
#[test]
fn log_json() {
    let dir = TempDir::new("hostile-log");
    let client = offline_client(&dir);
    client.logger().info("kept 1");
    client.logger().info("kept 2");
    client.logger().flush().unwrap();
    let log_path = dir.path().join("log.json");
    let ndjson = read("log/log_ndjson.json");
    let legacy = read("log/log_legacy_array.json");
    let ndjson_text = text(&ndjson);
    let lines: Vec<&str> = ndjson_text.lines().collect();
    let mut bad_line = lines.clone();
    let verbose = bad_line[2].replace("\"Warning\"", "\"Verbose\"");
    bad_line[2] = &verbose;
    let fixed = vec![
        bad_line.join("\n").into_bytes(),
        legacy[..legacy.len() / 2].to_vec(),
        br#"[{"level": "Info", "text": "a", "create_"#.to_vec(),
        ndjson.clone(),
        legacy.clone(),
    ];
    let seeds = vec![ndjson, legacy];
    let candidate = dir.path().join("candidate-log.json");
    let source = candidate.display().to_string();
    let reopened = dir.path().join("reopened");
    fs::create_dir(&reopened).unwrap();
    let reopened_log = reopened.join("log.json");
    Property {
        name: "log.json",
        fixed,
        random: 1500,
    }
    .run(file!(), mutated(seeds), |bytes| {
        // As the unit's own log.json from a previous run: opened, or refused untouched.
        fs::write(&reopened_log, bytes).unwrap();
        if let Err(err) = pepeunit::logger::Logger::open(&reopened_log, Default::default()) {
            typed(&err, &["InvalidJson"], &reopened_log.display().to_string())?;
            if fs::read(&reopened_log).unwrap() != *bytes {
                return Err(format!("open refused ({err}) but changed the file"));
            }
        }
        // As a replacement: refused with the log and its file untouched.
        fs::write(&candidate, bytes).unwrap();
        let entries_before = client.logger().get_full_log();
        let file_before = fs::read(&log_path).unwrap();
        match client.update_log_from_file(&candidate) {
            Ok(()) => {
                client.logger().reset().unwrap();
                client.logger().info("kept 1");
                client.logger().info("kept 2");
                client.logger().flush().unwrap();
                Ok(Verdict::Accepted)
            }
            Err(err) => {
                let verdict = typed(&err, &["InvalidJson", "Io"], &source)?;
                let texts = |log: Vec<pepeunit::logger::LogEntry>| {
                    log.into_iter().map(|e| e.text).collect::<Vec<_>>()
                };
                if texts(client.logger().get_full_log()) != texts(entries_before) {
                    return Err("refused, yet the log in memory changed".into());
                }
                if fs::read(&log_path).unwrap() != file_before {
                    return Err(format!("refused ({err}) but log.json changed"));
                }
                Ok(verdict)
            }
        }
    });
}

#[test]
fn cipher_strings() {
    let vectors = json_vector("cipher/cipher.json");
    let key = "p4ef0RIHTLzmQZzwS3WfVw==";
    let cipher = Cipher::new(key).unwrap();
    let good: Vec<String> = vectors["decrypt_ok"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["key"] == key)
        .map(|c| c["ciphertext"].as_str().unwrap().to_owned())
        .collect();
    let good_text = good[0].clone();
    let (nonce, sealed) = good_text.split_once('.').unwrap();
    let long_nonce = STANDARD.encode([7u8; 16]);
    // (key, text): the failing vectors and the malformed cases of tests/cipher.rs.
    let mut fixed: Vec<(String, String)> = vectors["decrypt_must_fail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = c["ciphertext"].as_str().unwrap_or_default();
            (c["key"].as_str().unwrap().to_owned(), text.to_owned())
        })
        .collect();
    for text in [
        String::new(),
        ".".into(),
        format!("{nonce}."),
        format!("{long_nonce}.{sealed}"),
        format!("{nonce}.{}", &sealed[1..]),
        format!("{good_text}.{sealed}"),
        format!("{}.{sealed}", &nonce[..nonce.len() - 1]),
    ] {
        fixed.push((key.into(), text));
    }
    for bad_key in [
        STANDARD.encode(b"0123456789"),
        "sk-my-secret-key!".into(),
        String::new(),
    ] {
        fixed.push((bad_key, good_text.clone()));
    }
    let keys = [
        key.to_owned(),
        STANDARD.encode([9u8; 24]),
        STANDARD.encode([3u8; 32]),
    ];
    let (with_good_text, with_key) = (good_text.clone(), key.to_owned());
    Property {
        name: "cipher",
        fixed,
        random: 3000,
    }
    .run(
        file!(),
        prop_oneof![
            1 => mutated_text(keys.to_vec()).prop_map(move |k| (k, with_good_text.clone())),
            4 => mutated_text(good.clone()).prop_map(move |c| (with_key.clone(), c)),
        ],
        |(key_b64, ciphertext)| {
            let cipher_error = |err: Error| match err {
                Error::Cipher(reason) if reason.is_empty() => Err("no reason".to_owned()),
                Error::Cipher(reason) if key_b64.len() >= 6 && reason.contains(key_b64.trim()) => {
                    Err(format!("the error shows the key: {reason}"))
                }
                Error::Cipher(_) => Ok(Verdict::Refused),
                other => Err(format!("untyped error: {other:?}")),
            };
            let cipher = match Cipher::new(key_b64) {
                Ok(c) => c,
                Err(err) => return cipher_error(err),
            };
            match cipher.decrypt_to_string(ciphertext) {
                Ok(_) => Ok(Verdict::Accepted),
                Err(err) => cipher_error(err),
            }
        },
    );
    // The authenticated plaintext survives no edit that still decrypts: accepted means unchanged.
    assert_eq!(
        cipher.decrypt_to_string(&good_text).unwrap(),
        "pepeunit cipher test"
    );
}

/// A small program that compresses over several deflate blocks, as the testkit builds it.
fn program_files() -> Vec<(String, Vec<u8>)> {
    let source: Vec<u8> = (0..1500)
        .flat_map(|i| format!("line {i}: value = {}\n", i * 37 % 101).into_bytes())
        .collect();
    vec![
        ("app/main.py".into(), source),
        (
            "app/data.bin".into(),
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("env.json".into(), read("env/env_current.json")),
        ("README".into(), b"update\n".to_vec()),
    ]
}

fn built(packing: pepeunit_testkit::Packing) -> Vec<u8> {
    pepeunit_testkit::update_archive(&program_files(), packing).unwrap()
}

/// The program directory every archive case starts from.
fn fresh_program_dir(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("app")).unwrap();
    fs::write(dir.join("app/main.py"), b"old\n").unwrap();
    fs::write(dir.join("keep.txt"), b"user data\n").unwrap();
    fs::write(dir.join("env.json"), read("env/env_current.json")).unwrap();
}

/// Truncations (half the cases: the classic broken download) and corruptions of `seeds`, applied as
/// updates: a refused archive is an `Error::Archive` naming the archive and leaves the program
/// directory exactly as it was.
fn archive_property(name: &str, seeds: Vec<Vec<u8>>, fixed: Vec<Vec<u8>>, random: u32) {
    let tmp = TempDir::new("hostile-archive");
    let program = tmp.path().join("program");
    fresh_program_dir(&program);
    let baseline = snapshot(&program);
    let archive = tmp.path().join("update.bin");
    let options = UpdateOptions {
        limits: ExtractLimits {
            max_total_bytes: 4 * 1024 * 1024,
            max_entries: 1000,
        },
        ..UpdateOptions::default()
    };
    let truncated = (select(seeds.clone()), any::<Index>()).prop_map(|(mut seed, cut)| {
        seed.truncate(cut.index(seed.len()));
        seed
    });
    Property {
        name,
        fixed,
        random,
    }
    .run(file!(), prop_oneof![truncated, mutated(seeds)], |bytes| {
        fs::write(&archive, bytes).unwrap();
        // The testkit's archives carry their build time: keep a failing case's bytes to replay.
        let keep = |why: String| {
            let kept = std::env::temp_dir().join(format!("pepeunit-failed-{}.bin", crc32(bytes)));
            fs::write(&kept, bytes).unwrap();
            format!("{why} (archive kept as {})", kept.display())
        };
        let err = match update_device_program(&archive, &program, &options) {
            Ok(_) => {
                fresh_program_dir(&program);
                return Ok(Verdict::Accepted);
            }
            Err(err) => err,
        };
        match &err {
            Error::Archive { reason, .. } if reason.is_empty() => {
                Err(keep(format!("no reason: {err}")))
            }
            Error::Archive { archive: a, .. } if a != &archive => {
                Err(keep(format!("names another archive: {err}")))
            }
            Error::Archive { .. } if snapshot(&program) != baseline => Err(keep(format!(
                "refused ({err}) but the program directory changed"
            ))),
            Error::Archive { .. } => Ok(Verdict::Refused),
            _ => Err(keep(format!("untyped error: {err:?}"))),
        }
    });
}

fn vector_files(under: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(vectors().join(under))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Every broken or hostile archive of the vectors: the corpus of tests/archive.rs.
fn archive_corpus() -> Vec<Vec<u8>> {
    let mut corpus = vec![
        read("archives/not_an_archive.tgz"),
        read("archives/truncated_wbits9.tgz"),
    ];
    for path in vector_files("archives/evil", "tgz") {
        corpus.push(fs::read(path).unwrap());
    }
    let tar = read("archives/update.tar");
    // tests/archive.rs: a tar cut before its end-of-archive marker.
    corpus.push(tar[..tar.len() - 1024].to_vec());
    corpus
}

#[test]
fn tar_archives() {
    use pepeunit_testkit::Packing;
    let seeds = vec![read("archives/update.tar"), built(Packing::Tar)];
    let mut fixed = archive_corpus();
    fixed.extend(seeds.iter().cloned());
    archive_property("archive tar", seeds, fixed, 600);
}

#[test]
fn compressed_tar_archives() {
    use pepeunit_testkit::Packing;
    let mut seeds: Vec<Vec<u8>> = vector_files("archives", "tgz")
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("update_")
        })
        .map(|p| fs::read(p).unwrap())
        .collect();
    for (wbits, level) in [(9, 9), (15, 6), (-15, 9), (31, 1), (12, 0)] {
        seeds.push(built(Packing::Tgz { wbits, level }));
    }
    let mut fixed = archive_corpus();
    fixed.extend(seeds.iter().cloned());
    archive_property("archive zlib/deflate/gzip", seeds, fixed, 1000);
}

/// update.zip with `edit` applied to the first central directory header of a deflated member (the
/// edits of tests/archive.rs).
fn edited_zip(edit: impl Fn(&mut Vec<u8>, usize)) -> Vec<u8> {
    let mut zip = read("archives/update.zip");
    let at = (0..zip.len() - 4)
        .find(|&i| zip[i..].starts_with(b"PK\x01\x02") && zip[i + 10] == 8)
        .unwrap();
    edit(&mut zip, at);
    zip
}

#[test]
fn zip_archives() {
    use pepeunit_testkit::Packing;
    let seeds = vec![read("archives/update.zip"), built(Packing::Zip)];
    let zip = &seeds[0];
    let mut fixed = vec![
        edited_zip(|zip, at| zip[at + 8] |= 1),
        edited_zip(|zip, at| zip[at + 10] = 12),
        edited_zip(|zip, at| zip[at + 16] ^= 0xff),
        edited_zip(|zip, at| zip[at + 24] = zip[at + 24].wrapping_sub(1)),
        edited_zip(|zip, at| zip[at + 24] = zip[at + 24].wrapping_add(1)),
        edited_zip(|zip, at| zip[at + 46] = b'/'),
        zip[..zip.len() - 30].to_vec(),
    ];
    fixed.extend(zip_fixtures().into_iter().map(|(_, bytes, _)| bytes));
    fixed.extend(seeds.iter().cloned());
    archive_property("archive zip", seeds, fixed, 1000);
}

/// One member for [`build_zip`].
struct ZipMember {
    name: &'static str,
    data: Vec<u8>,
    flags: u16,
    method: u16,
    /// Extra field of both headers.
    extra: Vec<u8>,
    /// Sizes and offset written as 0xffffffff (their values then live in the zip64 extra field).
    sizes_in_zip64: bool,
    disk_start: u16,
}

impl ZipMember {
    fn stored(name: &'static str, data: &[u8]) -> ZipMember {
        ZipMember {
            name,
            data: data.to_vec(),
            flags: 0,
            method: 0,
            extra: Vec::new(),
            sizes_in_zip64: false,
            disk_start: 0,
        }
    }
}

/// How the end of a hand-built zip looks.
#[derive(Default)]
struct ZipEnd {
    /// Precede the EOCD with a zip64 end record and locator, and mark the EOCD's fields 0xffff….
    zip64: bool,
    /// The EOCD's "number of this disk" and "disk where the central directory starts".
    disk: u16,
    cd_disk: u16,
}

fn build_zip(members: &[ZipMember], end: &ZipEnd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for m in members {
        let offset = out.len() as u32;
        let crc = crc32(&m.data);
        let size = m.data.len() as u32;
        let (size32, offset32) = if m.sizes_in_zip64 {
            (u32::MAX, u32::MAX)
        } else {
            (size, offset)
        };
        out.extend(b"PK\x03\x04");
        out.extend(20u16.to_le_bytes());
        out.extend(m.flags.to_le_bytes());
        out.extend(m.method.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend(crc.to_le_bytes());
        out.extend(size32.to_le_bytes());
        out.extend(size32.to_le_bytes());
        out.extend((m.name.len() as u16).to_le_bytes());
        out.extend((m.extra.len() as u16).to_le_bytes());
        out.extend(m.name.as_bytes());
        out.extend(&m.extra);
        out.extend(&m.data);

        central.extend(b"PK\x01\x02");
        central.extend((0x0300u16 | 45).to_le_bytes());
        central.extend(20u16.to_le_bytes());
        central.extend(m.flags.to_le_bytes());
        central.extend(m.method.to_le_bytes());
        central.extend([0u8; 4]);
        central.extend(crc.to_le_bytes());
        central.extend(size32.to_le_bytes());
        central.extend(size32.to_le_bytes());
        central.extend((m.name.len() as u16).to_le_bytes());
        central.extend((m.extra.len() as u16).to_le_bytes());
        central.extend(0u16.to_le_bytes());
        central.extend(m.disk_start.to_le_bytes());
        central.extend(0u16.to_le_bytes());
        central.extend((0o100644u32 << 16).to_le_bytes());
        central.extend(offset32.to_le_bytes());
        central.extend(m.name.as_bytes());
        central.extend(&m.extra);
    }
    let cd_offset = out.len() as u64;
    let cd_size = central.len() as u64;
    out.extend(&central);
    let count = members.len() as u16;
    if end.zip64 {
        let record_at = out.len() as u64;
        out.extend(b"PK\x06\x06");
        out.extend(44u64.to_le_bytes());
        out.extend(45u16.to_le_bytes());
        out.extend(45u16.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(u64::from(count).to_le_bytes());
        out.extend(u64::from(count).to_le_bytes());
        out.extend(cd_size.to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend(b"PK\x06\x07");
        out.extend(0u32.to_le_bytes());
        out.extend(record_at.to_le_bytes());
        out.extend(1u32.to_le_bytes());
    }
    out.extend(b"PK\x05\x06");
    out.extend(end.disk.to_le_bytes());
    out.extend(end.cd_disk.to_le_bytes());
    let (count16, size32, offset32) = if end.zip64 {
        (u16::MAX, u32::MAX, u32::MAX)
    } else {
        (count, cd_size as u32, cd_offset as u32)
    };
    out.extend(count16.to_le_bytes());
    out.extend(count16.to_le_bytes());
    out.extend(size32.to_le_bytes());
    out.extend(offset32.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(data);
    hasher.finalize()
}

/// A zip64 extra field (id 1) holding the uncompressed size, compressed size and local offset.
fn zip64_extra(size: u64, offset: u64) -> Vec<u8> {
    let mut extra = Vec::new();
    extra.extend(1u16.to_le_bytes());
    extra.extend(24u16.to_le_bytes());
    extra.extend(size.to_le_bytes());
    extra.extend(size.to_le_bytes());
    extra.extend(offset.to_le_bytes());
    extra
}

/// Hand-built zips with zip64, encrypted and multi-disk features: (what, bytes, how it must end).
const LONG_NAME: &str = concat!(
    "LONG",
    "-name-",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
);

/// How a zip fixture must end: `Ok(the file's content)` when read, `Err(words of the refusal)`.
type ZipExpectation = Result<&'static [u8], &'static str>;

fn zip_fixtures() -> Vec<(&'static str, Vec<u8>, ZipExpectation)> {
    const DATA: &[u8] = b"print('hello')\n";
    let plain = || vec![ZipMember::stored("main.py", DATA)];
    let with = |edit: fn(&mut ZipMember)| {
        let mut member = ZipMember::stored("main.py", DATA);
        edit(&mut member);
        vec![member]
    };
    let aes_extra = {
        // WinZip AE-2, AES-256, actual method stored.
        let mut extra = Vec::new();
        extra.extend(0x9901u16.to_le_bytes());
        extra.extend(7u16.to_le_bytes());
        extra.extend(2u16.to_le_bytes());
        extra.extend(b"AE");
        extra.push(3);
        extra.extend(0u16.to_le_bytes());
        extra
    };
    let mut aes = with(|m| {
        m.flags = 1;
        m.method = 99;
    });
    aes[0].extra = aes_extra;
    vec![
        ("plain", build_zip(&plain(), &ZipEnd::default()), Ok(DATA)),
        (
            "zip64 end of central directory",
            build_zip(
                &plain(),
                &ZipEnd {
                    zip64: true,
                    ..ZipEnd::default()
                },
            ),
            Err("zip64"),
        ),
        (
            "zip64 member sizes",
            build_zip(
                &with(|m| {
                    m.sizes_in_zip64 = true;
                    m.extra = zip64_extra(m.data.len() as u64, 0);
                }),
                &ZipEnd::default(),
            ),
            Err("zip64"),
        ),
        (
            "zip64 extra field beside 32-bit sizes",
            build_zip(
                &with(|m| m.extra = zip64_extra(m.data.len() as u64, 0)),
                &ZipEnd::default(),
            ),
            Ok(DATA),
        ),
        (
            "traditional encryption",
            build_zip(&with(|m| m.flags = 1), &ZipEnd::default()),
            Err("encrypted"),
        ),
        (
            "strong encryption",
            build_zip(&with(|m| m.flags = 1 | 0x40), &ZipEnd::default()),
            Err("encrypted"),
        ),
        (
            "AES encryption",
            build_zip(&aes, &ZipEnd::default()),
            Err("encrypted"),
        ),
        (
            "a name longer than a file name may be",
            build_zip(&[ZipMember::stored(LONG_NAME, DATA)], &ZipEnd::default()),
            Err("file system refuses the name"),
        ),
        (
            "multi-disk: the last of two disks",
            build_zip(
                &plain(),
                &ZipEnd {
                    disk: 1,
                    cd_disk: 1,
                    ..ZipEnd::default()
                },
            ),
            Err("multi-disk"),
        ),
        (
            "multi-disk: central directory on another disk",
            build_zip(
                &plain(),
                &ZipEnd {
                    cd_disk: 1,
                    ..ZipEnd::default()
                },
            ),
            Err("multi-disk"),
        ),
        (
            "multi-disk: a member on another disk",
            build_zip(&with(|m| m.disk_start = 1), &ZipEnd::default()),
            Err("multi-disk"),
        ),
    ]
}

#[test]
fn zip64_encrypted_and_multi_disk_zips_are_refused_or_read_correctly() {
    let fixtures = zip_fixtures();
    let count = fixtures.len();
    for (what, bytes, expected) in fixtures {
        let tmp = TempDir::new("zip-fixture");
        let archive = tmp.path().join("a.zip");
        fs::write(&archive, &bytes).unwrap();
        let dest = tmp.path().join("stage");
        fs::create_dir(&dest).unwrap();
        let result = pepeunit::update::archive::extract(&archive, &dest, &ExtractLimits::default());
        match (expected, result) {
            (Ok(content), Ok(_)) => {
                assert_eq!(fs::read(dest.join("main.py")).unwrap(), content, "{what}");
            }
            (Err(words), Err(err @ Error::Archive { .. })) => {
                assert!(err.to_string().contains(words), "{what}: {err}");
            }
            (expected, result) => panic!("{what}: expected {expected:?}, got {result:?}"),
        }
    }
    println!("zip fixtures: {count} (zip64, encrypted, multi-disk, long name, plain)");
}

#[cfg(feature = "mqtt")]
mod command_payloads {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use pepeunit::client::PepeunitClient;
    use pepeunit::update::RestartMode;
    use pepeunit_testkit::UnitSpec;
    use serde_json::{Value, json};

    use proptest::prelude::*;
    use proptest::sample::select;

    use super::support::prop::{Property, Verdict, mutated, mutated_json};
    use super::support::{
        RecordingCommands, TempDir, hostile_command_payloads, mosquitto_instance, spawn_main_cycle,
        stop_main_cycle,
    };

    const NAMES: [&str; 4] = [
        "update/pepeunit",
        "env_update/pepeunit",
        "schema_update/pepeunit",
        "log_sync/pepeunit",
    ];
    const WAIT: Duration = Duration::from_secs(60);

    /// Command payloads published to a running unit through mosquitto: each one is either run (the
    /// hook records it, or the log is synced) or refused with an error naming its command; the unit
    /// never panics, keeps running, and env.json/schema.json stay as they were.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn command_payloads() {
        let instance = mosquitto_instance().await;
        let dir = TempDir::new("hostile-commands");
        let spec = UnitSpec::new("hostile", dir.path()).with_env("PU_MAX_LOG_LENGTH", 100_000);
        let unit = instance.create_unit(spec).await.unwrap();
        let log_path = unit.dir().join("log.json");
        let commands = Arc::new(RecordingCommands::default());
        let client = PepeunitClient::builder(unit.env_path(), unit.schema_path(), &log_path)
            .mqtt(true)
            .restart_mode(RestartMode::None)
            .platform_commands(commands.clone())
            .build()
            .unwrap();
        let cycle = spawn_main_cycle(&client);
        assert!(
            instance.wait_for_state(&unit, WAIT).await.is_some(),
            "no state"
        );
        let env_before = std::fs::read(unit.env_path()).unwrap();
        let schema_before = std::fs::read(unit.schema_path()).unwrap();
        let schema: Value = serde_json::from_slice(&schema_before).unwrap();
        let topic = |name: &str| {
            schema["input_base_topic"][name][0]
                .as_str()
                .unwrap()
                .to_owned()
        };

        // The payloads of tests/mqtt_runtime.rs, on every command that parses its payload.
        // The payloads of tests/mqtt_runtime.rs and the bad ones of commands.rs's unit test.
        let mut corpus = hostile_command_payloads();
        corpus.extend([
            b"\xff".to_vec(),
            br#"{"COMMAND": "SchemaUpdate"}"#.to_vec(),
            br#"{"PU_COMMIT_VERSION": 7}"#.to_vec(),
        ]);
        let fixed: Vec<(&str, Vec<u8>)> = NAMES
            .iter()
            .flat_map(|name| corpus.iter().map(move |p| (*name, p.clone())))
            .collect();
        let valid = [
            json!({"COMMAND": "Update", "PU_COMMIT_VERSION": "abc", "COMPILED_FIRMWARE_LINK": "http://x/b"}),
            json!({"COMMAND": "Update", "NEW_COMMIT_VERSION": "old"}),
            json!({"COMMAND": "EnvUpdate"}),
            json!({"COMMAND": "SchemaUpdate"}),
            json!({"COMMAND": "LogSync"}),
        ];
        let texts = valid
            .iter()
            .map(|v| serde_json::to_vec(v).unwrap())
            .collect();
        let payloads = prop_oneof![
            mutated_json(valid.to_vec()).prop_map(|value| serde_json::to_vec(&value).unwrap()),
            mutated(texts),
        ];
        let handle = tokio::runtime::Handle::current();
        let published: RefCell<BTreeMap<&str, usize>> = RefCell::default();
        let ran = Property {
            name: "command payloads",
            fixed,
            random: 400,
        }
        .run(
            file!(),
            (select(NAMES.to_vec()), payloads),
            |(name, payload)| {
                let published_to = topic(name);
                tokio::task::block_in_place(|| {
                    handle.block_on(instance.publish(&published_to, payload.clone()))
                })
                .map_err(|e| format!("publishing: {e}"))?;
                *published.borrow_mut().entry(name).or_default() += 1;
                Ok(Verdict::Pending)
            },
        );
        let published = published.into_inner();

        // Every payload ends as a run command ("Get base MQTT command") or a refusal naming it.
        let deadline = Instant::now() + WAIT;
        let (refused, run) = loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            // A line counts for one name only: "update/pepeunit" also ends "env_update/pepeunit".
            let count = |words: &[&str], named: fn(&str) -> String| -> BTreeMap<&str, usize> {
                NAMES
                    .iter()
                    .map(|name| {
                        let named = named(name);
                        let lines = log.lines().filter(|l| l.contains(&named));
                        (
                            *name,
                            lines
                                .filter(|l| words.iter().all(|w| l.contains(w)))
                                .count(),
                        )
                    })
                    .collect()
            };
            let refused = count(&["\"Error\"", "command ignored"], |n| format!(" on {n}: "));
            let run = count(&["Get base MQTT command"], |n| format!("command: {n}\""));
            let done = NAMES.iter().all(|n| refused[n] + run[n] == published[n]);
            if done || Instant::now() > deadline {
                assert!(!log.contains("panicked"), "a handler panicked:\n{log}");
                break (refused, run);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for name in NAMES {
            assert_eq!(
                refused[name] + run[name],
                published[name],
                "{name}: {} refused + {} run of {} published",
                refused[name],
                run[name],
                published[name]
            );
        }
        let hook_runs = commands.0.lock().unwrap().len();
        let platform_runs: usize = NAMES[..3].iter().map(|n| run[n]).sum();
        assert_eq!(hook_runs, platform_runs);
        assert_eq!(std::fs::read(unit.env_path()).unwrap(), env_before);
        assert_eq!(std::fs::read(unit.schema_path()).unwrap(), schema_before);
        assert!(!cycle.is_finished(), "the unit stopped");
        println!(
            "property command payloads: {} published, {} refused, {} run",
            ran,
            refused.values().sum::<usize>(),
            run.values().sum::<usize>()
        );
        stop_main_cycle(&client, cycle).await;
    }
}
