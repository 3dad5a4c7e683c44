//! `PepeunitClient`: the seed's imperative API over settings, schema, logger, state and updates.
//!
//! The client is a cheap `Clone` (one `Arc` inside) and `Send + Sync`, so handlers anywhere can hold it.
//! This module is the one home of its API and its builder's: `builder.rs` (the builder and what every
//! client has), `mqtt.rs` (MQTT), `rest.rs` (REST calls), `update.rs` (the REST update commands). Each
//! method forwards to the engine that does the work: `runtime`, `rest`, `update`.

mod builder;
#[cfg(feature = "mqtt")]
mod mqtt;
#[cfg(feature = "rest")]
mod rest;
#[cfg(feature = "rest")]
mod update;

pub use builder::ClientBuilder;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::files;
use crate::logger::Logger;
use crate::schema::{Schema, Topics};
use crate::settings::{Env, Settings};
use crate::state::{StateProbe, SystemState};
use crate::unit_state::{State, UnitState};
use crate::update::{Restart, RestartMode, UpdateOptions, UpdateReport};

/// The unit's handle on its settings, topics, log, state and program files.
#[derive(Clone)]
pub struct PepeunitClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) settings: Settings,
    pub(super) schema: Schema,
    pub(super) logger: Logger,
    pub(super) state_probe: Mutex<StateProbe>,
    pub(super) restart_mode: RestartMode,
    pub(super) update_options: UpdateOptions,
    #[cfg(feature = "rest")]
    pub(super) rest: Option<crate::rest::RestApi>,
    #[cfg(feature = "rest")]
    pub(super) update_key: Option<crate::update::UpdateKey>,
    #[cfg(feature = "mqtt")]
    pub(super) mqtt: Option<std::sync::Arc<crate::runtime::MqttRuntime>>,
    pub(super) states: crate::unit_state::States,
}

impl PepeunitClient {
    /// The unit's settings (env.json), reloadable with `settings().update_from_file()`.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The unit's topics (schema.json).
    pub fn schema(&self) -> &Schema {
        &self.inner.schema
    }

    /// The unit logger: log.json, and `log/pepeunit` once MQTT is on.
    pub fn logger(&self) -> &Logger {
        &self.inner.logger
    }

    /// The handle on this unit's value of the state `T` (made with `Default` the first time): what
    /// handlers take as `&T`, `&mut T` or `State<T>`, for units built by hand.
    pub fn state<T: UnitState>(&self) -> State<T> {
        self.inner.states.get::<T>()
    }

    /// The unit's uuid, decoded from its token.
    pub fn unit_uuid(&self) -> Result<String> {
        self.inner.settings.unit_uuid()
    }

    /// The directory holding env.json: the program directory that updates replace.
    pub fn program_dir(&self) -> PathBuf {
        files::parent_dir(self.inner.settings.path())
    }

    /// The state message of PROTOCOL §6 for this moment.
    pub fn get_system_state(&self) -> SystemState {
        let commit = self.inner.settings.current().commit_version.clone();
        // A poisoned probe only means another thread panicked mid-read; its data is still usable.
        let mut probe = self
            .inner
            .state_probe
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        probe.read(&self.program_dir(), &commit)
    }

    /// Replaces env.json with the file at `new_env` (refused, file untouched, when invalid) and reloads.
    pub fn update_env_from_file(&self, new_env: &Path) -> Result<()> {
        let source = new_env.display().to_string();
        files::replace_validated(self.inner.settings.path(), new_env, |text| {
            Env::parse(text, &source).map(drop)
        })?;
        self.inner.settings.update_from_file()
    }

    /// Replaces schema.json with the file at `new_schema` (refused, file untouched, when invalid) and reloads.
    pub fn update_schema_from_file(&self, new_schema: &Path) -> Result<()> {
        let source = new_schema.display().to_string();
        files::replace_validated(self.inner.schema.path(), new_schema, |text| {
            Topics::parse(text, &source).map(drop)
        })?;
        self.inner.schema.update_from_file()
    }

    /// Replaces log.json with the file at `new_log` (refused, log untouched, when invalid).
    pub fn update_log_from_file(&self, new_log: &Path) -> Result<()> {
        self.inner.logger.replace_from_file(new_log)
    }

    /// Applies an update archive to the program directory (staging, swap, rollback on failure), then
    /// reloads or restarts as the restart mode says. Every step is logged through the unit logger.
    pub fn update_device_program(&self, archive: &Path) -> Result<UpdateReport> {
        let logger = &self.inner.logger;
        let program_dir = self.program_dir();
        let report = match crate::update::update_device_program(
            archive,
            &program_dir,
            &self.inner.update_options,
        ) {
            Ok(report) => report,
            Err(e) => {
                logger.error(format!("Update from {} failed: {e}", archive.display()));
                return Err(e);
            }
        };
        logger.info(format!(
            "Update applied to {}: {report}",
            program_dir.display()
        ));
        if self.restart_mode() == RestartMode::ReloadOnly {
            self.inner.settings.update_from_file()?;
            self.inner.schema.update_from_file()?;
        }
        // Blocking, so without the MQTT runtime's clean stop: the process is replaced as it is.
        let restart = self.restart();
        restart.announce_update(logger);
        restart.replace_process(logger, None)?;
        Ok(report)
    }

    /// The REST half, or `Error::RestDisabled` when the client was built without it.
    #[cfg(feature = "rest")]
    pub(crate) fn rest_api(&self) -> Result<&crate::rest::RestApi> {
        self.inner
            .rest
            .as_ref()
            .ok_or(crate::error::Error::RestDisabled)
    }

    /// The options updates are applied with.
    #[cfg(feature = "rest")]
    pub(crate) fn update_options(&self) -> &UpdateOptions {
        &self.inner.update_options
    }

    /// What to do after an update or a `reset` command.
    pub(crate) fn restart_mode(&self) -> RestartMode {
        self.inner.restart_mode
    }

    /// How this unit restarts after an update or a `reset` command.
    pub(crate) fn restart(&self) -> Restart {
        Restart {
            mode: self.inner.restart_mode,
            grace: self.inner.update_options.startup_grace,
        }
    }

    /// The MQTT runtime, or [`Error::MqttDisabled`](crate::error::Error::MqttDisabled) when the
    /// client was built without it.
    #[cfg(feature = "mqtt")]
    pub(crate) fn mqtt_runtime(&self) -> Result<&crate::runtime::MqttRuntime> {
        self.inner
            .mqtt
            .as_deref()
            .ok_or(crate::error::Error::MqttDisabled)
    }
}
