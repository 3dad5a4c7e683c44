//! The payloads of the platform commands (PROTOCOL §5), parsed in one place: every payload must be a
//! JSON object whose `COMMAND`, when present, names its command, and `update/pepeunit`'s becomes an
//! [`UpdateCommand`]. An empty payload is malformed like any other non-object: the backend always
//! sends JSON, and an empty publish must not start an update to an unspecified version.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// An `update/pepeunit` command (PROTOCOL §5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateCommand {
    /// The target commit: `PU_COMMIT_VERSION`, or the legacy `NEW_COMMIT_VERSION`.
    pub version: Option<String>,
    /// Where a compiled unit downloads its new binary (`COMPILED_FIRMWARE_LINK`, no auth header).
    pub compiled_firmware_link: Option<String>,
}

impl UpdateCommand {
    /// Parses the command's payload: a JSON object (an empty payload is refused) whose `COMMAND`, if
    /// present, is `"Update"` and whose version and link keys, if present, are strings.
    pub fn parse(payload: &[u8]) -> Result<UpdateCommand> {
        UpdateCommand::read(payload).map_err(invalid)
    }

    /// [`UpdateCommand::parse`] with the reason as text (the runtime logs it with the topic).
    pub(crate) fn read(payload: &[u8]) -> std::result::Result<UpdateCommand, String> {
        let value = command_json(payload)?;
        command_fields(&value, "Update").and_then(UpdateCommand::from_object)
    }

    fn from_object(object: &Map<String, Value>) -> std::result::Result<UpdateCommand, String> {
        Ok(UpdateCommand {
            version: match optional_string(object, "PU_COMMIT_VERSION")? {
                Some(version) => Some(version),
                None => optional_string(object, "NEW_COMMIT_VERSION")?,
            },
            compiled_firmware_link: optional_string(object, "COMPILED_FIRMWARE_LINK")?,
        })
    }
}

/// Checks that `payload` is the JSON object of the command `word` (`"EnvUpdate"`, …); the reason if not.
#[cfg(feature = "mqtt")]
pub(crate) fn check_command(payload: &[u8], word: &str) -> std::result::Result<(), String> {
    command_fields(&command_json(payload)?, word).map(drop)
}

fn command_json(payload: &[u8]) -> std::result::Result<Value, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8 text".to_owned())?;
    serde_json::from_str(text).map_err(|e| format!("payload is not a JSON object: {e}"))
}

/// The object of a command payload, once its `COMMAND` (if present) is known to be `word`.
fn command_fields<'a>(
    value: &'a Value,
    word: &str,
) -> std::result::Result<&'a Map<String, Value>, String> {
    let Value::Object(object) = value else {
        return Err("payload is not a JSON object".to_owned());
    };
    match object.get("COMMAND") {
        None => Ok(object),
        Some(Value::String(command)) if command == word => Ok(object),
        Some(other) => Err(format!("COMMAND is {other}, expected \"{word}\"")),
    }
}

fn optional_string(
    object: &Map<String, Value>,
    key: &str,
) -> std::result::Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} must be a string, found {other}")),
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidJson {
        source_name: "update/pepeunit command".into(),
        reason,
    }
}
