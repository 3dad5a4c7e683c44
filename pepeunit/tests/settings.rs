//! env.json (PROTOCOL §1) and the unit token (§2) against the interop vectors.

mod support;

use std::collections::HashSet;

use pepeunit::settings::{Env, Settings};
use pepeunit::{Error, LogLevel};
use serde_json::{Map, Value, json};
use support::{TempDir, unit_uuid_from_token, vector};

/// The legacy names of PROTOCOL §1, current name first.
const LEGACY: [(&str, &[&str]); 15] = [
    ("PU_DOMAIN", &["PEPEUNIT_URL"]),
    ("PU_HTTP_TYPE", &["HTTP_TYPE"]),
    ("PU_APP_PREFIX", &["PEPEUNIT_APP_PREFIX"]),
    ("PU_API_ACTUAL_PREFIX", &["PEPEUNIT_API_ACTUAL_PREFIX"]),
    ("PU_MQTT_HOST", &["MQTT_URL"]),
    ("PU_MQTT_PORT", &["MQTT_PORT"]),
    ("PU_AUTH_TOKEN", &["PEPEUNIT_TOKEN"]),
    ("PU_SECRET_KEY", &["SECRET_KEY"]),
    ("PU_ENCRYPT_KEY", &["SYNC_ENCRYPT_KEY"]),
    ("PU_MQTT_PING_INTERVAL", &["PING_INTERVAL"]),
    ("PU_MQTT_KEEPALIVE", &[]),
    ("PU_STATE_SEND_INTERVAL", &["STATE_SEND_INTERVAL"]),
    ("PU_MIN_LOG_LEVEL", &["MIN_LOG_LEVEL", "MINIMAL_LOG_LEVEL"]),
    ("PU_MAX_LOG_LENGTH", &["MAX_LOG_LENGTH"]),
    ("PU_COMMIT_VERSION", &["COMMIT_VERSION"]),
];

fn read(rel: &str) -> String {
    std::fs::read_to_string(vector(rel)).unwrap()
}

fn raw(rel: &str) -> Map<String, Value> {
    serde_json::from_str(&read(rel)).unwrap()
}

fn env(rel: &str) -> Env {
    Env::parse(&read(rel), rel).unwrap()
}

/// Every typed field of `env` under the env.json key it stands for.
fn typed_fields(env: &Env) -> Vec<(&'static str, Value)> {
    vec![
        ("PU_DOMAIN", json!(env.domain)),
        ("PU_HTTP_TYPE", json!(env.http_type)),
        ("PU_APP_PREFIX", json!(env.app_prefix)),
        ("PU_API_ACTUAL_PREFIX", json!(env.api_actual_prefix)),
        ("PU_MQTT_HOST", json!(env.mqtt_host)),
        ("PU_MQTT_PORT", json!(env.mqtt_port)),
        ("PU_AUTH_TOKEN", json!(env.auth_token)),
        ("PU_SECRET_KEY", json!(env.secret_key)),
        ("PU_ENCRYPT_KEY", json!(env.encrypt_key)),
        ("PU_MQTT_PING_INTERVAL", json!(env.mqtt_ping_interval)),
        ("PU_MQTT_KEEPALIVE", json!(env.mqtt_keepalive)),
        ("PU_STATE_SEND_INTERVAL", json!(env.state_send_interval)),
        ("PU_MIN_LOG_LEVEL", json!(env.min_log_level.as_str())),
        ("PU_MAX_LOG_LENGTH", json!(env.max_log_length)),
        ("PU_COMMIT_VERSION", json!(env.commit_version)),
    ]
}

/// The file's value under `current` or its first legacy name present, as §1 reads it.
fn file_value<'a>(file: &'a Map<String, Value>, current: &str) -> Option<&'a Value> {
    let (_, legacy) = LEGACY.iter().find(|(name, _)| *name == current).unwrap();
    std::iter::once(&current)
        .chain(legacy.iter())
        .find_map(|key| file.get(*key))
}

/// A typed value equals the file's value, which may be a numeric string.
fn same(typed: &Value, in_file: &Value) -> bool {
    typed == in_file || in_file.as_str() == Some(typed.to_string().as_str())
}

/// Each typed field holds the file's value for its key (current or legacy name), or the default.
fn assert_read_from_file(rel: &str) {
    let parsed = env(rel);
    let defaults = Env::parse("{}", "defaults").unwrap();
    let file = raw(rel);
    for ((key, typed), (_, default)) in typed_fields(&parsed)
        .into_iter()
        .zip(typed_fields(&defaults))
    {
        match file_value(&file, key) {
            Some(in_file) => assert!(same(&typed, in_file), "{rel} {key}: {typed} vs {in_file}"),
            None => assert_eq!(typed, default, "{rel} {key} should take its default"),
        }
    }
}

fn assert_invalid_setting(result: pepeunit::Result<Env>, source: &str, want_key: &str) -> String {
    match result {
        Err(Error::InvalidSetting {
            source_name,
            key,
            reason,
        }) => {
            assert_eq!(source_name, source);
            assert_eq!(key, want_key, "{reason}");
            reason
        }
        other => panic!("{want_key}: expected InvalidSetting, got {other:?}"),
    }
}

#[test]
fn every_valid_token_gives_its_uuid_and_every_invalid_one_a_distinct_clean_error() {
    let tokens: Value = serde_json::from_str(&read("tokens/tokens.json")).unwrap();
    let valid = tokens["valid"].as_array().unwrap();
    assert!(!valid.is_empty());
    for case in valid {
        let token = case["token"].as_str().unwrap();
        assert_eq!(
            unit_uuid_from_token(token).unwrap(),
            case["uuid"].as_str().unwrap()
        );
    }
    let invalid = tokens["invalid"].as_array().unwrap();
    let mut reasons = HashSet::new();
    for case in invalid {
        let token = case["token"].as_str().unwrap();
        let note = &case["note"];
        let reason = match unit_uuid_from_token(token) {
            Err(Error::InvalidToken(reason)) => reason,
            other => panic!("{note}: expected InvalidToken, got {other:?}"),
        };
        if token.len() > 8 {
            let err = Error::InvalidToken(reason.clone());
            assert!(!err.to_string().contains(token), "{note}: {err}");
            for part in token.split('.').filter(|part| part.len() > 3) {
                assert!(
                    !reason.contains(part),
                    "{note}: reason {reason:?} shows a part"
                );
            }
        }
        reasons.insert(reason);
    }
    assert_eq!(
        reasons.len(),
        invalid.len(),
        "reasons are not distinct: {reasons:?}"
    );
}

#[test]
fn current_names_and_both_http_bodies_load_to_the_same_env() {
    assert_read_from_file("env/env_current.json");
    let from_file = Env::parse(&read("env/env_current.json"), "env").unwrap();
    for body in [
        "env/env_response_backend_1_0.json",
        "env/env_response_backend_1_1.json",
    ] {
        assert!(
            Env::parse(&read(body), "env").unwrap() == from_file,
            "{body}"
        );
    }
    // The 1.0 body really is the string shape.
    let body: Value = serde_json::from_str(&read("env/env_response_backend_1_0.json")).unwrap();
    assert!(body.is_string());
}

#[test]
fn legacy_names_fill_the_same_fields() {
    assert_read_from_file("env/env_legacy_0_10.json");
    let (legacy, current) = (env("env/env_legacy_0_10.json"), env("env/env_current.json"));
    let (legacy_file, current_file) =
        (raw("env/env_legacy_0_10.json"), raw("env/env_current.json"));
    let mut compared = 0;
    for ((key, from_legacy), (_, from_current)) in typed_fields(&legacy)
        .into_iter()
        .zip(typed_fields(&current))
    {
        if file_value(&legacy_file, key).is_some()
            && file_value(&legacy_file, key) == file_value(&current_file, key)
        {
            assert_eq!(from_legacy, from_current, "{key}");
            compared += 1;
        }
    }
    assert!(compared >= 5, "the vectors share only {compared} values");
    assert_eq!(legacy.unit_uuid().unwrap(), current.unit_uuid().unwrap());

    // Legacy names are no developer variables, and the standard keys read by their current name.
    let standard: HashSet<&str> = LEGACY
        .iter()
        .flat_map(|(c, l)| std::iter::once(c).chain(*l))
        .copied()
        .collect();
    let expected: Vec<&String> = legacy_file
        .keys()
        .filter(|k| !standard.contains(k.as_str()))
        .collect();
    assert_eq!(legacy.variables().keys().collect::<Vec<_>>(), expected);
    assert_eq!(legacy.get::<u16>("PU_MQTT_PORT").unwrap(), legacy.mqtt_port);
    assert_eq!(
        legacy.get::<LogLevel>("PU_MIN_LOG_LEVEL").unwrap(),
        legacy.min_log_level
    );
}

#[test]
fn numbers_may_be_numeric_strings() {
    let rel = "env/env_numeric_strings.json";
    let file = raw(rel);
    assert!(file["PU_MQTT_PORT"].is_string() && file["DELAY_PUB_MSG"].is_string());
    assert_read_from_file(rel);
    let parsed = env(rel);
    let delay: u32 = file["DELAY_PUB_MSG"].as_str().unwrap().parse().unwrap();
    assert_eq!(parsed.get::<u32>("DELAY_PUB_MSG").unwrap(), delay);
    assert_eq!(
        parsed.get::<String>("DELAY_PUB_MSG").unwrap(),
        delay.to_string()
    );
}

#[test]
fn absent_keys_take_the_protocol_defaults() {
    let env = Env::parse("{}", "empty").unwrap();
    assert_eq!(
        (
            env.domain.as_str(),
            env.http_type.as_str(),
            env.app_prefix.as_str()
        ),
        ("", "https", "")
    );
    assert_eq!(
        (env.api_actual_prefix.as_str(), env.mqtt_host.as_str()),
        ("", "")
    );
    assert_eq!(env.mqtt_port, 1883);
    assert!(env.auth_token.is_empty() && env.secret_key.is_empty() && env.encrypt_key.is_empty());
    assert_eq!(
        (
            env.mqtt_ping_interval,
            env.mqtt_keepalive,
            env.state_send_interval
        ),
        (20, 60, 300)
    );
    assert_eq!(env.min_log_level, LogLevel::Debug);
    assert_eq!(env.max_log_length, 64);
    assert_eq!(env.commit_version, "");
    assert!(env.variables().is_empty());
    assert_eq!(env.get::<u16>("PU_MQTT_PORT").unwrap(), 1883);
    assert_eq!(env.get::<String>("PU_HTTP_TYPE").unwrap(), "https");
    assert!(matches!(env.unit_uuid(), Err(Error::InvalidToken(_))));
}

#[test]
fn the_current_name_wins_over_legacy_ones() {
    let env = Env::parse(
        r#"{"MQTT_PORT": 1883, "PU_MQTT_PORT": 1884, "MIN_LOG_LEVEL": "Info",
            "MINIMAL_LOG_LEVEL": "Warning", "PU_MIN_LOG_LEVEL": "Error"}"#,
        "both",
    )
    .unwrap();
    assert_eq!((env.mqtt_port, env.min_log_level), (1884, LogLevel::Error));
    assert!(env.variables().is_empty(), "{:?}", env.variables());

    let legacy_only = Env::parse(r#"{"MINIMAL_LOG_LEVEL": "Warning"}"#, "old").unwrap();
    assert_eq!(legacy_only.min_log_level, LogLevel::Warning);
    let older_wins = Env::parse(
        r#"{"MINIMAL_LOG_LEVEL": "Warning", "MIN_LOG_LEVEL": "Info"}"#,
        "old",
    );
    assert_eq!(older_wins.unwrap().min_log_level, LogLevel::Info);
}

#[test]
fn wrong_types_and_impossible_values_name_the_key() {
    let cases = [
        (r#"{"PU_MQTT_PORT": "abc"}"#, "PU_MQTT_PORT"),
        (r#"{"PU_MQTT_PORT": 70000}"#, "PU_MQTT_PORT"),
        (r#"{"MQTT_PORT": "70000"}"#, "MQTT_PORT"),
        (r#"{"PU_MQTT_PING_INTERVAL": -5}"#, "PU_MQTT_PING_INTERVAL"),
        (
            r#"{"PU_STATE_SEND_INTERVAL": "-1"}"#,
            "PU_STATE_SEND_INTERVAL",
        ),
        (r#"{"PU_MAX_LOG_LENGTH": 1.5}"#, "PU_MAX_LOG_LENGTH"),
        (r#"{"PU_MQTT_KEEPALIVE": true}"#, "PU_MQTT_KEEPALIVE"),
        (r#"{"PU_MIN_LOG_LEVEL": "Verbose"}"#, "PU_MIN_LOG_LEVEL"),
        (r#"{"MINIMAL_LOG_LEVEL": 3}"#, "MINIMAL_LOG_LEVEL"),
        (r#"{"PU_DOMAIN": 5}"#, "PU_DOMAIN"),
        (r#"{"PU_AUTH_TOKEN": {"a": 1}}"#, "PU_AUTH_TOKEN"),
        (r#"{"PEPEUNIT_TOKEN": null}"#, "PEPEUNIT_TOKEN"),
    ];
    for (text, key) in cases {
        let reason = assert_invalid_setting(Env::parse(text, "env.json"), "env.json", key);
        assert!(!reason.is_empty());
    }
    for text in ["not json", "[1, 2]", "42", "\"[1]\"", "\"not json\"", ""] {
        match Env::parse(text, "body") {
            Err(Error::InvalidJson { source_name, .. }) => assert_eq!(source_name, "body"),
            other => panic!("{text}: expected InvalidJson, got {other:?}"),
        }
    }
    match Env::from_value(json!([1]), "value") {
        Err(Error::InvalidJson { source_name, .. }) => assert_eq!(source_name, "value"),
        other => panic!("expected InvalidJson, got {other:?}"),
    }
}

#[test]
fn secrets_never_show_in_debug_or_errors() {
    let text = read("env/env_current.json");
    let env = Env::parse(&text, "env.json").unwrap();
    let secrets = [&env.auth_token, &env.secret_key, &env.encrypt_key];
    assert!(secrets.iter().all(|s| s.len() > 8));

    let mut shown = vec![
        format!("{env:?}"),
        format!("{:?}", Settings::from_env(env.clone(), "env.json")),
    ];
    assert!(shown[0].contains("<redacted>"));
    let mut with_bad_port = raw("env/env_current.json");
    with_bad_port.insert("PU_MQTT_PORT".into(), json!("not a port"));
    let errors = [
        Env::from_value(Value::Object(with_bad_port), "env.json").unwrap_err(),
        Env::parse(&text[..text.len() / 2], "env.json").unwrap_err(),
        env.get::<u32>("PU_AUTH_TOKEN").unwrap_err(),
        env.get::<bool>("PU_SECRET_KEY").unwrap_err(),
        env.get::<Vec<u8>>("PU_ENCRYPT_KEY").unwrap_err(),
        unit_uuid_from_token(&format!("{}.x", env.auth_token)).unwrap_err(),
        unit_uuid_from_token(&env.auth_token.replace('.', "")).unwrap_err(),
    ];
    for err in errors {
        shown.push(err.to_string());
        shown.push(format!("{err:?}"));
    }
    for text in &shown {
        for secret in secrets {
            assert!(!text.contains(secret.as_str()), "a secret shows in {text}");
        }
        for part in env.auth_token.split('.').skip(1) {
            assert!(!text.contains(part), "a token part shows in {text}");
        }
    }
}

#[test]
fn developer_variables_read_as_the_wanted_type() {
    let rel = "env/env_example.json";
    let file = raw(rel);
    let env = env(rel);
    assert_eq!(env.variables(), &file);
    assert_eq!(
        env.get::<u64>("DELAY_PUB_MSG").unwrap(),
        file["DELAY_PUB_MSG"].as_u64().unwrap()
    );
    assert_eq!(
        env.get::<f64>("THRESHOLD").unwrap(),
        file["THRESHOLD"].as_f64().unwrap()
    );
    assert_eq!(
        env.get::<bool>("ENABLED").unwrap(),
        file["ENABLED"].as_bool().unwrap()
    );
    assert_eq!(
        env.get::<String>("SENSOR_NAME").unwrap(),
        file["SENSOR_NAME"].as_str().unwrap()
    );
    assert_eq!(
        env.get::<String>("THRESHOLD").unwrap(),
        file["THRESHOLD"].to_string()
    );

    match env.get::<u64>("NO_SUCH_VARIABLE") {
        Err(Error::MissingSetting(key)) => assert_eq!(key, "NO_SUCH_VARIABLE"),
        other => panic!("expected MissingSetting, got {other:?}"),
    }
    match env.get::<u64>("SENSOR_NAME") {
        Err(Error::InvalidSetting { key, reason, .. }) => {
            assert_eq!(key, "SENSOR_NAME");
            assert!(reason.contains("u64"), "{reason}");
        }
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
    assert_eq!(env.get_or("NO_SUCH_VARIABLE", 7u8), 7);
    assert_eq!(env.get_or("SENSOR_NAME", 7u8), 7);
    assert_eq!(
        env.get_or("DELAY_PUB_MSG", 0u64),
        file["DELAY_PUB_MSG"].as_u64().unwrap()
    );

    let strings = Env::parse(
        r#"{"ON": "true", "OFF": " false", "T": "21.5", "N": "5"}"#,
        "s",
    )
    .unwrap();
    assert!(strings.get::<bool>("ON").unwrap() && !strings.get::<bool>("OFF").unwrap());
    assert_eq!(strings.get::<f64>("T").unwrap(), 21.5);
    assert_eq!(strings.get::<u8>("N").unwrap(), 5);
    assert!(strings.get::<u8>("T").is_err() && strings.get::<bool>("N").is_err());
}

#[test]
fn base_url_joins_the_four_parts() {
    let file = raw("env/env_current.json");
    let part = |key: &str| file[key].as_str().unwrap().to_owned();
    assert_eq!(
        env("env/env_current.json").base_url(),
        format!(
            "{}://{}{}{}",
            part("PU_HTTP_TYPE"),
            part("PU_DOMAIN"),
            part("PU_APP_PREFIX"),
            part("PU_API_ACTUAL_PREFIX")
        )
    );
}

#[test]
fn a_broken_reload_keeps_the_old_env_and_a_valid_one_rederives_everything() {
    let dir = TempDir::new("settings-reload");
    let path = dir.copy_vector("env/env_current.json", "env.json");
    let settings = Settings::load(&path).unwrap();
    let reader = settings.clone();
    assert_eq!(settings.path(), path);
    let before = settings.current();
    let uuid_before = settings.unit_uuid().unwrap();
    let path_text = path.display().to_string();

    std::fs::write(&path, "{ \"PU_MQTT_PORT\": ").unwrap();
    let err = settings.update_from_file().unwrap_err();
    assert!(
        matches!(err, Error::InvalidJson { .. }) && err.to_string().contains(&path_text),
        "{err}"
    );
    assert!(settings.current() == before);

    std::fs::write(&path, r#"{"PU_MQTT_PORT": "abc"}"#).unwrap();
    let err = settings.update_from_file().unwrap_err();
    assert!(
        err.to_string().contains(&path_text) && err.to_string().contains("PU_MQTT_PORT"),
        "{err}"
    );
    assert!(settings.current() == before);

    std::fs::remove_file(&path).unwrap();
    let err = settings.update_from_file().unwrap_err();
    assert!(
        matches!(&err, Error::Io { path: p, .. } if *p == path),
        "{err}"
    );
    assert!(settings.current() == before);

    // A valid file with another token, port and level: everything derived follows.
    let tokens: Value = serde_json::from_str(&read("tokens/tokens.json")).unwrap();
    let other = tokens["valid"]
        .as_array()
        .unwrap()
        .iter()
        .find(|case| case["uuid"].as_str() != Some(uuid_before.as_str()))
        .unwrap();
    let new_level = if before.min_log_level == LogLevel::Error {
        LogLevel::Info
    } else {
        LogLevel::Error
    };
    let mut changed = raw("env/env_current.json");
    changed.insert("PU_AUTH_TOKEN".into(), other["token"].clone());
    changed.insert("PU_MQTT_PORT".into(), json!(before.mqtt_port + 1));
    changed.insert("PU_MIN_LOG_LEVEL".into(), json!(new_level.as_str()));
    std::fs::write(&path, serde_json::to_string(&changed).unwrap()).unwrap();
    settings.update_from_file().unwrap();

    assert_eq!(reader.unit_uuid().unwrap(), other["uuid"].as_str().unwrap());
    assert_eq!(reader.current().mqtt_port, before.mqtt_port + 1);
    assert_eq!(
        reader.get::<u16>("PU_MQTT_PORT").unwrap(),
        before.mqtt_port + 1
    );
    assert_eq!(reader.current().min_log_level, new_level);
    assert_eq!(
        before.unit_uuid().unwrap(),
        uuid_before,
        "an old snapshot stays as it was"
    );
}

#[test]
fn a_handle_can_start_from_an_env_and_take_a_replacement() {
    let dir = TempDir::new("settings-replace");
    let path = dir.path().join("env.json");
    let settings = Settings::from_env(Env::parse("{}", "defaults").unwrap(), &path);
    assert_eq!(settings.path(), path);
    assert!(settings.unit_uuid().is_err());

    settings.replace(env("env/env_current.json"));
    assert_eq!(
        settings.unit_uuid().unwrap(),
        env("env/env_current.json").unit_uuid().unwrap()
    );
    assert!(
        matches!(settings.update_from_file(), Err(Error::Io { .. })),
        "no file was written yet"
    );
    assert!(
        settings.unit_uuid().is_ok(),
        "the replacement stays after a failed reload"
    );
}
