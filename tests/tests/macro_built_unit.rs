//! The examples' macro-built `macro_unit` (a binary of this crate) run as a child process against a local
//! Pepeunit instance: its input reaches the `#[input]` function, the `#[output]` function publishes,
//! SIGTERM ends it cleanly. Every child is killed on every path. (The unit template is rendered, built
//! and tested by `scripts/check-template`.)

mod support;

use std::path::Path;

use pepeunit_testkit::{Instance, InstanceOptions, UnitSpec};
use support::{Dir, Unit, WAIT, output, stop_with_sigterm, wait_log};

#[tokio::test(flavor = "current_thread")]
async fn macro_unit_handles_input_publishes_output_and_stops_on_sigterm() {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = Dir::new("macro-unit");
    let unit = instance
        .create_unit(UnitSpec::new("macro", &dir.0))
        .await
        .unwrap();
    let mut process = Unit::start(Path::new(env!("CARGO_BIN_EXE_macro_unit")), &dir.0, &[]);

    // The first state comes after the subscriptions, on the same connection.
    let state = instance.wait_for_state(&unit, WAIT).await;
    assert!(state.is_some(), "no state: {}", output(&dir.0));
    // The setup body ran before the connection started: its entry is in log.json only.
    let log = std::fs::read_to_string(dir.0.join("log.json")).unwrap();
    assert!(log.contains("macro unit started"), "{log}");
    instance
        .publish_input(&unit, "input/pepeunit", "21")
        .await
        .unwrap();
    wait_log(&instance, &unit, "got 21", &dir.0).await;
    let output = instance.next_output(&unit, "output/pepeunit", WAIT).await;
    assert_eq!(output.as_ref().and_then(|m| m.text()), Some("42"));

    stop_with_sigterm(&mut process, &dir.0);
}

#[test]
fn macro_unit_without_its_files_exits_with_an_error() {
    let dir = Dir::new("macro-unit-empty");
    let mut process = Unit::start(Path::new(env!("CARGO_BIN_EXE_macro_unit")), &dir.0, &[]);
    assert_eq!(process.wait().code(), Some(1));
    let output = output(&dir.0);
    assert!(output.starts_with("error: "), "{output}");
    assert!(output.contains("env.json"), "{output}");
}
