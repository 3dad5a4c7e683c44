//! What the unit log says about an outage: every reason reaches log.json, but a long outage does not
//! flood it. A failed attempt is logged the first time, then at attempts 2, 4, 8, … and whenever the
//! reason changes; the next ConnAck logs how many attempts it took.

use crate::log_level::LogLevel;

/// One log line decided by [`Outage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageLine {
    /// `Error` for a refusal by the broker (the token), `Warning` otherwise.
    pub level: LogLevel,
    /// The text, naming the reason.
    pub text: String,
}

/// The state of the current outage (none while connected).
#[derive(Debug, Default)]
pub struct Outage {
    failures: u64,
    last_reason: Option<String>,
}

impl Outage {
    /// A connection attempt failed for `reason`; the line to log, if this one is logged.
    pub fn on_failure(&mut self, reason: &str) -> Option<OutageLine> {
        self.failures += 1;
        let changed = self.last_reason.as_deref() != Some(reason);
        self.last_reason = Some(reason.to_owned());
        if !changed && !self.failures.is_power_of_two() {
            return None;
        }
        let level = if reason.starts_with(REFUSED) {
            LogLevel::Error
        } else {
            LogLevel::Warning
        };
        let attempts = match self.failures {
            1 => "1 attempt".to_owned(),
            n => format!("{n} attempts"),
        };
        Some(OutageLine {
            level,
            text: format!("MQTT connection failed ({attempts} so far, retrying): {reason}"),
        })
    }

    /// A ConnAck came: the line to log when it ends an outage of failed attempts.
    pub fn on_connected(&mut self) -> Option<String> {
        let failures = std::mem::take(&mut self.failures);
        self.last_reason = None;
        (failures > 0).then(|| format!("MQTT reconnected after {failures} failed attempts"))
    }
}

/// How every refusal reason starts (see [`refusal`]).
const REFUSED: &str = "refused by the broker";

/// The reason text for a CONNACK refusal with MQTT 3.1.1 return code `code` (1–5).
pub fn refusal(code: u8) -> String {
    let why = match code {
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password (PU_AUTH_TOKEN is not accepted)",
        5 => "not authorized (PU_AUTH_TOKEN is not accepted)",
        _ => "unknown return code",
    };
    format!("{REFUSED}: {why} (CONNACK {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_logged_at_powers_of_two_and_on_a_new_reason() {
        let mut outage = Outage::default();
        let logged: Vec<u64> = (1..=40)
            .filter(|_| outage.on_failure("I/O: refused").is_some())
            .collect();
        assert_eq!(logged, [1, 2, 4, 8, 16, 32]);
        let line = outage.on_failure(&refusal(4)).unwrap();
        assert_eq!(line.level, LogLevel::Error);
        assert!(line.text.contains("41 attempts"), "{}", line.text);
        assert!(line.text.contains("bad user name or password"));
        assert!(outage.on_failure(&refusal(4)).is_none());
        assert_eq!(
            outage.on_connected().as_deref(),
            Some("MQTT reconnected after 42 failed attempts")
        );
        assert_eq!(outage.on_connected(), None);
        assert_eq!(
            outage.on_failure("timed out").unwrap().level,
            LogLevel::Warning
        );
    }
}
