//! The `tracing` bridge on a unit connected to a local instance: a handler's `warn!` in log.json
//! and on `log/pepeunit` with its level, spans and fields; `debug!` only once `PU_MIN_LOG_LEVEL`
//! allows it; a flood from a spawned task with the writer held never blocks the main cycle and
//! keeps exactly the queue; and the bridge never feeds on the library's own publishes. Each test
//! runs on one thread with its own subscriber (`set_default`); rumqttc's `log` records reach it
//! through `tracing-log`, as they would in a unit whose subscriber converts them.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use pepeunit::client::PepeunitClient;
use pepeunit::logger::{LogEntry, max_lines_on_disk};
use pepeunit::logging::{QUEUE, THREAD_NAME, layer};
use pepeunit::mqtt::MqttConfig;
use pepeunit_testkit::{Instance, InstanceOptions, TestUnit, UnitSpec};
use support::{
    TempDir, assert_no_log_loop, mqtt_unit_builder, next_log_where, set_min_log_level,
    spawn_main_cycle, stop_main_cycle,
};
use tokio::task::JoinHandle;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(20);

/// rumqttc logs through `log`: as a unit's subscriber often does, turn its records into events.
fn convert_log_records() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| tracing_log::LogTracer::init().unwrap());
}

async fn unit(instance: &Instance, dir: &TempDir, min_level: &str) -> TestUnit {
    let spec =
        UnitSpec::new("traced", dir.path().join("traced")).with_env("PU_MIN_LOG_LEVEL", min_level);
    instance.create_unit(spec).await.unwrap()
}

/// A client whose input handler echoes `input/pepeunit` to `output/pepeunit` and, inside a span,
/// emits a `debug!` and a `warn!` for each message.
fn echo_client(unit: &TestUnit) -> PepeunitClient {
    let client = mqtt_unit_builder(unit, MqttConfig::default())
        .build()
        .unwrap();
    client
        .set_input_message_handler(|client, message| async move {
            let text = message.text().unwrap_or_default().to_owned();
            let span = tracing::info_span!("handler", input = %"input/pepeunit");
            span.in_scope(|| {
                tracing::debug!(payload = %text, "received");
                tracing::warn!(celsius = 42, "too hot");
            });
            let _ = client.publish_to_topics("output/pepeunit", text).await;
        })
        .unwrap();
    client
}

/// A connected unit at `min_level` with the [`echo_client`], whose main cycle runs with
/// `subscriber(&client)` as this thread's subscriber (rumqttc's records converted to events).
struct Running {
    instance: Instance,
    unit: TestUnit,
    client: PepeunitClient,
    cycle: JoinHandle<pepeunit::Result<()>>,
    _default: DefaultGuard,
    _dir: TempDir,
}

async fn running<S>(
    tag: &str,
    min_level: &str,
    subscriber: impl FnOnce(&PepeunitClient) -> S,
) -> Running
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    convert_log_records();
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = TempDir::new(tag);
    let unit = unit(&instance, &dir, min_level).await;
    let client = echo_client(&unit);
    let default = tracing::subscriber::set_default(subscriber(&client));
    let cycle = spawn_main_cycle(&client);
    instance.wait_for_state(&unit, WAIT).await.unwrap();
    Running {
        instance,
        unit,
        client,
        cycle,
        _default: default,
        _dir: dir,
    }
}

/// The subscriber with the bridge only.
fn bridged(client: &PepeunitClient) -> impl tracing::Subscriber + Send + Sync + use<> {
    tracing_subscriber::registry().with(layer(client).unwrap())
}

fn log_json(unit: &TestUnit) -> String {
    std::fs::read_to_string(unit.dir().join("log.json")).unwrap_or_default()
}

const WARNING: &str = "handler{input=input/pepeunit}: logging_bridge: too hot celsius=42";

#[tokio::test]
async fn a_handlers_warning_reaches_log_json_and_log_pepeunit() {
    let Running {
        instance,
        unit,
        client,
        cycle,
        _default,
        _dir,
    } = running("bridge-warn", "Info", bridged).await;

    instance
        .publish_input(&unit, "input/pepeunit", "21")
        .await
        .unwrap();
    let entry = next_log_where(&instance, &unit, |e| e["text"] == WARNING).await;
    assert_eq!(entry["level"], "Warning");
    let echo = instance.next_output(&unit, "output/pepeunit", WAIT).await;
    assert_eq!(echo.unwrap().text(), Some("21"));
    let log = log_json(&unit);
    assert!(
        log.contains(&format!(r#""level":"Warning","text":"{WARNING}""#)),
        "{log}"
    );
    assert!(
        !log.contains("received"),
        "a debug! below Info was kept:\n{log}"
    );

    // PU_MIN_LOG_LEVEL is read at each event: lowered, the debug! arrives at the next message.
    set_min_log_level(&client, &unit, "Debug");
    instance
        .publish_input(&unit, "input/pepeunit", "22")
        .await
        .unwrap();
    let debug = "handler{input=input/pepeunit}: logging_bridge: received payload=22";
    let entry = next_log_where(&instance, &unit, |e| e["text"] == debug).await;
    assert_eq!(entry["level"], "Debug");
    stop_main_cycle(&client, cycle).await;
}

/// A sink that holds the bridge's writer (on its own thread) until opened, and records what the
/// writer delivers; entries logged on other threads pass.
#[derive(Clone, Default)]
struct HeldWriter {
    open: Arc<(Mutex<bool>, Condvar)>,
    entered: Arc<AtomicUsize>,
    delivered: Arc<Mutex<Vec<LogEntry>>>,
}

impl HeldWriter {
    fn install(&self, client: &PepeunitClient) {
        let held = self.clone();
        client
            .logger()
            .set_sink(Some(Arc::new(move |entry: &LogEntry| {
                if std::thread::current().name() != Some(THREAD_NAME) {
                    return;
                }
                held.entered.fetch_add(1, Ordering::SeqCst);
                let (open, opened) = &*held.open;
                let mut is_open = open.lock().unwrap();
                while !*is_open {
                    is_open = opened.wait(is_open).unwrap();
                }
                held.delivered.lock().unwrap().push(entry.clone());
            })));
    }

    fn release(&self) {
        let (open, opened) = &*self.open;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_flood_with_the_writer_held_neither_blocks_the_cycle_nor_grows_past_the_queue() {
    let Running {
        instance,
        unit,
        client,
        cycle,
        _default,
        _dir,
    } = running("bridge-flood", "Info", bridged).await;

    // The runtime's sink is replaced: the writer blocks inside its first entry.
    let held = HeldWriter::default();
    held.install(&client);
    tracing::info!("first");
    wait_until("the writer to take the first entry", || {
        held.entered.load(Ordering::SeqCst) == 1
    })
    .await;

    // 10,000 events from a spawned task: it finishes, the queue keeps 1,024, the rest is dropped.
    let flood = tokio::spawn(async {
        for i in 0..10_000 {
            tracing::info!(i, "flood");
        }
    });
    flood.await.unwrap();
    // The main cycle still answers, the writer still held.
    instance
        .publish_input(&unit, "input/pepeunit", "echo")
        .await
        .unwrap();
    let echo = instance.next_output(&unit, "output/pepeunit", WAIT).await;
    assert_eq!(echo.unwrap().text(), Some("echo"));
    assert_eq!(held.entered.load(Ordering::SeqCst), 1);

    held.release();
    let expected = 1 + 1 + QUEUE; // the held entry, one report of the drops, the queue
    wait_until("the queue to drain", || {
        held.delivered.lock().unwrap().len() >= expected
    })
    .await;
    // The echo's warn! came after the flood: dropped too. Nothing more arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let delivered = held.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), expected);
    let reports: Vec<&LogEntry> = delivered
        .iter()
        .filter(|e| e.text.starts_with("tracing bridge: "))
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0].text,
        format!("tracing bridge: 8977 events dropped so far (its queue of {QUEUE} was full)")
    );
    assert_eq!(format!("{:?}", reports[0].level), "Warning");
    let floods = delivered
        .iter()
        .filter(|e| e.text.contains("flood"))
        .count();
    assert_eq!(floods, QUEUE);
    assert!(
        delivered[2].text.ends_with("flood i=0"),
        "{:?}",
        delivered[2]
    );

    // The log itself stays within its bound (PU_MAX_LOG_LENGTH 64).
    assert!(client.logger().get_full_log().len() <= 64);
    let lines = log_json(&unit).lines().count();
    assert!(lines <= max_lines_on_disk(64), "{lines} lines in log.json");
    stop_main_cycle(&client, cycle).await;
}

/// Counts the events whose text names `topic` (what rumqttc says about a publish to it).
struct Mentions {
    topic: String,
    seen: Arc<AtomicUsize>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Mentions {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0 += &format!("{value:?}");
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        if text.0.contains(&self.topic) {
            self.seen.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn publishing_a_log_entry_does_not_make_another() {
    let mentions = Arc::new(AtomicUsize::new(0));
    let seen = mentions.clone();
    let Running {
        instance,
        unit,
        client,
        cycle,
        _default,
        _dir,
    } = running("bridge-loop", "Debug", |client| {
        let topic = log_topic(client);
        tracing_subscriber::registry()
            .with(layer(client).unwrap())
            .with(Mentions { topic, seen })
    })
    .await;

    tracing::info!("just one");
    next_log_where(&instance, &unit, |e| {
        e["text"] == "logging_bridge: just one"
    })
    .await;
    // rumqttc said something about each publish to log/pepeunit: the loop's seed was there.
    wait_until("rumqttc's record of a log publish", || {
        mentions.load(Ordering::SeqCst) > 0
    })
    .await;
    assert_no_log_loop(&client, &instance, &log_topic(&client)).await;
    stop_main_cycle(&client, cycle).await;
}

/// The unit's `log/pepeunit` topic.
fn log_topic(client: &PepeunitClient) -> String {
    client.schema().current().output_base_topic()["log/pepeunit"][0].clone()
}

#[tokio::test]
async fn installing_yields_to_a_subscriber_already_set() {
    convert_log_records();
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = TempDir::new("bridge-install");
    let unit = unit(&instance, &dir, "Info").await;
    let client = echo_client(&unit);
    // The program's own global subscriber (set once per process; another test may not).
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    assert!(!pepeunit::logging::install_layer(&client).unwrap());
    // And so does the log bridge to the `log` logger (here tracing-log's): no error, no panic.
    pepeunit::logging::install(&client).unwrap();
}
