//! [`ClientBuilder`]: the options every client has and [`ClientBuilder::build`]; the transports' options
//! are in `mqtt.rs` and `rest.rs`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Inner, PepeunitClient};
use crate::error::Result;
use crate::logger::{Logger, LoggerConfig};
use crate::schema::Schema;
use crate::settings::{Env, Settings};
use crate::state::StateProbe;
use crate::update::{RestartMode, UpdateOptions};

/// Builds a [`PepeunitClient`] from the paths of the unit's three files.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    env_path: PathBuf,
    schema_path: PathBuf,
    log_path: PathBuf,
    restart_mode: RestartMode,
    update_options: UpdateOptions,
    #[cfg(feature = "rest")]
    pub(super) rest: crate::rest::RestSetup,
    #[cfg(feature = "rest")]
    pub(super) update_key: Option<crate::update::UpdateKey>,
    #[cfg(feature = "mqtt")]
    pub(super) mqtt: crate::runtime::MqttSetup,
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

    /// Loads env.json and schema.json and opens log.json; any invalid file is an error naming it.
    ///
    /// First it runs the start-up guard's check (`update/firmware/guard.rs`): after an
    /// update whose new executable was not confirmed, it restores the previous one and execs it.
    pub fn build(self) -> Result<PepeunitClient> {
        let settings = Settings::load(&self.env_path)?;
        let schema = Schema::load(&self.schema_path)?;
        let logger = Logger::open(&self.log_path, logger_config(&settings.current()))?;
        // The logger follows every reload of env.json, whoever makes it.
        let follower = logger.clone();
        settings.on_change(move |env| follower.set_config(logger_config(env)));
        crate::update::firmware::guard::check_at_start(&logger)?;
        #[cfg(feature = "rest")]
        let rest = self.rest.build(&settings, &logger)?;
        // Both transports on: the REST layer runs update/env_update/schema_update unless the user
        // gave a hook of their own.
        #[cfg(all(feature = "mqtt", feature = "rest"))]
        let mqtt = match rest {
            Some(_) => self
                .mqtt
                .or_commands(|| Arc::new(crate::runtime::RestCommands)),
            None => self.mqtt,
        };
        #[cfg(all(feature = "mqtt", not(feature = "rest")))]
        let mqtt = self.mqtt;
        #[cfg(feature = "mqtt")]
        let mqtt = mqtt.build(&logger);
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
                #[cfg(feature = "rest")]
                update_key: self.update_key,
                #[cfg(feature = "mqtt")]
                mqtt,
                states: Default::default(),
            }),
        })
    }
}

fn logger_config(env: &Env) -> LoggerConfig {
    LoggerConfig {
        min_level: env.min_log_level,
        max_length: env.max_log_length,
    }
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
            #[cfg(feature = "rest")]
            update_key: None,
            #[cfg(feature = "mqtt")]
            mqtt: Default::default(),
        }
    }
}
