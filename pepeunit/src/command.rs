//! The platform commands of PROTOCOL §5 as one enum: which command arrives on which
//! `input_base_topic` name, and the word its payload and the backend's REST route name it by. The
//! runtime recognizes them, the REST client asks the backend for them, the testkit sends them.

/// A command on the unit's `input_base_topic` (PROTOCOL §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `update/pepeunit`: bring the program to the target version.
    Update,
    /// `env_update/pepeunit`: fetch env.json again.
    EnvUpdate,
    /// `schema_update/pepeunit`: fetch schema.json again.
    SchemaUpdate,
    /// `log_sync/pepeunit`: publish the whole local log (the backend has just deleted its copy).
    LogSync,
    /// `reset/pepeunit`: restart the program. The backend (1.2.0) never sends it and its REST route
    /// cannot ask for it.
    Reset,
}

impl Command {
    /// Every command.
    pub const ALL: [Command; 5] = [
        Command::Update,
        Command::EnvUpdate,
        Command::SchemaUpdate,
        Command::LogSync,
        Command::Reset,
    ];

    /// The `input_base_topic` name it arrives on.
    pub fn topic_name(self) -> &'static str {
        match self {
            Command::Update => "update/pepeunit",
            Command::EnvUpdate => "env_update/pepeunit",
            Command::SchemaUpdate => "schema_update/pepeunit",
            Command::LogSync => "log_sync/pepeunit",
            Command::Reset => "reset/pepeunit",
        }
    }

    /// The command whose topic name is `name`, if any.
    pub fn from_topic_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.topic_name() == name)
    }

    /// Its word: the payload's `COMMAND` and the REST route's `command` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Update => "Update",
            Command::EnvUpdate => "EnvUpdate",
            Command::SchemaUpdate => "SchemaUpdate",
            Command::LogSync => "LogSync",
            Command::Reset => "Reset",
        }
    }
}
