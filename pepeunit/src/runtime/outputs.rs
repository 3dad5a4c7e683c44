//! What the main cycle runs for a unit's outputs, gathered in one value: per-tick handlers,
//! scheduled ones and the outputs published on change. Apart from `declared.rs`, which makes the
//! handlers, so that the output kinds (`on_change.rs`, `sampled.rs`) can build on those handlers and
//! still be listed here.

use super::OutputHandler;
use super::declared::Period;
use super::on_change::ChangeOutput;

/// An output handler with the period it runs on.
#[derive(Debug, Clone)]
pub struct ScheduledOutput {
    /// When it runs.
    pub period: Period,
    /// What runs.
    pub handler: OutputHandler,
}

/// Everything the main cycle runs: handlers once per tick (`MqttConfig::cycle_interval`) and
/// scheduled ones on their periods. With no per-tick handler the cycle does not tick at all: it
/// sleeps until the next scheduled output, state message or command.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub(crate) every_tick: Vec<OutputHandler>,
    pub(crate) scheduled: Vec<ScheduledOutput>,
    pub(crate) on_change: Vec<ChangeOutput>,
}

impl Outputs {
    /// No outputs (the main cycle still sends the state and handles inputs and commands).
    pub fn new() -> Self {
        Outputs::default()
    }

    /// Adds a handler run once per tick, after the per-tick handlers added before it.
    pub fn every_tick(mut self, handler: OutputHandler) -> Self {
        self.every_tick.push(handler);
        self
    }

    /// Adds a handler run every `period`, on its own task: a slow one delays no other output and no
    /// input; a run still going when the next is due makes that one skipped, not queued.
    pub fn every(mut self, period: Period, handler: OutputHandler) -> Self {
        self.scheduled.push(ScheduledOutput { period, handler });
        self
    }

    /// Adds an output published when its value changes: evaluated once connected and after every
    /// input handler and scheduled output ran (or on its period, when it has one), published when
    /// its payload differs from the last one published, on its heartbeat and after every reconnect.
    pub fn on_change(mut self, output: ChangeOutput) -> Self {
        if let Some(period) = output.every.clone() {
            self = self.every(period, output.scheduled());
        }
        self.on_change.push(output);
        self
    }
}
