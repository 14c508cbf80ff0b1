//! The client task every protocol's tasks are made of.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::machine::{self, Outcome};
use super::options::ClientOptions;
use super::protocol::ClientProtocol;
use crate::error::Error;
use crate::net::uri::Uri;
use crate::task::{RunContext, Task, TaskKind};
use crate::trace;

type Running<P> = Pin<
    Box<
        dyn Future<Output = (<P as crate::net::Protocol>::Request, Outcome<<P as crate::net::Protocol>::Response>)>
            + Send,
    >,
>;

/// A client task's `prepare` hook (see [`Client::set_prepare`]): shared,
/// as every attempt calls it.
type Prepare<P> = std::sync::Arc<dyn Fn(&mut <P as crate::net::Protocol>::Request) + Send + Sync>;

/// A client task of protocol `P` (Workflow's `WFNetworkTask` made by
/// `WFNetworkTaskFactory::create_client_task`).
pub type ClientTask<P> = Task<Client<P>>;

/// The kind of a [`ClientTask`]: the request, the response, the URL and
/// the options of one client task, and the machine that runs it.
///
/// Protocol crates build their task kinds on it (wrapping it, with
/// `Deref` to it, to add methods of their own), so every client task has
/// the same accessors and the same machine.
pub struct Client<P: ClientProtocol> {
    protocol: P,
    uri: Result<Uri, Error>,
    req: P::Request,
    resp: P::Response,
    opts: ClientOptions,
    peer: Option<SocketAddr>,
    redirects: u32,
    prepare: Option<Prepare<P>>,
    running: Option<Running<P>>,
}

impl<P: ClientProtocol> std::fmt::Debug for Client<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("uri", &self.uri).field("redirects", &self.redirects).finish_non_exhaustive()
    }
}

impl<P: ClientProtocol> Client<P> {
    /// A task kind for `url` (parsed through the per-thread URL cache; a
    /// bad URL is reported when the task runs, as `TASK_ERROR`
    /// 1001/1002/1003) with `retry_max` retries.
    pub fn new(protocol: P, url: &str, retry_max: u32) -> Client<P> {
        let mut opts = ClientOptions::default();
        opts.set_retry_max(retry_max);
        Client {
            protocol,
            uri: Uri::parse_cached(url),
            req: P::Request::default(),
            resp: P::Response::default(),
            opts,
            peer: None,
            redirects: 0,
            prepare: None,
            running: None,
        }
    }

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

    /// The URL, if it parsed: after the task ran, the one its reply came
    /// from (redirects followed).
    pub fn uri(&self) -> Option<&Uri> {
        self.uri.as_ref().ok()
    }

    /// The server's address, once a reply came (`None` over a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Redirects followed.
    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// The protocol value (its configuration).
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// The protocol value, to configure before start.
    pub fn protocol_mut(&mut self) -> &mut P {
        &mut self.protocol
    }

    /// Retries, redirects, timeouts, keep-alive, route and TLS of this task.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// Sets a hook that fills or changes the request late: it runs each
    /// time the request is about to be sent, once the connection for it
    /// is chosen (pooled, pipelined or new; after the protocol's own
    /// preparation and, on a new connection, its set-up exchange, which
    /// the hook never sees), so on every retry and redirect too.
    /// Workflow's `set_prepare` on client tasks (called in
    /// `message_out`). Set it before the task starts.
    pub fn set_prepare(&mut self, prepare: impl Fn(&mut P::Request) + Send + Sync + 'static) {
        self.prepare = Some(std::sync::Arc::new(prepare));
    }

    /// Whether the task is running (its machine started and not done).
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

impl<P: ClientProtocol> TaskKind for Client<P> {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let fut = match &mut self.running {
            Some(f) => f,
            None => {
                let uri = match &self.uri {
                    Ok(u) => u.clone(),
                    Err(e) => {
                        run.set_error(e.clone());
                        return Poll::Ready(());
                    }
                };
                let (protocol, opts, mut req) =
                    (self.protocol.clone(), self.opts.clone(), std::mem::take(&mut self.req));
                let prepare = self.prepare.clone();
                let span = trace::client_span(&uri.as_str());
                let run = async move {
                    let out = machine::run(&protocol, uri, &mut req, &opts, prepare.as_deref()).await;
                    match &out.result {
                        Ok(_) => trace::debug!(redirects = out.redirects, "client task succeeded"),
                        Err(_e) => trace::debug!(state = ?_e.state(), error = %_e, "client task failed"),
                    }
                    (req, out)
                };
                self.running.insert(Box::pin(trace::instrument(run, span)))
            }
        };
        let (req, out) = match fut.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.running = None;
        self.req = req;
        self.redirects = out.redirects;
        match out.result {
            Ok((resp, peer)) => {
                self.resp = resp;
                self.peer = peer;
            }
            Err(e) => run.set_error(e),
        }
        self.uri = Ok(out.uri);
        Poll::Ready(())
    }
}

/// A task kind that sends requests with [`ClientOptions`]: the generic
/// [`ClientTask`] and every protocol crate's client tasks. Their
/// [`Task`]s get the same option setters from it.
pub trait ClientKind: TaskKind {
    /// This task's options.
    fn client_options(&mut self) -> &mut ClientOptions;
}

impl<P: ClientProtocol> ClientKind for Client<P> {
    fn client_options(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }
}

/// The options of a client task, on the task itself (Workflow's
/// `set_send_timeout`, `set_watch_timeout`… on `WFNetworkTask`).
impl<K: ClientKind> Task<K> {
    /// Retries, redirects, timeouts, keep-alive, route and TLS of this task.
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
        self.options_mut().set_keep_alive(t);
    }

    /// How long to wait for a free connection at the target's limit.
    pub fn set_wait_timeout(&mut self, t: Duration) {
        self.options_mut().set_wait_timeout(Some(t));
    }

    /// The largest reply accepted, in bytes (`None`: no limit; default
    /// 64 MiB); over it the task fails with `SYS_ERROR`/`EMSGSIZE`
    /// (Workflow's `set_size_limit` on the response). See
    /// [`ClientOptions::set_response_size_limit`].
    pub fn set_response_size_limit(&mut self, limit: Option<usize>) {
        self.options_mut().set_response_size_limit(limit);
    }

    /// An overall limit on the task, from its start to its callback,
    /// retries and redirects included (none by default). See
    /// [`ClientOptions::set_deadline`].
    pub fn set_deadline(&mut self, t: Duration) {
        self.options_mut().set_deadline(Some(t));
    }
}

/// Creates a client task of `protocol` for `url` (Workflow's
/// `create_client_task`). A bad URL or scheme is reported in the callback,
/// as `TASK_ERROR` 1001/1002/1003.
pub fn create_client_task<P: ClientProtocol>(
    protocol: P,
    url: &str,
    retry_max: u32,
    callback: impl FnOnce(&mut ClientTask<P>) + Send + 'static,
) -> ClientTask<P> {
    Task::new(Client::new(protocol, url, retry_max)).with_callback(callback)
}

/// Sends `req` to `uri` with `opts` and receives the reply, through the
/// whole machine (route, pool, timeouts, retries, redirects), outside any
/// task: for protocol code that needs a sub-request of its own.
pub async fn request<P: ClientProtocol>(
    protocol: &P,
    uri: &Uri,
    req: &mut P::Request,
    opts: &ClientOptions,
) -> Result<P::Response, Error> {
    machine::run(protocol, uri.clone(), req, opts, None).await.result.map(|(resp, _)| resp)
}
