//! The update flows over REST (cargo feature `rest`; PROTOCOL §5 minus MQTT): `update/pepeunit`
//! (download → check → swap the executable → apply the archive → reload), `env_update/pepeunit` and
//! `schema_update/pepeunit` (download → check → replace → reload). A compiled unit's new binary is
//! first verified against its author's signature (`signature.rs`) when the unit has an update key. Each returns what changed, so the
//! MQTT runtime only has to act on it (resubscribe, reconnect, restart). The flows take an
//! [`Updater`] — the unit's files, logger, REST API and update options — not the client, whose methods
//! (`client/update.rs`) forward here.
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
use super::signature::{self, SignedFor, UpdateKey};
use crate::error::{Error, Result};
use crate::files;
use crate::logger::Logger;
use crate::rest::RestApi;
use crate::schema::{Schema, Topics};
use crate::settings::{Env, Settings};

/// What the update flows work with.
#[derive(Clone, Copy)]
pub(crate) struct Updater<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) schema: &'a Schema,
    pub(crate) logger: &'a Logger,
    pub(crate) rest: &'a RestApi,
    pub(crate) options: &'a UpdateOptions,
    /// The key a compiled update must be signed with; `None` runs unsigned binaries (with a warning).
    pub(crate) update_key: Option<&'a UpdateKey>,
}

impl Updater<'_> {
    /// The directory holding env.json: the program directory that updates replace.
    fn program_dir(&self) -> std::path::PathBuf {
        files::parent_dir(self.settings.path())
    }

    fn loaded(&self) -> Loaded {
        Loaded::take(self.settings, self.schema)
    }

    fn log_outcome<T>(&self, what: &str, result: &Result<T>) {
        match result {
            Ok(_) => self.logger.info(format!("{what} applied")),
            Err(e) => self.logger.error(format!("{what} failed: {e}")),
        }
    }
}

/// What an `update/pepeunit` command did.
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

/// `env_update/pepeunit`: downloads env.json, checks it, replaces the live file and reloads.
pub(crate) async fn apply_env_update(updater: &Updater<'_>) -> Result<EnvChange> {
    let result = async {
        let text = updater.rest.fetch_env().await?;
        let before = updater.loaded();
        files::write_atomic(updater.settings.path(), text.as_bytes())?;
        updater.settings.update_from_file()?;
        Ok(before.env_change(updater.settings))
    }
    .await;
    updater.log_outcome("Env update", &result);
    result
}

/// `schema_update/pepeunit`: downloads schema.json, checks it, replaces the live file and reloads.
pub(crate) async fn apply_schema_update(updater: &Updater<'_>) -> Result<SchemaChange> {
    let result = async {
        let text = updater.rest.fetch_schema().await?;
        let before = updater.loaded();
        files::write_atomic(updater.schema.path(), text.as_bytes())?;
        updater.schema.update_from_file()?;
        Ok(before.schema_change(updater.schema))
    }
    .await;
    updater.log_outcome("Schema update", &result);
    result
}

/// `update/pepeunit` without the restart: version check, download, checked apply, reload.
pub(crate) async fn apply_update_command(
    updater: &Updater<'_>,
    command: &UpdateCommand,
) -> Result<UpdateOutcome> {
    let logger = updater.logger;
    let current = updater.settings.current().commit_version.clone();
    if updater.rest.options.check_version && command.version.as_deref() == Some(current.as_str()) {
        logger.info(format!("No update needed: already at version {current}"));
        return Ok(UpdateOutcome::UpToDate { version: current });
    }
    let target = command.version.as_deref().unwrap_or("(unspecified)");
    logger.info(format!("Update from {current} to {target} started"));
    let result = update_to(updater, command).await;
    match &result {
        Ok(applied) => logger.info(format!(
            "Update to {} applied: {}",
            applied.to_version, applied.files
        )),
        Err(e) => logger.error(format!("Update to {target} failed: {e}")),
    }
    result.map(|applied| UpdateOutcome::Applied(Box::new(applied)))
}

/// The command `perform_update` runs: the update to the backend's target version (it carries no
/// firmware link: a compiled unit's binary only comes with the `update` command).
pub(crate) async fn target_version_command(updater: &Updater<'_>) -> Result<UpdateCommand> {
    let target = updater.rest.get_target_version().await?;
    updater.logger.info(format!(
        "Update to {} requested (target version)",
        target.commit
    ));
    Ok(UpdateCommand {
        version: Some(target.commit),
        compiled_firmware_link: None,
    })
}

/// Downloads a compiled unit's binary from the public `url` to `dest` and checks it — its signature
/// first, when `signed` gives the key and what it must be signed for — is a complete executable of this
/// platform; on failure `dest` does not exist.
pub(crate) async fn download_firmware(
    rest: &RestApi,
    url: &str,
    dest: &Path,
    signed: Option<(&UpdateKey, &SignedFor)>,
) -> Result<u64> {
    // The signature comes first: a missing one costs no binary download.
    let signature = match signed {
        Some(_) => Some(fetch_signature(rest, url).await?),
        None => None,
    };
    let bytes = rest.download_public(url, dest).await?;
    let verified = match (signed, signature) {
        (Some((key, signed_for)), Some(text)) => verify(key, dest, text, signed_for, url).await,
        _ => Ok(()),
    };
    let checked = verified
        .and_then(|()| firmware::check_executable(dest))
        .and_then(|()| firmware::make_executable(dest));
    if let Err(e) = checked {
        let _ = fs::remove_file(dest);
        return Err(e);
    }
    Ok(bytes)
}

/// [`download_firmware`] as a unit calls it by hand: a client with an update `key` takes only a binary
/// signed for the asset at `url` and `commit`, and one without a key cannot check a `commit`; either
/// mismatch is refused before anything is downloaded.
pub(crate) async fn download_firmware_by_hand(
    rest: &RestApi,
    key: Option<&UpdateKey>,
    url: &str,
    dest: &Path,
    commit: Option<&str>,
) -> Result<u64> {
    let refused = |reason: &str| Error::Signature {
        url: signature::shown_signature_url(url),
        reason: reason.into(),
    };
    match (key, commit) {
        (Some(key), Some(commit)) => {
            let signed_for = SignedFor::update(url, commit);
            download_firmware(rest, url, dest, Some((key, &signed_for))).await
        }
        (None, None) => download_firmware(rest, url, dest, None).await,
        (Some(_), None) => Err(refused(
            "this client has an update key and runs only signed binaries: \
             download_signed_firmware checks the signature for a commit",
        )),
        (None, Some(_)) => Err(refused(
            "no update_key to check the signature with (ClientBuilder::update_key)",
        )),
    }
}

/// The text of `<url>.minisig` (PROTOCOL §8a), fetched without the auth header like the binary.
async fn fetch_signature(rest: &RestApi, url: &str) -> Result<String> {
    let (base, query) = url.split_at(url.find(['?', '#']).unwrap_or(url.len()));
    let signature_url = format!("{base}.minisig{query}");
    let refused = |reason: String| Error::Signature {
        url: signature::shown_signature_url(url),
        reason,
    };
    let body = rest
        .get_public(&signature_url, signature::MAX_SIGNATURE_BYTES)
        .await
        .map_err(|e| match e {
            Error::Backend { status: 404, .. } => refused("missing".into()),
            other => refused(format!("unreadable: {other}")),
        })?;
    String::from_utf8(body).map_err(|_| refused("unreadable: not text".into()))
}

/// Verifies the downloaded binary at `path` on tokio's blocking pool (it reads the whole file).
async fn verify(
    key: &UpdateKey,
    path: &Path,
    signature: String,
    signed_for: &SignedFor,
    url: &str,
) -> Result<()> {
    let (key, path, signed_for) = (key.clone(), path.to_path_buf(), signed_for.clone());
    let refusal = tokio::task::spawn_blocking(move || key.refusal(&path, &signature, &signed_for))
        .await
        .map_err(|e| Error::Update(format!("verifying the signature stopped: {e}")))?;
    refusal.map_err(|reason| Error::Signature {
        url: signature::shown_signature_url(url),
        reason,
    })
}

async fn update_to(updater: &Updater<'_>, command: &UpdateCommand) -> Result<AppliedUpdate> {
    let program_dir = updater.program_dir();
    let archive = files::temp_sibling(&program_dir.join("pepeunit-update-archive"));
    let result = async {
        let bytes = updater.rest.download_update(&archive).await?;
        updater
            .logger
            .info(format!("Update archive downloaded ({bytes} bytes)"));
        let executable = match &command.compiled_firmware_link {
            Some(link) => Some(replace_executable(updater, link, command).await?),
            None => None,
        };
        let applied = apply_archive(updater.options, &archive, &program_dir).await;
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
    let from_version = updater.settings.current().commit_version.clone();
    let before = updater.loaded();
    updater.settings.update_from_file()?;
    updater.schema.update_from_file()?;
    Ok(AppliedUpdate {
        from_version,
        to_version: updater.settings.current().commit_version.clone(),
        files,
        executable,
        env: before.env_change(updater.settings),
        schema: before.schema_change(updater.schema),
    })
}

/// Applies the archive, refusing it unless its env.json and schema.json (when present) would load.
///
/// Unpacking and swapping is blocking file work of any size: it runs on tokio's blocking pool, so
/// the MQTT connection sharing this runtime keeps being polled meanwhile.
async fn apply_archive(
    options: &UpdateOptions,
    archive: &Path,
    program_dir: &Path,
) -> Result<UpdateReport> {
    let (archive, program_dir) = (archive.to_path_buf(), program_dir.to_path_buf());
    let options = options.clone();
    tokio::task::spawn_blocking(move || apply_checked_archive(&archive, &program_dir, &options))
        .await
        .map_err(|e| Error::Update(format!("applying the archive stopped: {e}")))?
}

/// Downloads and checks the new binary beside the running executable, then swaps it in. Refused
/// while the previous update's binary is still on probation (see [`firmware::guard`]).
async fn replace_executable(
    updater: &Updater<'_>,
    link: &str,
    command: &UpdateCommand,
) -> Result<ReplacedExecutable> {
    let mut replaced = ReplacedExecutable::beside(&current_exe()?);
    let exe = &replaced.path.clone();
    if firmware::guard::on_probation(exe) {
        return Err(Error::Update(format!(
            "{} is still within the grace period of the previous update",
            exe.display()
        )));
    }
    let new = files::temp_sibling(exe);
    let signed_for = SignedFor::update(link, command.version.as_deref().unwrap_or_default());
    let signed = updater.update_key.map(|key| (key, &signed_for));
    if signed.is_none() {
        updater.logger.warning("unsigned update: no update_key");
    }
    let result = async {
        let bytes = download_firmware(updater.rest, link, &new, signed).await?;
        updater.logger.info(format!(
            "New executable downloaded and checked ({bytes} bytes)"
        ));
        replaced.keep_copy(updater.settings.path())?;
        replaced.keep_copy(updater.schema.path())?;
        firmware::replace_exe(exe, &new, &replaced.backup)
    }
    .await;
    let _ = fs::remove_file(&new);
    result?;
    updater.logger.info(format!(
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
