//! Bridges from the `tracing` and `log` facades into the unit logger (features `tracing` and
//! `log`, off by default): a unit's own `tracing::warn!`/`log::warn!` and those of the crates it
//! uses reach log.json and `log/pepeunit` without a second logging set-up. `#[pepeunit::main]`
//! installs each bridge whose feature is on ([`install`]) before its body runs, leaving a global
//! subscriber or logger already set alone; a program that builds its client by hand can instead
//! add [`layer`] to a subscriber of its own.
//!
//! # Levels
//!
//! | `tracing` | `log` | unit log |
//! |---|---|---|
//! | `TRACE`, `DEBUG` | `Trace`, `Debug` | `Debug` |
//! | `INFO` | `Info` | `Info` |
//! | `WARN` | `Warn` | `Warning` |
//! | `ERROR` | `Error` | `Error` |
//!
//! Nothing maps to `Critical`. Events below `PU_MIN_LOG_LEVEL` are dropped at once; the level is
//! read at each event, so an `env_update` that changes it applies to the next one.
//!
//! # Text
//!
//! `outer{a=1}:inner{b=2}: target: message key=value` — the event's spans from the root with their
//! fields, the event's target (its module path), its message and its other fields. A `log` record:
//! `target: message`.
//!
//! # Never blocking, never looping
//!
//! An event is formatted on the caller's thread and offered to a bounded queue (1,024 entries); a
//! thread of the bridge writes it to the unit logger. When the queue is full the event is dropped
//! and counted; the count is logged as one `Warning` at 1, 2, 4, 8… drops. Events emitted by the
//! library's own I/O — the MQTT driver, the `log/pepeunit` publisher, the REST client — are not
//! bridged: publishing a log entry makes rumqttc log, which would otherwise make a new entry, and
//! so on. Events still queued when the process exits are lost.

mod bridge;
#[cfg(feature = "log")]
mod log_bridge;
#[cfg(feature = "tracing")]
mod tracing_layer;

#[cfg(feature = "log")]
pub use log_bridge::{LogBridge, install_log_bridge, log_bridge};
#[cfg(feature = "tracing")]
pub use tracing_layer::{PepeunitLayer, install_layer, layer};

pub use bridge::{QUEUE, THREAD_NAME};

use crate::client::PepeunitClient;
use crate::error::Result;

/// Installs the bridge of each enabled feature as the process's global subscriber or logger,
/// skipping (without error) one that is already set: what `#[pepeunit::main]` runs.
pub fn install(unit: &PepeunitClient) -> Result<()> {
    #[cfg(feature = "tracing")]
    install_layer(unit)?;
    #[cfg(feature = "log")]
    install_log_bridge(unit)?;
    Ok(())
}
