//! The network between the units and one service of an instance, as a test sees it ([`Link`]: its
//! mode and counters) and as each proxied connection applies it ([`Conn`]). Both the byte proxy and
//! the MQTT gate forward through a [`Conn`], so it lives apart from either.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// What a [`Link`] does to the data through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkMode {
    /// Data passes.
    #[default]
    Pass,
    /// Data vanishes both ways and nothing is closed. A connection that lost data this way stays dead
    /// after the link heals (its stream is broken); connections opened later pass again.
    BlackHole,
    /// Every chunk (every MQTT packet on the broker link) is held this long before it is forwarded.
    Slow(Duration),
}

/// The network between the units and one service of an instance ([`super::Instance::mqtt_link`],
/// [`super::Instance::rest_link`]); cloning gives another handle on the same link.
#[derive(Clone, Default)]
pub struct Link(Arc<LinkState>);

#[derive(Default)]
struct LinkState {
    mode: Mutex<LinkMode>,
    /// Bumped by [`Link::drop_connections`]; every open connection closes when it changes.
    cuts: watch::Sender<u64>,
    accepted: AtomicU64,
    connects: AtomicU64,
    refused: AtomicU64,
}

impl Link {
    /// Applies `mode` to every connection, open or future.
    pub fn set_mode(&self, mode: LinkMode) {
        *self.0.mode.lock().unwrap_or_else(|p| p.into_inner()) = mode;
    }

    /// The mode in force.
    pub fn mode(&self) -> LinkMode {
        *self.0.mode.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes every open connection, both sides (as a reset route does); later connections pass.
    pub fn drop_connections(&self) {
        self.0.cuts.send_modify(|n| *n += 1);
    }

    /// TCP connections accepted so far (each MQTT connect attempt opens one).
    pub fn connections(&self) -> u64 {
        self.0.accepted.load(Ordering::SeqCst)
    }

    /// MQTT CONNECTs read so far: each one carried a token (over TLS, only after the handshake).
    pub fn connects(&self) -> u64 {
        self.0.connects.load(Ordering::SeqCst)
    }

    /// MQTT CONNECTs refused so far by the unit rules (bad or missing token).
    pub fn refused_connects(&self) -> u64 {
        self.0.refused.load(Ordering::SeqCst)
    }

    pub(crate) fn count_connect(&self) {
        self.0.connects.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn count_refused(&self) {
        self.0.refused.fetch_add(1, Ordering::SeqCst);
    }
}

/// The fault state of one connection, shared by its two directions.
pub(crate) struct Conn {
    link: Link,
    /// Set once the connection lost data to a black hole: it never carries data again.
    broken: AtomicBool,
}

impl Conn {
    /// A new connection through `link`, counted among its accepted ones.
    pub(crate) fn accept(link: Link) -> Conn {
        link.0.accepted.fetch_add(1, Ordering::SeqCst);
        Conn {
            link,
            broken: AtomicBool::new(false),
        }
    }

    /// Changes each time every open connection must close ([`Link::drop_connections`]).
    pub(crate) fn cuts(&self) -> watch::Receiver<u64> {
        self.link.0.cuts.subscribe()
    }
    /// Whether the next chunk may pass (after the link's delay, if slow); `false` swallows it.
    pub(crate) async fn admit(&self) -> bool {
        if self.broken.load(Ordering::SeqCst) {
            return false;
        }
        match self.link.mode() {
            LinkMode::Pass => true,
            LinkMode::Slow(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            LinkMode::BlackHole => {
                self.broken.store(true, Ordering::SeqCst);
                false
            }
        }
    }

    pub(crate) fn link(&self) -> &Link {
        &self.link
    }
}

/// A unit's side of a connection: plain TCP or TLS over it.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
