//! A count reported sparsely: at its 1st, 2nd, 4th, 8th… occurrence, so that a flood (skipped
//! inputs, a full handler queue, dropped bridge events) costs a few log lines, not one each.

use std::sync::atomic::{AtomicU64, Ordering};

/// A thread-safe counter that says which occurrences to report.
#[derive(Debug, Default)]
pub(crate) struct SparseCount(AtomicU64);

impl SparseCount {
    /// Counts one more occurrence; the count so far when this one is to be reported (a power of
    /// two), else `None`.
    pub(crate) fn add(&self) -> Option<u64> {
        let count = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        count.is_power_of_two().then_some(count)
    }

    /// The occurrences so far.
    #[cfg(any(feature = "tracing", feature = "log"))]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_at_powers_of_two() {
        let count = SparseCount::default();
        let reported: Vec<u64> = (0..100).filter_map(|_| count.add()).collect();
        assert_eq!(reported, [1, 2, 4, 8, 16, 32, 64]);
    }
}
