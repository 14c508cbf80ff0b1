//! Servers, generic over a protocol, with Workflow's delayed reply: the
//! reply to a request is sent when the request's series ends.
//!
//! Module map (each depends only on those before it):
//!
//! - `params`: [`ServerParams`].
//! - `protocol`: the server half of a protocol, [`ServerProtocol`].
//! - `reply`: the reply slot, where a request's series hands its reply to
//!   the connection.
//! - `shared`: what the server, its accept loop, its connections and its
//!   tasks share, with the registry of connections admission reads.
//! - `push`: [`ServerPusher`], and the [`DrainTask`] that holds a
//!   producer back until the connection has written what it pushed.
//! - `handle`: [`ReplyHandle`], a request's reply for the later tasks of
//!   its series.
//! - `task`: [`ServerTask`] ([`ServerKind`]), [`ServerConnection`].
//! - `conn`: a connection as a state machine (reading, serving,
//!   keep-alive, draining; its deadlines).
//! - `accept`: listeners, the accept loop, admission and eviction.
//! - `udp`: `Server`'s UDP methods and the UDP socket's receive loop; a
//!   request per datagram.
//! - here: [`Server`], the handle.
//! - [`handoff`]: graceful restart, handing the listening socket to a new
//!   process (independent of the rest).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

mod accept;
mod conn;
mod handle;
pub mod handoff;
mod params;
mod protocol;
mod push;
mod reply;
mod shared;
mod task;
mod udp;

pub use handle::{ReplyGuard, ReplyHandle};
pub use params::ServerParams;
pub use protocol::ServerProtocol;
pub use push::{DrainKind, DrainTask, ServerPusher};
pub use task::{ServerConnection, ServerKind, ServerTask};

use accept::Listener;
use shared::Shared;
use task::Process;

use crate::error::Error;
use crate::runtime;
use crate::sync::lock;

/// A server of protocol `P` (Workflow's `WFServer<REQ, RESP>`).
///
/// For each request the server runs a series: `process(task)` first, then
/// whatever `process` pushed into [`series_of`](crate::series_of)`(task)`,
/// then the reply. So the reply waits for every task pushed in `process`
/// (the delayed-reply model), and the task's callback runs once the reply
/// is written. Requests on one connection are answered in order, also
/// when a client pipelines them.
pub struct Server<P: ServerProtocol> {
    shared: Arc<Shared<P>>,
    process: Arc<Process<P>>,
}

impl<P: ServerProtocol> std::fmt::Debug for Server<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen_addr", &self.listen_addr())
            .field("udp_addr", &self.udp_addr())
            .field("conn_count", &self.conn_count())
            .finish_non_exhaustive()
    }
}

impl<P: ServerProtocol> Server<P> {
    /// A server with the protocol's default parameters.
    pub fn new(protocol: P, process: impl Fn(&mut ServerTask<P>) + Send + Sync + 'static) -> Server<P> {
        let params = protocol.server_params();
        Server::with_params(protocol, params, process)
    }

    /// A server with `params`.
    pub fn with_params(
        protocol: P,
        params: ServerParams,
        process: impl Fn(&mut ServerTask<P>) + Send + Sync + 'static,
    ) -> Server<P> {
        Server { shared: Arc::new(Shared::new(protocol, params)), process: Arc::new(process) }
    }

    /// The parameters.
    pub fn params(&self) -> &ServerParams {
        &self.shared.params
    }

    /// Serves TLS with this configuration on the next start.
    #[cfg(feature = "tls")]
    pub fn set_tls(&self, tls: crate::net::tls::TlsServer) {
        *lock(&self.shared.tls) = Some(tls);
    }

    /// Listens on every IPv4 address at `port` (0 picks a free port; see
    /// [`listen_addr`](Server::listen_addr)).
    pub fn start(&self, port: u16) -> Result<(), Error> {
        self.start_on("0.0.0.0", port)
    }

    /// Listens on `host:port`.
    pub fn start_on(&self, host: &str, port: u16) -> Result<(), Error> {
        self.run(Listener::tcp(host, port)?)
    }

    /// Listens on `host:port` with TLS from PEM certificate and key files.
    #[cfg(feature = "tls")]
    pub fn start_tls(&self, host: &str, port: u16, cert_file: &Path, key_file: &Path) -> Result<(), Error> {
        self.set_tls(crate::net::tls::TlsServer::from_pem_files(cert_file, key_file)?);
        self.start_on(host, port)
    }

    /// Listens on a Unix socket at `path`.
    pub fn start_unix(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.run(Listener::unix(path.as_ref())?)
    }

    /// Serves on a listening socket made elsewhere (e.g. inherited for a
    /// graceful restart: [`handoff::inherited_listener`]).
    pub fn serve(&self, listener: std::net::TcpListener) -> Result<(), Error> {
        self.run(Listener::from_std(listener)?)
    }

    fn run(&self, listener: Listener) -> Result<(), Error> {
        let stop = Arc::new(Notify::new());
        {
            let mut l = lock(&self.shared.listen);
            if l.stop.is_some() {
                return Err(Error::sys(libc::EBUSY));
            }
            l.addr = listener.local_addr();
            l.stop = Some(stop.clone());
        }
        self.shared.stopping.store(false, Ordering::Release);
        self.shared.accepting.store(true, Ordering::Release);
        runtime::spawn(accept::accept_loop(self.shared.clone(), self.process.clone(), listener, stop));
        Ok(())
    }

    /// The address the server listens on (TCP only).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        lock(&self.shared.listen).addr
    }

    /// Connections open now.
    pub fn conn_count(&self) -> usize {
        lock(&self.shared.conns).len()
    }

    /// Stops accepting and closes idle connections, and stops receiving
    /// datagrams; requests in flight go on (over UDP too: their replies
    /// are still sent). Does not wait (see [`wait_finish`](Server::wait_finish)).
    ///
    /// Every request a connection has read is answered, each reply
    /// written whole, then the connection closes: a connection receiving
    /// a request lets it finish coming in (within the header timeout and
    /// the minimum receive rate, so a client dripping its request holds
    /// the stop no longer than those), one with requests in flight reads
    /// nothing more. A connection's last reply, which would have kept it
    /// open, is marked as the last
    /// ([`ServerProtocol::last_reply`]: HTTP says `Connection: close`),
    /// so that its client does not send another request on it; for a
    /// graceful restart, see [`handoff`].
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(stop) = lock(&self.shared.listen).stop.take() {
            stop.notify_one();
        }
        if let Some(stop) = lock(&self.shared.udp).stop.take() {
            stop.notify_one();
        }
        for c in lock(&self.shared.conns).values() {
            c.kick.notify_one();
        }
    }

    /// Blocks until every request series has ended (over UDP: its reply
    /// sent) and every connection has closed (and, after
    /// [`shutdown`](Server::shutdown), the listener and the UDP socket's
    /// receive loop too). Never call it from a callback.
    pub fn wait_finish(&self) {
        self.wait_until(None);
    }

    /// [`wait_finish`](Server::wait_finish) for at most `timeout`: true
    /// once the server is finished, false if it still is not when
    /// `timeout` has passed (nothing changes then: call it again, in a
    /// loop that does something else between calls, such as checking for
    /// a signal). Never call it from a callback.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use wf_core::net::{Server, tlv::Tlv};
    /// let server = Server::new(Tlv::default(), |_| {});
    /// server.start(0)?;
    /// server.shutdown();
    /// while !server.wait_finish_timeout(Duration::from_millis(50)) {
    ///     // e.g. see whether the user asked to give up
    /// }
    /// # Ok::<(), wf_core::Error>(())
    /// ```
    pub fn wait_finish_timeout(&self, timeout: Duration) -> bool {
        // A timeout too far to represent is no timeout.
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// Waits until finished (true) or until `deadline` (false).
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        /// The longest sleep between two looks (a notification may race
        /// with the check before the sleep).
        const STEP: Duration = Duration::from_millis(50);
        let shared = &self.shared;
        let busy = || {
            shared.inflight.load(Ordering::Acquire) != 0
                || shared.udp_inflight.load(Ordering::Acquire) != 0
                || !lock(&shared.conns).is_empty()
                || (shared.stopping.load(Ordering::Acquire)
                    && (shared.accepting.load(Ordering::Acquire) || shared.udp_receiving.load(Ordering::Acquire)))
        };
        // Registered before the first check: a change after it notifies.
        shared.waiters.fetch_add(1, Ordering::AcqRel);
        let mut g = lock(&shared.quiet);
        let finished = loop {
            if !busy() {
                break true;
            }
            let step = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(STEP),
                    _ => break false,
                },
                None => STEP,
            };
            g = crate::lock::wait_timeout(&shared.quiet_cv, g, step).0;
        };
        drop(g);
        shared.waiters.fetch_sub(1, Ordering::AcqRel);
        finished
    }

    /// [`shutdown`](Server::shutdown), then [`wait_finish`](Server::wait_finish).
    pub fn stop(&self) {
        self.shutdown();
        self.wait_finish();
    }
}
