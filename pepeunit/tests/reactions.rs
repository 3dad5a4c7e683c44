//! Reactions and numeric outputs against the testkit's real broker: an input's `publish` answer, an
//! on-change output (once per change, its heartbeat, again after the broker came back), and sampled,
//! `delta` and `round` outputs driven through an input.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pepeunit::backoff::Backoff;
use pepeunit::client::PepeunitClient;
use pepeunit::mqtt::MqttConfig;
use pepeunit::runtime::{
    ChangeOutput, InputHandler, Message, NumericOutput, Outputs, Period, Rejected,
};
use pepeunit::update::RestartMode;
use pepeunit_testkit::{Instance, TestUnit, UnitSpec};
use serde_json::json;
use support::{TempDir, stop_cycle};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);

/// A unit with one input (`input/pepeunit`) and the outputs the tests publish to.
async fn unit(instance: &Instance, dir: &TempDir) -> TestUnit {
    let mut spec = UnitSpec::new("reacting", dir.path());
    spec.schema_example = Some(json!({
        "input_base_topic": ["update/pepeunit", "env_update/pepeunit", "schema_update/pepeunit", "log_sync/pepeunit"],
        "output_base_topic": ["state/pepeunit", "log/pepeunit"],
        "input_topic": ["input/pepeunit"],
        "output_topic": ["output/pepeunit", "ack/pepeunit", "moved/pepeunit"]
    }));
    instance.create_unit(spec).await.unwrap()
}

/// The value the test drives through `input/pepeunit` (`None` until the first message), and an
/// input handler that sets it and answers `ack <value>` on `ack/pepeunit`.
fn driven(client: &PepeunitClient) -> Arc<Mutex<Option<f64>>> {
    let value = Arc::new(Mutex::new(None));
    let set = value.clone();
    let handler = InputHandler::answering("set", "ack/pepeunit", move |_, message: Message| {
        let set = set.clone();
        async move {
            let text = message
                .text()
                .map_err(|e| Rejected::new::<f64>(e.to_string()))?;
            let number: f64 = text
                .parse()
                .map_err(|_| Rejected::new::<f64>("not a number"))?;
            *set.lock().unwrap() = Some(number);
            Ok(format!("ack {text}"))
        }
    });
    client.set_input_handler(handler).unwrap();
    value
}

fn client(unit: &TestUnit) -> PepeunitClient {
    let config = MqttConfig {
        // Back soon after the broker restarts (the observer, every 50 ms, is back first).
        backoff: Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(2),
        },
        ..MqttConfig::default()
    };
    PepeunitClient::builder(
        unit.env_path(),
        unit.schema_path(),
        unit.dir().join("log.json"),
    )
    .mqtt(true)
    .mqtt_config(config)
    .restart_mode(RestartMode::None)
    .build()
    .unwrap()
}

fn run(client: &PepeunitClient, outputs: Outputs) -> JoinHandle<pepeunit::Result<()>> {
    let client = client.clone();
    tokio::spawn(async move { client.run_main_cycle_with_outputs(outputs).await })
}

async fn next(instance: &Instance, unit: &TestUnit, name: &str) -> String {
    let message = instance.next_output(unit, name, WAIT).await;
    let message = message.unwrap_or_else(|| panic!("nothing published on {name}"));
    message.text().unwrap().to_owned()
}

fn current(value: &Arc<Mutex<Option<f64>>>) -> Option<f64> {
    *value.lock().unwrap()
}

#[tokio::test]
async fn an_answer_and_an_output_published_once_per_change_and_again_after_a_reconnect() {
    let instance = Instance::start(Default::default()).await.unwrap();
    let dir = TempDir::new("react-change");
    let unit = unit(&instance, &dir).await;
    let client = client(&unit);
    let value = driven(&client);
    let read = value.clone();
    let output = ChangeOutput::publishing("relay", "output/pepeunit", move |_| {
        let value = current(&read);
        async move { value.map(|v| v.to_string()) }
    });
    let cycle = run(&client, Outputs::new().on_change(output));
    assert!(instance.wait_for_state(&unit, WAIT).await.is_some());

    instance
        .publish_input(&unit, "input/pepeunit", "5")
        .await
        .unwrap();
    assert_eq!(next(&instance, &unit, "ack/pepeunit").await, "ack 5");
    assert_eq!(next(&instance, &unit, "output/pepeunit").await, "5");
    // The same value again: answered, but the output publishes only the next change.
    instance
        .publish_input(&unit, "input/pepeunit", "5")
        .await
        .unwrap();
    assert_eq!(next(&instance, &unit, "ack/pepeunit").await, "ack 5");
    instance
        .publish_input(&unit, "input/pepeunit", "6")
        .await
        .unwrap();
    assert_eq!(next(&instance, &unit, "ack/pepeunit").await, "ack 6");
    assert_eq!(next(&instance, &unit, "output/pepeunit").await, "6");

    // The broker restarts: the unchanged value is published again once the unit is back.
    instance.stop_broker();
    let deadline = std::time::Instant::now() + WAIT;
    while client.is_mqtt_connected() {
        assert!(
            std::time::Instant::now() < deadline,
            "the unit never saw the broker go"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    instance.start_broker().await.unwrap();
    assert_eq!(next(&instance, &unit, "output/pepeunit").await, "6");
    stop_cycle(&client, cycle).await;
}

#[tokio::test]
async fn a_heartbeat_republishes_an_unchanged_value() {
    let instance = Instance::start(Default::default()).await.unwrap();
    let dir = TempDir::new("react-beat");
    let unit = unit(&instance, &dir).await;
    let client = client(&unit);
    let output = ChangeOutput::publishing_blocking("steady", "output/pepeunit", |_| 42)
        .heartbeat(Duration::from_millis(200));
    let cycle = run(&client, Outputs::new().on_change(output));
    for _ in 0..3 {
        assert_eq!(next(&instance, &unit, "output/pepeunit").await, "42");
    }
    stop_cycle(&client, cycle).await;
}

#[tokio::test]
async fn sampled_delta_and_rounded_outputs() {
    let instance = Instance::start(Default::default()).await.unwrap();
    let dir = TempDir::new("react-sampled");
    let unit = unit(&instance, &dir).await;
    let client = client(&unit);
    let value = driven(&client);
    let (sampled, filtered) = (value.clone(), value.clone());
    // The mean of 50 ms samples every 500 ms on output/pepeunit; `None` (before the first input)
    // is no sample.
    let mean = NumericOutput::new_blocking("power", "output/pepeunit", move |_| current(&sampled))
        .sample(Duration::from_millis(50))
        .every(Period::Fixed(Duration::from_millis(500)));
    // The value itself every 50 ms on moved/pepeunit, rounded to 1 decimal, when it moved ≥ 1.
    let moved = NumericOutput::new_blocking("moved", "moved/pepeunit", move |_| current(&filtered))
        .every(Period::Fixed(Duration::from_millis(50)))
        .delta(1.0)
        .round(1);
    let cycle = run(&client, Outputs::new().numeric(mean).numeric(moved));
    assert!(instance.wait_for_state(&unit, WAIT).await.is_some());

    instance
        .publish_input(&unit, "input/pepeunit", "7.25")
        .await
        .unwrap();
    assert_eq!(next(&instance, &unit, "ack/pepeunit").await, "ack 7.25");
    // Only samples of 7.25 so far (None counted nothing): the first mean is exactly that.
    let first: f64 = next(&instance, &unit, "output/pepeunit")
        .await
        .parse()
        .unwrap();
    assert_eq!(first, 7.25);
    assert_eq!(next(&instance, &unit, "moved/pepeunit").await, "7.3");

    // From now on every mean lies within the values written.
    instance
        .publish_input(&unit, "input/pepeunit", "10")
        .await
        .unwrap();
    assert_eq!(next(&instance, &unit, "ack/pepeunit").await, "ack 10");
    assert_eq!(next(&instance, &unit, "moved/pepeunit").await, "10.0");
    // 7.8 moved 2.2 from 10: published; 8.5 (0.7 from 7.8) is not.
    instance
        .publish_input(&unit, "input/pepeunit", "7.8")
        .await
        .unwrap();
    assert_eq!(next(&instance, &unit, "ack/pepeunit").await, "ack 7.8");
    assert_eq!(next(&instance, &unit, "moved/pepeunit").await, "7.8");
    instance
        .publish_input(&unit, "input/pepeunit", "8.5")
        .await
        .unwrap();
    assert_eq!(next(&instance, &unit, "ack/pepeunit").await, "ack 8.5");
    instance
        .publish_input(&unit, "input/pepeunit", "9")
        .await
        .unwrap();
    assert_eq!(next(&instance, &unit, "ack/pepeunit").await, "ack 9");
    // 8.5 (a move of 0.7) was never published; 9 (1.2 from 7.8) is the next.
    assert_eq!(next(&instance, &unit, "moved/pepeunit").await, "9.0");
    for _ in 0..3 {
        let mean: f64 = next(&instance, &unit, "output/pepeunit")
            .await
            .parse()
            .unwrap();
        assert!(
            (7.25..=10.0).contains(&mean),
            "mean {mean} outside the samples written"
        );
    }
    stop_cycle(&client, cycle).await;
}

#[tokio::test]
async fn lines_logged_before_the_connection_reach_the_log_topic_once_connected() {
    let instance = Instance::start(Default::default()).await.unwrap();
    let dir = TempDir::new("react-early");
    let unit = unit(&instance, &dir).await;
    let client = client(&unit);
    // As `main`'s body logs before the main cycle connects.
    client.logger().warning("started before the connection");
    let cycle = run(&client, Outputs::new());
    let entry = instance
        .next_log_where(&unit, WAIT, |entry| {
            entry.to_string().contains("started before the connection")
        })
        .await;
    assert!(entry.is_some(), "the early line never reached log/pepeunit");
    stop_cycle(&client, cycle).await;
}

#[tokio::test]
async fn an_output_failing_the_same_way_is_logged_at_powers_of_two() {
    let instance = Instance::start(Default::default()).await.unwrap();
    let dir = TempDir::new("react-failing");
    let unit = unit(&instance, &dir).await;
    let client = client(&unit);
    let failing = pepeunit::runtime::OutputHandler::new("sensor", |_, ()| async {
        Err::<(), _>("sensor gone")
    });
    let outputs = Outputs::new().every(Period::Fixed(Duration::from_millis(50)), failing);
    let cycle = run(&client, outputs);
    let log = unit.dir().join("log.json");
    let deadline = std::time::Instant::now() + WAIT;
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|line| line.contains("sensor gone"))
            .map(str::to_owned)
            .collect();
        if lines
            .iter()
            .any(|line| line.contains("(16 times in a row)"))
        {
            break lines;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no 16th failure:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop_cycle(&client, cycle).await;
    // 16 failures, 5 lines: the 1st, then the 2nd, 4th, 8th and 16th with their count.
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert!(!lines[0].contains("times in a row"), "{}", lines[0]);
    for (line, n) in lines[1..].iter().zip([2, 4, 8, 16]) {
        assert!(line.contains(&format!("({n} times in a row)")), "{line}");
    }
}

#[tokio::test]
async fn a_success_ends_a_row_of_failures() {
    let instance = Instance::start(Default::default()).await.unwrap();
    let dir = TempDir::new("react-row");
    let unit = unit(&instance, &dir).await;
    let client = client(&unit);
    // Runs 1-2 fail, 3 succeeds, 4-5 fail the same way, then every run succeeds.
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let flaky = pepeunit::runtime::OutputHandler::new("sensor", move |_, ()| {
        let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            match run {
                1 | 2 | 4 | 5 => Err("sensor gone"),
                _ => Ok(()),
            }
        }
    });
    let outputs = Outputs::new().every(Period::Fixed(Duration::from_millis(20)), flaky);
    let cycle = run(&client, outputs);
    let deadline = std::time::Instant::now() + WAIT;
    while runs.load(Ordering::SeqCst) < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "the output stopped running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_cycle(&client, cycle).await;
    let text = std::fs::read_to_string(unit.dir().join("log.json")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("sensor gone")).collect();
    // Two rows of two: each starts with a plain line, its 2nd failure carries the count.
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for (line, counted) in lines.iter().zip([false, true, false, true]) {
        assert_eq!(line.contains("(2 times in a row)"), counted, "{line}");
        assert!(
            !line.contains("(3 times") && !line.contains("(4 times"),
            "{line}"
        );
    }
}
