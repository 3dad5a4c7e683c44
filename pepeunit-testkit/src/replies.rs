//! The backend's HTTP vocabulary as the instance's routes answer with it: JSON replies, the
//! `{"detail": …}` errors and FastAPI's 422 shapes, the query string, and the checks every route
//! shares (uuids, paging, order). A leaf: the routes (`rest.rs`, `reach.rs`, `data_pipe.rs`) use it.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

pub(crate) type Reply = Response<Full<Bytes>>;

pub(crate) type Query = HashMap<String, Vec<String>>;

/// The `state` of a `{"state": …}` body: a string, or with `optional` also null or missing (as
/// pydantic reads `str` and `str | None = None`); else FastAPI's 422.
pub(crate) fn body_state(body: &[u8], optional: bool) -> Result<Option<String>, Box<Reply>> {
    let invalid = |name, kind, msg| Err(Box::new(validation("body", name, kind, msg)));
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => match o.get("state") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            None | Some(Value::Null) if optional => Ok(None),
            None => invalid("state", "missing", "Field required"),
            Some(_) => invalid("state", "string_type", "Input should be a valid string"),
        },
        _ => invalid("body", "json_invalid", "JSON decode error"),
    }
}

pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

pub(crate) fn pretty(value: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    let _ = serde::Serialize::serialize(value, &mut ser);
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn ok_json(value: &Value) -> Reply {
    json_reply(StatusCode::OK, value)
}

pub(crate) fn json_reply(status: StatusCode, value: &Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(value.to_string())));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

pub(crate) fn bytes_reply(bytes: Vec<u8>) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(bytes)));
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    reply
}

/// The backend's error body: `{"detail": "<status>: <code>: <category>: <message>"}`.
pub(crate) fn error(status: StatusCode, code_category_message: &str) -> Reply {
    json_reply(
        status,
        &json!({"detail": format!("{}: {code_category_message}", status.as_u16())}),
    )
}

/// FastAPI's `HTTPException` body: `{"detail": text}` as it is.
pub(crate) fn detail_reply(status: StatusCode, text: &str) -> Reply {
    json_reply(status, &json!({ "detail": text }))
}

/// A plain-text reply (FastAPI's 500 "Internal Server Error", an empty 204).
pub(crate) fn text_reply(status: StatusCode, text: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(text.to_owned())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

/// FastAPI's request-validation body (422).
pub(crate) fn validation(place: &str, name: &str, kind: &str, msg: &str) -> Reply {
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"detail": [{"type": kind, "loc": [place, name], "msg": msg}]}),
    )
}

/// The backend's 422 for an unknown uuid.
pub(crate) fn object_does_not_exist() -> Reply {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "2: Validation Error: The object does not exist",
    )
}

/// What FastAPI answers when the backend's code fails: a plain-text 500.
pub(crate) fn internal_error() -> Reply {
    text_reply(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

pub(crate) fn no_content() -> Reply {
    text_reply(StatusCode::NO_CONTENT, "")
}

/// FastAPI's 422 for a `uuid` (in the `path` or the `query`) that is not one.
pub(crate) fn invalid_uuid(place: &str) -> Reply {
    validation(
        place,
        "uuid",
        "uuid_parsing",
        "Input should be a valid UUID",
    )
}

/// The required `uuid` query parameter, or FastAPI's 422.
pub(crate) fn uuid_param(query: &Query) -> Result<&str, Box<Reply>> {
    match query.get("uuid").and_then(|v| v.first()) {
        None => Err(Box::new(validation(
            "query",
            "uuid",
            "missing",
            "Field required",
        ))),
        Some(uuid) if !is_uuid(uuid) => Err(Box::new(invalid_uuid("query"))),
        Some(uuid) => Ok(uuid),
    }
}

/// `order_by_create_date`: whether it is `desc` (the default), or FastAPI's 422.
pub(crate) fn order(query: &Query) -> Result<bool, Box<Reply>> {
    match query
        .get("order_by_create_date")
        .and_then(|v| v.first())
        .map(String::as_str)
    {
        None | Some("desc") => Ok(true),
        Some("asc") => Ok(false),
        Some(_) => Err(Box::new(validation(
            "query",
            "order_by_create_date",
            "enum",
            "Input should be 'asc' or 'desc'",
        ))),
    }
}

/// `offset` and `limit` as the backend's pagination mixin reads them: no limit (or 0) means all,
/// over 500 is its 422.
pub(crate) fn paging(query: &Query) -> Result<(usize, Option<usize>), Box<Reply>> {
    let int = |name: &str| -> Result<Option<i64>, Box<Reply>> {
        match query.get(name).and_then(|v| v.first()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Box::new(validation(
                    "query",
                    name,
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer",
                ))
            }),
        }
    };
    let detail = |text: &str| Box::new(detail_reply(StatusCode::UNPROCESSABLE_ENTITY, text));
    let offset = int("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(detail("offset must be >= 0"));
    }
    let limit = int("limit")?;
    match limit {
        Some(l) if l < 0 => Err(detail("limit must be >= 0")),
        Some(l) if l > 500 => Err(detail("limit must be <= 500")),
        _ => Ok((
            usize::try_from(offset).unwrap_or(usize::MAX),
            limit.filter(|l| *l > 0).map(|l| l as usize),
        )),
    }
}
