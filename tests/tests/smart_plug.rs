//! The examples' smart plug (`examples/examples/smart_plug.rs`) as its own process against a local
//! instance: the relay state is published once per change, the sampled power's mean every
//! `DELAY_PUB_MSG`, a limit below the power switches the relay off and is answered on `ack`, the
//! relay is kept in the instance's state storage as `{"Plug": …}` a restart starts from it, and an
//! update's restart saves a change made just before it.

mod support;

use std::path::Path;
use std::time::Instant;

use pepeunit::Command;
use pepeunit_testkit::{
    Instance, InstanceOptions, ProgramSource, TestUnit, UnitSpec, UpdateStatus,
};
use serde_json::{Value, json};
use support::{Dir, Unit, WAIT, output, start_connected, stop_awaiting_exit};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

async fn next_text(instance: &Instance, unit: &TestUnit, dir: &Path, name: &str) -> String {
    match instance.next_output(unit, name, WAIT).await {
        Some(message) => message.text().unwrap_or_default().to_owned(),
        None => panic!("nothing on {name}; unit output:\n{}", output(dir)),
    }
}

/// Waits for output `name` to publish `text` (a republication on connect may come first).
async fn wait_text(instance: &Instance, unit: &TestUnit, dir: &Path, name: &str, text: &str) {
    while next_text(instance, unit, dir, name).await != text {}
}

async fn start(instance: &Instance, unit: &TestUnit, dir: &Path) -> Unit {
    let binary = Path::new(env!("CARGO_BIN_EXE_smart_plug"));
    start_connected(instance, unit, binary, dir).await
}

#[tokio::test(flavor = "current_thread")]
async fn the_smart_plug_switches_measures_limits_and_keeps_its_relay() {
    let options = InstanceOptions {
        state_send_interval: 1,
        ..Default::default()
    };
    let instance = Instance::start(options).await.unwrap();
    let dir = Dir::new("smart-plug");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = UnitSpec::new("plug", &dir.0)
        .with_repo_examples(examples)
        .unwrap();
    let unit = instance.create_unit(spec).await.unwrap();
    std::fs::write(dir.0.join("meter.txt"), "120.0").unwrap();
    let process = start(&instance, &unit, &dir.0).await;

    // Published once connected, then once per change: a second `on` publishes nothing, so the
    // message after the first `on` is the `off`.
    assert_eq!(
        next_text(&instance, &unit, &dir.0, "relay_state/pepeunit").await,
        "off"
    );
    let switch = |command: &'static str| {
        let (instance, unit) = (&instance, &unit);
        async move {
            instance
                .publish_input(unit, "relay/pepeunit", command)
                .await
                .unwrap()
        }
    };
    switch("on").await;
    // An `off` before it is not a change: the value is republished after every connect (a run on a
    // loaded machine once saw a second `off` here).
    wait_text(&instance, &unit, &dir.0, "relay_state/pepeunit", "on").await;
    switch("on").await;
    switch("off").await;
    assert_eq!(
        next_text(&instance, &unit, &dir.0, "relay_state/pepeunit").await,
        "off"
    );

    // The mean of the meter's samples.
    let power: f64 = next_text(&instance, &unit, &dir.0, "power/pepeunit")
        .await
        .parse()
        .unwrap();
    assert!((power - 120.0).abs() <= 1.2, "power {power}");

    // A limit below the power: relay off, and the answer on ack.
    switch("on").await;
    assert_eq!(
        next_text(&instance, &unit, &dir.0, "relay_state/pepeunit").await,
        "on"
    );
    instance
        .publish_input(&unit, "limit/pepeunit", "100")
        .await
        .unwrap();
    let ack = next_text(&instance, &unit, &dir.0, "ack/pepeunit").await;
    assert_eq!(ack, "limit 100 W: exceeded, relay off");
    assert_eq!(
        next_text(&instance, &unit, &dir.0, "relay_state/pepeunit").await,
        "off"
    );

    // The relay back on under a higher limit, kept in the state storage.
    instance
        .publish_input(&unit, "limit/pepeunit", "500")
        .await
        .unwrap();
    assert_eq!(
        next_text(&instance, &unit, &dir.0, "ack/pepeunit").await,
        "limit 500 W"
    );
    switch("on").await;
    assert_eq!(
        next_text(&instance, &unit, &dir.0, "relay_state/pepeunit").await,
        "on"
    );
    stop_awaiting_exit(process, &dir.0).await;
    let stored: Value = serde_json::from_str(&instance.state_storage(&unit)).unwrap();
    assert_eq!(stored, json!({"Plug": {"on": true, "limit_watts": 500.0}}));

    // A restart starts from it and publishes it once connected.
    let process = start(&instance, &unit, &dir.0).await;
    assert_eq!(
        next_text(&instance, &unit, &dir.0, "relay_state/pepeunit").await,
        "on"
    );

    // An update's restart (exec in place) saves a change made just before it: `off` is saved at
    // once, the `on` right after it is held back by the saver for a second, and the restart sends it.
    for command in ["off", "on"] {
        switch(command).await;
        wait_text(&instance, &unit, &dir.0, "relay_state/pepeunit", command).await;
    }
    let files = vec![("README.md".to_owned(), b"v2\n".to_vec())];
    instance
        .set_program(&unit, COMMIT, ProgramSource::Files(files), None)
        .unwrap();
    instance.send_command(&unit, Command::Update).await.unwrap();
    let success = UpdateStatus::Success {
        commit: COMMIT.into(),
    };
    let deadline = Instant::now() + WAIT;
    while instance.update_status(&unit) != success {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            instance.wait_for_state(&unit, left).await.is_some(),
            "no state with {COMMIT}"
        );
    }
    let stored: Value = serde_json::from_str(&instance.state_storage(&unit)).unwrap();
    assert_eq!(stored, json!({"Plug": {"on": true, "limit_watts": 500.0}}));
    wait_text(&instance, &unit, &dir.0, "relay_state/pepeunit", "on").await;
    stop_awaiting_exit(process, &dir.0).await;
}
