//! The MQTT transport as a small object-safe trait, so a unit can bring another MQTT crate.
//!
//! The runtime only ever talks to a `dyn MqttTransport`: [`MqttTransport::connect`] hands back a tokio
//! channel of [`TransportEvent`]s (incoming messages and connection changes), and the other calls queue
//! requests. An implementation drives its connection on its own task, never runs user code there, and
//! keeps the promises listed on the trait (they are what PROTOCOL §4 asks of a unit).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::Result;
use crate::future::BoxFuture;

/// Where and how to connect; built by the runtime from env.json (PROTOCOL §4).
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `PU_MQTT_HOST`.
    pub host: String,
    /// `PU_MQTT_PORT`.
    pub port: u16,
    /// The unit token (`PU_AUTH_TOKEN`); the password is always empty. Never shown by `Debug`.
    pub username: String,
    /// The unit uuid plus a random suffix, so two copies of a unit never kick each other off.
    pub client_id: String,
    /// `PU_MQTT_KEEPALIVE`.
    pub keep_alive: Duration,
    /// The largest packet sent or accepted, fixed header included (EMQX: 256 KiB).
    pub max_packet_size: usize,
    /// Connect over TLS (`mqtts`).
    pub tls: bool,
    /// CA certificates (PEM) trusted beside the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("keep_alive", &self.keep_alive)
            .field("max_packet_size", &self.max_packet_size)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// What a transport reports to the runtime, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// The broker accepted the connection and every remembered topic was subscribed again.
    Connected {
        /// Messages published while offline that the bounded queue had to drop (oldest first) since
        /// the previous connection.
        dropped_offline: u64,
    },
    /// The connection was lost; the transport keeps trying to reconnect.
    Disconnected {
        /// Why, in words (never the token).
        reason: String,
    },
    /// A connection attempt failed (refused, TLS, timeout, I/O); the transport tries again after its
    /// backoff. Sent for every attempt: the runtime rate-limits what it logs (`mqtt/outage.rs`).
    ConnectFailed {
        /// Why, in words (never the token); a refusal by the broker starts with "refused by the broker"
        /// (`mqtt/outage.rs`).
        reason: String,
    },
    /// A message arrived on a subscribed topic.
    Message {
        /// The physical topic.
        topic: String,
        /// The payload bytes, as received.
        payload: Bytes,
    },
}

/// An MQTT connection as the runtime needs it.
///
/// Promises an implementation keeps:
/// - it reports every failed connection attempt with its reason, and notices a dead link (no packet
///   from the broker) within 1.5 × keepalive;
/// - it reconnects by itself after a loss (with a delay that grows), and after **every** ConnAck it
///   subscribes again to every topic given to [`subscribe`](Self::subscribe) and not unsubscribed since;
/// - it never sets the retain flag and subscribes and publishes at QoS 0;
/// - a publish while disconnected, or not yet written when the connection was lost, is queued (bounded)
///   and sent after reconnecting, or dropped and counted in [`TransportEvent::Connected`];
/// - it never runs runtime or user code on the task that drives the connection.
pub trait MqttTransport: Send + Sync + 'static {
    /// Starts connecting with `options` and returns the channel its events arrive on. A connection
    /// already running is closed first (the runtime reconnects this way when env.json changes).
    fn connect(
        &self,
        options: ConnectOptions,
    ) -> BoxFuture<'_, Result<mpsc::Receiver<TransportEvent>>>;

    /// Subscribes to `topics` now if connected, and after every later ConnAck.
    fn subscribe(&self, topics: Vec<String>) -> BoxFuture<'_, Result<()>>;

    /// Unsubscribes from `topics` and forgets them for later reconnects.
    fn unsubscribe(&self, topics: Vec<String>) -> BoxFuture<'_, Result<()>>;

    /// Publishes `payload` on `topic` (QoS 0, never retained); queued while disconnected.
    fn publish(&self, topic: String, payload: Bytes) -> BoxFuture<'_, Result<()>>;

    /// Sends DISCONNECT (when connected), stops reconnecting and closes the event channel.
    fn disconnect(&self) -> BoxFuture<'_, Result<()>>;
}

/// The size of a QoS 0 PUBLISH packet: fixed header (1 byte + remaining-length bytes), topic length
/// prefix, topic and payload. Transports use it to refuse what the broker would disconnect them for.
pub fn publish_packet_size(topic: &str, payload_len: usize) -> usize {
    let remaining = 2 + topic.len() + payload_len;
    let length_bytes = match remaining {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    1 + length_bytes + remaining
}

/// The largest payload that keeps a QoS 0 PUBLISH to `topic` within `max_packet_size` (counting the
/// longest remaining-length field, so at most 3 bytes below the exact figure).
pub fn max_payload_size(topic: &str, max_packet_size: usize) -> usize {
    max_packet_size.saturating_sub(1 + 4 + 2 + topic.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_payload_fits_the_packet() {
        for max in [100, 4096, 262_144] {
            let topic = "localhost/output_base_topic/u/log/pepeunit";
            assert!(publish_packet_size(topic, max_payload_size(topic, max)) <= max);
        }
    }

    #[test]
    fn packet_size_counts_header_topic_and_payload() {
        assert_eq!(publish_packet_size("a", 0), 1 + 1 + 3);
        assert_eq!(publish_packet_size("t", 125), 1 + 2 + 128);
        assert_eq!(publish_packet_size("t", 262_000), 1 + 3 + 262_003);
    }
}
