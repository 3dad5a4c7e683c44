//! How the library waits before trying again — MQTT reconnects and REST retries alike: a delay that
//! doubles per attempt up to a cap, jittered so that many units failing together never retry in step.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Waits between attempts: `initial × 2^attempt`, capped at `max`, then a random point in its upper half
/// ("equal jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let full = self.initial.saturating_mul(factor).min(self.max);
        let half = full / 2;
        let jitter_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random_u64() % jitter_ns.max(1))
    }
}

/// 64 random-enough bits for client-id suffixes and jitter, without a random-number crate: std's
/// `RandomState` is seeded from the OS once per process and advanced per instance; mixing in the clock
/// keeps two calls apart. Not for secrets.
pub(crate) fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_is_capped_and_jittered_within_its_upper_half() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for attempt in 0..40 {
            let full = (Duration::from_millis(100) * 2u32.saturating_pow(attempt.min(20)))
                .min(Duration::from_secs(2));
            let delay = backoff.delay(attempt);
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
        }
    }
}
