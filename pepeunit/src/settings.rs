//! env.json → [`Env`] (PROTOCOL §1), and [`Settings`], the handle that reloads it.
//!
//! Everything derived from env.json (the unit uuid, the base URL, typed numbers) is computed from one
//! immutable [`Env`], so swapping the `Env` on reload re-derives all of it at once: nothing can keep a
//! stale port next to a fresh token.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::file_backed::FileBacked;
use crate::json::{self, decode_object, kind, read_as};
use crate::log_level::LogLevel;
use crate::token;

/// The parsed env.json: the standard keys typed (with the §1 defaults), the developer variables as JSON.
///
/// Legacy key names (backend ≤ 0.10) are read into the same fields; when a file has both spellings the
/// current one wins. `Debug` never shows the token or the keys. Serializing gives an env.json with the
/// current names.
#[derive(Clone, PartialEq, Serialize)]
pub struct Env {
    /// `PU_DOMAIN`: the instance host, no scheme.
    #[serde(rename = "PU_DOMAIN")]
    pub domain: String,
    /// `PU_HTTP_TYPE`: `http` or `https`.
    #[serde(rename = "PU_HTTP_TYPE")]
    pub http_type: String,
    /// `PU_APP_PREFIX`, e.g. `/pepeunit`.
    #[serde(rename = "PU_APP_PREFIX")]
    pub app_prefix: String,
    /// `PU_API_ACTUAL_PREFIX`, e.g. `/api/v1`.
    #[serde(rename = "PU_API_ACTUAL_PREFIX")]
    pub api_actual_prefix: String,
    /// `PU_MQTT_HOST`: the broker host.
    #[serde(rename = "PU_MQTT_HOST")]
    pub mqtt_host: String,
    /// `PU_MQTT_PORT`: the broker port.
    #[serde(rename = "PU_MQTT_PORT")]
    pub mqtt_port: u16,
    /// `PU_AUTH_TOKEN`: the unit JWT, a secret (PROTOCOL §2).
    #[serde(rename = "PU_AUTH_TOKEN")]
    pub auth_token: String,
    /// `PU_SECRET_KEY`: base64 random bytes for the unit's own use.
    #[serde(rename = "PU_SECRET_KEY")]
    pub secret_key: String,
    /// `PU_ENCRYPT_KEY`: the base64 AES key of PROTOCOL §9.
    #[serde(rename = "PU_ENCRYPT_KEY")]
    pub encrypt_key: String,
    /// `PU_MQTT_PING_INTERVAL`: seconds between application-level liveness checks.
    #[serde(rename = "PU_MQTT_PING_INTERVAL")]
    pub mqtt_ping_interval: u64,
    /// `PU_MQTT_KEEPALIVE`: the MQTT keepalive in seconds.
    #[serde(rename = "PU_MQTT_KEEPALIVE")]
    pub mqtt_keepalive: u64,
    /// `PU_STATE_SEND_INTERVAL`: seconds between two `state/pepeunit` messages.
    #[serde(rename = "PU_STATE_SEND_INTERVAL")]
    pub state_send_interval: u64,
    /// `PU_MIN_LOG_LEVEL`: entries below it are neither stored nor sent.
    #[serde(rename = "PU_MIN_LOG_LEVEL")]
    pub min_log_level: LogLevel,
    /// `PU_MAX_LOG_LENGTH`: lines kept in log.json.
    #[serde(rename = "PU_MAX_LOG_LENGTH")]
    pub max_log_length: usize,
    /// `PU_COMMIT_VERSION`: the commit of the program version this env belongs to.
    #[serde(rename = "PU_COMMIT_VERSION")]
    pub commit_version: String,
    #[serde(flatten)]
    variables: Map<String, Value>,
    #[serde(skip)]
    source_name: String,
}

impl Env {
    /// Parses env.json text; `source_name` (a path or e.g. "GET /units/env") is named in errors.
    ///
    /// Also takes the backend ≤ 1.0 HTTP body, a JSON string holding the object.
    pub fn parse(text: &str, source_name: &str) -> Result<Env> {
        let object = decode_object(text, source_name)?;
        Env::from_object(&object, source_name)
    }

    /// Like [`Env::parse`], for JSON already parsed.
    pub fn from_value(value: Value, source_name: &str) -> Result<Env> {
        let object = json::object(value, source_name)?;
        Env::from_object(&object, source_name)
    }

    fn from_object(object: &Map<String, Value>, source_name: &str) -> Result<Env> {
        let mut r = Reader {
            object,
            source_name,
            standard_names: Vec::new(),
        };
        let mut env = Env {
            domain: r.string("PU_DOMAIN", &["PEPEUNIT_URL"], "")?,
            http_type: r.string("PU_HTTP_TYPE", &["HTTP_TYPE"], "https")?,
            app_prefix: r.string("PU_APP_PREFIX", &["PEPEUNIT_APP_PREFIX"], "")?,
            api_actual_prefix: r.string(
                "PU_API_ACTUAL_PREFIX",
                &["PEPEUNIT_API_ACTUAL_PREFIX"],
                "",
            )?,
            mqtt_host: r.string("PU_MQTT_HOST", &["MQTT_URL"], "")?,
            mqtt_port: r.uint("PU_MQTT_PORT", &["MQTT_PORT"], 1883)?,
            auth_token: r.string("PU_AUTH_TOKEN", &["PEPEUNIT_TOKEN"], "")?,
            secret_key: r.string("PU_SECRET_KEY", &["SECRET_KEY"], "")?,
            encrypt_key: r.string("PU_ENCRYPT_KEY", &["SYNC_ENCRYPT_KEY"], "")?,
            mqtt_ping_interval: r.uint("PU_MQTT_PING_INTERVAL", &["PING_INTERVAL"], 20)?,
            mqtt_keepalive: r.uint("PU_MQTT_KEEPALIVE", &[], 60)?,
            state_send_interval: r.uint("PU_STATE_SEND_INTERVAL", &["STATE_SEND_INTERVAL"], 300)?,
            min_log_level: r.log_level(
                "PU_MIN_LOG_LEVEL",
                &["MIN_LOG_LEVEL", "MINIMAL_LOG_LEVEL"],
                LogLevel::Debug,
            )?,
            max_log_length: r.uint("PU_MAX_LOG_LENGTH", &["MAX_LOG_LENGTH"], 64)?,
            commit_version: r.string("PU_COMMIT_VERSION", &["COMMIT_VERSION"], "")?,
            variables: Map::new(),
            source_name: source_name.to_owned(),
        };
        env.variables = r.variables();
        Ok(env)
    }

    /// Reads a key as `T`: a developer variable, or a standard key by its current name (typed, defaulted).
    ///
    /// Lenient like env.json itself: a numeric or `true`/`false` string reads as a number or bool, and a
    /// number or bool reads as its text. A missing key is [`Error::MissingSetting`]; a value that cannot
    /// be a `T` is [`Error::InvalidSetting`] naming the key and the type, never the value.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let value = match self.variables.get(key) {
            Some(value) => value.clone(),
            None => self
                .standard_value(key)
                .ok_or_else(|| Error::MissingSetting(key.to_owned()))?,
        };
        read_as(&value).ok_or_else(|| Error::InvalidSetting {
            source_name: self.source_name.clone(),
            key: key.to_owned(),
            reason: format!(
                "cannot be read as {}, found {}",
                short_type_name::<T>(),
                kind(&value)
            ),
        })
    }

    /// [`Env::get`], or `default` when the key is missing or not a `T`.
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> T {
        self.get(key).unwrap_or(default)
    }

    /// The developer variables: every key that is neither a current nor a legacy standard name.
    pub fn variables(&self) -> &Map<String, Value> {
        &self.variables
    }

    /// Where this env was read from, as named in errors.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The unit's uuid, from the token's payload (PROTOCOL §2).
    pub fn unit_uuid(&self) -> Result<String> {
        token::unit_uuid_from_token(&self.auth_token)
    }

    /// The REST base URL `{http_type}://{domain}{app_prefix}{api_actual_prefix}` (PROTOCOL §7).
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}{}{}",
            self.http_type, self.domain, self.app_prefix, self.api_actual_prefix
        )
    }

    /// A standard key's typed value, as it would be written to env.json.
    fn standard_value(&self, key: &str) -> Option<Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut object)) => object.remove(key),
            _ => None,
        }
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("source_name", &self.source_name)
            .field("domain", &self.domain)
            .field("http_type", &self.http_type)
            .field("app_prefix", &self.app_prefix)
            .field("api_actual_prefix", &self.api_actual_prefix)
            .field("mqtt_host", &self.mqtt_host)
            .field("mqtt_port", &self.mqtt_port)
            .field("auth_token", &Redacted(&self.auth_token))
            .field("secret_key", &Redacted(&self.secret_key))
            .field("encrypt_key", &Redacted(&self.encrypt_key))
            .field("mqtt_ping_interval", &self.mqtt_ping_interval)
            .field("mqtt_keepalive", &self.mqtt_keepalive)
            .field("state_send_interval", &self.state_send_interval)
            .field("min_log_level", &self.min_log_level)
            .field("max_log_length", &self.max_log_length)
            .field("commit_version", &self.commit_version)
            // Holds no standard key, so none of the three secrets.
            .field("variables", &self.variables)
            .finish()
    }
}

/// Shows whether a secret is set, never its value.
struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "<redacted>"
        })
    }
}

/// Reads the standard keys of one env.json object and remembers their names.
struct Reader<'a> {
    object: &'a Map<String, Value>,
    source_name: &'a str,
    standard_names: Vec<&'static str>,
}

impl<'a> Reader<'a> {
    /// The first of `current`, then `legacy`, that the object has, with the name it was found under.
    fn find(
        &mut self,
        current: &'static str,
        legacy: &[&'static str],
    ) -> Option<(&'static str, &'a Value)> {
        self.standard_names.push(current);
        self.standard_names.extend(legacy);
        let object = self.object;
        std::iter::once(current)
            .chain(legacy.iter().copied())
            .find_map(|key| object.get(key).map(|value| (key, value)))
    }

    fn invalid(&self, key: &str, reason: String) -> Error {
        Error::InvalidSetting {
            source_name: self.source_name.to_owned(),
            key: key.to_owned(),
            reason,
        }
    }

    /// A string key's value with the name it was found under; the error never echoes the value.
    fn text(
        &mut self,
        current: &'static str,
        legacy: &[&'static str],
    ) -> Result<Option<(&'static str, &'a str)>> {
        match self.find(current, legacy) {
            None => Ok(None),
            Some((key, Value::String(text))) => Ok(Some((key, text))),
            Some((key, other)) => {
                Err(self.invalid(key, format!("expected a string, found {}", kind(other))))
            }
        }
    }

    fn string(
        &mut self,
        current: &'static str,
        legacy: &[&'static str],
        default: &str,
    ) -> Result<String> {
        let text = self.text(current, legacy)?;
        Ok(text.map_or(default, |(_, text)| text).to_owned())
    }

    fn log_level(
        &mut self,
        current: &'static str,
        legacy: &[&'static str],
        default: LogLevel,
    ) -> Result<LogLevel> {
        match self.text(current, legacy)? {
            None => Ok(default),
            Some((key, text)) => text.parse().map_err(|reason| self.invalid(key, reason)),
        }
    }

    /// A non-negative integer key, given as a JSON number or a numeric string, that must fit in `T`.
    fn uint<T: TryFrom<u64>>(
        &mut self,
        current: &'static str,
        legacy: &[&'static str],
        default: T,
    ) -> Result<T> {
        let Some((key, value)) = self.find(current, legacy) else {
            return Ok(default);
        };
        let expected = "expected a non-negative integer";
        // These keys hold no secret: the value may be shown.
        let number = read_as::<u64>(value).ok_or_else(|| match value {
            Value::Number(n) => format!("{expected}, found {n}"),
            Value::String(s) => format!("{expected}, found {s:?}"),
            other => format!("{expected}, found {}", kind(other)),
        });
        number
            .and_then(|n| {
                T::try_from(n)
                    .map_err(|_| format!("{n} is too large for {}", short_type_name::<T>()))
            })
            .map_err(|reason| self.invalid(key, reason))
    }

    /// Every key of the object that [`Reader::find`] was never asked about.
    fn variables(&self) -> Map<String, Value> {
        self.object
            .iter()
            .filter(|(key, _)| !self.standard_names.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

/// `T`'s name without module paths (`Vec<String>`, not `alloc::vec::Vec<alloc::string::String>`).
pub(crate) fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut short = String::with_capacity(full.len());
    let mut path = String::new();
    for c in full.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            path.push(c);
        } else {
            short.push_str(path.rsplit("::").next().unwrap_or_default());
            path.clear();
            short.push(c);
        }
    }
    short.pop(); // the ' ' sentinel
    short
}

/// The unit's settings: the current [`Env`] and the env.json it comes from.
///
/// Cheap to clone and shareable between threads; every clone sees a reload. Read a consistent
/// snapshot with [`Settings::current`].
#[derive(Debug, Clone)]
pub struct Settings(Arc<FileBacked<Env>>);

impl Settings {
    /// Reads env.json at `path`.
    pub fn load(path: impl Into<PathBuf>) -> Result<Settings> {
        FileBacked::load(path.into(), Env::parse).map(|inner| Settings(Arc::new(inner)))
    }

    /// Starts from `env`; [`Settings::update_from_file`] will read `path`.
    pub fn from_env(env: Env, path: impl Into<PathBuf>) -> Settings {
        Settings(Arc::new(FileBacked::new(env, path.into(), Env::parse)))
    }

    /// The env in force now; it does not change under the caller when the file is reloaded.
    pub fn current(&self) -> Arc<Env> {
        self.0.current()
    }

    /// The env.json this handle reads.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Re-reads env.json. If it is missing or invalid, the error names the file (and key) and the
    /// previous env stays in force.
    pub fn update_from_file(&self) -> Result<()> {
        self.0.reload()
    }

    /// Puts `env` in force (e.g. one downloaded from the backend).
    pub fn replace(&self, env: Env) {
        self.0.replace(env)
    }

    /// Calls `f` with the new env after every change of the env in force (a reload or a
    /// [`Settings::replace`]), on the thread that made it: keep it short (e.g. wake a task). The
    /// logger follows `PU_MIN_LOG_LEVEL`/`PU_MAX_LOG_LENGTH` this way, and the main cycle re-reads
    /// periods taken from env variables.
    pub fn on_change(&self, f: impl Fn(&Env) + Send + Sync + 'static) {
        self.0.on_change(Box::new(f))
    }

    /// The unit uuid of the current env's token.
    pub fn unit_uuid(&self) -> Result<String> {
        self.current().unit_uuid()
    }

    /// [`Env::get`] on the current env.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        self.current().get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name::<String>(), "String");
        assert_eq!(short_type_name::<Vec<String>>(), "Vec<String>");
        assert_eq!(
            short_type_name::<std::collections::HashMap<String, u8>>(),
            "HashMap<String, u8>"
        );
    }

    #[test]
    fn every_standard_key_round_trips_through_serialization() {
        let env = Env::parse("{}", "test").unwrap();
        let written = serde_json::to_value(&env).unwrap();
        let names: Vec<&String> = written.as_object().unwrap().keys().collect();
        assert_eq!(names.len(), 15, "{names:?}");
        assert!(
            names.iter().all(|name| name.starts_with("PU_")),
            "{names:?}"
        );
        assert_eq!(Env::from_value(written, "test").unwrap(), env);
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Settings>();
    }
}
