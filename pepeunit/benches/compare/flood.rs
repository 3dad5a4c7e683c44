//! 1. Input flood: [`TOTAL`] QoS 0 messages from `mosquitto_pub -l` (another process) on a unit's input
//!    topic, received by a bare rumqttc subscriber, `mosquitto_sub`, our client and the Python client,
//!    one after the other, each in its own process. Each receiver times first to last message; the CPU
//!    of receiver, broker, publisher and this bench (the instance's observer subscribes to `#`, so it
//!    gets the flood too) is read from /proc over the run.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::procfs::{self, Sample};
use crate::programs;
use crate::{Bench, Row, UnitTopics};

pub const TOTAL: u64 = 200_000;
/// A flood is over when nothing more arrived for this long after the first message.
const QUIET: Duration = Duration::from_secs(3);
/// A receiver gives up this long after it started.
const GIVE_UP: Duration = Duration::from_secs(120);

/// What one receiver got.
struct Received {
    count: u64,
    seconds: f64,
    cpu: String,
    /// The receiver's CPU seconds over the run, when both samples were taken.
    receiver_cpu: Option<f64>,
}

impl Received {
    fn rate(&self) -> f64 {
        self.count as f64 / self.seconds.max(1e-9)
    }

    fn figure(&self) -> String {
        format!(
            "{:.1}% at {:.0} msgs/s",
            self.count as f64 * 100.0 / TOTAL as f64,
            self.rate()
        )
    }

    /// The receiver's CPU time per message received, in µs: the load-independent figure.
    fn cpu_per_message(&self) -> Option<f64> {
        self.receiver_cpu
            .map(|cpu| cpu * 1e6 / self.count.max(1) as f64)
    }

    fn cpu_figure(&self) -> String {
        self.cpu_per_message()
            .map_or("?".into(), |us| format!("{us:.2} µs"))
    }
}

/// Which cores the flood's processes run on. On a machine of two cores or more each receiver gets the
/// last core to itself and the rest (this process with the testkit's link, the broker, the publisher)
/// the others: otherwise they compete for the cores, and the receiver's CPU per message swings with the
/// scheduling (0.7–1.4× rumqttc's from one run to the next on 2 cores, against ±0.1× pinned).
struct Pinning {
    receiver: String,
    others: String,
    all: String,
    broker: u32,
}

impl Pinning {
    /// `None` on a single core or without `taskset` (util-linux): the flood then runs unpinned.
    fn new(broker: u32) -> Option<Pinning> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pinning = (cores >= 2).then(|| Pinning {
            receiver: (cores - 1).to_string(),
            others: match cores {
                2 => "0".into(),
                _ => format!("0-{}", cores - 2),
            },
            all: format!("0-{}", cores - 1),
            broker,
        })?;
        let pinned = [std::process::id(), broker]
            .into_iter()
            .all(|pid| pin(pid, &pinning.others));
        pinned.then_some(pinning)
    }
}

impl Drop for Pinning {
    fn drop(&mut self) {
        for pid in [std::process::id(), self.broker] {
            pin(pid, &self.all);
        }
    }
}

/// Moves every thread of `pid` to `cores` (a taskset list); whether it worked.
fn pin(pid: u32, cores: &str) -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", cores, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

pub fn run(bench: &mut Bench) {
    let broker = procfs::child_named("mosquitto").expect("the testkit's mosquitto");
    let pinning = Pinning::new(broker);
    match &pinning {
        Some(p) => println!(
            "flood: receivers on core {}, the rest on {}",
            p.receiver, p.others
        ),
        None => println!("flood: unpinned (one core, or no taskset): CPU per message is noisy"),
    }
    let pinned = pinning.as_ref().map(|p| p.receiver.as_str());
    let lines = bench.dir.join("flood.txt");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&lines).expect("flood file"));
    for i in 0..TOTAL {
        writeln!(file, "flood message {i:06}").expect("flood file");
    }
    file.flush().expect("flood file");
    drop(file);

    let unit = bench.unit("flood-bare");
    let bare = receive(bench, &unit.topics, &lines, pinned, "rumqttc", |topic| {
        let mut command = Command::new(std::env::current_exe().expect("own path"));
        let (user, password) = crate::login();
        command.args([
            "--bare-sub",
            &bench.port().to_string(),
            topic,
            &user,
            &password,
        ]);
        let child = programs::spawn(command);
        std::thread::sleep(Duration::from_secs(1)); // let it subscribe
        child
    });
    let sub = receive(
        bench,
        &unit.topics,
        &lines,
        pinned,
        "mosquitto_sub",
        |topic| {
            let mut command = Command::new("mosquitto_sub");
            command
                .args(["-h", "127.0.0.1", "-p", &bench.port().to_string()])
                .args(["-u", &crate::login().0, "-P", &crate::login().1])
                .args(["-t", topic, "-q", "0"]);
            let child = programs::spawn(command);
            std::thread::sleep(Duration::from_secs(1)); // let it subscribe
            child
        },
    );

    let unit = bench.unit("flood-rust");
    let ours = receive(
        bench,
        &unit.topics,
        &lines,
        pinned,
        "pepeunit (Rust)",
        |_| {
            let mut command = Command::new(std::env::current_exe().expect("own path"));
            command.arg("--flood-unit").arg(&unit.dir);
            let child = programs::spawn(command);
            bench.wait_for_state(&unit);
            child
        },
    );
    let python = bench.python.clone().map(|python| {
        let unit = bench.unit("flood-python");
        receive(bench, &unit.topics, &lines, pinned, "Python client", |_| {
            let mut command = python.python_mode("flood", &unit.dir, &unit.dir.join("log.json"));
            command.args([
                TOTAL.to_string(),
                QUIET.as_secs().to_string(),
                GIVE_UP.as_secs().to_string(),
            ]);
            let child = programs::spawn(command);
            bench.wait_for_state(&unit);
            child
        })
    });

    let limit = if bare.rate() >= sub.rate() {
        &bare
    } else {
        &sub
    };
    bench.rows.push(Row {
        what: format!("1. flood {TOTAL} QoS 0: received, msgs/s"),
        ours: ours.figure(),
        python: python.as_ref().map_or("not run".into(), Received::figure),
        limit: format!("rumqttc {}; mosquitto_sub {}", bare.figure(), sub.figure()),
        ratio: format!(
            "{:.2}x best bare rate{}",
            ours.rate() / limit.rate(),
            python
                .as_ref()
                .map(|p| format!("; {:.1}x Python", ours.rate() / p.rate()))
                .unwrap_or_default()
        ),
    });
    bench.rows.push(Row {
        what: "1. flood: CPU % of one core (receiver / broker / publisher / bench)".into(),
        ours: ours.cpu.clone(),
        python: python.as_ref().map_or("not run".into(), |p| p.cpu.clone()),
        limit: format!("rumqttc {}; mosquitto_sub {}", bare.cpu, sub.cpu),
        ratio: String::new(),
    });
    let per_message = |r: &Received| r.cpu_per_message();
    bench.rows.push(Row {
        what: "1. flood: receiver CPU per message".into(),
        ours: ours.cpu_figure(),
        python: python
            .as_ref()
            .map_or("not run".into(), Received::cpu_figure),
        limit: format!(
            "rumqttc {}; mosquitto_sub {}",
            bare.cpu_figure(),
            sub.cpu_figure()
        ),
        ratio: match (per_message(&ours), per_message(&bare)) {
            (Some(ours), Some(bare)) => format!("{:.2}x rumqttc", ours / bare.max(1e-9)),
            _ => String::new(),
        },
    });
}

/// Messages seen so far by a line-counting reader, and when (ns since `base`).
struct Progress {
    base: Instant,
    count: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            base: Instant::now(),
            count: AtomicU64::new(0),
            first_ns: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
        }
    }

    fn seen(&self) {
        let now = self.base.elapsed().as_nanos() as u64;
        if self.count.fetch_add(1, Ordering::Relaxed) == 0 {
            self.first_ns.store(now, Ordering::Relaxed);
        }
        self.last_ns.store(now, Ordering::Relaxed);
    }

    fn result(&self) -> (u64, f64) {
        let first = self.first_ns.load(Ordering::Relaxed);
        let last = self.last_ns.load(Ordering::Relaxed);
        (
            self.count.load(Ordering::Relaxed),
            last.saturating_sub(first) as f64 / 1e9,
        )
    }

    /// Waits until all arrived, or nothing came for [`QUIET`] after the first, or [`GIVE_UP`].
    fn wait(&self) {
        let deadline = Instant::now() + GIVE_UP;
        while Instant::now() < deadline && self.count.load(Ordering::Relaxed) < TOTAL {
            let last = Duration::from_nanos(self.last_ns.load(Ordering::Relaxed));
            if self.count.load(Ordering::Relaxed) > 0 && self.base.elapsed() > last + QUIET {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Starts a receiver with `start` (which returns once it listens) and moves it to the `pinned` core,
/// floods its topic, and collects
/// its result: a `RESULT <count> <seconds>` line, or (`counts_lines`: mosquitto_sub) one line per
/// message, counted here.
fn receive(
    bench: &Bench,
    topics: &UnitTopics,
    lines: &Path,
    pinned: Option<&str>,
    who: &str,
    start: impl FnOnce(&str) -> Child,
) -> Received {
    let counts_lines = who == "mosquitto_sub";
    let mut receiver = start(&topics.input);
    if let Some(core) = pinned {
        pin(receiver.id(), core);
    }
    let stdout = BufReader::new(receiver.stdout.take().expect("piped stdout"));
    let progress = Arc::new(Progress::new());
    let reader = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut result = None;
            for line in stdout.lines().map_while(Result::ok) {
                if counts_lines {
                    progress.seen();
                } else if let Some(rest) = line.strip_prefix("RESULT ") {
                    let mut fields = rest.split_whitespace().map(|f| f.parse::<f64>().ok());
                    if let (Some(Some(count)), Some(Some(seconds))) = (fields.next(), fields.next())
                    {
                        result = Some((count as u64, seconds));
                    }
                }
            }
            result
        })
    };
    let broker = procfs::child_named("mosquitto").expect("the testkit's mosquitto");
    let pids = [receiver.id(), broker, std::process::id()];
    let before: Vec<Option<Sample>> = pids.iter().map(|&p| Sample::take(p)).collect();
    let mut publisher = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &bench.port().to_string()])
        .args(["-u", &crate::login().0, "-P", &crate::login().1])
        .args(["-t", &topics.input, "-q", "0", "-l"])
        .stdin(std::fs::File::open(lines).expect("flood file"))
        .stdout(Stdio::null())
        .spawn()
        .expect("mosquitto_pub on PATH");
    let publisher_before = Sample::take(publisher.id());
    let mut publisher_after = publisher_before;
    let deadline = Instant::now() + GIVE_UP;
    while publisher.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        publisher_after = Sample::take(publisher.id()).or(publisher_after);
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = publisher.kill();
    let _ = publisher.wait();
    let (count, seconds, after) = if counts_lines {
        progress.wait();
        let after: Vec<Option<Sample>> = pids.iter().map(|&p| Sample::take(p)).collect();
        programs::stop(&mut receiver);
        let _ = reader.join();
        let (count, seconds) = progress.result();
        (count, seconds, after)
    } else {
        let result = reader.join().ok().flatten();
        let after: Vec<Option<Sample>> = pids.iter().map(|&p| Sample::take(p)).collect();
        programs::stop(&mut receiver);
        let (count, seconds) = result.unwrap_or_else(|| panic!("{who} printed no RESULT"));
        (count, seconds, after)
    };
    // CPU seconds over the run / seconds from first to last message: each process's share of the
    // receiving time (its idle tail after a loss adds nothing).
    let share = |b: Option<Sample>, a: Option<Sample>| match (b, a) {
        (Some(b), Some(a)) => format!("{:.0}", b.cpu_seconds(&a) * 100.0 / seconds.max(1e-9)),
        _ => "?".into(),
    };
    let cpu = format!(
        "{} / {} / {} / {}",
        share(before[0], after[0]),
        share(before[1], after[1]),
        share(publisher_before, publisher_after),
        share(before[2], after[2])
    );
    let received = Received {
        count,
        seconds,
        cpu,
        receiver_cpu: before[0].zip(after[0]).map(|(b, a)| b.cpu_seconds(&a)),
    };
    println!(
        "flood {who:16} received {count}/{TOTAL}, {:.0} msgs/s over {seconds:.2} s; CPU % receiver / \
         broker / publisher / bench: {}; receiver CPU per message {}",
        received.rate(),
        received.cpu,
        received.cpu_figure()
    );
    received
}

/// `--flood-unit UNIT_DIR`: our client counting its input messages, on a current-thread runtime as
/// the macros run a unit; prints `RESULT <count> <seconds first to last>`.
pub fn ours_receiver(unit_dir: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let progress = Arc::new(Progress::new());
        let seen = progress.clone();
        let client = programs::counting_client(unit_dir, move || seen.seen());
        let cycle = {
            let client = client.clone();
            tokio::spawn(async move { client.run_main_cycle(|_| async {}).await })
        };
        let deadline = Instant::now() + GIVE_UP;
        while Instant::now() < deadline && !flood_over(&progress) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (count, seconds) = progress.result();
        println!("RESULT {count} {seconds:.6}");
        let _ = client.stop_main_cycle();
        let _ = cycle.await;
    });
}

fn flood_over(progress: &Progress) -> bool {
    let count = progress.count.load(Ordering::Relaxed);
    let last = Duration::from_nanos(progress.last_ns.load(Ordering::Relaxed));
    count >= TOTAL || (count > 0 && progress.base.elapsed() > last + QUIET)
}

/// `--bare-sub PORT TOPIC`: a plain rumqttc subscriber counting messages, on a current-thread
/// runtime; prints `RESULT <count> <seconds first to last>`.
pub fn bare_receiver(port: u16, topic: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut options =
            rumqttc::MqttOptions::new(format!("bench-bare-{port}"), "127.0.0.1", port);
        let (user, password) = crate::login();
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(262_144, 262_144)
            .set_credentials(user, password);
        let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 16);
        client
            .subscribe(topic, rumqttc::QoS::AtMostOnce)
            .await
            .expect("subscribe");
        let progress = Arc::new(Progress::new());
        let seen = progress.clone();
        let poller = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_))) => seen.seen(),
                    Ok(_) => {}
                    Err(e) => panic!("bare subscriber: {e}"),
                }
            }
        });
        let deadline = Instant::now() + GIVE_UP;
        while Instant::now() < deadline && !flood_over(&progress) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        poller.abort();
        let (count, seconds) = progress.result();
        println!("RESULT {count} {seconds:.6}");
    });
}
