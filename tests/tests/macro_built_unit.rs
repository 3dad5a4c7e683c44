//! The examples' macro-built `macro_unit` (a binary of this crate) run as a child process against a local
//! Pepeunit instance: its input reaches the `#[input]` function, the `#[output]` function publishes,
//! SIGTERM ends it cleanly. Every child is killed on every path. (The unit template is rendered, built
//! and tested by `scripts/check-template`.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use pepeunit::testkit::{Instance, InstanceOptions, TestUnit, UnitSpec};

const WAIT: Duration = Duration::from_secs(20);

/// A fresh directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
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
struct Unit(Child);

impl Unit {
    /// Starts `binary` in `dir`, its stdout and stderr into `dir/output.txt`.
    fn start(binary: &Path, dir: &Path) -> Unit {
        let output = std::fs::File::create(dir.join("output.txt")).unwrap();
        let child = Command::new(binary)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap();
        Unit(child)
    }

    /// Waits for the process to exit (polling, up to `WAIT`).
    fn wait(&mut self) -> ExitStatus {
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
fn output(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("output.txt")).unwrap_or_default()
}

/// Waits for a log entry on `log/pepeunit` whose text is `text`.
async fn wait_log(instance: &Instance, unit: &TestUnit, text: &str, dir: &Path) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(entry) = instance.next_log(unit, left).await else {
            panic!("no log entry {text:?}; unit output:\n{}", output(dir));
        };
        if entry["text"] == text {
            return;
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn macro_unit_handles_input_publishes_output_and_stops_on_sigterm() {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = Dir::new("macro-unit");
    let unit = instance
        .create_unit(UnitSpec::new("macro", &dir.0))
        .await
        .unwrap();
    let mut process = Unit::start(Path::new(env!("CARGO_BIN_EXE_macro_unit")), &dir.0);

    // The first state comes after the subscriptions, on the same connection.
    let state = instance.wait_for_state(&unit, WAIT).await;
    assert!(state.is_some(), "no state: {}", output(&dir.0));
    // The setup body ran before the connection started: its entry is in log.json only.
    let log = std::fs::read_to_string(dir.0.join("log.json")).unwrap();
    assert!(log.contains("macro unit started"), "{log}");
    instance
        .publish_input(&unit, "input/pepeunit", "21")
        .await
        .unwrap();
    wait_log(&instance, &unit, "got 21", &dir.0).await;
    let output = instance.next_output(&unit, "output/pepeunit", WAIT).await;
    assert_eq!(output.as_ref().and_then(|m| m.text()), Some("42"));

    stop_with_sigterm(&mut process, &dir.0);
}

/// SIGTERM ends the unit with exit code 0 and a flushed log that says so.
fn stop_with_sigterm(process: &mut Unit, dir: &Path) {
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

#[test]
fn macro_unit_without_its_files_exits_with_an_error() {
    let dir = Dir::new("macro-unit-empty");
    let mut process = Unit::start(Path::new(env!("CARGO_BIN_EXE_macro_unit")), &dir.0);
    assert_eq!(process.wait().code(), Some(1));
    let output = output(&dir.0);
    assert!(output.starts_with("error: "), "{output}");
    assert!(output.contains("env.json"), "{output}");
}
