//! The platform commands that need REST (PROTOCOL §5), minus MQTT: `update/pepeunit`,
//! `env_update/pepeunit` and `schema_update/pepeunit`. Each returns what changed, so the MQTT runtime
//! only has to act on it (reconnect, resubscribe, restart).
//!
//! A failure at any step is logged through the unit logger and leaves the program's files, the running
//! executable and the settings in force as they were.

use std::fs;
use std::path::Path;

use crate::client::PepeunitClient;
use crate::error::{Error, Result};
use crate::files;
use crate::firmware;
use crate::schema::Topics;
use crate::settings::Env;
use crate::update::{self, Loaded, UpdateReport};

pub use crate::firmware::ReplacedExecutable;
pub use crate::update::{EnvChange, SchemaChange, UpdateCommand};

/// What [`PepeunitClient::apply_update_command`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// env.json already names the command's version (and version checks are on): nothing done.
    UpToDate {
        /// The version in force.
        version: String,
    },
    /// The new version is installed and env.json and schema.json are reloaded. The caller reconnects
    /// and resubscribes as the changes say, then restarts per the restart mode (a compiled unit must:
    /// the new binary only runs after a restart).
    Applied(Box<AppliedUpdate>),
}

/// The details of an applied update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedUpdate {
    /// `PU_COMMIT_VERSION` before.
    pub from_version: String,
    /// `PU_COMMIT_VERSION` now (from the archive's env.json).
    pub to_version: String,
    /// What the archive changed in the program directory.
    pub files: UpdateReport,
    /// A compiled unit's executable that was replaced, and where the old one is kept.
    pub executable: Option<ReplacedExecutable>,
    /// What the new env.json changed.
    pub env: EnvChange,
    /// How the subscriptions must change for the new schema.json.
    pub schema: SchemaChange,
}

/// The commands of PROTOCOL §5 that need REST.
impl PepeunitClient {
    /// `env_update/pepeunit`: downloads env.json (URL from the env in force), checks it is usable,
    /// atomically replaces the live file and reloads the settings. On failure nothing changes.
    pub async fn apply_env_update(&self) -> Result<EnvChange> {
        let result = self.replace_env().await;
        log_outcome(self, "Env update", &result);
        result
    }

    /// `schema_update/pepeunit`: downloads schema.json, checks it, atomically replaces the live file and
    /// reloads the schema; says which topics to subscribe to and unsubscribe from.
    pub async fn apply_schema_update(&self) -> Result<SchemaChange> {
        let result = async {
            let text = self.fetch_schema().await?;
            let before = Loaded::take(self);
            files::write_atomic(self.schema().path(), text.as_bytes())?;
            self.schema().update_from_file()?;
            Ok(before.schema_change(self))
        }
        .await;
        log_outcome(self, "Schema update", &result);
        result
    }

    /// `update/pepeunit` without the restart: version check (unless [`super::RestOptions::check_version`]
    /// is off) → download the archive → unpack and check its env.json/schema.json → for a compiled
    /// unit, download and check the binary and swap it in for the running executable → apply the
    /// archive (staging, swap, rollback) → reload env and schema. Any failure undoes what was done.
    pub async fn apply_update_command(&self, command: &UpdateCommand) -> Result<UpdateOutcome> {
        let logger = self.logger();
        let current = self.settings().current().commit_version.clone();
        let check = self.rest_api()?.options.check_version;
        if check && command.version.as_deref() == Some(current.as_str()) {
            logger.info(format!("No update needed: already at version {current}"));
            return Ok(UpdateOutcome::UpToDate { version: current });
        }
        let target = command.version.as_deref().unwrap_or("(unspecified)");
        logger.info(format!("Update from {current} to {target} started"));
        let result = self.update_to(command).await;
        match &result {
            Ok(applied) => logger.info(format!(
                "Update to {} applied: {}",
                applied.to_version, applied.files
            )),
            Err(e) => logger.error(format!("Update to {target} failed: {e}")),
        }
        result.map(|applied| UpdateOutcome::Applied(Box::new(applied)))
    }

    /// The Python client's `perform_update`: asks the backend for the unit's target version
    /// ([`PepeunitClient::get_target_version`]) and runs the `update/pepeunit` flow to it — version
    /// check, download, checked apply, reload; with MQTT on, the subscriptions follow the new schema —
    /// then restarts per the restart mode (a process restart does not return). The target version
    /// carries no firmware link: a compiled unit's new binary only comes with the `update` command.
    pub async fn perform_update(&self) -> Result<UpdateOutcome> {
        let target = self.get_target_version().await?;
        self.logger().info(format!(
            "Update to {} requested (target version)",
            target.commit
        ));
        let command = UpdateCommand {
            version: Some(target.commit),
            compiled_firmware_link: None,
        };
        #[cfg(feature = "mqtt")]
        if self.mqtt_runtime().is_ok() {
            let work = self.apply_update_command(&command);
            return crate::runtime::reload_then_restart(self, work, super::commands::after_update)
                .await;
        }
        let outcome = self.apply_update_command(&command).await?;
        if let UpdateOutcome::Applied(applied) = &outcome {
            if self.restart_mode().is_process() {
                self.announce_restart();
            }
            self.restart_after_update(applied.executable.as_ref())?;
        }
        Ok(outcome)
    }

    /// Downloads a compiled unit's binary from a public `url` (no auth header) to `dest`, checks it is a
    /// complete executable of this platform (`Content-Length`, non-empty, ELF of this machine) and makes
    /// it executable. On failure `dest` does not exist.
    pub async fn download_firmware(&self, url: &str, dest: &Path) -> Result<u64> {
        let bytes = self.rest_api()?.download_public(url, dest).await?;
        let checked =
            firmware::check_executable(dest).and_then(|()| firmware::make_executable(dest));
        if let Err(e) = checked {
            let _ = fs::remove_file(dest);
            return Err(e);
        }
        Ok(bytes)
    }

    async fn replace_env(&self) -> Result<EnvChange> {
        let text = self.fetch_env().await?;
        let before = Loaded::take(self);
        files::write_atomic(self.settings().path(), text.as_bytes())?;
        self.reload_settings()?;
        Ok(before.env_change(self))
    }

    async fn update_to(&self, command: &UpdateCommand) -> Result<AppliedUpdate> {
        let program_dir = self.program_dir();
        let archive = files::temp_sibling(&program_dir.join("pepeunit-update-archive"));
        let result = async {
            let bytes = self.download_update(&archive).await?;
            self.logger()
                .info(format!("Update archive downloaded ({bytes} bytes)"));
            let executable = match &command.compiled_firmware_link {
                Some(link) => Some(self.replace_executable(link).await?),
                None => None,
            };
            let applied = self.apply_archive(&archive, &program_dir).await;
            match (applied, &executable) {
                (Err(e), Some(exe)) => Err(match exe.restore() {
                    Ok(()) => e,
                    Err(restore) => Error::Update(format!(
                        "{e}; restoring the executable failed too: {restore}"
                    )),
                }),
                (result, _) => result.map(|report| (report, executable)),
            }
        }
        .await;
        let _ = fs::remove_file(&archive);
        let (files, executable) = result?;
        let from_version = self.settings().current().commit_version.clone();
        let before = Loaded::take(self);
        self.reload_settings()?;
        self.schema().update_from_file()?;
        Ok(AppliedUpdate {
            from_version,
            to_version: self.settings().current().commit_version.clone(),
            files,
            executable,
            env: before.env_change(self),
            schema: before.schema_change(self),
        })
    }

    /// Applies the archive, refusing it unless its env.json and schema.json (when present) would load.
    ///
    /// Unpacking and swapping is blocking file work of any size: it runs on tokio's blocking pool, so
    /// the MQTT connection sharing this runtime keeps being polled meanwhile.
    async fn apply_archive(&self, archive: &Path, program_dir: &Path) -> Result<UpdateReport> {
        let (archive, program_dir) = (archive.to_path_buf(), program_dir.to_path_buf());
        let options = self.update_options().clone();
        tokio::task::spawn_blocking(move || apply_checked_archive(&archive, &program_dir, &options))
            .await
            .map_err(|e| Error::Update(format!("applying the archive stopped: {e}")))?
    }

    /// Downloads and checks the new binary beside the running executable, then swaps it in. Refused
    /// while the previous update's binary is still on probation (see [`firmware::guard`]).
    async fn replace_executable(&self, link: &str) -> Result<ReplacedExecutable> {
        let mut replaced = ReplacedExecutable::beside(&update::current_exe()?);
        let exe = &replaced.path.clone();
        if firmware::guard::on_probation(exe) {
            return Err(Error::Update(format!(
                "{} is still within the grace period of the previous update",
                exe.display()
            )));
        }
        let new = files::temp_sibling(exe);
        let result = async {
            let bytes = self.download_firmware(link, &new).await?;
            self.logger().info(format!(
                "New executable downloaded and checked ({bytes} bytes)"
            ));
            replaced.keep_copy(self.settings().path())?;
            replaced.keep_copy(self.schema().path())?;
            firmware::replace_exe(exe, &new, &replaced.backup)
        }
        .await;
        let _ = fs::remove_file(&new);
        result?;
        self.logger().info(format!(
            "Executable {} replaced; the previous one is kept as {}",
            exe.display(),
            replaced.backup.display()
        ));
        Ok(replaced)
    }
}

fn check_env(text: &str, source: &str) -> Result<()> {
    Env::parse(text, source)?.unit_uuid().map(drop)
}

fn check_schema(text: &str, source: &str) -> Result<()> {
    Topics::parse(text, source).map(drop)
}

fn log_outcome<T>(client: &PepeunitClient, what: &str, result: &Result<T>) {
    match result {
        Ok(_) => client.logger().info(format!("{what} applied")),
        Err(e) => client.logger().error(format!("{what} failed: {e}")),
    }
}

/// [`update::update_device_program_checked`] with the check that the archive's env.json and schema.json
/// (when present) would load.
fn apply_checked_archive(
    archive: &Path,
    program_dir: &Path,
    options: &update::UpdateOptions,
) -> Result<UpdateReport> {
    update::update_device_program_checked(archive, program_dir, options, |staged| {
        for (name, check) in [
            ("env.json", check_env as fn(&str, &str) -> Result<()>),
            ("schema.json", check_schema),
        ] {
            let path = staged.join(name);
            if path.exists() {
                check(&files::read_text(&path)?, &format!("the archive's {name}"))?;
            }
        }
        Ok(())
    })
}
