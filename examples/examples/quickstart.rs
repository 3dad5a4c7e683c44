//! Two units against a local Pepeunit instance, end to end, with no setup.
//!
//! The testkit starts a real MQTT broker and the Pepeunit REST endpoints on loopback and creates two
//! units: `sensor`, whose `output/pepeunit` is linked to the `input/pepeunit` of `display`. Both run the
//! library's main cycle in this process, declared with the handlers the macros expand to (one process
//! holds one set of `#[pepeunit::input]`/`#[pepeunit::output]` functions, and here are two units): the
//! sensor's output runs every `DELAY_PUB_MSG` seconds and returns the value to publish, the display's
//! input takes a typed number. The "backend" then sends `log_sync` and an `env_update` that changes
//! `DELAY_PUB_MSG` for the running sensor, and at the end reports what it received and whether it
//! would have accepted every message.
//!
//! Run: `cargo run -p pepeunit-examples --example quickstart`

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pepeunit::Command;
use pepeunit::client::PepeunitClient;
use pepeunit::runtime::extract::extract;
use pepeunit::runtime::{InputHandler, OutputHandler, Outputs, Period};
use pepeunit::update::RestartMode;
use pepeunit_testkit::{Instance, InstanceOptions, TestUnit, UnitSpec};
use serde_json::json;

const RUN_FOR: Duration = Duration::from_secs(6);

#[tokio::main(flavor = "current_thread")]
async fn main() -> pepeunit_testkit::Result<()> {
    let root = std::env::temp_dir().join(format!("pepeunit-quickstart-{}", std::process::id()));
    let instance = Instance::start(InstanceOptions {
        state_send_interval: 2,
        ..InstanceOptions::default()
    })
    .await?;
    let sensor = instance
        .create_unit(unit_spec("sensor", &root.join("sensor")))
        .await?;
    let display = instance
        .create_unit(unit_spec("display", &root.join("display")))
        .await?;
    instance.link(&sensor, "output/pepeunit", &display, "input/pepeunit")?;
    // The backend's schema now routes the sensor's output to the display: hand it the new schema.json.
    instance.write_unit_files(&display)?;
    println!(
        "instance: {:?} broker at {}:{}, REST at {}",
        instance.broker_kind(),
        instance.mqtt_host(),
        instance.mqtt_port(),
        instance.rest_base_url()
    );

    let sensor_client = client(&sensor)?;
    let display_client = client(&display)?;
    // `#[pepeunit::input("input/pepeunit")] fn show(unit: PepeunitClient, value: u64)` by hand.
    display_client.set_input_handler(InputHandler::typed(
        "display::show",
        |unit, message| async move {
            if message.topic_name.as_deref() == Some("input/pepeunit") {
                let value: u64 = extract(&unit, &message)?;
                unit.logger().info(format!("display shows {value}"));
            }
            Ok(())
        },
    ))?;

    let display_cycle = tokio::spawn({
        let client = display_client.clone();
        async move { client.run_main_cycle(|_| async {}).await }
    });
    // The display subscribes first, so it sees the sensor's very first value (MQTT keeps no retained copy).
    let connected = tokio::time::timeout(Duration::from_secs(10), async {
        while !display_client.is_mqtt_connected() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    connected
        .await
        .map_err(|_| pepeunit::Error::mqtt("the display did not connect within 10 s"))?;
    // `#[pepeunit::output("output/pepeunit", every = "DELAY_PUB_MSG")] fn count() -> u64` by hand.
    let sent = Arc::new(AtomicU64::new(0));
    let count = OutputHandler::publishing("sensor::count", "output/pepeunit", move |_unit| {
        let value = sent.fetch_add(1, Ordering::Relaxed) + 1;
        async move { value }
    });
    let outputs = Outputs::new().every(Period::EnvSeconds("DELAY_PUB_MSG".into()), count);
    let sensor_cycle = tokio::spawn({
        let client = sensor_client.clone();
        async move { client.run_main_cycle_with_outputs(outputs).await }
    });

    tokio::time::sleep(RUN_FOR / 2).await;
    instance.send_command(&display, Command::LogSync).await?;
    instance.set_env_var(&sensor, "DELAY_PUB_MSG", 2)?;
    instance.send_command(&sensor, Command::EnvUpdate).await?;
    tokio::time::sleep(RUN_FOR / 2).await;

    sensor_client.stop_main_cycle()?;
    display_client.stop_main_cycle()?;
    let _ = tokio::join!(sensor_cycle, display_cycle);

    println!("\ndisplay's log.json:");
    for entry in display_client.logger().get_full_log() {
        println!(
            "  {} {:<8} {}",
            entry.create_datetime, entry.level, entry.text
        );
    }
    println!("\nwhat the backend received:");
    for unit in [&sensor, &display] {
        let state = instance.wait_for_state(unit, Duration::ZERO).await;
        println!(
            "  {:<8} {} log entries; last state: version {}, {} bytes of memory free",
            unit.name(),
            instance.logs(unit).len(),
            state
                .as_ref()
                .map_or("-".into(), |s| s["pu_commit_version"].to_string()),
            state
                .as_ref()
                .map_or("-".into(), |s| s["mem_free"].to_string()),
        );
    }
    let rejections = instance.rejections();
    println!(
        "  messages the backend would have rejected: {}",
        rejections.len()
    );
    for rejection in &rejections {
        println!("    {rejection:?}");
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// A unit whose repo declares one developer variable, `DELAY_PUB_MSG` (seconds between publications).
fn unit_spec(name: &str, dir: &Path) -> UnitSpec {
    let mut spec = UnitSpec::new(name, dir);
    spec.env_example = Some(json!({ "DELAY_PUB_MSG": 1 }));
    spec
}

fn client(unit: &TestUnit) -> pepeunit::Result<PepeunitClient> {
    PepeunitClient::builder(
        unit.env_path(),
        unit.schema_path(),
        unit.dir().join("log.json"),
    )
    .mqtt(true)
    .rest(true)
    .restart_mode(RestartMode::ReloadOnly)
    .build()
}
