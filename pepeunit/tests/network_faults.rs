//! Network faults under a running unit, injected on the testkit's links (TCP proxies between the unit
//! and the broker or REST): a token the broker refuses, a black-holed link, dropped connections, a dead
//! or slow REST link. Every wait is bounded; figures are printed (`--nocapture`) for RELIABILITY.md.

mod support;

use std::time::{Duration, Instant};

use pepeunit::backoff::Backoff;
use pepeunit::client::PepeunitClient;
use pepeunit::mqtt::MqttConfig;
use pepeunit::rest::{HttpTimeouts, RestOptions};
use pepeunit::runtime::Message;
use pepeunit_testkit::{BrokerKind, Instance, InstanceOptions, LinkMode, TestUnit, UnitSpec};
use serde_json::Value;
use support::{TempDir, max_attempts, stop_cycle as stop};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);
/// Small so that the tests are short: the dead-link watchdog fires after 1.5 × this.
const KEEPALIVE_S: u64 = 2;
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(200),
    max: Duration::from_secs(1),
};

async fn instance() -> Instance {
    Instance::start(InstanceOptions {
        broker: BrokerKind::Mosquitto,
        ..InstanceOptions::default()
    })
    .await
    .unwrap()
}

async fn unit(instance: &Instance, dir: &TempDir) -> TestUnit {
    instance
        .create_unit(UnitSpec::new("faulty", dir.path()).with_env("PU_MQTT_KEEPALIVE", KEEPALIVE_S))
        .await
        .unwrap()
}

fn client(unit: &TestUnit) -> (PepeunitClient, mpsc::UnboundedReceiver<Message>) {
    let client = support::mqtt_unit_builder(
        unit,
        MqttConfig {
            backoff: BACKOFF,
            ..MqttConfig::default()
        },
    )
    .build()
    .unwrap();
    let rx = support::record_inputs(&client);
    (client, rx)
}

fn run(client: &PepeunitClient) -> JoinHandle<pepeunit::Result<()>> {
    let client = client.clone();
    tokio::spawn(async move { client.run_main_cycle(|_| async {}).await })
}

/// A unit running its main cycle, connected and subscribed, as (instance, its dir, unit, client,
/// the messages its input handler got, the main cycle).
type Running = (
    Instance,
    TempDir,
    TestUnit,
    PepeunitClient,
    mpsc::UnboundedReceiver<Message>,
    JoinHandle<pepeunit::Result<()>>,
);

async fn running(tag: &str) -> Running {
    let instance = instance().await;
    let dir = TempDir::new(tag);
    let unit = unit(&instance, &dir).await;
    let (client, mut inputs) = client(&unit);
    let cycle = run(&client);
    assert!(instance.wait_for_state(&unit, WAIT).await.is_some());
    expect_input_reaches(&instance, &unit, &mut inputs, "ready").await;
    (instance, dir, unit, client, inputs, cycle)
}

/// log.json as (level, text) pairs.
fn log_lines(unit: &TestUnit) -> Vec<(String, String)> {
    std::fs::read_to_string(unit.dir().join("log.json"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            (field("level"), field("text"))
        })
        .collect()
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// Sends `input` to the unit until its handler gets one (the subscription may still be on its way).
async fn expect_input_reaches(
    instance: &Instance,
    unit: &TestUnit,
    rx: &mut mpsc::UnboundedReceiver<Message>,
    input: &str,
) {
    let start = Instant::now();
    loop {
        instance
            .publish_input(unit, "input/pepeunit", input)
            .await
            .unwrap();
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await
            && m.text().ok() == Some(input)
        {
            return;
        }
        assert!(start.elapsed() < WAIT, "{input} never reached the handler");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_logged_with_its_reason_and_retried_on_the_backoff() {
    let instance = instance().await;
    let dir = TempDir::new("nf-token");
    let unit = unit(&instance, &dir).await;
    // Same uuid, another signature: a token this instance never issued.
    let mut env: Value = serde_json::from_slice(&std::fs::read(unit.env_path()).unwrap()).unwrap();
    let token = env["PU_AUTH_TOKEN"].as_str().unwrap().to_owned();
    let forged = format!("{}x", &token[..token.len() - 1]);
    env["PU_AUTH_TOKEN"] = Value::from(forged.clone());
    std::fs::write(unit.env_path(), env.to_string()).unwrap();

    let (client, _rx) = client(&unit);
    let start = Instant::now();
    let cycle = run(&client);
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop(&client, cycle).await;
    let window = start.elapsed();
    let link = instance.mqtt_link();
    let attempts = link.connections();
    let bound = max_attempts(BACKOFF, window);
    println!(
        "bad token: {attempts} CONNECT attempts in {:.1} s (backoff bound {bound}), {} refused",
        window.as_secs_f64(),
        link.refused_connects()
    );
    assert!(attempts >= 3, "the unit stopped retrying: {attempts}");
    assert!(
        attempts <= u64::from(bound),
        "{attempts} attempts, the backoff allows {bound}"
    );
    assert!(link.refused_connects() + 1 >= attempts);

    let lines = log_lines(&unit);
    let failures: Vec<&(String, String)> = lines
        .iter()
        .filter(|(_, text)| text.starts_with("MQTT connection failed"))
        .collect();
    println!("bad token: {} of the failures logged", failures.len());
    assert!(!failures.is_empty(), "{lines:?}");
    // First failure, then powers of two only.
    let logged_max = 1 + attempts.ilog2() as usize;
    assert!(failures.len() <= logged_max, "{failures:?}");
    for (level, text) in &failures {
        assert_eq!(level, "Error");
        assert!(
            text.contains("refused by the broker: bad user name or password")
                && text.contains("PU_AUTH_TOKEN")
                && text.contains("CONNACK 4"),
            "{text}"
        );
    }
    assert!(!lines.iter().any(|(_, t)| t == "Connected to MQTT broker"));
    let raw = std::fs::read_to_string(unit.dir().join("log.json")).unwrap();
    assert!(!raw.contains(&forged) && !raw.contains(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_link_is_detected_within_one_and_a_half_keepalives() {
    let (instance, _dir, unit, client, mut rx, cycle) = running("nf-hole").await;

    let link = instance.mqtt_link();
    link.set_mode(LinkMode::BlackHole);
    let detected = wait_until("the dead link to be noticed", || {
        !client.is_mqtt_connected()
    })
    .await;
    let limit = Duration::from_secs(KEEPALIVE_S).mul_f64(1.5);
    println!(
        "black hole: detected after {:.2} s (keepalive {KEEPALIVE_S} s, limit {:.1} s)",
        detected.as_secs_f64(),
        limit.as_secs_f64()
    );
    // The watchdog counts from the broker's last packet, which came before the hole opened; the
    // slack covers scheduling on a loaded machine and this test's 10 ms polling.
    assert!(
        detected <= limit + Duration::from_millis(500),
        "{detected:?}"
    );
    let attempts_before = link.connections();
    tokio::time::sleep(Duration::from_secs(2)).await;
    link.set_mode(LinkMode::Pass);
    let healed = Instant::now();
    wait_until("the unit to reconnect", || client.is_mqtt_connected()).await;
    let reconnect = healed.elapsed();
    expect_input_reaches(&instance, &unit, &mut rx, "after").await;
    println!(
        "black hole: reconnected {:.2} s after the link healed, {} attempts in all",
        reconnect.as_secs_f64(),
        link.connections() - attempts_before
    );
    let lines = log_lines(&unit);
    let lost = lines
        .iter()
        .find(|(_, t)| t.starts_with("MQTT connection lost"))
        .expect("the loss is logged");
    assert!(
        lost.1
            .contains("no packet from the broker for 3.0 s (1.5 × keepalive)"),
        "{lost:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(_, t)| t.starts_with("MQTT reconnected after")),
        "{lines:?}"
    );
    stop(&client, cycle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_never_repeat_an_input_nor_lose_an_output_silently() {
    let (instance, _dir, unit, client, mut rx, cycle) = running("nf-drop").await;

    const MESSAGES: u32 = 80;
    let mut drops = 0;
    for i in 0..MESSAGES {
        instance
            .publish_input(&unit, "input/pepeunit", i.to_string())
            .await
            .unwrap();
        client
            .publish_to_topics("output/pepeunit", i.to_string())
            .await
            .unwrap();
        if i % 16 == 8 {
            // Each drop cuts a live connection.
            wait_until("the unit to reconnect", || client.is_mqtt_connected()).await;
            instance.mqtt_link().drop_connections();
            drops += 1;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    wait_until("the unit to reconnect", || client.is_mqtt_connected()).await;
    let mut inputs = Vec::new();
    let start = Instant::now();
    'end: loop {
        instance
            .publish_input(&unit, "input/pepeunit", "end")
            .await
            .unwrap();
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
            match m.text().ok() {
                Some("end") => break 'end,
                Some(text) => inputs.extend(text.parse::<u32>().ok()),
                None => {}
            }
        }
        assert!(
            start.elapsed() < WAIT,
            "the last input never reached the handler"
        );
    }
    client
        .publish_to_topics("output/pepeunit", "end")
        .await
        .unwrap();
    let output = unit
        .nodes()
        .iter()
        .find(|n| n.name == "output/pepeunit")
        .map(|_| {
            let schema: Value =
                serde_json::from_slice(&std::fs::read(unit.schema_path()).unwrap()).unwrap();
            schema["output_topic"]["output/pepeunit"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .unwrap();
    let start = Instant::now();
    while instance
        .messages(&output)
        .last()
        .and_then(|m| m.text().map(str::to_owned))
        != Some("end".into())
    {
        assert!(start.elapsed() < WAIT, "the last output never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop(&client, cycle).await;

    // Inputs: whatever reached the handler came once, in order (QoS 0 may lose, never repeat).
    assert!(!inputs.is_empty());
    assert!(inputs.windows(2).all(|w| w[0] < w[1]), "{inputs:?}");
    // Outputs: delivered once each, in order; every missing one is counted in log.json.
    let outputs: Vec<u32> = instance
        .messages(&output)
        .iter()
        .filter_map(|m| m.text().and_then(|t| t.parse().ok()))
        .collect();
    assert!(outputs.windows(2).all(|w| w[0] < w[1]), "{outputs:?}");
    let lines = log_lines(&unit);
    let counted: u64 = lines
        .iter()
        .filter_map(|(_, t)| {
            let dropped = t
                .strip_suffix(" messages published while offline were dropped (offline queue full)")
                .and_then(|n| n.parse::<u64>().ok());
            let unconfirmed = t.split("; ").nth(1).and_then(|rest| {
                rest.strip_suffix(" message(s) sent since the last PINGRESP may not have arrived (QoS 0, unconfirmed)")?
                    .parse::<u64>()
                    .ok()
            });
            dropped.or(unconfirmed)
        })
        .sum();
    let missing = u64::from(MESSAGES) - outputs.len() as u64;
    let reconnects = lines
        .iter()
        .filter(|(_, t)| t == "Connected to MQTT broker")
        .count()
        - 1;
    println!(
        "drops: {drops} injected, {reconnects} reconnects; inputs handled {}/{MESSAGES} (no repeat); \
         outputs delivered {}/{MESSAGES}, missing {missing}, counted as possibly lost {counted}",
        inputs.len(),
        outputs.len()
    );
    assert_eq!(reconnects, drops, "one reconnect per dropped connection");
    assert!(
        missing <= counted,
        "{missing} outputs lost, {counted} counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_calls_time_out_on_a_dead_link_and_pass_a_slow_one() {
    let instance = instance().await;
    let dir = TempDir::new("nf-rest");
    let unit = unit(&instance, &dir).await;
    let options = RestOptions {
        timeouts: HttpTimeouts {
            connect: Duration::from_secs(1),
            read: Duration::from_secs(1),
        },
        call_timeout: Duration::from_secs(1),
        retries: 1,
        backoff: Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(200),
        },
        ..RestOptions::default()
    };
    let client = PepeunitClient::builder(
        unit.env_path(),
        unit.schema_path(),
        unit.dir().join("log.json"),
    )
    .rest(true)
    .rest_options(options.clone())
    .build()
    .unwrap();
    client.get_state_storage().await.unwrap();

    instance
        .rest_link()
        .set_mode(LinkMode::Slow(Duration::from_millis(100)));
    assert_eq!(client.get_state_storage().await.unwrap(), "");

    instance.rest_link().set_mode(LinkMode::BlackHole);
    // Bound: every attempt's call timeout plus the longest backoffs, and room for a loaded machine.
    let bound = (options.call_timeout + options.backoff.max) * (options.retries + 1)
        + Duration::from_secs(2);
    let start = Instant::now();
    let small = client.get_state_storage().await;
    let small_took = start.elapsed();
    let start = Instant::now();
    let download = client.download_update(&dir.path().join("update.tgz")).await;
    let download_took = start.elapsed();
    println!(
        "dead REST link: a small call failed after {:.2} s, a download after {:.2} s (bound {:.1} s)",
        small_took.as_secs_f64(),
        download_took.as_secs_f64(),
        bound.as_secs_f64()
    );
    for (what, result, took) in [
        ("get_state_storage", small.map(|_| ()), small_took),
        ("download_update", download.map(|_| ()), download_took),
    ] {
        let error = result.expect_err(what).to_string();
        assert!(
            error.contains("timed out") || error.contains("timeout"),
            "{what}: {error}"
        );
        assert!(!error.contains(unit.token()));
        assert!(took <= bound, "{what} took {took:?}");
    }
    instance.rest_link().set_mode(LinkMode::Pass);
    assert_eq!(client.get_state_storage().await.unwrap(), "");
}
