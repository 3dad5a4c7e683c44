//! 2. Echo latency: the probe publishes a sequence number on the unit's input topic at a fixed rate
//!    and stamps each echo arriving on the unit's output topic; the floor is the probe publishing to
//!    a topic it subscribes to itself, through the same broker.

use std::time::{Duration, Instant};

use crate::probe::{Publisher, Watcher};
use crate::programs::{self, Program};
use crate::{Bench, Row};

/// (messages per second, messages sent).
const RUNS: [(u32, usize); 2] = [(100, 1_000), (2_000, 10_000)];
/// Echoes still arriving this long after the last send are counted; later ones are lost.
const DRAIN: Duration = Duration::from_secs(2);

struct Latencies {
    sorted: Vec<Duration>,
    sent: usize,
}

impl Latencies {
    fn quantile(&self, q: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.sorted.len() - 1) as f64 * q).round() as usize;
        self.sorted[index]
    }

    fn figure(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let lost = self.sent - self.sorted.len();
        let lost = if lost == 0 {
            String::new()
        } else {
            format!(", {lost} lost")
        };
        format!(
            "{:.2} / {:.2} / {:.2} ms{lost}",
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.quantile(1.0))
        )
    }
}

/// Sends `count` messages at `rate` to `input` and times their arrivals on the watcher.
fn measure(
    publisher: &Publisher,
    watcher: &Watcher,
    input: &str,
    rate: u32,
    count: usize,
) -> Latencies {
    watcher.drain();
    let period = Duration::from_secs(1) / rate;
    let start = Instant::now();
    let mut sent_at = Vec::with_capacity(count);
    for i in 0..count {
        let due = start + period * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        sent_at.push(Instant::now());
        publisher.publish(input, i.to_string().into_bytes());
    }
    let mut received = vec![None; count];
    let mut seen = 0;
    let deadline = Instant::now() + DRAIN;
    while seen < count {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        let Some(arrival) = watcher.next(left) else {
            break;
        };
        let seq = std::str::from_utf8(&arrival.payload)
            .ok()
            .and_then(|t| t.trim().parse::<usize>().ok());
        if let Some(seq) = seq.filter(|&s| s < count && received[s].is_none()) {
            received[seq] = Some(arrival.at - sent_at[seq]);
            seen += 1;
        }
    }
    let mut sorted: Vec<Duration> = received.into_iter().flatten().collect();
    sorted.sort();
    Latencies {
        sorted,
        sent: count,
    }
}

/// Both rates against one echo path: `input` → … → the watcher's topic.
fn both_rates(publisher: &Publisher, watcher: &Watcher, input: &str, who: &str) -> Vec<Latencies> {
    measure(publisher, watcher, input, 100, 50); // warm-up, not counted
    RUNS.iter()
        .map(|&(rate, count)| {
            let result = measure(publisher, watcher, input, rate, count);
            println!(
                "echo {who:16} {rate:5} msgs/s: p50 / p99 / max {}",
                result.figure()
            );
            result
        })
        .collect()
}

fn unit_echo(bench: &Bench, program: &Program, name: &str, who: &str) -> Vec<Latencies> {
    let unit = bench.unit(name);
    let mut child = programs::spawn(program.echo(&unit.dir, &unit.dir.join("log.json")));
    bench.wait_for_state(&unit);
    let publisher = Publisher::start(bench.port(), &format!("{name}-pub"));
    let watcher = Watcher::start(
        bench.port(),
        &format!("{name}-sub"),
        std::slice::from_ref(&unit.topics.output),
    );
    let result = both_rates(&publisher, &watcher, &unit.topics.input, who);
    programs::stop(&mut child);
    result
}

pub fn run(bench: &mut Bench) {
    let floor_topic = "localhost/bench/probe".to_string();
    let floor = {
        let publisher = Publisher::start(bench.port(), "floor-pub");
        let watcher = Watcher::start(
            bench.port(),
            "floor-sub",
            std::slice::from_ref(&floor_topic),
        );
        both_rates(&publisher, &watcher, &floor_topic, "probe floor")
    };
    let ours = unit_echo(bench, &bench.ours.clone(), "echo-rust", "pepeunit (Rust)");
    let python = bench
        .python
        .clone()
        .map(|p| unit_echo(bench, &p, "echo-python", "Python client"));
    for (i, &(rate, count)) in RUNS.iter().enumerate() {
        let over_floor = |l: &Latencies| {
            (l.quantile(0.99).as_secs_f64() - floor[i].quantile(0.99).as_secs_f64()) * 1000.0
        };
        bench.rows.push(Row {
            what: format!("2. echo at {rate} msgs/s ({count} msgs): p50 / p99 / max"),
            ours: ours[i].figure(),
            python: python.as_ref().map_or("not run".into(), |p| p[i].figure()),
            limit: format!("probe floor {}", floor[i].figure()),
            ratio: format!(
                "p99 {:+.2} ms over floor{}",
                over_floor(&ours[i]),
                python
                    .as_ref()
                    .map(|p| format!(" (Python {:+.2} ms)", over_floor(&p[i])))
                    .unwrap_or_default()
            ),
        });
    }
}
