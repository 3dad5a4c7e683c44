//! Restarting the process: the restart modes, and where the running executable is.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// How [`restart_process`] brings the updated program into effect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RestartMode {
    /// `exec` the current executable with the same arguments: same pid, nothing left running (unix).
    #[default]
    ExecInPlace,
    /// Spawn the current executable with the same arguments, then `exit(0)`: for supervisors that
    /// expect the old process to end.
    SpawnAndExit,
    /// No restart: the client reloads env.json and schema.json (enough when only they changed).
    ReloadOnly,
    /// Do nothing: the unit restarts itself when it sees fit.
    None,
}

impl RestartMode {
    /// Whether this mode replaces the running process (`ExecInPlace`, `SpawnAndExit`).
    pub fn is_process(self) -> bool {
        matches!(self, RestartMode::ExecInPlace | RestartMode::SpawnAndExit)
    }
}

/// Restarts the current process as `mode` says; [`RestartMode::ReloadOnly`] and [`RestartMode::None`]
/// return at once (the client does the reload).
///
/// The caller stops its main cycle and flushes its log first: on success the two process modes never
/// return. On Linux, when the running binary itself was replaced, `/proc/self/exe` reads
/// `… (deleted)`; the new file at the original path is started instead.
pub fn restart_process(mode: RestartMode) -> Result<()> {
    match mode {
        RestartMode::ExecInPlace => exec_in_place(),
        RestartMode::SpawnAndExit => {
            let exe = current_exe()?;
            std::process::Command::new(&exe)
                .args(std::env::args_os().skip(1))
                .spawn()
                .map_err(|e| Error::Update(format!("cannot start {}: {e}", exe.display())))?;
            std::process::exit(0)
        }
        RestartMode::ReloadOnly | RestartMode::None => Ok(()),
    }
}

#[cfg(unix)]
fn exec_in_place() -> Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = current_exe()?;
    let e = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(Error::Update(format!("cannot exec {}: {e}", exe.display())))
}

#[cfg(not(unix))]
fn exec_in_place() -> Result<()> {
    Err(Error::Update(
        "restart by exec needs a unix system: use RestartMode::SpawnAndExit".into(),
    ))
}

/// The path of the running executable, even after an update replaced it.
pub(crate) fn current_exe() -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::Update(format!("cannot find the running executable: {e}")))?;
    let replaced = exe
        .to_str()
        .and_then(|s| s.strip_suffix(" (deleted)"))
        .filter(|_| !exe.exists());
    Ok(replaced.map_or(exe.clone(), PathBuf::from))
}
