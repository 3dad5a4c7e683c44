//! A Pepeunit instance on loopback, for the tests of units written with `pepeunit`.
//!
//! [`Instance::start`] runs what a real instance offers a unit — a real MQTT broker (`mosquitto` or the
//! embedded rumqttd, see [`BrokerKind`]) and the REST endpoints of PROTOCOL §7 — and lets the test drive
//! the unit (commands, inputs, server-side env/schema changes) and observe it (outputs, states and logs
//! checked with the backend's rules, update status).
//!
//! ```no_run
//! use std::time::Duration;
//! use pepeunit::Command;
//! use pepeunit_testkit::{Instance, InstanceOptions, UnitSpec};
//!
//! # async fn demo() -> pepeunit_testkit::Result<()> {
//! let instance = Instance::start(InstanceOptions::default()).await?;
//! let unit = instance.create_unit(UnitSpec::new("sensor", "/tmp/sensor")).await?;
//! // … start the unit program with unit.env_path() and unit.schema_path() …
//! instance.send_command(&unit, Command::LogSync).await?;
//! let out = instance.next_output(&unit, "output/pepeunit", Duration::from_secs(5)).await;
//! assert!(out.is_some());
//! assert!(instance.rejections().is_empty(), "the backend would have dropped a message");
//! # Ok(()) }
//! ```

mod archive;
mod broker;
mod data_pipe;
mod datetime;
mod error;
mod files;
mod gate;
mod link;
mod observe;
mod proxy;
mod pyjson;
mod reach;
mod records;
mod replies;
mod rest;
mod signing;
mod tls;
mod units;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use pepeunit::Command;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use broker::BrokerKind;
pub use datetime::datetime_ago;
pub use link::{Link, LinkMode};
pub use observe::{Observed, Rejection, RejectionKind};
pub use records::{Aggregate, AggregationType, PipePolicy, Visibility};
pub use signing::Release;
pub use units::{Node, NodeKind, TestUnit, UnitSpec, UpdateStatus};

use archive::Tree;
use broker::{Broker, Ports};
pub use error::{Error, Result};
use gate::{Access, Identity, UnitRules};
use observe::Recorder;
use units::{Program, Registry, UnitRecord};

/// Which backend release the REST responses imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendEra {
    /// ≤ 1.0: env and schema bodies are a JSON string holding the JSON text.
    V1_0,
    /// ≥ 1.1: env and schema bodies are JSON objects.
    #[default]
    V1_1,
}

/// How to start an [`Instance`].
#[derive(Debug, Clone)]
pub struct InstanceOptions {
    /// Which broker to run.
    pub broker: BrokerKind,
    /// Which response shapes the REST endpoints use.
    pub backend_era: BackendEra,
    /// `PU_STATE_SEND_INTERVAL` given to new units, in seconds (the backend's default is 60).
    pub state_send_interval: u64,
    /// First level of every topic. The real backend uses `PU_DOMAIN`; here that carries a port, and a
    /// `:` has no place in a topic, so topics get this name instead.
    pub topic_domain: String,
    /// Serve MQTT and REST over TLS only (`mqtts`, `https`), with a certificate for `127.0.0.1` signed
    /// by a CA made at start ([`Instance::ca_file`]; needs the `openssl` command). Off by default.
    pub tls: bool,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        InstanceOptions {
            broker: BrokerKind::Auto,
            backend_era: BackendEra::V1_1,
            state_send_interval: 60,
            topic_domain: "localhost".into(),
            tls: false,
        }
    }
}

/// The files of a program version that updates serve.
#[derive(Debug, Clone)]
pub enum ProgramSource {
    /// A snapshot of this directory, taken when the program is set.
    Dir(PathBuf),
    /// These files (path relative to the program root, bytes).
    Files(Vec<(String, Vec<u8>)>),
}

/// How [`update_archive`] packs a program (PROTOCOL §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// A plain tar, as `GET …/firmware/tar` serves it.
    Tar,
    /// A zip like `shutil.make_archive`, as `GET …/firmware/zip` serves it.
    Zip,
    /// A tar compressed like `zlib.compressobj(level, wbits)`, as `GET …/firmware/tgz` serves it.
    Tgz {
        /// zlib's `wbits`: 9…15 zlib, −15…−9 raw deflate, 25…31 gzip.
        wbits: i32,
        /// Compression level, −1…9.
        level: i32,
    },
}

/// The update archive the instance would serve for `files` (path relative to the program root,
/// bytes), without a running instance: for tests that need archive bytes to corrupt.
pub fn update_archive(files: &[(String, Vec<u8>)], packing: Packing) -> Result<Vec<u8>> {
    let tree = Tree::from_files(files);
    let built = match packing {
        Packing::Tar => archive::tar(&tree),
        Packing::Zip => archive::zip(&tree),
        Packing::Tgz { wbits, level } => {
            if !archive::valid_wbits(wbits) || !archive::valid_level(level) {
                let reason = format!("no tgz with wbits {wbits} and level {level}");
                return Err(Error::Instance(reason));
            }
            archive::tar(&tree).and_then(|tar| archive::compress(&tar, wbits, level))
        }
    };
    built.map_err(|e| Error::Instance(format!("building the archive: {e}")))
}

/// What the REST handlers and the observer share.
pub(crate) struct Shared {
    options: InstanceOptions,
    topic_domain: String,
    registry: Mutex<Registry>,
    recorder: Recorder,
    faults: Mutex<Vec<Fault>>,
    /// The password of [`BACKEND_USER`] on the MQTT link.
    backend_password: String,
    /// The backend's MQTT client: what the REST routes that publish (`set_state_input`,
    /// `send_command`) publish with.
    backend: AsyncClient,
}

/// The username of the instance's own identity on the MQTT link (everything allowed).
const BACKEND_USER: &str = "pepeunit-testkit-backend";

/// A reply queued by [`Instance::fail_next`].
pub(crate) struct Fault {
    route: String,
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Shared {
    /// Locks the backend's records (a poisoned lock still holds consistent records: updates are small).
    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first queued fault for this API route, removed from the queue.
    pub(crate) fn take_fault(&self, route: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let index = faults.iter().position(|f| route.starts_with(&f.route))?;
        Some(faults.remove(index))
    }
}

impl UnitRules for Shared {
    fn identify(&self, username: Option<&str>, password: Option<&[u8]>) -> Option<Identity> {
        let username = username?;
        if username == BACKEND_USER {
            return (password == Some(self.backend_password.as_bytes()))
                .then_some(Identity::Backend);
        }
        let registry = self.registry();
        registry
            .unit_of_token(username)
            .map(|uuid| Identity::Unit(uuid.to_owned()))
    }

    fn may(&self, who: &Identity, access: Access, topic: &str) -> bool {
        let Identity::Unit(uuid) = who else {
            return true;
        };
        let registry = self.registry();
        let Some(record) = registry.units.get(uuid) else {
            return false;
        };
        let sections = match access {
            Access::Read => ["input_base_topic", "input_topic"],
            Access::Write => ["output_base_topic", "output_topic"],
        };
        let schema = registry.schema(record, &self.topic_domain);
        sections.iter().any(|section| {
            schema[section]
                .as_object()
                .is_some_and(|names| names.values().any(|list| list_has(list, topic)))
        })
    }
}

fn list_has(list: &Value, topic: &str) -> bool {
    list.as_array()
        .is_some_and(|topics| topics.iter().any(|t| t.as_str() == Some(topic)))
}

/// A running Pepeunit instance on 127.0.0.1: broker, REST, and the backend's view of its units.
///
/// Units reach the broker and REST through [`Link`]s (TCP proxies) that a test can break; the MQTT link
/// applies the production broker's unit rules (PROTOCOL §4): the token is the username, a unit reads
/// and writes only its own schema's topics, by full name.
///
/// Dropping it stops everything it started (broker process or thread, HTTP server, links, observer).
pub struct Instance {
    shared: Arc<Shared>,
    broker_kind: BrokerKind,
    broker: Mutex<Option<Broker>>,
    broker_ports: Ports,
    mqtt_link: Link,
    rest_link: Link,
    _rest_proxy: proxy::Proxy,
    http_port: u16,
    tls: Option<tls::TestTls>,
    work_dir: PathBuf,
    /// The release key and a key units do not know, made on first use (they need `minisign`).
    signers: Mutex<Option<Arc<(signing::Signer, signing::Signer)>>>,
    backend: AsyncClient,
    subscriptions: watch::Receiver<u64>,
    tasks: Vec<JoinHandle<()>>,
}

const HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
const READY_TIMEOUT: Duration = Duration::from_secs(10);

impl Instance {
    /// Starts the broker, the REST server and the backend's MQTT client; returns once all three are up.
    pub async fn start(options: InstanceOptions) -> Result<Instance> {
        let work_dir = std::env::temp_dir().join(format!(
            "pepeunit-testkit-{}-{}",
            std::process::id(),
            &units::random_commit()?[..12]
        ));
        std::fs::create_dir_all(&work_dir).map_err(|e| Error::io(&work_dir, e))?;
        let broker_kind = options.broker.resolve();
        let tls = match options.tls {
            true => Some(tls::TestTls::generate(&work_dir)?),
            false => None,
        };
        let tls_server = tls.as_ref().map(|t| t.server.clone());
        let broker_ports = Ports {
            public: broker::free_port()?,
            internal: broker::free_port()?,
        };
        let mut mqtt = MqttOptions::new(
            format!("{BACKEND_USER}-{}", broker_ports.public),
            HOST.to_string(),
            broker_ports.internal,
        );
        mqtt.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_max_packet_size(
                pepeunit::mqtt::MAX_PACKET_SIZE,
                pepeunit::mqtt::MAX_PACKET_SIZE,
            );
        let (backend, eventloop) = AsyncClient::new(mqtt, 256);
        let shared = Arc::new(Shared {
            topic_domain: options.topic_domain.clone(),
            options,
            registry: Mutex::new(Registry::default()),
            recorder: Recorder::default(),
            faults: Mutex::new(Vec::new()),
            backend_password: units::random_commit()?,
            backend: backend.clone(),
        });
        let mqtt_link = Link::default();
        let broker = Broker::start(
            broker_kind,
            broker_ports,
            &work_dir,
            mqtt_link.clone(),
            shared.clone(),
            tls_server.clone(),
        )
        .await?;

        let listener = tokio::net::TcpListener::bind((HOST, 0))
            .await
            .map_err(|e| Error::io("127.0.0.1:0 (REST)", e))?;
        let http_internal = listener
            .local_addr()
            .map_err(|e| Error::io("REST listener", e))?
            .port();
        let server = tokio::spawn(serve_http(listener, shared.clone()));
        let rest_link = Link::default();
        let (rest_proxy, http_port) =
            proxy::Proxy::start(0, http_internal, rest_link.clone(), None, tls_server)?;

        let (subscribed, subscriptions) = watch::channel(0);
        let observer = tokio::spawn(observe_broker(
            eventloop,
            backend.clone(),
            shared.clone(),
            subscribed,
        ));

        let instance = Instance {
            shared,
            broker_kind,
            broker: Mutex::new(Some(broker)),
            broker_ports,
            mqtt_link,
            rest_link,
            _rest_proxy: rest_proxy,
            http_port,
            tls,
            work_dir,
            signers: Mutex::new(None),
            backend,
            subscriptions,
            tasks: vec![server, observer],
        };
        instance.wait_subscribed(0).await?;
        Ok(instance)
    }

    /// The broker actually running (`Auto` resolved).
    pub fn broker_kind(&self) -> BrokerKind {
        self.broker_kind
    }

    /// The broker host, `127.0.0.1`.
    pub fn mqtt_host(&self) -> String {
        HOST.to_string()
    }

    /// The broker port units connect to (through [`Instance::mqtt_link`]).
    pub fn mqtt_port(&self) -> u16 {
        self.broker_ports.public
    }

    /// The network between the units and the broker: break it, slow it, count connections.
    pub fn mqtt_link(&self) -> &Link {
        &self.mqtt_link
    }

    /// The network between the units and the REST server (every URL of this instance goes through it).
    pub fn rest_link(&self) -> &Link {
        &self.rest_link
    }

    /// Username and password that may do everything on [`Instance::mqtt_port`] (for tools such as
    /// `mosquitto_pub`); units use their token.
    pub fn backend_credentials(&self) -> (String, String) {
        (
            BACKEND_USER.to_owned(),
            self.shared.backend_password.clone(),
        )
    }

    /// The instance root, e.g. `http://127.0.0.1:1234/pepeunit` (`GET` gives the instance info).
    pub fn instance_url(&self) -> String {
        format!(
            "{}://{HOST}:{}{}",
            self.http_type(),
            self.http_port,
            rest::APP_PREFIX
        )
    }

    /// `https` with TLS on, else `http`.
    fn http_type(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The CA certificate (PEM) that signed the instance's TLS certificate, when TLS is on.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(|t| t.ca_file.as_path())
    }

    /// The REST base URL units use, e.g. `http://127.0.0.1:1234/pepeunit/api/v1`.
    pub fn rest_base_url(&self) -> String {
        format!("{}{}", self.instance_url(), rest::API_PREFIX)
    }

    /// Creates a unit: uuid, token, node uuids, env.json and schema.json written into `spec.dir`.
    pub async fn create_unit(&self, spec: UnitSpec) -> Result<TestUnit> {
        let uuid = units::uuid4()?;
        let token = units::unit_token(&uuid)?;
        let sections = units::sections_of(spec.schema_example.as_ref())?;
        let nodes = units::nodes_of(&sections, &[])?;
        let mut env = match &spec.env_example {
            Some(Value::Object(example)) => example.clone(),
            Some(_) => {
                return Err(Error::Invalid {
                    source_name: "env_example".into(),
                    reason: "not a JSON object".into(),
                });
            }
            None => serde_json::Map::new(),
        };
        let generated = json!({
            "PU_DOMAIN": format!("{HOST}:{}", self.http_port),
            "PU_HTTP_TYPE": self.http_type(),
            "PU_APP_PREFIX": rest::APP_PREFIX,
            "PU_API_ACTUAL_PREFIX": rest::API_PREFIX,
            "PU_MQTT_HOST": HOST.to_string(),
            "PU_MQTT_PORT": self.broker_ports.public,
            "PU_AUTH_TOKEN": token,
            "PU_SECRET_KEY": units::random_key()?,
            "PU_ENCRYPT_KEY": units::random_key()?,
            "PU_MQTT_PING_INTERVAL": 30,
            "PU_MQTT_KEEPALIVE": 60,
            "PU_STATE_SEND_INTERVAL": self.shared.options.state_send_interval,
            "PU_MIN_LOG_LEVEL": "Debug",
            "PU_MAX_LOG_LENGTH": 64,
        });
        if let Value::Object(generated) = generated {
            env.extend(generated);
        }
        env.extend(spec.env_overrides.clone());
        std::fs::create_dir_all(&spec.dir).map_err(|e| Error::io(&spec.dir, e))?;
        let unit = TestUnit {
            uuid,
            name: spec.name,
            token,
            dir: spec.dir,
            nodes,
        };
        let commit = match spec.commit {
            Some(c) => c,
            None => units::random_commit()?,
        };
        self.register(unit.clone(), env, sections, commit);
        self.write_unit_files(&unit)?;
        Ok(unit)
    }

    /// Registers a unit created by another instance (same uuid, token and node uuids, the topic names
    /// of `schema_example` or the standard set), as when a unit's env.json moves it here: its token is
    /// then accepted and its topics allowed. Its files are left as they are.
    pub fn adopt_unit(&self, unit: &TestUnit, schema_example: Option<&Value>) -> Result<()> {
        let sections = units::sections_of(schema_example)?;
        let nodes = units::nodes_of(&sections, &unit.nodes)?;
        let unit = TestUnit {
            nodes,
            ..unit.clone()
        };
        self.register(
            unit,
            serde_json::Map::new(),
            sections,
            units::random_commit()?,
        );
        Ok(())
    }

    fn register(
        &self,
        unit: TestUnit,
        env: serde_json::Map<String, Value>,
        sections: Vec<(String, Vec<String>)>,
        target_commit: String,
    ) {
        let record = UnitRecord {
            unit,
            env,
            sections,
            target_commit,
            program: None,
            current_commit: None,
            state_storage: String::new(),
            last_state: None,
            update_status: UpdateStatus::Idle,
            logs: Vec::new(),
            created: iso_now(),
        };
        self.shared
            .registry()
            .units
            .insert(record.unit.uuid.clone(), record);
    }

    /// Writes the unit's current env.json and schema.json (as the backend would serve them) into its dir.
    pub fn write_unit_files(&self, unit: &TestUnit) -> Result<()> {
        let (env, schema) = {
            let registry = self.shared.registry();
            let record = record_of(&registry, unit)?;
            (
                registry.env(record),
                registry.schema(record, &self.shared.topic_domain),
            )
        };
        for (path, value) in [(unit.env_path(), env), (unit.schema_path(), schema)] {
            let text = serde_json::to_string_pretty(&value).map_err(|e| Error::Invalid {
                source_name: path.display().to_string(),
                reason: e.to_string(),
            })?;
            files::replace(&path, text.as_bytes())?;
        }
        Ok(())
    }

    /// Links `from`'s output `output_name` to `to`'s input `input_name`: `to`'s schema gains the topic.
    pub fn link(
        &self,
        from: &TestUnit,
        output_name: &str,
        to: &TestUnit,
        input_name: &str,
    ) -> Result<()> {
        let output = node_of(from, output_name, NodeKind::Output)?;
        let input = node_of(to, input_name, NodeKind::Input)?;
        self.shared.registry().links.push((output, input));
        Ok(())
    }

    /// Sets the program version that updates serve (and [`Command::Update`] targets). With a
    /// `compiled_binary`, archives hold only env.json and schema.json and the binary is served at
    /// [`Instance::compiled_binary_url`].
    pub fn set_program(
        &self,
        unit: &TestUnit,
        commit: &str,
        source: ProgramSource,
        compiled_binary: Option<Vec<u8>>,
    ) -> Result<()> {
        let tree = match source {
            ProgramSource::Dir(dir) => Tree::from_dir(&dir)?,
            ProgramSource::Files(files) => Tree::from_files(&files),
        };
        let mut registry = self.shared.registry();
        let record = record_of_mut(&mut registry, unit)?;
        record.target_commit = commit.to_string();
        record.program = Some(Program {
            tag: None,
            tree,
            compiled_binary,
            asset: None,
            signature: None,
        });
        Ok(())
    }

    /// The public key file's text of the key [`Instance::publish_signed`] signs with (what a unit
    /// compiles in as `update_key.pub`).
    pub fn update_key(&self) -> Result<String> {
        Ok(self.signers()?.0.public_key().to_owned())
    }

    /// Publishes a compiled release of `commit` (the target of the next [`Command::Update`]): the
    /// binary at `…/<asset>` and, per `release`, its minisign signature at `…/<asset>.minisig` with the
    /// trusted comment `pepeunit asset=<asset> commit=<commit>` (PROTOCOL §8a). The archive holds only
    /// env.json and schema.json.
    pub fn publish_signed(
        &self,
        unit: &TestUnit,
        commit: &str,
        asset: &str,
        binary: Vec<u8>,
        release: Release,
    ) -> Result<()> {
        let signers = self.signers()?;
        let (good, other) = (&signers.0, &signers.1);
        let comment = |asset: &str, commit: &str| format!("pepeunit asset={asset} commit={commit}");
        let signature = match &release {
            Release::Signed | Release::Tampered => {
                Some(good.sign(&binary, &comment(asset, commit))?)
            }
            Release::OtherKey => Some(other.sign(&binary, &comment(asset, commit))?),
            Release::Unsigned => None,
            Release::Unreadable => Some(b"untrusted comment: not a signature\n".to_vec()),
            Release::OtherCommit(older) => Some(good.sign(&binary, &comment(asset, older))?),
            Release::OtherAsset(another) => Some(good.sign(&binary, &comment(another, commit))?),
        };
        let mut binary = binary;
        if release == Release::Tampered {
            let middle = binary.len() / 2;
            binary[middle] ^= 0x01;
        }
        let mut registry = self.shared.registry();
        let record = record_of_mut(&mut registry, unit)?;
        record.target_commit = commit.to_string();
        record.program = Some(Program {
            tag: None,
            tree: Tree::from_files(&[]),
            compiled_binary: Some(binary),
            asset: Some(asset.to_owned()),
            signature,
        });
        Ok(())
    }

    fn signers(&self) -> Result<Arc<(signing::Signer, signing::Signer)>> {
        let mut signers = self.signers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(made) = signers.as_ref() {
            return Ok(made.clone());
        }
        let made = Arc::new((
            signing::Signer::generate(&self.work_dir, "release")?,
            signing::Signer::generate(&self.work_dir, "stranger")?,
        ));
        *signers = Some(made.clone());
        Ok(made)
    }

    /// Where the compiled binary of the unit's target version is served (no auth), if it has one.
    pub fn compiled_binary_url(&self, unit: &TestUnit) -> Option<String> {
        let registry = self.shared.registry();
        let origin = format!("{}://{HOST}:{}", self.http_type(), self.http_port);
        compiled_link(&origin, registry.units.get(&unit.uuid)?)
    }

    /// Sends a §5 command with the backend's exact payload; an error if the unit's schema lacks it.
    /// `LogSync` deletes the instance's stored log of the unit first ([`Instance::logs`]), as the
    /// backend does.
    pub async fn send_command(&self, unit: &TestUnit, command: Command) -> Result<()> {
        let origin = format!("{}://{HOST}:{}", self.http_type(), self.http_port);
        let (topic, payload) = {
            let mut registry = self.shared.registry();
            let record = record_of_mut(&mut registry, unit)?;
            command_message(&self.shared.topic_domain, &origin, record, command).ok_or_else(
                || Error::UnknownTopicName {
                    name: command.topic_name().into(),
                    section: "input_base_topic".into(),
                },
            )?
        };
        self.publish(&topic, payload).await
    }

    /// Publishes `payload` to the unit's own topic for input name `name` (as another unit's output would).
    pub async fn publish_input(
        &self,
        unit: &TestUnit,
        name: &str,
        payload: impl Into<Vec<u8>>,
    ) -> Result<()> {
        let node = unit
            .nodes
            .iter()
            .find(|n| n.name == name && n.kind == NodeKind::Input)
            .ok_or_else(|| Error::UnknownTopicName {
                name: name.into(),
                section: "input_topic".into(),
            })?;
        let topic = units::node_topic(&self.shared.topic_domain, node);
        self.publish(&topic, payload).await
    }

    /// Publishes `payload` on `topic` from the backend's client (QoS 0, never retained).
    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) -> Result<()> {
        self.backend
            .publish(topic, QoS::AtMostOnce, false, payload.into())
            .await
            .map_err(|e| {
                Error::io(
                    format!("mqtt publish to {topic}"),
                    std::io::Error::other(e.to_string()),
                )
            })
    }

    /// Changes one env.json value on the server side (what `env_update` will fetch).
    pub fn set_env_var(&self, unit: &TestUnit, key: &str, value: impl Into<Value>) -> Result<()> {
        let mut registry = self.shared.registry();
        record_of_mut(&mut registry, unit)?
            .env
            .insert(key.to_string(), value.into());
        Ok(())
    }

    /// Replaces the unit's schema_example.json on the server side (what `schema_update` will fetch).
    /// Names kept keep their node uuid; returns the unit with its new nodes.
    pub fn set_schema_example(&self, unit: &TestUnit, schema_example: &Value) -> Result<TestUnit> {
        let sections = units::sections_of(Some(schema_example))?;
        let mut registry = self.shared.registry();
        let record = record_of_mut(&mut registry, unit)?;
        let nodes = units::nodes_of(&sections, &record.unit.nodes)?;
        record.sections = sections;
        record.unit.nodes = nodes;
        Ok(record.unit.clone())
    }

    /// The next message the unit publishes on output `name` after the previous one returned here, or
    /// `None` after `timeout`.
    pub async fn next_output(
        &self,
        unit: &TestUnit,
        name: &str,
        timeout: Duration,
    ) -> Option<Observed> {
        let node = unit
            .nodes
            .iter()
            .find(|n| n.name == name && n.kind == NodeKind::Output)?;
        let topic = units::node_topic(&self.shared.topic_domain, node);
        self.next_message(&topic, timeout).await
    }

    /// The next message on `topic` after the previous one returned for it here, or `None` after `timeout`.
    pub async fn next_message(&self, topic: &str, timeout: Duration) -> Option<Observed> {
        let key = format!("topic:{topic}");
        self.shared
            .recorder
            .next(&key, timeout, |rec, from| {
                rec.messages
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, m)| m.topic == topic)
                    .map(|(i, m)| (i, m.clone()))
            })
            .await
    }

    /// Every message seen on `topic` so far.
    pub fn messages(&self, topic: &str) -> Vec<Observed> {
        self.shared
            .recorder
            .lock()
            .messages
            .iter()
            .filter(|m| m.topic == topic)
            .cloned()
            .collect()
    }

    /// The next state of the unit the backend accepted (normalized as the backend stores it), or `None`
    /// after `timeout`.
    pub async fn wait_for_state(&self, unit: &TestUnit, timeout: Duration) -> Option<Value> {
        self.next_accepted("state", unit, timeout, |rec| &rec.states)
            .await
    }

    /// The next log entry of the unit the backend accepted, or `None` after `timeout`.
    pub async fn next_log(&self, unit: &TestUnit, timeout: Duration) -> Option<Value> {
        self.next_accepted("log", unit, timeout, |rec| &rec.logs)
            .await
    }

    /// The next log entry of the unit the backend accepted that `wanted` accepts (the others are
    /// passed over), or `None` after `timeout`.
    pub async fn next_log_where(
        &self,
        unit: &TestUnit,
        timeout: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let entry = self.next_log(unit, left).await?;
            if wanted(&entry) {
                return Some(entry);
            }
        }
    }

    /// The next item of `unit` in one of the recorder's accepted lists (its own cursor per `kind`).
    async fn next_accepted(
        &self,
        kind: &str,
        unit: &TestUnit,
        timeout: Duration,
        list: fn(&observe::Recorded) -> &Vec<(String, Value)>,
    ) -> Option<Value> {
        let key = format!("{kind}:{}", unit.uuid);
        self.shared
            .recorder
            .next(&key, timeout, |rec, from| {
                list(rec)
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, (u, _))| *u == unit.uuid)
                    .map(|(i, (_, value))| (i, value.clone()))
            })
            .await
    }

    /// Every log entry of the unit the backend accepted, oldest first.
    pub fn logs(&self, unit: &TestUnit) -> Vec<Value> {
        record_field(&self.shared, unit, |r| r.logs.clone()).unwrap_or_default()
    }

    /// Every message the backend would have dropped, with the reason.
    pub fn rejections(&self) -> Vec<Rejection> {
        self.shared.recorder.lock().rejections.clone()
    }

    /// The update status the backend shows for the unit.
    pub fn update_status(&self, unit: &TestUnit) -> UpdateStatus {
        record_field(&self.shared, unit, |r| r.update_status.clone()).unwrap_or(UpdateStatus::Idle)
    }

    /// The unit's stored state (`set_state_storage`), as the backend holds it.
    pub fn state_storage(&self, unit: &TestUnit) -> String {
        record_field(&self.shared, unit, |r| r.state_storage.clone()).unwrap_or_default()
    }

    /// Fault injection, for testing a client's error handling: the next API request whose path below
    /// the API prefix starts with `route` (e.g. `/units/env/`) gets `status` and `body` instead of the
    /// real reply, before any token check. Each call queues one reply; queued replies for one route are
    /// served in order. `body` may be anything, e.g. `{"detail": "500: Internal Server Error"}` or a
    /// broken JSON with status 200.
    pub fn fail_next(&self, route: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Fault {
                route: route.to_string(),
                status,
                body: body.into(),
            });
    }

    /// Stops the broker: the listener and every connection close. [`Instance::start_broker`] restarts it.
    pub fn stop_broker(&self) {
        let broker = self.broker.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(broker);
    }

    /// Starts the broker again on the same port; returns once the backend's client has resubscribed.
    pub async fn start_broker(&self) -> Result<()> {
        if self
            .broker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Ok(());
        }
        let seen = *self.subscriptions.borrow();
        let broker = Broker::start(
            self.broker_kind,
            self.broker_ports,
            &self.work_dir,
            self.mqtt_link.clone(),
            self.shared.clone(),
            self.tls.as_ref().map(|t| t.server.clone()),
        )
        .await?;
        *self.broker.lock().unwrap_or_else(|p| p.into_inner()) = Some(broker);
        self.wait_subscribed(seen).await
    }

    async fn wait_subscribed(&self, seen: u64) -> Result<()> {
        let mut subscriptions = self.subscriptions.clone();
        let waited =
            tokio::time::timeout(READY_TIMEOUT, subscriptions.wait_for(|n| *n > seen)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::io(
                format!(
                    "backend MQTT client on 127.0.0.1:{}",
                    self.broker_ports.internal
                ),
                std::io::Error::new(std::io::ErrorKind::TimedOut, "did not subscribe in time"),
            )),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.stop_broker();
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

fn record_of<'a>(registry: &'a Registry, unit: &TestUnit) -> Result<&'a UnitRecord> {
    registry
        .units
        .get(&unit.uuid)
        .ok_or_else(|| unknown_unit(unit))
}

/// The unit's node for topic name `name`, input or output.
fn node_named(registry: &Registry, unit: &TestUnit, name: &str) -> Result<Node> {
    let record = record_of(registry, unit)?;
    record
        .unit
        .nodes
        .iter()
        .find(|n| n.name == name)
        .cloned()
        .ok_or_else(|| Error::UnknownTopicName {
            name: name.into(),
            section: "input_topic or output_topic".into(),
        })
}

fn record_of_mut<'a>(registry: &'a mut Registry, unit: &TestUnit) -> Result<&'a mut UnitRecord> {
    registry
        .units
        .get_mut(&unit.uuid)
        .ok_or_else(|| unknown_unit(unit))
}

fn record_field<T>(
    shared: &Shared,
    unit: &TestUnit,
    f: impl FnOnce(&UnitRecord) -> T,
) -> Result<T> {
    record_of(&shared.registry(), unit).map(f)
}

fn unknown_unit(unit: &TestUnit) -> Error {
    Error::Instance(format!("no unit {} on this instance", unit.uuid))
}

fn node_of(unit: &TestUnit, name: &str, kind: NodeKind) -> Result<String> {
    unit.nodes
        .iter()
        .find(|n| n.name == name && n.kind == kind)
        .map(|n| n.uuid.clone())
        .ok_or_else(|| {
            let section = if kind == NodeKind::Input {
                "input_topic"
            } else {
                "output_topic"
            };
            Error::UnknownTopicName {
                name: name.into(),
                section: section.into(),
            }
        })
}

/// Accepts HTTP connections until aborted; aborting drops every connection task with it.
async fn serve_http(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| rest::handle(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Drives the backend's MQTT client: subscribes to everything after each connect and records every
/// message; reconnects (every 50 ms) while the broker is down.
async fn observe_broker(
    mut eventloop: EventLoop,
    client: AsyncClient,
    shared: Arc<Shared>,
    subscribed: watch::Sender<u64>,
) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let _ = client.try_subscribe("#", QoS::AtMostOnce);
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => subscribed.send_modify(|n| *n += 1),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                shared
                    .recorder
                    .on_publish(&shared.registry, p.topic, p.payload.to_vec());
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Where `record`'s compiled binary is served under `origin` (`http://127.0.0.1:<port>`), if its
/// target version has one.
fn compiled_link(origin: &str, record: &UnitRecord) -> Option<String> {
    let program = record.program.as_ref()?;
    program.compiled_binary.as_ref()?;
    let asset = program
        .asset
        .as_ref()
        .map(|a| format!("/{a}"))
        .unwrap_or_default();
    Some(format!(
        "{origin}{}/{}/{}{asset}",
        rest::COMPILED_PREFIX,
        record.unit.uuid,
        record.target_commit
    ))
}

/// The topic and the backend's exact payload of `command` for `record` (§5), marking an update
/// as requested and, for `LogSync`, deleting the stored log first (as the backend does whoever asks);
/// `None` when the unit's schema lacks the command's topic. `origin` is where the instance serves
/// compiled binaries.
pub(crate) fn command_message(
    domain: &str,
    origin: &str,
    record: &mut UnitRecord,
    command: Command,
) -> Option<(String, String)> {
    let name = command.topic_name();
    let listed = record
        .sections
        .iter()
        .any(|(s, names)| s == "input_base_topic" && names.iter().any(|n| n == name));
    if !listed {
        return None;
    }
    if command == Command::LogSync {
        record.logs.clear();
    }
    let mut payload = serde_json::Map::new();
    payload.insert("COMMAND".into(), json!(command.as_str()));
    if command == Command::Update {
        record.update_status = UpdateStatus::RequestSent {
            target: record.target_commit.clone(),
        };
        payload.insert("PU_COMMIT_VERSION".into(), json!(record.target_commit));
        if let Some(url) = compiled_link(origin, record) {
            payload.insert("COMPILED_FIRMWARE_LINK".into(), json!(url));
        }
    }
    let topic = format!("{domain}/input_base_topic/{}/{name}", record.unit.uuid);
    Some((topic, pyjson::dumps(&Value::Object(payload))))
}

/// Now as the backend writes datetimes (`2025-04-08T11:27:52`, UTC).
fn iso_now() -> String {
    datetime::format_secs(datetime::now_secs())
}
