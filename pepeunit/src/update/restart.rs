//! After an update is installed: the one sequence that brings it into effect per the client's
//! [`RestartMode`]. `ReloadOnly` and `None` only log (the files are already reloaded); the process
//! modes log "Restarting …", stop cleanly (with MQTT: log entries published, DISCONNECT), flush the log
//! and restart — under the start-up guard ([`super::firmware::guard`]) when the executable was
//! replaced — and return only on failure.

use super::firmware::{ReplacedExecutable, guard};
use super::process::{RestartMode, restart_process};
use crate::client::PepeunitClient;
use crate::error::Result;

/// Brings an installed update into effect (see the module doc). If a process restart fails with MQTT
/// on, the main cycle is stopped: a unit whose connection is gone must end, so that its supervisor
/// can start it again.
#[cfg(any(feature = "mqtt", feature = "rest"))]
pub(crate) async fn restart_after_update(
    client: &PepeunitClient,
    executable: Option<&ReplacedExecutable>,
) -> Result<()> {
    let mode = announce(client);
    #[cfg(feature = "mqtt")]
    if mode.is_process()
        && let Ok(runtime) = client.mqtt_runtime()
    {
        runtime.shutdown(client).await;
    }
    let restarted = restart_in_mode(client, mode, executable);
    #[cfg(feature = "mqtt")]
    if restarted.is_err()
        && let Ok(runtime) = client.mqtt_runtime()
    {
        runtime.request_stop();
    }
    restarted
}

/// [`restart_after_update`] for a caller off the async runtime (the blocking
/// `PepeunitClient::update_device_program`): the same, without the clean MQTT stop.
pub(crate) fn restart_after_update_blocking(
    client: &PepeunitClient,
    executable: Option<&ReplacedExecutable>,
) -> Result<()> {
    restart_in_mode(client, announce(client), executable)
}

/// The client's restart mode, once a process restart is announced in the log (before the clean stop,
/// so the line still reaches `log/pepeunit`).
fn announce(client: &PepeunitClient) -> RestartMode {
    let mode = client.restart_mode();
    if mode.is_process() {
        client
            .logger()
            .info(format!("Restarting after the update ({mode:?})"));
    }
    mode
}

fn restart_in_mode(
    client: &PepeunitClient,
    mode: RestartMode,
    executable: Option<&ReplacedExecutable>,
) -> Result<()> {
    let logger = client.logger();
    match (mode, executable) {
        (RestartMode::ReloadOnly, _) => {
            logger.info("Update in effect: env and schema reloaded (restart mode ReloadOnly)");
            Ok(())
        }
        (RestartMode::None, _) => {
            logger.info("Update installed; restart mode None: the program is not restarted");
            Ok(())
        }
        (_, Some(executable)) => {
            let _ = logger.flush();
            let grace = client.update_options().startup_grace;
            guard::restart_guarded(mode, executable, grace)
        }
        (_, None) => {
            let _ = logger.flush();
            restart_process(mode)
        }
    }
}
