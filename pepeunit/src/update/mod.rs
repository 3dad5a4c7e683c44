//! Updating the unit's program, as one pipeline (PROTOCOL §5, §8):
//!
//! 1. `command.rs`: the `update/pepeunit` payload ([`UpdateCommand`], one parser) and the checks every
//!    command payload passes;
//! 2. `flow.rs` (feature `rest`): download → check → swap the executable → apply the archive → reload,
//!    and the env/schema updates (the MQTT runtime runs them through its default command hook);
//! 3. [`archive`]: reading an archive safely into a staging directory;
//! 4. `apply.rs`: staging → swap into the program directory with backup and rollback
//!    ([`update_device_program`]);
//! 5. [`firmware`]: a compiled unit's new executable (checks, swap, backup) and its start-up guard;
//!    `signature.rs` (feature `rest`): the author's signature it must carry ([`UpdateKey`], PROTOCOL §8a),
//!    verified before any other check;
//! 6. `change.rs`: what a reload changed ([`EnvChange`], [`SchemaChange`]), which the runtime follows;
//! 7. `restart.rs`: bringing an installed update into effect without MQTT (the runtime wraps it with
//!    its clean stop); `process.rs`: the restart modes ([`RestartMode`], [`restart_process`]).
//!
//! Dependencies point one way: flow → apply/firmware → guard → process; nothing here knows the
//! client or the MQTT runtime.

mod apply;
pub mod archive;
mod change;
mod command;
pub mod firmware;
#[cfg(feature = "rest")]
pub(crate) mod flow;
mod process;
mod restart;
#[cfg(feature = "rest")]
mod signature;

pub use apply::{
    UpdateOptions, UpdateReport, update_device_program, update_device_program_checked,
};
#[cfg(feature = "mqtt")]
pub(crate) use change::Loaded;
pub use change::{EnvChange, SchemaChange};
pub use command::UpdateCommand;
#[cfg(feature = "mqtt")]
pub(crate) use command::check_command;
#[cfg(feature = "rest")]
pub use flow::{AppliedUpdate, UpdateOutcome};
pub(crate) use process::current_exe;
pub use process::{RestartMode, restart_process};
pub(crate) use restart::Restart;
#[cfg(feature = "rest")]
pub use signature::{SignedFor, UpdateKey};
