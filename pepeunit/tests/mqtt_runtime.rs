//! The MQTT runtime against the testkit's real brokers: subscriptions and dispatch, publishing, the
//! broker restarting under a running unit, log_sync, state, guarded handlers, hostile command payloads,
//! the platform-command hook and stopping.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pepeunit::Command;
use pepeunit::backoff::Backoff;
use pepeunit::client::PepeunitClient;
use pepeunit::mqtt::MqttConfig;
use pepeunit::runtime::{AfterCommand, Handler, Message, PlatformCommand, PlatformCommands};
use pepeunit::update::RestartMode;
use pepeunit::{BoxFuture, Error};
use pepeunit_testkit::{BrokerKind, Instance, InstanceOptions, TestUnit, UnitSpec};
use serde_json::{Value, json};
use support::{TempDir, stop_cycle as stop};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);

async fn start(broker: BrokerKind, state_send_interval: u64) -> Instance {
    let instance = Instance::start(InstanceOptions {
        broker,
        state_send_interval,
        ..InstanceOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(instance.broker_kind(), broker);
    instance
}

fn schema(unit: &TestUnit) -> Value {
    serde_json::from_slice(&std::fs::read(unit.schema_path()).unwrap()).unwrap()
}

fn topic(unit: &TestUnit, section: &str, name: &str) -> String {
    schema(unit)[section][name][0].as_str().unwrap().to_string()
}

fn log_path(unit: &TestUnit) -> PathBuf {
    unit.dir().join("log.json")
}

fn builder(unit: &TestUnit) -> pepeunit::client::ClientBuilder {
    PepeunitClient::builder(unit.env_path(), unit.schema_path(), log_path(unit))
        .mqtt(true)
        .restart_mode(RestartMode::None)
}

/// The client's handler forwards every message here.
fn recording_client(
    unit: &TestUnit,
    config: MqttConfig,
) -> (PepeunitClient, mpsc::UnboundedReceiver<Message>) {
    let client = builder(unit).mqtt_config(config).build().unwrap();
    let rx = support::record_inputs(&client);
    (client, rx)
}

/// Runs the main cycle (no output) on a task.
fn run(client: &PepeunitClient) -> JoinHandle<pepeunit::Result<()>> {
    let client = client.clone();
    tokio::spawn(async move { client.run_main_cycle(|_| async {}).await })
}

/// Waits for the unit's first state: it is sent after the subscriptions, so the unit is ready.
async fn ready(instance: &Instance, unit: &TestUnit) {
    assert!(
        instance.wait_for_state(unit, WAIT).await.is_some(),
        "no state from the unit"
    );
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Message>) -> Message {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no message reached the handler")
        .unwrap()
}

/// Waits until log.json has a line containing every one of `parts`; returns the matching lines.
async fn wait_log(unit: &TestUnit, parts: &[&str], count: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(log_path(unit)).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_owned)
            .collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "log.json never had {count} lines with {parts:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn inputs_reach_the_handler_and_outputs_every_topic(broker: BrokerKind) {
    let instance = start(broker, 60).await;
    let (dir_a, dir_b) = (TempDir::new("mq-a"), TempDir::new("mq-b"));
    let a = instance
        .create_unit(UnitSpec::new("a", dir_a.path()))
        .await
        .unwrap();
    let b = instance
        .create_unit(UnitSpec::new("b", dir_b.path()))
        .await
        .unwrap();
    // a's output feeds b's input: b's input/pepeunit now names two physical topics.
    instance
        .link(&a, "output/pepeunit", &b, "input/pepeunit")
        .unwrap();
    instance.write_unit_files(&b).unwrap();
    let inputs: Vec<String> = schema(&b)["input_topic"]["input/pepeunit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(inputs.len(), 2);

    let (client, mut rx) = recording_client(&b, MqttConfig::default());
    client.subscribe_all_schema_topics().await.unwrap();
    let cycle = run(&client);
    ready(&instance, &b).await;

    for (i, input) in inputs.iter().enumerate() {
        instance.publish(input, format!("value {i}")).await.unwrap();
        let message = next(&mut rx).await;
        assert_eq!(&message.topic, input);
        assert_eq!(message.topic_name.as_deref(), Some("input/pepeunit"));
        assert_eq!(message.text().unwrap(), format!("value {i}"));
    }

    client
        .publish_to_topics("output/pepeunit", "42")
        .await
        .unwrap();
    let out = instance
        .next_output(&b, "output/pepeunit", WAIT)
        .await
        .unwrap();
    assert_eq!(out.text(), Some("42"));
    assert!(matches!(
        client.publish_to_topics("no/such", "x").await,
        Err(Error::UnknownTopicName { .. })
    ));
    stop(&client, cycle).await;
    assert!(
        instance.rejections().is_empty(),
        "{:?}",
        instance.rejections()
    );
}

async fn the_unit_survives_a_broker_restart(broker: BrokerKind) {
    let instance = start(broker, 60).await;
    let dir = TempDir::new("mq-restart");
    let unit = instance
        .create_unit(UnitSpec::new("r", dir.path()))
        .await
        .unwrap();
    // Reconnect attempts 1.5–3 s apart: the testkit's own observer (every 50 ms) is back first, so it
    // sees what the unit sends right after reconnecting.
    let config = MqttConfig {
        backoff: Backoff {
            initial: Duration::from_secs(3),
            max: Duration::from_secs(3),
        },
        ..MqttConfig::default()
    };
    let (client, mut rx) = recording_client(&unit, config);
    let cycle = run(&client);
    ready(&instance, &unit).await;
    assert!(client.is_mqtt_connected());

    instance.stop_broker();
    wait_until("the unit to see the broker gone", || {
        !client.is_mqtt_connected()
    })
    .await;
    for i in 0..5 {
        client
            .publish_to_topics("output/pepeunit", format!("offline {i}"))
            .await
            .unwrap();
    }
    instance.start_broker().await.unwrap();

    for i in 0..5 {
        let out = instance
            .next_output(&unit, "output/pepeunit", WAIT)
            .await
            .expect("a message published during the outage was lost");
        assert_eq!(out.text().unwrap(), format!("offline {i}"));
    }
    // Those were sent after the resubscribe on the same connection: the broker has the subscriptions.
    instance
        .publish_input(&unit, "input/pepeunit", "after restart")
        .await
        .unwrap();
    let message = next(&mut rx).await;
    assert_eq!(message.text().unwrap(), "after restart");
    wait_log(&unit, &["MQTT connection lost"], 1).await;
    stop(&client, cycle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_and_outputs_on_mosquitto() {
    inputs_reach_the_handler_and_outputs_every_topic(BrokerKind::Mosquitto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_and_outputs_on_the_embedded_broker() {
    inputs_reach_the_handler_and_outputs_every_topic(BrokerKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_on_mosquitto() {
    the_unit_survives_a_broker_restart(BrokerKind::Mosquitto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_on_the_embedded_broker() {
    the_unit_survives_a_broker_restart(BrokerKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_sync_sends_the_whole_log_split_and_in_order() {
    let instance = start(BrokerKind::Mosquitto, 60).await;
    let dir = TempDir::new("mq-logsync");
    let unit = instance
        .create_unit(UnitSpec::new("logs", dir.path()).with_env("PU_MAX_LOG_LENGTH", 1000))
        .await
        .unwrap();
    let mut lines = String::new();
    for i in 0..1000 {
        lines.push_str(
            &json!({"level": "Info", "text": format!("stored {i:04} {}", "x".repeat(i % 50)),
                    "create_datetime": "2025-04-08T11:27:52.044394+00:00"})
            .to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(log_path(&unit), lines).unwrap();
    let limit = 4096;
    let config = MqttConfig {
        max_packet_size: limit,
        ..MqttConfig::default()
    };
    let (client, _rx) = recording_client(&unit, config);
    let cycle = run(&client);
    ready(&instance, &unit).await;

    let log_topic = topic(&unit, "output_base_topic", "log/pepeunit");
    instance
        .send_command(&unit, Command::LogSync)
        .await
        .unwrap();
    let mut synced: Vec<Value> = Vec::new();
    let mut arrays = 0;
    while synced.len() < 1000 {
        let message = instance
            .next_message(&log_topic, WAIT)
            .await
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(log_path(&unit)).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                panic!(
                    "log_sync sent {} of 1000 entries; log.json ends {tail:?}",
                    synced.len()
                )
            });
        let payload = message.text().unwrap();
        if payload.starts_with('[') {
            assert!(
                payload.len() + log_topic.len() + 5 <= limit,
                "{}",
                payload.len()
            );
            synced.extend(serde_json::from_str::<Vec<Value>>(payload).unwrap());
            arrays += 1;
        }
    }
    assert_eq!(synced.len(), 1000);
    assert!(arrays > 10, "{arrays} arrays");
    let texts: Vec<&str> = synced.iter().map(|e| e["text"].as_str().unwrap()).collect();
    // The log keeps the newest 1000: the runtime's own first entries pushed out the oldest stored ones.
    let stored: Vec<&str> = texts
        .iter()
        .copied()
        .take_while(|t| t.starts_with("stored "))
        .collect();
    assert!(stored.len() > 990, "{}", stored.len());
    let first: usize = stored[0][7..11].parse().unwrap();
    for (k, text) in stored.iter().enumerate() {
        assert!(
            text.starts_with(&format!("stored {:04}", first + k)),
            "{text}"
        );
    }
    assert_eq!(first + stored.len(), 1000);
    stop(&client, cycle).await;
    assert!(
        instance.rejections().is_empty(),
        "{:?}",
        instance.rejections()
    );
    assert!(instance.logs(&unit).len() >= 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_sent_at_once_then_on_schedule() {
    let instance = start(BrokerKind::Mosquitto, 1).await;
    let dir = TempDir::new("mq-state");
    let unit = instance
        .create_unit(UnitSpec::new("state", dir.path()))
        .await
        .unwrap();
    let (client, _rx) = recording_client(&unit, MqttConfig::default());
    let cycle = run(&client);
    for _ in 0..3 {
        let state = instance
            .wait_for_state(&unit, WAIT)
            .await
            .expect("no state");
        let commit = json!(client.settings().current().commit_version.clone());
        assert_eq!(state["pu_commit_version"], commit);
    }
    stop(&client, cycle).await;
    assert!(
        instance.rejections().is_empty(),
        "{:?}",
        instance.rejections()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_panicking_handlers_are_logged_and_the_cycle_goes_on() {
    let instance = start(BrokerKind::Mosquitto, 60).await;
    let dir = TempDir::new("mq-guard");
    let unit = instance
        .create_unit(UnitSpec::new("guard", dir.path()))
        .await
        .unwrap();
    let client = builder(&unit).build().unwrap();
    client
        .set_input_handler(Handler::blocking(
            "panicky_input",
            |_client, message: Message| -> () {
                panic!("cannot handle {}", message.text().unwrap())
            },
        ))
        .unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let counter = ticks.clone();
    let output = Handler::new("failing_output", move |client: PepeunitClient, ()| {
        let tick = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if tick.is_multiple_of(10) {
                client
                    .publish_to_topics("output/pepeunit", tick.to_string())
                    .await?;
            }
            Err::<(), _>(Error::mqtt(format!("tick {tick} failed")))
        }
    });
    let cycle = {
        let client = client.clone();
        tokio::spawn(async move { client.run_main_cycle_with(output).await })
    };
    ready(&instance, &unit).await;
    for i in 0..3 {
        instance
            .publish_input(&unit, "input/pepeunit", format!("m{i}"))
            .await
            .unwrap();
    }
    let panics = wait_log(
        &unit,
        &["Critical", "panicky_input panicked: cannot handle m"],
        3,
    )
    .await;
    assert!(panics[2].contains("m2"), "{panics:?}");
    wait_log(&unit, &["Error", "failing_output failed: MQTT: tick"], 3).await;
    // The output function still runs, and platform commands still work.
    let seen = ticks.load(Ordering::SeqCst);
    wait_until("more ticks", || ticks.load(Ordering::SeqCst) > seen + 20).await;
    assert!(
        instance
            .next_output(&unit, "output/pepeunit", WAIT)
            .await
            .is_some()
    );
    instance
        .send_command(&unit, Command::LogSync)
        .await
        .unwrap();
    wait_log(&unit, &["Log sync completed"], 1).await;
    assert!(!cycle.is_finished());
    stop(&client, cycle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_command_payloads_are_logged_and_change_nothing() {
    let instance = start(BrokerKind::Mosquitto, 60).await;
    let dir = TempDir::new("mq-hostile");
    let unit = instance
        .create_unit(UnitSpec::new("hostile", dir.path()))
        .await
        .unwrap();
    let commands = Arc::new(support::RecordingCommands::default());
    let client = builder(&unit)
        .platform_commands(commands.clone())
        .build()
        .unwrap();
    let cycle = run(&client);
    ready(&instance, &unit).await;
    let env_before = std::fs::read(unit.env_path()).unwrap();
    let schema_before = std::fs::read(unit.schema_path()).unwrap();

    let payloads = support::hostile_command_payloads();
    let names = [
        "update/pepeunit",
        "env_update/pepeunit",
        "schema_update/pepeunit",
        "log_sync/pepeunit",
    ];
    for name in names {
        let command_topic = topic(&unit, "input_base_topic", name);
        for payload in &payloads {
            instance
                .publish(&command_topic, payload.clone())
                .await
                .unwrap();
        }
    }
    let reset = topic(&unit, "input_base_topic", "reset/pepeunit");
    instance.publish(&reset, vec![0xff, 0x00]).await.unwrap();

    wait_log(
        &unit,
        &["Error", "command ignored"],
        names.len() * payloads.len(),
    )
    .await;
    wait_log(&unit, &["Reset: restart mode None"], 1).await;
    // Still alive: a valid command is handled after all that.
    instance
        .send_command(&unit, Command::EnvUpdate)
        .await
        .unwrap();
    wait_until("the env_update hook", || {
        !commands.0.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        *commands.0.lock().unwrap(),
        vec![PlatformCommand::EnvUpdate]
    );
    assert_eq!(std::fs::read(unit.env_path()).unwrap(), env_before);
    assert_eq!(std::fs::read(unit.schema_path()).unwrap(), schema_before);
    assert!(!cycle.is_finished());
    stop(&client, cycle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_commands_without_a_rest_layer_name_the_missing_feature() {
    let instance = start(BrokerKind::Mosquitto, 60).await;
    let dir = TempDir::new("mq-norest");
    let unit = instance
        .create_unit(UnitSpec::new("norest", dir.path()))
        .await
        .unwrap();
    let client = builder(&unit).build().unwrap();
    let cycle = run(&client);
    ready(&instance, &unit).await;
    for command in [Command::EnvUpdate, Command::SchemaUpdate, Command::Update] {
        instance.send_command(&unit, command).await.unwrap();
        wait_log(
            &unit,
            &["Error", command.topic_name(), "not run", "`rest`"],
            1,
        )
        .await;
    }
    stop(&client, cycle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_command_is_logged_once_and_the_next_one_runs() {
    let instance = start(BrokerKind::Mosquitto, 60).await;
    let dir = TempDir::new("mq-failed-command");
    let unit = instance
        .create_unit(UnitSpec::new("failed-command", dir.path()))
        .await
        .unwrap();
    let client = builder(&unit).rest(true).build().unwrap();
    let cycle = run(&client);
    ready(&instance, &unit).await;
    instance.fail_next("/units/env/", 403, r#"{"detail": "403: Forbidden"}"#);
    instance
        .send_command(&unit, Command::EnvUpdate)
        .await
        .unwrap();
    wait_log(&unit, &["Error", "Env update failed", "403"], 1).await;
    // Commands run in turn: once the next one is done, every line of the failed one is written.
    instance
        .send_command(&unit, Command::LogSync)
        .await
        .unwrap();
    wait_log(&unit, &["Log sync completed"], 1).await;
    let text = std::fs::read_to_string(log_path(&unit)).unwrap();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("\"Error\"")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    stop(&client, cycle).await;
}

/// The standard topic names (what a unit created without a schema example has).
fn standard_schema_example() -> Value {
    json!({
        "input_base_topic": ["update/pepeunit", "env_update/pepeunit", "schema_update/pepeunit",
                             "log_sync/pepeunit", "reset/pepeunit"],
        "output_base_topic": ["state/pepeunit", "log/pepeunit"],
        "input_topic": ["input/pepeunit"],
        "output_topic": ["output/pepeunit"],
    })
}

/// A stand-in REST layer that swaps in prepared env.json / schema.json files.
struct FileCommands {
    env: PathBuf,
    schema: PathBuf,
}

impl PlatformCommands for FileCommands {
    fn run<'a>(
        &'a self,
        client: &'a PepeunitClient,
        command: PlatformCommand,
    ) -> BoxFuture<'a, pepeunit::Result<AfterCommand>> {
        Box::pin(async move {
            match command {
                PlatformCommand::EnvUpdate => client.update_env_from_file(&self.env)?,
                PlatformCommand::SchemaUpdate => client.update_schema_from_file(&self.schema)?,
                PlatformCommand::Update(_) => {}
            }
            Ok(AfterCommand::Continue)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_and_env_updates_resubscribe_and_reconnect() {
    let instance = start(BrokerKind::Mosquitto, 60).await;
    let other = start(BrokerKind::Mosquitto, 60).await;
    let dir = TempDir::new("mq-reconcile");
    let unit = instance
        .create_unit(UnitSpec::new("moves", dir.path()))
        .await
        .unwrap();
    let staged = TempDir::new("mq-reconcile-new");
    let old_input = topic(&unit, "input_topic", "input/pepeunit");
    let schema_file = staged.path().join("schema.json");
    // The new env points at the other instance's broker.
    let mut new_env: Value =
        serde_json::from_slice(&std::fs::read(unit.env_path()).unwrap()).unwrap();
    new_env["PU_MQTT_PORT"] = json!(other.mqtt_port());
    let env_file = staged.path().join("env.json");
    std::fs::write(&env_file, new_env.to_string()).unwrap();

    let (client, mut rx) = recording_client(&unit, MqttConfig::default());
    client
        .set_platform_commands(Arc::new(FileCommands {
            env: env_file,
            schema: schema_file.clone(),
        }))
        .unwrap();
    let cycle = run(&client);
    ready(&instance, &unit).await;

    // The backend's new schema drops input/pepeunit and adds input/extra.
    let mut example = standard_schema_example();
    example["input_topic"] = json!(["input/extra"]);
    let moved = instance.set_schema_example(&unit, &example).unwrap();
    instance.write_unit_files(&moved).unwrap();
    std::fs::copy(moved.schema_path(), &schema_file).unwrap();
    instance
        .send_command(&unit, Command::SchemaUpdate)
        .await
        .unwrap();
    wait_log(&unit, &["Get base MQTT command: schema_update/pepeunit"], 1).await;
    // Wait for the command message itself, then for the resubscribe to take effect.
    let command = next(&mut rx).await;
    assert_eq!(
        command.topic_name.as_deref(),
        Some("schema_update/pepeunit")
    );
    let deadline = Instant::now() + WAIT;
    let extra = loop {
        instance
            .publish_input(&moved, "input/extra", "new")
            .await
            .unwrap();
        if let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await
        {
            break message;
        }
        assert!(
            Instant::now() < deadline,
            "the new input topic was never subscribed"
        );
    };
    assert_eq!(extra.topic_name.as_deref(), Some("input/extra"));
    // The removed topic is unsubscribed: a message on it never reaches the handler, while one on a
    // kept topic (sent after it on the same connection) does.
    instance.publish(&old_input, "old").await.unwrap();
    instance
        .publish_input(&moved, "input/extra", "marker")
        .await
        .unwrap();
    loop {
        let message = next(&mut rx).await;
        assert_ne!(message.text().unwrap(), "old");
        if message.text().unwrap() == "marker" {
            break;
        }
    }

    // The unit moves to the other instance, which must know it (its broker checks the token).
    other.adopt_unit(&moved, Some(&example)).unwrap();
    instance
        .send_command(&unit, Command::EnvUpdate)
        .await
        .unwrap();
    wait_log(
        &unit,
        &["MQTT connection settings changed (PU_MQTT_PORT): reconnecting"],
        1,
    )
    .await;
    let output = topic(&unit, "output_topic", "output/pepeunit");
    let deadline = Instant::now() + WAIT;
    loop {
        client
            .publish_to_topics("output/pepeunit", "moved")
            .await
            .unwrap();
        if other
            .next_message(&output, Duration::from_millis(500))
            .await
            .is_some()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the unit did not reconnect to the new broker"
        );
    }
    stop(&client, cycle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_main_cycle_from_a_handler_ends_it() {
    let instance = start(BrokerKind::Mosquitto, 60).await;
    let dir = TempDir::new("mq-stop");
    let unit = instance
        .create_unit(UnitSpec::new("stop", dir.path()))
        .await
        .unwrap();
    let client = builder(&unit).build().unwrap();
    client
        .set_input_message_handler(|client, message| async move {
            if message.text()? == "stop" {
                client.stop_main_cycle()?;
            }
            Ok::<(), Error>(())
        })
        .unwrap();
    let cycle = run(&client);
    ready(&instance, &unit).await;
    instance
        .publish_input(&unit, "input/pepeunit", "stop")
        .await
        .unwrap();
    tokio::time::timeout(WAIT, cycle)
        .await
        .expect("the main cycle did not stop")
        .unwrap()
        .unwrap();
    assert!(!client.is_mqtt_connected());
    wait_log(&unit, &["Main cycle stopped"], 1).await;
}

#[tokio::test]
async fn calls_without_mqtt_are_refused() {
    let dir = TempDir::new("mq-off");
    let env = dir.copy_vector("env/env_current.json", "env.json");
    let schema = dir.copy_vector("schema/schema.json", "schema.json");
    let client = PepeunitClient::builder(env, schema, dir.path().join("log.json"))
        .build()
        .unwrap();
    assert!(matches!(
        client.publish_to_topics("output/pepeunit", "1").await,
        Err(Error::MqttDisabled)
    ));
    assert!(matches!(
        client.subscribe_all_schema_topics().await,
        Err(Error::MqttDisabled)
    ));
    assert!(matches!(
        client.run_main_cycle(|_| async {}).await,
        Err(Error::MqttDisabled)
    ));
    assert!(matches!(client.stop_main_cycle(), Err(Error::MqttDisabled)));
}
