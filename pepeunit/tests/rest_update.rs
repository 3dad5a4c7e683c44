//! The REST command flows without MQTT, against the testkit: `apply_env_update`,
//! `apply_schema_update`, `apply_update_command` (version check, download, checked apply, reload),
//! `download_firmware` and `download_signed_firmware`. A failed update leaves the program directory as
//! it was.

mod support;

use std::os::unix::fs::PermissionsExt;

use pepeunit::client::PepeunitClient;
use pepeunit::rest::RestOptions;
use pepeunit::update::RestartMode;
use pepeunit::update::{UpdateCommand, UpdateKey, UpdateOutcome};
use pepeunit::{Error, Result};
use pepeunit_testkit::{BackendEra, Instance, ProgramSource, Release, TestUnit, UnitSpec};
use serde_json::json;
use support::{TempDir, fast_retries as fast, instance, snapshot};

const ERAS: [BackendEra; 2] = [BackendEra::V1_0, BackendEra::V1_1];
const COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";

async fn unit(instance: &Instance, dir: &TempDir) -> TestUnit {
    instance
        .create_unit(UnitSpec::new("unit", dir.path().join("unit")))
        .await
        .unwrap()
}

/// The unit's client; log.json lives outside the program directory so snapshots compare files only.
fn client(unit: &TestUnit, dir: &TempDir, options: RestOptions) -> PepeunitClient {
    PepeunitClient::builder(
        unit.env_path(),
        unit.schema_path(),
        dir.path().join("log.json"),
    )
    .rest(true)
    .rest_options(options)
    .restart_mode(RestartMode::None)
    .build()
    .unwrap()
}

/// An instance, a temp dir, a unit in it and the unit's REST client.
async fn setup(era: BackendEra, tag: &str) -> (Instance, TempDir, TestUnit, PepeunitClient) {
    let instance = instance(era).await;
    let dir = TempDir::new(tag);
    let unit = unit(&instance, &dir).await;
    let client = client(&unit, &dir, fast());
    (instance, dir, unit, client)
}

fn program(files: &[(&str, &str)]) -> ProgramSource {
    ProgramSource::Files(
        files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect(),
    )
}

/// Makes version COMMIT, holding only `src/main.py`, the unit's target.
fn set_main_py(instance: &Instance, unit: &TestUnit, main_py: &str) {
    instance
        .set_program(unit, COMMIT, program(&[("src/main.py", main_py)]), None)
        .unwrap();
}

fn log_lines(client: &PepeunitClient) -> Vec<String> {
    client
        .logger()
        .get_full_log()
        .into_iter()
        .map(|e| e.text)
        .collect()
}

fn command(version: &str) -> UpdateCommand {
    UpdateCommand {
        version: Some(version.into()),
        compiled_firmware_link: None,
    }
}

#[tokio::test]
async fn env_update_reloads_and_says_when_to_reconnect() {
    for era in ERAS {
        let (instance, _dir, unit, client) = setup(era, "upd-env").await;

        let unchanged = client.apply_env_update().await.unwrap();
        assert!(unchanged.changed_keys.is_empty(), "{unchanged:?}");
        assert!(!unchanged.needs_reconnect());

        instance.set_env_var(&unit, "DELAY_PUB_MSG", 7).unwrap();
        instance.set_env_var(&unit, "PU_MAX_LOG_LENGTH", 5).unwrap();
        let change = client.apply_env_update().await.unwrap();
        assert_eq!(change.changed_keys, ["DELAY_PUB_MSG", "PU_MAX_LOG_LENGTH"]);
        assert!(!change.needs_reconnect());
        assert_eq!(client.settings().get::<u64>("DELAY_PUB_MSG").unwrap(), 7);
        assert_eq!(client.settings().current().max_log_length, 5);

        instance.set_env_var(&unit, "PU_MQTT_PORT", 1999).unwrap();
        let change = client.apply_env_update().await.unwrap();
        assert_eq!(change.changed_keys, ["PU_MQTT_PORT"]);
        assert!(change.needs_reconnect());
        assert_eq!(client.settings().current().mqtt_port, 1999);
        let on_disk: serde_json::Value =
            serde_json::from_slice(&std::fs::read(unit.env_path()).unwrap()).unwrap();
        assert_eq!(
            on_disk["PU_MQTT_PORT"], 1999,
            "{era:?}: the live file holds the object"
        );
    }
}

#[tokio::test]
async fn schema_update_says_what_to_subscribe_and_unsubscribe() {
    for era in ERAS {
        let (instance, _dir, unit, client) = setup(era, "upd-schema").await;
        let old = client.schema().current();

        instance
            .set_schema_example(
                &unit,
                &json!({
                    "input_base_topic": ["update/pepeunit", "env_update/pepeunit"],
                    "output_base_topic": ["state/pepeunit"],
                    "input_topic": ["input/pepeunit", "other/pepeunit"],
                    "output_topic": ["output/pepeunit"],
                }),
            )
            .unwrap();
        let change = client.apply_schema_update().await.unwrap();
        let topics = client.schema().current();
        assert_eq!(change.subscribe, topics.input_topic()["other/pepeunit"]);
        let mut removed: Vec<String> = [
            "log_sync/pepeunit",
            "reset/pepeunit",
            "schema_update/pepeunit",
        ]
        .iter()
        .map(|name| old.input_base_topic()[*name][0].clone())
        .collect();
        let mut unsubscribe = change.unsubscribe.clone();
        removed.sort();
        unsubscribe.sort();
        assert_eq!(unsubscribe, removed);
        assert_eq!(
            topics.input_topic()["input/pepeunit"],
            old.input_topic()["input/pepeunit"],
            "kept names keep their topics"
        );
        assert!(topics.input_base_topic().get("log_sync/pepeunit").is_none());
        assert_eq!(
            client.apply_schema_update().await.unwrap(),
            Default::default()
        );
    }
}

#[tokio::test]
async fn an_update_command_installs_the_version_and_reloads() {
    for era in ERAS {
        let (instance, dir, unit, client) = setup(era, "upd-cmd").await;
        let from = client.settings().current().commit_version.clone();
        set_main_py(&instance, &unit, "print(2)\n");
        instance.set_env_var(&unit, "PU_MQTT_PORT", 1999).unwrap();

        let outcome = client.apply_update_command(&command(COMMIT)).await.unwrap();
        let UpdateOutcome::Applied(applied) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            (applied.from_version.as_str(), applied.to_version.as_str()),
            (from.as_str(), COMMIT)
        );
        assert_eq!(
            std::fs::read_to_string(unit.dir().join("src/main.py")).unwrap(),
            "print(2)\n"
        );
        assert!(
            applied
                .files
                .added
                .iter()
                .any(|p| p.ends_with("src/main.py"))
        );
        assert_eq!(client.settings().current().commit_version, COMMIT);
        assert!(applied.env.needs_reconnect(), "{:?}", applied.env);
        assert!(
            applied
                .env
                .changed_keys
                .contains(&"PU_COMMIT_VERSION".to_string())
        );
        assert_eq!(applied.executable, None);
        assert_eq!(
            std::fs::read_dir(unit.dir()).unwrap().count(),
            3,
            "env, schema, src: no leftovers"
        );

        // The same version again is skipped; with the check off it is applied again.
        let again = client.apply_update_command(&command(COMMIT)).await.unwrap();
        assert_eq!(
            again,
            UpdateOutcome::UpToDate {
                version: COMMIT.into()
            }
        );
        let unchecked = self::client(
            &unit,
            &dir,
            RestOptions {
                check_version: false,
                ..fast()
            },
        );
        assert!(matches!(
            unchecked
                .apply_update_command(&command(COMMIT))
                .await
                .unwrap(),
            UpdateOutcome::Applied(_)
        ));
        let log: Vec<String> = log_lines(&client);
        assert!(
            log.iter()
                .any(|l| l.starts_with(&format!("Update to {COMMIT} applied"))),
            "{log:?}"
        );
        assert!(
            log.iter().any(|l| l.starts_with("No update needed")),
            "{log:?}"
        );
    }
}

#[tokio::test]
async fn a_failed_update_leaves_the_program_as_it_was() {
    let instance = instance(BackendEra::V1_1).await;
    let dir = TempDir::new("upd-fail");
    let unit = unit(&instance, &dir).await;
    std::fs::create_dir(unit.dir().join("src")).unwrap();
    std::fs::write(unit.dir().join("src/main.py"), "print(1)\n").unwrap();
    let client = client(&unit, &dir, fast());
    let before = snapshot(unit.dir());
    let commit_before = client.settings().current().commit_version.clone();
    set_main_py(&instance, &unit, "print(2)\n");

    // The archive download fails (three times: the try and its two retries).
    for _ in 0..3 {
        instance.fail_next("/units/firmware/", 500, r#"{"detail": "500: boom"}"#);
    }
    let error = client
        .apply_update_command(&command(COMMIT))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Backend { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(snapshot(unit.dir()), before);

    // The archive's env.json would not load: refused before anything is swapped in.
    instance
        .set_env_var(&unit, "PU_MQTT_PORT", "not a port")
        .unwrap();
    let error = client
        .apply_update_command(&command(COMMIT))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("the archive's env.json"),
        "{error}"
    );
    assert_eq!(snapshot(unit.dir()), before);
    assert_eq!(client.settings().current().commit_version, commit_before);

    let log: Vec<String> = log_lines(&client);
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with(&format!("Update to {COMMIT} failed")))
            .count(),
        2,
        "{log:?}"
    );
}

#[test]
fn update_commands_parse_both_version_keys() -> Result<()> {
    let current = UpdateCommand::parse(br#"{"COMMAND": "Update", "PU_COMMIT_VERSION": "abc", "COMPILED_FIRMWARE_LINK": "http://x/bin"}"#)?;
    assert_eq!(current.version.as_deref(), Some("abc"));
    assert_eq!(
        current.compiled_firmware_link.as_deref(),
        Some("http://x/bin")
    );
    let legacy = UpdateCommand::parse(br#"{"COMMAND": "Update", "NEW_COMMIT_VERSION": "def"}"#)?;
    assert_eq!(legacy.version.as_deref(), Some("def"));
    // Empty is malformed too (PROTOCOL §5: JSON payloads), as the MQTT runtime, which uses this
    // parser, has always treated it; so is a COMMAND naming another command.
    for bad in [
        &b"[1]"[..],
        b"{\"PU_COMMIT_VERSION\": 5}",
        b"{not json",
        b"",
        b" ",
        b"{\"COMMAND\": \"EnvUpdate\"}",
    ] {
        assert!(matches!(
            UpdateCommand::parse(bad),
            Err(Error::InvalidJson { .. })
        ));
    }
    Ok(())
}

#[tokio::test]
async fn firmware_downloads_are_checked_executables() {
    let (instance, dir, unit, client) = setup(BackendEra::V1_1, "upd-firmware").await;
    let this_binary = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    instance
        .set_program(&unit, COMMIT, program(&[]), Some(this_binary.clone()))
        .unwrap();
    let url = instance.compiled_binary_url(&unit).unwrap();
    let dest = dir.path().join("firmware");
    let bytes = client.download_firmware(&url, &dest).await.unwrap();
    assert_eq!(bytes, this_binary.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), this_binary);
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o755
    );

    for (body, reason) in [
        (b"<html>not found</html>".to_vec(), "not an ELF"),
        (Vec::new(), "empty"),
        (this_binary[..10].to_vec(), "too short"),
    ] {
        instance
            .set_program(&unit, COMMIT, program(&[]), Some(body))
            .unwrap();
        let dest = dir.path().join("bad-firmware");
        let error = client.download_firmware(&url, &dest).await.unwrap_err();
        assert!(error.to_string().contains(reason), "{error}");
        assert!(!dest.exists());
    }
    // A link that is not there: a typed 404, nothing written.
    let error = client
        .download_firmware(&format!("{url}-gone"), &dest)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Backend { status: 404, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_client_with_an_update_key_downloads_only_binaries_signed_for_the_commit() {
    let (instance, dir, unit, keyless) = setup(BackendEra::V1_1, "upd-signed-firmware").await;
    let key = UpdateKey::from_minisign(&instance.update_key().unwrap()).unwrap();
    let client = PepeunitClient::builder(
        unit.env_path(),
        unit.schema_path(),
        dir.path().join("log.json"),
    )
    .rest(true)
    .rest_options(fast())
    .restart_mode(RestartMode::None)
    .update_key(key)
    .build()
    .unwrap();
    let binary = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let asset = "unit-x86_64-unknown-linux-gnu";
    let publish = |release| {
        instance
            .publish_signed(&unit, COMMIT, asset, binary.clone(), release)
            .unwrap()
    };
    publish(Release::Signed);
    let url = instance.compiled_binary_url(&unit).unwrap();
    let dest = dir.path().join("firmware");
    let refused = |error: Error, reason: &str| {
        assert!(
            matches!(&error, Error::Signature { reason: r, .. } if r.contains(reason)),
            "{error}"
        );
        assert!(!dest.exists(), "{error}");
    };

    // The key makes the unsigned path a refusal; the signed one takes the release of this commit.
    refused(
        client.download_firmware(&url, &dest).await.unwrap_err(),
        "runs only signed binaries",
    );
    let bytes = client
        .download_signed_firmware(&url, &dest, COMMIT)
        .await
        .unwrap();
    assert_eq!(bytes, binary.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), binary);
    std::fs::remove_file(&dest).unwrap();

    // Signed for another commit, tampered, unsigned: refused, nothing left at dest.
    let other = "0123456789012345678901234567890123456789";
    for (release, commit, reason) in [
        (Release::Signed, other, "signed for commit"),
        (Release::Tampered, COMMIT, "bad signature"),
        (Release::Unsigned, COMMIT, "missing"),
    ] {
        publish(release);
        let error = client.download_signed_firmware(&url, &dest, commit).await;
        refused(error.unwrap_err(), reason);
    }

    // A client without a key cannot check a signature.
    publish(Release::Signed);
    refused(
        keyless
            .download_signed_firmware(&url, &dest, COMMIT)
            .await
            .unwrap_err(),
        "no update_key",
    );
}
