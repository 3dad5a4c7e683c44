//! The unit's own behaviour against a local Pepeunit instance (`pepeunit-testkit`: a real MQTT broker
//! and the REST endpoints on loopback), with the unit created from this repository's
//! `env_example.json` and `schema_example.json` as Pepeunit would create it. `cargo test` runs it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pepeunit_testkit::{Instance, InstanceOptions, TestUnit, UnitSpec};

/// How long to wait for anything the unit should do.
const WAIT: Duration = Duration::from_secs(20);

/// The unit's binary running in `dir`, its stdout and stderr in `dir/output.txt`; killed when dropped.
struct Running {
    child: Child,
    dir: PathBuf,
}

impl Running {
    fn start(dir: &Path) -> Running {
        let output = std::fs::File::create(dir.join("output.txt")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_{{project-name}}"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap();
        Running {
            child,
            dir: dir.to_path_buf(),
        }
    }

    /// What the unit printed (for failure messages).
    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("output.txt")).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A unit of this repository on `instance`, its env.json and schema.json in a fresh directory.
async fn create_unit(instance: &Instance, name: &str) -> TestUnit {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = UnitSpec::new(name, dir).with_repo_examples(repo).unwrap();
    instance.create_unit(spec).await.unwrap()
}

/// Waits for a log entry holding every one of `parts` among those the instance accepted from the unit.
async fn wait_log(instance: &Instance, unit: &TestUnit, parts: &[&str], program: &Running) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match instance.next_log(unit, left).await {
            Some(entry)
                if parts
                    .iter()
                    .all(|p| entry["text"].as_str().unwrap_or_default().contains(p)) =>
            {
                return;
            }
            Some(_) => continue,
            None => panic!(
                "no log entry with {parts:?}; unit output:\n{}",
                program.output()
            ),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_number_in_gives_a_log_line_and_its_double_out() {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let unit = create_unit(&instance, "doubler").await;
    let program = Running::start(unit.dir());

    // The first state comes right after the unit has connected and subscribed.
    let state = instance.wait_for_state(&unit, WAIT).await;
    assert!(state.is_some(), "no state: {}", program.output());

    instance
        .publish_input(&unit, "input/pepeunit", "21")
        .await
        .unwrap();
    wait_log(&instance, &unit, &["got 21"], &program).await;
    // Nothing is published before the first number: the first output is its double.
    let output = instance.next_output(&unit, "output/pepeunit", WAIT).await;
    assert_eq!(
        output.as_ref().and_then(|m| m.text()),
        Some("42"),
        "unit output:\n{}",
        program.output()
    );

    instance
        .publish_input(&unit, "input/pepeunit", "many")
        .await
        .unwrap();
    // A payload that is not a number never reaches `on_number`: the library logs why.
    wait_log(
        &instance,
        &unit,
        &["input/pepeunit", "not a `f64`", "`many`"],
        &program,
    )
    .await;
    let rejected = instance.rejections();
    assert!(rejected.is_empty(), "the backend would drop: {rejected:?}");
}
