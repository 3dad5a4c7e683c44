//! After an update is installed: what needs neither MQTT nor the client to bring it into effect per the
//! [`RestartMode`] — the line that says what happens next, the log flush and the restart itself, under
//! the start-up guard ([`super::firmware::guard`]) when the executable was replaced. A running MQTT
//! unit wraps the process restart with its clean stop (the runtime's one restart sequence).

use std::time::Duration;

use super::firmware::{ReplacedExecutable, guard};
use super::process::{RestartMode, restart_process};
use crate::error::Result;
use crate::logger::Logger;

/// How a unit restarts: the mode, and the grace period the start-up guard gives a new executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Restart {
    pub(crate) mode: RestartMode,
    pub(crate) grace: Duration,
}

impl Restart {
    /// Logs what follows an installed update: a process restart is announced before the clean stop,
    /// so that the line still reaches `log/pepeunit`; `ReloadOnly` and `None` say why nothing restarts.
    pub(crate) fn announce_update(&self, logger: &Logger) {
        match self.mode {
            RestartMode::ReloadOnly => {
                logger.info("Update in effect: env and schema reloaded (restart mode ReloadOnly)")
            }
            RestartMode::None => {
                logger.info("Update installed; restart mode None: the program is not restarted")
            }
            mode => logger.info(format!("Restarting after the update ({mode:?})")),
        }
    }

    /// Replaces the process in the process modes (on success it never returns), under the start-up
    /// guard when `executable` was replaced; the log is flushed first. `ReloadOnly` and `None` return
    /// at once.
    pub(crate) fn replace_process(
        &self,
        logger: &Logger,
        executable: Option<&ReplacedExecutable>,
    ) -> Result<()> {
        if !self.mode.is_process() {
            return Ok(());
        }
        let _ = logger.flush();
        match executable {
            Some(executable) => guard::restart_guarded(self.mode, executable, self.grace),
            None => restart_process(self.mode),
        }
    }
}
