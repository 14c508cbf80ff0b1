//! Client tasks, generic over a protocol.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UnixStream};

use super::conn::Connection;
use super::dns;
use super::pool::{self, Lease, PoolKey};
use super::protocol::Protocol;
use super::stream::{NetStream, Plain};
use super::uri::{Host, Uri};
use crate::error::{Error, State, TimeoutReason, code};
use crate::runtime::{self, EndpointParams};
use crate::task::{RunContext, Task, TaskKind};

/// How a failing address is avoided: for this long, while others work.
const FAILED_ADDRESS_PAUSE: Duration = Duration::from_secs(30);

/// `Option<TlsClient>` as the [`TlsRef`] that [`open`] takes.
#[cfg(feature = "tls")]
macro_rules! tls_client_ref {
    ($t:expr) => {
        $t.as_ref()
    };
}
#[cfg(not(feature = "tls"))]
macro_rules! tls_client_ref {
    ($t:ident) => {
        None
    };
}

/// Everything about one request besides the request itself: retries,
/// timeouts, keep-alive, TLS. A [`ClientTask`] carries one; a protocol
/// crate building its own task kind passes one to [`request`].
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    retry_max: u32,
    send_timeout: Option<Duration>,
    receive_timeout: Option<Duration>,
    watch_timeout: Option<Duration>,
    keep_alive: Option<Option<Duration>>,
    wait_timeout: Option<Duration>,
    endpoint: Option<EndpointParams>,
    #[cfg(feature = "tls")]
    tls: Option<super::tls::TlsClient>,
}

impl ClientOptions {
    /// Attempts after the first one, for `SYS_ERROR` failures (the
    /// protocol's [`is_retryable`](Protocol::is_retryable) decides).
    pub fn retry_max(&self) -> u32 {
        self.retry_max
    }

    /// Sets [`retry_max`](ClientOptions::retry_max).
    pub fn set_retry_max(&mut self, n: u32) -> &mut Self {
        self.retry_max = n;
        self
    }

    /// Limit on sending the whole request (default: none).
    pub fn set_send_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.send_timeout = t;
        self
    }

    /// Limit on receiving the whole reply (default: none).
    pub fn set_receive_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.receive_timeout = t;
        self
    }

    /// Limit on the wait for the reply's first byte (default: the
    /// endpoint's response timeout).
    pub fn set_watch_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.watch_timeout = t;
        self
    }

    /// How long the connection may stay open for reuse after this reply
    /// (`None`: close it). Default: the protocol's.
    pub fn set_keep_alive(&mut self, t: Option<Duration>) -> &mut Self {
        self.keep_alive = Some(t);
        self
    }

    /// The keep-alive this task set: `None` when it set none (the
    /// protocol's default applies), `Some(None)` when it asked to close.
    pub fn keep_alive(&self) -> Option<Option<Duration>> {
        self.keep_alive
    }

    /// How long to wait for a free connection when the target is at its
    /// connection limit (default: fail at once with `EAGAIN`).
    pub fn set_wait_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.wait_timeout = t;
        self
    }

    /// Per-task endpoint parameters instead of the global settings'.
    pub fn set_endpoint_params(&mut self, p: EndpointParams) -> &mut Self {
        self.endpoint = Some(p);
        self
    }

    /// TLS configuration for TLS schemes (default: certificates verified
    /// against the system roots).
    #[cfg(feature = "tls")]
    pub fn set_tls(&mut self, tls: super::tls::TlsClient) -> &mut Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS configuration set for this task, if any.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&super::tls::TlsClient> {
        self.tls.as_ref()
    }

    pub(crate) fn watch_timeout_opt(&self) -> Option<Duration> {
        self.watch_timeout
    }

    pub(crate) fn receive_timeout_opt(&self) -> Option<Duration> {
        self.receive_timeout
    }

    pub(crate) fn endpoint(&self) -> &EndpointParams {
        self.endpoint.as_ref().unwrap_or(&runtime::settings().endpoint_params)
    }
}

/// A reply and where it came from.
#[derive(Debug)]
pub struct Reply<R> {
    /// The response.
    pub response: R,
    /// The server's address (`None` over a Unix socket).
    pub peer: Option<SocketAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Inet(SocketAddr),
    Unix(PathBuf),
}

fn failed_addresses() -> std::sync::MutexGuard<'static, HashMap<SocketAddr, Instant>> {
    static FAILED: OnceLock<Mutex<HashMap<SocketAddr, Instant>>> = OnceLock::new();
    crate::lock::lock(FAILED.get_or_init(Default::default))
}

fn mark_failed(addr: SocketAddr) {
    failed_addresses().insert(addr, Instant::now());
}

fn mark_ok(addr: SocketAddr) {
    let mut failed = failed_addresses();
    if !failed.is_empty() {
        failed.remove(&addr);
    }
}

/// Checks that `uri` is for `protocol` (`TASK_ERROR`/`URI_SCHEME_INVALID`).
fn check_scheme<P: Protocol>(protocol: &P, uri: &Uri) -> Result<bool, Error> {
    if !protocol.schemes().contains(&uri.scheme()) {
        return Err(Error::task(code::URI_SCHEME_INVALID));
    }
    Ok(protocol.tls_schemes().contains(&uri.scheme()))
}

/// Sends `req` to `uri` and receives the reply: name resolution, the
/// connection pool, timeouts and retries included. This is what a
/// [`ClientTask`] runs; protocol crates that build their own task kinds
/// (an HTTP task following redirects, say) call it directly.
pub async fn request<P: Protocol>(
    protocol: &P,
    uri: &Uri,
    req: &P::Request,
    opts: &ClientOptions,
) -> Result<Reply<P::Response>, Error> {
    let tls = check_scheme(protocol, uri)?;
    let mut attempt = 0;
    loop {
        match attempt_once(protocol, uri, req, opts, tls, attempt > 0).await {
            Ok(r) => return Ok(r),
            Err(e) if attempt < opts.retry_max && protocol.is_retryable(&e) => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

async fn targets(uri: &Uri, retry: bool) -> Result<Vec<Target>, Error> {
    Ok(match uri.host() {
        Host::Unix(p) => vec![Target::Unix(p.clone())],
        host => dns::resolve_host(host, uri.port(), retry).await?.iter().map(|a| Target::Inet(*a)).collect(),
    })
}

fn pool_key<P: Protocol>(protocol: &P, uri: &Uri, target: &Target, tls_id: usize) -> Arc<PoolKey> {
    Arc::new(PoolKey {
        protocol: std::any::TypeId::of::<P>(),
        extra: protocol.pool_key(uri),
        target: target.clone(),
        tls: tls_id,
    })
}

/// Of several addresses, the one with the fewest connections in use,
/// skipping those that failed lately unless all did.
fn pick<P: Protocol>(protocol: &P, uri: &Uri, targets: Vec<Target>, tls_id: usize) -> (Target, Arc<PoolKey>) {
    if targets.len() == 1 {
        let t = targets.into_iter().next().expect("one target");
        let key = pool_key(protocol, uri, &t, tls_id);
        return (t, key);
    }
    let now = Instant::now();
    let failed = failed_addresses();
    let healthy = |t: &Target| match t {
        Target::Inet(a) => failed.get(a).is_none_or(|at| now.duration_since(*at) >= FAILED_ADDRESS_PAUSE),
        Target::Unix(_) => true,
    };
    let usable: Vec<&Target> = if targets.iter().any(healthy) {
        targets.iter().filter(|t| healthy(t)).collect()
    } else {
        targets.iter().collect()
    };
    drop(failed);
    let mut best: Option<(usize, &Target, Arc<PoolKey>)> = None;
    for t in usable {
        let key = pool_key(protocol, uri, t, tls_id);
        let load = pool::load(&key);
        if best.as_ref().is_none_or(|b| load < b.0) {
            best = Some((load, t, key));
        }
    }
    let (_, t, key) = best.expect("at least one target");
    (t.clone(), key)
}

async fn attempt_once<P: Protocol>(
    protocol: &P,
    uri: &Uri,
    req: &P::Request,
    opts: &ClientOptions,
    tls: bool,
    retry: bool,
) -> Result<Reply<P::Response>, Error> {
    #[cfg(feature = "tls")]
    let tls_client = tls.then(|| opts.tls.clone().unwrap_or_else(super::tls::TlsClient::verified));
    #[cfg(feature = "tls")]
    let tls_id = tls_client.as_ref().map_or(0, |t| t.id());
    #[cfg(not(feature = "tls"))]
    let tls_id = {
        if tls {
            return Err(Error::new(State::SslError, 1));
        }
        0
    };
    let (target, key) = pick(protocol, uri, targets(uri, retry).await?, tls_id);
    let endpoint = opts.endpoint();
    let configured_keep_alive = opts.keep_alive.unwrap_or_else(|| protocol.default_keep_alive());
    if protocol.pipelined(req) {
        return super::pipe::request(protocol, uri, req, opts, &target, key, tls_client_ref!(tls_client)).await;
    }
    loop {
        let mut lease: Lease<P::ClientCodec> = pool::acquire(&key, endpoint.max_connections, opts.wait_timeout).await?;
        if lease.conn().is_none() {
            let conn = Box::pin(open(protocol, uri, &target, endpoint, tls_client_ref!(tls_client))).await?;
            lease.set_conn(conn);
        }
        let reused = lease.reused();
        let conn = lease.conn().expect("connected");
        let read_before = conn.read_total();
        let result = async {
            conn.send_within(req, opts.send_timeout).await?;
            conn.receive_within(opts.watch_timeout, opts.receive_timeout).await
        }
        .await;
        match result {
            Ok(response) => {
                let peer = conn.peer_addr();
                let keep = protocol.keep_alive(req, &response, configured_keep_alive);
                lease.release(keep);
                return Ok(Reply { response, peer });
            }
            // The server closed an idle connection as it was reused: not a
            // failure of this request; try again on another connection.
            // (Not when any byte of a reply came: the server was running the
            // request, a MySQL statement say, when the connection broke.)
            Err(e) if reused && conn.read_total() == read_before && conn.nothing_received() && is_stale(&e) => {
                lease.discard_conn();
                drop(lease);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs `exchange` on a pooled connection to `uri`: several requests and
/// replies on one connection, for protocols whose exchanges are more than
/// one request and one reply (a MySQL prepared statement: prepare, then
/// execute with the id the server gave). Name resolution, the pool,
/// connecting and the protocol's [`on_connect`](Protocol::on_connect) are
/// as for [`request`]; `exchange` returns its result and whether the
/// connection may be kept for reuse (for the options' keep-alive, else the
/// protocol's). An error closes the connection; retries follow the
/// options' `retry_max` and the protocol's
/// [`is_retryable`](Protocol::is_retryable), calling `exchange` again on
/// another connection.
pub async fn session<P, T, F>(protocol: &P, uri: &Uri, opts: &ClientOptions, mut exchange: F) -> Result<T, Error>
where
    P: Protocol,
    F: for<'c> FnMut(&'c mut Connection<P::ClientCodec>) -> super::BoxFuture<'c, Result<(T, bool), Error>>,
{
    let tls = check_scheme(protocol, uri)?;
    let mut attempt = 0;
    loop {
        let once = async {
            #[cfg(feature = "tls")]
            let tls_client = tls.then(|| opts.tls.clone().unwrap_or_else(super::tls::TlsClient::verified));
            #[cfg(feature = "tls")]
            let tls_id = tls_client.as_ref().map_or(0, |t| t.id());
            #[cfg(not(feature = "tls"))]
            let tls_id = {
                if tls {
                    return Err(Error::new(State::SslError, 1));
                }
                0
            };
            let (target, key) = pick(protocol, uri, targets(uri, attempt > 0).await?, tls_id);
            let endpoint = opts.endpoint();
            let mut lease: Lease<P::ClientCodec> =
                pool::acquire(&key, endpoint.max_connections, opts.wait_timeout).await?;
            if lease.conn().is_none() {
                let conn = Box::pin(open(protocol, uri, &target, endpoint, tls_client_ref!(tls_client))).await?;
                lease.set_conn(conn);
            }
            let (t, keep) = exchange(lease.conn().expect("connected")).await?;
            let keep_alive = opts.keep_alive.unwrap_or_else(|| protocol.default_keep_alive());
            lease.release(if keep { keep_alive } else { None });
            Ok(t)
        };
        match once.await {
            Ok(t) => return Ok(t),
            Err(e) if attempt < opts.retry_max && protocol.is_retryable(&e) => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// The TLS configuration of a connection, or nothing (without the `tls`
/// feature there is none to pass).
#[cfg(feature = "tls")]
pub(crate) type TlsRef<'a> = Option<&'a super::tls::TlsClient>;
#[cfg(not(feature = "tls"))]
pub(crate) type TlsRef<'a> = Option<&'a std::convert::Infallible>;

/// Connects to `target`, adds TLS, and runs the protocol's `on_connect`.
pub(crate) async fn open<P: Protocol>(
    protocol: &P,
    uri: &Uri,
    target: &Target,
    endpoint: &EndpointParams,
    tls: TlsRef<'_>,
) -> Result<Connection<P::ClientCodec>, Error> {
    let stream = connect_target(target, endpoint).await?;
    #[cfg(feature = "tls")]
    let stream = match tls {
        Some(t) => NetStream::TlsClient(Box::new(
            super::tls::connect(t, uri.host_str(), stream, endpoint.ssl_connect_timeout).await?,
        )),
        None => NetStream::Plain(stream),
    };
    #[cfg(not(feature = "tls"))]
    let stream = {
        let _ = tls;
        NetStream::Plain(stream)
    };
    let peer = match target {
        Target::Inet(a) => Some(*a),
        Target::Unix(_) => None,
    };
    let mut conn = Connection::new(stream, protocol.client_codec(), peer, endpoint.response_timeout);
    protocol.on_connect(&mut conn, uri).await?;
    Ok(conn)
}

/// Opens a connection of its own to `uri`, outside the pool: name
/// resolution, connect and TLS within the options' limits, then the
/// protocol's [`on_connect`](Protocol::on_connect) (Redis `AUTH`, the MySQL
/// handshake). For long-lived exchanges that are not one request and one
/// reply: a Redis subscriber, a MySQL transaction.
///
/// Retries follow [`ClientOptions::retry_max`], for connection failures
/// the protocol deems retryable.
pub async fn connect<P: Protocol>(
    protocol: &P,
    uri: &Uri,
    opts: &ClientOptions,
) -> Result<Connection<P::ClientCodec>, Error> {
    let tls = check_scheme(protocol, uri)?;
    #[cfg(feature = "tls")]
    let tls_client = tls.then(|| opts.tls.clone().unwrap_or_else(super::tls::TlsClient::verified));
    #[cfg(not(feature = "tls"))]
    if tls {
        return Err(Error::new(State::SslError, 1));
    }
    let mut attempt = 0;
    loop {
        let result = async {
            let (target, _) = pick(protocol, uri, targets(uri, attempt > 0).await?, 0);
            open(protocol, uri, &target, opts.endpoint(), tls_client_ref!(tls_client)).await
        }
        .await;
        match result {
            Ok(c) => return Ok(c),
            Err(e) if attempt < opts.retry_max && protocol.is_retryable(&e) => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

fn is_stale(e: &Error) -> bool {
    e.state() == State::SysError && [libc::ECONNRESET, libc::EPIPE, libc::ENOTCONN].contains(&e.code())
}

async fn connect_target(target: &Target, endpoint: &EndpointParams) -> Result<Plain, Error> {
    let deadline = endpoint.connect_timeout.map(|t| tokio::time::Instant::now() + t);
    let timed = |r: Result<std::io::Result<Plain>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(Error::from(e)),
        Err(_) => Err(Error::timeout(TimeoutReason::Connect)),
    };
    let fut = async {
        match target {
            Target::Inet(addr) => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Plain::Tcp(s))
            }
            Target::Unix(path) => Ok(Plain::Unix(UnixStream::connect(path).await?)),
        }
    };
    let r = match deadline {
        Some(d) => timed(tokio::time::timeout_at(d, fut).await),
        None => timed(Ok(fut.await)),
    };
    if let Target::Inet(addr) = target {
        match &r {
            Ok(_) => mark_ok(*addr),
            Err(e) if e.state() == State::SysError => mark_failed(*addr),
            Err(_) => {}
        }
    }
    r
}

type Exchange<P> = (<P as Protocol>::Request, Result<Reply<<P as Protocol>::Response>, Error>);

/// A client task of protocol `P` (Workflow's `WFNetworkTask` made by
/// `WFNetworkTaskFactory::create_client_task`).
pub type ClientTask<P> = Task<Client<P>>;

/// The kind of a [`ClientTask`].
pub struct Client<P: Protocol> {
    protocol: P,
    uri: Result<Uri, Error>,
    req: P::Request,
    resp: P::Response,
    opts: ClientOptions,
    peer: Option<SocketAddr>,
    running: Option<Pin<Box<dyn Future<Output = Exchange<P>> + Send>>>,
}

impl<P: Protocol> std::fmt::Debug for Client<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("uri", &self.uri).finish_non_exhaustive()
    }
}

impl<P: Protocol> Client<P> {
    /// The request.
    pub fn req(&self) -> &P::Request {
        &self.req
    }

    /// The request, to fill before start.
    pub fn req_mut(&mut self) -> &mut P::Request {
        &mut self.req
    }

    /// The response (empty until the task succeeded).
    pub fn resp(&self) -> &P::Response {
        &self.resp
    }

    /// The response, mutably (e.g. to move it out in the callback).
    pub fn resp_mut(&mut self) -> &mut P::Response {
        &mut self.resp
    }

    /// The target URL, if it parsed.
    pub fn uri(&self) -> Option<&Uri> {
        self.uri.as_ref().ok()
    }

    /// The server's address, once connected (`None` over a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

impl<P: Protocol> ClientKind for Client<P> {
    fn client_options(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }
}

/// A task kind that sends requests with [`ClientOptions`]: the generic
/// [`ClientTask`] and every protocol crate's (HTTP, Redis, MySQL) client
/// tasks. Their [`Task`]s get the same option setters from it.
pub trait ClientKind: TaskKind {
    /// This task's options.
    fn client_options(&mut self) -> &mut ClientOptions;
}

/// The options of a client task, on the task itself (Workflow's
/// `set_send_timeout`, `set_watch_timeout`… on `WFNetworkTask`).
impl<K: ClientKind> Task<K> {
    /// Retries, timeouts, keep-alive and TLS of this task.
    pub fn options_mut(&mut self) -> &mut ClientOptions {
        self.kind_mut().client_options()
    }

    /// Limit on sending the whole request.
    pub fn set_send_timeout(&mut self, t: Duration) {
        self.options_mut().set_send_timeout(Some(t));
    }

    /// Limit on receiving the whole reply.
    pub fn set_receive_timeout(&mut self, t: Duration) {
        self.options_mut().set_receive_timeout(Some(t));
    }

    /// Limit on the wait for the first byte of the reply.
    pub fn set_watch_timeout(&mut self, t: Duration) {
        self.options_mut().set_watch_timeout(Some(t));
    }

    /// How long the connection may be kept for reuse after the reply
    /// (zero: close it).
    pub fn set_keep_alive(&mut self, t: Duration) {
        self.options_mut().set_keep_alive(if t.is_zero() { None } else { Some(t) });
    }

    /// How long to wait for a free connection at the target's limit.
    pub fn set_wait_timeout(&mut self, t: Duration) {
        self.options_mut().set_wait_timeout(Some(t));
    }
}

impl<P: Protocol> TaskKind for Client<P> {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let fut = match &mut self.running {
            Some(f) => f,
            None => {
                let uri = match &self.uri {
                    Ok(u) => u.clone(),
                    Err(e) => {
                        run.set_error(*e);
                        return Poll::Ready(());
                    }
                };
                let (protocol, opts, req) = (self.protocol.clone(), self.opts.clone(), std::mem::take(&mut self.req));
                self.running.insert(Box::pin(async move {
                    let r = request(&protocol, &uri, &req, &opts).await;
                    (req, r)
                }))
            }
        };
        let (req, result) = match fut.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.running = None;
        self.req = req;
        match result {
            Ok(reply) => {
                self.resp = reply.response;
                self.peer = reply.peer;
            }
            Err(e) => run.set_error(e),
        }
        Poll::Ready(())
    }
}

/// Creates a client task of `protocol` for `url` (Workflow's
/// `create_client_task`). A bad URL or scheme is reported in the callback,
/// as `TASK_ERROR` 1001/1002/1003.
pub fn create_client_task<P: Protocol>(
    protocol: P,
    url: &str,
    retry_max: u32,
    callback: impl FnOnce(&mut ClientTask<P>) + Send + 'static,
) -> ClientTask<P> {
    let uri = Uri::parse_cached(url);
    let mut opts = ClientOptions::default();
    opts.set_retry_max(retry_max);
    let kind = Client {
        protocol,
        uri,
        req: P::Request::default(),
        resp: P::Response::default(),
        opts,
        peer: None,
        running: None,
    };
    Task::new(kind).with_callback(callback)
}
