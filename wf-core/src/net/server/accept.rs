//! Listeners, the accept loop, and admission: which accepted connection
//! gets served, and which open one makes room for it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::net::{TcpSocket, UnixListener};
use tokio::sync::Notify;

use super::conn;
use super::protocol::ServerProtocol;
use super::shared::{Activity, ConnEntry, Shared};
use super::task::Process;
use crate::error::Error;
use crate::net::stream::Plain;
use crate::runtime;
use crate::sync::lock;

/// A listening socket.
pub(super) enum Listener {
    /// Watched for readiness only: an accepted socket is registered with
    /// the reactor of the loop that serves it, not first with this one's
    /// (which cost two `epoll_ctl` calls per connection).
    Tcp(AsyncFd<std::net::TcpListener>),
    Unix(UnixListener),
}

impl Listener {
    /// Listens on `host:port` (address reuse on, backlog 1024).
    pub(super) fn tcp(host: &str, port: u16) -> Result<Listener, Error> {
        let addr = (host, port).to_socket_addrs()?.next().ok_or(Error::sys(libc::EADDRNOTAVAIL))?;
        let _rt = runtime::handle().enter();
        let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        Ok(Listener::Tcp(watch(socket.listen(1024)?.into_std()?)?))
    }

    /// Listens on a Unix socket at `path`.
    pub(super) fn unix(path: &Path) -> Result<Listener, Error> {
        let _rt = runtime::handle().enter();
        Ok(Listener::Unix(UnixListener::bind(path)?))
    }

    /// A listening socket made elsewhere.
    pub(super) fn from_std(listener: std::net::TcpListener) -> Result<Listener, Error> {
        listener.set_nonblocking(true)?;
        let _rt = runtime::handle().enter();
        Ok(Listener::Tcp(watch(listener)?))
    }

    /// The address it listens on (TCP only).
    pub(super) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(t) => t.get_ref().local_addr().ok(),
            Listener::Unix(_) => None,
        }
    }

    async fn accept(&self) -> std::io::Result<(StdStream, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => loop {
                let mut ready = l.readable().await?;
                if let Ok(accepted) = ready.try_io(|l| l.get_ref().accept()) {
                    let (s, a) = accepted?;
                    if s.set_nonblocking(true).is_err() {
                        continue; // dropping it closes it
                    }
                    let _ = s.set_nodelay(true);
                    return Ok((StdStream::Tcp(s), Some(a)));
                }
            },
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((StdStream::Unix(s.into_std()?), None))
            }
        }
    }
}

/// Watches a (non-blocking) listening socket for connections to accept,
/// with the current runtime's reactor.
fn watch(listener: std::net::TcpListener) -> std::io::Result<AsyncFd<std::net::TcpListener>> {
    // SAFETY: the `AsyncFd` owns the listener, which owns its descriptor:
    // it stays open, and the same, until the `AsyncFd` drops it.
    Ok(unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) }?)
}

/// Accepts connections until `stop` is notified, then closes the listener.
pub(super) async fn accept_loop<P: ServerProtocol>(
    shared: Arc<Shared<P>>,
    process: Arc<Process<P>>,
    listener: Listener,
    stop: Arc<Notify>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.notified() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => admit(&shared, &process, stream, peer),
            // Out of descriptors or similar: give the system a moment.
            Err(_e) => {
                crate::trace::warning!(error = %_e, "accept failed; pausing 10 ms");
                tokio::time::sleep(Duration::from_millis(10)).await
            }
        }
    }
    drop(listener);
    shared.accepting.store(false, Ordering::Release);
    shared.notify_quiet();
}

/// Registers an accepted connection (making room if the server is full, or
/// refusing it) and starts serving it.
fn admit<P: ServerProtocol>(
    shared: &Arc<Shared<P>>,
    process: &Arc<Process<P>>,
    stream: StdStream,
    peer: Option<SocketAddr>,
) {
    if shared.stopping.load(Ordering::Acquire) {
        return; // accepted as the server stopped: dropping it closes it
    }
    let entry = Arc::new(ConnEntry::new());
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    {
        let mut conns = lock(&shared.conns);
        if conns.len() >= shared.params.max_connections {
            match victim(&conns).and_then(|v| conns.remove(&v)) {
                Some(c) => c.kick.notify_one(),
                None => return, // refused: dropping the stream closes it
            }
        }
        conns.insert(id, entry.clone());
    }
    // With one event loop per poller, connections are spread over them,
    // each registered with its own loop's reactor.
    let (shared, process) = (shared.clone(), process.clone());
    let serve = async move {
        match stream.register() {
            Ok(stream) => conn::serve(shared, process, id, entry, stream, peer).await,
            Err(_) => shared.conn_closed(id),
        }
    };
    match runtime::next_loop() {
        Some(h) => drop(h.spawn(serve)),
        None => runtime::spawn(serve),
    }
}

/// The connection to close to admit a new one when the server is full:
/// the least recently used idle one; else the one receiving a request
/// (not completed yet) that began the longest ago; `None` refuses the
/// newcomer. A connection serving requests, or still opening (TLS
/// handshake, `on_accept`: bounded by their own timeouts), is never
/// closed for it.
///
/// Connections publish what they are doing ([`Activity`]) before they
/// wait; idle and receiving ones listen to the kick (`conn.rs`,
/// `Conn::wait`). One that moved on since it published takes the kick
/// when it next idles or receives.
fn victim(conns: &std::collections::HashMap<u64, Arc<ConnEntry>>) -> Option<u64> {
    conns
        .iter()
        .filter_map(|(id, c)| match c.activity() {
            Activity::Idle(since) => Some(((0, since), *id)),
            Activity::Receiving(started) => Some(((1, started), *id)),
            Activity::Opening | Activity::Serving => None,
        })
        .min()
        .map(|(_, id)| id)
}

enum StdStream {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl StdStream {
    /// Registers the (non-blocking) socket with the reactor of the
    /// runtime this runs on.
    fn register(self) -> std::io::Result<Plain> {
        match self {
            StdStream::Tcp(s) => tokio::net::TcpStream::from_std(s).map(Plain::Tcp),
            StdStream::Unix(s) => tokio::net::UnixStream::from_std(s).map(Plain::Unix),
        }
    }
}
