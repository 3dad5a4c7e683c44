//! Links: TCP proxies on 127.0.0.1 between the units and the instance's broker and REST server, so that
//! a test can break the network under a unit — close every connection, black-hole them (data vanishes,
//! nothing is closed, as when a route or a NAT entry dies) or slow them down — and count connections.
//!
//! Each proxy runs on its own thread and runtime: stopping it closes its listener and every connection
//! before [`Proxy`]'s drop returns, so the port can be bound again at once. The MQTT link also applies
//! the broker's unit rules on the way (see [`super::gate`]); with TLS on, the links terminate it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::gate::{self, UnitRules};
use super::link::{Conn, Link, Stream};
use crate::error::{Error, Result};

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// A running proxy; dropping it closes its listener and every connection.
pub(crate) struct Proxy {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Listens on `127.0.0.1:port` (0: any free port) and forwards to `127.0.0.1:upstream` through
    /// `link`, applying `rules` (MQTT) when given and terminating TLS with `tls` when given. Returns the
    /// proxy and its port.
    pub(crate) fn start(
        port: u16,
        upstream: u16,
        link: Link,
        rules: Option<Arc<dyn UnitRules>>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<(Proxy, u16)> {
        let address = format!("127.0.0.1:{port}");
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .map_err(|e| Error::io(&address, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(&address, e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io(&address, e))?
            .port();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("proxy runtime", e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, upstream));
        let thread = std::thread::Builder::new()
            .name(format!("pepeunit-testkit-proxy-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    let tls = tls.map(TlsAcceptor::from);
                    tokio::select! {
                        _ = serve(listener, upstream, link, rules, tls) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime drops the listener and every connection task: their sockets close.
                drop(runtime);
            })
            .map_err(|e| Error::io("proxy thread", e))?;
        Ok((
            Proxy {
                stop: Some(stop),
                thread: Some(thread),
            },
            port,
        ))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until the runtime stops; each one is forwarded on its own task.
async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    link: Link,
    rules: Option<Arc<dyn UnitRules>>,
    tls: Option<TlsAcceptor>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors or similar: let the machine breathe instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let conn = Conn::accept(link.clone());
        let rules = rules.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let mut cuts = conn.cuts();
            let forward = async {
                let client: Box<dyn Stream> = match tls {
                    Some(tls) => {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(client)).await {
                            Ok(Ok(stream)) => Box::new(stream),
                            _ => return,
                        }
                    }
                    None => Box::new(client),
                };
                match rules {
                    Some(rules) => gate::forward(client, server, &conn, rules.as_ref()).await,
                    None => forward_bytes(client, server, &conn).await,
                }
            };
            tokio::select! {
                _ = forward => {}
                _ = cuts.changed() => {}
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Copies bytes both ways until either side closes (then both close).
async fn forward_bytes(client: Box<dyn Stream>, server: TcpStream, conn: &Conn) {
    let (client_read, client_write) = tokio::io::split(client);
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        _ = copy(client_read, server_write, conn) => {}
        _ = copy(server_read, client_write, conn) => {}
    }
}

async fn copy(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, conn: &Conn) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if conn.admit().await && to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
