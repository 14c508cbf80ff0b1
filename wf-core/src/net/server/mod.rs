//! Servers, generic over a protocol, with Workflow's delayed reply: the
//! reply to a request is sent when the request's series ends.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, UnixListener};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::codec::{Decoder, Encoder};

mod protocol;

pub use protocol::ServerProtocol;

use crate::error::{Error, State};
use crate::net::conn::Connection;
use crate::net::protocol::KeepAlive;
use crate::net::stream::{NetStream, Plain};
use crate::runtime;
use crate::series::{self, Driver, End, ParentHook, SeriesWork};
use crate::sync::lock;
use crate::task::{RunContext, Task, TaskKind};

/// Server parameters (Workflow's `WFServerParams`). A timeout of `None`
/// waits forever.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerParams {
    /// Connections open at once (2000). When full, the least recently used
    /// idle keep-alive connection is closed to admit a new one; with none
    /// idle, the new connection is refused.
    pub max_connections: usize,
    /// Limit on each read or write making progress (10 s).
    pub peer_response_timeout: Option<Duration>,
    /// Limit on receiving a whole request, from its first byte (none; set
    /// it for public servers, or one byte every few seconds keeps a
    /// connection).
    pub receive_timeout: Option<Duration>,
    /// How long an idle keep-alive connection stays open (60 s).
    pub keep_alive_timeout: Option<Duration>,
    /// Largest request the codec accepts (none); the protocol decides what
    /// an oversized request gets (HTTP: 413).
    pub request_size_limit: Option<usize>,
    /// Limit on the TLS handshake (10 s).
    pub ssl_accept_timeout: Option<Duration>,
}

impl Default for ServerParams {
    fn default() -> ServerParams {
        let ten = Some(Duration::from_secs(10));
        ServerParams {
            max_connections: 2000,
            peer_response_timeout: ten,
            receive_timeout: None,
            keep_alive_timeout: Some(Duration::from_secs(60)),
            request_size_limit: None,
            ssl_accept_timeout: ten,
        }
    }
}

/// Requests read ahead on one connection while earlier ones are processed.
const MAX_PIPELINE: usize = 64;

type Process<P> = dyn Fn(&mut ServerTask<P>) + Send + Sync;

/// A server of protocol `P` (Workflow's `WFServer<REQ, RESP>`).
///
/// For each request the server runs a series: `process(task)` first, then
/// whatever `process` pushed into [`series_of`](crate::series_of)`(task)`,
/// then the reply. So the reply waits for every task pushed in `process`
/// (the delayed-reply model), and the task's callback runs once the reply
/// is written. Requests on one connection are answered in order, also
/// when a client pipelines them.
pub struct Server<P: ServerProtocol> {
    inner: Arc<Inner<P>>,
}

impl<P: ServerProtocol> std::fmt::Debug for Server<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen_addr", &self.listen_addr())
            .field("conn_count", &self.conn_count())
            .finish_non_exhaustive()
    }
}

struct Inner<P: ServerProtocol> {
    protocol: P,
    params: ServerParams,
    process: Box<Process<P>>,
    #[cfg(feature = "tls")]
    tls: Mutex<Option<crate::net::tls::TlsServer>>,
    listen: Mutex<Listening>,
    stopping: AtomicBool,
    /// The accept loop runs (its listener is open).
    accepting: AtomicBool,
    conns: Mutex<HashMap<u64, Arc<ConnShared>>>,
    next_conn: AtomicU64,
    /// Request series not finished yet.
    inflight: AtomicUsize,
    quiet: Mutex<()>,
    quiet_cv: Condvar,
    /// Threads in `wait_finish`.
    waiters: AtomicUsize,
}

#[derive(Default)]
struct Listening {
    addr: Option<SocketAddr>,
    stop: Option<Arc<Notify>>,
}

struct ConnShared {
    /// When the connection became idle, if it is.
    idle_since: Mutex<Option<std::time::Instant>>,
    kick: Notify,
}

impl<P: ServerProtocol> ParentHook for Inner<P> {
    fn series_done(self: Arc<Self>, _index: usize, series: SeriesWork) {
        drop(series);
        if self.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.notify_quiet();
        }
    }
}

impl<P: ServerProtocol> Inner<P> {
    /// Wakes `wait_finish`, if anyone waits: a `notify_all` is a syscall
    /// even with no waiter, and this runs after nearly every request.
    fn notify_quiet(&self) {
        if self.waiters.load(Ordering::Acquire) == 0 {
            return;
        }
        let _g = lock(&self.quiet);
        self.quiet_cv.notify_all();
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
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
        Server {
            inner: Arc::new(Inner {
                protocol,
                params,
                process: Box::new(process),
                #[cfg(feature = "tls")]
                tls: Mutex::new(None),
                listen: Mutex::new(Listening::default()),
                stopping: AtomicBool::new(false),
                accepting: AtomicBool::new(false),
                conns: Mutex::new(HashMap::new()),
                next_conn: AtomicU64::new(0),
                inflight: AtomicUsize::new(0),
                quiet: Mutex::new(()),
                quiet_cv: Condvar::new(),
                waiters: AtomicUsize::new(0),
            }),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &ServerParams {
        &self.inner.params
    }

    /// Serves TLS with this configuration on the next start.
    #[cfg(feature = "tls")]
    pub fn set_tls(&self, tls: crate::net::tls::TlsServer) {
        *lock(&self.inner.tls) = Some(tls);
    }

    /// Listens on every IPv4 address at `port` (0 picks a free port; see
    /// [`listen_addr`](Server::listen_addr)).
    pub fn start(&self, port: u16) -> Result<(), Error> {
        self.start_on("0.0.0.0", port)
    }

    /// Listens on `host:port`.
    pub fn start_on(&self, host: &str, port: u16) -> Result<(), Error> {
        let addr = (host, port).to_socket_addrs()?.next().ok_or(Error::sys(libc::EADDRNOTAVAIL))?;
        let _rt = runtime::handle().enter();
        let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(1024)?;
        self.run(Listener::Tcp(listener))
    }

    /// Listens on `host:port` with TLS from PEM certificate and key files.
    #[cfg(feature = "tls")]
    pub fn start_tls(&self, host: &str, port: u16, cert_file: &Path, key_file: &Path) -> Result<(), Error> {
        self.set_tls(crate::net::tls::TlsServer::from_pem_files(cert_file, key_file)?);
        self.start_on(host, port)
    }

    /// Listens on a Unix socket at `path`.
    pub fn start_unix(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let _rt = runtime::handle().enter();
        let listener = UnixListener::bind(path)?;
        self.run(Listener::Unix(listener))
    }

    /// Serves on a listening socket made elsewhere (e.g. inherited for a
    /// graceful restart).
    pub fn serve(&self, listener: std::net::TcpListener) -> Result<(), Error> {
        listener.set_nonblocking(true)?;
        let _rt = runtime::handle().enter();
        self.run(Listener::Tcp(TcpListener::from_std(listener)?))
    }

    fn run(&self, listener: Listener) -> Result<(), Error> {
        let stop = Arc::new(Notify::new());
        {
            let mut l = lock(&self.inner.listen);
            if l.stop.is_some() {
                return Err(Error::sys(libc::EBUSY));
            }
            l.addr = match &listener {
                Listener::Tcp(t) => t.local_addr().ok(),
                Listener::Unix(_) => None,
            };
            l.stop = Some(stop.clone());
        }
        self.inner.stopping.store(false, Ordering::Release);
        self.inner.accepting.store(true, Ordering::Release);
        runtime::spawn(accept_loop(self.inner.clone(), listener, stop));
        Ok(())
    }

    /// The address the server listens on (TCP only).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        lock(&self.inner.listen).addr
    }

    /// Connections open now.
    pub fn conn_count(&self) -> usize {
        lock(&self.inner.conns).len()
    }

    /// Stops accepting and closes idle connections; requests in flight go
    /// on. Does not wait (see [`wait_finish`](Server::wait_finish)).
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        if let Some(stop) = lock(&self.inner.listen).stop.take() {
            stop.notify_one();
        }
        for c in lock(&self.inner.conns).values() {
            c.kick.notify_one();
        }
    }

    /// Blocks until every request series has ended and every connection
    /// has closed (and, after [`shutdown`](Server::shutdown), the listener
    /// too). Never call it from a callback.
    pub fn wait_finish(&self) {
        let inner = &self.inner;
        let busy = || {
            inner.inflight.load(Ordering::Acquire) != 0
                || !lock(&inner.conns).is_empty()
                || (inner.stopping.load(Ordering::Acquire) && inner.accepting.load(Ordering::Acquire))
        };
        // Registered before the first check: a change after it notifies.
        self.inner.waiters.fetch_add(1, Ordering::AcqRel);
        let mut g = lock(&self.inner.quiet);
        while busy() {
            g = crate::lock::wait_timeout(&self.inner.quiet_cv, g, Duration::from_millis(50)).0;
        }
        drop(g);
        self.inner.waiters.fetch_sub(1, Ordering::AcqRel);
    }

    /// [`shutdown`](Server::shutdown), then [`wait_finish`](Server::wait_finish).
    pub fn stop(&self) {
        self.shutdown();
        self.wait_finish();
    }
}

async fn accept_loop<P: ServerProtocol>(inner: Arc<Inner<P>>, listener: Listener, stop: Arc<Notify>) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.notified() => break,
            r = async {
                match &listener {
                    Listener::Tcp(l) => l.accept().await.map(|(s, a)| {
                        let _ = s.set_nodelay(true);
                        (Plain::Tcp(s), Some(a))
                    }),
                    Listener::Unix(l) => l.accept().await.map(|(s, _)| (Plain::Unix(s), None)),
                }
            } => r,
        };
        match accepted {
            Ok((stream, peer)) => admit(&inner, stream, peer),
            // Out of descriptors or similar: give the system a moment.
            Err(_e) => {
                crate::trace::warning!(error = %_e, "accept failed; pausing 10 ms");
                tokio::time::sleep(Duration::from_millis(10)).await
            }
        }
    }
    drop(listener);
    inner.accepting.store(false, Ordering::Release);
    inner.notify_quiet();
}

fn admit<P: ServerProtocol>(inner: &Arc<Inner<P>>, stream: Plain, peer: Option<SocketAddr>) {
    if inner.stopping.load(Ordering::Acquire) {
        return; // accepted as the server stopped: dropping it closes it
    }
    let shared = Arc::new(ConnShared { idle_since: Mutex::new(None), kick: Notify::new() });
    let id = inner.next_conn.fetch_add(1, Ordering::Relaxed);
    {
        let mut conns = lock(&inner.conns);
        if conns.len() >= inner.params.max_connections {
            // Close the least recently used idle connection to make room.
            let victim =
                conns.iter().filter_map(|(id, c)| lock(&c.idle_since).map(|t| (t, *id))).min().map(|(_, id)| id);
            match victim.and_then(|v| conns.remove(&v)) {
                Some(c) => c.kick.notify_one(),
                None => return, // refused: dropping the stream closes it
            }
        }
        conns.insert(id, shared.clone());
    }
    // With one event loop per poller, connections are spread over them,
    // each registered with its own loop's reactor.
    if let Some(h) = runtime::next_loop() {
        let std_stream = match stream {
            Plain::Tcp(s) => s.into_std().map(StdStream::Tcp),
            Plain::Unix(s) => s.into_std().map(StdStream::Unix),
        };
        let Ok(std_stream) = std_stream else {
            lock(&inner.conns).remove(&id);
            return;
        };
        let inner = inner.clone();
        drop(h.spawn(async move {
            let stream = match std_stream {
                StdStream::Tcp(s) => tokio::net::TcpStream::from_std(s).map(Plain::Tcp),
                StdStream::Unix(s) => tokio::net::UnixStream::from_std(s).map(Plain::Unix),
            };
            match stream {
                Ok(stream) => serve_conn(inner, id, shared, stream, peer).await,
                Err(_) => {
                    lock(&inner.conns).remove(&id);
                    inner.notify_quiet();
                }
            }
        }));
        return;
    }
    runtime::spawn(serve_conn(inner.clone(), id, shared, stream, peer));
}

enum StdStream {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

/// Where a request's series and its connection meet: bytes pushed before
/// the reply, the reply, and the connection's word that it was written.
/// One per request, shared by the server task and the connection.
struct ReplySlot<P: ServerProtocol> {
    state: Mutex<SlotState<P>>,
}

struct SlotState<P: ServerProtocol> {
    /// Raw bytes to write before the reply, in order.
    pushes: Vec<bytes::Bytes>,
    reply: Option<Outgoing<P>>,
    /// The task went away without replying (its series was canceled).
    task_gone: bool,
    /// The connection's verdict, with the response handed back.
    written: Option<(P::Response, Result<(), Error>)>,
    conn_gone: bool,
    conn_waker: Option<Waker>,
    task_waker: Option<Waker>,
}

enum Outgoing<P: ServerProtocol> {
    Reply { resp: P::Response, keep: KeepAlive },
    NoReply,
}

/// What the connection finds in the slot at the head of its queue.
enum Head<P: ServerProtocol> {
    Waiting,
    Reply(P::Response, KeepAlive),
    Close,
}

impl<P: ServerProtocol> ReplySlot<P> {
    fn new() -> Arc<ReplySlot<P>> {
        Arc::new(ReplySlot {
            state: Mutex::new(SlotState {
                pushes: Vec::new(),
                reply: None,
                task_gone: false,
                written: None,
                conn_gone: false,
                conn_waker: None,
                task_waker: None,
            }),
        })
    }

    /// Task side: hands over bytes or the reply and wakes the connection.
    fn send(&self, f: impl FnOnce(&mut SlotState<P>)) -> bool {
        let mut st = lock(&self.state);
        if st.conn_gone || st.reply.is_some() || st.written.is_some() {
            return false;
        }
        f(&mut st);
        let w = st.conn_waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
        true
    }

    /// Connection side: moves pushed bytes into `out` and takes the reply.
    fn take(&self, out: &mut bytes::BytesMut) -> Head<P> {
        let mut st = lock(&self.state);
        for b in st.pushes.drain(..) {
            out.extend_from_slice(&b);
        }
        match st.reply.take() {
            Some(Outgoing::Reply { resp, keep }) => Head::Reply(resp, keep),
            Some(Outgoing::NoReply) => Head::Close,
            None if st.task_gone => Head::Close,
            None => Head::Waiting,
        }
    }

    /// Connection side: ready when there is something to take.
    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = lock(&self.state);
        if !st.pushes.is_empty() || st.reply.is_some() || st.task_gone {
            Poll::Ready(())
        } else {
            st.conn_waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Connection side: the reply was written (or not); wakes the task.
    fn written(&self, resp: P::Response, result: Result<(), Error>) {
        let mut st = lock(&self.state);
        st.written = Some((resp, result));
        let w = st.task_waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Connection side: the connection closed; a task still waiting fails.
    fn conn_closed(&self) {
        let mut st = lock(&self.state);
        st.conn_gone = true;
        let w = st.task_waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// A connection's context, shared by its server tasks and dropped when the
/// connection closes (Workflow's `WFConnection` context).
#[derive(Clone)]
pub struct ServerConnection {
    id: u64,
    context: Arc<Mutex<Option<Box<dyn Any + Send>>>>,
}

impl std::fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConnection").field("id", &self.id).finish_non_exhaustive()
    }
}

impl ServerConnection {
    /// A number unique to this connection within its server.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sets the connection's context; it is dropped when the connection
    /// closes.
    pub fn set_context<T: Any + Send>(&self, value: T) {
        *lock(&self.context) = Some(Box::new(value));
    }

    /// Runs `f` on the context, if there is one of type `T`.
    pub fn with_context<T: Any, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        lock(&self.context).as_mut()?.downcast_mut::<T>().map(f)
    }

    /// Takes the context out, if there is one of type `T`.
    pub fn take_context<T: Any>(&self) -> Option<T> {
        let mut slot = lock(&self.context);
        match slot.take()?.downcast::<T>() {
            Ok(b) => Some(*b),
            Err(b) => {
                *slot = Some(b);
                None
            }
        }
    }
}

async fn serve_conn<P: ServerProtocol>(
    inner: Arc<Inner<P>>,
    id: u64,
    shared: Arc<ConnShared>,
    stream: Plain,
    peer: Option<SocketAddr>,
) {
    let connection = ServerConnection { id, context: Arc::new(Mutex::new(None)) };
    #[cfg(feature = "tls")]
    let tls = lock(&inner.tls).clone();
    #[cfg(feature = "tls")]
    let stream = match tls {
        Some(tls) => match crate::net::tls::accept(&tls, stream, inner.params.ssl_accept_timeout).await {
            Ok(s) => Some(NetStream::TlsServer(Box::new(s))),
            Err(_e) => {
                crate::trace::debug!(?peer, error = %_e, "TLS handshake with a client failed; connection closed");
                None
            }
        },
        None => Some(NetStream::Plain(stream)),
    };
    #[cfg(not(feature = "tls"))]
    let stream = Some(NetStream::Plain(stream));
    if let Some(stream) = stream {
        let codec = inner.protocol.server_codec(&inner.params);
        let mut io = Connection::new(stream, codec, peer, inner.params.peer_response_timeout);
        let accepted = inner.protocol.on_accept(&mut io).await;
        if let Err(_e) = &accepted {
            crate::trace::debug!(?peer, error = %_e, "on_accept refused a connection");
        }
        if accepted.is_ok() {
            let mut conn = ServerConn {
                inner: &inner,
                shared: &shared,
                connection: &connection,
                peer,
                io,
                pending: VecDeque::new(),
                drivers: Vec::new(),
                seq: 0,
            };
            conn.run().await;
        }
    }
    *lock(&connection.context) = None;
    lock(&inner.conns).remove(&id);
    inner.notify_quiet();
}

struct ServerConn<'a, P: ServerProtocol> {
    inner: &'a Arc<Inner<P>>,
    shared: &'a ConnShared,
    connection: &'a ServerConnection,
    peer: Option<SocketAddr>,
    io: Connection<P::ServerCodec>,
    pending: VecDeque<Arc<ReplySlot<P>>>,
    /// Series of this connection's requests still running here.
    drivers: Vec<Driver>,
    seq: u64,
}

type Ack<P> = (Arc<ReplySlot<P>>, <P as crate::net::Protocol>::Response);

impl<P: ServerProtocol> ServerConn<'_, P> {
    async fn run(&mut self) {
        let inner = self.inner.clone();
        let params = &inner.params;
        // More requests may be read from this connection.
        let mut reading = true;
        // Close once what is queued has been written.
        let mut finish = false;
        let mut request_started: Option<Instant> = None;
        let mut last_read = Instant::now();
        // When the connection last went idle: accepted, or a reply written.
        let mut idle_from = Instant::now();
        // No request has arrived yet: it must within the peer response
        // timeout (the keep-alive timeout is for idleness after a reply).
        let mut fresh = true;
        let mut error_reply: Option<P::Response> = None;
        let mut acks: Vec<Ack<P>> = Vec::new();
        let mut idle_limit = params.keep_alive_timeout;
        // One timer, armed lazily: re-armed only when a deadline comes
        // earlier than the armed one, and checked when it fires, so most
        // requests touch no timer at all.
        let mut timer: Option<(Instant, std::pin::Pin<Box<tokio::time::Sleep>>)> = None;
        // What `idle_since` last said, to write it only when it changes.
        let mut published: Option<Instant> = None;
        loop {
            // Requests complete in the buffer become series.
            while reading && self.pending.len() < MAX_PIPELINE {
                match self.io.codec.decode(&mut self.io.rbuf) {
                    Ok(Some(req)) => {
                        request_started = None;
                        fresh = false;
                        self.dispatch(req);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        // Answered (if the protocol has an answer) after the
                        // replies before it; then the connection closes.
                        reading = false;
                        error_reply = inner.protocol.error_reply(&mut self.io.codec, &e.into());
                    }
                }
            }
            if !self.drivers.is_empty() {
                let drivers = &mut self.drivers;
                std::future::poll_fn(|cx| {
                    Self::poll_drivers(drivers, cx);
                    Poll::Ready(())
                })
                .await;
            }
            if self.pending.is_empty() {
                // Interim bytes (100 Continue) never overtake earlier replies.
                inner.protocol.server_interim(&mut self.io.codec, &mut self.io.wbuf);
            }
            if reading && !self.io.rbuf.is_empty() && request_started.is_none() {
                request_started = Some(Instant::now());
            }
            // Replies ready, in request order, go out in one write.
            while let Some(slot) = self.pending.front() {
                match slot.take(&mut self.io.wbuf) {
                    Head::Waiting => break,
                    Head::Reply(resp, keep) => {
                        let slot = self.pending.pop_front().expect("the head");
                        let encoded: Result<(), Error> =
                            self.io.codec.encode(&resp, &mut self.io.wbuf).map_err(Into::into);
                        if let Err(e) = encoded {
                            slot.written(resp, Err(e));
                            finish = true;
                            break;
                        }
                        acks.push((slot, resp));
                        match keep {
                            KeepAlive::Close => {
                                finish = true;
                                break;
                            }
                            KeepAlive::Keep => idle_limit = params.keep_alive_timeout,
                            // Never longer than the server's own limit: a
                            // client's `Keep-Alive: timeout=300` does not
                            // hold a connection 300 s.
                            KeepAlive::KeepFor(d) => {
                                idle_limit = Some(params.keep_alive_timeout.map_or(d, |c| c.min(d)))
                            }
                        }
                    }
                    // No reply, or the request's series dropped it: close.
                    Head::Close => {
                        self.pending.pop_front();
                        finish = true;
                        break;
                    }
                }
            }
            if finish {
                // Requests after a closing reply are never answered.
                for slot in self.pending.drain(..) {
                    slot.conn_closed();
                }
            } else if !reading && self.pending.is_empty() {
                if let Some(resp) = error_reply.take() {
                    let _ = self.io.codec.encode(&resp, &mut self.io.wbuf);
                }
                finish = true;
            }
            if !self.io.wbuf.is_empty() {
                let result = self.write_out().await;
                idle_from = Instant::now();
                let failed = result.is_err();
                for (slot, resp) in acks.drain(..) {
                    slot.written(resp, result.clone());
                }
                if failed {
                    break;
                }
            }
            if finish {
                break;
            }
            let idle = self.pending.is_empty() && self.io.rbuf.is_empty();
            if idle && inner.stopping.load(Ordering::Acquire) {
                break;
            }
            // Wait for a reply, more bytes, a timeout, or a kick.
            let idle_mark = idle.then_some(idle_from);
            if idle_mark != published {
                *lock(&self.shared.idle_since) = idle_mark.map(Instant::into_std);
                published = idle_mark;
            }
            let deadline = if idle {
                if fresh { params.peer_response_timeout } else { idle_limit }.map(|t| idle_from + t)
            } else if self.pending.is_empty() {
                // A request is partly in: it must keep coming.
                let by_peer = params.peer_response_timeout.map(|t| last_read + t);
                let whole = params.receive_timeout.zip(request_started).map(|(t, s)| s + t);
                match (by_peer, whole) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            } else {
                None
            };
            if let Some(d) = deadline {
                match &mut timer {
                    Some((at, _)) if *at <= d => {}
                    Some((at, sleep)) => {
                        sleep.as_mut().reset(d);
                        *at = d;
                    }
                    None => timer = Some((d, Box::pin(sleep_until(d)))),
                }
            }
            let can_read = reading && self.pending.len() < MAX_PIPELINE;
            let pending = &mut self.pending;
            let stream = &mut self.io.stream;
            let rbuf = &mut self.io.rbuf;
            let drivers = &mut self.drivers;
            let has_drivers = !drivers.is_empty();
            tokio::select! {
                biased;
                _ = std::future::poll_fn(|cx| if Self::poll_drivers(drivers, cx) { Poll::Ready(()) } else { Poll::Pending }), if has_drivers => {}
                _ = std::future::poll_fn(|cx| pending.front().expect("a pending reply").poll_ready(cx)), if !pending.is_empty() => {}
                n = async { rbuf.reserve(4096); stream.read_buf(rbuf).await }, if can_read => {
                    match n {
                        Ok(0) | Err(_) => reading = false,
                        Ok(_) => last_read = Instant::now(),
                    }
                }
                _ = async { timer.as_mut().expect("armed").1.as_mut().await }, if deadline.is_some() => {
                    let d = deadline.expect("deadline");
                    if Instant::now() >= d {
                        break;
                    }
                    // Armed for an earlier deadline that has moved: re-arm.
                    let (at, sleep) = timer.as_mut().expect("armed");
                    sleep.as_mut().reset(d);
                    *at = d;
                }
                _ = self.shared.kick.notified(), if idle => break,
            }
        }
        // Series still running go on by themselves (a server's stop waits
        // for them); their replies learn that the connection is gone.
        for d in self.drivers.drain(..) {
            runtime::spawn(d);
        }
        for slot in self.pending.drain(..) {
            slot.conn_closed();
        }
        for (slot, resp) in acks.drain(..) {
            slot.written(resp, Err(Error::sys(libc::ECONNRESET)));
        }
        let _ = timeout(Duration::from_millis(100), self.io.stream.shutdown()).await;
    }

    async fn write_out(&mut self) -> Result<(), Error> {
        self.io.flush_within(None).await
    }

    /// Starts the series of a request: runs `process` at once, then keeps
    /// the series' driver here, polled by this connection's task (no
    /// spawn, no thread switch for the reply).
    fn dispatch(&mut self, req: P::Request) {
        let slot = ReplySlot::new();
        let mut task = Task::new(ServerKind {
            inner: self.inner.clone(),
            req,
            resp: P::Response::default(),
            seq: self.seq,
            peer: self.peer,
            connection: self.connection.clone(),
            slot: slot.clone(),
            sent: false,
            noreply: false,
        });
        task.set_state(State::ToReply);
        self.seq += 1;
        self.pending.push_back(slot);
        let mut series = SeriesWork::empty();
        let panicked = {
            let _enter = series::enter(&mut series, &mut task as *mut ServerTask<P> as *const ());
            catch_unwind(AssertUnwindSafe(|| (self.inner.process)(&mut task))).is_err()
        };
        if panicked {
            // Dropping the task unanswered closes the connection.
            return;
        }
        series.set_last_task(task);
        series.set_end(End::Parent(self.inner.clone(), 0));
        self.inner.inflight.fetch_add(1, Ordering::AcqRel);
        self.drivers.push(Driver::new(series));
    }

    /// Polls the request series driven by this connection; true when one
    /// finished.
    fn poll_drivers(drivers: &mut Vec<Driver>, cx: &mut Context<'_>) -> bool {
        let before = drivers.len();
        drivers.retain_mut(|d| std::pin::Pin::new(d).poll(cx).is_pending());
        drivers.len() != before
    }
}

/// A request a server is answering (Workflow's server task).
pub type ServerTask<P> = Task<ServerKind<P>>;

/// The kind of a [`ServerTask`].
pub struct ServerKind<P: ServerProtocol> {
    inner: Arc<Inner<P>>,
    req: P::Request,
    resp: P::Response,
    seq: u64,
    peer: Option<SocketAddr>,
    connection: ServerConnection,
    slot: Arc<ReplySlot<P>>,
    sent: bool,
    noreply: bool,
}

impl<P: ServerProtocol> Drop for ServerKind<P> {
    fn drop(&mut self) {
        if !self.sent {
            // Dropped unanswered (its series was canceled): the connection
            // closes rather than wait forever.
            let mut st = lock(&self.slot.state);
            st.task_gone = true;
            let w = st.conn_waker.take();
            drop(st);
            if let Some(w) = w {
                w.wake();
            }
        }
    }
}

/// Writes raw bytes on a server task's connection before its reply
/// (Workflow's `push`): for responses produced piece by piece. Cloneable
/// and sendable, so other tasks and threads can write.
pub struct ServerPusher<P: ServerProtocol> {
    slot: Arc<ReplySlot<P>>,
}

impl<P: ServerProtocol> Clone for ServerPusher<P> {
    fn clone(&self) -> Self {
        ServerPusher { slot: self.slot.clone() }
    }
}

impl<P: ServerProtocol> std::fmt::Debug for ServerPusher<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerPusher")
    }
}

impl<P: ServerProtocol> ServerPusher<P> {
    /// Queues `data` to be written as soon as every earlier reply on the
    /// connection is out; false once the reply was sent or the connection
    /// closed.
    pub fn push(&self, data: impl Into<bytes::Bytes>) -> bool {
        let data = data.into();
        self.slot.send(move |st| st.pushes.push(data))
    }
}

impl<P: ServerProtocol> std::fmt::Debug for ServerKind<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKind").field("seq", &self.seq).field("peer", &self.peer).finish_non_exhaustive()
    }
}

impl<P: ServerProtocol> ServerKind<P> {
    /// The request.
    pub fn req(&self) -> &P::Request {
        &self.req
    }

    /// The request, mutably (e.g. to move it into a client task).
    pub fn req_mut(&mut self) -> &mut P::Request {
        &mut self.req
    }

    /// The reply being built.
    pub fn resp(&self) -> &P::Response {
        &self.resp
    }

    /// The reply, to fill in `process` or in any task of the series.
    pub fn resp_mut(&mut self) -> &mut P::Response {
        &mut self.resp
    }

    /// The request's index on its connection, from 0 (Workflow's
    /// `get_task_seq`).
    pub fn task_seq(&self) -> u64 {
        self.seq
    }

    /// The client's address (`None` over a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The connection, for its context.
    pub fn connection(&self) -> &ServerConnection {
        &self.connection
    }

    /// A handle writing raw bytes on the connection before the reply; see
    /// [`ServerPusher`].
    pub fn pusher(&self) -> ServerPusher<P> {
        ServerPusher { slot: self.slot.clone() }
    }
}

impl<P: ServerProtocol> Task<ServerKind<P>> {
    /// Closes the connection instead of replying; the task finishes as
    /// `NoReply` and its callback still runs.
    pub fn noreply(&mut self) {
        self.kind_mut().noreply = true;
        self.set_state(State::NoReply);
    }
}

impl<P: ServerProtocol> TaskKind for ServerKind<P> {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if !self.sent {
            self.sent = true;
            if self.noreply {
                self.slot.send(|st| st.reply = Some(Outgoing::NoReply));
                run.set_state(State::NoReply);
                return Poll::Ready(());
            }
            let protocol = &self.inner.protocol;
            protocol.prepare_reply(&self.req, &mut self.resp, self.seq);
            let keep = protocol.keep_alive_after_reply(&self.req, &self.resp, self.seq);
            let resp = std::mem::take(&mut self.resp);
            let mut resp = Some(resp);
            if !self.slot.send(|st| st.reply = Some(Outgoing::Reply { resp: resp.take().expect("once"), keep })) {
                self.resp = resp.take().unwrap_or_default();
                run.set_error(Error::sys(libc::ECONNRESET));
                return Poll::Ready(());
            }
        }
        let mut st = lock(&self.slot.state);
        if let Some((resp, result)) = st.written.take() {
            drop(st);
            self.resp = resp;
            match result {
                Ok(()) => run.set_state(State::Success),
                Err(e) => run.set_error(e),
            }
            return Poll::Ready(());
        }
        if st.conn_gone {
            drop(st);
            run.set_error(Error::sys(libc::ECONNRESET));
            return Poll::Ready(());
        }
        st.task_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
