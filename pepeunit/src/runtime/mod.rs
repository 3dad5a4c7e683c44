//! The MQTT side of a unit (cargo feature `mqtt`, PROTOCOL §4–§6), in two parts:
//! - the connection engine (`engine.rs`): start, reconnect and shutdown, the per-connection dispatcher
//!   (`dispatch.rs`) and handler workers, and the log publisher (every log entry on `log/pepeunit`);
//! - the main cycle (`cycle.rs`): the loop, SIGINT/SIGTERM, and one `Schedule` (`schedule.rs`) for
//!   everything periodic (the state message, the per-tick outputs, each scheduled output).
//!
//! Beside them: the platform commands' MQTT side (`commands.rs`), `log_sync`'s splitting
//! ([`log_sync`]), the handlers (`handler.rs`), the declarative handlers the macros expand to
//! (`declared.rs`: typed inputs, published outputs, periods) with their two conversions
//! ([`extract`]: message → argument, [`payload`]: return value → payload), the reactions (`answer.rs`:
//! an input publishing its value; `on_change.rs`: outputs published on change, heartbeat, again after a
//! reconnect), numeric outputs (`sampled.rs` on the pure `reduce.rs`), all of a unit's outputs
//! (`outputs.rs`), the count of handler runs (`ran.rs`), the lines held before the engine starts
//! (`early_log.rs`), and the macros' registry (`registry.rs`). The public API is
//! [`PepeunitClient`](crate::client::PepeunitClient)'s (in `client/mqtt.rs`).
//!
//! # Tasks
//! - the transport's driver polls the connection (see [`crate::mqtt`]);
//! - a dispatcher per connection routes messages to per-handler queues;
//! - one worker per handler runs it, one message at a time, in arrival order;
//! - the log publisher sends the entries the logger's sink hands it (the sink itself only queues);
//! - the main cycle runs on the caller's task: scheduled jobs, stop and signals.
//!
//! # Guarded
//! An error returned or a panic raised by any handler (input, output, platform commands) is written to
//! the unit log — `Error` or `Critical`, with the handler's name — and the cycle goes on. Panics still
//! reach the process's panic hook (by default a line on stderr) before they are caught.

mod answer;
mod commands;
pub(crate) mod cycle;
mod declared;
mod dispatch;
mod early_log;
mod engine;
pub mod extract;
mod handler;
pub mod log_sync;
mod on_change;
mod outputs;
pub mod payload;
mod ran;
mod reduce;
pub(crate) mod registry;
mod sampled;
mod schedule;

pub use bytes::Bytes;

#[cfg(feature = "rest")]
pub use commands::RestCommands;
pub(crate) use commands::schema_subscriptions;
pub use commands::{AfterCommand, PlatformCommand, PlatformCommands};
#[cfg(feature = "rest")]
pub(crate) use commands::{after_update, reload_then_restart};
pub use declared::Period;
pub(crate) use engine::{MqttRuntime, MqttSetup};
pub use extract::{FromMessage, Json, Rejected, Topic};
pub use handler::{Handler, HandlerOutput, InputHandler, Message, Outcome, OutputHandler};
pub use on_change::ChangeOutput;
pub use outputs::{Outputs, ScheduledOutput};
pub use payload::IntoPayload;
pub use reduce::Reduce;
pub use sampled::{NumericOutput, Sample};
