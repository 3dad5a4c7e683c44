//! The REST endpoints of PROTOCOL §7 on hyper (http1), with the backend's token check, error bodies and
//! response shapes.
//!
//! hyper was chosen over axum because reqwest already puts hyper, hyper-util and http-body-util in the
//! graph: the server costs their `server` features only, and a dozen fixed routes need no router crate.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::reach::{self, node_json, unit_json};
use super::replies::{
    Query, Reply, body_state, bytes_reply, error, invalid_uuid, is_uuid, json_reply, ok_json,
    pretty, validation,
};
use super::units::{NodeKind, Registry, UnitRecord};
use super::{BackendEra, Fault, Shared, archive, pyjson};

/// The app prefix (`PU_APP_PREFIX`) the instance serves under.
pub(crate) const APP_PREFIX: &str = "/pepeunit";
/// The API prefix (`PU_API_ACTUAL_PREFIX`).
pub(crate) const API_PREFIX: &str = "/api/v1";
/// Where compiled binaries are served (no auth, like a release asset).
pub(crate) const COMPILED_PREFIX: &str = "/testkit/compiled";
/// The backend's cap on a stored state (characters).
const MAX_STATE_CHARS: usize = 1_000_000;
/// The backend's cap on `limit`.
const MAX_LIMIT: usize = 500;

/// Serves one HTTP request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let method = req.method().clone();
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Where the caller reached the instance (through its link): the origin of compiled binaries.
    let scheme = if shared.options.tls { "https" } else { "http" };
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin = format!("{scheme}://{host}");
    let reply = if method == Method::GET && (path == APP_PREFIX || path == format!("{APP_PREFIX}/"))
    {
        instance_info(&shared)
    } else if let Some(rest) = path.strip_prefix(COMPILED_PREFIX) {
        compiled(&shared, rest)
    } else if let Some(route) = path.strip_prefix(&format!("{APP_PREFIX}{API_PREFIX}")) {
        if let Some(fault) = shared.take_fault(route) {
            return Ok(fault_reply(fault));
        }
        let body = if method == Method::POST || method == Method::PATCH {
            match Limited::new(req.into_body(), 8 * MAX_STATE_CHARS)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    return Ok(validation(
                        "body",
                        "body",
                        "json_invalid",
                        "Body too large or unreadable",
                    ));
                }
            }
        } else {
            Bytes::new()
        };
        api(
            &shared,
            &method,
            route,
            &query,
            token.as_deref(),
            &body,
            &origin,
        )
    } else {
        not_found()
    };
    Ok(reply)
}

fn api(
    shared: &Shared,
    method: &Method,
    route: &str,
    query: &Query,
    token: Option<&str>,
    body: &[u8],
    origin: &str,
) -> Reply {
    let mut registry = shared.registry();
    let Some(caller) = token
        .and_then(|t| registry.unit_of_token(t))
        .map(str::to_string)
    else {
        return error(StatusCode::FORBIDDEN, "1: No Access: Invalid token");
    };
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let call = reach::Call {
        method,
        parts: &parts,
        query,
        caller: &caller,
        body,
        origin,
    };
    if let Some(reply) = reach::route(shared, &mut registry, &call) {
        return reply;
    }
    match (method, parts.as_slice()) {
        (&Method::GET, ["unit_nodes"]) => unit_nodes(&registry, query),
        (&Method::GET, ["units"]) => units(&registry, query),
        (_, ["units", action @ .., uuid]) => {
            if !is_uuid(uuid) {
                return invalid_uuid("path");
            }
            let Some(record) = registry.units.get(*uuid) else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "2: Validation Error: The object does not exist",
                );
            };
            if record.unit.uuid != caller {
                return error(
                    StatusCode::FORBIDDEN,
                    "1: No Access: Available only for a docked Unit",
                );
            }
            let era = shared.options.backend_era;
            match (method, action) {
                (&Method::GET, ["env"]) => shaped(era, &registry.env(record)),
                (&Method::GET, ["get_current_schema"]) => {
                    shaped(era, &registry.schema(record, &shared.topic_domain))
                }
                (&Method::GET, ["firmware", format]) => {
                    firmware(shared, &registry, record, format, query)
                }
                (&Method::GET, ["get_target_version"]) => ok_json(&json!({
                    "commit": record.target_commit,
                    "tag": record.program.as_ref().and_then(|p| p.tag.clone()),
                })),
                (&Method::GET, ["get_state_storage"]) => ok_json(&json!(record.state_storage)),
                (&Method::POST, ["set_state_storage"]) => {
                    let uuid = record.unit.uuid.clone();
                    drop(registry);
                    set_state_storage(shared, &uuid, body)
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// env/schema in the era's shape: a JSON object (≥ 1.1) or a JSON string holding `json.dumps` (≤ 1.0).
fn shaped(era: BackendEra, value: &Value) -> Reply {
    match era {
        BackendEra::V1_1 => ok_json(value),
        BackendEra::V1_0 => ok_json(&Value::String(pyjson::dumps(value))),
    }
}

fn firmware(
    shared: &Shared,
    registry: &Registry,
    record: &UnitRecord,
    format: &str,
    query: &Query,
) -> Reply {
    let env = pretty(&registry.env(record));
    let schema = pretty(&registry.schema(record, &shared.topic_domain));
    let program = record
        .program
        .as_ref()
        .filter(|p| p.compiled_binary.is_none());
    let tree = program
        .map(|p| p.tree.clone())
        .unwrap_or_default()
        .with_file("env.json", env.into_bytes())
        .with_file("schema.json", schema.into_bytes());
    let built = match format {
        "tar" => archive::tar(&tree),
        "zip" => archive::zip(&tree),
        "tgz" => {
            let wbits = match int_param(query, "wbits", 9) {
                Ok(v) => v,
                Err(reply) => return *reply,
            };
            let level = match int_param(query, "level", 9) {
                Ok(v) => v,
                Err(reply) => return *reply,
            };
            if !archive::valid_wbits(wbits) {
                let available: Vec<i32> = (-15..=-9).chain(9..=15).chain(25..=31).collect();
                let msg = format!(
                    "7: Unit Validation Error: Wbits {wbits} is not valid, available {available:?}"
                );
                return error(StatusCode::UNPROCESSABLE_ENTITY, &msg);
            }
            if !archive::valid_level(level) {
                let available: Vec<i32> = (-1..=9).collect();
                let msg = format!(
                    "7: Unit Validation Error: Level {level} is not valid, available {available:?}"
                );
                return error(StatusCode::UNPROCESSABLE_ENTITY, &msg);
            }
            archive::tar(&tree).and_then(|tar| archive::compress(&tar, wbits, level))
        }
        _ => return not_found(),
    };
    match built {
        Ok(bytes) => bytes_reply(bytes),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("0: Archive Error: {e}"),
        ),
    }
}

fn set_state_storage(shared: &Shared, uuid: &str, body: &[u8]) -> Reply {
    let state = match body_state(body, false) {
        Ok(state) => state.unwrap_or_default(),
        Err(reply) => return *reply,
    };
    if state.chars().count() > MAX_STATE_CHARS {
        let detail = json!({"detail": [{
            "type": "string_too_long",
            "loc": ["body", "state"],
            "msg": format!("String should have at most {MAX_STATE_CHARS} characters"),
            "ctx": {"max_length": MAX_STATE_CHARS},
        }]});
        return json_reply(StatusCode::UNPROCESSABLE_ENTITY, &detail);
    }
    if let Some(record) = shared.registry().units.get_mut(uuid) {
        record.state_storage = state;
    }
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = StatusCode::NO_CONTENT;
    reply
}

/// `GET /unit_nodes?output_uuid=…`: the input nodes fed by an output node, newest link first.
fn unit_nodes(registry: &Registry, query: &Query) -> Reply {
    let output = query
        .get("output_uuid")
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default();
    let mut nodes: Vec<Value> = registry
        .links
        .iter()
        .filter(|(out, _)| *out == output)
        .filter_map(|(_, input)| registry.node(input))
        .map(|(record, node)| node_json(registry, record, node))
        .collect();
    if query
        .get("order_by_create_date")
        .and_then(|v| v.first())
        .is_some_and(|o| o == "desc")
    {
        nodes.reverse();
    }
    page(query, nodes, "unit_nodes")
}

/// `GET /units?unit_node_uuids=…`: the units owning the given nodes, by name.
fn units(registry: &Registry, query: &Query) -> Reply {
    let wanted = query.get("unit_node_uuids").cloned().unwrap_or_default();
    let include_outputs = query
        .get("is_include_output_unit_nodes")
        .and_then(|v| v.first())
        .is_some_and(|v| v == "true");
    let mut owners: Vec<&UnitRecord> = registry
        .units
        .values()
        .filter(|r| wanted.is_empty() || r.unit.nodes.iter().any(|n| wanted.contains(&n.uuid)))
        .collect();
    owners.sort_by(|a, b| a.unit.name.cmp(&b.unit.name));
    if query
        .get("order_by_unit_name")
        .and_then(|v| v.first())
        .is_some_and(|o| o == "desc")
    {
        owners.reverse();
    }
    let units = owners
        .into_iter()
        .map(|r| {
            let outputs: Vec<Value> = if include_outputs {
                r.unit
                    .nodes
                    .iter()
                    .filter(|n| n.kind == NodeKind::Output)
                    .map(|n| node_json(registry, r, n))
                    .collect()
            } else {
                Vec::new()
            };
            unit_json(registry, r, outputs)
        })
        .collect();
    page(query, units, "units")
}

/// `{"count": total, key: items[offset..offset+limit]}`, or 422 for a bad limit/offset.
fn page(query: &Query, items: Vec<Value>, key: &str) -> Reply {
    let total = items.len();
    let limit = match int_param(query, "limit", i32::try_from(MAX_LIMIT).unwrap_or(i32::MAX)) {
        Ok(l) => l,
        Err(reply) => return *reply,
    };
    let offset = match int_param(query, "offset", 0) {
        Ok(o) => o,
        Err(reply) => return *reply,
    };
    let (Ok(limit), Ok(offset)) = (usize::try_from(limit), usize::try_from(offset)) else {
        return validation(
            "query",
            "limit",
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        );
    };
    if limit > MAX_LIMIT {
        return validation(
            "query",
            "limit",
            "less_than_equal",
            "Input should be less than or equal to 500",
        );
    }
    let items: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    ok_json(&json!({"count": total, key: items}))
}

fn instance_info(shared: &Shared) -> Reply {
    let version = match shared.options.backend_era {
        BackendEra::V1_0 => "1.0.0",
        BackendEra::V1_1 => "1.2.0",
    };
    let datapipe = shared.registry().reach.data_pipe.enabled();
    ok_json(&json!({
        "name": "Pepeunit",
        "version": version,
        "description": "pepeunit testkit instance",
        "app_prefix": APP_PREFIX,
        "api_prefix": API_PREFIX,
        "feature_flags": {
            "pu_ff_telegram_bot_enable": false,
            "pu_ff_grafana_integration_enable": false,
            "pu_ff_datapipe_enable": datapipe,
            "pu_ff_datapipe_default_last_value_enable": true,
            "pu_ff_prometheus_enable": false,
        },
    }))
}

fn compiled(shared: &Shared, rest: &str) -> Reply {
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let registry = shared.registry();
    let program = |uuid: &str, commit: &str| {
        registry
            .units
            .get(uuid)
            .filter(|r| r.target_commit == commit)
            .and_then(|r| r.program.as_ref())
    };
    // `<uuid>/<commit>` (an unsigned program), or `<uuid>/<commit>/<asset>[.minisig]`.
    let body = match parts.as_slice() {
        [uuid, commit] => program(uuid, commit)
            .filter(|p| p.asset.is_none())
            .and_then(|p| p.compiled_binary.clone()),
        [uuid, commit, name] => program(uuid, commit).and_then(|p| {
            let asset = p.asset.as_deref()?;
            if *name == asset {
                p.compiled_binary.clone()
            } else if name.strip_suffix(".minisig") == Some(asset) {
                p.signature.clone()
            } else {
                None
            }
        }),
        _ => None,
    };
    body.map_or_else(not_found, bytes_reply)
}

fn parse_query(query: &str) -> Query {
    let mut out: Query = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(percent_decode(key))
            .or_default()
            .push(percent_decode(value));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn int_param(query: &Query, name: &str, default: i32) -> Result<i32, Box<Reply>> {
    match query.get(name).and_then(|v| v.first()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            Box::new(validation(
                "query",
                name,
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            ))
        }),
    }
}

/// A reply queued with `Instance::fail_next`, sent as it is.
fn fault_reply(fault: Fault) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(fault.body)));
    *reply.status_mut() =
        StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

fn not_found() -> Reply {
    json_reply(StatusCode::NOT_FOUND, &json!({"detail": "Not Found"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_keeps_repeated_keys() {
        let q = parse_query("unit_node_uuids=a&unit_node_uuids=b%2Dc&x=1+2&bad=%zz");
        assert_eq!(q["unit_node_uuids"], ["a", "b-c"]);
        assert_eq!(q["x"], ["1 2"]);
        assert_eq!(q["bad"], ["%zz"]);
    }
}
