//! Soak: one unit program driven as production drives it, for minutes or hours, watched from outside.
//!
//! On one local instance (the testkit's mosquitto and REST server) it runs `examples/soak_unit` (an
//! echo of `input/pepeunit` plus a `tick` every `DELAY_PUB_MSG` seconds) as its own process and, for
//! the whole run: publishes 20 input messages a second; restarts the broker every minute; sends an
//! `env_update` that flips `DELAY_PUB_MSG` between 1 and 2, a `schema_update`, and a `log_sync`
//! every 40, 40 and 30 s. Every 10 s it prints the unit's RSS, open file descriptors and threads
//! with what it saw since the start.
//!
//! It fails (exit code 1, the reasons printed) when, after the warm-up (the first 90 s, or the first
//! 30% of a shorter run, which sees every kind of event once):
//! - RSS grows more than [`RSS_BOUND_MIB`] over the warm-up's highest, or file descriptors or threads
//!   more than [`COUNT_BOUND`];
//! - the echo does not come back within [`RESUME_WITHIN`] of a broker restart (a lost subscription),
//!   an input published while nothing was disrupted gets no echo, or no `tick` comes for 30 s;
//! - an `env_update` does not reach env.json, or a `log_sync` sends nothing, within 10 s;
//! - log.json holds a warning or an error the runner did not cause (its broker restarts cause
//!   "connection lost/failed" warnings and the reconnect's info lines; nothing else), or the unit
//!   does not exit cleanly on SIGTERM at the end.
//!
//! ```sh
//! scripts/soak 5        # builds soak_unit and this runner (release), runs 5 minutes
//! ```
//!
//! Environment: `PEPEUNIT_SOAK_MINUTES` (default 5), `PEPEUNIT_SOAK_UNIT` (default
//! `target/release/examples/soak_unit`). A bench, not a test: loopback only, bounded by its minutes.

#[path = "../compare/procfs.rs"]
#[allow(dead_code)] // shared with the compare bench, which uses the rest of it
mod procfs;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pepeunit::Command as UnitCommand;
use pepeunit::LogLevel;
use pepeunit::logger::LogEntry;
use pepeunit_testkit::{BrokerKind, Instance, InstanceOptions, TestUnit, UnitSpec};

const INPUT_EVERY: Duration = Duration::from_millis(50);
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const RESTART_EVERY: Duration = Duration::from_secs(60);
const ENV_UPDATE_EVERY: Duration = Duration::from_secs(40);
const SCHEMA_UPDATE_EVERY: Duration = Duration::from_secs(40);
const LOG_SYNC_EVERY: Duration = Duration::from_secs(30);
/// How long the broker stays down on each restart.
const BROKER_DOWN: Duration = Duration::from_secs(2);
/// The echo must be back this soon after the broker is.
const RESUME_WITHIN: Duration = Duration::from_secs(30);
/// An `env_update` must reach env.json, a `log_sync` the log topic, this soon.
const COMMAND_WITHIN: Duration = Duration::from_secs(10);
/// Longest time without a `tick` (the period is at most 2 s; a broker restart adds a few).
const TICK_SILENCE: Duration = Duration::from_secs(30);
/// Allowed RSS growth over the warm-up's highest: allocator noise, not a leak of one allocation per
/// message (20 a second) or per event.
const RSS_BOUND_MIB: f64 = 1.0;
/// Allowed growth of open descriptors and threads over the warm-up's highest: a reconnect or a
/// blocking task in flight at the moment of a sample.
const COUNT_BOUND: u64 = 2;

/// Log lines at warning level and above that the runner causes (broker restarts).
const CAUSED: [&str; 3] = [
    "MQTT connection lost",
    "MQTT connection failed",
    "published while offline were dropped",
];

/// What the publisher and the collector saw.
#[derive(Default)]
struct Seen {
    /// While set, inputs are not expected back (a broker restart is near or in progress).
    disrupted: bool,
    /// Set at the end of the run: the publisher stops.
    stopping: bool,
    next_seq: u64,
    /// Inputs published while nothing was disrupted, not echoed yet.
    awaited: BTreeSet<u64>,
    sent: u64,
    echoes: u64,
    highest_echo: u64,
    ticks: u64,
    last_tick: Option<Instant>,
}

/// One figure of a [`Point`].
type Measure = fn(&Point) -> f64;

struct Point {
    at: Duration,
    rss_mib: f64,
    fds: u64,
    threads: u64,
}

struct Soak {
    instance: Arc<Instance>,
    unit: TestUnit,
    seen: Arc<Mutex<Seen>>,
    failures: Vec<String>,
    start: Instant,
    /// Every warning or error seen in log.json, with its time.
    warnings: HashSet<String>,
    /// Those the runner did not cause.
    unexpected: Vec<String>,
}

fn main() {
    let minutes: f64 = std::env::var("PEPEUNIT_SOAK_MINUTES")
        .ok()
        .map_or(5.0, |m| m.parse().expect("PEPEUNIT_SOAK_MINUTES: a number"));
    let program = std::env::var("PEPEUNIT_SOAK_UNIT").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/examples/soak_unit"),
        PathBuf::from,
    );
    assert!(
        program.is_file(),
        "{} is missing: cargo build --release -p pepeunit-examples --example soak_unit",
        program.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let failures = runtime.block_on(soak(&program, Duration::from_secs_f64(minutes * 60.0)));
    if failures.is_empty() {
        println!("soak passed");
    } else {
        println!("soak FAILED:");
        for failure in &failures {
            println!("- {failure}");
        }
        std::process::exit(1);
    }
}

async fn soak(program: &Path, length: Duration) -> Vec<String> {
    let instance = Instance::start(InstanceOptions {
        broker: BrokerKind::Mosquitto,
        ..InstanceOptions::default()
    })
    .await
    .expect("the local instance (mosquitto on PATH)");
    let dir = std::env::temp_dir().join(format!("pepeunit-soak-{}", std::process::id()));
    let unit = instance
        .create_unit(UnitSpec::new("soak", &dir).with_env("DELAY_PUB_MSG", 1))
        .await
        .expect("create the unit");
    let mut child = Command::new(program)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    instance
        .wait_for_state(&unit, RESUME_WITHIN)
        .await
        .expect("the unit sent no state");
    let mut soak = Soak {
        instance: Arc::new(instance),
        unit,
        seen: Arc::default(),
        failures: Vec::new(),
        start: Instant::now(),
        warnings: HashSet::new(),
        unexpected: Vec::new(),
    };
    println!(
        "soak: {} for {:.1} min (pid {}), files in {}",
        program.display(),
        length.as_secs_f64() / 60.0,
        child.id(),
        dir.display()
    );
    let series = soak.run(child.id(), &dir.join("log.json"), length).await;
    stop(&mut child, &mut soak.failures);
    soak.scan_log(&dir.join("log.json"));
    soak.check_log();
    soak.check_series(&series, length);
    let _ = std::fs::remove_dir_all(&dir);
    soak.failures
}

impl Soak {
    /// The timeline: inputs and outputs in the background, events and samples in turn.
    async fn run(&mut self, pid: u32, log: &Path, length: Duration) -> Vec<Point> {
        let publisher = tokio::spawn(publish_inputs(self.instance_handle(), self.seen.clone()));
        let collector = tokio::spawn(collect_outputs(self.instance_handle(), self.seen.clone()));
        // (event, period, when it is next due after the start)
        let mut events = [
            (Event::Sample, SAMPLE_EVERY, SAMPLE_EVERY),
            (Event::LogSync, LOG_SYNC_EVERY, Duration::from_secs(15)),
            (Event::EnvUpdate, ENV_UPDATE_EVERY, Duration::from_secs(20)),
            (
                Event::SchemaUpdate,
                SCHEMA_UPDATE_EVERY,
                Duration::from_secs(40),
            ),
            (Event::BrokerRestart, RESTART_EVERY, Duration::from_secs(30)),
        ];
        let mut series = Vec::new();
        let (mut delay, mut restarts, mut env_updates, mut schema_updates, mut syncs) =
            (1, 0, 0, 0, 0);
        loop {
            let (index, due) = events
                .iter()
                .enumerate()
                .map(|(i, (_, _, due))| (i, *due))
                .min_by_key(|(_, due)| *due)
                .expect("events");
            if due > length {
                break;
            }
            tokio::time::sleep_until((self.start + due).into()).await;
            let (event, period, _) = events[index];
            events[index].2 += period;
            match event {
                Event::Sample => {
                    let point = sample(pid, self.start.elapsed());
                    let seen = self.seen.lock().unwrap();
                    println!(
                        "t={:>5.0}s rss={:.2} MiB fds={} threads={} | inputs sent {} echoed {} awaited {} | ticks {} | restarts {restarts} env {env_updates} schema {schema_updates} log_sync {syncs}",
                        point.at.as_secs_f64(),
                        point.rss_mib,
                        point.fds,
                        point.threads,
                        seen.sent,
                        seen.echoes,
                        seen.awaited.len(),
                        seen.ticks,
                    );
                    if seen.last_tick.is_none_or(|t| t.elapsed() > TICK_SILENCE) {
                        self.failures.push(format!(
                            "no tick for {} s at t={:.0}s",
                            TICK_SILENCE.as_secs(),
                            point.at.as_secs_f64()
                        ));
                    }
                    drop(seen);
                    series.push(point);
                    self.scan_log(log);
                }
                Event::BrokerRestart => {
                    restarts += 1;
                    self.restart_broker(restarts).await;
                }
                Event::EnvUpdate => {
                    delay = 3 - delay;
                    env_updates += 1;
                    self.env_update(delay).await;
                }
                Event::SchemaUpdate => {
                    schema_updates += 1;
                    self.command(UnitCommand::SchemaUpdate).await;
                }
                Event::LogSync => {
                    syncs += 1;
                    self.log_sync().await;
                }
            }
        }
        // The publisher ends after its current input; the echoes of the last ones are still on their
        // way, so the collector runs a second longer.
        self.seen.lock().unwrap().stopping = true;
        let _ = publisher.await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        collector.abort();
        series
    }

    fn instance_handle(&self) -> Handle {
        Handle {
            instance: self.instance.clone(),
            unit: self.unit.clone(),
        }
    }

    async fn command(&mut self, command: UnitCommand) {
        if let Err(e) = self.instance.send_command(&self.unit, command).await {
            self.failures.push(format!("cannot send {command:?}: {e}"));
        }
    }

    /// Stops the broker for [`BROKER_DOWN`], starts it again, and waits for the echo to come back.
    async fn restart_broker(&mut self, count: u32) {
        self.seen.lock().unwrap().disrupted = true;
        // Echoes of the inputs just sent are still on their way: let them arrive.
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.instance.stop_broker();
        tokio::time::sleep(BROKER_DOWN).await;
        if let Err(e) = self.instance.start_broker().await {
            self.failures
                .push(format!("restart {count}: the broker did not start: {e}"));
            return;
        }
        let after = self.seen.lock().unwrap().next_seq;
        let deadline = Instant::now() + RESUME_WITHIN;
        while self.seen.lock().unwrap().highest_echo <= after {
            if Instant::now() > deadline {
                self.failures.push(format!(
                    "restart {count}: no echo within {} s of the broker's return (subscription lost)",
                    RESUME_WITHIN.as_secs()
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.seen.lock().unwrap().disrupted = false;
    }

    /// Sets `DELAY_PUB_MSG` on the server, sends `env_update` and waits for env.json to have it.
    async fn env_update(&mut self, delay: u64) {
        if let Err(e) = self
            .instance
            .set_env_var(&self.unit, "DELAY_PUB_MSG", delay)
        {
            self.failures.push(format!("cannot set DELAY_PUB_MSG: {e}"));
            return;
        }
        self.command(UnitCommand::EnvUpdate).await;
        let has_it = || {
            let text = std::fs::read(self.unit.env_path()).unwrap_or_default();
            serde_json::from_slice::<serde_json::Value>(&text)
                .is_ok_and(|env| env["DELAY_PUB_MSG"] == delay)
        };
        let deadline = Instant::now() + COMMAND_WITHIN;
        while !has_it() {
            if Instant::now() > deadline {
                self.failures.push(format!(
                    "env_update to DELAY_PUB_MSG={delay} did not reach env.json within {} s",
                    COMMAND_WITHIN.as_secs()
                ));
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `log_sync` and waits for a log array (live entries are single objects).
    async fn log_sync(&mut self) {
        let topic = topic_of(&self.unit, "output_base_topic", "log/pepeunit");
        self.command(UnitCommand::LogSync).await;
        let deadline = Instant::now() + COMMAND_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.instance.next_message(&topic, left).await {
                Some(message) if message.payload.first() == Some(&b'[') => return,
                Some(_) => continue,
                None => {
                    self.failures.push(format!(
                        "log_sync sent no log within {} s",
                        COMMAND_WITHIN.as_secs()
                    ));
                    return;
                }
            }
        }
    }

    /// Reads log.json (at every sample: it keeps only the last `PU_MAX_LOG_LENGTH` entries) and notes
    /// each warning or error once, as caused by the runner or not.
    fn scan_log(&mut self, log: &Path) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for entry in text
            .lines()
            .filter_map(|l| serde_json::from_str::<LogEntry>(l).ok())
        {
            if entry.level < LogLevel::Warning {
                continue;
            }
            let caused = CAUSED.iter().any(|caused| entry.text.contains(caused));
            let line = format!(
                "{} {:?}: {}",
                entry.create_datetime, entry.level, entry.text
            );
            if self.warnings.insert(line.clone()) && !caused {
                self.unexpected.push(line);
            }
        }
    }

    /// Log lines the runner did not cause; inputs never echoed.
    fn check_log(&mut self) {
        println!(
            "log.json: {} warnings or errors, {} of them not caused by the broker restarts",
            self.warnings.len(),
            self.unexpected.len()
        );
        if !self.unexpected.is_empty() {
            self.failures.push(format!(
                "log.json holds {} line(s) the runner did not cause: {:?}",
                self.unexpected.len(),
                self.unexpected
            ));
        }
        let seen = self.seen.lock().unwrap();
        if !seen.awaited.is_empty() {
            let first: Vec<&u64> = seen.awaited.iter().take(10).collect();
            self.failures.push(format!(
                "{} inputs published while nothing was disrupted got no echo (first: {first:?})",
                seen.awaited.len()
            ));
        }
    }

    /// Growth after the warm-up, and the summary line of the series.
    fn check_series(&mut self, series: &[Point], length: Duration) {
        let warm_up = Duration::from_secs(90).min(length.mul_f64(0.3));
        let (early, late): (Vec<&Point>, Vec<&Point>) =
            series.iter().partition(|p| p.at <= warm_up);
        let (Some(first), Some(last)) = (series.first(), series.last()) else {
            self.failures.push("no sample taken".into());
            return;
        };
        println!(
            "series: {} samples; first (t={:.0}s) rss {:.2} MiB, fds {}, threads {}; last (t={:.0}s) rss {:.2} MiB, fds {}, threads {}",
            series.len(),
            first.at.as_secs_f64(),
            first.rss_mib,
            first.fds,
            first.threads,
            last.at.as_secs_f64(),
            last.rss_mib,
            last.fds,
            last.threads
        );
        let highest = |of: &[&Point], f: Measure| of.iter().map(|p| f(p)).fold(0.0, f64::max);
        let checks: [(&str, Measure, f64); 3] = [
            ("RSS (MiB)", |p| p.rss_mib, RSS_BOUND_MIB),
            (
                "open file descriptors",
                |p| p.fds as f64,
                COUNT_BOUND as f64,
            ),
            ("threads", |p| p.threads as f64, COUNT_BOUND as f64),
        ];
        for (what, value, bound) in checks {
            let (before, after) = (highest(&early, value), highest(&late, value));
            println!(
                "after the warm-up ({:.0} s): highest {what} {after:.2}, warm-up's highest {before:.2}, bound +{bound}",
                warm_up.as_secs_f64()
            );
            if !late.is_empty() && after > before + bound {
                self.failures.push(format!(
                    "{what} grew from {before:.2} (warm-up) to {after:.2}, over the bound of +{bound}"
                ));
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Sample,
    BrokerRestart,
    EnvUpdate,
    SchemaUpdate,
    LogSync,
}

/// What the background tasks need of the soak.
struct Handle {
    instance: Arc<Instance>,
    unit: TestUnit,
}

/// Publishes `seq N` on the unit's input every [`INPUT_EVERY`]; an input sent while nothing is
/// disrupted is awaited back.
async fn publish_inputs(handle: Handle, seen: Arc<Mutex<Seen>>) {
    let mut every = tokio::time::interval(INPUT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let seq = {
            let mut seen = seen.lock().unwrap();
            if seen.stopping {
                return;
            }
            seen.next_seq += 1;
            let seq = seen.next_seq;
            if !seen.disrupted {
                seen.awaited.insert(seq);
            }
            seq
        };
        let sent = handle
            .instance
            .publish_input(&handle.unit, "input/pepeunit", format!("seq {seq}"))
            .await
            .is_ok();
        let mut seen = seen.lock().unwrap();
        if sent {
            seen.sent += 1;
        } else {
            seen.awaited.remove(&seq);
        }
    }
}

/// Counts what the unit publishes on `output/pepeunit`: `echo seq N` and `tick N`.
async fn collect_outputs(handle: Handle, seen: Arc<Mutex<Seen>>) {
    let topic = topic_of(&handle.unit, "output_topic", "output/pepeunit");
    loop {
        let Some(message) = handle
            .instance
            .next_message(&topic, Duration::from_secs(1))
            .await
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&message.payload);
        let mut seen = seen.lock().unwrap();
        if let Some(seq) = text
            .strip_prefix("echo seq ")
            .and_then(|n| n.parse::<u64>().ok())
        {
            seen.echoes += 1;
            seen.highest_echo = seen.highest_echo.max(seq);
            seen.awaited.remove(&seq);
        } else if text.starts_with("tick ") {
            seen.ticks += 1;
            seen.last_tick = Some(Instant::now());
        }
    }
}

/// The unit's physical topic for `name` in `section` of its schema.json.
fn topic_of(unit: &TestUnit, section: &str, name: &str) -> String {
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unit.schema_path()).expect("schema.json"))
            .expect("schema.json is JSON");
    schema[section][name][0]
        .as_str()
        .unwrap_or_else(|| panic!("schema.json has no {section}.{name}"))
        .to_owned()
}

fn sample(pid: u32, at: Duration) -> Point {
    Point {
        at,
        rss_mib: procfs::rss_mib(pid),
        fds: procfs::open_fds(pid) as u64,
        threads: procfs::status_field(pid, "Threads").unwrap_or(0),
    }
}

/// SIGTERM, as a supervisor stops a unit: it must exit cleanly within 10 s.
fn stop(child: &mut Child, failures: &mut Vec<String>) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return,
            Ok(Some(status)) => {
                failures.push(format!("the unit exited with {status} on SIGTERM"));
                return;
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    failures.push("the unit did not exit within 10 s of SIGTERM".into());
    let _ = child.kill();
    let _ = child.wait();
}
