//! The testkit's own error type: what a test asked the instance for that it could not do. It keeps
//! pepeunit's error, for a test that calls both with `?`.

use std::path::PathBuf;

/// Result with the testkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the local instance can fail at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error on a named file, directory or program.
    #[error("{}: {source}", path.display())]
    Io {
        /// What the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file the instance reads or writes (an example, a unit file, a PEM) that is not what it
    /// should be.
    #[error("{source_name}: {reason}")]
    Invalid {
        /// The file or value.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A topic name the unit's schema does not list.
    #[error("topic name {name:?} is not in the schema's {section}")]
    UnknownTopicName {
        /// The name asked for.
        name: String,
        /// The section searched.
        section: String,
    },
    /// What was asked cannot be done on this instance (an unknown unit, an archive it cannot build, a
    /// broker that does not start, …).
    #[error("testkit: {0}")]
    Instance(String),
    /// A call of pepeunit failed (a test mixing the two with `?`).
    #[error(transparent)]
    Pepeunit(#[from] pepeunit::Error),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
