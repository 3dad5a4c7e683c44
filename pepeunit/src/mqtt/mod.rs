//! The MQTT transport (cargo feature `mqtt`, PROTOCOL §4): the object-safe [`MqttTransport`] trait, the
//! built-in [`RumqttcTransport`], and the options the client builder takes for both.
//!
//! The main cycle, dispatch and platform commands that run on top of it live in [`crate::runtime`].

mod outage;
mod rumqttc_transport;
pub(crate) mod transport;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use outage::Outage;
pub use rumqttc_transport::RumqttcTransport;
pub use transport::{ConnectOptions, MqttTransport, TransportEvent};

use crate::backoff::{Backoff, random_u64};
use crate::settings::Env;

/// EMQX's max packet size, fixed header included (PROTOCOL §4): the default limit both ways.
pub const MAX_PACKET_SIZE: usize = 262_144;

/// The default broker port for TLS; connecting to it turns TLS on unless [`MqttConfig::tls`] says otherwise.
pub const TLS_PORT: u16 = 8883;

/// The default reconnect delays: 0.5 s doubling to 30 s.
const RECONNECT_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(500),
    max: Duration::from_secs(30),
};

/// MQTT and main-cycle options beyond env.json, set on the client builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// Time between two main-cycle ticks (each runs the output function once); default 100 ms.
    pub cycle_interval: Duration,
    /// Messages kept while disconnected (oldest dropped first, counted); default 1024.
    pub offline_queue: usize,
    /// Largest packet sent or accepted, fixed header included; default 256 KiB (EMQX). `log_sync`
    /// splits the log so that no message exceeds it.
    pub max_packet_size: usize,
    /// Reconnect delays; default 0.5 s doubling to 30 s.
    pub backoff: Backoff,
    /// `Some(true)`/`Some(false)` forces TLS on/off; `None` turns it on for port 8883 only.
    pub tls: Option<bool>,
    /// A PEM file of CA certificates trusted for TLS beside the system's roots (e.g. a private
    /// instance's CA); default none.
    pub ca_file: Option<PathBuf>,
    /// Messages waiting for one input handler; a message that finds the queue full is dropped and
    /// counted in the log (a handler slower than its input rate cannot keep up either way, and the
    /// connection must stay polled). Default 65536.
    pub handler_queue: usize,
    /// End the main cycle on SIGINT/SIGTERM (tokio then owns those signals for the process); default on.
    pub handle_signals: bool,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            cycle_interval: Duration::from_millis(100),
            offline_queue: 1024,
            max_packet_size: MAX_PACKET_SIZE,
            backoff: RECONNECT_BACKOFF,
            tls: None,
            ca_file: None,
            handler_queue: 65_536,
            handle_signals: true,
        }
    }
}

impl MqttConfig {
    /// The connection options for `env` (PROTOCOL §4); the client id is the unit uuid plus a random suffix.
    pub fn connect_options(&self, env: &Env) -> crate::error::Result<ConnectOptions> {
        Ok(ConnectOptions {
            host: env.mqtt_host.clone(),
            port: env.mqtt_port,
            username: env.auth_token.clone(),
            client_id: format!("{}-{:08x}", env.unit_uuid()?, random_u64() as u32),
            keep_alive: Duration::from_secs(env.mqtt_keepalive),
            max_packet_size: self.max_packet_size,
            tls: self.tls.unwrap_or(env.mqtt_port == TLS_PORT),
            ca_file: self.ca_file.clone(),
        })
    }
}
