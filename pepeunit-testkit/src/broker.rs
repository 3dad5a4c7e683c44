//! The MQTT broker: the `mosquitto` binary or the embedded `rumqttd` on an internal port, behind the
//! MQTT link on the public port (`127.0.0.1:<port>`, see [`super::proxy`]) that applies the unit rules
//! ([`super::gate`]). What EMQX enforces for units (§4), and where:
//!
//! | EMQX rule | mosquitto | embedded rumqttd |
//! |---|---|---|
//! | token as username (else CONNACK 4) | the link | the link |
//! | units read/write only their schema's topics, by full name (no wildcards, so ≤ 5 levels) | the link (SUBACK `0x80`, publish dropped) | the link |
//! | max packet 256 KiB | the link closes the connection; also `max_packet_size 262141` | the link; also remaining length ≤ 262140 |
//! | retain unavailable | `retain_available false` (retained publish: client disconnected) | a retained publish disconnects the client |
//! | CONNECT within 15 s | the link | the link; also `connection_timeout_ms 15000` |
//! | max 32 in flight | not enforced (units publish at QoS 0: nothing is in flight) | `max_inflight_count 32` |
//! | 30 messages/s per connection | not enforced | not enforced |
//!
//! mosquitto runs with `set_tcp_nodelay true`: no Nagle delay on the broker's side of a message (the
//! latency bench measures the client, not the kernel's coalescing).
//!
//! The instance's own client connects to the internal port directly: it may do everything.
//! Stopping really closes the listener and every connection, so the same port can be bound again.
//! rumqttd has no shutdown: its listener and connections run on a runtime owned by a thread of ours
//! that is shut down, but each start's router thread stays parked (idle) until the process exits.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::{self, Packet, Protocol};
use rumqttd::{ConnectionSettings, LinkType, Router, RouterConfig, ServerSettings};

use super::gate::UnitRules;
use super::link::Link;
use super::proxy::Proxy;
use crate::error::{Error, Result};
use pepeunit::mqtt::MAX_PACKET_SIZE;

/// Which broker implementation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrokerKind {
    /// `mosquitto` when it is on `PATH`, else the embedded broker.
    #[default]
    Auto,
    /// The `mosquitto` binary (an error if it is not on `PATH`).
    Mosquitto,
    /// rumqttd in this process.
    Embedded,
}

impl BrokerKind {
    /// The kind `Auto` resolves to on this machine (the others resolve to themselves).
    pub fn resolve(self) -> BrokerKind {
        match self {
            BrokerKind::Auto if mosquitto_path().is_some() => BrokerKind::Mosquitto,
            BrokerKind::Auto => BrokerKind::Embedded,
            other => other,
        }
    }
}

/// `mosquitto` on `PATH`.
fn mosquitto_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file())
}

/// A running broker and the MQTT link in front of it; dropping it stops both (the link first).
pub(crate) struct Broker {
    _link: Proxy,
    _server: Process,
}

/// The broker process or thread.
enum Process {
    Mosquitto(Child),
    Embedded {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

/// Where a broker listens.
#[derive(Clone, Copy)]
pub(crate) struct Ports {
    /// Units connect here, through the MQTT link.
    pub(crate) public: u16,
    /// The broker itself; the instance's own client connects here.
    pub(crate) internal: u16,
}

impl Broker {
    /// Starts `kind` (already resolved) on the internal port and the link on the public one; `work_dir`
    /// holds mosquitto's config.
    pub(crate) async fn start(
        kind: BrokerKind,
        ports: Ports,
        work_dir: &Path,
        link: Link,
        rules: Arc<dyn UnitRules>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Broker> {
        let server = match kind {
            BrokerKind::Mosquitto | BrokerKind::Auto => start_mosquitto(ports.internal, work_dir)?,
            BrokerKind::Embedded => start_embedded(ports.internal)?,
        };
        wait_listening(ports.internal).await?;
        let (link, _) = Proxy::start(ports.public, ports.internal, link, Some(rules), tls)?;
        Ok(Broker {
            _link: link,
            _server: server,
        })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        match self {
            Process::Mosquitto(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Process::Embedded { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

fn start_mosquitto(port: u16, work_dir: &Path) -> Result<Process> {
    let binary = mosquitto_path().ok_or_else(|| {
        Error::io(
            "mosquitto",
            std::io::Error::new(std::io::ErrorKind::NotFound, "mosquitto is not on PATH"),
        )
    })?;
    let conf = work_dir.join(format!("mosquitto-{port}.conf"));
    // mosquitto compares the remaining length + 1 (not the length bytes) with max_packet_size; packets near
    // 256 KiB have 3 length bytes, so this refuses exactly the packets over MAX_PACKET_SIZE.
    let max_packet = MAX_PACKET_SIZE - 3;
    let text = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\nmax_packet_size {max_packet}\n\
         retain_available false\npersistence false\nlog_dest none\nset_tcp_nodelay true\n"
    );
    std::fs::write(&conf, text).map_err(|e| Error::io(&conf, e))?;
    let child = Command::new(&binary)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io(&binary, e))?;
    Ok(Process::Mosquitto(child))
}

fn start_embedded(port: u16) -> Result<Process> {
    let router_config = RouterConfig {
        max_connections: 1000,
        max_outgoing_packet_count: 200,
        max_segment_size: 4 * MAX_PACKET_SIZE,
        max_segment_count: 10,
        ..RouterConfig::default()
    };
    let router_tx = Router::new(0, router_config).spawn();
    let settings = ServerSettings {
        name: format!("pepeunit-testkit-{port}"),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: 15_000,
            // rumqttd limits the remaining length; packets this big have a 4-byte fixed header.
            max_payload_size: MAX_PACKET_SIZE - 4,
            max_inflight_count: 32,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let mut server = rumqttd::Server::new(settings, router_tx, NoRetain(V4));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("embedded broker runtime", e))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("pepeunit-testkit-broker-{port}"))
        .spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    _ = server.start(LinkType::Remote) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops the listener and every connection task: their sockets close.
            drop(runtime);
        })
        .map_err(|e| Error::io("embedded broker thread", e))?;
    Ok(Process::Embedded {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// MQTT 3.1.1 that refuses a retained PUBLISH (EMQX has retain unavailable): the client is disconnected.
#[derive(Clone)]
struct NoRetain(V4);

impl Protocol for NoRetain {
    fn read_mut(
        &mut self,
        stream: &mut BytesMut,
        max_size: usize,
    ) -> Result<Packet, protocol::Error> {
        match self.0.read_mut(stream, max_size)? {
            Packet::Publish(publish, _) if publish.retain => {
                Err(protocol::Error::IncorrectPacketFormat)
            }
            packet => Ok(packet),
        }
    }

    fn write(&self, packet: Packet, write: &mut BytesMut) -> Result<usize, protocol::Error> {
        self.0.write(packet, write)
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub(crate) fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::io("127.0.0.1:0", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("127.0.0.1:0", e))
}

/// Waits until a TCP connect to `127.0.0.1:port` succeeds (10 s at most).
async fn wait_listening(port: u16) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::io(
                    format!("broker at 127.0.0.1:{port} never listened"),
                    e,
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
