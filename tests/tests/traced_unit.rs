//! `units/traced_unit.rs` (a macro-built unit with no logging set-up) run as a child process: its
//! handler's `tracing::warn!` and `log::warn!` both arrive on `log/pepeunit` as Warnings, through
//! the bridges `#[pepeunit::main]` installs.

mod support;

use std::path::Path;

use pepeunit_testkit::{Instance, InstanceOptions, UnitSpec};
use support::{Dir, Unit, WAIT, output, stop_with_sigterm, wait_log_where};

#[tokio::test(flavor = "current_thread")]
async fn tracing_and_log_warnings_reach_the_unit_log_without_a_logging_set_up() {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = Dir::new("traced-unit");
    let unit = instance
        .create_unit(UnitSpec::new("traced", &dir.0))
        .await
        .unwrap();
    let mut process = Unit::start(Path::new(env!("CARGO_BIN_EXE_traced_unit")), &dir.0, &[]);
    assert!(
        instance.wait_for_state(&unit, WAIT).await.is_some(),
        "no state: {}",
        output(&dir.0)
    );
    // `main` ran before the connection: its event is in log.json only.
    let log = std::fs::read_to_string(dir.0.join("log.json")).unwrap();
    assert!(
        log.contains(r#""level":"Info","text":"traced_unit: traced unit started""#),
        "{log}"
    );

    instance
        .publish_input(&unit, "input/pepeunit", "30")
        .await
        .unwrap();
    // The two bridges have writers of their own: the warnings may arrive in either order.
    let mut wanted = vec![
        "traced_unit: too hot celsius=30.0",
        "traced_unit: too hot: 30",
    ];
    while !wanted.is_empty() {
        let entry = wait_log_where(&instance, &unit, &dir.0, "a bridged warning", |e| {
            wanted.iter().any(|w| e["text"] == *w)
        })
        .await;
        assert_eq!(entry["level"], "Warning", "{entry}");
        wanted.retain(|w| entry["text"] != *w);
    }
    stop_with_sigterm(&mut process, &dir.0);
}
