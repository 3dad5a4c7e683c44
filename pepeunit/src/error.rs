//! The one error type of the library.
//!
//! Every message names what was wrong (file, key, entry) and never carries a secret: the unit token and
//! the keys of env.json are never formatted into an error.

use std::path::PathBuf;

/// The underlying error of a transport failure, kept as [`std::error::Error::source`] so that a
/// caller can walk the chain or downcast it (to `reqwest::Error`, `rumqttc::ClientError`, …).
pub type Source = Box<dyn std::error::Error + Send + Sync>;

/// Result with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in pepeunit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error on a named file or directory.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file or HTTP body that is not the JSON it should be.
    #[error("{source_name}: {reason}")]
    InvalidJson {
        /// Where the text came from (a path or a description such as "GET /units/env").
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key of env.json whose value has the wrong type or an impossible value.
    #[error("{source_name}: setting {key}: {reason}")]
    InvalidSetting {
        /// Where the settings came from.
        source_name: String,
        /// The env.json key.
        key: String,
        /// What is wrong with the value (never the value of a secret).
        reason: String,
    },
    /// A developer variable that env.json does not define.
    #[error("setting {0} is not defined in env.json")]
    MissingSetting(String),
    /// `PU_AUTH_TOKEN` is not a unit JWT; the reason never contains the token.
    #[error("invalid unit token: {0}")]
    InvalidToken(String),
    /// schema.json is not the four-section object of PROTOCOL §3.
    #[error("{source_name}: invalid schema: {reason}")]
    InvalidSchema {
        /// Where the schema came from.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A topic name that the schema does not list.
    #[error("topic name {name:?} is not in the schema's {section}")]
    UnknownTopicName {
        /// The name asked for.
        name: String,
        /// The section(s) searched.
        section: String,
    },
    /// An update archive that is broken or unsafe; nothing was changed.
    #[error("archive {}: {}{reason}", archive.display(), entry.as_ref().map(|e| format!("entry {e:?}: ")).unwrap_or_default())]
    Archive {
        /// The archive file.
        archive: PathBuf,
        /// The offending entry, when one is to blame.
        entry: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// Applying an update failed; the program directory was rolled back.
    #[error("update failed: {0}")]
    Update(String),
    /// A compiled update refused for its signature (PROTOCOL §8a): missing, unreadable, by another
    /// key, not matching the binary, or made for another asset or commit. Nothing was changed.
    #[error("update signature refused: {reason} ({url})")]
    Signature {
        /// The signature's URL, without query or credentials.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// AES-GCM key, input or authentication failure.
    #[error("cipher: {0}")]
    Cipher(String),
    /// The MQTT transport failed (not connected, request refused, …).
    #[error("MQTT: {reason}")]
    Mqtt {
        /// What failed, with the cause's text (so that a log line says it all).
        reason: String,
        /// The transport's own error, when there was one.
        #[source]
        source: Option<Source>,
    },
    /// The HTTP exchange failed before the backend answered (connect, timeout, broken body).
    #[error("HTTP: {reason}")]
    Http {
        /// What failed, with the cause chain's text.
        reason: String,
        /// The HTTP client's own error, when there was one.
        #[source]
        source: Option<Source>,
    },
    /// The TLS handshake refused the server's certificate (untrusted, expired, for another name):
    /// not retried, since trying again cannot change it.
    #[error("TLS: {reason}")]
    Tls {
        /// What was refused, with the cause chain's text.
        reason: String,
        /// The HTTP client's own error.
        #[source]
        source: Option<Source>,
    },
    /// The backend answered with an error status; `detail` is its `{"detail": …}` text.
    #[error("backend answered {status}: {detail}")]
    Backend {
        /// The HTTP status code.
        status: u16,
        /// The backend's `detail`, or the body's start when it had none.
        detail: String,
    },
    /// The call needs the MQTT client, which this client was built without.
    #[error("MQTT is disabled: enable the `mqtt` cargo feature and the client's mqtt flag")]
    MqttDisabled,
    /// The call needs the REST client, which this client was built without.
    #[error("REST is disabled: enable the `rest` cargo feature and the client's rest flag")]
    RestDisabled,
    /// A stored state (`#[pepeunit::state(stored)]`) on a client without REST, which its storage needs.
    #[error(
        "state {state} is stored (`#[pepeunit::state(stored)]`) in the unit's state storage, which needs REST: \
         add the `rest` flag to `#[pepeunit::main]` (or `.rest(true)` to the client's builder)"
    )]
    StoredStateWithoutRest {
        /// The state's type.
        state: String,
    },
    /// An argument the library cannot use as given (e.g. a topic without a node uuid level).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An MQTT payload that is not what its topic expects (not UTF-8, not the command's JSON, …).
    #[error("payload on {topic}: {reason}")]
    InvalidPayload {
        /// The topic or topic name it came on.
        topic: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Mqtt`] without an underlying error.
    pub fn mqtt(reason: impl Into<String>) -> Self {
        Error::Mqtt {
            reason: reason.into(),
            source: None,
        }
    }

    /// An [`Error::Http`] without an underlying error.
    pub fn http(reason: impl Into<String>) -> Self {
        Error::Http {
            reason: reason.into(),
            source: None,
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
