//! What the instance stores beside the units' records, as plain data: who may see each unit and
//! node, each node's settings and last value, and the DataPipe records tests put in. The routes that
//! read and change them (`reach.rs`, `data_pipe.rs`) sit above the registry that holds them.

use std::collections::HashMap;

use serde_json::json;

/// Who may see a unit or a node (rule V): units see Public and Internal ones, and Private ones they
/// have a permission row for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Anyone.
    #[default]
    Public,
    /// Any user or unit of the instance.
    Internal,
    /// Only who has a permission row: the unit itself for its own nodes, and the sides of an edge.
    Private,
}

impl Visibility {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "Public",
            Visibility::Internal => "Internal",
            Visibility::Private => "Private",
        }
    }
}

/// Edges a node may have unless its owner changed it (the backend's default).
pub(crate) const MAX_CONNECTIONS: u32 = 10;

/// What §7a's calls read and change, beside the units' records.
#[derive(Default)]
pub(crate) struct Reach {
    pub(crate) units: HashMap<String, Visibility>,
    pub(crate) nodes: HashMap<String, NodeState>,
    /// The DataPipe records tests put in, and the feature flag.
    pub(crate) data_pipe: Store,
}

/// A node's settings and last value as the backend stores them.
#[derive(Debug, Clone)]
pub(crate) struct NodeState {
    pub(crate) visibility: Visibility,
    pub(crate) rewritable: bool,
    pub(crate) max_connections: u32,
    /// The last value (what DataPipe's LastValue reads).
    pub(crate) state: Option<String>,
    pub(crate) updated: Option<String>,
    /// The node's active pipeline, `None` when DataPipe is off for it.
    pub(crate) pipe: Option<PipePolicy>,
}

impl NodeState {
    /// A new node: Public, not rewritable; a `…/pepeunit` node gets a LastValue pipeline (the
    /// backend's `pu_ff_datapipe_default_last_value_enable`).
    pub(crate) fn new(name: &str) -> NodeState {
        NodeState {
            visibility: Visibility::Public,
            rewritable: false,
            max_connections: MAX_CONNECTIONS,
            state: None,
            updated: None,
            pipe: name.ends_with("/pepeunit").then_some(PipePolicy::LastValue),
        }
    }
}

impl Reach {
    pub(crate) fn unit_visibility(&self, uuid: &str) -> Visibility {
        self.units.get(uuid).copied().unwrap_or_default()
    }

    /// The stored state of node `uuid` (topic name `name`), or a new node's.
    pub(crate) fn node(&self, uuid: &str, name: &str) -> NodeState {
        self.nodes
            .get(uuid)
            .cloned()
            .unwrap_or_else(|| NodeState::new(name))
    }

    /// [`Reach::node`], to change it.
    pub(crate) fn node_mut(&mut self, uuid: &str, name: &str) -> &mut NodeState {
        self.nodes
            .entry(uuid.to_owned())
            .or_insert_with(|| NodeState::new(name))
    }
}

/// The pipeline a node runs (its DataPipe `processing_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipePolicy {
    /// Keeps the last value only (the node's `state`); what new `…/pepeunit` nodes get.
    LastValue,
    /// Keeps the last `count` values.
    NRecords {
        /// How many values.
        count: u32,
    },
    /// Keeps the values younger than `seconds`.
    TimeWindow {
        /// The window's length.
        seconds: u32,
    },
    /// Aggregates the values over windows of `seconds`.
    Aggregation {
        /// The window's length.
        seconds: u32,
    },
}

impl PipePolicy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            PipePolicy::LastValue => "LastValue",
            PipePolicy::NRecords { .. } => "NRecords",
            PipePolicy::TimeWindow { .. } => "TimeWindow",
            PipePolicy::Aggregation { .. } => "Aggregation",
        }
    }

    /// The node's `data_pipe_yml` as the backend stores it (JSON text), reduced to the policy.
    pub(crate) fn config_json(self) -> String {
        let (count, window) = match self {
            PipePolicy::NRecords { count } => (Some(count), None),
            PipePolicy::TimeWindow { seconds } | PipePolicy::Aggregation { seconds } => {
                (None, Some(seconds))
            }
            PipePolicy::LastValue => (None, None),
        };
        json!({"processing_policy": {
            "policy_type": self.name(),
            "n_records_count": count,
            "time_window_size": window,
        }})
        .to_string()
    }
}

/// An aggregation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregationType {
    /// The mean.
    Avg,
    /// The least value.
    Min,
    /// The greatest value.
    Max,
    /// The sum.
    Sum,
}

impl AggregationType {
    pub(crate) const ALL: [AggregationType; 4] = [
        AggregationType::Avg,
        AggregationType::Min,
        AggregationType::Max,
        AggregationType::Sum,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AggregationType::Avg => "Avg",
            AggregationType::Min => "Min",
            AggregationType::Max => "Max",
            AggregationType::Sum => "Sum",
        }
    }
}

/// One aggregate a test puts in: `kind` of the values in the window of `window_seconds` ending at
/// `window_end` (the backend's datetime, e.g. from [`super::datetime_ago`]), computed then.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The function.
    pub kind: AggregationType,
    /// Its value.
    pub value: f64,
    /// The window's length in seconds.
    pub window_seconds: u32,
    /// Where the window ends (and when the aggregate was computed).
    pub window_end: String,
}

/// A kept value (`NRecords`, `TimeWindow`).
#[derive(Debug, Clone)]
pub(crate) struct ValueRow {
    pub(crate) state: String,
    pub(crate) created: i64,
}

/// An aggregate, its datetimes in seconds.
#[derive(Debug, Clone)]
pub(crate) struct AggregateRow {
    pub(crate) kind: AggregationType,
    pub(crate) value: f64,
    pub(crate) window: u32,
    pub(crate) end: i64,
}

/// What one node's pipelines hold.
#[derive(Debug, Default)]
pub(crate) struct NodeData {
    pub(crate) n_records: Vec<ValueRow>,
    pub(crate) windows: Vec<ValueRow>,
    pub(crate) aggregates: Vec<AggregateRow>,
}

/// Every node's DataPipe records, and whether the instance runs DataPipe.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) disabled: bool,
    pub(crate) nodes: HashMap<String, NodeData>,
}

impl Store {
    /// `pu_ff_datapipe_enable`.
    pub(crate) fn enabled(&self) -> bool {
        !self.disabled
    }
}
