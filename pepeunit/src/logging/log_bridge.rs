//! The `log` bridge: a [`log::Log`] writing records into the unit logger.

use super::bridge::Bridge;
use crate::client::PepeunitClient;
use crate::error::Result;
use crate::log_level::LogLevel;
use crate::quiet::{Guard, is_quiet};

/// Writes `log` records at or above `PU_MIN_LOG_LEVEL` into a unit's logger (see [the module
/// docs](super) for levels, text and what is left out). Make it the global logger with
/// [`install_log_bridge`], or call it from a logger of your own.
pub struct LogBridge {
    bridge: Bridge,
}

impl std::fmt::Debug for LogBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBridge").finish_non_exhaustive()
    }
}

/// A logger writing into `unit`'s logger; starts its writer thread.
pub fn log_bridge(unit: &PepeunitClient) -> Result<LogBridge> {
    Ok(LogBridge {
        bridge: Bridge::start(unit, "log")?,
    })
}

/// Makes [`log_bridge`] the process's global logger (every level passed on: the bridge filters by
/// the level in force); `false` when a logger is set already (the bridge made for it stops).
pub fn install_log_bridge(unit: &PepeunitClient) -> Result<bool> {
    let installed = log::set_boxed_logger(Box::new(log_bridge(unit)?)).is_ok();
    if installed {
        log::set_max_level(log::LevelFilter::Trace);
    }
    Ok(installed)
}

/// The unit log level of a `log` level.
fn level_of(level: log::Level) -> LogLevel {
    match level {
        log::Level::Trace | log::Level::Debug => LogLevel::Debug,
        log::Level::Info => LogLevel::Info,
        log::Level::Warn => LogLevel::Warning,
        log::Level::Error => LogLevel::Error,
    }
}

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        !is_quiet() && self.bridge.wants(level_of(metadata.level()))
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Formatting runs the arguments' Display impls: whatever they log is not bridged.
        let _quiet = Guard::enter();
        let text = format!("{}: {}", record.target(), record.args());
        self.bridge.offer(level_of(record.level()), text);
    }

    fn flush(&self) {}
}
