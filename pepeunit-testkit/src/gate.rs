//! The production broker's unit rules (PROTOCOL §4), applied on the MQTT link in front of either
//! broker, packet by packet, with the backend's live records:
//!
//! - CONNECT must come within 15 s and carry a token the instance issued as the username (or the
//!   instance's backend credentials); otherwise CONNACK 4 (bad user name or password) and close;
//! - a unit subscribes only to the topics its current schema gives it to read (`input_base_topic`,
//!   `input_topic`), by full name: a wildcard or any other filter gets SUBACK failure `0x80`;
//! - a unit publishes only to the topics its schema gives it to write (`output_base_topic`,
//!   `output_topic`); anything else is dropped, as EMQX's `deny_action = ignore` does;
//! - a packet over 256 KiB closes the connection, and so does one that rumqttc's MQTT 3.1.1 codec
//!   (`rumqttc::mqttbytes`, which reads and writes every packet here) refuses, as a broker does.
//!
//! Every allowed topic has at most five levels, so the depth limit follows from the schema. Packets
//! are forwarded as they came, except the subscriptions the rules trim.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, Publish, SubAck, Subscribe, SubscribeReasonCode,
};
use rumqttc::mqttbytes::{self, FixedHeader, PacketType, Protocol};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::link::{Conn, Stream};
use pepeunit::mqtt::MAX_PACKET_SIZE;

/// How long a new connection may take to send CONNECT (EMQX: 15 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Packets from the broker are not limited by the unit rules; this only bounds memory.
const MAX_BROKER_PACKET: usize = 16 << 20;

/// Who a connection belongs to, once its CONNECT was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// The instance's own client: everything allowed.
    Backend,
    /// The unit with this uuid.
    Unit(String),
}

/// Read (subscribe) or write (publish).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// The instance's answers to the rules' questions.
pub(crate) trait UnitRules: Send + Sync {
    /// Whose credentials these are; `None` refuses the connection.
    fn identify(&self, username: Option<&str>, password: Option<&[u8]>) -> Option<Identity>;

    /// Whether `who` may read or write `topic` (a full topic name, or a filter for reads).
    fn may(&self, who: &Identity, access: Access, topic: &str) -> bool;
}

/// Forwards one MQTT connection, applying the rules, until either side closes.
pub(crate) async fn forward(
    client: Box<dyn Stream>,
    server: TcpStream,
    conn: &Conn,
    rules: &dyn UnitRules,
) {
    let (client_read, mut client_write) = tokio::io::split(client);
    let (server_read, mut server_write) = server.into_split();
    let mut from_client = Packets::new(client_read, MAX_PACKET_SIZE);
    let connect = match tokio::time::timeout(CONNECT_TIMEOUT, from_client.next()).await {
        Ok(Ok(Some(packet))) => packet,
        _ => return,
    };
    conn.link().count_connect();
    if !conn.admit().await {
        swallow(from_client.from).await;
        return;
    }
    let login = connect_login(&connect);
    let Some(who) = login.and_then(|(user, pass)| {
        rules.identify(user.as_deref(), pass.as_deref().map(str::as_bytes))
    }) else {
        conn.link().count_refused();
        let refusal = ConnAck::new(ConnectReturnCode::BadUserNamePassword, false);
        let _ = client_write.write_all(&encode(|b| refusal.write(b))).await;
        return;
    };
    if server_write.write_all(&connect.bytes).await.is_err() {
        return;
    }
    let subacks = Mutex::new(HashMap::new());
    let (inject, injected) = mpsc::unbounded_channel();
    let from_server = Packets::new(server_read, MAX_BROKER_PACKET);
    tokio::select! {
        _ = from_unit(from_client, server_write, conn, rules, &who, &subacks, inject) => {}
        _ = to_unit(from_server, client_write, conn, &subacks, injected) => {}
    }
}

/// Unit → broker: publishes and subscriptions checked against the rules.
async fn from_unit(
    mut from: Packets<impl AsyncRead + Unpin>,
    mut to: impl AsyncWrite + Unpin,
    conn: &Conn,
    rules: &dyn UnitRules,
    who: &Identity,
    subacks: &Mutex<HashMap<u16, Vec<bool>>>,
    inject: mpsc::UnboundedSender<Bytes>,
) {
    while let Ok(Some(packet)) = from.next().await {
        if !conn.admit().await {
            continue;
        }
        let forwarded = match packet.kind() {
            Some(PacketType::Publish) => match Publish::read(packet.header, packet.bytes.clone()) {
                Ok(publish) => rules
                    .may(who, Access::Write, &publish.topic)
                    .then_some(packet.bytes),
                Err(_) => return,
            },
            Some(PacketType::Subscribe) => {
                let Ok(subscribe) = Subscribe::read(packet.header, packet.bytes.clone()) else {
                    return;
                };
                let allowed: Vec<bool> = subscribe
                    .filters
                    .iter()
                    .map(|filter| rules.may(who, Access::Read, &filter.path))
                    .collect();
                if allowed.iter().all(|a| *a) {
                    Some(packet.bytes)
                } else if allowed.iter().any(|a| *a) {
                    let kept = subscribe.filters.into_iter().zip(&allowed);
                    let trimmed = Subscribe {
                        pkid: subscribe.pkid,
                        filters: kept.filter(|(_, a)| **a).map(|(f, _)| f).collect(),
                    };
                    lock(subacks).insert(subscribe.pkid, allowed);
                    Some(encode(|b| trimmed.write(b)))
                } else {
                    let codes = vec![SubscribeReasonCode::Failure; allowed.len()];
                    let refusal = SubAck::new(subscribe.pkid, codes);
                    let _ = inject.send(encode(|b| refusal.write(b)));
                    None
                }
            }
            _ => Some(packet.bytes),
        };
        if let Some(bytes) = forwarded
            && to.write_all(&bytes).await.is_err()
        {
            return;
        }
    }
}

/// Broker → unit: SUBACKs of partly refused subscriptions completed with `0x80` in the refused places,
/// and the SUBACKs of wholly refused ones inserted between packets.
async fn to_unit(
    mut from: Packets<impl AsyncRead + Unpin>,
    mut to: impl AsyncWrite + Unpin,
    conn: &Conn,
    subacks: &Mutex<HashMap<u16, Vec<bool>>>,
    mut injected: mpsc::UnboundedReceiver<Bytes>,
) {
    loop {
        let bytes = tokio::select! {
            packet = from.next() => match packet {
                Ok(Some(packet)) => complete_suback(packet, subacks),
                _ => return,
            },
            Some(bytes) = injected.recv() => bytes,
        };
        if conn.admit().await && to.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// Reads and drops everything until the peer closes (a black-holed connection).
async fn swallow(mut from: impl AsyncRead + Unpin) {
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 {
            return;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One whole packet as it came (fixed header included) and its fixed header, which the codec's
/// readers take.
struct Packet {
    header: FixedHeader,
    bytes: Bytes,
}

impl Packet {
    /// `None` for a type byte that is no MQTT 3.1.1 packet (forwarded: the broker refuses it).
    fn kind(&self) -> Option<PacketType> {
        self.header.packet_type().ok()
    }
}

/// The packets of one direction of a connection, framed by the codec.
struct Packets<R> {
    from: R,
    buffer: BytesMut,
    /// A packet over this many bytes is an error (the connection closes, as EMQX closes it).
    max: usize,
}

impl<R: AsyncRead + Unpin> Packets<R> {
    fn new(from: R, max: usize) -> Packets<R> {
        Packets {
            from,
            buffer: BytesMut::new(),
            max,
        }
    }

    /// The next packet; `None` at a clean end of stream (between packets).
    async fn next(&mut self) -> std::io::Result<Option<Packet>> {
        loop {
            match mqttbytes::check(self.buffer.iter(), self.max) {
                Ok(header) if header.frame_length() > self.max => {
                    return Err(std::io::Error::other("packet over the size limit"));
                }
                Ok(header) => {
                    let bytes = self.buffer.split_to(header.frame_length()).freeze();
                    return Ok(Some(Packet { header, bytes }));
                }
                Err(mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => return Err(std::io::Error::other(e)),
            }
            self.buffer.reserve(READ_CHUNK);
            if self.from.read_buf(&mut self.buffer).await? == 0 {
                return match self.buffer.is_empty() {
                    true => Ok(None),
                    false => Err(std::io::ErrorKind::UnexpectedEof.into()),
                };
            }
        }
    }
}

/// How much room each read of a connection asks for.
const READ_CHUNK: usize = 16 * 1024;

/// A packet written by one of the codec's writers.
fn encode(write: impl FnOnce(&mut BytesMut) -> Result<usize, mqttbytes::Error>) -> Bytes {
    let mut buffer = BytesMut::new();
    // ok: the gate only writes packets built from ones the codec read, so each fits its limits.
    let _ = write(&mut buffer);
    buffer.freeze()
}

/// Username and password of an MQTT 3.1.1 CONNECT, each `None` when absent or empty (the codec keeps
/// no difference); `None` when the packet is not such a CONNECT.
fn connect_login(packet: &Packet) -> Option<(Option<String>, Option<String>)> {
    if packet.kind() != Some(PacketType::Connect) {
        return None;
    }
    let connect = Connect::read(packet.header, packet.bytes.clone()).ok()?;
    if connect.protocol != Protocol::V4 {
        return None;
    }
    let given = |text: String| (!text.is_empty()).then_some(text);
    Some(match connect.login {
        Some(login) => (given(login.username), given(login.password)),
        None => (None, None),
    })
}

/// A SUBACK for a subscription the rules trimmed gets `0x80` back in the refused places.
fn complete_suback(packet: Packet, subacks: &Mutex<HashMap<u16, Vec<bool>>>) -> Bytes {
    if packet.kind() != Some(PacketType::SubAck) {
        return packet.bytes;
    }
    let Ok(suback) = SubAck::read(packet.header, packet.bytes.clone()) else {
        return packet.bytes;
    };
    let Some(allowed) = lock(subacks).remove(&suback.pkid) else {
        return packet.bytes;
    };
    let mut granted = suback.return_codes.into_iter();
    let codes = allowed
        .iter()
        .map(|allowed| match allowed {
            true => granted.next().unwrap_or(SubscribeReasonCode::Failure),
            false => SubscribeReasonCode::Failure,
        })
        .collect();
    let completed = SubAck::new(suback.pkid, codes);
    encode(|b| completed.write(b))
}

#[cfg(test)]
mod tests {
    use rumqttc::mqttbytes::QoS;
    use rumqttc::mqttbytes::v4::SubscribeFilter;

    use super::*;

    /// Every packet `stream` holds, framed with the limit `max`.
    fn frame(stream: &[u8], max: usize) -> std::io::Result<Vec<Packet>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut packets = Packets::new(stream, max);
            let mut all = Vec::new();
            while let Some(packet) = packets.next().await? {
                all.push(packet);
            }
            Ok(all)
        })
    }

    fn subscribe(pkid: u16, filters: &[&str]) -> Bytes {
        let filters = filters
            .iter()
            .map(|f| SubscribeFilter::new((*f).to_owned(), QoS::AtLeastOnce));
        let packet = Subscribe {
            pkid,
            filters: filters.collect(),
        };
        encode(|b| packet.write(b))
    }

    #[test]
    fn packets_are_framed_across_reads_and_the_limit_holds() {
        let big = encode(|b| Publish::new("a/b", QoS::AtMostOnce, vec![7u8; 300]).write(b));
        let sub = subscribe(7, &["a/b", "c"]);
        let stream = [&big[..], &sub[..]].concat();
        let packets = frame(&stream, big.len()).unwrap();
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0].bytes, big);
        assert_eq!(packets[0].kind(), Some(PacketType::Publish));
        assert_eq!(packets[1].bytes, sub);
        // One byte over the limit, counting the fixed header: refused before its body is read.
        assert!(frame(&stream, big.len() - 1).is_err());
        // Cut inside a packet: an error, not a clean end.
        assert!(frame(&stream[..stream.len() - 1], big.len()).is_err());
        // A fifth byte of remaining length.
        assert!(frame(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], 1 << 30).is_err());
    }

    #[test]
    fn a_trimmed_suback_gets_refusals_in_place() {
        let subacks = Mutex::new(HashMap::from([(3, vec![false, true, false, true])]));
        let granted = [
            SubscribeReasonCode::Success(QoS::AtMostOnce),
            SubscribeReasonCode::Success(QoS::AtLeastOnce),
        ];
        let from_broker = encode(|b| SubAck::new(3, granted.to_vec()).write(b));
        let packet = frame(&from_broker, 64).unwrap().remove(0);
        assert_eq!(
            &complete_suback(packet, &subacks)[..],
            &[0x90, 0x06, 0, 3, 0x80, 0, 0x80, 1]
        );
        assert!(lock(&subacks).is_empty());
    }

    #[test]
    fn connect_login_reads_username_and_password() {
        let login = |connect: Connect| {
            let bytes = encode(|b| connect.write(b));
            connect_login(&frame(&bytes, 1024).unwrap().remove(0))
        };
        let mut connect = Connect::new("c");
        connect.set_login("un", "p");
        assert_eq!(
            login(connect.clone()),
            Some((Some("un".into()), Some("p".into())))
        );
        connect.login = None;
        assert_eq!(login(connect.clone()), Some((None, None)));
        connect.protocol = Protocol::V5;
        assert_eq!(login(connect), None);
        let subscribe = frame(&subscribe(1, &["a"]), 64).unwrap().remove(0);
        assert_eq!(connect_login(&subscribe), None);
    }
}
