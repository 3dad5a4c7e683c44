//! 6. Scale: N units in one process (this binary re-run with `--scale-units`): one tokio runtime, N
//!    clients of the imperative API, each receiving one message per second from the probe and
//!    publishing its state every [`STATE_INTERVAL`] s. RSS per unit is (RSS − RSS before the first
//!    client) / N.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pepeunit::client::PepeunitClient;

use crate::probe::Publisher;
use crate::procfs::{self, Sample};
use crate::programs;
use crate::{Bench, BenchUnit, Row};

/// Seconds of one-message-per-second input per N.
const SECONDS: u32 = 15;
/// `PU_STATE_SEND_INTERVAL` of the scale units.
const STATE_INTERVAL: u64 = 5;
/// How long all N clients may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

pub fn run(bench: &mut Bench, sizes: &[usize]) {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let root = bench.dir.join("scale");
    let units: Vec<BenchUnit> = (0..largest)
        .map(|i| {
            bench.unit_with_env(
                &format!("scale/u{i:04}"),
                "PU_STATE_SEND_INTERVAL",
                STATE_INTERVAL,
            )
        })
        .collect();
    for &n in sizes {
        let figure = one_size(bench, &root, &units[..n]);
        println!("scale N={n}: {figure}");
        bench.rows.push(Row {
            what: format!("6. {n} units in one process: RSS per unit, CPU"),
            ours: figure,
            python: "one process per unit (see idle RSS)".into(),
            limit: String::new(),
            ratio: String::new(),
        });
    }
}

fn one_size(bench: &Bench, root: &Path, units: &[BenchUnit]) -> String {
    let n = units.len();
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--scale-units")
        .arg(root)
        .arg(n.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("scale child");
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut field = |name: &str| -> f64 {
        let line = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("the scale child ended before {name}"));
        line.strip_prefix(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("the scale child said {line:?}, not {name}"))
    };
    let base_kib = field("BASE");
    let connect_seconds = field("CONNECTED");
    let publisher = Publisher::start(bench.port(), &format!("scale-{n}"));
    let before = Sample::take(pid);
    let start = Instant::now();
    for second in 0..SECONDS {
        for unit in units {
            publisher.publish(&unit.topics.input, second.to_string().into_bytes());
        }
        if let Some(wait) = (start + Duration::from_secs(u64::from(second) + 1))
            .checked_duration_since(Instant::now())
        {
            std::thread::sleep(wait);
        }
    }
    let after = Sample::take(pid);
    let rss_kib = procfs::status_field(pid, "VmRSS").unwrap_or(0) as f64;
    let threads = procfs::status_field(pid, "Threads").unwrap_or(0);
    let fds = procfs::open_fds(pid);
    drop(child.stdin.take()); // EOF: the child stops its clients
    let received = field("RECEIVED");
    let _ = child.wait();
    let cpu = match (before, after) {
        (Some(b), Some(a)) => b.cpu_percent(&a),
        _ => f64::NAN,
    };
    format!(
        "{:.2} MiB/unit ({:.1} MiB total, {:.1} MiB before the first), CPU {cpu:.1}%, {threads} threads, \
         {fds} fds, all connected in {connect_seconds:.1} s, {received}/{} inputs handled",
        (rss_kib - base_kib) / 1024.0 / n as f64,
        rss_kib / 1024.0,
        base_kib / 1024.0,
        n * SECONDS as usize
    )
}

/// `--scale-units ROOT N`: runs units `ROOT/u0000`… on one runtime until stdin closes. Prints
/// `BASE <VmRSS KiB>` before the first client, `CONNECTED <seconds>` once all are connected and
/// `RECEIVED <count>` after stopping them.
pub fn child(root: &Path, n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let me = std::process::id();
    println!("BASE {}", procfs::status_field(me, "VmRSS").unwrap_or(0));
    let received = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clients: Vec<PepeunitClient> = (0..n)
        .map(|i| {
            let dir: PathBuf = root.join(format!("u{i:04}"));
            let received = received.clone();
            programs::counting_client(&dir, move || {
                received.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let cycles: Vec<_> = clients
        .iter()
        .map(|client| {
            let client = client.clone();
            runtime.spawn(async move { client.run_main_cycle(|_| async {}).await })
        })
        .collect();
    let deadline = started + CONNECT_TIMEOUT;
    while !clients.iter().all(PepeunitClient::is_mqtt_connected) {
        assert!(
            Instant::now() < deadline,
            "not all {n} clients connected within {CONNECT_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Subscriptions follow the ConnAck: give them a moment before the inputs start.
    std::thread::sleep(Duration::from_millis(500));
    println!("CONNECTED {:.3}", started.elapsed().as_secs_f64());
    std::io::stdout().flush().expect("stdout");
    let mut rest = String::new();
    let _ = std::io::stdin().read_line(&mut rest); // EOF from the bench
    for client in &clients {
        let _ = client.stop_main_cycle();
    }
    runtime.block_on(async {
        for cycle in cycles {
            let _ = cycle.await;
        }
    });
    println!("RECEIVED {}", received.load(Ordering::Relaxed));
}
