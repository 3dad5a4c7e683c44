//! The built-in [`MqttTransport`] on rumqttc, with what rumqttc 0.25 leaves to its user: a delay that
//! grows (with jitter) between reconnect attempts, a resubscribe to every remembered topic on every
//! ConnAck, a bounded queue for what is published while offline, and 256 KiB packets both ways.
//!
//! Shape: the rumqttc `AsyncClient` handle is shared, one task (the *driver*) polls the `EventLoop`
//! continuously and only forwards events into a channel — it never waits on the runtime except for room
//! in that channel, and never runs a handler.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, SubscribeFilter};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::transport::{
    BoxFuture, ConnectOptions, MqttTransport, TransportEvent, publish_packet_size,
};
use super::{Backoff, random_u64};
use crate::error::{Error, Result};

/// Events waiting for the runtime's dispatcher; when full, the driver waits (TCP pushes back).
const EVENT_CAPACITY: usize = 1024;
/// How long [`MqttTransport::disconnect`] waits for DISCONNECT to be written before closing anyway.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(3);

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

fn mqtt_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Mqtt(format!("{what}: {e}"))
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
                set_tls(&mut mqtt)?;
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
            let task = tokio::spawn(drive(
                eventloop,
                self.link.clone(),
                events,
                self.backoff,
                stop.clone(),
            ));
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
                    return Err(Error::Mqtt(format!(
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

/// TLS with the system's root certificates, on rustls with the ring provider (installed as the
/// process default unless another one already is).
#[cfg(feature = "mqtt-tls")]
fn set_tls(mqtt: &mut MqttOptions) -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(Error::Mqtt(
            "TLS: no trusted root certificate found on this system".into(),
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
fn set_tls(_: &mut MqttOptions) -> Result<()> {
    Err(Error::Mqtt(
        "TLS was asked for (port 8883 or the tls option): enable the `mqtt-tls` cargo feature"
            .into(),
    ))
}

/// Polls the event loop until stopped or until the runtime drops its receiver.
async fn drive(
    mut eventloop: EventLoop,
    link: Arc<Mutex<Link>>,
    events: mpsc::Sender<TransportEvent>,
    backoff: Backoff,
    stop: Arc<AtomicBool>,
) {
    let mut attempt: u32 = 0;
    loop {
        let event = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::Publish(publish))) => TransportEvent::Message {
                topic: publish.topic,
                payload: publish.payload,
            },
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                attempt = 0;
                TransportEvent::Connected {
                    dropped_offline: on_connack(&link),
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => continue,
            Err(e) => {
                let was_connected = std::mem::replace(&mut lock(&link).connected, false);
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if was_connected
                    && events
                        .send(TransportEvent::Disconnected {
                            reason: e.to_string(),
                        })
                        .await
                        .is_err()
                {
                    return;
                }
                tokio::time::sleep(backoff.delay(attempt)).await;
                attempt = attempt.saturating_add(1);
                continue;
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
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

impl Backoff {
    /// The wait before reconnect attempt `attempt` (0-based): `initial × 2^attempt` capped at `max`,
    /// then a random point in its upper half ("equal jitter"), so that many units restarted together do
    /// not reconnect in lockstep.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let full = self.initial.saturating_mul(factor).min(self.max);
        let half = full / 2;
        let jitter_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random_u64() % jitter_ns.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_its_upper_half() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for attempt in 0..40 {
            let full = (Duration::from_millis(100) * 2u32.saturating_pow(attempt.min(20)))
                .min(Duration::from_secs(2));
            let delay = backoff.delay(attempt);
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
        }
    }
}
