//! The start-up guard of a replaced executable: a bad release must not brick a device.
//!
//! A new binary that crashes before it reaches any of our code cannot guard itself, so the guard lives
//! in the *old* binary, the one known to work:
//!
//! 1. [`restart_guarded`] runs once the update is applied, the log flushed and MQTT disconnected. It
//!    forks a watchdog: a child that runs the old code already in memory and makes only
//!    async-signal-safe calls (`read`, `nanosleep`, `clock_gettime`, `getppid`/`kill`, `access`,
//!    `rename`, `unlink`, `execve`, `_exit`) on data prepared before the fork. It first closes the
//!    inherited file descriptors (a listening socket kept open by it would make the new binary fail to
//!    bind) and takes the default action for SIGINT, SIGTERM and SIGHUP again.
//! 2. The old process writes the marker `.<exe>.update-pending` beside the executable: what to put
//!    back (the backup of the binary, and the copies of env.json and schema.json from before the
//!    update), the deadline as unix time, the grace period, the pid of the process on probation and
//!    the watchdog's pid. Then it tells the watchdog (one byte on a pipe) and execs the new binary:
//!    same pid, arguments and environment, so a supervisor (systemd, a shell loop) keeps tracking it.
//!    With `SpawnAndExit` it starts it first and exits. The watchdog waits for that byte: if the old
//!    process died before (stopped mid-update), it puts the old files back and starts nothing.
//! 3. The new binary's [`check_at_start`] sees that it is the process on probation: it creates
//!    `.<exe>.update-started` (it reached our code), registers an exit hook that renames it to
//!    `.<exe>.update-exited` if the program exits normally (returns from `main`, `exit`, a panic in
//!    `main`), and reaps the watchdog when it ends: after an exec the watchdog is its child.
//! 4. The watchdog looks every 100 ms. If the new process is gone before the grace period ends, it
//!    renames the backup over the executable and the kept copies over env.json and schema.json, and
//!    the marker to `.<exe>.update-failed`. Then: if the new binary never reached our code, or exited
//!    on its own, that was a failed start and the watchdog execs the restored binary with the same
//!    arguments (the old program runs on its own files and reports its old version). If it reached our
//!    code and did not exit, a signal ended it (a supervisor's stop, SIGTERM or SIGKILL): that is not
//!    a failed start, so the watchdog starts nothing and leaves the next start to the supervisor. If
//!    the process is still running at the end of the grace period, the update is confirmed: the
//!    marker is removed (the backup stays, for a manual rollback, until the next update) and the
//!    watchdog exits.
//! 5. At every start, [`check_at_start`] (run by `ClientBuilder::build`) logs and removes a
//!    `.update-failed` marker, or stops the copy of the old binary the watchdog started; after either
//!    it execs the binary on disk if the one running is not it (a start that raced the rollback).
//!    A `.update-pending` marker whose process is gone or whose deadline has passed is an update
//!    nobody confirmed: it waits (up to 2 s) for a live watchdog to finish its rollback; if the
//!    watchdog is gone (killed with the unit, power lost), it restores the backup itself and execs it.
//!    A marker naming this very pid whose watchdog is gone is unconfirmed too: a later start that got
//!    the same pid (a container's pid 1, restarted after the probation process died and took the
//!    watchdog with it). A marker of another live process before its deadline means the watchdog is
//!    at work: nothing to do.
//!
//! So a new binary that does not stay up for the grace period is rolled back; a stop during the grace
//! period rolls the files back too, and the next start runs the old binary. Erring that way only costs
//! an update the backend sends again. If the restart itself fails (fork, exec), the backup is put back
//! and the old binary is restarted unguarded. The guard needs a unix system; elsewhere the restart is
//! unguarded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{ReplacedExecutable, hidden_sibling};
use crate::error::{Error, Result};
use crate::files::{self, process_alive};
use crate::logger::Logger;
use crate::update::{self, RestartMode};

/// The default grace period: a new binary that exits sooner is rolled back.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// How often the watchdog looks at the new process.
#[cfg(unix)]
const POLL: Duration = Duration::from_millis(100);

/// How long a start waits for the watchdog of a process that is gone to finish its rollback.
const WATCHDOG_WAIT: Duration = Duration::from_secs(2);

/// What the old binary leaves beside the executable while the new one is on probation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    /// What to put back on a rollback.
    executable: ReplacedExecutable,
    /// When the probation ends, in seconds since the unix epoch.
    deadline: u64,
    /// The grace period, in milliseconds (for the log).
    grace_ms: u64,
    /// The pid of the process on probation, which runs the new binary (0: unknown).
    #[serde(default)]
    process: u32,
    /// The watchdog's pid (0: unknown).
    #[serde(default)]
    watchdog: u32,
}

/// The marker files of the executable `exe`.
fn pending_path(exe: &Path) -> PathBuf {
    hidden_sibling(exe, "update-pending")
}

fn failed_path(exe: &Path) -> PathBuf {
    hidden_sibling(exe, "update-failed")
}

/// The marker of a rollback whose old binary the watchdog started (a copy no supervisor tracks).
fn untracked_path(exe: &Path) -> PathBuf {
    hidden_sibling(exe, "update-untracked")
}

/// Created by the new binary when it reaches our code, renamed to [`exited_path`] when it exits on its
/// own: what tells the watchdog a failed start from a stop by a signal.
fn started_path(exe: &Path) -> PathBuf {
    hidden_sibling(exe, "update-started")
}

fn exited_path(exe: &Path) -> PathBuf {
    hidden_sibling(exe, "update-exited")
}

/// Whether a new `exe` is still on probation under a watchdog (a pending marker before its deadline):
/// a second update must wait, or two watchdogs would race over one backup.
#[cfg(any(feature = "rest", test))]
pub fn on_probation(exe: &Path) -> bool {
    matches!(read_marker(&pending_path(exe)), Ok(Some(m)) if m.deadline > unix_now())
}

/// Restarts into the new executable `replaced.path` as `mode` says, under a watchdog that restores
/// `replaced.backup` if the new process is gone within `grace` (see the module doc). On success the
/// two process modes never return; `ReloadOnly` and `None` return at once (no restart, nothing to
/// guard). If the restart cannot be done, the backup is put back and the old binary restarted; the
/// error is returned only if that fails too.
pub fn restart_guarded(
    mode: RestartMode,
    replaced: &ReplacedExecutable,
    grace: Duration,
) -> Result<()> {
    if matches!(mode, RestartMode::ReloadOnly | RestartMode::None) {
        return update::restart_process(mode);
    }
    #[cfg(unix)]
    {
        let pending = pending_path(&replaced.path);
        let write_marker = |process: u32, watchdog: u32| {
            let marker = Marker {
                executable: replaced.clone(),
                deadline: unix_now() + grace.as_secs() + u64::from(grace.subsec_nanos() > 0),
                grace_ms: grace.as_millis().try_into().unwrap_or(u64::MAX),
                process,
                watchdog,
            };
            let text = serde_json::to_vec(&marker)
                .map_err(|e| Error::Update(format!("cannot write the update marker: {e}")))?;
            files::write_atomic(&pending, &text)
        };
        let failure = watchdog::restart(mode, replaced, &pending, grace, write_marker);
        let _ = std::fs::remove_file(&pending);
        match replaced.restore() {
            Ok(()) => update::restart_process(mode).map_err(|e| {
                Error::Update(format!(
                    "{failure}; the previous executable was restored, but restarting it failed: {e}"
                ))
            }),
            Err(e) => Err(Error::Update(format!(
                "{failure}; restoring the previous executable failed too: {e}"
            ))),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (replaced, grace);
        update::restart_process(mode)
    }
}

/// The start-time half of the guard, run by `ClientBuilder::build` before anything else: marks the
/// process on probation as started, reports a rollback done by the watchdog, and rolls back an update
/// whose probation ended unconfirmed (then this call execs the restored binary and does not return).
pub fn check_at_start(logger: &Logger) -> Result<()> {
    let exe = update::current_exe()?;
    let me = std::process::id();
    let mut found = inspect(&exe, unix_now(), me, process_alive)?;
    if let Found::Unconfirmed(marker) = &found {
        // The process on probation is gone: its watchdog may be putting the old files back.
        wait_for_watchdog(&exe, marker.watchdog);
        found = inspect(&exe, unix_now(), me, process_alive)?;
    }
    // A copy the watchdog started means a rollback happened, perhaps after this process loaded the
    // binary it then replaced (its copy can reach this point first and take the failed marker).
    let mut rolled_back = false;
    if !matches!(found, Found::RolledBack(_))
        && let Some(marker) = read_marker(&untracked_path(&exe))?
        && marker.watchdog != me
    {
        remove(&untracked_path(&exe))?;
        stop_untracked_copy(&exe, marker.watchdog, logger);
        rolled_back = true;
    }
    match found {
        Found::Nothing | Found::OnProbation if rolled_back => {
            run_restored_if_replaced(&exe, logger)
        }
        Found::Nothing | Found::OnProbation => Ok(()),
        Found::OnProbationHere(marker) => {
            on_probation_here(&exe, marker.watchdog);
            Ok(())
        }
        Found::RolledBack(marker) => {
            logger.warning(format!(
                "Update rolled back: the new executable ended within {} ms of its start (it \
                 exited or was stopped), so the previous one was restored ({})",
                marker.grace_ms,
                exe.display()
            ));
            if marker.watchdog == me {
                // Started by the watchdog: no supervisor tracks this copy; a start that is not
                // ours will replace it (see `stop_untracked_copy`). Gone: that start came first.
                let _ = std::fs::rename(failed_path(&exe), untracked_path(&exe));
                return Ok(());
            }
            remove(&failed_path(&exe))?;
            stop_untracked_copy(&exe, marker.watchdog, logger);
            run_restored_if_replaced(&exe, logger)
        }
        Found::Unconfirmed(marker) => {
            let pending = pending_path(&exe);
            logger.warning(format!(
                "Update not confirmed: {} was not watched through its grace period (stopped with \
                 its watchdog, or power lost); restoring the previous executable",
                exe.display()
            ));
            let restored = marker.executable.restore();
            remove(&pending)?;
            let _ = remove(&started_path(&exe)).and(remove(&exited_path(&exe)));
            if let Err(e) = restored {
                logger.error(format!("Restoring the previous executable failed: {e}"));
                return Ok(());
            }
            logger.info("Previous executable restored: restarting it");
            let _ = logger.flush();
            update::restart_process(RestartMode::ExecInPlace)
        }
    }
}

/// What [`inspect`] found beside the executable.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Nothing,
    /// Another live process is on probation; its watchdog is at work.
    OnProbation,
    /// This process is the one on probation.
    OnProbationHere(Marker),
    RolledBack(Marker),
    /// The probation ended without a confirmation: deadline passed, or its process is gone.
    Unconfirmed(Marker),
}

/// Reads the markers of `exe` at unix time `now`, for the process `me`; `alive` tells whether a pid
/// runs.
fn inspect(exe: &Path, now: u64, me: u32, alive: impl Fn(u32) -> bool) -> Result<Found> {
    if let Some(marker) = read_marker(&failed_path(exe))? {
        return Ok(Found::RolledBack(marker));
    }
    Ok(match read_marker(&pending_path(exe))? {
        None => Found::Nothing,
        Some(marker) if marker.deadline <= now => Found::Unconfirmed(marker),
        // Our pid but no watchdog: a later start that got the pid of the process on probation.
        Some(marker) if marker.process == me && marker.watchdog != 0 && !alive(marker.watchdog) => {
            Found::Unconfirmed(marker)
        }
        Some(marker) if marker.process == me => Found::OnProbationHere(marker),
        // A marker without a pid (older versions) is judged by its deadline only.
        Some(marker) if marker.process == 0 || alive(marker.process) => Found::OnProbation,
        Some(marker) => Found::Unconfirmed(marker),
    })
}

/// Waits (at most [`WATCHDOG_WAIT`]) while the pending marker of `exe` is there and its `watchdog`
/// runs: once its process is gone, a watchdog finishes its rollback within a poll or two.
fn wait_for_watchdog(exe: &Path, watchdog: u32) {
    let deadline = Instant::now() + WATCHDOG_WAIT;
    while watchdog != 0
        && process_alive(watchdog)
        && pending_path(exe).exists()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The new binary reached our code on probation: leave the watchdog the evidence that tells a failed
/// start from a stop by a signal, and reap the watchdog (our child after the exec) when it ends.
fn on_probation_here(exe: &Path, watchdog: u32) {
    #[cfg(unix)]
    {
        let _ = std::fs::File::create(started_path(exe));
        exit_hook::register(exe);
        watchdog::reap_in_background(watchdog);
    }
    #[cfg(not(unix))]
    let _ = (exe, watchdog);
}

/// Stops the copy of the old binary that the watchdog `pid` started after a failed start, if it still
/// runs `exe`: this start (by a supervisor, or by hand) replaces it, so one copy runs, not two.
/// SIGTERM, then SIGKILL after [`WATCHDOG_WAIT`]. Needs /proc to check what `pid` runs (Linux);
/// elsewhere nothing is stopped.
fn stop_untracked_copy(exe: &Path, pid: u32, logger: &Logger) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let runs_exe = || {
            let running = std::fs::metadata(format!("/proc/{pid}/exe"));
            matches!((running, std::fs::metadata(exe)), (Ok(a), Ok(b)) if (a.dev(), a.ino()) == (b.dev(), b.ino()))
        };
        let Ok(target) = libc::pid_t::try_from(pid) else {
            return;
        };
        if pid == 0 || !runs_exe() {
            return;
        }
        logger.warning(format!(
            "Stopping the copy of {} that the update watchdog started (pid {pid}): this start \
             replaces it",
            exe.display()
        ));
        let deadline = Instant::now() + WATCHDOG_WAIT;
        // SAFETY: signals a process checked above to run our executable.
        unsafe { libc::kill(target, libc::SIGTERM) };
        while runs_exe() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if runs_exe() {
            // SAFETY: as above.
            unsafe { libc::kill(target, libc::SIGKILL) };
        }
    }
    #[cfg(not(unix))]
    let _ = (exe, pid, logger);
}

fn read_marker(path: &Path) -> Result<Option<Marker>> {
    files::read_json_if_exists(path)
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// After a rollback: if this start raced it (loaded the new binary before the watchdog put the old one
/// back), execs the restored binary instead of running the one loaded.
fn run_restored_if_replaced(exe: &Path, logger: &Logger) -> Result<()> {
    if !running_image_replaced(exe) {
        return Ok(());
    }
    logger.info("Restarting the restored executable");
    let _ = logger.flush();
    update::restart_process(RestartMode::ExecInPlace)
}

/// Whether the binary this process runs is no longer the file at `exe` (Linux; elsewhere `false`).
fn running_image_replaced(exe: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata("/proc/self/exe"), std::fs::metadata(exe)) {
            (Ok(running), Ok(on_disk)) => {
                (running.dev(), running.ino()) != (on_disk.dev(), on_disk.ino())
            }
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = exe;
        false
    }
}

/// The exit hook of the process on probation: a normal exit renames `.update-started` to
/// `.update-exited`, so the watchdog counts it as a failed start.
#[cfg(unix)]
mod exit_hook {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use super::{exited_path, pending_path, read_marker, started_path};

    static EXE: OnceLock<PathBuf> = OnceLock::new();

    pub(super) fn register(exe: &Path) {
        if EXE.set(exe.to_path_buf()).is_ok() {
            // SAFETY: `on_exit` is a plain function that does not unwind.
            unsafe { libc::atexit(on_exit) };
        }
    }

    extern "C" fn on_exit() {
        let Some(exe) = EXE.get() else { return };
        // Only while this process is still the one on probation.
        if matches!(read_marker(&pending_path(exe)), Ok(Some(m)) if m.process == std::process::id())
        {
            let _ = std::fs::rename(started_path(exe), exited_path(exe));
        }
    }
}

#[cfg(unix)]
mod watchdog {
    use std::ffi::{CString, OsStr, OsString};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    use std::path::Path;
    use std::process::Command;
    use std::ptr;
    use std::time::Duration;

    use libc::{c_char, c_int, pid_t};

    use super::{POLL, exited_path, failed_path, started_path};
    use crate::error::{Error, Result};
    use crate::update::RestartMode;
    use crate::update::firmware::ReplacedExecutable;

    /// Which process the watchdog watches.
    #[derive(Clone, Copy)]
    enum Watch {
        /// Its parent, which execs the new binary (the pid stays): gone when the watchdog is reparented.
        Parent(pid_t),
        /// A process started with `SpawnAndExit`: gone when `kill(pid, 0)` fails.
        Process(pid_t),
    }

    /// Everything the watchdog needs, allocated before the fork.
    struct Plan {
        exe: CString,
        backup: CString,
        /// Kept files to put back: `(copy, file)`.
        files: Vec<(CString, CString)>,
        pending: CString,
        failed: CString,
        started: CString,
        exited: CString,
        argv: Vec<CString>,
        envp: Vec<CString>,
        fds: Vec<c_int>,
        grace_ms: i64,
    }

    /// The pipe on which the old process tells the watchdog that the marker is written and the new
    /// binary about to run (one byte); end of file without it means the old process died first.
    struct Go {
        read: c_int,
        write: c_int,
    }

    impl Go {
        fn new() -> Result<Go> {
            let mut fds = [0 as c_int; 2];
            // SAFETY: pipe writes two descriptors into the array; FD_CLOEXEC keeps the write end
            // out of the new binary, so the exec closes it.
            let made = unsafe {
                libc::pipe(fds.as_mut_ptr()) == 0
                    && fds
                        .iter()
                        .all(|fd| libc::fcntl(*fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0)
            };
            if !made {
                return Err(Error::Update(format!(
                    "cannot start the update watchdog: {}",
                    std::io::Error::last_os_error()
                )));
            }
            Ok(Go {
                read: fds[0],
                write: fds[1],
            })
        }

        /// In the old process, once the marker is written.
        fn send(&self) {
            // SAFETY: writes one byte from a live buffer to our own pipe.
            unsafe { libc::write(self.write, [1u8].as_ptr().cast(), 1) };
        }
    }

    impl Drop for Go {
        fn drop(&mut self) {
            // SAFETY: both descriptors are ours (in the old process, after the fork).
            unsafe {
                libc::close(self.read);
                libc::close(self.write);
            }
        }
    }

    /// Restarts under a watchdog; returns only when that failed, with the error, the watchdog (if any)
    /// ended and the old binary still running. `write_marker(process, watchdog)` writes the pending
    /// marker once both pids are known.
    pub(super) fn restart(
        mode: RestartMode,
        replaced: &ReplacedExecutable,
        pending: &Path,
        grace: Duration,
        write_marker: impl Fn(u32, u32) -> Result<()>,
    ) -> Error {
        let plan = match Plan::new(replaced, pending, grace) {
            Ok(plan) => plan,
            Err(e) => return e,
        };
        let go = match Go::new() {
            Ok(go) => go,
            Err(e) => return e,
        };
        let mut command = Command::new(&replaced.path);
        command.args(std::env::args_os().skip(1));
        match mode {
            RestartMode::SpawnAndExit => {
                let mut child = match command.spawn() {
                    Ok(child) => child,
                    Err(e) => return cannot("start", replaced, e),
                };
                // ok: a pid always fits pid_t.
                let pid = child.id() as pid_t;
                let started = plan.fork(Watch::Process(pid), &go).and_then(|watchdog| {
                    write_marker(child.id(), watchdog as u32).inspect_err(|_| stop(watchdog))
                });
                match started {
                    Ok(()) => {
                        go.send();
                        std::process::exit(0)
                    }
                    Err(e) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        e
                    }
                }
            }
            _ => {
                // SAFETY: getpid has no preconditions.
                let me = unsafe { libc::getpid() };
                let watchdog = match plan.fork(Watch::Parent(me), &go) {
                    Ok(pid) => pid,
                    Err(e) => return e,
                };
                if let Err(e) = write_marker(std::process::id(), watchdog as u32) {
                    stop(watchdog);
                    return e;
                }
                go.send();
                let e = command.exec();
                stop(watchdog);
                cannot("exec", replaced, e)
            }
        }
    }

    /// Kills and reaps the watchdog `pid` (our child) before it did anything.
    fn stop(pid: pid_t) {
        // SAFETY: `pid` is our child; killing and reaping it has no other effect.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, ptr::null_mut(), 0);
        }
    }

    /// In the new binary on probation: a thread that reaps the watchdog, our child after the exec,
    /// when it exits (else it stays a zombie for the life of the process). The pid comes from the
    /// marker; `waitpid` on a pid that is not our child returns at once.
    pub(super) fn reap_in_background(watchdog: u32) {
        let Ok(pid) = pid_t::try_from(watchdog) else {
            return;
        };
        if pid > 0 {
            let _ = std::thread::Builder::new()
                .name("pepeunit-reaper".into())
                // SAFETY: waits for one specific pid; no memory is passed.
                .spawn(move || unsafe { libc::waitpid(pid, ptr::null_mut(), 0) });
        }
    }

    fn cannot(what: &str, replaced: &ReplacedExecutable, e: std::io::Error) -> Error {
        Error::Update(format!(
            "cannot {what} the new executable {}: {e}",
            replaced.path.display()
        ))
    }

    impl Plan {
        fn new(replaced: &ReplacedExecutable, pending: &Path, grace: Duration) -> Result<Plan> {
            let c = |bytes: &[u8]| {
                CString::new(bytes).map_err(|_| {
                    Error::Update("a path, argument or variable holds a NUL byte".into())
                })
            };
            let path = |p: &Path| c(p.as_os_str().as_bytes());
            let var = |(key, value): (OsString, OsString)| {
                c(&[key.as_bytes(), b"=", value.as_bytes()].concat())
            };
            // File descriptors to close in the child; without /proc, the first thousand.
            let fds = std::fs::read_dir("/proc/self/fd")
                .map(|list| {
                    list.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                        .filter(|fd| *fd > 2)
                        .collect()
                })
                .unwrap_or_else(|_| (3..1024).collect());
            Ok(Plan {
                exe: path(&replaced.path)?,
                backup: path(&replaced.backup)?,
                files: replaced
                    .files
                    .iter()
                    .map(|(file, copy)| Ok((path(copy)?, path(file)?)))
                    .collect::<Result<_>>()?,
                pending: path(pending)?,
                failed: path(&failed_path(&replaced.path))?,
                started: path(&started_path(&replaced.path))?,
                exited: path(&exited_path(&replaced.path))?,
                argv: std::env::args_os()
                    .map(|a| c(OsStr::as_bytes(&a)))
                    .collect::<Result<_>>()?,
                envp: std::env::vars_os().map(var).collect::<Result<_>>()?,
                fds,
                grace_ms: grace.as_millis().try_into().unwrap_or(i64::MAX),
            })
        }

        /// Forks the watchdog; returns its pid in the parent.
        fn fork(&self, watch: Watch, go: &Go) -> Result<pid_t> {
            let nul_terminated = |list: &[CString]| {
                list.iter()
                    .map(|s| s.as_ptr())
                    .chain([ptr::null()])
                    .collect::<Vec<*const c_char>>()
            };
            let (argv, envp) = (nul_terminated(&self.argv), nul_terminated(&self.envp));
            // SAFETY: the child only runs `watch`, which makes async-signal-safe calls on memory
            // allocated before the fork and never returns.
            match unsafe { libc::fork() } {
                -1 => Err(Error::Update(format!(
                    "cannot start the update watchdog: {}",
                    std::io::Error::last_os_error()
                ))),
                0 => unsafe { self.watch(watch, go, &argv, &envp) },
                pid => Ok(pid),
            }
        }

        /// The watchdog's whole life (see the module doc). Async-signal-safe calls only: no
        /// allocation, no lock, no formatting.
        unsafe fn watch(
            &self,
            watch: Watch,
            go: &Go,
            argv: &[*const c_char],
            envp: &[*const c_char],
        ) -> ! {
            unsafe {
                for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
                // The pipe may reuse a number of the list (the listing's own descriptor).
                for fd in self.fds.iter().filter(|fd| **fd != go.read) {
                    libc::close(*fd);
                }
                libc::close(go.write);
                let mut byte = 0u8;
                let got = loop {
                    let n = libc::read(go.read, (&raw mut byte).cast(), 1);
                    if n >= 0
                        || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                    {
                        break n;
                    }
                };
                libc::close(go.read);
                if got != 1 {
                    // The old process died before the new binary ran: stopped mid-update.
                    self.roll_back(false, argv, envp);
                }
                let start = monotonic_ms();
                let pause = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: POLL.as_nanos() as _,
                };
                loop {
                    libc::nanosleep(&pause, ptr::null_mut());
                    let alive = match watch {
                        Watch::Parent(pid) => libc::getppid() == pid,
                        Watch::Process(pid) => libc::kill(pid, 0) == 0,
                    };
                    if !alive {
                        // Reached our code and did not exit on its own: ended by a signal.
                        let stopped = libc::access(self.started.as_ptr(), libc::F_OK) == 0
                            && libc::access(self.exited.as_ptr(), libc::F_OK) != 0;
                        self.roll_back(!stopped, argv, envp);
                    }
                    if monotonic_ms() - start >= self.grace_ms {
                        libc::unlink(self.started.as_ptr());
                        libc::unlink(self.pending.as_ptr());
                        libc::_exit(0);
                    }
                }
            }
        }

        /// Puts the old executable and files back and marks the update failed; then execs the old
        /// binary if `start`, else exits.
        unsafe fn roll_back(
            &self,
            start: bool,
            argv: &[*const c_char],
            envp: &[*const c_char],
        ) -> ! {
            unsafe {
                if libc::rename(self.backup.as_ptr(), self.exe.as_ptr()) == 0 {
                    for (copy, file) in &self.files {
                        libc::rename(copy.as_ptr(), file.as_ptr());
                    }
                    libc::rename(self.pending.as_ptr(), self.failed.as_ptr());
                    libc::unlink(self.started.as_ptr());
                    libc::unlink(self.exited.as_ptr());
                    if start {
                        libc::execve(self.exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
                    }
                    libc::_exit(0);
                }
                libc::_exit(1);
            }
        }
    }

    /// CLOCK_MONOTONIC in milliseconds (async-signal-safe).
    fn monotonic_ms() -> i64 {
        // SAFETY: clock_gettime writes into the timespec it is given.
        let mut now: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        // time_t and c_long are 32 bits on some targets.
        now.tv_sec as i64 * 1000 + now.tv_nsec as i64 / 1_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_exe(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pepeunit-guard-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("unit")
    }

    fn write(path: &Path, marker: &Marker) {
        std::fs::write(path, serde_json::to_vec(marker).unwrap()).unwrap();
    }

    #[test]
    fn markers_say_what_the_start_must_do() {
        let exe = temp_exe("inspect");
        let marker = Marker {
            executable: ReplacedExecutable::beside(&exe),
            deadline: 1_000,
            grace_ms: 3_000,
            process: 7,
            watchdog: 8,
        };
        let at = |now: u64, me: u32, alive: bool| inspect(&exe, now, me, |_| alive).unwrap();
        assert_eq!(at(999, 1, true), Found::Nothing);
        write(&pending_path(&exe), &marker);
        assert_eq!(at(999, 1, true), Found::OnProbation);
        assert_eq!(at(999, 7, true), Found::OnProbationHere(marker.clone()));
        // Its pid again but its watchdog gone: a restart that reused the pid (a container's pid 1).
        assert_eq!(at(999, 7, false), Found::Unconfirmed(marker.clone()));
        // Its process gone, or its deadline passed: nobody confirms it any more.
        assert_eq!(at(999, 1, false), Found::Unconfirmed(marker.clone()));
        assert_eq!(at(1_000, 7, true), Found::Unconfirmed(marker.clone()));
        // A marker of an older version (no pid) is judged by its deadline.
        let legacy = Marker {
            process: 0,
            ..marker.clone()
        };
        write(&pending_path(&exe), &legacy);
        assert_eq!(at(999, 1, false), Found::OnProbation);
        write(&failed_path(&exe), &marker);
        assert_eq!(at(999, 1, true), Found::RolledBack(marker));
        std::fs::write(failed_path(&exe), "{").unwrap();
        assert!(
            inspect(&exe, 999, 1, |_| true).is_err(),
            "a broken marker is an error"
        );
        let _ = std::fs::remove_dir_all(exe.parent().unwrap());
    }

    #[test]
    fn a_pending_marker_before_its_deadline_means_probation() {
        let exe = temp_exe("probation");
        assert!(!on_probation(&exe));
        let mut marker = Marker {
            executable: ReplacedExecutable::beside(&exe),
            deadline: unix_now() + 60,
            grace_ms: 60_000,
            process: 0,
            watchdog: 0,
        };
        write(&pending_path(&exe), &marker);
        assert!(on_probation(&exe));
        marker.deadline = unix_now() - 1;
        write(&pending_path(&exe), &marker);
        assert!(!on_probation(&exe));
        let _ = std::fs::remove_dir_all(exe.parent().unwrap());
    }
}
