//! Secrets never leak: one run drives every error path a unit can reach on the local instance — 403s
//! and 500s from the backend, a token the backend never issued (REST and MQTT), malformed tokens and
//! keys, failed downloads, refused archives, bad command payloads, TLS against plain ports (REST and
//! MQTT) — and then searches everything that left the library for the unit token, `PU_SECRET_KEY` and
//! `PU_ENCRYPT_KEY`: log.json, every MQTT message on the broker (log/pepeunit included), every error's
//! `Display` and `Debug`, every panic message.
//!
//! The forged token meets both refusals: the backend's (403) and the broker's at CONNECT (the
//! instance's link holds units to the production broker's rules).

mod support;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pepeunit::Command;
use pepeunit::backoff::Backoff;
use pepeunit::cipher::{Cipher, aes_gcm_decode};
use pepeunit::client::PepeunitClient;
use pepeunit::mqtt::MqttConfig;
use pepeunit::settings::Env;
use pepeunit::update::RestartMode;
use pepeunit_testkit::{Instance, ProgramSource, UnitSpec};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use support::TempDir;

/// Runs the main cycle of a unit on the files in `dir` for 2 s, retrying its connection fast; the error
/// it ends with, if any, is seen as `what`.
async fn try_mqtt_for_2_s(dir: &Path, tls: bool, seen: &mut Seen, what: &str) {
    let (env, schema, log) = unit_files(dir);
    let client = PepeunitClient::builder(env, schema, log)
        .mqtt(true)
        .restart_mode(RestartMode::None)
        .mqtt_config(MqttConfig {
            tls: Some(tls),
            backoff: Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_millis(200),
            },
            handle_signals: false,
            ..MqttConfig::default()
        })
        .build()
        .unwrap();
    let cycle = support::spawn_main_cycle(&client);
    tokio::time::sleep(Duration::from_secs(2)).await;
    client.stop_main_cycle().unwrap();
    if let Ok(Ok(Err(err))) = tokio::time::timeout(WAIT, cycle).await {
        seen.error(what, Err::<(), _>(err));
    }
}

/// Raw key material made to be found: no log line, message or error has any reason to hold them.
const SECRET_KEY_RAW: &[u8; 32] = b"SECRETKEY-zq8XwV3pLm7RtY2uNb5cQ4";
const ENCRYPT_KEY_RAW: &[u8; 32] = b"ENCRYPTKEY-k9Tq2Wm8Xp4Lz7Rv3Ny6B";
const FORGED_SIGNATURE: &str = "FORGEDSIGNATURE-Vq7Lm2Xz9Kp4Wt8Rn3Yb6";
const MALFORMED_TOKEN: &str = "MALFORMEDTOKEN-Jd4Hs8Qw2Ez6Rt1Yu5Io9";
const WAIT: Duration = Duration::from_secs(30);

/// Everything that left the library during the run.
#[derive(Default)]
struct Seen {
    errors: Vec<pepeunit::Error>,
    shown: Vec<String>,
}

impl Seen {
    /// Records the error `result` must be; `what` names the path, for the failure message.
    fn error<T: std::fmt::Debug>(&mut self, what: &str, result: pepeunit::Result<T>) -> String {
        let err = match result {
            Err(err) => err,
            Ok(value) => panic!("{what}: expected an error, got {value:?}"),
        };
        let shown = format!("{what}: {err} | {err:?}");
        self.shown.push(shown.clone());
        self.errors.push(err);
        shown
    }
}

fn unit_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("env.json"),
        dir.join("schema.json"),
        dir.join("log.json"),
    )
}

/// A copy of the unit's files in `dir`, with `edit` applied to env.json.
fn variant(from: &Path, dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let (env, schema, _) = unit_files(from);
    let mut value: Value = serde_json::from_slice(&std::fs::read(env).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(dir.join("env.json"), value.to_string()).unwrap();
    std::fs::copy(schema, dir.join("schema.json")).unwrap();
    dir.to_path_buf()
}

fn rest_client(dir: &Path) -> PepeunitClient {
    let (env, schema, log) = unit_files(dir);
    PepeunitClient::builder(env, schema, log)
        .rest(true)
        .rest_options(support::fast_retries())
        .build()
        .unwrap()
}

/// Waits until log.json in `dir` has a line holding every one of `words`.
async fn wait_log(dir: &Path, words: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = std::fs::read_to_string(dir.join("log.json")).unwrap_or_default();
        if log.lines().any(|l| words.iter().all(|w| l.contains(w))) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "log.json never had {words:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Subscribes to `#` and keeps every message the broker routes, whoever sent it.
async fn spy(instance: &Instance) -> Arc<Mutex<Vec<(String, Vec<u8>)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut options = MqttOptions::new("secrets-spy", instance.mqtt_host(), instance.mqtt_port());
    options.set_max_packet_size(1024 * 1024, 1024 * 1024);
    // The backend's identity: the link refuses `#` to anyone else.
    let (user, password) = instance.backend_credentials();
    options.set_credentials(user, password);
    let (client, mut events) = AsyncClient::new(options, 64);
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let record = seen.clone();
    tokio::spawn(async move {
        let _client = client.clone();
        client.subscribe("#", QoS::AtMostOnce).await.unwrap();
        let mut subscribed = Some(subscribed_tx);
        while let Ok(event) = events.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    subscribed.take().map(|tx| tx.send(()));
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let topic = p.topic.clone();
                    record.lock().unwrap().push((topic, p.payload.to_vec()));
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(WAIT, subscribed_rx)
        .await
        .expect("the spy never subscribed")
        .unwrap();
    seen
}

/// What a unit does with a result it does not expect to fail.
fn unwrap(result: pepeunit::Result<()>) {
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_path_leaks_the_token_or_the_keys() {
    let panics = Arc::new(Mutex::new(Vec::<String>::new()));
    let hook_panics = panics.clone();
    std::panic::set_hook(Box::new(move |info| {
        hook_panics.lock().unwrap().push(info.to_string());
    }));

    let secret_key = STANDARD.encode(SECRET_KEY_RAW);
    let encrypt_key = STANDARD.encode(ENCRYPT_KEY_RAW);
    let instance = support::mosquitto_instance().await;
    let tmp = TempDir::new("secrets");
    let spec = UnitSpec::new("secrets", tmp.path().join("unit"))
        .with_env("PU_SECRET_KEY", secret_key.clone())
        .with_env("PU_ENCRYPT_KEY", encrypt_key.clone())
        .with_env("PU_MAX_LOG_LENGTH", 100_000);
    let unit = instance.create_unit(spec).await.unwrap();
    let token = unit.token().to_owned();
    let signature = token.rsplit('.').next().unwrap().to_owned();
    let forged = format!("{}.{FORGED_SIGNATURE}", token.rsplit_once('.').unwrap().0);
    let secrets: Vec<(&str, String)> = vec![
        ("the token", token.clone()),
        ("the token's signature", signature),
        ("the forged token's signature", FORGED_SIGNATURE.into()),
        ("the malformed token", MALFORMED_TOKEN.into()),
        ("PU_SECRET_KEY", secret_key.clone()),
        ("PU_ENCRYPT_KEY", encrypt_key.clone()),
        (
            "PU_SECRET_KEY's bytes",
            String::from_utf8(SECRET_KEY_RAW.to_vec()).unwrap(),
        ),
        (
            "PU_ENCRYPT_KEY's bytes",
            String::from_utf8(ENCRYPT_KEY_RAW.to_vec()).unwrap(),
        ),
    ];
    // The search can find them: env.json holds the three.
    let env_text = std::fs::read_to_string(unit.env_path()).unwrap();
    for needle in [&token, &secret_key, &encrypt_key] {
        assert!(env_text.contains(needle.as_str()));
    }
    let messages = spy(&instance).await;
    let mut seen = Seen::default();
    let unit_dir = unit.dir().to_path_buf();

    // The unit, MQTT and REST on: commands run through the REST layer.
    let (env, schema, log) = unit_files(&unit_dir);
    let client = PepeunitClient::builder(env, schema, log)
        .mqtt(true)
        .rest(true)
        .rest_options(support::fast_retries())
        .restart_mode(RestartMode::None)
        .build()
        .unwrap();
    let cycle = support::spawn_main_cycle(&client);
    assert!(
        instance.wait_for_state(&unit, WAIT).await.is_some(),
        "no state"
    );

    // The backend refusing: 403 on each kind of call, 500 through every retry, 422.
    let forbidden = r#"{"detail": "403: Forbidden"}"#;
    let internal = r#"{"detail": "500: Internal Server Error"}"#;
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    for route in [
        "/units/env/",
        "/units/get_current_schema/",
        "/units/get_target_version/",
    ] {
        instance.fail_next(route, 403, forbidden);
    }
    seen.error(
        "env 403",
        client.download_env(&scratch.join("env.json")).await,
    );
    seen.error(
        "schema 403",
        client.download_schema(&scratch.join("s.json")).await,
    );
    seen.error("target version 403", client.get_target_version().await);
    instance.fail_next("/units/set_state_storage/", 403, forbidden);
    seen.error("POST 403", client.set_state_storage("state").await);
    for _ in 0..3 {
        instance.fail_next("/units/get_state_storage/", 500, internal);
    }
    seen.error("500 after retries", client.get_state_storage().await);
    instance.fail_next("/units/env/", 200, "{\"PU_AUTH_TOKEN\": ");
    seen.error(
        "broken env body",
        client.download_env(&scratch.join("env.json")).await,
    );

    // Failed downloads: a 404 archive, a garbage archive, a firmware link that leads nowhere.
    instance.fail_next("/units/firmware/", 404, r#"{"detail": "404: Not Found"}"#);
    seen.error(
        "archive 404",
        client.download_update(&scratch.join("u.tgz")).await,
    );
    instance.fail_next("/units/firmware/", 200, b"not an archive at all".to_vec());
    let garbage = scratch.join("garbage.tgz");
    client.download_update(&garbage).await.unwrap();
    seen.error("garbage archive", client.update_device_program(&garbage));
    let nowhere = format!("{}/nowhere/firmware", instance.instance_url());
    seen.error(
        "firmware 404",
        client
            .download_firmware(&nowhere, &scratch.join("fw"))
            .await,
    );

    // The same through MQTT commands: the unit logs each failure and publishes it on log/pepeunit.
    instance.fail_next("/units/env/", 403, forbidden);
    instance
        .send_command(&unit, Command::EnvUpdate)
        .await
        .unwrap();
    wait_log(&unit_dir, &["Error", "403"]).await;
    instance.fail_next("/units/get_current_schema/", 500, internal);
    instance.fail_next("/units/get_current_schema/", 500, internal);
    instance.fail_next("/units/get_current_schema/", 500, internal);
    instance
        .send_command(&unit, Command::SchemaUpdate)
        .await
        .unwrap();
    wait_log(&unit_dir, &["Error", "500"]).await;
    instance
        .set_program(
            &unit,
            "v2",
            ProgramSource::Files(vec![("main.py".into(), b"print(2)\n".to_vec())]),
            None,
        )
        .unwrap();
    instance.fail_next("/units/firmware/", 200, b"\x78\x9c garbage".to_vec());
    instance.send_command(&unit, Command::Update).await.unwrap();
    wait_log(&unit_dir, &["Error", "archive"]).await;
    let schema_json: Value =
        serde_json::from_slice(&std::fs::read(unit.schema_path()).unwrap()).unwrap();
    let command_topic = |name: &str| {
        schema_json["input_base_topic"][name][0]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let firmware_update = json!({
        "COMMAND": "Update",
        "PU_COMMIT_VERSION": "v3",
        "COMPILED_FIRMWARE_LINK": nowhere,
    });
    instance
        .publish(
            &command_topic("update/pepeunit"),
            firmware_update.to_string(),
        )
        .await
        .unwrap();
    wait_log(&unit_dir, &["Error", "404"]).await;
    for payload in [&b"not json"[..], br#"{"COMMAND": 5}"#, b"\xff\xfe"] {
        instance
            .publish(&command_topic("env_update/pepeunit"), payload)
            .await
            .unwrap();
    }
    wait_log(&unit_dir, &["Error", "command ignored", "not UTF-8"]).await;

    // Bad tokens: one the backend never issued (REST refuses it) and malformed ones.
    let forged_dir = variant(&unit_dir, &tmp.path().join("forged"), |env| {
        env["PU_AUTH_TOKEN"] = json!(forged);
    });
    let forged_client = rest_client(&forged_dir);
    seen.error(
        "forged token",
        forged_client.download_env(&scratch.join("f.json")).await,
    );
    seen.error("forged token", forged_client.get_target_version().await);
    for bad in [
        MALFORMED_TOKEN.to_owned(),
        format!("a.{MALFORMED_TOKEN}.c"),
        format!("{MALFORMED_TOKEN}.{MALFORMED_TOKEN}"),
    ] {
        let text = json!({"PU_AUTH_TOKEN": bad}).to_string();
        let env = Env::parse(&text, "env.json").unwrap();
        seen.error("malformed token", env.unit_uuid());
        seen.error("token as a number", env.get::<u32>("PU_AUTH_TOKEN"));
    }
    let env = client.settings().current();
    seen.error("secret key as a bool", env.get::<bool>("PU_SECRET_KEY"));
    seen.error("encrypt key as bytes", env.get::<Vec<u8>>("PU_ENCRYPT_KEY"));
    for (key, value) in [
        ("PU_AUTH_TOKEN", json!({"token": token})),
        ("PU_SECRET_KEY", json!([secret_key])),
        ("PU_ENCRYPT_KEY", json!({"k": encrypt_key})),
    ] {
        let text = json!({ key: value }).to_string();
        seen.error("secret of the wrong type", Env::parse(&text, "env.json"));
        let bad_env = scratch.join("bad-env.json");
        std::fs::write(&bad_env, &text).unwrap();
        seen.error("env update refused", client.update_env_from_file(&bad_env));
    }

    // Keys that are no AES key, and ciphertexts that do not decrypt under the real one.
    seen.error("secret key as a cipher key", Cipher::new(&secret_key[..40]));
    seen.error("key with junk", Cipher::new(&format!("{encrypt_key}!")));
    seen.error(
        "decrypt garbage",
        aes_gcm_decode("bm9uY2U=.Z2FyYmFnZQ==", &encrypt_key),
    );
    let sealed = Cipher::new(&encrypt_key).unwrap().encrypt(b"x").unwrap();
    seen.error("wrong key", aes_gcm_decode(&sealed, &secret_key));

    // TLS against plain ports: REST over https to the HTTP port, MQTT with TLS to the plain broker.
    let https_dir = variant(&unit_dir, &tmp.path().join("https"), |env| {
        env["PU_HTTP_TYPE"] = json!("https");
    });
    seen.error(
        "https to a plain port",
        rest_client(&https_dir).get_target_version().await,
    );
    try_mqtt_for_2_s(&https_dir, true, &mut seen, "mqtts to a plain port").await;

    // The broker refusing the forged token at CONNECT.
    try_mqtt_for_2_s(&forged_dir, false, &mut seen, "forged token at CONNECT").await;
    wait_log(&forged_dir, &["Error", "refused by the broker"]).await;

    // The whole log goes out once more through log_sync, then the unit stops.
    instance
        .send_command(&unit, Command::LogSync)
        .await
        .unwrap();
    wait_log(&unit_dir, &["Log sync completed"]).await;
    support::stop_main_cycle(&client, cycle).await;

    // Panic messages: every error as a unit that `unwrap`s it would show it (its Debug), beside any
    // panic of the library itself during the run.
    for err in std::mem::take(&mut seen.errors) {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| unwrap(Err(err))));
    }
    let _ = std::panic::take_hook();

    // Everything that left the library.
    let mut logs = String::new();
    for dir in [&unit_dir, &forged_dir, &https_dir] {
        logs += &std::fs::read_to_string(dir.join("log.json")).unwrap_or_default();
    }
    let published: Vec<String> = messages
        .lock()
        .unwrap()
        .iter()
        .map(|(topic, payload)| format!("{topic} {}", String::from_utf8_lossy(payload)))
        .collect();
    let panics = panics.lock().unwrap().clone();
    let places: [(&str, Vec<String>); 4] = [
        ("log.json", logs.lines().map(str::to_owned).collect()),
        ("an MQTT message", published.clone()),
        ("an error", seen.shown.clone()),
        ("a panic message", panics.clone()),
    ];
    for (place, texts) in &places {
        for (secret, value) in &secrets {
            if let Some(text) = texts.iter().find(|t| t.contains(value.as_str())) {
                panic!("{secret} is in {place}: {text}");
            }
        }
    }

    // The paths were really driven.
    let shown = seen.shown.join("\n");
    for expected in [
        "backend answered 403",
        "backend answered 500",
        "invalid unit token",
        "archive",
        "HTTP",
        "setting PU_SECRET_KEY",
        "cipher",
    ] {
        assert!(
            shown.contains(expected),
            "no error with {expected:?}:\n{shown}"
        );
    }
    let log_errors = logs.lines().filter(|l| l.contains("\"Error\"")).count();
    let log_messages = published
        .iter()
        .filter(|m| m.contains("log/pepeunit") && m.contains("Error"))
        .count();
    assert!(log_errors >= 6, "{log_errors} errors in log.json:\n{logs}");
    assert!(
        log_messages >= 6,
        "{log_messages} error messages on log/pepeunit"
    );
    assert!(panics.len() >= seen.shown.len(), "{panics:?}");
    println!(
        "secrets: {} errors, {} log.json lines ({log_errors} errors), {} MQTT messages, {} panic messages searched for {} secrets",
        seen.shown.len(),
        logs.lines().count(),
        published.len(),
        panics.len(),
        secrets.len()
    );
}
