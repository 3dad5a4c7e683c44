//! What both bridges share: the bounded queue, the thread that writes to the unit logger, the
//! level in force, and the sparse count of dropped events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::client::PepeunitClient;
use crate::error::{Error, Result};
use crate::log_level::LogLevel;
use crate::logger::Logger;
use crate::quiet::Guard;
use crate::settings::Settings;
use crate::sparse::SparseCount;

/// Events a bridge holds for its writer; beyond that they are dropped and counted.
pub const QUEUE: usize = 1024;
/// The name of each bridge's writer thread.
pub const THREAD_NAME: &str = "pepeunit-log-bridge";
/// The writer only hands entries to the logger: a small stack is plenty.
const STACK: usize = 128 * 1024;

/// A queue into the unit logger, drained by a thread of its own.
pub(crate) struct Bridge {
    queue: SyncSender<(LogLevel, String)>,
    settings: Settings,
    drops: Arc<Drops>,
}

/// Events dropped on a full queue, and whether the writer owes the log a report of them.
#[derive(Default)]
struct Drops {
    count: SparseCount,
    report_due: AtomicBool,
}

impl Bridge {
    /// Starts the writer thread for `unit`'s logger; `facade` (`tracing`, `log`) names the bridge
    /// in its reports. The thread ends when the bridge is dropped.
    pub(crate) fn start(unit: &PepeunitClient, facade: &'static str) -> Result<Bridge> {
        let (queue, events) = sync_channel(QUEUE);
        let drops = Arc::new(Drops::default());
        let logger = unit.logger().clone();
        let reported = drops.clone();
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .stack_size(STACK)
            .spawn(move || write(&events, &logger, &reported, facade))
            .map_err(|e| Error::io(format!("{facade} bridge thread"), e))?;
        Ok(Bridge {
            queue,
            settings: unit.settings().clone(),
            drops,
        })
    }

    /// Whether an event at `level` would be kept: at or above `PU_MIN_LOG_LEVEL` now.
    pub(crate) fn wants(&self, level: LogLevel) -> bool {
        level >= self.settings.current().min_log_level
    }

    /// Queues an entry without waiting; a full queue drops it and counts the drop.
    pub(crate) fn offer(&self, level: LogLevel, text: String) {
        if let Err(TrySendError::Full(_)) = self.queue.try_send((level, text))
            && self.drops.count.add().is_some()
        {
            self.drops.report_due.store(true, Ordering::Release);
        }
    }
}

/// The writer: each queued entry into the logger, then the drops when a report is due. The thread
/// is quiet, so nothing the logger's sink emits comes back.
fn write(events: &Receiver<(LogLevel, String)>, logger: &Logger, drops: &Drops, facade: &str) {
    let _quiet = Guard::enter();
    for (level, text) in events {
        logger.log(level, text);
        if drops.report_due.swap(false, Ordering::Acquire) {
            logger.warning(format!(
                "{facade} bridge: {} events dropped so far (its queue of {QUEUE} was full)",
                drops.count.get()
            ));
        }
    }
}
