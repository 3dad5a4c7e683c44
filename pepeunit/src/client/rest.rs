//! The REST half of the client's API (cargo feature `rest`): the builder's REST options and the calls
//! of PROTOCOL §7 as methods, each forwarding to the client's `RestApi` ([`crate::rest`]).

use std::path::Path;
use std::sync::Arc;

use super::{ClientBuilder, PepeunitClient};
use crate::error::Result;
use crate::rest::{HttpClient, RestOptions, TargetVersion, UnitNodes, Units};

/// REST options of the builder (cargo feature `rest`).
impl ClientBuilder {
    /// Turns the REST client on or off (default off; calls then return `Error::RestDisabled`).
    pub fn rest(mut self, enabled: bool) -> Self {
        self.rest.enabled = enabled;
        self
    }

    /// Sends REST requests through `http` instead of the built-in reqwest client.
    pub fn http_client(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.rest.http = Some(http);
        self
    }

    /// Timeouts, retries, archive format and download caps of the REST client.
    pub fn rest_options(mut self, options: RestOptions) -> Self {
        self.rest.options = options;
        self
    }
}

/// The REST calls of the client (PROTOCOL §7).
impl PepeunitClient {
    /// Downloads the update archive (format per [`RestOptions::archive`]) to `path`, streamed through a
    /// temp file beside it: `path` is either untouched or complete. Returns the bytes written.
    pub async fn download_update(&self, path: &Path) -> Result<u64> {
        self.rest_api()?.download_update(path).await
    }

    /// Downloads the unit's env.json to `path`. The body (either shape) must be a usable env — valid,
    /// with a unit token — before it atomically replaces `path`; on any failure `path` is untouched.
    pub async fn download_env(&self, path: &Path) -> Result<()> {
        self.rest_api()?.download_env(path).await
    }

    /// Downloads the unit's schema.json to `path`, validated like [`PepeunitClient::download_env`].
    pub async fn download_schema(&self, path: &Path) -> Result<()> {
        self.rest_api()?.download_schema(path).await
    }

    /// Stores `state` on the backend (at most 1,000,000 characters, else the backend's 422).
    pub async fn set_state_storage(&self, state: &str) -> Result<()> {
        self.rest_api()?.set_state_storage(state).await
    }

    /// The state stored with [`PepeunitClient::set_state_storage`] (`""` when none).
    pub async fn get_state_storage(&self) -> Result<String> {
        self.rest_api()?.get_state_storage().await
    }

    /// The input nodes fed by the output node of `topic` (a physical topic `domain/<node uuid>/…`),
    /// newest link first; `limit` ≤ 500.
    pub async fn get_input_by_output(
        &self,
        topic: &str,
        limit: u32,
        offset: u32,
    ) -> Result<UnitNodes> {
        self.rest_api()?
            .get_input_by_output(topic, limit, offset)
            .await
    }

    /// The units owning the unit nodes `node_uuids`, by name, with their output nodes; `limit` ≤ 500.
    /// No uuids gives no units (the backend would list every unit).
    pub async fn get_units_by_nodes(
        &self,
        node_uuids: &[&str],
        limit: u32,
        offset: u32,
    ) -> Result<Units> {
        self.rest_api()?
            .get_units_by_nodes(node_uuids, limit, offset)
            .await
    }

    /// The version the backend wants this unit to run.
    pub async fn get_target_version(&self) -> Result<TargetVersion> {
        self.rest_api()?.get_target_version().await
    }
}
