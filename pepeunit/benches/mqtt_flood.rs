//! Input throughput and idle cost of a connected unit, on the testkit's mosquitto.
//!
//! 1. A 200,000-message QoS 0 flood from `mosquitto_pub -l` (another process) on the unit's input
//!    topic; our client counts messages in its input handler. Prints received/total, loss and msgs/s
//!    (first to last message received).
//! 2. The same flood to a bare `mosquitto_sub`, for comparison in the same run.
//! 3. A unit program alone (this binary re-run with `--idle-unit`): connected, main cycle running,
//!    VmRSS and CPU time over 10 s.
//!
//! `cargo bench -p pepeunit --features mqtt,testkit --bench mqtt_flood`

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pepeunit::client::PepeunitClient;
use pepeunit::mqtt::MqttConfig;
use pepeunit::testkit::{BrokerKind, Instance, InstanceOptions, TestUnit, UnitSpec};
use pepeunit::update::RestartMode;

const TOTAL: u64 = 200_000;
/// A flood is over when nothing more arrived for this long.
const QUIET: Duration = Duration::from_secs(3);
const IDLE_SECONDS: u64 = 10;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Some(i) = args.iter().position(|a| a == "--idle-unit") {
        runtime.block_on(idle_unit(&args[i + 1], &args[i + 2]));
        return;
    }
    runtime.block_on(bench());
}

fn builder(unit: &TestUnit, log: &str) -> pepeunit::client::ClientBuilder {
    PepeunitClient::builder(unit.env_path(), unit.schema_path(), log)
}

async fn bench() {
    let instance = Instance::start(InstanceOptions {
        broker: BrokerKind::Mosquitto,
        ..InstanceOptions::default()
    })
    .await
    .expect("mosquitto on PATH");
    let dir = std::env::temp_dir().join(format!("pepeunit-bench-mqtt-{}", std::process::id()));
    let unit = instance
        .create_unit(UnitSpec::new("flood", &dir))
        .await
        .unwrap();
    let topic = unit_input_topic(&unit);
    let lines = dir.join("flood.txt");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&lines).unwrap());
    for i in 0..TOTAL {
        writeln!(file, "flood message {i:06}").unwrap();
    }
    file.flush().unwrap();
    drop(file);

    // 1. Our client.
    let count = Arc::new(AtomicU64::new(0));
    let client = builder(&unit, dir.join("log.json").to_str().unwrap())
        .mqtt(true)
        .mqtt_config(MqttConfig {
            handle_signals: false,
            ..MqttConfig::default()
        })
        .restart_mode(RestartMode::None)
        .build()
        .unwrap();
    let counter = count.clone();
    client
        .set_input_message_handler(move |_client, _message| {
            counter.fetch_add(1, Ordering::Relaxed);
            async {}
        })
        .unwrap();
    let cycle = {
        let client = client.clone();
        tokio::spawn(async move { client.run_main_cycle(|_| async {}).await })
    };
    instance
        .wait_for_state(&unit, Duration::from_secs(20))
        .await
        .expect("the unit connected");
    let ours = flood(&instance, &topic, &lines, &count).await;
    report("pepeunit (Rust)", ours);
    client.stop_main_cycle().unwrap();
    cycle.await.unwrap().unwrap();

    // 2. mosquitto_sub on the same flood.
    let sub_count = Arc::new(AtomicU64::new(0));
    let (user, password) = instance.backend_credentials();
    let mut sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &instance.mqtt_port().to_string()])
        .args(["-u", &user, "-P", &password])
        .args(["-t", &topic, "-q", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub on PATH");
    let stdout = sub.stdout.take().unwrap();
    let counter = sub_count.clone();
    std::thread::spawn(move || {
        for _ in BufReader::new(stdout).lines() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await; // let it subscribe
    let theirs = flood(&instance, &topic, &lines, &sub_count).await;
    report("mosquitto_sub", theirs);
    let _ = sub.kill();
    let _ = sub.wait();
    println!(
        "ratio: {:.2} x mosquitto_sub's rate",
        ours.rate() / theirs.rate()
    );

    // 3. A unit alone, idle.
    idle_figures(&instance, &unit, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn unit_input_topic(unit: &TestUnit) -> String {
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unit.schema_path()).unwrap()).unwrap();
    schema["input_topic"]["input/pepeunit"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

#[derive(Clone, Copy)]
struct Flood {
    received: u64,
    elapsed: Duration,
}

impl Flood {
    fn rate(self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn report(who: &str, flood: Flood) {
    let lost = TOTAL - flood.received.min(TOTAL);
    println!(
        "{who:16} received {}/{TOTAL} ({:.1}%), lost {lost}, {:.0} msgs/s over {:.2} s",
        flood.received,
        flood.received as f64 * 100.0 / TOTAL as f64,
        flood.rate(),
        flood.elapsed.as_secs_f64()
    );
}

/// Sends the flood with `mosquitto_pub -l` and watches `count` (every 5 ms) until all arrived or
/// nothing more came for [`QUIET`]; the time is first to last message seen.
async fn flood(
    instance: &Instance,
    topic: &str,
    lines: &std::path::Path,
    count: &AtomicU64,
) -> Flood {
    let (user, password) = instance.backend_credentials();
    let start_count = count.load(Ordering::Relaxed);
    let mut publisher = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &instance.mqtt_port().to_string()])
        .args(["-u", &user, "-P", &password])
        .args(["-t", topic, "-q", "0", "-l"])
        .stdin(std::fs::File::open(lines).unwrap())
        .spawn()
        .expect("mosquitto_pub on PATH");
    let (mut first, mut last) = (None, Instant::now());
    let mut seen = start_count;
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = count.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            last = Instant::now();
            first.get_or_insert(last);
        }
        if seen - start_count >= TOTAL || (first.is_some() && last.elapsed() > QUIET) {
            break;
        }
    }
    let _ = publisher.wait();
    Flood {
        received: seen - start_count,
        elapsed: last - first.unwrap_or(last),
    }
}

/// Runs this binary as a unit program alone and reads its memory and CPU time from /proc.
async fn idle_figures(instance: &Instance, unit: &TestUnit, dir: &std::path::Path) {
    let log = dir.join("idle-log.json");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--idle-unit")
        .arg(unit.dir())
        .arg(&log)
        .spawn()
        .unwrap();
    // Its first state shows it connected (the backend's rate limit may refuse it: any message will do).
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unit.schema_path()).unwrap()).unwrap();
    let state_topic = schema["output_base_topic"]["state/pepeunit"][0]
        .as_str()
        .unwrap();
    let seen = instance.messages(state_topic).len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while instance.messages(state_topic).len() == seen {
        assert!(Instant::now() < deadline, "the idle unit did not connect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id();
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(|l| l.trim_start_matches("VmRSS:").trim().to_owned())
        .unwrap();
    let cpu_before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
    let cpu_after = cpu_ticks(pid);
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu_seconds = (cpu_after - cpu_before) as f64 / ticks_per_second;
    println!("idle unit (connected, main cycle running): VmRSS {rss}");
    println!(
        "idle CPU over {IDLE_SECONDS} s: {:.3} s ({:.2}% of one core)",
        cpu_seconds,
        cpu_seconds * 100.0 / IDLE_SECONDS as f64
    );
    // SIGTERM: the unit stops its cycle gracefully.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    println!(
        "SIGTERM: exit {status}, log flushed with \"Main cycle stopped\": {}",
        log_text.contains("Main cycle stopped")
    );
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesized command name: state is field 3, utime 14, stime 15.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The idle unit program: connect, run the main cycle with an empty output function until SIGTERM.
async fn idle_unit(unit_dir: &str, log: &str) {
    let dir = std::path::Path::new(unit_dir);
    let client = PepeunitClient::builder(dir.join("env.json"), dir.join("schema.json"), log)
        .mqtt(true)
        .restart_mode(RestartMode::None)
        .build()
        .unwrap();
    client.run_main_cycle(|_| async {}).await.unwrap();
}
