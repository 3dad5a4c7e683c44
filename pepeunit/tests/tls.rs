//! TLS against the testkit's TLS links (a CA and a certificate for 127.0.0.1 made at start): `mqtts`
//! and `https` work with the CA configured; an untrusted certificate or a wrong host name is a clear
//! error in log.json / the call's error, with no plaintext fallback, no retry storm, and no CONNECT
//! (so no token) ever reaching the broker side.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pepeunit::Error;
use pepeunit::backoff::Backoff;
use pepeunit::client::PepeunitClient;
use pepeunit::mqtt::MqttConfig;
use pepeunit::rest::RestOptions;
use pepeunit_testkit::{Instance, InstanceOptions, TestUnit, UnitSpec};
use serde_json::Value;
use support::{TempDir, max_attempts, stop_cycle};

const WAIT: Duration = Duration::from_secs(20);
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(200),
    max: Duration::from_secs(1),
};

async fn tls_instance() -> Instance {
    Instance::start(InstanceOptions {
        tls: true,
        ..InstanceOptions::default()
    })
    .await
    .unwrap()
}

fn mqtt_client(unit: &TestUnit, ca_file: Option<PathBuf>) -> PepeunitClient {
    support::mqtt_unit_builder(
        unit,
        MqttConfig {
            tls: Some(true),
            ca_file,
            backoff: BACKOFF,
            ..MqttConfig::default()
        },
    )
    .build()
    .unwrap()
}

fn log_text(unit: &TestUnit) -> String {
    std::fs::read_to_string(unit.dir().join("log.json")).unwrap_or_default()
}

/// Runs the unit's main cycle for 4 s against a broker it must refuse; returns the connection
/// attempts the MQTT link saw and the time they were counted over.
async fn refused_for_4_s(
    instance: &Instance,
    unit: &TestUnit,
    ca_file: Option<PathBuf>,
) -> (u64, Duration) {
    let before = instance.mqtt_link().connections();
    let start = Instant::now();
    let client = mqtt_client(unit, ca_file);
    let cycle = tokio::spawn({
        let client = client.clone();
        async move { client.run_main_cycle(|_| async {}).await }
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!client.is_mqtt_connected());
    stop_cycle(&client, cycle).await;
    (instance.mqtt_link().connections() - before, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_works_with_the_ca_and_refuses_an_untrusted_or_misnamed_broker() {
    let instance = tls_instance().await;
    let ca = instance.ca_file().unwrap().to_owned();
    let dir = TempDir::new("tls-mqtt");

    // With the instance's CA: connects, subscribes, publishes.
    let unit = instance
        .create_unit(UnitSpec::new("trusting", dir.path().join("trusting")))
        .await
        .unwrap();
    let client = mqtt_client(&unit, Some(ca.clone()));
    let cycle = tokio::spawn({
        let client = client.clone();
        async move { client.run_main_cycle(|_| async {}).await }
    });
    assert!(instance.wait_for_state(&unit, WAIT).await.is_some());
    stop_cycle(&client, cycle).await;
    let connects = instance.mqtt_link().connects();
    assert_eq!(connects, 1);

    // Without it: the certificate is untrusted.
    let untrusting = instance
        .create_unit(UnitSpec::new("untrusting", dir.path().join("untrusting")))
        .await
        .unwrap();
    let attempts = refused_for_4_s(&instance, &untrusting, None).await;
    let log = log_text(&untrusting);
    println!(
        "untrusted certificate: {} attempts in {:.1} s",
        attempts.0,
        attempts.1.as_secs_f64()
    );
    assert!(
        log.contains("TLS: invalid peer certificate: UnknownIssuer"),
        "{log}"
    );
    assert!(log.contains("no plaintext fallback"), "{log}");

    // With the CA but the wrong name: the certificate is for 127.0.0.1, not localhost.
    let misnamed = instance
        .create_unit(
            UnitSpec::new("misnamed", dir.path().join("misnamed"))
                .with_env("PU_MQTT_HOST", "localhost"),
        )
        .await
        .unwrap();
    let misnamed_attempts = refused_for_4_s(&instance, &misnamed, Some(ca)).await;
    let log = log_text(&misnamed);
    println!(
        "wrong host name: {} attempts in {:.1} s",
        misnamed_attempts.0,
        misnamed_attempts.1.as_secs_f64()
    );
    assert!(log.contains("TLS: invalid peer certificate"), "{log}");
    assert!(log.contains("localhost"), "{log}");

    for (what, (attempts, window)) in [("untrusted", attempts), ("misnamed", misnamed_attempts)] {
        // Retried, on the backoff.
        let bound = u64::from(max_attempts(BACKOFF, window));
        assert!(
            (2..=bound).contains(&attempts),
            "{what}: {attempts} > {bound}"
        );
    }
    assert_eq!(
        instance.mqtt_link().connects(),
        connects,
        "a CONNECT (with the token) went out before the broker was verified"
    );
    for unit in [&untrusting, &misnamed] {
        assert!(!log_text(unit).contains(unit.token()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_works_with_the_ca_and_refuses_an_untrusted_certificate() {
    let instance = tls_instance().await;
    let dir = TempDir::new("tls-rest");
    let unit = instance
        .create_unit(UnitSpec::new("rest", dir.path()))
        .await
        .unwrap();
    let env: Value = serde_json::from_slice(&std::fs::read(unit.env_path()).unwrap()).unwrap();
    assert_eq!(env["PU_HTTP_TYPE"], "https");
    let client = |ca_file: Option<PathBuf>| {
        PepeunitClient::builder(
            unit.env_path(),
            unit.schema_path(),
            unit.dir().join("log.json"),
        )
        .rest(true)
        .rest_options(RestOptions {
            ca_file,
            retries: 1,
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(100),
            },
            ..RestOptions::default()
        })
        .build()
        .unwrap()
    };
    let trusting = client(Some(instance.ca_file().unwrap().to_owned()));
    trusting.set_state_storage("kept").await.unwrap();
    assert_eq!(trusting.get_state_storage().await.unwrap(), "kept");

    let untrusting = client(None);
    let start = Instant::now();
    let error = untrusting.get_state_storage().await.unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    let error = error.to_string();
    println!(
        "https, untrusted certificate: failed after {:.2} s: {error}",
        start.elapsed().as_secs_f64()
    );
    // A refused certificate stays refused: no retry (a 5xx or a broken connection gets one here).
    let log = log_text(&unit);
    assert!(!log.contains("; retry "), "{log}");
    assert!(error.contains("https://127.0.0.1"), "{error}");
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert!(!error.contains(unit.token()));
}
