//! Units as the backend knows them: uuids, the unit JWT, node uuids, env.json and schema.json (§1–§3).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::archive::Tree;
use crate::error::{Error, Result};

/// The four schema sections, in the backend's order.
pub(crate) const SECTIONS: [&str; 4] = [
    "input_base_topic",
    "output_base_topic",
    "input_topic",
    "output_topic",
];

/// What a new unit is made from: its repo's `env_example.json` and `schema_example.json` (or defaults).
#[derive(Debug, Clone)]
pub struct UnitSpec {
    /// The unit's name (listed by `GET /units`).
    pub name: String,
    /// Where env.json and schema.json are written (created if missing).
    pub dir: PathBuf,
    /// The repo's env_example.json: developer variables and their defaults; `None` = no variables.
    pub env_example: Option<Value>,
    /// The repo's schema_example.json; `None` = every standard command, state, log, `input/pepeunit`
    /// and `output/pepeunit`.
    pub schema_example: Option<Value>,
    /// The program version the unit starts at; `None` = a random 40-hex commit.
    pub commit: Option<String>,
    /// env.json values set on top of the generated ones (e.g. a short `PU_STATE_SEND_INTERVAL`).
    pub env_overrides: Map<String, Value>,
}

impl UnitSpec {
    /// A unit named `name` with default examples, its files written into `dir`.
    pub fn new(name: impl Into<String>, dir: impl Into<PathBuf>) -> UnitSpec {
        UnitSpec {
            name: name.into(),
            dir: dir.into(),
            env_example: None,
            schema_example: None,
            commit: None,
            env_overrides: Map::new(),
        }
    }

    /// Reads `env_example.json` and `schema_example.json` from a unit repo directory (each optional).
    pub fn with_repo_examples(mut self, repo: &Path) -> Result<UnitSpec> {
        self.env_example = crate::files::read_json_if_exists(&repo.join("env_example.json"))?;
        self.schema_example = crate::files::read_json_if_exists(&repo.join("schema_example.json"))?;
        Ok(self)
    }

    /// Sets one env.json value on top of the generated ones.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<Value>) -> UnitSpec {
        self.env_overrides.insert(key.into(), value.into());
        self
    }
}

/// Whether a developer node takes input or gives output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A name of `input_topic`.
    Input,
    /// A name of `output_topic`.
    Output,
}

impl NodeKind {
    /// The backend's spelling (`"Input"` / `"Output"`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Input => "Input",
            NodeKind::Output => "Output",
        }
    }
}

/// A developer topic of a unit (a "unit node" in backend terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node uuid: the second level of its physical topic.
    pub uuid: String,
    /// The topic name, e.g. `input/pepeunit`.
    pub name: String,
    /// Input or output.
    pub kind: NodeKind,
}

/// The input and output nodes of a unit with these schema sections; a node of `existing` with the same
/// name and kind keeps its uuid, every other one gets a new uuid.
pub(crate) fn nodes_of(sections: &[(String, Vec<String>)], existing: &[Node]) -> Result<Vec<Node>> {
    let mut nodes = Vec::new();
    for (section, names) in sections {
        let kind = match section.as_str() {
            "input_topic" => NodeKind::Input,
            "output_topic" => NodeKind::Output,
            _ => continue,
        };
        for name in names {
            let uuid = match existing.iter().find(|n| &n.name == name && n.kind == kind) {
                Some(node) => node.uuid.clone(),
                None => uuid4()?,
            };
            nodes.push(Node {
                uuid,
                name: name.clone(),
                kind,
            });
        }
    }
    Ok(nodes)
}

/// A unit created on the instance: what a test needs to start the unit program and to address it.
///
/// Cheap to clone; `Debug` never shows the token.
#[derive(Clone)]
pub struct TestUnit {
    pub(crate) uuid: String,
    pub(crate) name: String,
    pub(crate) token: String,
    pub(crate) dir: PathBuf,
    pub(crate) nodes: Vec<Node>,
}

impl fmt::Debug for TestUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestUnit")
            .field("uuid", &self.uuid)
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

impl TestUnit {
    /// The unit uuid (carried by its token).
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The unit name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The unit JWT (`PU_AUTH_TOKEN`): a secret, never log it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The directory holding env.json and schema.json.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `dir/env.json`.
    pub fn env_path(&self) -> PathBuf {
        self.dir.join("env.json")
    }

    /// `dir/schema.json`.
    pub fn schema_path(&self) -> PathBuf {
        self.dir.join("schema.json")
    }

    /// The unit's developer nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The uuid of the node for topic name `name` (`input/pepeunit`, `output/pepeunit`, …).
    pub fn node_uuid(&self, name: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.uuid.as_str())
    }
}

/// The status the backend shows for a unit's last update request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateStatus {
    /// No update was requested.
    Idle,
    /// An update command was sent; the unit has not yet reported the target version.
    RequestSent {
        /// The commit the unit should reach.
        target: String,
    },
    /// The unit's state reported `pu_commit_version` equal to the target.
    Success {
        /// The commit reached.
        commit: String,
    },
}

/// A program version that updates serve.
pub(crate) struct Program {
    pub(crate) tag: Option<String>,
    pub(crate) tree: Tree,
    pub(crate) compiled_binary: Option<Vec<u8>>,
    /// The release asset's name, the link's last segment (a signed release's).
    pub(crate) asset: Option<String>,
    /// The asset's `.minisig`, served beside it.
    pub(crate) signature: Option<Vec<u8>>,
}

/// The backend's record of one unit.
pub(crate) struct UnitRecord {
    pub(crate) unit: TestUnit,
    pub(crate) env: Map<String, Value>,
    /// Topic names per section, from schema_example.json.
    pub(crate) sections: Vec<(String, Vec<String>)>,
    pub(crate) target_commit: String,
    pub(crate) program: Option<Program>,
    pub(crate) current_commit: Option<String>,
    pub(crate) state_storage: String,
    pub(crate) last_state: Option<(Value, Instant)>,
    pub(crate) update_status: UpdateStatus,
    pub(crate) logs: Vec<Value>,
    pub(crate) created: String,
}

/// Everything the fake backend stores.
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) units: HashMap<String, UnitRecord>,
    /// (output node uuid, input node uuid), in link order.
    pub(crate) links: Vec<(String, String)>,
    /// What the calls of PROTOCOL §7a read and change: visibility, node values, DataPipe.
    pub(crate) reach: super::records::Reach,
}

impl Registry {
    /// The uuid of the unit `token` was issued to.
    pub(crate) fn unit_of_token(&self, token: &str) -> Option<&str> {
        self.units
            .values()
            .find(|r| r.unit.token == token)
            .map(|r| r.unit.uuid.as_str())
    }

    /// The unit owning node `node_uuid`, and the node.
    pub(crate) fn node(&self, node_uuid: &str) -> Option<(&UnitRecord, &Node)> {
        self.units.values().find_map(|r| {
            r.unit
                .nodes
                .iter()
                .find(|n| n.uuid == node_uuid)
                .map(|n| (r, n))
        })
    }

    /// schema.json of `unit` as the backend generates it now (§3).
    pub(crate) fn schema(&self, record: &UnitRecord, domain: &str) -> Value {
        let mut schema = Map::new();
        for (section, names) in &record.sections {
            let mut topics = Map::new();
            for name in names {
                let list: Vec<String> = match section.as_str() {
                    "input_base_topic" | "output_base_topic" => {
                        vec![format!("{domain}/{section}/{}/{name}", record.unit.uuid)]
                    }
                    _ => {
                        let Some(node) = record.unit.nodes.iter().find(|n| &n.name == name) else {
                            continue;
                        };
                        let mut list = vec![node_topic(domain, node)];
                        if node.kind == NodeKind::Input {
                            list.extend(
                                self.links
                                    .iter()
                                    .filter(|(_, input)| *input == node.uuid)
                                    .filter_map(|(output, _)| self.node(output))
                                    .map(|(_, out)| node_topic(domain, out)),
                            );
                        }
                        list
                    }
                };
                topics.insert(name.clone(), json!(list));
            }
            schema.insert(section.clone(), Value::Object(topics));
        }
        Value::Object(schema)
    }

    /// env.json of `record` as the backend serves it (commit = the target version).
    pub(crate) fn env(&self, record: &UnitRecord) -> Value {
        let mut env = record.env.clone();
        env.insert("PU_COMMIT_VERSION".into(), json!(record.target_commit));
        Value::Object(env)
    }
}

/// The physical topic of a developer node: `domain/node` plus `/pepeunit` when the name ends with it.
pub(crate) fn node_topic(domain: &str, node: &Node) -> String {
    if node.name.ends_with("/pepeunit") {
        format!("{domain}/{}/pepeunit", node.uuid)
    } else {
        format!("{domain}/{}", node.uuid)
    }
}

/// The topic names per section of a schema_example.json (the standard set when `None`).
pub(crate) fn sections_of(example: Option<&Value>) -> Result<Vec<(String, Vec<String>)>> {
    let default = json!({
        "input_base_topic": ["update/pepeunit", "env_update/pepeunit", "schema_update/pepeunit",
                             "log_sync/pepeunit", "reset/pepeunit"],
        "output_base_topic": ["state/pepeunit", "log/pepeunit"],
        "input_topic": ["input/pepeunit"],
        "output_topic": ["output/pepeunit"],
    });
    let example = example.unwrap_or(&default);
    let invalid = |reason: String| Error::Invalid {
        source_name: "schema_example".into(),
        reason,
    };
    let object = example
        .as_object()
        .ok_or_else(|| invalid("not a JSON object".into()))?;
    let mut sections = Vec::new();
    for section in SECTIONS {
        let Some(names) = object.get(section) else {
            continue;
        };
        let names = names
            .as_array()
            .ok_or_else(|| invalid(format!("{section} is not a list of names")))?
            .iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid(format!("{section} holds a name that is not a string")))?;
        sections.push((section.to_string(), names));
    }
    Ok(sections)
}

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0; n];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::io("getrandom", std::io::Error::other(e.to_string())))?;
    Ok(bytes)
}

/// A random version-4 uuid in its hyphenated form.
pub(crate) fn uuid4() -> Result<String> {
    let mut b = random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// A random 40-hex commit id.
pub(crate) fn random_commit() -> Result<String> {
    Ok(random_bytes(20)?
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect())
}

/// A unit JWT shaped like the backend's: HS256 header, `{"uuid", "type": "Unit"}` payload.
///
/// The signature is 32 random bytes, not an HMAC: units never verify it (§2), and the instance checks a
/// token by looking it up, so no key is needed.
pub(crate) fn unit_token(uuid: &str) -> Result<String> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(json!({"uuid": uuid, "type": "Unit"}).to_string());
    let signature = URL_SAFE_NO_PAD.encode(random_bytes(32)?);
    Ok(format!("{header}.{payload}.{signature}"))
}

/// A base64 (standard, padded) of 32 random bytes, as the backend makes `PU_SECRET_KEY`/`PU_ENCRYPT_KEY`.
pub(crate) fn random_key() -> Result<String> {
    Ok(STANDARD.encode(random_bytes(32)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_payload_carries_the_uuid() {
        let uuid = uuid4().unwrap();
        let token = unit_token(&uuid).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(payload, json!({"uuid": uuid, "type": "Unit"}));
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
    }

    #[test]
    fn node_topics_keep_the_pepeunit_suffix_only_when_named_so() {
        let node = |name: &str| Node {
            uuid: "n".into(),
            name: name.into(),
            kind: NodeKind::Input,
        };
        assert_eq!(node_topic("d", &node("input/pepeunit")), "d/n/pepeunit");
        assert_eq!(node_topic("d", &node("input")), "d/n");
    }
}
