//! The calls of PROTOCOL §7a on the instance, with the backend's rules (1.2.0): the visibility rule
//! V and the permission rows edges give, `send_command` and `log_list` for the own uuid only,
//! `set_state_input` on rewritable inputs (publishing as the backend does, then storing the node
//! rebuilt with its defaults), the trailing-slash routes, and the backend's 403/405/422/500 bodies.
//! DataPipe's two routes are in `data_pipe.rs`.

use bytes::Bytes;
use hyper::{Method, StatusCode};
use rumqttc::QoS;
use serde_json::{Value, json};

use super::data_pipe;
use super::datetime;
use super::records::{MAX_CONNECTIONS, NodeState, PipePolicy, Visibility};
use super::replies::{
    Query, Reply, body_state, error, internal_error, invalid_uuid, is_uuid, no_content,
    object_does_not_exist, ok_json, order, paging, uuid_param, validation,
};
use super::units::{Node, NodeKind, Registry, TestUnit, UnitRecord, UpdateStatus, node_topic};
use super::{Instance, Shared, command_message, node_named, node_of, record_of};
use crate::error::Result;
use pepeunit::Command;

/// The instance's user who "created" every unit and node (the backend returns a creator uuid).
const CREATOR: &str = "00000000-0000-4000-8000-000000000001";
/// The repository every unit "comes from".
const REPO: &str = "00000000-0000-4000-8000-000000000002";
/// How long the instance keeps a unit's log entries.
const LOG_KEPT_SECS: i64 = 24 * 3600;

/// A node as `GET /unit_nodes/{uuid}` (and every listing) gives it.
pub(crate) fn node_json(registry: &Registry, record: &UnitRecord, node: &Node) -> Value {
    let state = registry.reach.node(&node.uuid, &node.name);
    json!({
        "uuid": node.uuid,
        "type": node.kind.as_str(),
        "visibility_level": state.visibility.as_str(),
        "is_rewritable_input": state.rewritable,
        "max_connections": state.max_connections,
        "topic_name": node.name,
        "last_update_datetime": state.updated.as_deref().unwrap_or(&record.created),
        "is_data_pipe_active": state.pipe.is_some(),
        "data_pipe_yml": state.pipe.map(PipePolicy::config_json),
        "data_pipe_status": if state.pipe.is_some() { "Active" } else { "Inactive" },
        "data_pipe_error": null,
        "create_datetime": record.created,
        "state": state.state,
        "unit_uuid": record.unit.uuid,
        "creator_uuid": CREATOR,
    })
}

/// A unit as `GET /units/{uuid}` (and `GET /units`) gives it, with `nodes` as its `unit_nodes`.
pub(crate) fn unit_json(registry: &Registry, record: &UnitRecord, nodes: Vec<Value>) -> Value {
    let (status, last_update) = match &record.update_status {
        UpdateStatus::Idle => (None, None),
        UpdateStatus::RequestSent { .. } => (Some("RequestSent"), Some(&record.created)),
        UpdateStatus::Success { .. } => (Some("Success"), Some(&record.created)),
    };
    json!({
        "uuid": record.unit.uuid,
        "visibility_level": registry.reach.unit_visibility(&record.unit.uuid).as_str(),
        "name": record.unit.name,
        "create_datetime": record.created,
        "is_auto_update_from_repo_unit": true,
        "target_firmware_platform": null,
        "repo_branch": null,
        "repo_commit": null,
        "unit_state": record.last_state.as_ref().map(|(s, _)| s.clone()),
        "current_commit_version": record.current_commit,
        "last_update_datetime": record.created,
        "creator_uuid": CREATOR,
        "repo_uuid": REPO,
        "firmware_update_status": status,
        "firmware_update_error": null,
        "last_firmware_update_datetime": last_update,
        "unit_nodes": nodes,
    })
}

/// An API request as the routes below need it.
pub(crate) struct Call<'a> {
    pub(crate) method: &'a Method,
    pub(crate) parts: &'a [&'a str],
    pub(crate) query: &'a Query,
    /// The calling unit's uuid (its token was checked).
    pub(crate) caller: &'a str,
    pub(crate) body: &'a [u8],
    /// `http(s)://host:port` as the caller reached the instance: where compiled binaries are.
    pub(crate) origin: &'a str,
}

/// Serves the §7a routes; `None` for any other route.
pub(crate) fn route(shared: &Shared, registry: &mut Registry, call: &Call<'_>) -> Option<Reply> {
    let reply = match (call.method, call.parts) {
        (&Method::GET, ["units", "log_list", ""]) => log_list(registry, call),
        (&Method::GET, ["units", uuid]) => with_uuid(uuid, |u| get_unit(registry, call, u)),
        (&Method::POST, ["units", "send_command_to_input_base_topic", uuid]) => {
            with_uuid(uuid, |u| send_command(shared, registry, call, u))
        }
        (&Method::GET, ["unit_nodes", "get_data_pipe_data", ""]) => {
            data_pipe::data(registry, call.query)
        }
        (&Method::GET, ["unit_nodes", "get_data_pipe_data_csv", uuid]) => {
            with_uuid(uuid, |u| data_pipe::csv(registry, u))
        }
        (&Method::PATCH, ["unit_nodes", "set_state_input", uuid]) => {
            with_uuid(uuid, |u| set_state_input(shared, registry, call, u))
        }
        (&Method::GET, ["unit_nodes", uuid]) => {
            with_uuid(uuid, |u| get_unit_node(registry, call, u))
        }
        _ => return None,
    };
    Some(reply)
}

/// FastAPI's 422 for a path uuid that is not one; else `f(uuid)`.
fn with_uuid(uuid: &str, f: impl FnOnce(&str) -> Reply) -> Reply {
    if is_uuid(uuid) {
        f(uuid)
    } else {
        invalid_uuid("path")
    }
}

/// `GET /units/{uuid}`: 422 when unknown, then rule V.
fn get_unit(registry: &Registry, call: &Call<'_>, uuid: &str) -> Reply {
    let Some(record) = registry.units.get(uuid) else {
        return object_does_not_exist();
    };
    let visibility = registry.reach.unit_visibility(uuid);
    if let Some(reply) = invisible(visibility, || may_see_unit(registry, call.caller, uuid)) {
        return reply;
    }
    ok_json(&unit_json(registry, record, Vec::new()))
}

/// `GET /unit_nodes/{uuid}`: the backend fails on an unknown node before it can say so (500).
fn get_unit_node(registry: &Registry, call: &Call<'_>, uuid: &str) -> Reply {
    let Some((record, node)) = registry.node(uuid) else {
        return internal_error();
    };
    let visibility = registry.reach.node(&node.uuid, &node.name).visibility;
    if let Some(reply) = invisible(visibility, || may_see_node(registry, call.caller, uuid)) {
        return reply;
    }
    ok_json(&node_json(registry, record, node))
}

/// `PATCH /unit_nodes/set_state_input/{uuid}`: publish, then store the node rebuilt with defaults.
fn set_state_input(shared: &Shared, registry: &mut Registry, call: &Call<'_>, uuid: &str) -> Reply {
    let state = match body_state(call.body, true) {
        Ok(state) => state,
        Err(reply) => return *reply,
    };
    let Some((_, node)) = registry.node(uuid) else {
        return object_does_not_exist();
    };
    let node = node.clone();
    if node.kind != NodeKind::Input {
        let msg = format!("8: UnitNode Validation Error: This Node {uuid} is not Input");
        return error(StatusCode::UNPROCESSABLE_ENTITY, &msg);
    }
    let current = registry.reach.node(&node.uuid, &node.name);
    if !current.rewritable {
        return error(
            StatusCode::FORBIDDEN,
            "1: No Access: The Unit requesting the information does not have access to it",
        );
    }
    let visible = || may_see_node(registry, call.caller, uuid);
    if let Some(reply) = invisible(current.visibility, visible) {
        return reply;
    }
    let topic = node_topic(&shared.topic_domain, &node);
    let payload = Bytes::from(state.clone().unwrap_or_default());
    if let Some(reply) = publish(shared, &topic, payload) {
        return reply;
    }
    *registry.reach.node_mut(&node.uuid, &node.name) = NodeState {
        visibility: Visibility::Public,
        rewritable: false,
        max_connections: MAX_CONNECTIONS,
        state,
        updated: Some(datetime::format_secs(datetime::now_secs())),
        pipe: None,
    };
    let record = registry.node(uuid).map(|(record, _)| record);
    match record {
        Some(record) => ok_json(&node_json(registry, record, &node)),
        None => internal_error(),
    }
}

/// `POST /units/send_command_to_input_base_topic/{uuid}?command=…`: the own uuid only; nothing is
/// sent when the schema lacks the topic.
fn send_command(shared: &Shared, registry: &mut Registry, call: &Call<'_>, uuid: &str) -> Reply {
    let command = match call.query.get("command").and_then(|v| v.first()) {
        None => return validation("query", "command", "missing", "Field required"),
        // The backend's enum lacks Reset.
        Some(word) => match Command::ALL
            .into_iter()
            .find(|c| *c != Command::Reset && c.as_str() == word)
        {
            Some(command) => command,
            None => {
                return validation(
                    "query",
                    "command",
                    "enum",
                    "Input should be 'Update', 'EnvUpdate', 'SchemaUpdate' or 'LogSync'",
                );
            }
        },
    };
    let Some(record) = registry.units.get_mut(uuid) else {
        return object_does_not_exist();
    };
    if uuid != call.caller {
        return not_the_unit(call.caller, registry);
    }
    if let Some((topic, payload)) =
        command_message(&shared.topic_domain, call.origin, record, command)
        && let Some(reply) = publish(shared, &topic, Bytes::from(payload))
    {
        return reply;
    }
    no_content()
}

/// `GET /units/log_list/?uuid=<own>&level=…&order_by_create_date=…&offset=…&limit=…`.
fn log_list(registry: &Registry, call: &Call<'_>) -> Reply {
    let uuid = match uuid_param(call.query) {
        Ok(uuid) => uuid,
        Err(reply) => return *reply,
    };
    const LEVELS: [&str; 5] = ["Debug", "Info", "Warning", "Error", "Critical"];
    let levels: Vec<&str> = match call.query.get("level") {
        None => LEVELS.to_vec(),
        Some(levels) => {
            if levels.iter().any(|l| !LEVELS.contains(&l.as_str())) {
                return validation(
                    "query",
                    "level",
                    "enum",
                    "Input should be 'Debug', 'Info', 'Warning', 'Error' or 'Critical'",
                );
            }
            levels.iter().map(String::as_str).collect()
        }
    };
    let descending = match order(call.query) {
        Ok(descending) => descending,
        Err(reply) => return *reply,
    };
    let (offset, limit) = match paging(call.query) {
        Ok(paging) => paging,
        Err(reply) => return *reply,
    };
    let Some(record) = registry.units.get(uuid) else {
        return object_does_not_exist();
    };
    if uuid != call.caller {
        return not_the_unit(call.caller, registry);
    }
    let mut logs: Vec<Value> = record
        .logs
        .iter()
        .enumerate()
        .filter(|(_, e)| levels.iter().any(|l| e["level"] == *l))
        .map(|(i, entry)| stored_log(uuid, i, entry))
        .collect();
    if descending {
        logs.reverse();
    }
    let count = logs.len();
    let logs: Vec<Value> = logs
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    ok_json(&json!({ "count": count, "unit_logs": logs }))
}

/// A log entry as the instance keeps it: with a uuid, its unit and when it expires.
fn stored_log(unit: &str, index: usize, entry: &Value) -> Value {
    let created = entry["create_datetime"]
        .as_str()
        .and_then(datetime::parse_secs)
        .unwrap_or_else(datetime::now_secs);
    // Unique within the unit's stored log, which is all an answer needs.
    let unit_part = unit.get(..8).unwrap_or("00000000");
    json!({
        "uuid": format!("{unit_part}-0000-4000-8000-{index:012x}"),
        "level": entry["level"],
        "unit_uuid": unit,
        "text": entry["text"],
        "create_datetime": datetime::format_secs(created),
        "expiration_datetime": datetime::format_secs(created + LOG_KEPT_SECS),
    })
}

/// Rule V for an entity of `visibility`: the 403 when the caller may not see it; `permitted` says
/// whether the caller has a permission row.
fn invisible(visibility: Visibility, permitted: impl FnOnce() -> bool) -> Option<Reply> {
    (visibility == Visibility::Private && !permitted()).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "1: No Access: Private visibility level is not allowed",
        )
    })
}

/// The unit of node `node_uuid`.
fn unit_of(registry: &Registry, node_uuid: &str) -> Option<String> {
    registry.node(node_uuid).map(|(r, _)| r.unit.uuid.clone())
}

/// A permission row for `caller` on unit `uuid`: itself, or the input side's unit of an edge from
/// one of its outputs (the backend gives the output side's unit that row, not the other way).
fn may_see_unit(registry: &Registry, caller: &str, uuid: &str) -> bool {
    uuid == caller
        || registry.links.iter().any(|(output, input)| {
            unit_of(registry, output).as_deref() == Some(caller)
                && unit_of(registry, input).as_deref() == Some(uuid)
        })
}

/// A permission row for `caller` on node `uuid`: its own node, or the other side's node of an edge
/// with one of its nodes.
fn may_see_node(registry: &Registry, caller: &str, uuid: &str) -> bool {
    unit_of(registry, uuid).as_deref() == Some(caller)
        || registry.links.iter().any(|(output, input)| {
            (input == uuid && unit_of(registry, output).as_deref() == Some(caller))
                || (output == uuid && unit_of(registry, input).as_deref() == Some(caller))
        })
}

/// Publishes from the backend's client; the backend's 422 "MQTT Error" when that fails.
fn publish(shared: &Shared, topic: &str, payload: Bytes) -> Option<Reply> {
    let sent = shared
        .backend
        .try_publish(topic, QoS::AtMostOnce, false, payload);
    sent.err().map(|e| {
        let msg = format!("10: MQTT Error: Error when publish message to topic {topic}: {e}");
        error(StatusCode::UNPROCESSABLE_ENTITY, &msg)
    })
}

/// The backend's 403 for a unit asking about another unit's own things.
fn not_the_unit(caller: &str, registry: &Registry) -> Reply {
    let name = registry
        .units
        .get(caller)
        .map(|r| r.unit.name.as_str())
        .unwrap_or_default();
    let msg = format!(
        "1: No Access: The Unit {name} requesting the information does not have access to it"
    );
    error(StatusCode::FORBIDDEN, &msg)
}

/// Tests set what units do not: visibility, `is_rewritable_input`; and read a node's last value.
impl Instance {
    /// Sets the unit's visibility level (default Public).
    pub fn set_unit_visibility(&self, unit: &TestUnit, visibility: Visibility) -> Result<()> {
        let mut registry = self.shared.registry();
        record_of(&registry, unit)?;
        registry.reach.units.insert(unit.uuid.clone(), visibility);
        Ok(())
    }

    /// Sets the visibility level of the unit's node for topic name `name` (default Public).
    pub fn set_node_visibility(
        &self,
        unit: &TestUnit,
        name: &str,
        visibility: Visibility,
    ) -> Result<()> {
        self.change_node(unit, name, |state| state.visibility = visibility)
    }

    /// Lets other units write the unit's input `name` with `set_state_input` (default off, as the
    /// backend creates nodes). The backend turns it off again at each write.
    pub fn set_rewritable_input(&self, unit: &TestUnit, name: &str, on: bool) -> Result<()> {
        let input = node_of(unit, name, NodeKind::Input)?;
        let mut registry = self.shared.registry();
        let node = registry
            .node(&input)
            .map(|(_, n)| n.clone())
            .ok_or_else(|| super::unknown_unit(unit))?;
        registry.reach.node_mut(&node.uuid, &node.name).rewritable = on;
        Ok(())
    }

    /// The last value the instance stored for the unit's node `name` (from `set_state_input`, or a
    /// message on a `…/pepeunit` node's topic).
    pub fn node_state(&self, unit: &TestUnit, name: &str) -> Result<Option<String>> {
        let registry = self.shared.registry();
        let node = node_named(&registry, unit, name)?;
        Ok(registry.reach.node(&node.uuid, &node.name).state)
    }

    /// Applies `change` to the stored settings of the unit's node `name`.
    pub(crate) fn change_node(
        &self,
        unit: &TestUnit,
        name: &str,
        change: impl FnOnce(&mut NodeState),
    ) -> Result<()> {
        let mut registry = self.shared.registry();
        let node = node_named(&registry, unit, name)?;
        change(registry.reach.node_mut(&node.uuid, &node.name));
        Ok(())
    }
}

/// Stores a message on a `domain/<node>/pepeunit` topic as the node's last value, as the backend
/// does for the nodes whose topic ends in `/pepeunit`.
pub(crate) fn record_node_value(registry: &mut Registry, topic: &str, payload: &[u8]) {
    let [_, uuid, "pepeunit"] = topic.split('/').collect::<Vec<_>>()[..] else {
        return;
    };
    let Some((_, node)) = registry.node(uuid) else {
        return;
    };
    let node = node.clone();
    let state = registry.reach.node_mut(&node.uuid, &node.name);
    state.state = Some(String::from_utf8_lossy(payload).into_owned());
    state.updated = Some(datetime::format_secs(datetime::now_secs()));
}
