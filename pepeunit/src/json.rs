//! JSON as the unit's files and the backend's bodies carry it: the object of env.json or schema.json in
//! both backend eras, and payload text read by the env value rule ([`pepeunit_contract::read_as`]).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
pub(crate) use pepeunit_contract::{kind, read_as};

/// Parses the JSON object of an env.json or schema.json, file or HTTP body.
///
/// The backend ≤ 1.0 answers with a JSON *string* that holds the object (PROTOCOL §7); both shapes
/// give the same object. Anything else that is not an object is [`Error::InvalidJson`].
pub(crate) fn decode_object(text: &str, source_name: &str) -> Result<Map<String, Value>> {
    let value = serde_json::from_str(text).map_err(|e| invalid(source_name, &e))?;
    object(value, source_name)
}

/// The object inside `value`, unwrapping the backend ≤ 1.0 string shape.
pub(crate) fn object(value: Value, source_name: &str) -> Result<Map<String, Value>> {
    let value = match value {
        Value::String(inner) => {
            serde_json::from_str(&inner).map_err(|e| invalid(source_name, &e))?
        }
        other => other,
    };
    match value {
        Value::Object(object) => Ok(object),
        other => Err(Error::InvalidJson {
            source_name: source_name.to_owned(),
            reason: format!("expected a JSON object, found {}", kind(&other)),
        }),
    }
}

/// serde_json's syntax errors give only a position, never the text, so they are safe to show.
fn invalid(source_name: &str, error: &serde_json::Error) -> Error {
    Error::InvalidJson {
        source_name: source_name.to_owned(),
        reason: format!("not valid JSON: {error}"),
    }
}

/// Reads `text` (trimmed) as a number or bool `T` by the env value rule: message payloads are read
/// as env values are.
#[cfg(feature = "mqtt")]
pub(crate) fn read_text_as<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    read_as(&serde_json::from_str::<Value>(text.trim()).ok()?)
}
