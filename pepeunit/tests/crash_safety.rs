//! Crash safety, with real processes: `examples/crash_unit` writes the unit's files in a loop through
//! the library (log lines, env.json/schema.json replacements, update archives, a compiled update) and
//! is killed with SIGKILL after a random delay. After each kill every file must be whole — the old or
//! the new version, parsed and compared byte for byte, never torn, missing or mixed — and the next
//! start must run. For the compiled update: after a kill in the grace period and the next start,
//! exactly one copy of the program runs (old or new, with its own env.json); a confirmed update
//! leaves no zombie; a stop by a signal rolls the files back but starts nothing; a start that loaded
//! the new binary just before a rollback runs the restored one; a container's pid 1 restarted after its
//! probation process died (and the watchdog with it) rolls back, though it has the marker's pid.
//!
//! Every loop is bounded in kills and in time; each scenario prints its kill count and what it saw
//! (`cargo test --test crash_safety -- --nocapture`). `CRASH_SEED=n` replays a run's delays.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pepeunit::logger::LogEntry;
use serde_json::Value;
use support::TempDir;

const COMMIT_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const COMMIT_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
/// Longest wait for a process to show something.
const WAIT: Duration = Duration::from_secs(30);
/// Time bound of one scenario's kill loop: at most 60 s for the four.
const BUDGET: Duration = Duration::from_secs(15);

/// `examples/crash_unit` built as v1 and v2.
fn binaries() -> &'static (Vec<u8>, Vec<u8>) {
    static BUILT: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        (
            support::build_example("crash_unit", "v1"),
            support::build_example("crash_unit", "v2"),
        )
    })
}

/// A small xorshift generator for the kill delays, seeded from the clock or `CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn seeded(scenario: &str) -> Rng {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        println!("{scenario}: CRASH_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

/// env.json with `commit`, pretty-printed or not (so the two versions differ byte for byte).
fn env(commit: &str, pretty: bool) -> Vec<u8> {
    let text = fs::read(support::vector("env/env_current.json")).unwrap();
    let mut env: Value = serde_json::from_slice(&text).unwrap();
    env["PU_COMMIT_VERSION"] = commit.into();
    to_bytes(&env, pretty)
}

/// schema.json, pretty-printed or not.
fn schema(pretty: bool) -> Vec<u8> {
    let text = fs::read(support::vector("schema/schema.json")).unwrap();
    to_bytes(&serde_json::from_slice(&text).unwrap(), pretty)
}

fn to_bytes(value: &Value, pretty: bool) -> Vec<u8> {
    if pretty {
        serde_json::to_vec_pretty(value).unwrap()
    } else {
        serde_json::to_vec(value).unwrap()
    }
}

/// A unit: `<tmp>/bin/unit` (the program) and `<tmp>/unit` (env.json A, schema.json A); dropping it
/// kills every process started from it.
struct Unit {
    dir: TempDir,
    exe: PathBuf,
    files: PathBuf,
}

impl Unit {
    fn new(tag: &str, binary: &[u8]) -> Unit {
        let dir = TempDir::new(tag);
        let exe = dir.path().join("bin/unit");
        let files = dir.path().join("unit");
        fs::create_dir_all(exe.parent().unwrap()).unwrap();
        fs::create_dir_all(&files).unwrap();
        fs::write(&exe, binary).unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(files.join("env.json"), env(COMMIT_A, true)).unwrap();
        fs::write(files.join("schema.json"), schema(true)).unwrap();
        Unit { dir, exe, files }
    }

    /// Writes `bytes` to `<tmp>/name` and returns its path.
    fn put(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.files.join(name)
    }

    /// Starts the program in `mode` with `args` (paths), its output appended to `<tmp>/output.txt`.
    fn spawn(&self, mode: &str, args: &[&Path], envs: &[(&str, &str)]) -> Child {
        self.start(Command::new(&self.exe), mode, args, envs)
    }

    /// [`Unit::spawn`] as pid 1 of a pid namespace of its own, as a container runs it; killing the
    /// child returned (`unshare`) kills the namespace and everything in it. Needs root.
    fn spawn_as_pid_1(&self, mode: &str, args: &[&Path], envs: &[(&str, &str)]) -> Child {
        let mut unshare = Command::new("unshare");
        unshare
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(&self.exe);
        self.start(unshare, mode, args, envs)
    }

    fn start(
        &self,
        mut command: Command,
        mode: &str,
        args: &[&Path],
        envs: &[(&str, &str)],
    ) -> Child {
        let output = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.output_path())
            .unwrap();
        command
            .arg(mode)
            .arg(&self.files)
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap()
    }

    fn output_path(&self) -> PathBuf {
        self.dir.path().join("output.txt")
    }

    fn output(&self) -> String {
        fs::read_to_string(self.output_path()).unwrap_or_default()
    }

    /// The next start: `check` must build the client and exit 0.
    fn next_start_runs(&self) {
        let status = self.spawn("check", &[], &[]).wait().unwrap();
        assert!(
            status.success(),
            "the next start failed ({status}):\n{}",
            self.output()
        );
    }

    /// Waits for the line `started VERSION PID` of the process `pid`; returns VERSION.
    fn wait_started(&self, pid: u32) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let output = self.output();
            let found = output.lines().find_map(|line| {
                let mut words = line.strip_prefix("started ")?.split(' ');
                let version = words.next()?;
                (words.next()? == pid.to_string()).then(|| version.to_owned())
            });
            if let Some(version) = found {
                return version;
            }
            assert!(
                Instant::now() < deadline,
                "pid {pid} never started:\n{output}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn marker(&self, suffix: &str) -> PathBuf {
        self.exe.with_file_name(format!(".unit.{suffix}"))
    }

    /// Hidden files and directories left in the unit's directory (temp files, staging, backups).
    fn leftovers(&self) -> Vec<String> {
        fs::read_dir(&self.files)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with('.'))
            .collect()
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        support::kill_all_under(self.dir.path());
    }
}

/// Lets `child` run for `delay`, then kills it with SIGKILL and reaps it. The writers loop forever:
/// one that already exited could not start on the files the previous kill left.
fn kill_after(mut child: Child, delay: Duration, unit: &Unit) {
    std::thread::sleep(delay);
    if let Some(status) = child.try_wait().unwrap() {
        panic!(
            "the start after a kill failed ({status}):\n{}",
            unit.output()
        );
    }
    stop(child);
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Checks log.json after a kill: every complete line is an entry and the `seq` numbers follow each
/// other; only the last line may be cut short (a write the kill interrupted: the next start drops
/// it). Returns whether it was, and the last seq.
fn check_log(bytes: &[u8]) -> (bool, Option<u64>) {
    let (complete, tail) = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (&bytes[..0], bytes),
    };
    let seqs: Vec<u64> = complete
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            let entry: LogEntry = serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!(
                    "a torn line inside log.json: {e}: {}",
                    String::from_utf8_lossy(line)
                )
            });
            entry.text.strip_prefix("seq ")?.parse().ok()
        })
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "entries lost or repeated: {seqs:?}"
    );
    (!tail.is_empty(), seqs.last().copied())
}

#[test]
fn log_writes_survive_kill_9() {
    let (v1, _) = binaries();
    let unit = Unit::new("crash-log", v1);
    let mut rng = Rng::seeded("log");
    let end = Instant::now() + BUDGET;
    let (mut kills, mut torn, mut last) = (0, 0, None);
    while kills < 40 && Instant::now() < end {
        kill_after(unit.spawn("log", &[], &[]), rng.millis(5, 80), &unit);
        kills += 1;
        let (cut, seq) = check_log(&fs::read(unit.file("log.json")).unwrap_or_default());
        torn += u32::from(cut);
        if seq.is_some() {
            assert!(seq >= last, "the log went back from {last:?} to {seq:?}");
            last = seq;
        }
    }
    unit.next_start_runs();
    let bytes = fs::read(unit.file("log.json")).unwrap();
    let (cut, seq) = check_log(&bytes);
    assert!(!cut, "the next start leaves a whole log");
    let last_entry = bytes.split(|&b| b == b'\n').rev().find(|l| !l.is_empty());
    let last_entry: LogEntry = serde_json::from_slice(last_entry.unwrap()).unwrap();
    assert_eq!(last_entry.text, "crash_unit v1 checked");
    assert!(seq.is_some_and(|s| s > 0), "the writers logged");
    // A compaction killed mid-way leaves a temp file; the next start removes it.
    assert_eq!(unit.leftovers(), Vec::<String>::new());
    println!(
        "log: {kills} kills, {torn} cut last lines dropped by the next start, last seq {seq:?}, \
         leftovers {:?}",
        unit.leftovers()
    );
}

#[test]
fn env_and_schema_updates_survive_kill_9() {
    let (v1, _) = binaries();
    let unit = Unit::new("crash-files", v1);
    let (env_a, env_b) = (env(COMMIT_A, true), env(COMMIT_B, false));
    let (schema_a, schema_b) = (schema(true), schema(false));
    let args = [
        unit.put("env-a.json", &env_a),
        unit.put("env-b.json", &env_b),
        unit.put("schema-a.json", &schema_a),
        unit.put("schema-b.json", &schema_b),
    ];
    let args: Vec<&Path> = args.iter().map(PathBuf::as_path).collect();
    let mut rng = Rng::seeded("files");
    let end = Instant::now() + BUDGET;
    let (mut kills, mut new_env, mut new_schema) = (0, 0, 0);
    while kills < 40 && Instant::now() < end {
        kill_after(unit.spawn("files", &args, &[]), rng.millis(5, 80), &unit);
        kills += 1;
        let env = fs::read(unit.file("env.json")).unwrap();
        let schema = fs::read(unit.file("schema.json")).unwrap();
        assert!(env == env_a || env == env_b, "env.json is neither version");
        assert!(
            schema == schema_a || schema == schema_b,
            "schema.json is neither version"
        );
        new_env += u32::from(env == env_b);
        new_schema += u32::from(schema == schema_b);
    }
    unit.next_start_runs();
    // Each write removes the temp files killed writers left: at most the last kill's remain.
    let leftovers = unit.leftovers();
    assert!(leftovers.len() <= 2, "{leftovers:?}");
    println!(
        "env/schema: {kills} kills; env.json was B after {new_env}, schema.json after \
         {new_schema}; leftovers {:?}",
        unit.leftovers()
    );
}

/// An update archive (plain tar) of version `tag`: env.json, schema.json and two data files.
fn archive(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn an_update_swap_survives_kill_9() {
    let (v1, _) = binaries();
    let unit = Unit::new("crash-swap", v1);
    let version = |commit: &str, pretty: bool, fill: u8, len: usize| {
        vec![
            ("data/notes.txt", format!("version {commit}").into_bytes()),
            ("data/payload.bin", vec![fill; len]),
            ("env.json", env(commit, pretty)),
            ("schema.json", schema(pretty)),
        ]
    };
    let (a, b) = (
        version(COMMIT_A, true, b'a', 200_000),
        version(COMMIT_B, false, b'b', 300_000),
    );
    fs::create_dir(unit.file("data")).unwrap();
    for (name, bytes) in &a {
        fs::write(unit.file(name), bytes).unwrap();
    }
    let args = [
        unit.put("a.tar", &archive(&a)),
        unit.put("b.tar", &archive(&b)),
    ];
    let args: Vec<&Path> = args.iter().map(PathBuf::as_path).collect();
    let mut rng = Rng::seeded("swap");
    let end = Instant::now() + BUDGET;
    let (mut kills, mut mixed) = (0, 0);
    while kills < 40 && Instant::now() < end {
        kill_after(unit.spawn("swap", &args, &[]), rng.millis(5, 120), &unit);
        kills += 1;
        let mut from_b = 0;
        for ((name, old), (_, new)) in a.iter().zip(&b) {
            let now = fs::read(unit.file(name))
                .unwrap_or_else(|e| panic!("{name} after kill {kills}: {e}"));
            assert!(now == *old || now == *new, "{name} is neither version");
            from_b += usize::from(now == *new);
        }
        mixed += u32::from(from_b != 0 && from_b != a.len());
    }
    unit.next_start_runs();
    // Each update removes what killed ones left: at most the last kill's staging and backup remain.
    let leftovers = unit.leftovers();
    assert!(leftovers.len() <= 2, "{leftovers:?}");
    println!(
        "update swap: {kills} kills; {mixed} left files of both versions (each file whole); \
         leftovers {:?}",
        unit.leftovers()
    );
}

/// A unit running v1 with v2 waiting beside it (`bin/.unit.new`) and env.json B for it.
fn compiled(tag: &str) -> (Unit, [PathBuf; 2]) {
    let (v1, v2) = binaries();
    let unit = Unit::new(tag, v1);
    let new = unit.exe.with_file_name(".unit.new");
    fs::write(&new, v2).unwrap();
    fs::set_permissions(&new, fs::Permissions::from_mode(0o755)).unwrap();
    let new_env = unit.put("env-b.json", &env(COMMIT_B, false));
    (unit, [new, new_env])
}

fn spawn_update(
    unit: &Unit,
    update: &[PathBuf; 2],
    grace_ms: &str,
    envs: &[(&str, &str)],
) -> Child {
    let mut envs = envs.to_vec();
    envs.push(("CRASH_UNIT_GRACE_MS", grace_ms));
    unit.spawn("update", &[&update[0], &update[1]], &envs)
}

/// The old binary and its env.json are back on disk.
fn assert_rolled_back(unit: &Unit) {
    assert_eq!(
        &fs::read(&unit.exe).unwrap(),
        &binaries().0,
        "the old binary"
    );
    assert_eq!(
        fs::read(unit.file("env.json")).unwrap(),
        env(COMMIT_A, true),
        "the old env.json"
    );
}

/// `(pid, state)` of each child of `parent`, from /proc/*/stat.
fn children_of(parent: u32) -> Vec<(u32, char)> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid …; comm may hold spaces and parentheses.
            let mut fields = stat[stat.rfind(')')? + 2..].split(' ');
            let state = fields.next()?.chars().next()?;
            let ppid: u32 = fields.next()?.parse().ok()?;
            let pid = entry.file_name().to_str()?.parse().ok()?;
            (ppid == parent).then_some((pid, state))
        })
        .collect()
}

#[test]
fn a_confirmed_update_leaves_no_zombie() {
    let (unit, update) = compiled("crash-zombie");
    let mut child = spawn_update(&unit, &update, "1000", &[]);
    let pid = child.id();
    assert_eq!(unit.wait_started(pid), "v2");
    let pending = unit.marker("update-pending");
    wait_until("the update to be confirmed", || !pending.exists());
    // The watchdog was the process's child: once it exits, it must be reaped, not left a zombie.
    let deadline = Instant::now() + WAIT;
    while !children_of(pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "children of the unit left: {:?} (Z: zombie)",
            children_of(pid)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(child.try_wait().unwrap().is_none(), "v2 still runs");
    assert_eq!(support::processes_under(unit.dir.path()), [pid as i32]);
    assert_eq!(&fs::read(&unit.exe).unwrap(), &binaries().1);
    stop(child);
}

#[test]
fn a_stop_by_a_signal_in_the_grace_period_rolls_back_and_starts_nothing() {
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let (unit, update) = compiled("crash-stop");
        let mut child = spawn_update(&unit, &update, "10000", &[]);
        let pid = child.id();
        assert_eq!(unit.wait_started(pid), "v2");
        // SAFETY: signals the unit process this test started.
        unsafe { libc::kill(pid as i32, signal) };
        child.wait().unwrap();
        // The watchdog rolls the files back, then exits without starting anything.
        wait_until("the rollback", || unit.marker("update-failed").exists());
        wait_until("the watchdog to end", || {
            support::processes_under(unit.dir.path()).is_empty()
        });
        assert_rolled_back(&unit);
        // The supervisor starts the unit again: one copy, the old one.
        let next = unit.spawn("run", &[], &[]);
        assert_eq!(unit.wait_started(next.id()), "v1");
        assert_eq!(
            support::processes_under(unit.dir.path()),
            [next.id() as i32]
        );
        let log = fs::read_to_string(unit.file("log.json")).unwrap();
        assert!(log.contains("Update rolled back"), "{log}");
        stop(next);
    }
}

#[test]
fn a_new_binary_that_exits_on_its_own_is_restarted_and_a_later_start_replaces_that_copy() {
    let (unit, update) = compiled("crash-exit");
    let mut child = spawn_update(&unit, &update, "10000", &[("CRASH_UNIT_EXIT", "v2")]);
    assert_eq!(child.wait().unwrap().code(), Some(3), "v2 ran and exited");
    // It reached our code and exited: a failed start, so the watchdog starts v1 itself.
    wait_until("the restored v1 to start", || {
        unit.output().contains("started v1")
    });
    assert_rolled_back(&unit);
    let untracked = support::processes_under(unit.dir.path());
    assert_eq!(untracked.len(), 1);
    // No supervisor tracks that copy; when one starts the unit, its start replaces the copy.
    let next = unit.spawn("run", &[], &[]);
    assert_eq!(unit.wait_started(next.id()), "v1");
    assert_eq!(
        support::processes_under(unit.dir.path()),
        [next.id() as i32],
        "the copy {untracked:?} was stopped"
    );
    let log = fs::read_to_string(unit.file("log.json")).unwrap();
    assert!(log.contains("Stopping the copy"), "{log}");
    stop(next);
}

#[test]
fn a_start_that_loaded_the_new_binary_before_the_rollback_runs_the_restored_one() {
    let (v1, _) = binaries();
    let (unit, update) = compiled("crash-race");
    // v2 hangs before it reaches our code: killed there, that is a failed start, so the watchdog
    // rolls back and starts v1 itself.
    let child = spawn_update(&unit, &update, "10000", &[("CRASH_UNIT_STALL", "v2:60000")]);
    wait_until("the update marker", || {
        unit.marker("update-pending").exists()
    });
    // The supervisor's start loads v2 (still on disk) and reaches our code only after that copy did
    // (6 s: the rollback and the copy's start took over 2 s on a loaded 2-core machine).
    let next = unit.spawn("run", &[], &[("CRASH_UNIT_STALL", "v2:6000")]);
    stop(child);
    assert_eq!(unit.wait_started(next.id()), "v1");
    let pid = next.id() as i32;
    assert_eq!(support::processes_under(unit.dir.path()), [pid]);
    assert_eq!(&fs::read(format!("/proc/{pid}/exe")).unwrap(), v1);
    let log = fs::read_to_string(unit.file("log.json")).unwrap();
    assert!(log.contains("Stopping the copy"), "{log}");
    assert!(log.contains("Restarting the restored executable"), "{log}");
    stop(next);
}

#[test]
fn a_restart_that_gets_the_pid_of_the_process_on_probation_rolls_back() {
    let root = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !root {
        println!("skipped: a pid namespace needs root (unshare --pid)");
        return;
    }
    let v2 = &binaries().1;
    let (unit, update) = compiled("crash-pid1");
    // The unit is its container's pid 1; v2 execs in place, so it is pid 1 on probation.
    let envs = [("CRASH_UNIT_GRACE_MS", "30000")];
    let container = unit.spawn_as_pid_1("update", &[&update[0], &update[1]], &envs);
    assert_eq!(unit.wait_started(1), "v2");
    // The container stops (v2 crashed, or it was killed): its watchdog dies with it, before any
    // rollback, and long before the grace period's end.
    stop(container);
    wait_until("the container to end", || {
        support::processes_under(unit.dir.path()).is_empty()
    });
    assert!(unit.marker("update-pending").exists());
    assert_eq!(&fs::read(&unit.exe).unwrap(), v2);
    // Restarted, the unit is pid 1 again: the pid of the marker, but no watchdog. Not on probation:
    // an update nobody confirmed, rolled back.
    fs::write(unit.output_path(), "").unwrap();
    let container = unit.spawn_as_pid_1("run", &[], &[]);
    assert_eq!(unit.wait_started(1), "v1", "{}", unit.output());
    assert_rolled_back(&unit);
    let log = fs::read_to_string(unit.file("log.json")).unwrap();
    assert!(log.contains("Update not confirmed"), "{log}");
    stop(container);
}

#[test]
fn kills_in_the_grace_period_leave_one_binary_running_after_the_next_start() {
    let (v1, v2) = binaries();
    let mut rng = Rng::seeded("grace");
    let end = Instant::now() + BUDGET;
    let (mut kills, mut old, mut new, mut waited, mut stopped) = (0, 0, 0, 0, 0);
    while kills < 15 && Instant::now() < end {
        let (unit, update) = compiled("crash-grace");
        let child = spawn_update(&unit, &update, "1000", &[]);
        // The grace period starts when the marker is written, just before the exec.
        let pending = unit.marker("update-pending");
        wait_until("the update marker", || pending.exists());
        kill_after(child, rng.millis(0, 1300), &unit);
        kills += 1;
        // The supervisor starts the unit again at once.
        let next = unit.spawn("run", &[], &[]);
        let version = unit.wait_started(next.id());
        let pid = next.id() as i32;
        wait_until("one copy to run", || {
            support::processes_under(unit.dir.path()) == [pid]
        });
        let running = fs::read(format!("/proc/{pid}/exe")).unwrap();
        assert_eq!(
            running,
            fs::read(&unit.exe).unwrap(),
            "it runs the file on disk"
        );
        let env: Value = serde_json::from_slice(&fs::read(unit.file("env.json")).unwrap()).unwrap();
        let (binary, commit) = if version == "v1" {
            old += 1;
            (v1, COMMIT_A)
        } else {
            new += 1;
            (v2, COMMIT_B)
        };
        assert_eq!(&running, binary, "{version}");
        assert_eq!(
            env["PU_COMMIT_VERSION"], commit,
            "{version} runs on its own env.json"
        );
        let log = fs::read_to_string(unit.file("log.json")).unwrap();
        waited += u32::from(log.contains("Restarting the restored executable"));
        stopped += u32::from(log.contains("Stopping the copy"));
        stop(next);
    }
    println!(
        "grace period: {kills} kills; the next start ran the old binary {old} times, the new \
         {new}; it had loaded the binary the watchdog then rolled back (and re-exec'd) {waited} \
         times, stopped a copy the watchdog started {stopped} times"
    );
}
