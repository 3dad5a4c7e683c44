//! The production broker's unit rules (PROTOCOL §4), applied on the MQTT link in front of either
//! broker, packet by packet, with the backend's live records:
//!
//! - CONNECT must come within 15 s and carry a token the instance issued as the username (or the
//!   instance's backend credentials); otherwise CONNACK 4 (bad user name or password) and close;
//! - a unit subscribes only to the topics its current schema gives it to read (`input_base_topic`,
//!   `input_topic`), by full name: a wildcard or any other filter gets SUBACK failure `0x80`;
//! - a unit publishes only to the topics its schema gives it to write (`output_base_topic`,
//!   `output_topic`); anything else is dropped, as EMQX's `deny_action = ignore` does;
//! - a packet over 256 KiB closes the connection.
//!
//! Every allowed topic has at most five levels, so the depth limit follows from the schema.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::proxy::{Conn, Stream};
use pepeunit::mqtt::MAX_PACKET_SIZE;

/// How long a new connection may take to send CONNECT (EMQX: 15 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Packets from the broker are not limited by the unit rules; this only bounds memory.
const MAX_BROKER_PACKET: usize = 16 << 20;

/// CONNACK return code 4: bad user name or password.
pub(crate) const BAD_CREDENTIALS: u8 = 4;

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
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (server_read, mut server_write) = server.into_split();
    let connect = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        read_packet(&mut client_read, MAX_PACKET_SIZE),
    )
    .await
    {
        Ok(Ok(Some(packet))) => packet,
        _ => return,
    };
    conn.link().count_connect();
    if !conn.admit().await {
        swallow(client_read).await;
        return;
    }
    let Some(who) = connect_login(&connect).and_then(|(user, pass)| rules.identify(user, pass))
    else {
        conn.link().count_refused();
        let _ = client_write
            .write_all(&[0x20, 0x02, 0x00, BAD_CREDENTIALS])
            .await;
        return;
    };
    if server_write.write_all(&connect).await.is_err() {
        return;
    }
    let subacks = Mutex::new(HashMap::new());
    let (inject, injected) = mpsc::unbounded_channel();
    tokio::select! {
        _ = from_unit(client_read, server_write, conn, rules, &who, &subacks, inject) => {}
        _ = to_unit(server_read, client_write, conn, &subacks, injected) => {}
    }
}

/// Unit → broker: publishes and subscriptions checked against the rules.
async fn from_unit(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    conn: &Conn,
    rules: &dyn UnitRules,
    who: &Identity,
    subacks: &Mutex<HashMap<u16, Vec<bool>>>,
    inject: mpsc::UnboundedSender<Vec<u8>>,
) {
    while let Ok(Some(packet)) = read_packet(&mut from, MAX_PACKET_SIZE).await {
        if !conn.admit().await {
            continue;
        }
        let forwarded = match packet[0] >> 4 {
            3 => publish_topic(&packet)
                .is_some_and(|topic| rules.may(who, Access::Write, topic))
                .then_some(packet),
            8 => match subscribe_filters(&packet) {
                Some((id, filters)) => {
                    let allowed: Vec<bool> = filters
                        .iter()
                        .map(|(filter, _)| rules.may(who, Access::Read, filter))
                        .collect();
                    if allowed.iter().all(|a| *a) {
                        Some(packet)
                    } else if allowed.iter().any(|a| *a) {
                        let kept = filters.iter().zip(&allowed).filter(|(_, a)| **a);
                        let packet = subscribe_packet(id, kept.map(|(f, _)| f));
                        lock(subacks).insert(id, allowed);
                        Some(packet)
                    } else {
                        let _ = inject.send(suback_packet(id, &vec![0x80; allowed.len()]));
                        None
                    }
                }
                None => return,
            },
            _ => Some(packet),
        };
        if let Some(packet) = forwarded
            && to.write_all(&packet).await.is_err()
        {
            return;
        }
    }
}

/// Broker → unit: SUBACKs of partly refused subscriptions completed with `0x80` in the refused places,
/// and the SUBACKs of wholly refused ones inserted between packets.
async fn to_unit(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    conn: &Conn,
    subacks: &Mutex<HashMap<u16, Vec<bool>>>,
    mut injected: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    loop {
        let packet = tokio::select! {
            packet = read_packet(&mut from, MAX_BROKER_PACKET) => match packet {
                Ok(Some(packet)) => complete_suback(packet, subacks),
                _ => return,
            },
            Some(packet) = injected.recv() => packet,
        };
        if conn.admit().await && to.write_all(&packet).await.is_err() {
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

/// One whole packet (fixed header included); `None` at a clean end of stream. A packet over `max`
/// bytes is an error (the connection closes, as EMQX closes it).
async fn read_packet<R: AsyncRead + Unpin>(
    from: &mut R,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut first = [0u8; 1];
    if from.read(&mut first).await? == 0 {
        return Ok(None);
    }
    let mut packet = vec![first[0]];
    let mut remaining = 0usize;
    for shift in [0, 7, 14, 21] {
        let byte = from.read_u8().await?;
        packet.push(byte);
        remaining |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        if shift == 21 {
            return Err(std::io::Error::other("malformed remaining length"));
        }
    }
    if packet.len() + remaining > max {
        return Err(std::io::Error::other("packet over the size limit"));
    }
    let header = packet.len();
    packet.resize(header + remaining, 0);
    from.read_exact(&mut packet[header..]).await?;
    Ok(Some(packet))
}

/// The body of a packet (after the fixed header).
fn body(packet: &[u8]) -> &[u8] {
    let mut i = 1;
    while i < packet.len() && packet[i] & 0x80 != 0 {
        i += 1;
    }
    packet.get(i + 1..).unwrap_or_default()
}

/// A cursor over a packet body.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
}

/// Username and password of a CONNECT (MQTT 3.1/3.1.1); `None` when it is not one.
fn connect_login(packet: &[u8]) -> Option<(Option<&str>, Option<&[u8]>)> {
    if packet[0] != 0x10 {
        return None;
    }
    let mut fields = Fields(body(packet));
    fields.bytes()?; // protocol name
    let level = fields.take(1)?[0];
    if level != 3 && level != 4 {
        return None;
    }
    let flags = fields.take(1)?[0];
    fields.u16()?; // keepalive
    fields.bytes()?; // client id
    if flags & 0x04 != 0 {
        fields.bytes()?; // will topic
        fields.bytes()?; // will message
    }
    let username = if flags & 0x80 != 0 {
        Some(fields.string()?)
    } else {
        None
    };
    let password = if flags & 0x40 != 0 {
        Some(fields.bytes()?)
    } else {
        None
    };
    Some((username, password))
}

/// The topic of a PUBLISH.
fn publish_topic(packet: &[u8]) -> Option<&str> {
    Fields(body(packet)).string()
}

/// The packet id and (filter, options) list of a SUBSCRIBE.
fn subscribe_filters(packet: &[u8]) -> Option<(u16, Vec<(String, u8)>)> {
    let mut fields = Fields(body(packet));
    let id = fields.u16()?;
    let mut filters = Vec::new();
    while !fields.0.is_empty() {
        let filter = fields.string()?.to_owned();
        let options = fields.take(1)?[0];
        filters.push((filter, options));
    }
    Some((id, filters))
}

/// A packet of type byte `first` with `body`.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut packet = vec![first];
    let mut n = body.len();
    loop {
        let byte = (n % 128) as u8; // ok: below 128
        n /= 128;
        packet.push(if n > 0 { byte | 0x80 } else { byte });
        if n == 0 {
            break;
        }
    }
    packet.extend_from_slice(body);
    packet
}

fn subscribe_packet<'a>(id: u16, filters: impl Iterator<Item = &'a (String, u8)>) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    for (filter, options) in filters {
        // ok: filters came from a packet, so each is at most 65535 bytes long.
        body.extend_from_slice(&(filter.len() as u16).to_be_bytes());
        body.extend_from_slice(filter.as_bytes());
        body.push(*options);
    }
    packet(0x82, &body)
}

fn suback_packet(id: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(codes);
    packet(0x90, &body)
}

/// A SUBACK for a subscription the rules trimmed gets `0x80` back in the refused places.
fn complete_suback(packet: Vec<u8>, subacks: &Mutex<HashMap<u16, Vec<bool>>>) -> Vec<u8> {
    if packet[0] != 0x90 {
        return packet;
    }
    let mut fields = Fields(body(&packet));
    let Some(id) = fields.u16() else {
        return packet;
    };
    let Some(allowed) = lock(subacks).remove(&id) else {
        return packet;
    };
    let mut granted = fields.0.iter();
    let codes: Vec<u8> = allowed
        .iter()
        .map(|a| match a {
            true => granted.next().copied().unwrap_or(0x80),
            false => 0x80,
        })
        .collect();
    suback_packet(id, &codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_through_the_parsers() {
        let filters = vec![("a/b".to_owned(), 0u8), ("c".to_owned(), 1u8)];
        let sub = subscribe_packet(7, filters.iter());
        assert_eq!(subscribe_filters(&sub), Some((7, filters)));
        let big = packet(0x30, &vec![0u8; 300]);
        assert_eq!(&big[..3], &[0x30, 0xac, 0x02]);
        assert_eq!(body(&big).len(), 300);
    }

    #[test]
    fn a_trimmed_suback_gets_refusals_in_place() {
        let subacks = Mutex::new(HashMap::from([(3, vec![false, true, false, true])]));
        let from_broker = suback_packet(3, &[0, 1]);
        assert_eq!(
            complete_suback(from_broker, &subacks),
            suback_packet(3, &[0x80, 0, 0x80, 1])
        );
        assert!(lock(&subacks).is_empty());
    }

    #[test]
    fn connect_login_reads_username_and_password() {
        // CONNECT, MQTT 3.1.1, flags: username + password + clean session.
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0xc2, 0, 60, 0, 1, b'c'];
        body.extend_from_slice(&[0, 2, b'u', b'n', 0, 1, b'p']);
        let connect = packet(0x10, &body);
        assert_eq!(connect_login(&connect), Some((Some("un"), Some(&b"p"[..]))));
        let anonymous = packet(0x10, &[0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 0]);
        assert_eq!(connect_login(&anonymous), Some((None, None)));
    }
}
