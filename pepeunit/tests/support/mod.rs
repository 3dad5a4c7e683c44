//! Helpers shared by the integration tests: the vectors folder and self-cleaning temp directories.
#![allow(dead_code)]

pub mod prop;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The repository's `vectors/` folder (the interoperability fixtures; see its README).
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

/// A file of the vectors folder, e.g. `vector("env/env_current.json")`.
pub fn vector(rel: &str) -> PathBuf {
    let path = vectors().join(rel);
    assert!(path.exists(), "missing vector {}", path.display());
    path
}

/// A fresh directory under the system temp dir, removed (with its contents) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("pepeunit-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Copies a vector file into this directory under `name`, writable (the vectors may be read-only).
    pub fn copy_vector(&self, rel: &str, name: &str) -> PathBuf {
        let dest = self.0.join(name);
        let bytes = std::fs::read(vector(rel)).unwrap();
        std::fs::write(&dest, bytes).unwrap();
        dest
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a path in a directory is: its type, permission bits and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File { mode: u32, bytes: Vec<u8> },
    Dir { mode: u32 },
    Symlink(PathBuf),
}

/// Every path under `root` (relative, `/`-separated) with what it is.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let node = if meta.is_symlink() {
                Node::Symlink(fs::read_link(&path).unwrap())
            } else if meta.is_dir() {
                walk(root, &path, out);
                Node::Dir { mode }
            } else {
                Node::File {
                    mode,
                    bytes: fs::read(&path).unwrap(),
                }
            };
            out.insert(rel, node);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A testkit instance answering as the backend `era` does.
pub async fn instance(era: pepeunit_testkit::BackendEra) -> pepeunit_testkit::Instance {
    pepeunit_testkit::Instance::start(pepeunit_testkit::InstanceOptions {
        backend_era: era,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A testkit instance on mosquitto (the broker CI has), whatever `BrokerKind::Auto` would pick.
pub async fn mosquitto_instance() -> pepeunit_testkit::Instance {
    pepeunit_testkit::Instance::start(pepeunit_testkit::InstanceOptions {
        broker: pepeunit_testkit::BrokerKind::Mosquitto,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A testkit instance whose units send their state every second (the tests that wait for a state).
pub async fn fast_state_instance() -> pepeunit_testkit::Instance {
    pepeunit_testkit::Instance::start(pepeunit_testkit::InstanceOptions {
        state_send_interval: 1,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Ends the main cycle running on `cycle` and checks that it stopped cleanly (within 20 s).
#[cfg(feature = "mqtt")]
pub async fn stop_cycle(
    client: &pepeunit::client::PepeunitClient,
    cycle: tokio::task::JoinHandle<pepeunit::Result<()>>,
) {
    client.stop_main_cycle().unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), cycle)
        .await
        .expect("the main cycle did not stop")
        .unwrap()
        .unwrap();
}

/// The most connection attempts `backoff` allows in `window`: the first at once, then each after at
/// least half its full delay (the jitter stays in the upper half).
#[cfg(feature = "mqtt")]
pub fn max_attempts(backoff: pepeunit::backoff::Backoff, window: std::time::Duration) -> u32 {
    let mut at = std::time::Duration::ZERO;
    let mut attempts = 1;
    for attempt in 0.. {
        let full = backoff
            .initial
            .saturating_mul(1 << attempt.min(20))
            .min(backoff.max);
        at += full / 2;
        if at > window {
            break;
        }
        attempts += 1;
    }
    attempts
}

/// A client builder for a testkit unit with MQTT on, `config`, log.json in the unit's directory and
/// no restarts.
#[cfg(feature = "mqtt")]
pub fn mqtt_unit_builder(
    unit: &pepeunit_testkit::TestUnit,
    config: pepeunit::mqtt::MqttConfig,
) -> pepeunit::client::ClientBuilder {
    pepeunit::client::PepeunitClient::builder(
        unit.env_path(),
        unit.schema_path(),
        unit.dir().join("log.json"),
    )
    .mqtt(true)
    .restart_mode(pepeunit::update::RestartMode::None)
    .mqtt_config(config)
}

/// Sets an input handler on `client` that forwards every message to the returned receiver.
#[cfg(feature = "mqtt")]
pub fn record_inputs(
    client: &pepeunit::client::PepeunitClient,
) -> tokio::sync::mpsc::UnboundedReceiver<pepeunit::runtime::Message> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    client
        .set_input_message_handler(move |_client, message| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(message);
            }
        })
        .unwrap();
    rx
}

/// A platform-command hook that records the commands and does nothing (a stand-in REST layer, or a
/// custom update handler).
#[cfg(feature = "mqtt")]
#[derive(Default)]
pub struct RecordingCommands(pub std::sync::Mutex<Vec<pepeunit::runtime::PlatformCommand>>);

#[cfg(feature = "mqtt")]
impl pepeunit::runtime::PlatformCommands for RecordingCommands {
    fn run<'a>(
        &'a self,
        _client: &'a pepeunit::client::PepeunitClient,
        command: pepeunit::runtime::PlatformCommand,
    ) -> pepeunit::BoxFuture<'a, pepeunit::Result<pepeunit::runtime::AfterCommand>> {
        self.0.lock().unwrap().push(command);
        Box::pin(async { Ok(pepeunit::runtime::AfterCommand::Continue) })
    }
}

/// Malformed payloads for the commands that parse theirs (tests/mqtt_runtime.rs sends them all; the
/// command-payload property of tests/hostile_input.rs starts from them).
pub fn hostile_command_payloads() -> Vec<Vec<u8>> {
    let garbage: Vec<u8> = (0..200 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    vec![
        b"not json".to_vec(),
        br#"{"COMMAND": 5}"#.to_vec(),
        b"[1, 2, 3]".to_vec(),
        br#"{"COMMAND": "Update", "PU_COMMIT_VERSION": ["x"]}"#.to_vec(),
        garbage,
        vec![0xff, 0xfe, b'{', 0x80],
    ]
}

/// Runs `client`'s main cycle (no output) on a task.
#[cfg(feature = "mqtt")]
pub fn spawn_main_cycle(
    client: &pepeunit::client::PepeunitClient,
) -> tokio::task::JoinHandle<pepeunit::Result<()>> {
    let client = client.clone();
    tokio::spawn(async move { client.run_main_cycle(|_| async {}).await })
}

/// Stops the main cycle run by [`spawn_main_cycle`] and checks it ended cleanly.
#[cfg(feature = "mqtt")]
pub async fn stop_main_cycle(
    client: &pepeunit::client::PepeunitClient,
    cycle: tokio::task::JoinHandle<pepeunit::Result<()>>,
) {
    client.stop_main_cycle().unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), cycle).await;
    ended
        .expect("the main cycle did not stop")
        .unwrap()
        .unwrap();
}

/// A unit named `name` with the default examples, its files in `dir/name`.
pub async fn named_unit(
    instance: &pepeunit_testkit::Instance,
    dir: &TempDir,
    name: &str,
) -> pepeunit_testkit::TestUnit {
    let spec = pepeunit_testkit::UnitSpec::new(name, dir.path().join(name));
    instance.create_unit(spec).await.unwrap()
}

/// A client of `unit` with REST on (`options`), log.json in the unit's directory.
#[cfg(feature = "rest")]
pub fn rest_client(
    unit: &pepeunit_testkit::TestUnit,
    options: pepeunit::rest::RestOptions,
) -> pepeunit::client::PepeunitClient {
    pepeunit::client::PepeunitClient::builder(
        unit.env_path(),
        unit.schema_path(),
        unit.dir().join("log.json"),
    )
    .rest(true)
    .rest_options(options)
    .build()
    .unwrap()
}

/// The next log entry of `unit` on `log/pepeunit` that `wanted` accepts; fails showing log.json.
pub async fn next_log_where(
    instance: &pepeunit_testkit::Instance,
    unit: &pepeunit_testkit::TestUnit,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let waited = instance
        .next_log_where(unit, std::time::Duration::from_secs(20), wanted)
        .await;
    waited.unwrap_or_else(|| {
        let log = fs::read_to_string(unit.dir().join("log.json")).unwrap_or_default();
        panic!("no such log entry; log.json:\n{log}")
    })
}

/// Puts `PU_MIN_LOG_LEVEL` = `level` in force for `client` (a new env.json, as an env_update would).
pub fn set_min_log_level(
    client: &pepeunit::client::PepeunitClient,
    unit: &pepeunit_testkit::TestUnit,
    level: &str,
) {
    let mut env: serde_json::Value =
        serde_json::from_slice(&fs::read(unit.env_path()).unwrap()).unwrap();
    env["PU_MIN_LOG_LEVEL"] = level.into();
    let new_env = unit.dir().join("env-new-level.json");
    fs::write(&new_env, env.to_string()).unwrap();
    client.update_env_from_file(&new_env).unwrap();
}

/// The bridges' loop check: nothing `client` logged names `log_topic` (rumqttc's words about a
/// publish of a log entry), and no more entries are published while the unit is left alone.
#[cfg(feature = "mqtt")]
pub async fn assert_no_log_loop(
    client: &pepeunit::client::PepeunitClient,
    instance: &pepeunit_testkit::Instance,
    log_topic: &str,
) {
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let about_log_publishes: Vec<String> = client
        .logger()
        .get_full_log()
        .into_iter()
        .map(|e| e.text)
        .filter(|t| t.contains(log_topic))
        .collect();
    assert!(about_log_publishes.is_empty(), "{about_log_publishes:?}");
    let published = instance.messages(log_topic).len();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        instance.messages(log_topic).len(),
        published,
        "the log keeps growing"
    );
}

/// REST options with two quick retries, so the tests that exhaust them stay fast.
#[cfg(feature = "rest")]
pub fn fast_retries() -> pepeunit::rest::RestOptions {
    pepeunit::rest::RestOptions {
        retries: 2,
        backoff: pepeunit::backoff::Backoff {
            initial: std::time::Duration::from_millis(10),
            max: std::time::Duration::from_millis(40),
        },
        ..Default::default()
    }
}

/// Records the contents of `paths` now; the returned check asserts they are still the same.
pub fn unchanged(paths: &[&Path]) -> impl Fn() + use<> {
    let before: Vec<(PathBuf, Vec<u8>)> = paths
        .iter()
        .map(|p| (p.to_path_buf(), fs::read(p).unwrap()))
        .collect();
    move || {
        for (path, bytes) in &before {
            assert_eq!(&fs::read(path).unwrap(), bytes, "{path:?} changed");
        }
    }
}

/// `examples/NAME` built with `UNIT_VERSION=version`: the bytes of the binary. Built in this test's
/// own target directory with the features `cargo test --workspace --all-features` resolves, so every
/// dependency is the one that command has built and only the example compiles; linked without
/// debuginfo (`strip`, for the examples' package alone), as a release binary would be served.
pub fn build_example(name: &str, version: &str) -> Vec<u8> {
    // target/debug/deps/<this test> → target
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    let mut cargo = std::process::Command::new(env!("CARGO"));
    // What cargo set for running this test, not for a build: a build script that reads one of them
    // (ring's reads CARGO_MANIFEST_DIR) would see it changed and rebuild half the graph.
    for (name, _) in std::env::vars() {
        let set_for_the_test = name.starts_with("CARGO_PKG_")
            || [
                "MANIFEST_DIR",
                "MANIFEST_PATH",
                "CRATE_NAME",
                "PRIMARY_PACKAGE",
                "TARGET_TMPDIR",
            ]
            .iter()
            .any(|var| name.strip_prefix("CARGO_") == Some(var));
        if set_for_the_test {
            cargo.env_remove(name);
        }
    }
    let status = cargo
        .args(["build", "--quiet", "--workspace", "--all-features"])
        .args(["--example", name])
        .args([
            "--config",
            "profile.dev.package.pepeunit-examples.strip = \"debuginfo\"",
        ])
        .arg("--target-dir")
        .arg(target)
        .env("UNIT_VERSION", version)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building {name} {version} failed");
    fs::read(target.join("debug/examples").join(name)).unwrap()
}

/// The pids of the processes whose executable lies under `dir`, found through /proc (zombies have
/// none, so they are not listed).
pub fn processes_under(dir: &Path) -> Vec<i32> {
    let prefix = dir.to_string_lossy().into_owned();
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            let exe = fs::read_link(entry.path().join("exe")).ok()?;
            exe.to_string_lossy().starts_with(&prefix).then_some(pid)
        })
        .collect()
}

/// Kills (SIGKILL) every process whose executable lies under `dir`.
pub fn kill_all_under(dir: &Path) {
    for pid in processes_under(dir) {
        // SAFETY: sending a signal to a process of ours has no memory effects.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// The unit uuid of `token` as the library reads it: through an env.json holding the token (the
/// decoder itself is internal).
pub fn unit_uuid_from_token(token: &str) -> pepeunit::Result<String> {
    let env = serde_json::json!({ "PU_AUTH_TOKEN": token });
    pepeunit::settings::Env::from_value(env, "test")?.unit_uuid()
}
