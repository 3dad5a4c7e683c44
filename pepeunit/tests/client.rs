//! `PepeunitClient`: the seed's file operations, each with its reload, on real files in temp dirs.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use pepeunit::client::PepeunitClient;
use pepeunit::update::RestartMode;
use pepeunit::{Error, LogLevel};
use serde_json::Value;
use support::{TempDir, vector};

struct Unit {
    dir: TempDir,
    client: PepeunitClient,
}

impl Unit {
    /// A unit built from the vector env/schema, with env.json's values changed by `edit`.
    fn new(tag: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Unit {
        let dir = TempDir::new(tag);
        let mut env: serde_json::Map<String, Value> =
            serde_json::from_slice(&fs::read(vector("env/env_current.json")).unwrap()).unwrap();
        edit(&mut env);
        fs::write(
            dir.path().join("env.json"),
            serde_json::to_vec(&env).unwrap(),
        )
        .unwrap();
        dir.copy_vector("schema/schema.json", "schema.json");
        let client = PepeunitClient::builder(
            dir.path().join("env.json"),
            dir.path().join("schema.json"),
            dir.path().join("log.json"),
        )
        .restart_mode(RestartMode::ReloadOnly)
        .build()
        .unwrap();
        Unit { dir, client }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` as a new file outside the unit's own files.
    fn new_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        path
    }
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap()
}

#[test]
fn build_names_the_invalid_file() {
    let dir = TempDir::new("client-bad-build");
    fs::write(
        dir.path().join("env.json"),
        r#"{"PU_MQTT_PORT": "not a port"}"#,
    )
    .unwrap();
    dir.copy_vector("schema/schema.json", "schema.json");
    let err = PepeunitClient::builder(
        dir.path().join("env.json"),
        dir.path().join("schema.json"),
        dir.path().join("log.json"),
    )
    .build()
    .err()
    .expect("an invalid env.json must be refused");
    let text = err.to_string();
    assert!(
        text.contains("env.json") && text.contains("PU_MQTT_PORT"),
        "{text}"
    );
}

#[test]
fn invalid_new_env_is_refused_and_nothing_changes() {
    let unit = Unit::new("client-env-bad", |_| {});
    let before = read(&unit.path("env.json"));
    let bad = unit.new_file("new_env.json", r#"{"PU_MIN_LOG_LEVEL": "Verbose"}"#);
    let err = unit.client.update_env_from_file(&bad).unwrap_err();
    assert!(
        matches!(err, Error::InvalidSetting { ref key, .. } if key == "PU_MIN_LOG_LEVEL"),
        "{err}"
    );
    assert_eq!(read(&unit.path("env.json")), before);
    assert_eq!(
        unit.client.settings().current().min_log_level,
        LogLevel::Debug
    );
}

#[test]
fn new_env_replaces_the_file_and_is_applied_everywhere() {
    let unit = Unit::new("client-env-ok", |_| {});
    let mut env: serde_json::Map<String, Value> =
        serde_json::from_slice(&read(&vector("env/env_legacy_0_10.json"))).unwrap();
    env.insert("PU_MIN_LOG_LEVEL".into(), "Warning".into());
    env.insert("PU_MQTT_PORT".into(), 1884.into());
    let new_env = unit.new_file("new_env.json", &serde_json::to_string(&env).unwrap());

    unit.client.update_env_from_file(&new_env).unwrap();

    assert_eq!(read(&unit.path("env.json")), read(&new_env));
    assert_eq!(unit.client.settings().current().mqtt_port, 1884);
    // The logger follows the new minimum level.
    unit.client.logger().info("below the new minimum");
    unit.client.logger().warning("at the new minimum");
    let texts: Vec<String> = unit
        .client
        .logger()
        .get_full_log()
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(texts, ["at the new minimum"]);
}

#[test]
fn the_logger_follows_a_reload_of_env_json_made_through_the_settings() {
    let unit = Unit::new("client-env-reload", |_| {});
    let mut env: serde_json::Map<String, Value> =
        serde_json::from_slice(&read(&unit.path("env.json"))).unwrap();
    env.insert("PU_MIN_LOG_LEVEL".into(), "Error".into());
    env.insert("PU_MAX_LOG_LENGTH".into(), 2.into());
    fs::write(unit.path("env.json"), serde_json::to_vec(&env).unwrap()).unwrap();

    // Not through the client's own update methods: the user's code reloads the settings.
    unit.client.settings().update_from_file().unwrap();

    let logger = unit.client.logger();
    logger.warning("below the new minimum");
    for n in 1..=3 {
        logger.error(format!("error {n}"));
    }
    let texts: Vec<String> = logger.get_full_log().into_iter().map(|e| e.text).collect();
    assert_eq!(
        texts,
        ["error 2", "error 3"],
        "min level Error, 2 lines kept"
    );
}

#[test]
fn invalid_new_schema_is_refused_and_valid_one_is_applied() {
    let unit = Unit::new("client-schema", |_| {});
    let before = read(&unit.path("schema.json"));
    let bad = unit.new_file(
        "bad_schema.json",
        r#"{"input_topic": ["not", "an", "object"]}"#,
    );
    assert!(unit.client.update_schema_from_file(&bad).is_err());
    assert_eq!(read(&unit.path("schema.json")), before);
    assert!(!unit.client.schema().current().input_topic().is_empty());

    let minimal = vector("schema/schema_minimal.json");
    unit.client.update_schema_from_file(&minimal).unwrap();
    assert_eq!(read(&unit.path("schema.json")), read(&minimal));
    let topics = unit.client.schema().current();
    assert!(topics.input_topic().is_empty());
    assert!(topics.output_topic().contains_key("output/pepeunit"));
}

#[test]
fn new_log_replaces_the_log() {
    let unit = Unit::new("client-log", |_| {});
    unit.client.logger().info("before");
    unit.client
        .update_log_from_file(&vector("log/log_legacy_array.json"))
        .unwrap();
    let expected: Vec<Value> =
        serde_json::from_slice(&read(&vector("log/log_legacy_array.json"))).unwrap();
    let log = unit.client.logger().get_full_log();
    assert_eq!(log.len(), expected.len());
    assert_eq!(log[0].text, expected[0]["text"].as_str().unwrap());
}

#[test]
fn update_applies_the_archive_and_reloads_env_and_schema() {
    let unit = Unit::new("client-update", |env| {
        env.insert("PU_COMMIT_VERSION".into(), "old-version".into());
    });
    unit.client
        .update_device_program(&vector("archives/update.zip"))
        .unwrap();

    let applied: Value = serde_json::from_slice(&read(&unit.path("env.json"))).unwrap();
    let new_version = applied["PU_COMMIT_VERSION"].as_str().unwrap();
    assert_ne!(new_version, "old-version");
    assert_eq!(unit.client.settings().current().commit_version, new_version);
    assert_eq!(
        unit.client.get_system_state().pu_commit_version,
        new_version
    );
    assert!(unit.path("bin/run.sh").is_file());
    let log = unit.client.logger().get_full_log();
    assert!(
        log.iter().any(|e| e.text.starts_with("Update applied")),
        "{log:?}"
    );
}

#[test]
fn failed_update_is_logged_and_changes_nothing() {
    let unit = Unit::new("client-update-bad", |_| {});
    let env_before = read(&unit.path("env.json"));
    let err = unit
        .client
        .update_device_program(&vector("archives/truncated_wbits9.tgz"))
        .unwrap_err();
    assert!(matches!(err, Error::Archive { .. }), "{err}");
    assert_eq!(read(&unit.path("env.json")), env_before);
    assert!(!unit.path("main.py").exists());
    let log = unit.client.logger().get_full_log();
    let last = log.last().unwrap();
    assert_eq!(last.level, LogLevel::Error);
    assert!(last.text.contains("truncated_wbits9.tgz"), "{}", last.text);
}
