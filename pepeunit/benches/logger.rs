//! Appends per second of the unit logger, with and without a sink, at the default and a large
//! `max_length`, next to the limit: one `write(2)` of a line per entry to an `O_APPEND` file. With
//! `PEPEUNIT_BENCH_PYTHON` set to a Python that has `pepeunit-client` it also measures the Python
//! reference client the same way.
//!
//! Run: `cargo bench -p pepeunit --bench logger`.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pepeunit::LogLevel;
use pepeunit::logger::{Logger, LoggerConfig};

const APPENDS: u32 = 200_000;
const MAX_LENGTHS: [usize; 2] = [64, 10_000];

/// Appends measured for the Python reference per max_length (it rewrites log.json on every entry).
const PYTHON_APPENDS: [u32; 2] = [3_000, 300];

fn main() {
    let dir = std::env::temp_dir().join(format!("pepeunit-bench-logger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let python = std::env::var("PEPEUNIT_BENCH_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let limit = write_rate(&dir.join("bare.json"));
    println!("limit: one write(2) per line to an O_APPEND file: {limit:.0} appends/s");
    let mut rows = Vec::new();
    for (max_length, python_appends) in MAX_LENGTHS.into_iter().zip(PYTHON_APPENDS) {
        let mut ours = 0.0;
        for with_sink in [false, true] {
            let rate = rust_rate(&dir.join("log.json"), max_length, with_sink);
            let sink = if with_sink { " with sink" } else { "" };
            println!("logger append max_length={max_length}{sink}: {rate:.0} appends/s");
            if !with_sink {
                ours = rate;
            }
        }
        let python_rate = python.as_ref().map(|python| {
            let rate = python_rate(python, &dir.join("log_py.json"), max_length, python_appends);
            println!("python reference append max_length={max_length}: {rate:.0} appends/s");
            rate
        });
        rows.push(format!(
            "| 5. logger appends/s, PU_MAX_LOG_LENGTH {max_length} | {ours:.0} | {} | write(2) per line {limit:.0} | {:.2}x limit{} |",
            python_rate.map_or("not run".into(), |r| format!("{r:.0}")),
            ours / limit,
            python_rate.map_or(String::new(), |r| format!("; {:.0}x Python", ours / r))
        ));
    }
    // The summary rows of scripts/benchmarks' table.
    for row in rows {
        println!("{row}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Lines per second written one `write(2)` each to a fresh `O_APPEND` file: what any log.json append
/// costs at least.
fn write_rate(path: &Path) -> f64 {
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let start = Instant::now();
    for i in 0..APPENDS {
        let line = format!(
            "{{\"level\":\"Info\",\"text\":\"bench entry {i}\",\"create_datetime\":\"2025-11-12T19:40:53.000000+00:00\"}}\n"
        );
        file.write_all(black_box(line.as_bytes())).unwrap();
    }
    f64::from(APPENDS) / start.elapsed().as_secs_f64()
}

/// Appends per second into a fresh log, including its compactions.
fn rust_rate(path: &Path, max_length: usize, with_sink: bool) -> f64 {
    let _ = std::fs::remove_file(path);
    let config = LoggerConfig {
        min_level: LogLevel::Debug,
        max_length,
    };
    let logger = Logger::open(path, config).unwrap();
    let delivered = Arc::new(AtomicU64::new(0));
    if with_sink {
        let delivered = delivered.clone();
        logger.set_sink(Some(Arc::new(move |entry| {
            black_box(entry);
            delivered.fetch_add(1, Ordering::Relaxed);
        })));
    }
    let start = Instant::now();
    for i in 0..APPENDS {
        logger.info(format!("bench entry {i}"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(logger.write_errors(), 0);
    if with_sink {
        assert_eq!(delivered.load(Ordering::Relaxed), u64::from(APPENDS));
    }
    f64::from(APPENDS) / elapsed
}

/// The Python client's rate at steady state: log.json prefilled with `max_length` lines, then `appends`
/// entries through `pepeunit_client.logger.Logger`. The script prints the rate.
fn python_rate(python: &str, path: &Path, max_length: usize, appends: u32) -> f64 {
    let _ = std::fs::remove_file(path);
    let script = r#"
import json, sys, time
from pepeunit_client.logger import Logger
from pepeunit_client.settings import Settings
path, max_length, appends = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, 'w', encoding='utf-8') as f:
    for i in range(max_length):
        f.write(json.dumps({'level': 'Info', 'text': f'prefill {i}', 'create_datetime': '2025-11-12T19:40:53.000000+00:00'}) + '\n')
logger = Logger(path, settings=Settings(PU_MAX_LOG_LENGTH=max_length), ff_console_log_enable=False)
start = time.perf_counter()
for i in range(appends):
    logger.info(f'bench entry {i}')
print(f'{appends / (time.perf_counter() - start):.0f}')
"#;
    let output = Command::new(python)
        .args(["-c", script])
        .arg(PathBuf::from(path))
        .args([max_length.to_string(), appends.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python reference failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("python reference printed {text:?}"))
}
