//! The compiled update path end to end, with real binaries: `examples/compiled_unit` built as v1 and
//! v2 (its version is compiled in), v1 running as a child process against the testkit. An `update`
//! with a link to v2 makes v1 replace itself and exec v2; a truncated v2 is refused before anything is
//! replaced; a v2 that exits at once is rolled back by the watchdog, which restarts v1. A unit with an
//! update key (PROTOCOL §8a) runs a v2 signed for its asset and commit, and refuses every other release
//! (tampered, another key, no signature, another commit, another asset) before anything changes.
//!
//! Every process started here (the unit, its watchdog, a restored unit) runs an executable under the
//! test's temp directory; they are all found through /proc and killed when the test ends, pass or fail.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pepeunit_testkit::{Instance, ProgramSource, Release, TestUnit, UnitSpec, UpdateStatus};
use support::TempDir;

const WAIT: Duration = Duration::from_secs(30);
/// The grace period given to the units (a new binary that exits sooner is rolled back).
const GRACE_MS: &str = "3000";
const COMMIT_V2: &str = "2222222222222222222222222222222222222222";
/// The release asset a signed v2 is published as.
const ASSET: &str = "compiled_unit-x86_64-unknown-linux-gnu";

/// The example built with `UNIT_VERSION=v1` and `=v2`: two builds of the example alone per test run
/// (`support::build_example`).
fn binaries() -> &'static (Vec<u8>, Vec<u8>) {
    static BUILT: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        (
            support::build_example("compiled_unit", "v1"),
            support::build_example("compiled_unit", "v2"),
        )
    })
}

/// A unit program running from `<dir>/bin/unit`; dropping it kills every process started from `dir`.
struct Running {
    instance: Instance,
    unit: TestUnit,
    exe: PathBuf,
    child: Child,
    dir: TempDir,
}

impl Running {
    async fn start(tag: &str, binary: &[u8]) -> Running {
        Running::start_with_key(tag, binary, false).await
    }

    /// [`Running::start`]; with `signed`, the unit trusts the instance's release key.
    async fn start_with_key(tag: &str, binary: &[u8], signed: bool) -> Running {
        let instance = support::fast_state_instance().await;
        let dir = TempDir::new(tag);
        let unit = instance
            .create_unit(UnitSpec::new("compiled", dir.path().join("unit")))
            .await
            .unwrap();
        let exe = dir.path().join("bin/unit");
        fs::create_dir(exe.parent().unwrap()).unwrap();
        fs::write(&exe, binary).unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        let output = fs::File::create(dir.path().join("output.txt")).unwrap();
        let mut command = Command::new(&exe);
        if signed {
            let key = dir.path().join("update_key.pub");
            fs::write(&key, instance.update_key().unwrap()).unwrap();
            command.env("COMPILED_UNIT_UPDATE_KEY", key);
        }
        let child = command
            .arg(unit.dir())
            .env("COMPILED_UNIT_GRACE_MS", GRACE_MS)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap();
        Running {
            instance,
            unit,
            exe,
            child,
            dir,
        }
    }

    /// Waits for the unit to publish `version` on `output/pepeunit`.
    async fn wait_version(&self, version: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .instance
                .next_output(&self.unit, "output/pepeunit", left)
                .await;
            match message {
                Some(m) if m.text() == Some(version) => return,
                Some(_) => {}
                None => panic!("the unit never published {version}:\n{}", self.output()),
            }
        }
    }

    /// Waits for an accepted state whose `pu_commit_version` is `commit`.
    async fn wait_state(&self, commit: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.instance.wait_for_state(&self.unit, left).await {
                Some(state) if state["pu_commit_version"] == commit => return,
                Some(_) => {}
                None => panic!("no state with version {commit}:\n{}", self.output()),
            }
        }
    }

    /// Waits for a log entry on `log/pepeunit` containing every one of `parts`.
    async fn wait_log(&self, parts: &[&str]) -> String {
        self.wait_log_entry(parts).await.1
    }

    /// [`Running::wait_log`] with the entry's level.
    async fn wait_log_entry(&self, parts: &[&str]) -> (String, String) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(entry) = self.instance.next_log(&self.unit, left).await else {
                panic!("no log entry with {parts:?}:\n{}", self.output());
            };
            let text = entry["text"].as_str().unwrap_or_default().to_owned();
            if parts.iter().all(|p| text.contains(p)) {
                return (entry["level"].as_str().unwrap_or_default().to_owned(), text);
            }
        }
    }

    /// Serves `binary` as the next version and sends `update`.
    async fn update_to(&self, binary: Vec<u8>) {
        self.instance
            .set_program(
                &self.unit,
                COMMIT_V2,
                ProgramSource::Files(Vec::new()),
                Some(binary),
            )
            .unwrap();
        self.instance
            .send_command(&self.unit, pepeunit::Command::Update)
            .await
            .unwrap();
    }

    /// Publishes `binary` as a signed release of the next version (per `release`) and sends `update`.
    async fn update_signed(&self, binary: Vec<u8>, release: Release) {
        self.instance
            .publish_signed(&self.unit, COMMIT_V2, ASSET, binary, release)
            .unwrap();
        self.instance
            .send_command(&self.unit, pepeunit::Command::Update)
            .await
            .unwrap();
    }

    /// log.json of the unit.
    fn log_file(&self) -> String {
        fs::read_to_string(self.unit.dir().join("log.json")).unwrap_or_default()
    }

    /// What the unit processes printed (panics, for the failure message).
    fn output(&self) -> String {
        fs::read_to_string(self.dir.path().join("output.txt")).unwrap_or_default()
    }

    fn marker(&self, suffix: &str) -> PathBuf {
        self.exe.with_file_name(format!(".unit.{suffix}"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        support::kill_all_under(self.dir.path());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_replaces_itself_with_v2_and_reports_the_new_version() {
    let (v1, v2) = binaries();
    let mut running = Running::start("cu-ok", v1).await;
    let pid = running.child.id();
    running.wait_version("v1").await;

    running.update_to(v2.clone()).await;
    running.wait_log(&["Restarting after the update"]).await;
    running.wait_version("v2").await;
    running.wait_state(COMMIT_V2).await;
    assert_eq!(
        running.instance.update_status(&running.unit),
        UpdateStatus::Success {
            commit: COMMIT_V2.into()
        }
    );
    assert_eq!(&fs::read(&running.exe).unwrap(), v2);
    assert!(
        running
            .log_file()
            .contains(&format!("compiled_unit v2 started (pid {pid})")),
        "v2 runs in the same process:\n{}",
        running.log_file()
    );
    // Past the grace period the watchdog confirms: the marker goes, the backup (v1) stays.
    let pending = running.marker("update-pending");
    wait_until("the update to be confirmed", || !pending.exists()).await;
    assert!(running.child.try_wait().unwrap().is_none(), "v2 still runs");
    assert_eq!(&fs::read(running.marker("backup")).unwrap(), v1);
    assert!(!running.marker("update-failed").exists());
    running.wait_version("v2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_v2_is_refused_and_v1_keeps_running() {
    let (v1, v2) = binaries();
    let mut running = Running::start("cu-cut", v1).await;
    running.wait_version("v1").await;
    let env_before = fs::read(running.unit.env_path()).unwrap();

    running.update_to(v2[..v2.len() / 2].to_vec()).await;
    let why = running
        .wait_log(&["Update to", "failed", "truncated"])
        .await;
    assert!(why.contains(COMMIT_V2), "{why}");
    assert_eq!(&fs::read(&running.exe).unwrap(), v1);
    assert_eq!(fs::read(running.unit.env_path()).unwrap(), env_before);
    assert!(running.child.try_wait().unwrap().is_none(), "v1 still runs");
    running.wait_version("v1").await;
    assert!(matches!(
        running.instance.update_status(&running.unit),
        UpdateStatus::RequestSent { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_that_exits_at_once_is_rolled_back_to_v1() {
    let (v1, _) = binaries();
    let mut running = Running::start("cu-exit", v1).await;
    running.wait_version("v1").await;
    let env_before = fs::read(running.unit.env_path()).unwrap();

    // A complete executable of this platform that exits at once.
    running.update_to(fs::read("/bin/true").unwrap()).await;
    let status = tokio::task::block_in_place(|| running.child.wait()).unwrap();
    assert!(
        status.success(),
        "the process ran the new binary, which exited"
    );
    // The watchdog puts v1 and its files back and starts it again: its outputs and states resume.
    running.wait_version("v1").await;
    assert_eq!(&fs::read(&running.exe).unwrap(), v1);
    assert_eq!(fs::read(running.unit.env_path()).unwrap(), env_before);
    let old_commit =
        serde_json::from_slice::<serde_json::Value>(&env_before).unwrap()["PU_COMMIT_VERSION"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    running.wait_state(&old_commit).await;
    assert!(matches!(
        running.instance.update_status(&running.unit),
        UpdateStatus::RequestSent { .. }
    ));
    let log = running.log_file();
    assert!(log.contains("Update rolled back"), "{log}");
    assert!(!running.marker("update-failed").exists());
    assert!(!running.marker("update-pending").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_v2_is_accepted_and_runs_in_the_same_process() {
    let (v1, v2) = binaries();
    let mut running = Running::start_with_key("cu-signed", v1, true).await;
    let pid = running.child.id();
    running.wait_version("v1").await;

    running.update_signed(v2.clone(), Release::Signed).await;
    running.wait_log(&["Restarting after the update"]).await;
    running.wait_version("v2").await;
    running.wait_state(COMMIT_V2).await;
    assert_eq!(&fs::read(&running.exe).unwrap(), v2);
    let log = running.log_file();
    assert!(
        log.contains(&format!("compiled_unit v2 started (pid {pid})")),
        "v2 runs in the same process:\n{log}"
    );
    assert!(!log.contains("unsigned update"), "{log}");
    assert!(running.child.try_wait().unwrap().is_none(), "v2 still runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_unit_updates_with_a_warning() {
    let (v1, v2) = binaries();
    let running = Running::start("cu-nokey", v1).await;
    running.wait_version("v1").await;
    running.update_to(v2.clone()).await;
    let (level, _) = running
        .wait_log_entry(&["unsigned update: no update_key"])
        .await;
    assert_eq!(level, "Warning");
    running.wait_version("v2").await;
}

/// A unit with a key given `release` of v2: refused with one Error line naming `reason` and the
/// signature's URL (no token), v1 still running and answering, its files byte-identical, the old commit
/// still reported.
async fn refused(tag: &str, release: Release, reason: &str) {
    let (v1, v2) = binaries();
    let mut running = Running::start_with_key(tag, v1, true).await;
    running.wait_version("v1").await;
    let env_before = fs::read(running.unit.env_path()).unwrap();
    let schema_before = fs::read(running.unit.schema_path()).unwrap();

    running.update_signed(v2.clone(), release).await;
    let (level, why) = running
        .wait_log_entry(&["Update to", "failed", "signature refused", reason])
        .await;
    assert_eq!(level, "Error", "{why}");
    assert!(why.contains(COMMIT_V2), "{why}");
    assert!(why.contains(&format!("/{ASSET}.minisig")), "{why}");
    assert!(!why.contains(running.unit.token()), "{why}");
    assert_eq!(&fs::read(&running.exe).unwrap(), v1);
    assert_eq!(fs::read(running.unit.env_path()).unwrap(), env_before);
    assert_eq!(fs::read(running.unit.schema_path()).unwrap(), schema_before);
    assert!(!running.marker("backup").exists());
    assert!(running.child.try_wait().unwrap().is_none(), "v1 still runs");
    running.wait_version("v1").await;
    assert!(matches!(
        running.instance.update_status(&running.unit),
        UpdateStatus::RequestSent { .. }
    ));
    let old_commit =
        serde_json::from_slice::<serde_json::Value>(&env_before).unwrap()["PU_COMMIT_VERSION"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    running.wait_state(&old_commit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_binary_is_refused() {
    refused("cu-tampered", Release::Tampered, "bad signature").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_signed_by_another_key_is_refused() {
    refused("cu-otherkey", Release::OtherKey, "signed by another key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_without_signature_is_refused() {
    refused("cu-unsigned", Release::Unsigned, "missing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_releases_signature_is_refused() {
    let older = "1111111111111111111111111111111111111111";
    refused(
        "cu-replay",
        Release::OtherCommit(older.into()),
        &format!("signed for commit {older}"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_assets_signature_is_refused() {
    let other = "compiled_unit-aarch64-unknown-linux-gnu";
    refused(
        "cu-asset",
        Release::OtherAsset(other.into()),
        &format!("signed for asset {other}"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_signature_is_refused() {
    refused("cu-garbled", Release::Unreadable, "unreadable").await;
}
