//! The update flows over REST (cargo feature `rest`; PROTOCOL §5 minus MQTT): `update/pepeunit`
//! (download → check → swap the executable → apply the archive → reload), `env_update/pepeunit` and
//! `schema_update/pepeunit` (download → check → replace → reload). Each returns what changed, so the
//! MQTT runtime only has to act on it (resubscribe, reconnect, restart); `perform_update` runs the
//! whole sequence itself. The client's methods (`client/update.rs`) forward here.
//!
//! A failure at any step is logged through the unit logger and leaves the program's files, the running
//! executable and the settings in force as they were.

use std::fs;
use std::path::Path;

use super::apply::{self, UpdateOptions, UpdateReport};
use super::change::{EnvChange, Loaded, SchemaChange};
use super::command::UpdateCommand;
use super::firmware::{self, ReplacedExecutable};
use super::process::current_exe;
use super::restart::restart_after_update;
use crate::client::PepeunitClient;
use crate::error::{Error, Result};
use crate::files;
use crate::schema::Topics;
use crate::settings::Env;

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

#[cfg(feature = "mqtt")]
impl UpdateOutcome {
    /// What the runtime does next: a restart (into the new executable, if there is one) once a new
    /// version is installed.
    pub(crate) fn after(&self) -> crate::runtime::AfterCommand {
        match self {
            UpdateOutcome::UpToDate { .. } => crate::runtime::AfterCommand::Continue,
            UpdateOutcome::Applied(applied) => crate::runtime::AfterCommand::Restart {
                executable: applied.executable.clone(),
            },
        }
    }
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

/// [`PepeunitClient::apply_env_update`].
pub(crate) async fn apply_env_update(client: &PepeunitClient) -> Result<EnvChange> {
    let result = replace_env(client).await;
    log_outcome(client, "Env update", &result);
    result
}

/// [`PepeunitClient::apply_schema_update`].
pub(crate) async fn apply_schema_update(client: &PepeunitClient) -> Result<SchemaChange> {
    let result = async {
        let text = client.rest_api()?.fetch_schema().await?;
        let before = Loaded::take(client);
        files::write_atomic(client.schema().path(), text.as_bytes())?;
        client.schema().update_from_file()?;
        Ok(before.schema_change(client))
    }
    .await;
    log_outcome(client, "Schema update", &result);
    result
}

/// [`PepeunitClient::apply_update_command`].
pub(crate) async fn apply_update_command(
    client: &PepeunitClient,
    command: &UpdateCommand,
) -> Result<UpdateOutcome> {
    let logger = client.logger();
    let current = client.settings().current().commit_version.clone();
    let check = match client.rest_api() {
        Ok(api) => api.options.check_version,
        Err(e) => {
            logger.error(format!("Update failed: {e}"));
            return Err(e);
        }
    };
    if check && command.version.as_deref() == Some(current.as_str()) {
        logger.info(format!("No update needed: already at version {current}"));
        return Ok(UpdateOutcome::UpToDate { version: current });
    }
    let target = command.version.as_deref().unwrap_or("(unspecified)");
    logger.info(format!("Update from {current} to {target} started"));
    let result = update_to(client, command).await;
    match &result {
        Ok(applied) => logger.info(format!(
            "Update to {} applied: {}",
            applied.to_version, applied.files
        )),
        Err(e) => logger.error(format!("Update to {target} failed: {e}")),
    }
    result.map(|applied| UpdateOutcome::Applied(Box::new(applied)))
}

/// [`PepeunitClient::perform_update`].
pub(crate) async fn perform_update(client: &PepeunitClient) -> Result<UpdateOutcome> {
    let target = client.get_target_version().await?;
    client.logger().info(format!(
        "Update to {} requested (target version)",
        target.commit
    ));
    let command = UpdateCommand {
        version: Some(target.commit),
        compiled_firmware_link: None,
    };
    #[cfg(feature = "mqtt")]
    if client.mqtt_runtime().is_ok() {
        let work = apply_update_command(client, &command);
        return crate::runtime::reload_then_restart(client, work, UpdateOutcome::after).await;
    }
    let outcome = apply_update_command(client, &command).await?;
    if let UpdateOutcome::Applied(applied) = &outcome {
        restart_after_update(client, applied.executable.as_ref()).await?;
    }
    Ok(outcome)
}

/// [`PepeunitClient::download_firmware`].
pub(crate) async fn download_firmware(
    client: &PepeunitClient,
    url: &str,
    dest: &Path,
) -> Result<u64> {
    let bytes = client.rest_api()?.download_public(url, dest).await?;
    let checked = firmware::check_executable(dest).and_then(|()| firmware::make_executable(dest));
    if let Err(e) = checked {
        let _ = fs::remove_file(dest);
        return Err(e);
    }
    Ok(bytes)
}

async fn replace_env(client: &PepeunitClient) -> Result<EnvChange> {
    let text = client.rest_api()?.fetch_env().await?;
    let before = Loaded::take(client);
    files::write_atomic(client.settings().path(), text.as_bytes())?;
    client.reload_settings()?;
    Ok(before.env_change(client))
}

async fn update_to(client: &PepeunitClient, command: &UpdateCommand) -> Result<AppliedUpdate> {
    let program_dir = client.program_dir();
    let archive = files::temp_sibling(&program_dir.join("pepeunit-update-archive"));
    let result = async {
        let bytes = client.download_update(&archive).await?;
        client
            .logger()
            .info(format!("Update archive downloaded ({bytes} bytes)"));
        let executable = match &command.compiled_firmware_link {
            Some(link) => Some(replace_executable(client, link).await?),
            None => None,
        };
        let applied = apply_archive(client, &archive, &program_dir).await;
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
    let from_version = client.settings().current().commit_version.clone();
    let before = Loaded::take(client);
    client.reload_settings()?;
    client.schema().update_from_file()?;
    Ok(AppliedUpdate {
        from_version,
        to_version: client.settings().current().commit_version.clone(),
        files,
        executable,
        env: before.env_change(client),
        schema: before.schema_change(client),
    })
}

/// Applies the archive, refusing it unless its env.json and schema.json (when present) would load.
///
/// Unpacking and swapping is blocking file work of any size: it runs on tokio's blocking pool, so
/// the MQTT connection sharing this runtime keeps being polled meanwhile.
async fn apply_archive(
    client: &PepeunitClient,
    archive: &Path,
    program_dir: &Path,
) -> Result<UpdateReport> {
    let (archive, program_dir) = (archive.to_path_buf(), program_dir.to_path_buf());
    let options = client.update_options().clone();
    tokio::task::spawn_blocking(move || apply_checked_archive(&archive, &program_dir, &options))
        .await
        .map_err(|e| Error::Update(format!("applying the archive stopped: {e}")))?
}

/// Downloads and checks the new binary beside the running executable, then swaps it in. Refused
/// while the previous update's binary is still on probation (see [`firmware::guard`]).
async fn replace_executable(client: &PepeunitClient, link: &str) -> Result<ReplacedExecutable> {
    let mut replaced = ReplacedExecutable::beside(&current_exe()?);
    let exe = &replaced.path.clone();
    if firmware::guard::on_probation(exe) {
        return Err(Error::Update(format!(
            "{} is still within the grace period of the previous update",
            exe.display()
        )));
    }
    let new = files::temp_sibling(exe);
    let result = async {
        let bytes = download_firmware(client, link, &new).await?;
        client.logger().info(format!(
            "New executable downloaded and checked ({bytes} bytes)"
        ));
        replaced.keep_copy(client.settings().path())?;
        replaced.keep_copy(client.schema().path())?;
        firmware::replace_exe(exe, &new, &replaced.backup)
    }
    .await;
    let _ = fs::remove_file(&new);
    result?;
    client.logger().info(format!(
        "Executable {} replaced; the previous one is kept as {}",
        exe.display(),
        replaced.backup.display()
    ));
    Ok(replaced)
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

/// [`apply::update_device_program_checked`] with the check that the archive's env.json and schema.json
/// (when present) would load.
fn apply_checked_archive(
    archive: &Path,
    program_dir: &Path,
    options: &UpdateOptions,
) -> Result<UpdateReport> {
    apply::update_device_program_checked(archive, program_dir, options, |staged| {
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
