//! The REST half of the client's API (cargo feature `rest`): the builder's REST options and the calls
//! of PROTOCOL §7 and §7a as methods, each forwarding to the client's `RestApi` ([`crate::rest`]).

use std::path::Path;
use std::sync::Arc;

use super::{ClientBuilder, PepeunitClient};
use crate::command::Command;
use crate::error::Result;
use crate::log_level::LogLevel;
use crate::rest::{
    DataPipeQuery, HttpClient, InstanceInfo, LogQuery, Order, PipeData, RestOptions, TargetVersion,
    Unit, UnitLog, UnitLogs, UnitNode, UnitNodes, Units,
};

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

    /// Runs only compiled updates signed with `key` (PROTOCOL §8a): the new binary's
    /// `<COMPILED_FIRMWARE_LINK>.minisig` must verify, for the link's asset and the command's
    /// `PU_COMMIT_VERSION`, before anything changes. Without a key updates run unsigned, with a
    /// warning each time.
    pub fn update_key(mut self, key: crate::update::UpdateKey) -> Self {
        self.update_key = Some(key);
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

    /// Loads every stored state made so far (`#[pepeunit::main]` makes each declared one first) from
    /// the state storage and starts saving their changes; later calls do nothing. A state that cannot
    /// be loaded starts from `Default` with a Warning; a stored state on a client built without REST
    /// is [`Error::StoredStateWithoutRest`](crate::Error::StoredStateWithoutRest).
    pub async fn load_stored_states(&self) -> Result<()> {
        self.inner.states.stored.load(self).await
    }

    /// Saves the stored states changed since the last save now (after the save in flight, if any):
    /// what a clean stop and a restart do. Failures are logged.
    pub async fn flush_stored_states(&self) {
        self.inner.states.stored.save(self).await
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

    /// A unit by uuid, with its last state and update status (`GET /units/{uuid}`), if the token may
    /// see it: Public and Internal units, Private ones it has a permission for (itself, and the
    /// input side's unit of an edge from one of its outputs). An unknown uuid is the backend's 422
    /// "The object does not exist"; a Private unit without permission its 403.
    pub async fn get_unit(&self, uuid: &str) -> Result<Unit> {
        self.rest_api()?.get_unit(uuid).await
    }

    /// A unit node by uuid (`GET /unit_nodes/{uuid}`), visible under the same rule as
    /// [`PepeunitClient::get_unit`]. Its `state` is the node's last value: what DataPipe's
    /// `LastValue` would give (the backend answers that query with a 500, so it is not offered).
    /// The backend answers an unknown uuid with a 500 too: that one is not retried and reads "not
    /// found or not visible".
    pub async fn get_unit_node(&self, uuid: &str) -> Result<UnitNode> {
        self.rest_api()?.get_unit_node(uuid).await
    }

    /// Writes `state` (`None` clears it) to an input node, this unit's or another's
    /// (`PATCH /unit_nodes/set_state_input/{uuid}`, never retried): the backend publishes it as it
    /// is to the node's topic and stores it. Allowed on Input nodes whose `is_rewritable_input` is
    /// on (else 403) and that pass the visibility rule; an output node is a 422.
    ///
    /// The backend (1.2.0) then stores the node rebuilt with its defaults — visibility Public,
    /// `is_rewritable_input` off, DataPipe off — and returns it so: a second write may get the 403
    /// until the node's owner turns `is_rewritable_input` on again. This looks like a backend bug;
    /// the call follows what the backend does.
    pub async fn set_state_input(&self, node_uuid: &str, state: Option<&str>) -> Result<UnitNode> {
        self.rest_api()?.set_state_input(node_uuid, state).await
    }

    /// Has the backend send `command` to this unit's own `input_base_topic`
    /// (`POST /units/send_command_to_input_base_topic/{uuid}`, never retried): `Update` with the
    /// target version, `EnvUpdate`, `SchemaUpdate` — nothing is sent when the schema lacks that
    /// topic. **`LogSync` first deletes the instance's stored copy of this unit's log**, then asks
    /// the unit to publish its whole log.json again. `Reset` is refused before any request: the
    /// backend's route cannot ask for it.
    pub async fn send_command(&self, command: Command) -> Result<()> {
        self.rest_api()?.send_command(command).await
    }

    /// One page of this unit's log as the instance keeps it (24 h; `GET /units/log_list/`). A page
    /// larger than 500 is refused before the request.
    pub async fn log_list(&self, query: &LogQuery) -> Result<UnitLogs> {
        self.rest_api()?.log_list(query).await
    }

    /// Every entry of this unit's stored log at `levels` (empty: all), page after page.
    pub async fn log_list_all(&self, levels: &[LogLevel], order: Order) -> Result<Vec<UnitLog>> {
        self.rest_api()?.log_list_all(levels, order).await
    }

    /// One page of a node's DataPipe records (`GET /unit_nodes/get_data_pipe_data/`): any node, no
    /// visibility check. `query` is an [`NRecordsQuery`](crate::rest::NRecordsQuery),
    /// [`TimeWindowQuery`](crate::rest::TimeWindowQuery) or
    /// [`AggregationQuery`](crate::rest::AggregationQuery); for the last value read
    /// [`PepeunitClient::get_unit_node`]'s `state`. With DataPipe off on the instance
    /// ([`PepeunitClient::instance_info`]) the backend answers 405.
    pub async fn data_pipe_data<Q: DataPipeQuery>(
        &self,
        node_uuid: &str,
        query: &Q,
    ) -> Result<PipeData<Q::Record>> {
        self.rest_api()?.data_pipe_data(node_uuid, query).await
    }

    /// Every record [`PepeunitClient::data_pipe_data`] would give for `query`'s filters (its page
    /// is ignored), page after page.
    pub async fn data_pipe_data_all<Q: DataPipeQuery>(
        &self,
        node_uuid: &str,
        query: &Q,
    ) -> Result<Vec<Q::Record>> {
        self.rest_api()?.data_pipe_data_all(node_uuid, query).await
    }

    /// A node's DataPipe records as the CSV text of the backend's export
    /// (`GET /unit_nodes/get_data_pipe_data_csv/{uuid}`): a header of the record's fields, then one
    /// row per record, oldest first. The ZIP is streamed to a temp file beside env.json and
    /// unpacked there, each capped by [`RestOptions::max_csv_bytes`]. The backend's 422s: the node's
    /// pipeline is not active, not configured, a `LastValue` one, or has no data yet.
    pub async fn data_pipe_csv(&self, node_uuid: &str) -> Result<String> {
        self.rest_api()?.data_pipe_csv(node_uuid).await
    }

    /// What the instance runs (`GET {PU_APP_PREFIX}`, no token): its version and feature flags, so
    /// a unit can tell DataPipe is off before it asks for data.
    pub async fn instance_info(&self) -> Result<InstanceInfo> {
        self.rest_api()?.instance_info().await
    }
}
