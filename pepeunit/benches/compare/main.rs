//! Every runtime figure of `BENCHMARKS.md` in one run, on one local instance (the testkit's mosquitto
//! and REST server): our unit, the reference Python client and the bare limit side by side, then a
//! table with ratios. Run it through `scripts/benchmarks`, which builds our unit program, installs
//! the Python client into a private venv and adds the logger, update, size and build figures.
//!
//! ```sh
//! PEPEUNIT_BENCH_PYTHON=target/bench-venv/bin/python \
//!   cargo bench -p pepeunit --features mqtt --bench compare
//! ```
//!
//! Environment:
//! - `PEPEUNIT_BENCH_UNIT`: our unit program (default `target/release/examples/bench_unit`, built by
//!   `cargo build --release -p pepeunit-examples --example bench_unit`): any unit that echoes
//!   `input/pepeunit` to `output/pepeunit` will do.
//! - `PEPEUNIT_BENCH_PYTHON`: a Python with `pepeunit-client[all]`; unset, the Python column is empty.
//! - `PEPEUNIT_BENCH_ONLY`: some of `flood,echo,idle,startup,scale` (default all).
//! - `PEPEUNIT_BENCH_IDLE_SECONDS` (default 60), `PEPEUNIT_BENCH_SCALE` (default `1,100,1000`).
//!
//! A benchmark, not a test: it prints figures and asserts nothing about time. Loopback only; every
//! loop is bounded in count and time.

mod flood;
mod idle;
mod latency;
mod probe;
mod procfs;
mod programs;
mod scale;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use pepeunit_testkit::{BrokerKind, Instance, InstanceOptions, TestUnit, UnitSpec};

use programs::Program;

/// One line of the final table.
pub struct Row {
    what: String,
    ours: String,
    python: String,
    limit: String,
    ratio: String,
}

/// The physical topics of a unit the bench talks to.
pub struct UnitTopics {
    input: String,
    output: String,
    state: String,
}

/// A unit of the instance with its files in `dir`.
pub struct BenchUnit {
    unit: TestUnit,
    dir: PathBuf,
    topics: UnitTopics,
}

pub struct Bench {
    runtime: tokio::runtime::Runtime,
    instance: Instance,
    dir: PathBuf,
    ours: Program,
    python: Option<Program>,
    rows: Vec<Row>,
}

impl Bench {
    fn port(&self) -> u16 {
        self.instance.mqtt_port()
    }

    /// A new unit of the instance, its files in `<dir>/<name>`.
    fn unit(&self, name: &str) -> BenchUnit {
        self.create(UnitSpec::new(name, self.dir.join(name)))
    }

    fn unit_with_env(&self, name: &str, key: &str, value: u64) -> BenchUnit {
        self.create(UnitSpec::new(name, self.dir.join(name)).with_env(key, value))
    }

    fn create(&self, spec: UnitSpec) -> BenchUnit {
        let dir = spec.dir.clone();
        let unit = self
            .runtime
            .block_on(self.instance.create_unit(spec))
            .expect("create unit");
        let schema: serde_json::Value =
            serde_json::from_slice(&std::fs::read(unit.schema_path()).expect("schema.json"))
                .expect("schema.json is JSON");
        let topic = |section: &str, name: &str| {
            schema[section][name][0]
                .as_str()
                .unwrap_or_else(|| panic!("schema.json has no {section}.{name}"))
                .to_owned()
        };
        let topics = UnitTopics {
            input: topic("input_topic", "input/pepeunit"),
            output: topic("output_topic", "output/pepeunit"),
            state: topic("output_base_topic", "state/pepeunit"),
        };
        BenchUnit { unit, dir, topics }
    }

    /// Blocks until the unit's first state reached the instance (it is connected and subscribed).
    fn wait_for_state(&self, unit: &BenchUnit) {
        self.runtime
            .block_on(
                self.instance
                    .wait_for_state(&unit.unit, Duration::from_secs(30)),
            )
            .unwrap_or_else(|| panic!("{} sent no state within 30 s", unit.dir.display()));
        std::thread::sleep(Duration::from_millis(500)); // its SUBSCRIBE follows the CONNACK
    }
}

/// The backend's MQTT login: the instance's link holds everyone else to a unit's rules, so the
/// bench's own clients (subscribers, publishers, the probe) log in as the backend.
static LOGIN: OnceLock<(String, String)> = OnceLock::new();

/// The backend's user name and password (set once the instance runs, or from the command line).
pub fn login() -> (String, String) {
    LOGIN.get().cloned().unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--flood-unit") => return flood::ours_receiver(Path::new(&args[2])),
        Some("--bare-sub") => {
            let _ = LOGIN.set((args[4].clone(), args[5].clone()));
            return flood::bare_receiver(args[2].parse().expect("port"), &args[3]);
        }
        Some("--scale-units") => {
            return scale::child(Path::new(&args[2]), args[3].parse().expect("N"));
        }
        _ => {}
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let only = env("PEPEUNIT_BENCH_ONLY").unwrap_or("flood,echo,idle,startup,scale".into());
    let wanted = |item: &str| only.split(',').any(|w| w.trim() == item);
    let idle_seconds =
        env("PEPEUNIT_BENCH_IDLE_SECONDS").map_or(60, |s| s.parse().expect("seconds"));
    let sizes: Vec<usize> = env("PEPEUNIT_BENCH_SCALE")
        .unwrap_or("1,100,1000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("PEPEUNIT_BENCH_SCALE: numbers"))
        .collect();
    let ours = env("PEPEUNIT_BENCH_UNIT").map_or_else(default_unit_program, PathBuf::from);
    assert!(
        ours.is_file(),
        "our unit program {} is missing: cargo build --release -p pepeunit-examples --example bench_unit",
        ours.display()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let instance = runtime
        .block_on(Instance::start(InstanceOptions {
            broker: BrokerKind::Mosquitto,
            ..InstanceOptions::default()
        }))
        .expect("mosquitto on PATH");
    let _ = LOGIN.set(instance.backend_credentials());
    let dir = std::env::temp_dir().join(format!("pepeunit-bench-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let python = env("PEPEUNIT_BENCH_PYTHON").map(|p| Program::python(PathBuf::from(p), &dir));
    let mut bench = Bench {
        runtime,
        instance,
        dir,
        ours: Program::Ours(ours),
        python,
        rows: Vec::new(),
    };
    if wanted("flood") {
        flood::run(&mut bench);
    }
    if wanted("echo") {
        latency::run(&mut bench);
    }
    if wanted("idle") {
        idle::idle(&mut bench, idle_seconds);
    }
    if wanted("startup") {
        idle::startup(&mut bench);
    }
    if wanted("scale") {
        scale::run(&mut bench, &sizes);
    }
    print_table(&bench.rows);
    let _ = std::fs::remove_dir_all(&bench.dir);
}

/// `ours` against Python's figure where less is better: "1/8 of Python" or "1.5x Python".
fn relative(ours: f64, python: f64) -> String {
    if ours <= 0.0 {
        "0 (Python > 0)".into()
    } else if ours <= python {
        format!("1/{:.1} of Python", python / ours)
    } else {
        format!("{:.1}x Python", ours / python)
    }
}

/// `target/release/examples/bench_unit`, beside this bench's own `target/release/deps/compare-…`.
fn default_unit_program() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.parent()
        .and_then(Path::parent)
        .map(|release| release.join("examples/bench_unit"))
        .expect("bench binary under target/<profile>/deps")
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| measure | pepeunit (Rust) | Python client | limit | ratio |");
    println!("|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.what, row.ours, row.python, row.limit, row.ratio
        );
    }
}
