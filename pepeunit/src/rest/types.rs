//! Typed results of the REST calls (PROTOCOL §7). Unknown fields are ignored, and fields a backend
//! release may leave out have defaults, so a newer backend does not break an older unit.

use serde::Deserialize;
use serde_json::Value;

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
