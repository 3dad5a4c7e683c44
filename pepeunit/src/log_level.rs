//! The five log levels of PROTOCOL §6/§11, shared by settings (`PU_MIN_LOG_LEVEL`) and the logger.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A log level, ordered from `Debug` (lowest) to `Critical` (highest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LogLevel {
    /// Diagnostic detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the unit survived.
    Warning,
    /// An operation failed.
    Error,
    /// The unit cannot go on as intended.
    Critical,
}

impl LogLevel {
    /// Every level, lowest first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
    ];

    /// The wire spelling (`"Debug"` … `"Critical"`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "Debug",
            LogLevel::Info => "Info",
            LogLevel::Warning => "Warning",
            LogLevel::Error => "Error",
            LogLevel::Critical => "Critical",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for LogLevel {
    type Err = String;

    /// Accepts the wire spelling exactly, as the backend does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of Debug, Info, Warning, Error, Critical"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wire_names_and_orders_levels() {
        for level in LogLevel::ALL {
            assert_eq!(level.as_str().parse::<LogLevel>(), Ok(level));
        }
        assert!("debug".parse::<LogLevel>().is_err());
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Error < LogLevel::Critical);
    }
}
