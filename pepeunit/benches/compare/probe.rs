//! The compiled probe: MQTT clients on plain threads (rumqttc's blocking API), TCP_NODELAY on, every
//! arrival stamped with the monotonic clock on the thread that reads the socket.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, Connection, Event, MqttOptions, Packet, QoS};

/// How long a connect or a subscribe may take before the bench gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// One message seen by a [`Watcher`].
pub struct Arrival {
    pub at: Instant,
    pub topic: String,
    pub payload: Vec<u8>,
}

fn connect(port: u16, name: &str, cap: usize) -> (Client, Connection) {
    let id = format!("bench-{name}-{}", std::process::id());
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    let (user, password) = crate::login();
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(262_144, 262_144)
        .set_credentials(user, password);
    let (client, mut connection) = Client::new(options, cap);
    let mut network = connection.eventloop.network_options();
    network.set_tcp_nodelay(true);
    connection.eventloop.set_network_options(network);
    (client, connection)
}

/// Drives `connection` on its own thread until the client disconnects or the connection fails;
/// `on_packet` sees every incoming packet with its arrival time.
fn drive(
    mut connection: Connection,
    mut on_packet: impl FnMut(Instant, Packet) + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(packet)) => on_packet(Instant::now(), packet),
                Ok(Event::Outgoing(_)) => {}
                Err(_) => break,
            }
        }
    })
}

/// A subscriber: every message on its topics, as [`Arrival`]s on a channel.
pub struct Watcher {
    client: Client,
    arrivals: Receiver<Arrival>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Connects and subscribes to `topics`; returns once the broker acknowledged the subscription.
    pub fn start(port: u16, name: &str, topics: &[String]) -> Watcher {
        let (client, connection) = connect(port, name, 64);
        let (tx, arrivals) = channel();
        let (ready_tx, ready) = channel();
        let thread = drive(connection, move |at, packet| match packet {
            Packet::Publish(p) => {
                let _ = tx.send(Arrival {
                    at,
                    topic: p.topic,
                    payload: p.payload.to_vec(),
                });
            }
            Packet::SubAck(_) => {
                let _ = ready_tx.send(());
            }
            _ => {}
        });
        for topic in topics {
            client
                .subscribe(topic, QoS::AtMostOnce)
                .expect("probe subscribe");
        }
        for _ in topics {
            ready
                .recv_timeout(READY_TIMEOUT)
                .expect("the broker acknowledged the probe's subscription");
        }
        Watcher {
            client,
            arrivals,
            thread: Some(thread),
        }
    }

    /// The next arrival, or `None` after `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Arrival> {
        self.arrivals.recv_timeout(timeout).ok()
    }

    /// Drops every arrival queued so far.
    pub fn drain(&self) {
        while self.arrivals.try_recv().is_ok() {}
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A publisher whose `publish` returns as soon as rumqttc has the message (QoS 0).
pub struct Publisher {
    client: Client,
    thread: Option<JoinHandle<()>>,
}

impl Publisher {
    /// Connects; returns once the broker's CONNACK arrived.
    pub fn start(port: u16, name: &str) -> Publisher {
        let (client, connection) = connect(port, name, 4096);
        let (ready_tx, ready): (Sender<()>, Receiver<()>) = channel();
        let thread = drive(connection, move |_, packet| {
            if let Packet::ConnAck(_) = packet {
                let _ = ready_tx.send(());
            }
        });
        ready
            .recv_timeout(READY_TIMEOUT)
            .expect("the broker accepted the probe's connection");
        Publisher {
            client,
            thread: Some(thread),
        }
    }

    pub fn publish(&self, topic: &str, payload: Vec<u8>) {
        self.client
            .publish(topic, QoS::AtMostOnce, false, payload)
            .expect("probe publish");
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
