//! Typed results of the REST calls (PROTOCOL §7, §7a). Unknown fields are ignored, and fields a
//! backend release may leave out have defaults, so a newer backend does not break an older unit.
//! Datetimes are the backend's ISO 8601 text (UTC), as it sends them.

use serde::Deserialize;
use serde_json::Value;

use crate::log_level::LogLevel;

/// Whether a unit node is an input or an output of its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum UnitNodeType {
    /// An input topic of its unit.
    Input,
    /// An output topic of its unit.
    Output,
    /// A type this library does not know yet.
    #[serde(other)]
    Other,
}

/// One unit node: a topic of a unit (`GET /unit_nodes`, and inside [`Unit::unit_nodes`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UnitNode {
    /// The node's uuid: the 2nd level of its physical topic.
    pub uuid: String,
    /// Input or output.
    #[serde(rename = "type")]
    pub node_type: UnitNodeType,
    /// The topic name in the unit's schema (`input/pepeunit`).
    pub topic_name: String,
    /// `Public`, `Internal` or `Private`.
    #[serde(default)]
    pub visibility_level: String,
    /// The last value the backend stored for the node, if any.
    #[serde(default)]
    pub state: Option<String>,
    /// The uuid of the unit the node belongs to.
    pub unit_uuid: String,
    /// Whether the backend may overwrite the input's value.
    #[serde(default)]
    pub is_rewritable_input: bool,
    /// When the node was created (ISO 8601, UTC).
    #[serde(default)]
    pub create_datetime: Option<String>,
    /// When the node last changed (its value or its settings).
    #[serde(default)]
    pub last_update_datetime: Option<String>,
    /// How many edges the node may have (incoming for an input, outgoing for an output).
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Whether DataPipe processes the node's values.
    #[serde(default)]
    pub is_data_pipe_active: bool,
    /// The node's DataPipe configuration (the backend's JSON text), when it has one.
    #[serde(default)]
    pub data_pipe_yml: Option<String>,
    /// The DataPipe worker's status for the node.
    #[serde(default)]
    pub data_pipe_status: Option<String>,
    /// The DataPipe worker's error, when its status is an error.
    #[serde(default)]
    pub data_pipe_error: Option<String>,
    /// The user who created the node's unit.
    #[serde(default)]
    pub creator_uuid: Option<String>,
}

/// A page of unit nodes and the total count.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UnitNodes {
    /// How many nodes match in total (all pages).
    pub count: u64,
    /// The nodes of this page.
    pub unit_nodes: Vec<UnitNode>,
}

/// A unit as `GET /units` lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Unit {
    /// The unit's uuid.
    pub uuid: String,
    /// The unit's name.
    pub name: String,
    /// `Public`, `Internal` or `Private`.
    #[serde(default)]
    pub visibility_level: String,
    /// The last state the unit sent (PROTOCOL §6), as the backend stores it.
    #[serde(default)]
    pub unit_state: Option<Value>,
    /// The commit the unit reported running, if any.
    #[serde(default)]
    pub current_commit_version: Option<String>,
    /// The unit's output nodes (asked for with `is_include_output_unit_nodes=true`).
    #[serde(default)]
    pub unit_nodes: Vec<UnitNode>,
    /// When the unit was created (ISO 8601, UTC).
    #[serde(default)]
    pub create_datetime: Option<String>,
    /// When the unit's record last changed.
    #[serde(default)]
    pub last_update_datetime: Option<String>,
    /// Whether the unit follows its repository's default branch or latest tag.
    #[serde(default)]
    pub is_auto_update_from_repo_unit: Option<bool>,
    /// The release asset name the unit runs (compiled programs).
    #[serde(default)]
    pub target_firmware_platform: Option<String>,
    /// The branch the unit follows, when not auto-updated.
    #[serde(default)]
    pub repo_branch: Option<String>,
    /// The commit the unit is pinned to, when not auto-updated.
    #[serde(default)]
    pub repo_commit: Option<String>,
    /// The user who created the unit.
    #[serde(default)]
    pub creator_uuid: Option<String>,
    /// The repository the unit's program comes from.
    #[serde(default)]
    pub repo_uuid: Option<String>,
    /// How the last update request went.
    #[serde(default)]
    pub firmware_update_status: Option<FirmwareUpdateStatus>,
    /// Why the last update request failed, when it did.
    #[serde(default)]
    pub firmware_update_error: Option<String>,
    /// When the last update request was sent.
    #[serde(default)]
    pub last_firmware_update_datetime: Option<String>,
}

/// How a unit's last update request went (PROTOCOL §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FirmwareUpdateStatus {
    /// Sent; the unit has not reported the target version yet.
    RequestSent,
    /// No state reported the target version in time, or the command could not be sent.
    Error,
    /// A state reported the target version.
    Success,
    /// A status this library does not know yet.
    #[serde(other)]
    Other,
}

/// A page of units and the total count.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Units {
    /// How many units match in total (all pages).
    pub count: u64,
    /// The units of this page.
    pub units: Vec<Unit>,
}

/// The version the backend wants the unit to run (`GET /units/get_target_version`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TargetVersion {
    /// The target commit SHA.
    pub commit: String,
    /// Its tag, when it has one.
    #[serde(default)]
    pub tag: Option<String>,
}

/// One entry of the unit's log as the instance keeps it (24 h), from `log_list`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UnitLog {
    /// The entry's uuid on the instance.
    pub uuid: String,
    /// Its level.
    pub level: LogLevel,
    /// The unit that sent it.
    pub unit_uuid: String,
    /// Its text.
    pub text: String,
    /// When it was logged.
    pub create_datetime: String,
    /// When the instance deletes it.
    pub expiration_datetime: String,
}

/// A page of the unit's stored log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UnitLogs {
    /// How many entries match in total (all pages).
    pub count: u64,
    /// The entries of this page.
    pub unit_logs: Vec<UnitLog>,
}

/// What DataPipe made of a text value: a number or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum StateType {
    /// The value parses as a number.
    Number,
    /// Any other value.
    Text,
    /// A type this library does not know yet.
    #[serde(other)]
    Other,
}

/// A value kept by a node's `NRecords` pipeline (its last `max_count` values).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NRecord {
    /// The node.
    pub unit_node_uuid: String,
    /// The value, as it arrived.
    pub state: String,
    /// Number or text.
    pub state_type: StateType,
    /// When it arrived.
    pub create_datetime: String,
    /// How many values the pipeline keeps.
    pub max_count: u64,
    /// The value's size in bytes.
    pub size: u64,
}

/// A value kept by a node's `TimeWindow` pipeline (values younger than its window).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WindowRecord {
    /// The node.
    pub unit_node_uuid: String,
    /// The value, as it arrived.
    pub state: String,
    /// Number or text.
    pub state_type: StateType,
    /// When it arrived.
    pub create_datetime: String,
    /// When the pipeline drops it.
    pub expiration_datetime: String,
    /// The value's size in bytes.
    pub size: u64,
}

/// One aggregate of a node's `Aggregation` pipeline: a function over one time window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AggregateRecord {
    /// The node.
    pub unit_node_uuid: String,
    /// The aggregate's value.
    pub state: f64,
    /// Which function made it.
    pub aggregation_type: AggregationFunction,
    /// The window's length in seconds.
    pub time_window_size: u64,
    /// When it was computed.
    pub create_datetime: String,
    /// Where its window starts.
    pub start_window_datetime: String,
    /// Where its window ends.
    pub end_window_datetime: String,
}

/// The functions an `Aggregation` pipeline applies over each window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum AggregationFunction {
    /// The mean.
    Avg,
    /// The least value.
    Min,
    /// The greatest value.
    Max,
    /// The sum.
    Sum,
}

impl AggregationFunction {
    /// The backend's spelling (`Avg`, `Min`, `Max`, `Sum`).
    pub fn as_str(self) -> &'static str {
        match self {
            AggregationFunction::Avg => "Avg",
            AggregationFunction::Min => "Min",
            AggregationFunction::Max => "Max",
            AggregationFunction::Sum => "Sum",
        }
    }
}

/// A page of DataPipe records and the total count.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PipeData<T> {
    /// How many records match in total (all pages).
    pub count: u64,
    /// The records of this page.
    pub pipe_data: Vec<T>,
}

/// What the instance says about itself at its root (no token needed).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InstanceInfo {
    /// The instance's name.
    #[serde(default)]
    pub name: String,
    /// The backend's version, e.g. `1.2.0`.
    pub version: String,
    /// The instance's description.
    #[serde(default)]
    pub description: Option<String>,
    /// Which optional features the instance runs; `None` on backends that do not say.
    #[serde(default)]
    pub feature_flags: Option<FeatureFlags>,
}

/// The instance's feature flags (`pu_ff_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct FeatureFlags {
    /// DataPipe: with it off the DataPipe calls answer 405.
    #[serde(rename = "pu_ff_datapipe_enable")]
    pub datapipe: bool,
    /// New `…/pepeunit` nodes get a LastValue pipeline.
    #[serde(rename = "pu_ff_datapipe_default_last_value_enable")]
    pub datapipe_default_last_value: bool,
    /// The Telegram bot.
    #[serde(rename = "pu_ff_telegram_bot_enable")]
    pub telegram_bot: bool,
    /// The Grafana dashboards.
    #[serde(rename = "pu_ff_grafana_integration_enable")]
    pub grafana_integration: bool,
    /// The Prometheus metrics.
    #[serde(rename = "pu_ff_prometheus_enable")]
    pub prometheus: bool,
}
