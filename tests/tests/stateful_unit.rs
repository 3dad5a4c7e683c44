//! A unit with unit state (`units/stateful_unit.rs`), run as a child process against a local
//! instance: an input's `&mut` change is what an output's `&` sees; a `State<T>` handle in an async
//! input changes a stored state, which reaches the instance's state storage as `{"Plug": …}`, is
//! flushed on a clean stop and is where a restart starts from; a storage that does not parse starts
//! the unit from `Default` with one Warning and stays as it is until the state changes.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use pepeunit::prelude::*;
use pepeunit_testkit::{Instance, InstanceOptions, TestUnit, UnitSpec};
use serde_json::{Value, json};
use support::{Dir, Unit, WAIT, output, start_connected, stop_awaiting_exit, wait_log};

/// Waits for output `name` to publish `text`.
async fn wait_output(instance: &Instance, unit: &TestUnit, dir: &Path, name: &str, text: &str) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let message = instance.next_output(unit, name, WAIT).await;
        if message.as_ref().and_then(|m| m.text()) == Some(text) {
            return;
        }
    }
    panic!(
        "{name} never published {text}; unit output:\n{}",
        output(dir)
    );
}

/// Waits for the instance's state storage to hold `expected` (as JSON).
async fn wait_storage(instance: &Instance, unit: &TestUnit, expected: &Value) {
    let deadline = Instant::now() + WAIT;
    loop {
        let stored = instance.state_storage(unit);
        if serde_json::from_str::<Value>(&stored).ok().as_ref() == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "state storage is {stored:?}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The unit's log.json entries at `level` whose text contains `part`.
fn log_entries(dir: &Path, level: &str, part: &str) -> Vec<String> {
    let log = std::fs::read_to_string(dir.join("log.json")).unwrap();
    log.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|entry| entry["level"] == level)
        .filter_map(|entry| entry["text"].as_str().map(str::to_owned))
        .filter(|text| text.contains(part))
        .collect()
}

/// Starts the unit and waits until it is connected (its state arrives).
async fn start(instance: &Instance, unit: &TestUnit, dir: &Path) -> Unit {
    let binary = Path::new(env!("CARGO_BIN_EXE_stateful_unit"));
    start_connected(instance, unit, binary, dir).await
}

#[tokio::test(flavor = "current_thread")]
async fn unit_state_is_shared_by_handlers_and_stored_state_survives_restarts() {
    let options = InstanceOptions {
        state_send_interval: 1,
        ..Default::default()
    };
    let instance = Instance::start(options).await.unwrap();
    let dir = Dir::new("stateful-unit");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = UnitSpec::new("stateful", &dir.0)
        .with_repo_examples(examples)
        .unwrap();
    let unit = instance.create_unit(spec).await.unwrap();
    let process = start(&instance, &unit, &dir.0).await;

    // `&mut Total` in an input, `&Total` in an output.
    instance
        .publish_input(&unit, "number/pepeunit", "5")
        .await
        .unwrap();
    instance
        .publish_input(&unit, "number/pepeunit", "7")
        .await
        .unwrap();
    wait_output(&instance, &unit, &dir.0, "counter/pepeunit", "12").await;

    // `State<Plug>` in an async input: the relay follows and the storage holds `{"Plug": …}`.
    wait_output(&instance, &unit, &dir.0, "output/pepeunit", "off").await;
    assert_eq!(instance.state_storage(&unit), "", "saved before any change");
    instance
        .publish_input(&unit, "text/pepeunit", "on")
        .await
        .unwrap();
    wait_log(&instance, &unit, "switch on (1)", &dir.0).await;
    wait_output(&instance, &unit, &dir.0, "output/pepeunit", "on").await;
    wait_storage(
        &instance,
        &unit,
        &json!({"Plug": {"on": true, "switches": 1}}),
    )
    .await;

    // A change just before a clean stop is flushed by the stop.
    instance
        .publish_input(&unit, "text/pepeunit", "off")
        .await
        .unwrap();
    wait_log(&instance, &unit, "switch off (2)", &dir.0).await;
    stop_awaiting_exit(process, &dir.0).await;
    let stored: Value = serde_json::from_str(&instance.state_storage(&unit)).unwrap();
    assert_eq!(stored, json!({"Plug": {"on": false, "switches": 2}}));

    // A restart starts from the stored state.
    let process = start(&instance, &unit, &dir.0).await;
    instance
        .publish_input(&unit, "text/pepeunit", "on")
        .await
        .unwrap();
    wait_log(&instance, &unit, "switch on (3)", &dir.0).await;
    stop_awaiting_exit(process, &dir.0).await;
    assert!(
        log_entries(&dir.0, "Warning", "Stored state").is_empty(),
        "{:?}",
        log_entries(&dir.0, "Warning", "")
    );

    // A storage that does not parse: `Default`, one Warning, the storage kept until a change.
    let other = PepeunitClient::builder(
        dir.0.join("env.json"),
        dir.0.join("schema.json"),
        dir.0.join("other-log.json"),
    )
    .rest(true)
    .build()
    .unwrap();
    other.set_state_storage("not json").await.unwrap();
    let _ = std::fs::remove_file(dir.0.join("log.json"));
    let process = start(&instance, &unit, &dir.0).await;
    wait_output(&instance, &unit, &dir.0, "output/pepeunit", "off").await;
    let warnings = log_entries(
        &dir.0,
        "Warning",
        "Stored states Plug start from their default",
    );
    assert_eq!(
        warnings.len(),
        1,
        "{:?}",
        log_entries(&dir.0, "Warning", "")
    );
    assert!(warnings[0].contains("not a JSON object"), "{}", warnings[0]);
    assert_eq!(instance.state_storage(&unit), "not json");
    instance
        .publish_input(&unit, "text/pepeunit", "on")
        .await
        .unwrap();
    wait_log(&instance, &unit, "switch on (1)", &dir.0).await;
    wait_storage(
        &instance,
        &unit,
        &json!({"Plug": {"on": true, "switches": 1}}),
    )
    .await;
    drop(process);
}

/// Kept in the state storage: needs a client with REST.
#[pepeunit::state(stored)]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Kept {
    value: u32,
}

#[tokio::test(flavor = "current_thread")]
async fn a_stored_state_without_rest_is_a_start_up_error_naming_it() {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = Dir::new("stored-without-rest");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = UnitSpec::new("stored", &dir.0)
        .with_repo_examples(examples)
        .unwrap();
    instance.create_unit(spec).await.unwrap();
    let unit = PepeunitClient::builder(
        dir.0.join("env.json"),
        dir.0.join("schema.json"),
        dir.0.join("log.json"),
    )
    .build()
    .unwrap();
    unit.state::<Kept>();
    let error = unit.load_stored_states().await.unwrap_err();
    assert!(
        matches!(error, pepeunit::Error::StoredStateWithoutRest { .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("state Kept is stored") && text.contains("`rest` flag"),
        "{text}"
    );
}
