//! The testkit's broker and observation rules, checked with an independent rumqttc client playing the
//! unit; every test runs on both brokers (mosquitto and the embedded rumqttd).

mod support;

use std::time::Duration;

use pepeunit::Command;
use pepeunit_testkit::{
    BrokerKind, Instance, InstanceOptions, ProgramSource, RejectionKind, TestUnit, UnitSpec,
    UpdateStatus,
};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS,
    SubscribeFilter, SubscribeReasonCode,
};
use serde_json::{Value, json};
use support::TempDir;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

/// What the unit's client saw.
#[derive(Debug)]
enum Seen {
    Connected,
    Message(String, Vec<u8>),
    SubAck(Vec<SubscribeReasonCode>),
    Disconnected,
}

/// A rumqttc client connected as the unit (username = token), its events forwarded to a channel.
struct UnitClient {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<Seen>,
}

impl UnitClient {
    async fn connect(instance: &Instance, unit: &TestUnit, subscribe: &[String]) -> UnitClient {
        let mut options = MqttOptions::new(
            format!("{}-test", unit.uuid()),
            instance.mqtt_host(),
            instance.mqtt_port(),
        );
        options
            .set_credentials(unit.token(), "")
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, eventloop) = AsyncClient::new(options, 16);
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(drive(eventloop, client.clone(), subscribe.to_vec(), tx));
        let mut unit_client = UnitClient { client, events };
        unit_client.expect_connected().await;
        unit_client
    }

    async fn expect_connected(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.events.recv())
                .await
                .unwrap()
                .unwrap()
            {
                Seen::Connected => return,
                _ => continue,
            }
        }
    }

    async fn expect_disconnected(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.events.recv())
                .await
                .unwrap()
                .unwrap()
            {
                Seen::Disconnected => return,
                _ => continue,
            }
        }
    }

    async fn next_message(&mut self) -> (String, Vec<u8>) {
        loop {
            match tokio::time::timeout(WAIT, self.events.recv())
                .await
                .unwrap()
                .unwrap()
            {
                Seen::Message(topic, payload) => return (topic, payload),
                _ => continue,
            }
        }
    }

    async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtMostOnce, false, payload.into())
            .await
            .unwrap();
    }
}

/// Polls the event loop; subscribes after each ConnAck and reports connected once the SubAck came.
async fn drive(
    mut eventloop: EventLoop,
    client: AsyncClient,
    topics: Vec<String>,
    tx: mpsc::UnboundedSender<Seen>,
) {
    let mut pending = 0;
    loop {
        let seen = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) if topics.is_empty() => Some(Seen::Connected),
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                for topic in &topics {
                    client
                        .try_subscribe(topic.clone(), QoS::AtMostOnce)
                        .unwrap();
                }
                pending = topics.len();
                None
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) if pending == 0 => {
                Some(Seen::SubAck(ack.return_codes))
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                pending -= 1;
                (pending == 0).then_some(Seen::Connected)
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                Some(Seen::Message(p.topic, p.payload.to_vec()))
            }
            Ok(_) => None,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some(Seen::Disconnected)
            }
        };
        if let Some(seen) = seen
            && tx.send(seen).is_err()
        {
            return;
        }
    }
}

fn schema(unit: &TestUnit) -> Value {
    serde_json::from_slice(&std::fs::read(unit.schema_path()).unwrap()).unwrap()
}

fn topic(unit: &TestUnit, section: &str, name: &str) -> String {
    schema(unit)[section][name][0].as_str().unwrap().to_string()
}

async fn start(broker: BrokerKind) -> Instance {
    let instance = Instance::start(InstanceOptions {
        broker,
        ..InstanceOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(instance.broker_kind(), broker);
    instance
}

async fn outputs_are_recorded_per_topic_name(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-out");
    let unit = instance
        .create_unit(UnitSpec::new("out", dir.path()))
        .await
        .unwrap();
    let client = UnitClient::connect(&instance, &unit, &[]).await;
    let output = topic(&unit, "output_topic", "output/pepeunit");
    client.publish(&output, "1").await;
    client.publish(&output, "2").await;
    let first = instance
        .next_output(&unit, "output/pepeunit", WAIT)
        .await
        .unwrap();
    let second = instance
        .next_output(&unit, "output/pepeunit", WAIT)
        .await
        .unwrap();
    assert_eq!((first.text(), second.text()), (Some("1"), Some("2")));
    assert_eq!(first.topic, output);
    assert_eq!(instance.messages(&output).len(), 2);
}

async fn commands_carry_the_backend_payloads(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-cmd");
    let unit = instance
        .create_unit(UnitSpec::new("cmd", dir.path()))
        .await
        .unwrap();
    let names = [
        "update/pepeunit",
        "env_update/pepeunit",
        "schema_update/pepeunit",
        "log_sync/pepeunit",
        "reset/pepeunit",
    ];
    let topics: Vec<String> = names
        .iter()
        .map(|n| topic(&unit, "input_base_topic", n))
        .collect();
    let mut client = UnitClient::connect(&instance, &unit, &topics).await;
    instance
        .set_program(
            &unit,
            "3333333333333333333333333333333333333333",
            ProgramSource::Files(vec![]),
            None,
        )
        .unwrap();
    let expected = [
        (
            Command::Update,
            r#"{"COMMAND": "Update", "PU_COMMIT_VERSION": "3333333333333333333333333333333333333333"}"#,
        ),
        (Command::EnvUpdate, r#"{"COMMAND": "EnvUpdate"}"#),
        (Command::SchemaUpdate, r#"{"COMMAND": "SchemaUpdate"}"#),
        (Command::LogSync, r#"{"COMMAND": "LogSync"}"#),
        (Command::Reset, r#"{"COMMAND": "Reset"}"#),
    ];
    for (i, (command, payload)) in expected.into_iter().enumerate() {
        instance.send_command(&unit, command).await.unwrap();
        let (got_topic, got) = client.next_message().await;
        assert_eq!(got_topic, topics[i]);
        assert_eq!(String::from_utf8(got).unwrap(), payload);
    }
    assert!(matches!(
        instance.update_status(&unit),
        UpdateStatus::RequestSent { .. }
    ));
}

async fn compiled_update_adds_the_firmware_link_and_missing_commands_are_refused(
    broker: BrokerKind,
) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-link");
    let example =
        json!({"input_base_topic": ["update/pepeunit"], "output_base_topic": ["state/pepeunit"]});
    let unit = instance
        .create_unit(UnitSpec {
            schema_example: Some(example),
            ..UnitSpec::new("bin", dir.path())
        })
        .await
        .unwrap();
    let mut client = UnitClient::connect(
        &instance,
        &unit,
        &[topic(&unit, "input_base_topic", "update/pepeunit")],
    )
    .await;
    instance
        .set_program(
            &unit,
            "4444",
            ProgramSource::Files(vec![]),
            Some(b"bin".to_vec()),
        )
        .unwrap();
    instance.send_command(&unit, Command::Update).await.unwrap();
    let payload: Value = serde_json::from_slice(&client.next_message().await.1).unwrap();
    assert_eq!(
        payload["COMPILED_FIRMWARE_LINK"],
        instance.compiled_binary_url(&unit).unwrap()
    );
    assert_eq!(payload["PU_COMMIT_VERSION"], "4444");
    assert!(
        instance
            .send_command(&unit, Command::EnvUpdate)
            .await
            .is_err(),
        "not in the schema"
    );
}

async fn inputs_reach_the_unit_by_topic_name(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-in");
    let unit = instance
        .create_unit(UnitSpec::new("in", dir.path()))
        .await
        .unwrap();
    let input = topic(&unit, "input_topic", "input/pepeunit");
    let mut client = UnitClient::connect(&instance, &unit, std::slice::from_ref(&input)).await;
    instance
        .publish_input(&unit, "input/pepeunit", "42")
        .await
        .unwrap();
    assert_eq!(client.next_message().await, (input, b"42".to_vec()));
    assert!(instance.publish_input(&unit, "no/such", "1").await.is_err());
}

async fn states_are_normalized_rate_limited_and_drive_update_status(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-state");
    let unit = instance
        .create_unit(UnitSpec::new("state", dir.path()))
        .await
        .unwrap();
    let client = UnitClient::connect(&instance, &unit, &[]).await;
    let state_topic = topic(&unit, "output_base_topic", "state/pepeunit");
    client
        .publish(&state_topic, r#"{"millis": 5, "mem_free": "12", "statvfs": 3, "extra": 1, "pu_commit_version": "old"}"#)
        .await;
    let state = instance.wait_for_state(&unit, WAIT).await.unwrap();
    assert_eq!(
        state,
        json!({"millis": 5, "mem_free": null, "statvfs": null, "pu_commit_version": "old"})
    );
    client.publish(&state_topic, r#"{"millis": 6}"#).await;
    client.publish(&state_topic, "[1, 2]").await;
    let marker = instance.next_message(&state_topic, WAIT).await.unwrap();
    assert_eq!(
        marker.text(),
        Some(
            r#"{"millis": 5, "mem_free": "12", "statvfs": 3, "extra": 1, "pu_commit_version": "old"}"#
        )
    );
    instance.next_message(&state_topic, WAIT).await.unwrap();
    instance.next_message(&state_topic, WAIT).await.unwrap();
    let kinds: Vec<RejectionKind> = instance.rejections().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [RejectionKind::StateTooSoon, RejectionKind::InvalidState]
    );
    assert_eq!(instance.rejections()[0].unit_uuid, unit.uuid());

    // With no interval the update status follows pu_commit_version.
    let fast = instance
        .create_unit(
            UnitSpec::new("fast", dir.path().join("fast")).with_env("PU_STATE_SEND_INTERVAL", 0),
        )
        .await
        .unwrap();
    let fast_client = UnitClient::connect(&instance, &fast, &[]).await;
    instance
        .set_program(&fast, "5555", ProgramSource::Files(vec![]), None)
        .unwrap();
    assert_eq!(instance.update_status(&fast), UpdateStatus::Idle);
    instance.send_command(&fast, Command::Update).await.unwrap();
    assert_eq!(
        instance.update_status(&fast),
        UpdateStatus::RequestSent {
            target: "5555".into()
        }
    );
    let fast_topic = topic(&fast, "output_base_topic", "state/pepeunit");
    fast_client
        .publish(&fast_topic, r#"{"pu_commit_version": "other"}"#)
        .await;
    instance.wait_for_state(&fast, WAIT).await.unwrap();
    assert_eq!(
        instance.update_status(&fast),
        UpdateStatus::RequestSent {
            target: "5555".into()
        }
    );
    fast_client
        .publish(&fast_topic, r#"{"pu_commit_version": "5555"}"#)
        .await;
    instance.wait_for_state(&fast, WAIT).await.unwrap();
    assert_eq!(
        instance.update_status(&fast),
        UpdateStatus::Success {
            commit: "5555".into()
        }
    );
}

async fn one_bad_log_entry_drops_the_whole_message(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-log");
    let unit = instance
        .create_unit(UnitSpec::new("log", dir.path()))
        .await
        .unwrap();
    let client = UnitClient::connect(&instance, &unit, &[]).await;
    let log_topic = topic(&unit, "output_base_topic", "log/pepeunit");
    let good = r#"[{"level": "Info", "text": "a", "create_datetime": "2025-04-08T11:27:52.044394"}, {"level": "Error", "text": "b"}]"#;
    let bad = r#"[{"level": "Info", "text": "c"}, {"level": "Verbose", "text": "d"}]"#;
    let bad_text = r#"{"level": "Info", "text": 5}"#;
    for payload in [good, bad, bad_text, r#"{"level": "Debug", "text": "e"}"#] {
        client.publish(&log_topic, payload).await;
    }
    let mut texts = Vec::new();
    for _ in 0..3 {
        texts.push(instance.next_log(&unit, WAIT).await.unwrap()["text"].clone());
    }
    assert_eq!(texts, [json!("a"), json!("b"), json!("e")]);
    assert_eq!(instance.logs(&unit).len(), 3);
    let rejections = instance.rejections();
    assert_eq!(rejections.len(), 2);
    assert!(
        rejections
            .iter()
            .all(|r| r.kind == RejectionKind::InvalidLog)
    );
    assert!(
        rejections[0].reason.contains("entry 1"),
        "{}",
        rejections[0].reason
    );
}

async fn retained_publish_is_refused(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-retain");
    let unit = instance
        .create_unit(UnitSpec::new("retain", dir.path()))
        .await
        .unwrap();
    let mut client = UnitClient::connect(&instance, &unit, &[]).await;
    let output = topic(&unit, "output_topic", "output/pepeunit");
    client
        .client
        .publish(&output, QoS::AtMostOnce, true, "kept")
        .await
        .unwrap();
    client.expect_disconnected().await;
    instance.publish(&output, "marker").await.unwrap();
    let seen = instance.next_message(&output, WAIT).await.unwrap();
    assert_eq!(
        seen.text(),
        Some("marker"),
        "the retained message never reached a subscriber"
    );
}

async fn packets_over_256_kib_are_refused(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-size");
    let unit = instance
        .create_unit(UnitSpec::new("size", dir.path()))
        .await
        .unwrap();
    let mut client = UnitClient::connect(&instance, &unit, &[]).await;
    let output = topic(&unit, "output_topic", "output/pepeunit");
    // QoS 0 PUBLISH: 1 type byte + 3 length bytes + 2 topic length bytes + topic + payload.
    let fitting = pepeunit::mqtt::MAX_PACKET_SIZE - 6 - output.len();
    client.publish(&output, vec![b'a'; fitting]).await;
    let seen = instance.next_message(&output, WAIT).await.unwrap();
    assert_eq!(seen.payload.len(), fitting);
    client.publish(&output, vec![b'b'; fitting + 1]).await;
    client.expect_disconnected().await;
    instance.publish(&output, "marker").await.unwrap();
    assert_eq!(
        instance.next_message(&output, WAIT).await.unwrap().text(),
        Some("marker")
    );
}

async fn broker_restarts_on_the_same_port(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-restart");
    let unit = instance
        .create_unit(UnitSpec::new("restart", dir.path()))
        .await
        .unwrap();
    let input = topic(&unit, "input_topic", "input/pepeunit");
    let mut client = UnitClient::connect(&instance, &unit, std::slice::from_ref(&input)).await;
    let port = instance.mqtt_port();
    instance.stop_broker();
    client.expect_disconnected().await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the listener is closed"
    );
    instance.start_broker().await.unwrap();
    assert_eq!(instance.mqtt_port(), port);
    client.expect_connected().await;
    instance
        .publish_input(&unit, "input/pepeunit", "after")
        .await
        .unwrap();
    assert_eq!(client.next_message().await, (input, b"after".to_vec()));
    let output = topic(&unit, "output_topic", "output/pepeunit");
    client.publish(&output, "seen").await;
    assert_eq!(
        instance
            .next_output(&unit, "output/pepeunit", WAIT)
            .await
            .unwrap()
            .text(),
        Some("seen")
    );
}

/// The first thing a client logging in as `login` (username, password) hears: ConnAck or an error.
async fn first_answer(
    instance: &Instance,
    login: Option<(&str, &str)>,
) -> Result<(), ConnectionError> {
    let mut options = MqttOptions::new("rules-probe", instance.mqtt_host(), instance.mqtt_port());
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    let (_client, mut eventloop) = AsyncClient::new(options, 4);
    match tokio::time::timeout(WAIT, eventloop.poll()).await.unwrap() {
        Ok(Event::Incoming(Packet::ConnAck(_))) => Ok(()),
        Ok(other) => panic!("not a ConnAck: {other:?}"),
        Err(e) => Err(e),
    }
}

async fn units_are_held_to_the_production_rules(broker: BrokerKind) {
    let instance = start(broker).await;
    let dir = TempDir::new("tkm-rules");
    let unit = instance
        .create_unit(UnitSpec::new("a", dir.path().join("a")))
        .await
        .unwrap();
    let other = instance
        .create_unit(UnitSpec::new("b", dir.path().join("b")))
        .await
        .unwrap();

    // The token is the username: anything else is refused at CONNECT.
    let bad = ConnectionError::ConnectionRefused(ConnectReturnCode::BadUserNamePassword);
    for login in [
        None,
        Some(("not-a-token", "")),
        Some((&unit.token()[1..], "")),
    ] {
        let refused = first_answer(&instance, login).await.unwrap_err();
        assert_eq!(refused.to_string(), bad.to_string(), "{login:?}");
    }
    let (user, password) = instance.backend_credentials();
    assert!(
        first_answer(&instance, Some((&user, "wrong")))
            .await
            .is_err()
    );
    first_answer(&instance, Some((&user, &password)))
        .await
        .unwrap();
    assert_eq!(instance.mqtt_link().refused_connects(), 4);

    // Subscriptions: the unit's own input topics by full name only.
    let own_input = topic(&unit, "input_topic", "input/pepeunit");
    let mut client = UnitClient::connect(&instance, &unit, &[]).await;
    let filters = [
        "#".to_owned(),
        own_input.clone(),
        topic(&other, "input_topic", "input/pepeunit"),
        format!("{}/+/pepeunit", instance.mqtt_host()),
        topic(&unit, "input_base_topic", "update/pepeunit"),
        topic(&unit, "output_topic", "output/pepeunit"),
    ];
    client
        .client
        .subscribe_many(
            filters
                .iter()
                .map(|f| SubscribeFilter::new(f.clone(), QoS::AtMostOnce)),
        )
        .await
        .unwrap();
    let codes = loop {
        match tokio::time::timeout(WAIT, client.events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Seen::SubAck(codes) => break codes,
            _ => continue,
        }
    };
    let ok = SubscribeReasonCode::Success(QoS::AtMostOnce);
    let no = SubscribeReasonCode::Failure;
    assert_eq!(codes, [no, ok, no, no, ok, no]);
    client.client.subscribe("#", QoS::AtMostOnce).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, client.events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Seen::SubAck(codes) => break assert_eq!(codes, [no]),
            _ => continue,
        }
    }
    // Only the own input arrives (the "#" was refused).
    instance
        .publish_input(&other, "input/pepeunit", "not yours")
        .await
        .unwrap();
    instance
        .publish_input(&unit, "input/pepeunit", "yours")
        .await
        .unwrap();
    assert_eq!(client.next_message().await, (own_input, b"yours".to_vec()));

    // Publishing: only to the unit's own outputs; anything else vanishes.
    let others_output = topic(&other, "output_topic", "output/pepeunit");
    let deep = format!(
        "{}/a/b/c/d/e",
        topic(&unit, "output_topic", "output/pepeunit")
    );
    client.publish(&others_output, "forged").await;
    client.publish(&deep, "deep").await;
    client
        .publish(&topic(&unit, "input_topic", "input/pepeunit"), "to itself")
        .await;
    client
        .publish(&topic(&unit, "output_topic", "output/pepeunit"), "marker")
        .await;
    let marker = instance
        .next_output(&unit, "output/pepeunit", WAIT)
        .await
        .unwrap();
    assert_eq!(marker.text(), Some("marker"));
    assert!(instance.messages(&others_output).is_empty());
    assert!(instance.messages(&deep).is_empty());
}

macro_rules! on_both_brokers {
    ($($test:ident),* $(,)?) => {
        mod mosquitto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(pepeunit_testkit::BrokerKind::Mosquitto).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(pepeunit_testkit::BrokerKind::Embedded).await
                }
            )*
        }
    };
}

on_both_brokers!(
    units_are_held_to_the_production_rules,
    outputs_are_recorded_per_topic_name,
    commands_carry_the_backend_payloads,
    compiled_update_adds_the_firmware_link_and_missing_commands_are_refused,
    inputs_reach_the_unit_by_topic_name,
    states_are_normalized_rate_limited_and_drive_update_status,
    one_bad_log_entry_drops_the_whole_message,
    retained_publish_is_refused,
    packets_over_256_kib_are_refused,
    broker_restarts_on_the_same_port,
);
