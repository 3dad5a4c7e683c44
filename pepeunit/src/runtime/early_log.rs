//! The log lines of a unit before its connection engine started (the "started" line of `main`'s
//! body): held, the newest [`HELD`], and handed to the log publisher first, so that they reach
//! `log/pepeunit` once connected like every later line.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::logger::{LogEntry, Logger};

/// How many early lines are kept; older ones stay in log.json only.
const HELD: usize = 64;

/// The lines held until the log publisher starts.
#[derive(Clone, Default)]
pub(crate) struct EarlyLog(Arc<Mutex<VecDeque<LogEntry>>>);

impl EarlyLog {
    /// Makes `logger`'s sink hold every entry until the log publisher replaces it.
    pub(crate) fn hold(&self, logger: &Logger) {
        let held = self.0.clone();
        logger.set_sink(Some(Arc::new(move |entry: &LogEntry| {
            let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
            if held.len() == HELD {
                held.pop_front();
            }
            held.push_back(entry.clone());
        })));
    }

    /// The lines held so far, oldest first; none are held after this.
    pub(crate) fn take(&self) -> VecDeque<LogEntry> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
