//! The examples' `controller` run as a child process against a local instance: from a sensor
//! node's hourly averages (put into the instance's DataPipe) it switches a heater unit's input with
//! `set_state_input`, meets the backend's 403 once the write has turned `is_rewritable_input` off,
//! and switches again once the heater's owner turned it back on.

mod support;

use std::path::Path;
use std::time::Duration;

use pepeunit_testkit::{
    Aggregate, AggregationType, Instance, InstanceOptions, PipePolicy, UnitSpec, datetime_ago,
};
use support::{Dir, Unit, WAIT, output, stop_with_sigterm, wait_log_where};

#[tokio::test(flavor = "current_thread")]
async fn controller_switches_the_heater_from_the_sensors_averages() {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = Dir::new("controller-unit");
    let sensor = instance
        .create_unit(UnitSpec::new("sensor", dir.0.join("sensor")))
        .await
        .unwrap();
    let heater = instance
        .create_unit(UnitSpec::new("heater", dir.0.join("heater")))
        .await
        .unwrap();
    let sensor_node = sensor.node_uuid("output/pepeunit").unwrap();
    let heater_node = heater.node_uuid("input/pepeunit").unwrap();
    let spec = UnitSpec::new("controller", dir.0.join("controller"))
        .with_env("DELAY_PUB_MSG", 1)
        .with_env("SETPOINT", 20.0)
        .with_env("SENSOR_NODE_UUID", sensor_node)
        .with_env("HEATER_NODE_UUID", heater_node);
    let controller = instance.create_unit(spec).await.unwrap();
    let out = "output/pepeunit";
    instance
        .set_data_pipe(
            &sensor,
            out,
            Some(PipePolicy::Aggregation { seconds: 3600 }),
        )
        .unwrap();
    let average = |value: f64, minutes_ago: u64| Aggregate {
        kind: AggregationType::Avg,
        value,
        window_seconds: 3600,
        window_end: datetime_ago(Duration::from_secs(minutes_ago * 60)),
    };
    instance
        .add_aggregate(&sensor, out, average(18.0, 60))
        .unwrap();
    instance
        .set_rewritable_input(&heater, "input/pepeunit", true)
        .unwrap();
    let heater_topic = format!("localhost/{heater_node}/pepeunit");

    let unit_dir = controller.dir().to_path_buf();
    let binary = Path::new(env!("CARGO_BIN_EXE_controller"));
    let mut process = Unit::start(binary, &unit_dir, &[]);

    // 18 °C against a set-point of 20: on.
    let switched = instance.next_message(&heater_topic, WAIT).await;
    assert_eq!(
        switched.as_ref().and_then(|m| m.text()),
        Some("on"),
        "{}",
        output(&unit_dir)
    );
    // `main` ran before the connection: its entry is in log.json only.
    let log = std::fs::read_to_string(unit_dir.join("log.json")).unwrap();
    assert!(
        log.contains("controller started on Pepeunit 1.2.0"),
        "{log}"
    );
    wait_log_where(&instance, &controller, &unit_dir, "heater on", |e| {
        e["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("heater on: average 18 °C"))
    })
    .await;
    assert_eq!(
        instance
            .node_state(&heater, "input/pepeunit")
            .unwrap()
            .as_deref(),
        Some("on")
    );

    // A newer average of 23 °C: off is due, but the write turned the input's rewritability off.
    instance
        .add_aggregate(&sensor, out, average(23.0, 1))
        .unwrap();
    let refused = wait_log_where(&instance, &controller, &unit_dir, "the 403", |e| {
        e["level"] == "Error" && e["text"].as_str().is_some_and(|t| t.contains("403"))
    })
    .await;
    assert!(
        !refused["text"]
            .as_str()
            .unwrap()
            .contains(controller.token())
    );
    assert!(
        instance
            .next_message(&heater_topic, Duration::from_millis(300))
            .await
            .is_none()
    );

    // The heater's owner allows writes again: the next period switches it off.
    instance
        .set_rewritable_input(&heater, "input/pepeunit", true)
        .unwrap();
    let switched = instance.next_message(&heater_topic, WAIT).await;
    assert_eq!(
        switched.as_ref().and_then(|m| m.text()),
        Some("off"),
        "{}",
        output(&unit_dir)
    );
    assert!(
        instance.rejections().is_empty(),
        "{:?}",
        instance.rejections()
    );

    stop_with_sigterm(&mut process, &unit_dir);
}
