//! DataPipe on the instance (PROTOCOL §7a): the records a test puts in per node, the pipeline each
//! node runs, the feature flag, and the two routes that read them with the backend's filters,
//! paging, errors (405 when off, 422s, 500 for `LastValue`) and its CSV export in a ZIP.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::archive::{self, Tree};
use super::datetime::{format_secs, now_secs, parse_secs};
use super::records::{Aggregate, AggregateRow, AggregationType, NodeData, PipePolicy, ValueRow};
use super::replies::{
    Query, Reply, bytes_reply, error, internal_error, object_does_not_exist, ok_json, order,
    paging, uuid_param, validation,
};
use super::units::{Registry, TestUnit, uuid4};
use super::{Instance, node_named, record_of};
use crate::error::{Error, Result};
/// The records of one query, each with its creation time (for the filters) and its JSON.
struct Row {
    created: i64,
    /// What `search_string` looks in (value records).
    text: Option<String>,
    /// (function, window size, window end) of an aggregate.
    aggregate: Option<(AggregationType, u32, i64)>,
    json: Value,
}

/// `GET /unit_nodes/get_data_pipe_data/?uuid=…&type=…`.
pub(crate) fn data(registry: &Registry, query: &Query) -> Reply {
    let first = |name: &str| query.get(name).and_then(|v| v.first()).map(String::as_str);
    let uuid = match uuid_param(query) {
        Ok(uuid) => uuid,
        Err(reply) => return *reply,
    };
    let policy = match first("type") {
        None => return validation("query", "type", "missing", "Field required"),
        Some(p @ ("LastValue" | "NRecords" | "TimeWindow" | "Aggregation")) => p,
        Some(_) => {
            return validation(
                "query",
                "type",
                "enum",
                "Input should be 'LastValue', 'NRecords', 'TimeWindow' or 'Aggregation'",
            );
        }
    };
    let filter = match Filter::read(query) {
        Ok(filter) => filter,
        Err(reply) => return *reply,
    };
    if !registry.reach.data_pipe.enabled() {
        return feature_off();
    }
    let Some((_, node)) = registry.node(uuid) else {
        return object_does_not_exist();
    };
    // The backend reads LastValue from the node, then fails to put it in the response model.
    if policy == "LastValue" {
        return internal_error();
    }
    let Some(relative_from) = filter.relative_from() else {
        return internal_error();
    };
    let max_count = match registry.reach.node(&node.uuid, &node.name).pipe {
        Some(PipePolicy::NRecords { count }) => count,
        _ => 0,
    };
    let window = match registry.reach.node(&node.uuid, &node.name).pipe {
        Some(PipePolicy::TimeWindow { seconds }) => seconds,
        _ => 3600,
    };
    let mut rows = rows(registry, uuid, policy, max_count, window);
    rows.retain(|row| filter.keeps(row, relative_from));
    if filter.descending {
        rows.reverse();
    }
    let count = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(filter.offset)
        .take(filter.limit.unwrap_or(usize::MAX))
        .map(|row| row.json)
        .collect();
    ok_json(&json!({ "count": count, "pipe_data": page }))
}

/// `GET /unit_nodes/get_data_pipe_data_csv/{uuid}`: the node's records of its pipeline, oldest first,
/// as `dp_data_<uuid>.csv` in a ZIP.
pub(crate) fn csv(registry: &Registry, uuid: &str) -> Reply {
    if !registry.reach.data_pipe.enabled() {
        return feature_off();
    }
    let Some((_, node)) = registry.node(uuid) else {
        return object_does_not_exist();
    };
    let pipe_error = |msg: &str| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("8: DataPipe Validation Error: {msg}"),
        )
    };
    let Some(policy) = registry.reach.node(&node.uuid, &node.name).pipe else {
        return pipe_error("Data pipe is not active");
    };
    let (max_count, window) = match policy {
        PipePolicy::LastValue => {
            return pipe_error("LastValue type is not supported on this function");
        }
        PipePolicy::NRecords { count } => (count, 0),
        PipePolicy::TimeWindow { seconds } => (0, seconds),
        PipePolicy::Aggregation { seconds } => (0, seconds),
    };
    let rows = rows(registry, uuid, policy.name(), max_count, window);
    if rows.is_empty() {
        return pipe_error("No data found");
    }
    // The backend's model fields, in their declared order.
    let keys: &[&str] = match policy {
        PipePolicy::NRecords { .. } => &[
            "unit_node_uuid",
            "state",
            "state_type",
            "create_datetime",
            "max_count",
            "size",
        ],
        PipePolicy::TimeWindow { .. } => &[
            "unit_node_uuid",
            "state",
            "state_type",
            "create_datetime",
            "expiration_datetime",
            "size",
        ],
        _ => &[
            "unit_node_uuid",
            "state",
            "aggregation_type",
            "time_window_size",
            "create_datetime",
            "start_window_datetime",
            "end_window_datetime",
        ],
    };
    let mut text = csv_line(keys.iter().copied());
    for row in &rows {
        let cells: Vec<String> = keys.iter().map(|k| csv_cell(&row.json[*k])).collect();
        text += &csv_line(cells.iter().map(String::as_str));
    }
    let name = match uuid4() {
        Ok(random) => format!("dp_data_{random}.csv"),
        Err(_) => return internal_error(),
    };
    match archive::zip(&Tree::from_files(&[(name, text.into_bytes())])) {
        Ok(bytes) => bytes_reply(bytes),
        Err(_) => internal_error(),
    }
}

/// The node's records of `policy`, oldest first, as the backend's models.
fn rows(registry: &Registry, uuid: &str, policy: &str, max_count: u32, window: u32) -> Vec<Row> {
    let Some(data) = registry.reach.data_pipe.nodes.get(uuid) else {
        return Vec::new();
    };
    let value = |row: &ValueRow, extra: (&str, Value)| {
        let mut json = json!({
            "unit_node_uuid": uuid,
            "state": row.state,
            "state_type": if row.state.trim().parse::<f64>().is_ok() { "Number" } else { "Text" },
            "create_datetime": format_secs(row.created),
        });
        json[extra.0] = extra.1;
        json["size"] = json!(row.state.len());
        Row {
            created: row.created,
            text: Some(row.state.to_lowercase()),
            aggregate: None,
            json,
        }
    };
    let mut rows: Vec<Row> = match policy {
        "NRecords" => data
            .n_records
            .iter()
            .map(|r| value(r, ("max_count", json!(max_count))))
            .collect(),
        "TimeWindow" => data
            .windows
            .iter()
            .map(|r| {
                let expires = format_secs(r.created + i64::from(window));
                value(r, ("expiration_datetime", json!(expires)))
            })
            .collect(),
        _ => data
            .aggregates
            .iter()
            .map(|a| Row {
                created: a.end,
                text: None,
                aggregate: Some((a.kind, a.window, a.end)),
                json: json!({
                    "unit_node_uuid": uuid,
                    "state": a.value,
                    "aggregation_type": a.kind.as_str(),
                    "time_window_size": a.window,
                    "create_datetime": format_secs(a.end),
                    "start_window_datetime": format_secs(a.end - i64::from(a.window)),
                    "end_window_datetime": format_secs(a.end),
                }),
            })
            .collect(),
    };
    rows.sort_by_key(|row| row.created);
    rows
}

/// The filters of a DataPipe query, read with the backend's validation.
struct Filter {
    search: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    relative: Option<String>,
    functions: Vec<AggregationType>,
    window_size: Option<u32>,
    window_from: Option<i64>,
    window_to: Option<i64>,
    descending: bool,
    offset: usize,
    limit: Option<usize>,
}

impl Filter {
    fn read(query: &Query) -> Result<Filter, Box<Reply>> {
        let first = |name: &str| query.get(name).and_then(|v| v.first()).cloned();
        let datetime = |name: &str| -> Result<Option<i64>, Box<Reply>> {
            first(name)
                .map(|text| {
                    parse_secs(&text).ok_or_else(|| {
                        Box::new(validation(
                            "query",
                            name,
                            "datetime_from_date_parsing",
                            "Input should be a valid datetime or date",
                        ))
                    })
                })
                .transpose()
        };
        let functions = match query.get("aggregation_type") {
            None => AggregationType::ALL.to_vec(),
            Some(names) => names
                .iter()
                .map(|n| AggregationType::ALL.into_iter().find(|f| f.as_str() == n))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Box::new(validation(
                        "query",
                        "aggregation_type",
                        "enum",
                        "Input should be 'Avg', 'Min', 'Max' or 'Sum'",
                    ))
                })?,
        };
        let window_size = first("time_window_size")
            .map(|v| {
                v.parse().map_err(|_| {
                    Box::new(validation(
                        "query",
                        "time_window_size",
                        "int_parsing",
                        "Input should be a valid integer, unable to parse string as an integer",
                    ))
                })
            })
            .transpose()?;
        let (offset, limit) = paging(query)?;
        Ok(Filter {
            search: first("search_string").map(|s| s.to_lowercase()),
            from: datetime("start_create_datetime")?,
            to: datetime("end_create_datetime")?,
            relative: first("relative_time"),
            functions,
            window_size,
            window_from: datetime("start_agg_window_datetime")?,
            window_to: datetime("end_agg_window_datetime")?,
            descending: order(query)?,
            offset,
            limit,
        })
    }

    /// The earliest creation time `relative_time` allows (`i64::MIN` without one); `None` for a value
    /// the backend's parser raises on (it answers 500). Months and years count 30 and 365 days.
    fn relative_from(&self) -> Option<i64> {
        let Some(text) = &self.relative else {
            return Some(i64::MIN);
        };
        let unit = text.chars().last()?;
        let amount: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'M' => 30 * 86_400,
            'y' => 365 * 86_400,
            _ => return None,
        };
        Some(now_secs() - amount * seconds)
    }

    fn keeps(&self, row: &Row, relative_from: i64) -> bool {
        let created = row.created;
        let searched = match (&self.search, &row.text) {
            (Some(search), Some(text)) => text.contains(search.as_str()),
            _ => true,
        };
        let aggregate = row.aggregate.is_none_or(|(kind, window, end)| {
            self.functions.contains(&kind)
                && self.window_size.is_none_or(|size| size == window)
                && self.window_from.is_none_or(|from| end >= from)
                && self.window_to.is_none_or(|to| end <= to)
        });
        searched
            && aggregate
            && self.from.is_none_or(|from| created >= from)
            && self.to.is_none_or(|to| created <= to)
            && created >= relative_from
    }
}

/// The backend's 405 for a DataPipe call with DataPipe off.
fn feature_off() -> Reply {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "15: Feature Flag Error: This feature has been disabled by the instance Owner",
    )
}

/// A JSON value as Python's `csv` module writes it (`str()`; datetimes with a space).
fn csv_cell(value: &Value) -> String {
    match value {
        Value::String(text) if parse_secs(text).is_some() && text.len() == 19 => {
            text.replacen('T', " ", 1)
        }
        Value::String(text) => text.clone(),
        Value::Number(n) if n.is_f64() => {
            let v = n.as_f64().unwrap_or_default();
            if v.fract() == 0.0 && v.abs() < 1e16 {
                format!("{v:.1}")
            } else {
                v.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// One CSV line as Python's `csv.writer` writes it: quoted when needed, `\r\n` at the end.
fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let cells: Vec<String> = cells
        .map(|cell| {
            if cell.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.to_owned()
            }
        })
        .collect();
    cells.join(",") + "\r\n"
}

/// Tests put DataPipe records in and switch DataPipe on and off.
impl Instance {
    /// Turns the instance's DataPipe on or off (`pu_ff_datapipe_enable`, on by default): off, its
    /// calls answer 405 and the instance root says so.
    pub fn set_data_pipe_enabled(&self, on: bool) {
        self.shared.registry().reach.data_pipe.disabled = !on;
    }

    /// Sets the pipeline of the unit's node `name`; `None` deactivates it. New `…/pepeunit` nodes
    /// run `LastValue`, others none.
    pub fn set_data_pipe(
        &self,
        unit: &TestUnit,
        name: &str,
        policy: Option<PipePolicy>,
    ) -> Result<()> {
        self.change_node(unit, name, |state| state.pipe = policy)
    }

    /// Adds a value to the `NRecords` records of the unit's node `name`, arrived at
    /// `create_datetime` (the backend's datetime, e.g. from [`super::datetime_ago`]).
    pub fn add_n_record(
        &self,
        unit: &TestUnit,
        name: &str,
        state: &str,
        create_datetime: &str,
    ) -> Result<()> {
        self.add_value(unit, name, state, create_datetime, |data| {
            &mut data.n_records
        })
    }

    /// Adds a value to the `TimeWindow` records of the unit's node `name`.
    pub fn add_window_record(
        &self,
        unit: &TestUnit,
        name: &str,
        state: &str,
        create_datetime: &str,
    ) -> Result<()> {
        self.add_value(unit, name, state, create_datetime, |data| &mut data.windows)
    }

    /// Adds a value to the records `table` picks.
    fn add_value(
        &self,
        unit: &TestUnit,
        name: &str,
        state: &str,
        create_datetime: &str,
        table: fn(&mut NodeData) -> &mut Vec<ValueRow>,
    ) -> Result<()> {
        self.add_row(unit, name, create_datetime, |data, created| {
            table(data).push(ValueRow {
                state: state.to_owned(),
                created,
            });
        })
    }

    /// Adds an aggregate to the `Aggregation` records of the unit's node `name`.
    pub fn add_aggregate(&self, unit: &TestUnit, name: &str, aggregate: Aggregate) -> Result<()> {
        let Aggregate {
            kind,
            value,
            window_seconds,
            window_end,
        } = aggregate;
        self.add_row(unit, name, &window_end, |data, end| {
            data.aggregates.push(AggregateRow {
                kind,
                value,
                window: window_seconds,
                end,
            });
        })
    }

    fn add_row(
        &self,
        unit: &TestUnit,
        name: &str,
        datetime: &str,
        add: impl FnOnce(&mut NodeData, i64),
    ) -> Result<()> {
        let created = parse_secs(datetime).ok_or_else(|| {
            Error::Instance(format!(
                "{datetime:?} is not a datetime (2025-04-08T11:27:52)"
            ))
        })?;
        let mut registry = self.shared.registry();
        record_of(&registry, unit)?;
        let node = node_named(&registry, unit, name)?;
        let data = registry.reach.data_pipe.nodes.entry(node.uuid).or_default();
        add(data, created);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_written_like_pythons() {
        assert_eq!(
            csv_line(["a", "b,c", "say \"hi\""].into_iter()),
            "a,\"b,c\",\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(
            csv_cell(&json!("2025-04-08T11:27:52")),
            "2025-04-08 11:27:52"
        );
        assert_eq!(csv_cell(&json!(21.0)), "21.0");
        assert_eq!(csv_cell(&json!(21.5)), "21.5");
        assert_eq!(csv_cell(&json!(3)), "3");
    }
}
