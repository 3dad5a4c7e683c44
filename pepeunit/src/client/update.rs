//! The update commands of PROTOCOL §5 that need REST, as client methods (cargo feature `rest`); each
//! forwards to the update pipeline's flows (`update/flow.rs`), handing them the unit's parts.

use std::path::Path;

use super::PepeunitClient;
use crate::error::Result;
use crate::update::flow::{self, Updater};
use crate::update::{EnvChange, SchemaChange, UpdateCommand, UpdateOutcome};

/// The commands of PROTOCOL §5 that need REST.
impl PepeunitClient {
    /// `env_update/pepeunit`: downloads env.json (URL from the env in force), checks it is usable,
    /// atomically replaces the live file and reloads the settings. On failure nothing changes.
    pub async fn apply_env_update(&self) -> Result<EnvChange> {
        flow::apply_env_update(&self.updater()?).await
    }

    /// `schema_update/pepeunit`: downloads schema.json, checks it, atomically replaces the live file and
    /// reloads the schema; says which topics to subscribe to and unsubscribe from.
    pub async fn apply_schema_update(&self) -> Result<SchemaChange> {
        flow::apply_schema_update(&self.updater()?).await
    }

    /// `update/pepeunit` without the restart: version check (unless [`crate::rest::RestOptions::check_version`]
    /// is off) → download the archive → unpack and check its env.json/schema.json → for a compiled
    /// unit, download and check the binary and swap it in for the running executable → apply the
    /// archive (staging, swap, rollback) → reload env and schema. Any failure undoes what was done.
    pub async fn apply_update_command(&self, command: &UpdateCommand) -> Result<UpdateOutcome> {
        flow::apply_update_command(&self.updater()?, command).await
    }

    /// The Python client's `perform_update`: asks the backend for the unit's target version
    /// ([`PepeunitClient::get_target_version`]) and runs the `update/pepeunit` flow to it — version
    /// check, download, checked apply, reload; with MQTT on, the subscriptions follow the new schema —
    /// then restarts per the restart mode (a process restart does not return). The target version
    /// carries no firmware link: a compiled unit's new binary only comes with the `update` command.
    pub async fn perform_update(&self) -> Result<UpdateOutcome> {
        let updater = self.updater()?;
        let command = flow::target_version_command(&updater).await?;
        // A running MQTT unit resubscribes and stops cleanly around the restart.
        #[cfg(feature = "mqtt")]
        if self.mqtt_runtime().is_ok() {
            let work = flow::apply_update_command(&updater, &command);
            return crate::runtime::reload_then_restart(self, work, crate::runtime::after_update)
                .await;
        }
        let outcome = flow::apply_update_command(&updater, &command).await?;
        if let UpdateOutcome::Applied(applied) = &outcome {
            let restart = self.restart();
            restart.announce_update(self.logger());
            restart.replace_process(self.logger(), applied.executable.as_ref())?;
        }
        Ok(outcome)
    }

    /// Downloads a compiled unit's binary from a public `url` (no auth header) to `dest`, checks it is a
    /// complete executable of this platform (`Content-Length`, non-empty, ELF of this machine) and makes
    /// it executable. On failure `dest` does not exist.
    ///
    /// A client with an update key ([`ClientBuilder::update_key`](super::ClientBuilder::update_key))
    /// runs only signed binaries: this is then an [`Error::Signature`](crate::error::Error::Signature)
    /// before any download; use [`download_signed_firmware`](Self::download_signed_firmware).
    pub async fn download_firmware(&self, url: &str, dest: &Path) -> Result<u64> {
        let key = self.inner.update_key.as_ref();
        flow::download_firmware_by_hand(self.rest_api()?, key, url, dest, None).await
    }

    /// [`download_firmware`](Self::download_firmware) of a binary signed with the client's update key
    /// for the asset at `url` (its last segment) and `commit` (PROTOCOL §8a), as an `update` command
    /// checks it: `<url>.minisig` is fetched first, the binary is verified once downloaded, and any
    /// refusal is an [`Error::Signature`](crate::error::Error::Signature) with `dest` not existing.
    /// Without an update key, that error before any download.
    pub async fn download_signed_firmware(
        &self,
        url: &str,
        dest: &Path,
        commit: &str,
    ) -> Result<u64> {
        let key = self.inner.update_key.as_ref();
        flow::download_firmware_by_hand(self.rest_api()?, key, url, dest, Some(commit)).await
    }

    /// What the update flows work with: this unit's files, logger, REST API and update options.
    fn updater(&self) -> Result<Updater<'_>> {
        Ok(Updater {
            settings: self.settings(),
            schema: self.schema(),
            logger: self.logger(),
            rest: self.rest_api()?,
            options: self.update_options(),
            update_key: self.inner.update_key.as_ref(),
        })
    }
}
