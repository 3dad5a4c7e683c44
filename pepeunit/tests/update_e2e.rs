//! The full update of an interpretable program through MQTT, against the testkit: the backend serves a
//! new version and sends `update`; the unit's default platform commands (installed because MQTT and
//! REST are both on) download, check and apply it, reload, and the next state carries the new version.
//! A truncated or evil archive leaves the files as they were, says why on `log/pepeunit`, and the unit
//! keeps running its inputs. An `env_update` that changes the keepalive makes a new connection with it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pepeunit::Command;
use pepeunit::client::PepeunitClient;
use pepeunit::runtime::{Message, PlatformCommand, PlatformCommands};
use pepeunit::update::RestartMode;
use pepeunit::update::{UpdateCommand, UpdateOutcome};
use pepeunit_testkit::{Instance, ProgramSource, TestUnit, UnitSpec, UpdateStatus};
use support::{
    RecordingCommands, TempDir, fast_retries, fast_state_instance, record_inputs, snapshot, vector,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

struct Setup {
    instance: Instance,
    unit: TestUnit,
    client: PepeunitClient,
    inputs: mpsc::UnboundedReceiver<Message>,
    cycle: JoinHandle<pepeunit::Result<()>>,
    _dir: TempDir,
}

/// A unit whose program directory holds `src/main.py`, running its main cycle in ReloadOnly mode, with
/// the default platform commands or `hook`.
async fn setup(tag: &str, hook: Option<Arc<dyn PlatformCommands>>) -> Setup {
    setup_on(fast_state_instance().await, tag, hook, |_, _| {}).await
}

/// [`setup`] on `instance`, with `prepare` run on the new unit before its client is built.
async fn setup_on(
    instance: Instance,
    tag: &str,
    hook: Option<Arc<dyn PlatformCommands>>,
    prepare: impl FnOnce(&Instance, &TestUnit),
) -> Setup {
    let dir = TempDir::new(tag);
    let unit = instance
        .create_unit(UnitSpec::new("py", dir.path().join("unit")))
        .await
        .unwrap();
    prepare(&instance, &unit);
    std::fs::create_dir(unit.dir().join("src")).unwrap();
    std::fs::write(unit.dir().join("src/main.py"), "print(1)\n").unwrap();
    let mut builder = PepeunitClient::builder(
        unit.env_path(),
        unit.schema_path(),
        dir.path().join("log.json"),
    )
    .mqtt(true)
    .rest(true)
    .rest_options(fast_retries())
    .restart_mode(RestartMode::ReloadOnly);
    if let Some(hook) = hook {
        builder = builder.platform_commands(hook);
    }
    let client = builder.build().unwrap();
    let inputs = record_inputs(&client);
    let cycle = {
        let client = client.clone();
        tokio::spawn(async move { client.run_main_cycle(|_| async {}).await })
    };
    assert!(instance.wait_for_state(&unit, WAIT).await.is_some());
    Setup {
        instance,
        unit,
        client,
        inputs,
        cycle,
        _dir: dir,
    }
}

impl Setup {
    /// Waits for an accepted log entry containing every one of `parts`.
    async fn wait_log(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let entry = self.instance.next_log(&self.unit, left).await;
            let Some(entry) = entry else {
                panic!(
                    "no log entry with {parts:?}: {:?}",
                    self.instance.logs(&self.unit)
                );
            };
            let text = entry["text"].as_str().unwrap_or_default().to_owned();
            if parts.iter().all(|p| text.contains(p)) {
                return text;
            }
        }
    }

    /// An input published now reaches the handler.
    async fn handles_inputs(&mut self) {
        self.instance
            .publish_input(&self.unit, "input/pepeunit", "ping")
            .await
            .unwrap();
        loop {
            let message = tokio::time::timeout(WAIT, self.inputs.recv())
                .await
                .expect("the input never reached the handler")
                .unwrap();
            if message.text().unwrap_or_default() == "ping" {
                return;
            }
        }
    }

    /// Waits until the backend reports the update to COMMIT as a success (a state carried it).
    async fn wait_success(&self) {
        let deadline = Instant::now() + WAIT;
        let success = UpdateStatus::Success {
            commit: COMMIT.into(),
        };
        while self.instance.update_status(&self.unit) != success {
            let left = deadline.saturating_duration_since(Instant::now());
            let state = self.instance.wait_for_state(&self.unit, left).await;
            assert!(state.is_some(), "no state with the new version");
        }
    }

    fn set_main_py(&self, text: &str) {
        let files = vec![("src/main.py".to_owned(), text.as_bytes().to_vec())];
        self.instance
            .set_program(&self.unit, COMMIT, ProgramSource::Files(files), None)
            .unwrap();
    }

    async fn stop(self) {
        self.client.stop_main_cycle().unwrap();
        tokio::time::timeout(WAIT, self.cycle)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_command_installs_reloads_and_reports_the_new_version() {
    let mut setup = setup("e2e-ok", None).await;
    let (instance, unit) = (&setup.instance, &setup.unit);
    let files = vec![
        ("src/main.py".to_owned(), b"print(2)\n".to_vec()),
        ("src/lib/util.py".to_owned(), b"X = 1\n".to_vec()),
    ];
    instance
        .set_program(unit, COMMIT, ProgramSource::Files(files), None)
        .unwrap();
    instance.send_command(unit, Command::Update).await.unwrap();

    setup
        .wait_log(&[&format!("Update to {COMMIT} applied")])
        .await;
    setup.wait_log(&["restart mode ReloadOnly"]).await;
    setup.wait_success().await;
    let dir = setup.unit.dir();
    assert_eq!(
        std::fs::read_to_string(dir.join("src/main.py")).unwrap(),
        "print(2)\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib/util.py")).unwrap(),
        "X = 1\n"
    );
    assert_eq!(setup.client.settings().current().commit_version, COMMIT);
    setup.handles_inputs().await;
    assert!(
        setup.instance.rejections().is_empty(),
        "{:?}",
        setup.instance.rejections()
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_evil_archives_change_nothing_and_say_why() {
    let mut setup = setup("e2e-bad", None).await;
    setup.set_main_py("print(2)\n");
    let old_commit = setup.client.settings().current().commit_version.clone();
    let before = snapshot(setup.unit.dir());
    let mut archives = vec![vector("archives/truncated_wbits9.tgz")];
    for evil in std::fs::read_dir(vector("archives/evil")).unwrap() {
        archives.push(evil.unwrap().path());
    }
    for archive in archives {
        let bytes = std::fs::read(&archive).unwrap();
        setup.instance.fail_next("/units/firmware/", 200, bytes);
        setup
            .instance
            .send_command(&setup.unit, Command::Update)
            .await
            .unwrap();
        let why = setup
            .wait_log(&[&format!("Update to {COMMIT} failed")])
            .await;
        assert!(why.contains("archive"), "{archive:?}: {why}");
        assert_eq!(snapshot(setup.unit.dir()), before, "{archive:?}");
        assert_eq!(setup.client.settings().current().commit_version, old_commit);
        assert!(
            !matches!(
                setup.instance.update_status(&setup.unit),
                UpdateStatus::Success { .. }
            ),
            "{archive:?}"
        );
        setup.handles_inputs().await;
    }
    let state = setup
        .instance
        .wait_for_state(&setup.unit, WAIT)
        .await
        .unwrap();
    assert_eq!(state["pu_commit_version"], old_commit.as_str());
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perform_update_brings_the_unit_to_its_target_version() {
    let setup = setup("e2e-perform", None).await;
    setup.set_main_py("print(3)\n");
    let outcome = setup.client.perform_update().await.unwrap();
    assert!(
        matches!(&outcome, UpdateOutcome::Applied(a) if a.to_version == COMMIT),
        "{outcome:?}"
    );
    assert_eq!(
        std::fs::read_to_string(setup.unit.dir().join("src/main.py")).unwrap(),
        "print(3)\n"
    );
    // No `update` command was sent, so the backend has no request to mark; the state shows it.
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let state = setup.instance.wait_for_state(&setup.unit, left).await;
        if state.expect("no state with the new version")["pu_commit_version"] == COMMIT {
            break;
        }
    }
    assert_eq!(
        setup.client.perform_update().await.unwrap(),
        UpdateOutcome::UpToDate {
            version: COMMIT.into()
        }
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_handler_replaces_the_default_one() {
    let custom = Arc::new(RecordingCommands::default());
    let setup = setup("e2e-custom", Some(custom.clone())).await;
    setup.set_main_py("print(4)\n");
    let before = snapshot(setup.unit.dir());
    setup
        .instance
        .send_command(&setup.unit, Command::Update)
        .await
        .unwrap();
    setup
        .wait_log(&["Get base MQTT command: update/pepeunit"])
        .await;
    let deadline = Instant::now() + WAIT;
    while custom.0.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the custom handler never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        custom.0.lock().unwrap()[0],
        PlatformCommand::Update(UpdateCommand {
            version: Some(COMMIT.into()),
            compiled_firmware_link: None
        })
    );
    assert_eq!(
        snapshot(setup.unit.dir()),
        before,
        "the default flow did not run"
    );
    setup.stop().await;
}

/// A TCP forwarder on loopback in front of the broker that records the keepalive of every MQTT
/// CONNECT passing through it: one entry per connection the unit makes.
struct ConnectRecorder {
    port: u16,
    keepalives: Arc<Mutex<Vec<u16>>>,
}

impl ConnectRecorder {
    async fn start(broker_port: u16) -> ConnectRecorder {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let keepalives = Arc::new(Mutex::new(Vec::new()));
        let seen = keepalives.clone();
        tokio::spawn(async move {
            // Bounded: a unit that reconnects more often than this has failed the test anyway.
            for _ in 0..32 {
                let Ok((unit, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(forward(unit, broker_port, seen.clone()));
            }
        });
        ConnectRecorder { port, keepalives }
    }

    fn keepalives(&self) -> Vec<u16> {
        self.keepalives.lock().unwrap().clone()
    }
}

/// Reads the CONNECT's fixed header and the variable header up to the keepalive (MQTT 3.1.1 §3.1:
/// remaining length in 1–4 bytes, protocol name "MQTT" in 6, level, flags, keepalive as u16 BE), records
/// the keepalive, then passes both directions through unchanged.
async fn forward(mut unit: TcpStream, broker_port: u16, seen: Arc<Mutex<Vec<u16>>>) {
    let mut head = vec![0u8; 2];
    if unit.read_exact(&mut head).await.is_err() || head[0] != 0x10 {
        return;
    }
    while head.len() < 5 && head[head.len() - 1] & 0x80 != 0 {
        let mut byte = [0u8; 1];
        if unit.read_exact(&mut byte).await.is_err() {
            return;
        }
        head.push(byte[0]);
    }
    let mut variable = [0u8; 10];
    if unit.read_exact(&mut variable).await.is_err() {
        return;
    }
    seen.lock()
        .unwrap()
        .push(u16::from_be_bytes([variable[8], variable[9]]));
    let Ok(mut broker) = TcpStream::connect(("127.0.0.1", broker_port)).await else {
        return;
    };
    if broker.write_all(&head).await.is_err() || broker.write_all(&variable).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut unit, &mut broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_env_update_changing_the_keepalive_reconnects_with_it() {
    let instance = fast_state_instance().await;
    let recorder = ConnectRecorder::start(instance.mqtt_port()).await;
    let port = recorder.port;
    let mut setup = setup_on(instance, "e2e-keepalive", None, |instance, unit| {
        instance.set_env_var(unit, "PU_MQTT_PORT", port).unwrap();
        instance.write_unit_files(unit).unwrap();
    })
    .await;
    assert_eq!(recorder.keepalives(), vec![60], "the unit's first CONNECT");

    let (instance, unit) = (&setup.instance, &setup.unit);
    instance.set_env_var(unit, "PU_MQTT_KEEPALIVE", 17).unwrap();
    instance
        .send_command(unit, Command::EnvUpdate)
        .await
        .unwrap();
    setup
        .wait_log(&["MQTT connection settings changed (PU_MQTT_KEEPALIVE): reconnecting"])
        .await;
    let deadline = Instant::now() + WAIT;
    while recorder.keepalives().last() != Some(&17) {
        assert!(
            Instant::now() < deadline,
            "no CONNECT with the new keepalive: {:?}",
            recorder.keepalives()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(setup.client.settings().current().mqtt_keepalive, 17);
    // The new connection carries the unit's traffic: inputs arrive through it.
    setup.handles_inputs().await;
    assert_eq!(recorder.keepalives(), vec![60, 17], "one new connection");
    setup.stop().await;
}
