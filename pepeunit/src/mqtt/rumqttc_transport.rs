//! The built-in [`MqttTransport`] on rumqttc, with what rumqttc 0.25 leaves to its user: a delay that
//! grows (with jitter) between reconnect attempts, a resubscribe to every remembered topic on every
//! ConnAck, a bounded queue for what is published while offline (and for what rumqttc had not written
//! yet when the connection broke: it would clear those on the next clean-session ConnAck), a dead-link
//! watchdog (no packet from the broker for 1.5 × keepalive: rumqttc alone notices only at the second
//! unanswered ping, up to 2 × keepalive), the reason of every failed attempt, and 256 KiB packets.
//!
//! Shape: the rumqttc `AsyncClient` handle is shared, one task (the *driver*) polls the `EventLoop`
//! continuously and only forwards events into a channel — it never waits on the runtime except for room
//! in that channel, and never runs a handler.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, Request,
    StateError, SubscribeFilter,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::outage::refusal;
use super::transport::{ConnectOptions, MqttTransport, TransportEvent, publish_packet_size};
use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::future::BoxFuture;

/// Events waiting for the runtime's dispatcher; when full, the driver waits (TCP pushes back).
const EVENT_CAPACITY: usize = 1024;
/// How long [`MqttTransport::disconnect`] waits for DISCONNECT to be written before closing anyway.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A connection that lived this long resets the backoff when it breaks; one that breaks sooner (refused
/// right after ConnAck, say) keeps growing it, so that a flapping connection cannot retry in a storm.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);

/// The default transport (see the module doc).
pub struct RumqttcTransport {
    offline_queue: usize,
    backoff: Backoff,
    link: Arc<Mutex<Link>>,
    driver: tokio::sync::Mutex<Option<Driver>>,
}

/// What publishers and the driver share.
struct Link {
    client: Option<AsyncClient>,
    connected: bool,
    max_packet_size: usize,
    /// Subscribed again after every ConnAck.
    topics: BTreeSet<String>,
    /// Published while offline, oldest first.
    queue: VecDeque<(String, Bytes)>,
    /// Dropped from `queue` since the last ConnAck.
    dropped: u64,
}

struct Driver {
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl RumqttcTransport {
    /// A transport that keeps at most `offline_queue` messages while disconnected (oldest dropped
    /// first) and waits between reconnect attempts as `backoff` says.
    pub fn new(offline_queue: usize, backoff: Backoff) -> RumqttcTransport {
        RumqttcTransport {
            offline_queue,
            backoff,
            link: Arc::new(Mutex::new(Link {
                client: None,
                connected: false,
                max_packet_size: super::MAX_PACKET_SIZE,
                topics: BTreeSet::new(),
                queue: VecDeque::new(),
                dropped: 0,
            })),
            driver: tokio::sync::Mutex::new(None),
        }
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        lock(&self.link)
    }

    /// Stops the running driver, if any, after trying a clean DISCONNECT.
    async fn stop_driver(&self) {
        let Some(driver) = self.driver.lock().await.take() else {
            return;
        };
        driver.stop.store(true, Ordering::SeqCst);
        let client = {
            let mut link = self.link();
            link.connected = false;
            link.client.take()
        };
        if let Some(client) = client {
            let _ = client.try_disconnect();
        }
        let mut task = driver.task;
        if tokio::time::timeout(DISCONNECT_TIMEOUT, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// The link, even if a panic poisoned the lock: every update of it is a few plain assignments.
fn lock(link: &Mutex<Link>) -> MutexGuard<'_, Link> {
    link.lock().unwrap_or_else(|p| p.into_inner())
}

fn mqtt_error(what: &str, e: rumqttc::ClientError) -> Error {
    Error::Mqtt {
        reason: format!("{what}: {e}"),
        source: Some(e.into()),
    }
}

impl MqttTransport for RumqttcTransport {
    fn connect(
        &self,
        options: ConnectOptions,
    ) -> BoxFuture<'_, Result<mpsc::Receiver<TransportEvent>>> {
        Box::pin(async move {
            self.stop_driver().await;
            let mut mqtt = MqttOptions::new(&options.client_id, &options.host, options.port);
            mqtt.set_credentials(&options.username, "")
                .set_keep_alive(options.keep_alive)
                .set_clean_session(true)
                .set_max_packet_size(options.max_packet_size, options.max_packet_size);
            if options.tls {
                set_tls(&mut mqtt, options.ca_file.as_deref())?;
            }
            // Room for the resubscribe and the whole offline queue, sent at once on ConnAck.
            let (client, mut eventloop) = AsyncClient::new(mqtt, self.offline_queue + 64);
            // rumqttc leaves Nagle on: a small publish could wait for the broker's delayed ACK.
            let mut network = eventloop.network_options();
            network.set_tcp_nodelay(true);
            eventloop.set_network_options(network);
            {
                let mut link = self.link();
                link.client = Some(client);
                link.connected = false;
                link.max_packet_size = options.max_packet_size;
            }
            let (events, receiver) = mpsc::channel(EVENT_CAPACITY);
            let stop = Arc::new(AtomicBool::new(false));
            let driver = Drive {
                link: self.link.clone(),
                events,
                backoff: self.backoff,
                offline_queue: self.offline_queue,
                keep_alive: options.keep_alive,
                stop: stop.clone(),
            };
            // Quiet: what rumqttc logs about our own publishes must not come back as log entries.
            let task = tokio::spawn(crate::quiet::quiet(driver.run(eventloop)));
            *self.driver.lock().await = Some(Driver { stop, task });
            Ok(receiver)
        })
    }

    fn subscribe(&self, topics: Vec<String>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let client = {
                let mut link = self.link();
                link.topics.extend(topics.iter().cloned());
                link.client.clone().filter(|_| link.connected)
            };
            match client {
                Some(client) if !topics.is_empty() => client
                    .subscribe_many(filters(topics))
                    .await
                    .map_err(|e| mqtt_error("subscribe", e)),
                _ => Ok(()),
            }
        })
    }

    fn unsubscribe(&self, topics: Vec<String>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let client = {
                let mut link = self.link();
                for topic in &topics {
                    link.topics.remove(topic);
                }
                link.client.clone().filter(|_| link.connected)
            };
            if let Some(client) = client {
                for topic in topics {
                    client
                        .unsubscribe(topic)
                        .await
                        .map_err(|e| mqtt_error("unsubscribe", e))?;
                }
            }
            Ok(())
        })
    }

    fn publish(&self, topic: String, payload: Bytes) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let client = {
                let mut link = self.link();
                let size = publish_packet_size(&topic, payload.len());
                if size > link.max_packet_size {
                    return Err(Error::mqtt(format!(
                        "a {size}-byte message to {topic} is over the {}-byte packet limit",
                        link.max_packet_size
                    )));
                }
                match link.client.clone().filter(|_| link.connected) {
                    Some(client) => client,
                    None => {
                        if link.queue.len() >= self.offline_queue {
                            link.queue.pop_front();
                            link.dropped += 1;
                        }
                        if self.offline_queue > 0 {
                            link.queue.push_back((topic, payload));
                        } else {
                            link.dropped += 1;
                        }
                        return Ok(());
                    }
                }
            };
            client
                .publish_bytes(topic, QoS::AtMostOnce, false, payload)
                .await
                .map_err(|e| mqtt_error("publish", e))
        })
    }

    fn disconnect(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.stop_driver().await;
            Ok(())
        })
    }
}

fn filters(topics: Vec<String>) -> Vec<SubscribeFilter> {
    topics
        .into_iter()
        .map(|topic| SubscribeFilter::new(topic, QoS::AtMostOnce))
        .collect()
}

/// TLS with the system's root certificates and those of `ca_file`, on rustls with the ring provider
/// (installed as the process default unless another one already is). The broker's certificate is
/// verified (chain and host name) before a byte of MQTT, the token included, is sent.
#[cfg(feature = "mqtt-tls")]
fn set_tls(mqtt: &mut MqttOptions, ca_file: Option<&std::path::Path>) -> Result<()> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let bad =
            |reason: String| Error::mqtt(format!("TLS: CA file {}: {reason}", path.display()));
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
        let mut added = 0;
        for cert in certs {
            roots
                .add(cert.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate in it".into()));
        }
    }
    if roots.is_empty() {
        return Err(Error::mqtt(
            "TLS: no trusted root certificate found on this system",
        ));
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    mqtt.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
    ));
    Ok(())
}

#[cfg(not(feature = "mqtt-tls"))]
fn set_tls(_: &mut MqttOptions, _: Option<&std::path::Path>) -> Result<()> {
    Err(Error::mqtt(
        "TLS was asked for (port 8883 or the tls option): enable the `mqtt-tls` cargo feature",
    ))
}

/// What the driver task owns besides the event loop.
struct Drive {
    link: Arc<Mutex<Link>>,
    events: mpsc::Sender<TransportEvent>,
    backoff: Backoff,
    offline_queue: usize,
    keep_alive: Duration,
    stop: Arc<AtomicBool>,
}

impl Drive {
    /// Polls the event loop until stopped or until the runtime drops its receiver.
    async fn run(self, mut eventloop: EventLoop) {
        let mut attempt: u32 = 0;
        let mut connected_at: Option<Instant> = None;
        let mut last_incoming = Instant::now();
        let mut proof = Proof::default();
        loop {
            let polled = match connected_at {
                Some(_) if !self.keep_alive.is_zero() => {
                    let silence = self.keep_alive.mul_f64(1.5);
                    match tokio::time::timeout_at(last_incoming + silence, eventloop.poll()).await {
                        Ok(polled) => polled.map_err(|e| failure_reason(&e)),
                        Err(_) => {
                            eventloop.clean();
                            Err(format!(
                                "no packet from the broker for {:.1} s (1.5 × keepalive): the link is dead",
                                silence.as_secs_f64()
                            ))
                        }
                    }
                }
                _ => eventloop.poll().await.map_err(|e| failure_reason(&e)),
            };
            let event = match polled {
                Ok(Event::Incoming(packet)) => {
                    last_incoming = Instant::now();
                    match packet {
                        Packet::Publish(publish) => TransportEvent::Message {
                            topic: publish.topic,
                            payload: publish.payload,
                        },
                        Packet::ConnAck(_) => {
                            connected_at = Some(last_incoming);
                            proof = Proof::default();
                            TransportEvent::Connected {
                                dropped_offline: on_connack(&self.link),
                            }
                        }
                        Packet::PingResp => {
                            proof.confirmed = proof.at_ping;
                            continue;
                        }
                        _ => continue,
                    }
                }
                Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                    proof.written += 1;
                    continue;
                }
                Ok(Event::Outgoing(Outgoing::PingReq)) => {
                    proof.at_ping = proof.written;
                    continue;
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                Ok(_) => continue,
                Err(reason) => {
                    lock(&self.link).connected = false;
                    if self.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    self.requeue_unsent(&mut eventloop);
                    let event = match connected_at.take() {
                        Some(since) => {
                            if since.elapsed() >= STABLE_CONNECTION {
                                attempt = 0;
                            }
                            TransportEvent::Disconnected {
                                reason: with_unconfirmed(reason, proof.written - proof.confirmed),
                            }
                        }
                        None => TransportEvent::ConnectFailed { reason },
                    };
                    if self.events.send(event).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(self.backoff.delay(attempt)).await;
                    attempt = attempt.saturating_add(1);
                    continue;
                }
            };
            if self.events.send(event).await.is_err() {
                return;
            }
        }
    }

    /// Moves the publishes rumqttc had not written when the connection broke (it clears them on the next
    /// clean-session ConnAck) to the front of the offline queue, oldest dropped and counted past its bound.
    fn requeue_unsent(&self, eventloop: &mut EventLoop) {
        let unsent: Vec<(String, Bytes)> = std::mem::take(&mut eventloop.pending)
            .into_iter()
            .filter_map(|request| match request {
                Request::Publish(publish) => Some((publish.topic, publish.payload)),
                _ => None,
            })
            .collect();
        let mut link = lock(&self.link);
        for message in unsent.into_iter().rev() {
            link.queue.push_front(message);
        }
        while link.queue.len() > self.offline_queue {
            link.queue.pop_front();
            link.dropped += 1;
        }
    }
}

/// Which QoS 0 publishes of a connection are known to have reached the broker: those written before a
/// PINGREQ that got its PINGRESP (the broker handles a connection's packets in order).
#[derive(Default)]
struct Proof {
    /// Publishes written on this connection.
    written: u64,
    /// `written` when the last PINGREQ went out.
    at_ping: u64,
    /// `at_ping` when the last PINGRESP came.
    confirmed: u64,
}

/// The reason of a failed attempt or a lost connection, in words (rumqttc's texts are terse).
fn failure_reason(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code) => refusal(*code as u8),
        ConnectionError::NetworkTimeout => "timed out: no CONNACK within 5 s".into(),
        ConnectionError::FlushTimeout => "timed out writing to the broker".into(),
        ConnectionError::Io(e) => format!("I/O: {e}"),
        #[cfg(feature = "mqtt-tls")]
        ConnectionError::Tls(e) => tls_reason(e),
        ConnectionError::MqttState(StateError::AwaitPingResp) => {
            "no PINGRESP from the broker within the keepalive".into()
        }
        ConnectionError::MqttState(StateError::Io(e)) => format!("I/O: {e}"),
        other => other.to_string(),
    }
}

/// A TLS failure in words: rumqttc wraps the handshake's rustls error in an I/O error.
#[cfg(feature = "mqtt-tls")]
fn tls_reason(error: &rumqttc::TlsError) -> String {
    let handshake = match error {
        rumqttc::TlsError::TLS(e) => Some(e),
        rumqttc::TlsError::Io(e) => e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match handshake {
        Some(e) => format!(
            "TLS: {e} (the broker's certificate is not trusted for this host; no plaintext fallback)"
        ),
        None => format!("TLS: {error}"),
    }
}

fn with_unconfirmed(reason: String, unconfirmed: u64) -> String {
    match unconfirmed {
        0 => reason,
        n => format!(
            "{reason}; {n} message(s) sent since the last PINGRESP may not have arrived (QoS 0, unconfirmed)"
        ),
    }
}

/// Marks the link connected, subscribes to every remembered topic and sends the offline queue, all
/// under the lock so that nothing published meanwhile overtakes the queue. Returns the drop count.
fn on_connack(link: &Mutex<Link>) -> u64 {
    let mut link = lock(link);
    let Some(client) = link.client.clone() else {
        return 0;
    };
    link.connected = true;
    let topics: Vec<String> = link.topics.iter().cloned().collect();
    if !topics.is_empty() {
        // The request channel was sized for this: it cannot be full right after a ConnAck.
        let _ = client.try_subscribe_many(filters(topics));
    }
    let queued: Vec<(String, Bytes)> = link.queue.drain(..).collect();
    for (topic, payload) in queued {
        if client
            .try_publish(topic, QoS::AtMostOnce, false, payload.to_vec())
            .is_err()
        {
            link.dropped += 1;
        }
    }
    std::mem::take(&mut link.dropped)
}
