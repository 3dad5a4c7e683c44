//! `PepeunitClient`: the seed's imperative API over settings, schema, logger, state and updates.
//!
//! The client is a cheap `Clone` (one `Arc` inside) and `Send + Sync`, so handlers anywhere can hold it.
//! The transports (`mqtt`, `rest`) attach to it in their own modules.

#[cfg(feature = "mqtt")]
mod mqtt;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::files;
use crate::logger::{Logger, LoggerConfig};
use crate::schema::{Schema, Topics};
use crate::settings::{Env, Settings};
use crate::state::{StateProbe, SystemState};
use crate::update::{self, RestartMode, UpdateOptions, UpdateReport};

/// Builds a [`PepeunitClient`] from the paths of the unit's three files.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    env_path: PathBuf,
    schema_path: PathBuf,
    log_path: PathBuf,
    restart_mode: RestartMode,
    update_options: UpdateOptions,
    #[cfg(feature = "rest")]
    rest: crate::rest::RestSetup,
    #[cfg(feature = "mqtt")]
    pub(crate) mqtt: crate::runtime::MqttSetup,
}

impl ClientBuilder {
    /// What to do after an update has been applied (default: exec the program in place).
    pub fn restart_mode(mut self, mode: RestartMode) -> Self {
        self.restart_mode = mode;
        self
    }

    /// Limits and options for applying update archives.
    pub fn update_options(mut self, options: UpdateOptions) -> Self {
        self.update_options = options;
        self
    }

    /// Turns the REST client on or off (default off; calls then return `Error::RestDisabled`).
    #[cfg(feature = "rest")]
    pub fn rest(mut self, enabled: bool) -> Self {
        self.rest.enabled = enabled;
        self
    }

    /// Sends REST requests through `http` instead of the built-in reqwest client.
    #[cfg(feature = "rest")]
    pub fn http_client(mut self, http: Arc<dyn crate::rest::HttpClient>) -> Self {
        self.rest.http = Some(http);
        self
    }

    /// Timeouts, retries, archive format and download caps of the REST client.
    #[cfg(feature = "rest")]
    pub fn rest_options(mut self, options: crate::rest::RestOptions) -> Self {
        self.rest.options = options;
        self
    }

    /// Loads env.json and schema.json and opens log.json; any invalid file is an error naming it.
    ///
    /// First it runs the start-up guard's check ([`crate::firmware::guard::check_at_start`]): after an
    /// update whose new executable was not confirmed, it restores the previous one and execs it.
    pub fn build(self) -> Result<PepeunitClient> {
        let settings = Settings::load(&self.env_path)?;
        let schema = Schema::load(&self.schema_path)?;
        let logger = Logger::open(&self.log_path, logger_config(&settings.current()))?;
        crate::firmware::guard::check_at_start(&logger)?;
        #[cfg(feature = "rest")]
        let rest = self.rest.build(&settings, &logger)?;
        // Both transports on: the REST layer runs update/env_update/schema_update unless the user
        // gave a hook of their own.
        #[cfg(all(feature = "mqtt", feature = "rest"))]
        let mqtt = match rest {
            Some(_) => self
                .mqtt
                .or_commands(crate::rest::commands::default_commands),
            None => self.mqtt,
        };
        #[cfg(all(feature = "mqtt", not(feature = "rest")))]
        let mqtt = self.mqtt;
        Ok(PepeunitClient {
            inner: Arc::new(Inner {
                settings,
                schema,
                logger,
                state_probe: Mutex::new(StateProbe::new()),
                restart_mode: self.restart_mode,
                update_options: self.update_options,
                #[cfg(feature = "rest")]
                rest,
                #[cfg(feature = "mqtt")]
                mqtt: mqtt.build(),
            }),
        })
    }
}

/// The unit's handle on its settings, topics, log, state and program files.
#[derive(Clone)]
pub struct PepeunitClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    schema: Schema,
    logger: Logger,
    state_probe: Mutex<StateProbe>,
    restart_mode: RestartMode,
    update_options: UpdateOptions,
    #[cfg(feature = "rest")]
    rest: Option<crate::rest::RestApi>,
    #[cfg(feature = "mqtt")]
    mqtt: Option<std::sync::Arc<crate::runtime::MqttRuntime>>,
}

impl PepeunitClient {
    /// Starts building a client for the unit whose files are at these paths.
    pub fn builder(
        env_path: impl Into<PathBuf>,
        schema_path: impl Into<PathBuf>,
        log_path: impl Into<PathBuf>,
    ) -> ClientBuilder {
        ClientBuilder {
            env_path: env_path.into(),
            schema_path: schema_path.into(),
            log_path: log_path.into(),
            restart_mode: RestartMode::default(),
            update_options: UpdateOptions::default(),
            #[cfg(feature = "rest")]
            rest: crate::rest::RestSetup::default(),
            #[cfg(feature = "mqtt")]
            mqtt: Default::default(),
        }
    }

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
        self.reload_settings()
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
        let report = match update::update_device_program(
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
        let mode = self.restart_mode();
        if mode == RestartMode::ReloadOnly {
            self.reload_settings()?;
            self.inner.schema.update_from_file()?;
        }
        if mode.is_process() {
            self.announce_restart();
        }
        self.restart_after_update(None)?;
        Ok(report)
    }

    /// Logs that the program restarts after an update (before the caller's clean stop, so the line
    /// still reaches `log/pepeunit`).
    pub(crate) fn announce_restart(&self) {
        let mode = self.inner.restart_mode;
        self.logger()
            .info(format!("Restarting after the update ({mode:?})"));
    }

    /// Brings an installed update into effect per the restart mode, once the caller has stopped
    /// cleanly: `ReloadOnly` and `None` only log (the files are already reloaded); the process modes
    /// flush the log and restart, under the start-up guard when the executable was replaced, and
    /// return only on failure.
    pub(crate) fn restart_after_update(
        &self,
        executable: Option<&crate::firmware::ReplacedExecutable>,
    ) -> Result<()> {
        let mode = self.inner.restart_mode;
        let logger = self.logger();
        match (mode, executable) {
            (RestartMode::ReloadOnly, _) => {
                logger.info("Update in effect: env and schema reloaded (restart mode ReloadOnly)");
                Ok(())
            }
            (RestartMode::None, _) => {
                logger.info("Update installed; restart mode None: the program is not restarted");
                Ok(())
            }
            (_, Some(executable)) => {
                let _ = logger.flush();
                let grace = self.inner.update_options.startup_grace;
                crate::firmware::guard::restart_guarded(mode, executable, grace)
            }
            (_, None) => {
                let _ = logger.flush();
                update::restart_process(mode)
            }
        }
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

    /// The MQTT runtime, or [`crate::Error::MqttDisabled`] when the client was built without it.
    #[cfg(feature = "mqtt")]
    pub(crate) fn mqtt_runtime(&self) -> Result<&crate::runtime::MqttRuntime> {
        self.inner.mqtt.as_deref().ok_or(crate::Error::MqttDisabled)
    }

    /// Re-reads env.json and re-derives everything that depends on it.
    pub(crate) fn reload_settings(&self) -> Result<()> {
        self.inner.settings.update_from_file()?;
        self.inner
            .logger
            .set_config(logger_config(&self.inner.settings.current()));
        Ok(())
    }
}

fn logger_config(env: &Env) -> LoggerConfig {
    LoggerConfig {
        min_level: env.min_log_level,
        max_length: env.max_log_length,
    }
}
