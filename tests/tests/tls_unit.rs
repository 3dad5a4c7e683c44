//! `ca_file` and `mqtt_tls` of `#[pepeunit::main]`: a macro-built unit (`units/tls_unit.rs`,
//! `ca_file = "ca.pem", mqtt_tls = "on"`) reaches a local instance that serves only `mqtts` (on a
//! free port, so TLS is not implied by 8883) and `https`, with that instance's CA beside its files;
//! without the file it stops at start with an error naming it; `PEPEUNIT_CA_FILE` overrides the
//! option; `PEPEUNIT_MQTT_TLS=off` overrides `mqtt_tls` (and then the TLS broker cannot be read),
//! and a value it does not know stops the start.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use pepeunit::Command;
use pepeunit_testkit::{Instance, InstanceOptions, TestUnit, UnitSpec};
use serde_json::Value;
use support::{Dir, Unit, WAIT, output, stop_with_sigterm};

/// A state over `mqtts`, then an `env_update` fetched over `https`: both links trusted the CA.
async fn works_over_tls(instance: &Instance, unit: &TestUnit, dir: &Path, delay: u64) {
    assert!(
        instance.wait_for_state(unit, WAIT).await.is_some(),
        "no state over mqtts: {}{}",
        output(dir),
        std::fs::read_to_string(dir.join("log.json")).unwrap_or_default()
    );
    instance.set_env_var(unit, "DELAY_PUB_MSG", delay).unwrap();
    instance
        .send_command(unit, Command::EnvUpdate)
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let env: Value = serde_json::from_slice(&std::fs::read(unit.env_path()).unwrap()).unwrap();
        if env["DELAY_PUB_MSG"] == delay {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "env_update over https did not arrive: {}",
            output(dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ca_file_on_main_trusts_a_private_ca_and_the_environment_overrides_it() {
    let instance = Instance::start(InstanceOptions {
        tls: true,
        state_send_interval: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let ca = instance.ca_file().unwrap().to_owned();
    let binary = Path::new(env!("CARGO_BIN_EXE_tls_unit"));
    let dir = Dir::new("tls-unit");
    let unit = instance
        .create_unit(UnitSpec::new("tls-unit", &dir.0))
        .await
        .unwrap();

    // The option's path, relative to the unit's directory.
    std::fs::copy(&ca, dir.0.join("ca.pem")).unwrap();
    let mut process = Unit::start(binary, &dir.0, &[]);
    works_over_tls(&instance, &unit, &dir.0, 7).await;
    stop_with_sigterm(&mut process, &dir.0);

    // No such file: a clear error at start, not a unit that retries TLS forever.
    std::fs::remove_file(dir.0.join("ca.pem")).unwrap();
    let mut process = Unit::start(binary, &dir.0, &[]);
    assert_eq!(process.wait().code(), Some(1), "{}", output(&dir.0));
    let said = output(&dir.0);
    assert!(
        said.contains("ca.pem") && said.contains("No such file"),
        "{said}"
    );

    // The environment variable wins over the option.
    let mut process = Unit::start(binary, &dir.0, &[("PEPEUNIT_CA_FILE", ca.as_os_str())]);
    works_over_tls(&instance, &unit, &dir.0, 9).await;
    stop_with_sigterm(&mut process, &dir.0);

    // `PEPEUNIT_MQTT_TLS=off` wins over `mqtt_tls = "on"`: plain MQTT meets the TLS listener.
    let envs = [
        ("PEPEUNIT_CA_FILE", ca.as_os_str()),
        ("PEPEUNIT_MQTT_TLS", "off".as_ref()),
    ];
    let log = dir.0.join("log.json");
    std::fs::remove_file(&log).unwrap();
    let mut process = Unit::start(binary, &dir.0, &envs);
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("MQTT connection failed")
    {
        assert!(Instant::now() < deadline, "{}", output(&dir.0));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_with_sigterm(&mut process, &dir.0);

    // A value it does not know stops the start, naming the variable.
    let envs = [("PEPEUNIT_MQTT_TLS", "yes".as_ref())];
    let mut process = Unit::start(binary, &dir.0, &envs);
    assert_eq!(process.wait().code(), Some(1), "{}", output(&dir.0));
    assert!(
        output(&dir.0).contains("PEPEUNIT_MQTT_TLS"),
        "{}",
        output(&dir.0)
    );
}
