//! The count of handler runs that wakes the outputs published on change: noted by the input
//! worker (`dispatch.rs`) and the scheduled outputs (`cycle.rs`), held by the engine, watched by
//! `on_change.rs`. A leaf, so that none of them imports another for it.

use std::sync::Arc;

use tokio::sync::watch;

/// Counts the runs of input handlers and scheduled outputs: what wakes the outputs evaluated after
/// each of them (a watch, so a burst of runs costs one evaluation, never a queue).
#[derive(Clone)]
pub(crate) struct Ran(Arc<watch::Sender<u64>>);

impl Ran {
    pub(crate) fn new() -> Ran {
        Ran(Arc::new(watch::Sender::new(0)))
    }

    /// One more handler ran.
    pub(crate) fn note(&self) {
        self.0.send_modify(|runs| *runs = runs.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}
