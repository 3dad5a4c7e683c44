//! The `log` bridge as the process's global logger on a unit connected to a local instance: a
//! handler's `log::warn!` in log.json and on `log/pepeunit` as a Warning; `log::debug!` only once
//! `PU_MIN_LOG_LEVEL` allows it; and rumqttc's records about the unit's own log publishes (the
//! seed of a loop) never become entries. One test: a process has one global logger.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pepeunit::logging::{LogBridge, log_bridge};
use pepeunit::mqtt::MqttConfig;
use pepeunit_testkit::{Instance, InstanceOptions, UnitSpec};
use support::{
    TempDir, assert_no_log_loop, mqtt_unit_builder, next_log_where, set_min_log_level,
    spawn_main_cycle, stop_main_cycle,
};

const WAIT: Duration = Duration::from_secs(20);

/// The bridge as the global logger, counting on the way the records that name `topic`.
struct Counting {
    bridge: LogBridge,
    topic: String,
    mentions: Arc<AtomicUsize>,
}

impl log::Log for Counting {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.args().to_string().contains(&self.topic) {
            self.mentions.fetch_add(1, Ordering::SeqCst);
        }
        self.bridge.log(record);
    }

    fn flush(&self) {}
}

#[tokio::test]
async fn log_records_reach_the_unit_log_at_their_level_without_a_loop() {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = TempDir::new("log-bridge");
    let spec =
        UnitSpec::new("logged", dir.path().join("logged")).with_env("PU_MIN_LOG_LEVEL", "Info");
    let unit = instance.create_unit(spec).await.unwrap();
    let client = mqtt_unit_builder(&unit, MqttConfig::default())
        .build()
        .unwrap();
    client
        .set_input_message_handler(|_, message| async move {
            let text = message.text().unwrap_or_default().to_owned();
            log::debug!("received {text}");
            log::warn!("too hot: {text}");
        })
        .unwrap();
    let log_topic = format!("localhost/output_base_topic/{}/log/pepeunit", unit.uuid());
    let mentions = Arc::new(AtomicUsize::new(0));
    let counting = Counting {
        bridge: log_bridge(&client).unwrap(),
        topic: log_topic.clone(),
        mentions: mentions.clone(),
    };
    log::set_boxed_logger(Box::new(counting)).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    // A logger is set: installing the bridge yields to it.
    assert!(!pepeunit::logging::install_log_bridge(&client).unwrap());
    let cycle = spawn_main_cycle(&client);
    instance.wait_for_state(&unit, WAIT).await.unwrap();

    instance
        .publish_input(&unit, "input/pepeunit", "21")
        .await
        .unwrap();
    let entry = next_log_where(&instance, &unit, |e| e["text"] == "log_bridge: too hot: 21").await;
    assert_eq!(entry["level"], "Warning");
    let log = std::fs::read_to_string(unit.dir().join("log.json")).unwrap();
    assert!(
        log.contains(r#""level":"Warning","text":"log_bridge: too hot: 21""#),
        "{log}"
    );
    assert!(
        !log.contains("received"),
        "a debug! below Info was kept:\n{log}"
    );

    // Debug from now on: the next message's debug! arrives, and rumqttc's debug records of the
    // unit's own log publishes are there to be bridged — and are not.
    set_min_log_level(&client, &unit, "Debug");
    instance
        .publish_input(&unit, "input/pepeunit", "22")
        .await
        .unwrap();
    let entry = next_log_where(&instance, &unit, |e| e["text"] == "log_bridge: received 22").await;
    assert_eq!(entry["level"], "Debug");
    next_log_where(&instance, &unit, |e| e["text"] == "log_bridge: too hot: 22").await;
    let deadline = Instant::now() + WAIT;
    while mentions.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "rumqttc never logged a log publish"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_no_log_loop(&client, &instance, &log_topic).await;
    stop_main_cycle(&client, cycle).await;
}
