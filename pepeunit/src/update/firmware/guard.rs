//! The start-up guard of a replaced executable: a bad release must not brick a device.
//!
//! A new binary that crashes before it reaches any of our code cannot guard itself, so the guard lives
//! in the *old* binary, the one known to work:
//!
//! 1. [`restart_guarded`] runs once the update is applied, the log flushed and MQTT disconnected. It
//!    writes the marker `.<exe>.update-pending` beside the executable: what to put back (the backup
//!    of the binary, and the copies of env.json and schema.json from before the update), the deadline
//!    as unix time and the grace period.
//! 2. It forks a watchdog: a child that runs the old code already in memory and makes only
//!    async-signal-safe calls (`nanosleep`, `clock_gettime`, `getppid`/`kill`, `rename`, `unlink`,
//!    `execve`, `_exit`) on data prepared before the fork. It first closes the inherited file
//!    descriptors (a listening socket kept open by it would make the new binary fail to bind) and
//!    takes the default action for SIGINT, SIGTERM and SIGHUP again.
//! 3. The old process execs the new binary: same pid, arguments and environment, so a supervisor
//!    (systemd, a shell loop) keeps tracking it. With `SpawnAndExit` it starts it and exits.
//! 4. The watchdog looks every 100 ms. If the new process is gone before the grace period ends, it
//!    renames the backup over the executable and the kept copies over env.json and schema.json, renames
//!    the marker to `.<exe>.update-failed` and execs the restored binary with the same arguments: the
//!    old program runs on its own files and reports its old version. If it is still running at the end, the update is
//!    confirmed: the marker is removed (the backup stays, for a manual rollback, until the next update)
//!    and the watchdog exits.
//! 5. At every start, [`check_at_start`] (run by `ClientBuilder::build`) logs and removes a
//!    `.update-failed` marker, and treats a `.update-pending` marker whose deadline has passed as an
//!    update nobody confirmed (the watchdog was killed, or the power failed during the grace period):
//!    it restores the backup and execs it. Before the deadline it does nothing: the watchdog is at work.
//!
//! So a new binary that does not stay up for the grace period is rolled back; a stop of the program
//! during the grace period (Ctrl-C, `systemctl stop`, which also end the watchdog) counts as a failure
//! too, and the next start after the deadline runs the old binary. Erring that way only costs an update
//! the backend sends again. If the restart itself fails (fork, exec), the backup is put back and the old
//! binary is restarted unguarded. The guard needs a unix system; elsewhere the restart is unguarded.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{ReplacedExecutable, hidden_sibling};
use crate::error::{Error, Result};
use crate::files;
use crate::logger::Logger;
use crate::update::{self, RestartMode};

/// The default grace period: a new binary that exits sooner is rolled back.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// How often the watchdog looks at the new process.
#[cfg(unix)]
const POLL: Duration = Duration::from_millis(100);

/// What the old binary leaves beside the executable while the new one is on probation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    /// What to put back on a rollback.
    executable: ReplacedExecutable,
    /// When the probation ends, in seconds since the unix epoch.
    deadline: u64,
    /// The grace period, in milliseconds (for the log).
    grace_ms: u64,
}

/// The marker files of the executable `exe`.
fn pending_path(exe: &Path) -> PathBuf {
    hidden_sibling(exe, "update-pending")
}

fn failed_path(exe: &Path) -> PathBuf {
    hidden_sibling(exe, "update-failed")
}

/// Whether a new `exe` is still on probation under a watchdog (a pending marker before its deadline):
/// a second update must wait, or two watchdogs would race over one backup.
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
        let marker = Marker {
            executable: replaced.clone(),
            deadline: unix_now() + grace.as_secs() + u64::from(grace.subsec_nanos() > 0),
            grace_ms: grace.as_millis().try_into().unwrap_or(u64::MAX),
        };
        let text = serde_json::to_vec(&marker)
            .map_err(|e| Error::Update(format!("cannot write the update marker: {e}")))?;
        files::write_atomic(&pending, &text)?;
        let failure = watchdog::restart(mode, replaced, &pending, grace);
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

/// The start-time half of the guard, run by `ClientBuilder::build` before anything else: reports a
/// rollback done by the watchdog, and rolls back an update whose probation ended unconfirmed (then
/// this call execs the restored binary and does not return).
pub fn check_at_start(logger: &Logger) -> Result<()> {
    let exe = update::current_exe()?;
    match inspect(&exe, unix_now())? {
        Found::Nothing | Found::OnProbation => Ok(()),
        Found::RolledBack(marker) => {
            logger.warning(format!(
                "Update rolled back: the new executable exited within {} ms of its start, so the \
                 previous one was restored and is running ({})",
                marker.grace_ms,
                exe.display()
            ));
            remove(&failed_path(&exe))
        }
        Found::Unconfirmed(marker) => {
            let pending = pending_path(&exe);
            logger.warning(format!(
                "Update not confirmed: {} was not watched through its grace period (watchdog \
                 stopped or power lost); restoring the previous executable",
                exe.display()
            ));
            let restored = marker.executable.restore();
            remove(&pending)?;
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
    OnProbation,
    RolledBack(Marker),
    Unconfirmed(Marker),
}

/// Reads the markers of `exe` at unix time `now`.
fn inspect(exe: &Path, now: u64) -> Result<Found> {
    if let Some(marker) = read_marker(&failed_path(exe))? {
        return Ok(Found::RolledBack(marker));
    }
    Ok(match read_marker(&pending_path(exe))? {
        None => Found::Nothing,
        Some(marker) if marker.deadline > now => Found::OnProbation,
        Some(marker) => Found::Unconfirmed(marker),
    })
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

    use super::{POLL, failed_path};
    use crate::error::Error;
    use crate::firmware::ReplacedExecutable;
    use crate::update::RestartMode;

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
        argv: Vec<CString>,
        envp: Vec<CString>,
        fds: Vec<c_int>,
        grace_ms: i64,
    }

    /// Restarts under a watchdog; returns only when that failed, with the error, the watchdog (if any)
    /// ended and the old binary still running.
    pub(super) fn restart(
        mode: RestartMode,
        replaced: &ReplacedExecutable,
        pending: &Path,
        grace: Duration,
    ) -> Error {
        let plan = match Plan::new(replaced, pending, grace) {
            Ok(plan) => plan,
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
                match plan.fork(Watch::Process(pid)) {
                    Ok(_) => std::process::exit(0),
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
                let watchdog = match plan.fork(Watch::Parent(me)) {
                    Ok(pid) => pid,
                    Err(e) => return e,
                };
                let e = command.exec();
                // SAFETY: `watchdog` is our child; killing and reaping it has no other effect.
                unsafe {
                    libc::kill(watchdog, libc::SIGKILL);
                    libc::waitpid(watchdog, ptr::null_mut(), 0);
                }
                cannot("exec", replaced, e)
            }
        }
    }

    fn cannot(what: &str, replaced: &ReplacedExecutable, e: std::io::Error) -> Error {
        Error::Update(format!(
            "cannot {what} the new executable {}: {e}",
            replaced.path.display()
        ))
    }

    impl Plan {
        fn new(
            replaced: &ReplacedExecutable,
            pending: &Path,
            grace: Duration,
        ) -> crate::Result<Plan> {
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
                    .collect::<crate::Result<_>>()?,
                pending: path(pending)?,
                failed: path(&failed_path(&replaced.path))?,
                argv: std::env::args_os()
                    .map(|a| c(OsStr::as_bytes(&a)))
                    .collect::<crate::Result<_>>()?,
                envp: std::env::vars_os().map(var).collect::<crate::Result<_>>()?,
                fds,
                grace_ms: grace.as_millis().try_into().unwrap_or(i64::MAX),
            })
        }

        /// Forks the watchdog; returns its pid in the parent.
        fn fork(&self, watch: Watch) -> crate::Result<pid_t> {
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
                0 => unsafe { self.watch(watch, &argv, &envp) },
                pid => Ok(pid),
            }
        }

        /// The watchdog's whole life (see the module doc). Async-signal-safe calls only: no
        /// allocation, no lock, no formatting.
        unsafe fn watch(&self, watch: Watch, argv: &[*const c_char], envp: &[*const c_char]) -> ! {
            unsafe {
                for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
                for fd in &self.fds {
                    libc::close(*fd);
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
                        if libc::rename(self.backup.as_ptr(), self.exe.as_ptr()) == 0 {
                            for (copy, file) in &self.files {
                                libc::rename(copy.as_ptr(), file.as_ptr());
                            }
                            libc::rename(self.pending.as_ptr(), self.failed.as_ptr());
                            libc::execve(self.exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
                        }
                        libc::_exit(1);
                    }
                    if monotonic_ms() - start >= self.grace_ms {
                        libc::unlink(self.pending.as_ptr());
                        libc::_exit(0);
                    }
                }
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
        };
        assert_eq!(inspect(&exe, 999).unwrap(), Found::Nothing);
        write(&pending_path(&exe), &marker);
        assert_eq!(inspect(&exe, 999).unwrap(), Found::OnProbation);
        assert_eq!(
            inspect(&exe, 1_000).unwrap(),
            Found::Unconfirmed(marker.clone())
        );
        write(&failed_path(&exe), &marker);
        assert_eq!(inspect(&exe, 999).unwrap(), Found::RolledBack(marker));
        std::fs::write(failed_path(&exe), "{").unwrap();
        assert!(inspect(&exe, 999).is_err(), "a broken marker is an error");
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
        };
        write(&pending_path(&exe), &marker);
        assert!(on_probation(&exe));
        marker.deadline = unix_now() - 1;
        write(&pending_path(&exe), &marker);
        assert!(!on_probation(&exe));
        let _ = std::fs::remove_dir_all(exe.parent().unwrap());
    }
}
