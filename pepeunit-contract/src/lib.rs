//! A Pepeunit unit repository's compile-time contract and the rule env values are read by.
//!
//! One home for what both sides of the build must agree on: `pepeunit-macros` reads
//! `schema_example.json` and `env_example.json` when a unit compiles, `pepeunit` reads env.json when it
//! runs, and `pepeunit-testkit` creates units from the same files. A rule written twice would drift (a
//! numeric string in env_example.json refused by the macros yet read by the runtime); written here, it
//! cannot. Errors are plain text: each user wraps them in its own error type, naming the file.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The topic names of each section of `schema_example.json` (PROTOCOL §3: each section is a list of
/// names). A missing section is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaExample {
    /// The platform commands the unit handles (`update/pepeunit`, …).
    pub input_base_topic: Vec<String>,
    /// The platform reports the unit sends (`state/pepeunit`, `log/pepeunit`).
    pub output_base_topic: Vec<String>,
    /// The developer's input names.
    pub input_topic: Vec<String>,
    /// The developer's output names.
    pub output_topic: Vec<String>,
}

impl SchemaExample {
    /// Parses the file's text; the error says what is wrong (never with the file's name: the caller
    /// knows it).
    pub fn parse(text: &str) -> Result<SchemaExample, String> {
        let object = parse_object(text)?;
        let names = |section: &str| -> Result<Vec<String>, String> {
            let invalid = || format!("`{section}` must be a list of topic names");
            match object.get(section) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned).ok_or_else(invalid))
                    .collect(),
                Some(_) => Err(invalid()),
            }
        };
        Ok(SchemaExample {
            input_base_topic: names("input_base_topic")?,
            output_base_topic: names("output_base_topic")?,
            input_topic: names("input_topic")?,
            output_topic: names("output_topic")?,
        })
    }
}

/// The developer variables of `env_example.json` with their example values (which are the defaults
/// the backend writes into a new unit's env.json).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvExample {
    /// Each variable and its example value.
    pub variables: Map<String, Value>,
}

impl EnvExample {
    /// Parses the file's text: a JSON object.
    pub fn parse(text: &str) -> Result<EnvExample, String> {
        parse_object(text).map(|variables| EnvExample { variables })
    }

    /// The example value of `name`, if the file defines it.
    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }

    /// Whether `name`'s example is a number by the env rule ([`read_as`]): a JSON number or a
    /// numeric string.
    pub fn is_number(&self, name: &str) -> bool {
        self.variable(name)
            .is_some_and(|value| read_as::<f64>(value).is_some())
    }
}

/// Reads an env value as a `T` by the rule of PROTOCOL §1, which the backend and every client follow:
/// the value itself if it is a `T`; else a string holding a number or bool (trimmed) read as that;
/// else a number or bool read as its text. `None` when none of these is a `T`.
pub fn read_as<T: DeserializeOwned>(value: &Value) -> Option<T> {
    if let Ok(typed) = T::deserialize(value) {
        return Some(typed);
    }
    let other = match value {
        Value::String(text) => serde_json::from_str::<Value>(text.trim())
            .ok()
            .filter(|v| v.is_number() || v.is_boolean())?,
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        _ => return None,
    };
    T::deserialize(&other).ok()
}

/// What a JSON value is, for error messages that must not show the value itself (it may be a secret).
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(format!("expected a JSON object, found {}", kind(&other))),
        // serde_json's syntax errors give a position, never the text.
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

pub mod update_key;
