//! What the tests that run unit processes share: a temp directory, the unit process (killed on
//! drop), its output, waiting for a log entry, and stopping it with SIGTERM.
#![allow(dead_code)] // each test binary uses its own part

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use pepeunit_testkit::{Instance, TestUnit};
use serde_json::Value;

pub const WAIT: Duration = Duration::from_secs(20);

/// A fresh directory, removed on drop.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(tag: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("pepeunit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The unit process, killed when dropped unless it has exited.
pub struct Unit(pub Child);

impl Unit {
    /// Starts `binary` in `dir` with the environment variables `envs` added, its stdout and stderr
    /// into `dir/output.txt`.
    pub fn start(binary: &Path, dir: &Path, envs: &[(&str, &OsStr)]) -> Unit {
        let output = std::fs::File::create(dir.join("output.txt")).unwrap();
        let child = Command::new(binary)
            .current_dir(dir)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap();
        Unit(child)
    }

    /// Waits for the process to exit (polling, up to `WAIT`).
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the unit did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the unit printed.
pub fn output(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("output.txt")).unwrap_or_default()
}

/// Waits for a log entry on `log/pepeunit` whose text is `text`.
pub async fn wait_log(instance: &Instance, unit: &TestUnit, text: &str, dir: &Path) {
    wait_log_where(instance, unit, dir, text, |entry| entry["text"] == text).await;
}

/// Waits for a log entry on `log/pepeunit` that `wanted` accepts (`what` describes it) and returns it.
pub async fn wait_log_where(
    instance: &Instance,
    unit: &TestUnit,
    dir: &Path,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    match instance.next_log_where(unit, WAIT, wanted).await {
        Some(entry) => entry,
        None => panic!("no log entry {what}; unit output:\n{}", output(dir)),
    }
}

/// SIGTERM ends the unit with exit code 0 and a flushed log that says so.
pub fn stop_with_sigterm(process: &mut Unit, dir: &Path) {
    let killed = Command::new("kill")
        .args(["-TERM", &process.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(process.wait().code(), Some(0), "{}", output(dir));
    let log = std::fs::read_to_string(dir.join("log.json")).unwrap();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("Main cycle stopped"), "{log}");
}

/// SIGTERM, then the exit awaited without blocking the test's runtime, which serves the instance a
/// stopping unit saves its state to: exit code 0, the stop in the log.
pub async fn stop_awaiting_exit(mut process: Unit, dir: &Path) {
    let killed = Command::new("kill")
        .args(["-TERM", &process.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the unit did not exit: {}",
            output(dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "{}", output(dir));
    let log = std::fs::read_to_string(dir.join("log.json")).unwrap();
    assert!(log.contains("Main cycle stopped"), "{log}");
}

/// Starts `binary` in `dir` and waits until it is connected (its state arrives).
pub async fn start_connected(
    instance: &Instance,
    unit: &TestUnit,
    binary: &Path,
    dir: &Path,
) -> Unit {
    let process = Unit::start(binary, dir, &[]);
    let state = instance.wait_for_state(unit, WAIT).await;
    assert!(state.is_some(), "no state: {}", output(dir));
    process
}
