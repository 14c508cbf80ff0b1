//! `HttpTask`: an HTTP client task (the machine is wf-core's; redirects,
//! proxies and keep-alive are HTTP's client half, in `client`).

use std::ops::{Deref, DerefMut};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wf_core::net::{Client, ClientKind, ClientOptions, Uri};
use wf_core::{RunContext, Task, TaskKind};

use crate::message::{HttpRequest, Piece};
use crate::protocol::Http;

/// An HTTP client task (Workflow's `WFHttpTask`).
pub type HttpTask = Task<HttpClient>;

/// A streaming task's per-piece callback.
type Extract = Box<dyn FnMut(&mut HttpClient) + Send>;

/// The kind of an [`HttpTask`]: wf-core's [`Client`] of [`Http`] (its
/// `req()`, `resp()`, `uri()`, `peer_addr()`, `redirects()` through
/// `Deref`), plus what a streaming task needs (Workflow's
/// `WFHttpChunkedTask`): the chunk being delivered, the header point and
/// a way to stop.
pub struct HttpClient {
    client: Client<Http>,
    /// A streaming task's per-piece callback and where the pieces arrive.
    extract: Option<Extract>,
    pieces: Option<std::sync::mpsc::Receiver<Piece>>,
    /// Whether `extract` is also called once with the head.
    on_header: bool,
    /// The piece `extract` is being called with.
    chunk: Option<Bytes>,
    /// The request as the task set it, shown by `req()` while streaming.
    sent: Option<HttpRequest>,
    stopped: bool,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("client", &self.client).finish_non_exhaustive()
    }
}

impl Deref for HttpClient {
    type Target = Client<Http>;
    fn deref(&self) -> &Client<Http> {
        &self.client
    }
}

impl DerefMut for HttpClient {
    fn deref_mut(&mut self) -> &mut Client<Http> {
        &mut self.client
    }
}

impl HttpClient {
    fn new(client: Client<Http>) -> HttpClient {
        HttpClient { client, extract: None, pieces: None, on_header: false, chunk: None, sent: None, stopped: false }
    }

    /// Limit on the silence between pieces of a streaming task's response
    /// (the first one is the watch timeout).
    pub fn set_chunk_timeout(&mut self, t: Duration) {
        let mut p = wf_core::settings().endpoint_params.clone();
        p.response_timeout = Some(t);
        self.client.client_options().set_endpoint_params(p);
    }

    /// Whether a streaming task's `extract` is also called once with the
    /// response's head, before any piece of its body (Workflow's
    /// `extract_on_header`; off by default). In that call
    /// [`chunk`](Self::chunk) is `None` and `resp()` has the status and
    /// headers; `extract` may [`stop`](Self::stop) the task there, before
    /// the body is read.
    pub fn extract_on_header(&mut self, on: bool) {
        self.on_header = on;
    }

    /// In a streaming task's `extract`: the piece of the body being
    /// delivered (Workflow's `get_chunk`), `None` in the header call
    /// (and outside `extract`). Pieces come in order; each holds bytes of
    /// one chunk of a chunked response (a chunk that arrives in several
    /// reads comes as several pieces), or what one read brought of any
    /// other body.
    pub fn chunk(&self) -> Option<&Bytes> {
        self.chunk.as_ref()
    }

    /// In a streaming task's `extract`: stops the task after this call.
    /// Nothing more of the response is read or delivered; its connection
    /// is closed (never reused with a body half read), and the callback
    /// runs with `State::Success`, the head in `resp()` and
    /// [`is_stopped`](Self::is_stopped) true. (`peer_addr()` and
    /// `redirects()` are not known then.) Outside `extract` it does
    /// nothing.
    pub fn stop(&mut self) {
        if self.pieces.is_some() {
            self.stopped = true;
        }
    }

    /// Whether `extract` stopped the task before the response ended.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Hands the pieces that arrived to `extract`, in order, until it
    /// stops the task.
    fn deliver_pieces(&mut self) {
        let Some(mut extract) = self.extract.take() else { return };
        while !self.stopped {
            let Some(Ok(piece)) = self.pieces.as_ref().map(|rx| rx.try_recv()) else { break };
            match piece {
                Piece::Head(head) => {
                    *self.client.resp_mut() = head;
                    if self.on_header {
                        extract(self);
                    }
                }
                Piece::Data(data) => {
                    self.chunk = Some(data);
                    extract(self);
                    self.chunk = None;
                }
            }
        }
        self.extract = Some(extract);
    }

    /// Drops the running machine (and with it the connection, unpooled),
    /// keeping the request, the head received and the options.
    fn halt(&mut self) {
        let url = self.client.uri().map_or_else(String::new, |u| u.as_str().to_string());
        let mut fresh = Client::new(self.client.protocol().clone(), &url, 0);
        *fresh.client_options() = self.client.options().clone();
        *fresh.req_mut() = self.sent.take().unwrap_or_default();
        *fresh.resp_mut() = std::mem::take(self.client.resp_mut());
        self.client = fresh;
    }
}

impl TaskKind for HttpClient {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let starting = self.extract.is_some() && !self.client.is_running() && self.pieces.is_none();
        if starting {
            let (tx, rx) = std::sync::mpsc::channel();
            self.sent = Some(self.client.req().clone());
            self.client.req_mut().chunk_sink = Some(Box::new(tx));
            self.pieces = Some(rx);
            self.stopped = false;
        }
        let polled = self.client.poll_run(cx, run);
        if starting && polled.is_pending() {
            // The machine took the request: show the task's copy meanwhile.
            if let Some(sent) = &self.sent {
                *self.client.req_mut() = sent.clone();
            }
        }
        // Pieces decoded during this poll go to the callback right away.
        self.deliver_pieces();
        if self.stopped && polled.is_pending() {
            self.halt();
        }
        if self.stopped || polled.is_ready() {
            self.client.req_mut().chunk_sink = None;
            self.deliver_pieces();
            self.pieces = None;
            self.sent = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl ClientKind for HttpClient {
    fn client_options(&mut self) -> &mut ClientOptions {
        self.client.client_options()
    }
}

fn new_task(
    url: &str,
    proxy: Option<&str>,
    redirect_max: u32,
    retry_max: u32,
    callback: impl FnOnce(&mut HttpTask) + Send + 'static,
) -> HttpTask {
    let http = Http { proxy: proxy.map(Uri::parse) };
    let mut client = Client::new(http, url, retry_max);
    client.client_options().set_redirect_max(redirect_max);
    Task::new(HttpClient::new(client)).with_callback(callback)
}

/// Creates an HTTP task for `url` (Workflow's `create_http_task`): `GET`
/// by default, following up to `redirect_max` redirects and retrying
/// system errors up to `retry_max` times. A bad URL or scheme is reported
/// in the callback (`TASK_ERROR` 1001/1002/1003).
///
/// ```no_run
/// let t = wf_http::create_http_task("http://127.0.0.1:8888/", 4, 2, |t| {
///     match t.state() {
///         wf_core::State::Success => println!("{} {}", t.resp().status_code(), t.resp().reason_phrase()),
///         _ => eprintln!("failed: {}", t.error_text()),
///     }
/// });
/// t.start();
/// wf_core::wait_finish();
/// ```
pub fn create_http_task(
    url: &str,
    redirect_max: u32,
    retry_max: u32,
    callback: impl FnOnce(&mut HttpTask) + Send + 'static,
) -> HttpTask {
    new_task(url, None, redirect_max, retry_max, callback)
}

/// Like [`create_http_task`], through the HTTP proxy `proxy_url`
/// (`http://[user:password@]host:port`): the task opens a `CONNECT` tunnel
/// to the target (TLS inside it for https), as Workflow does. A proxy that
/// refuses the tunnel gives `TASK_ERROR`/`HTTP_PROXY_CONNECT_FAILED`.
pub fn create_http_task_with_proxy(
    url: &str,
    proxy_url: &str,
    redirect_max: u32,
    retry_max: u32,
    callback: impl FnOnce(&mut HttpTask) + Send + 'static,
) -> HttpTask {
    new_task(url, Some(proxy_url), redirect_max, retry_max, callback)
}

/// A streaming HTTP task (Workflow's `WFHttpChunkedClient::create_chunked_task`):
/// `extract` is called with the task as each piece of the response body
/// arrives, the piece in [`HttpClient::chunk`] (chunks of a chunked
/// response, or reads of any other), for server-sent events and LLM token
/// streams; with [`HttpClient::extract_on_header`] it is first called
/// once with the head, before any of the body. `extract` may
/// [`stop`](HttpClient::stop) the task. The callback runs at the end, with
/// the head (and any trailers) in `resp()` and an empty body. Redirects
/// are followed (only the last response is delivered); there are no
/// retries. Bound the wait for the first byte with `set_watch_timeout`
/// and the silence between pieces with `set_chunk_timeout`. The body is
/// never buffered whole: a piece is handed over in the poll that read it,
/// so the task holds at most what one poll of its connection reads. It
/// has no response size limit unless you set one
/// (`set_response_size_limit`, counting every byte of the response); its
/// head keeps the codec's limits.
///
/// ```no_run
/// use wf_http::create_http_chunked_task;
///
/// let mut task = create_http_chunked_task(
///     "http://127.0.0.1:8888/events",
///     2,
///     |t| match t.chunk() {
///         None if t.resp().status_code() != 200 => t.stop(),
///         None => println!("headers: {:?}", t.resp().headers()),
///         Some(piece) => println!("{}", String::from_utf8_lossy(piece)),
///     },
///     |t| println!("done: {:?}, stopped: {}", t.state(), t.is_stopped()),
/// );
/// task.extract_on_header(true);
/// task.start();
/// wf_core::wait_finish();
/// ```
pub fn create_http_chunked_task(
    url: &str,
    redirect_max: u32,
    extract: impl FnMut(&mut HttpClient) + Send + 'static,
    callback: impl FnOnce(&mut HttpTask) + Send + 'static,
) -> HttpTask {
    let mut t = new_task(url, None, redirect_max, 0, callback);
    t.kind_mut().extract = Some(Box::new(extract));
    // The body goes to `extract` piece by piece, never buffered whole, so
    // the default response size limit (which counts every byte of a
    // response) would only cut long streams; the head keeps the codec's
    // own limits.
    t.kind_mut().client_options().set_response_size_limit(None);
    t
}
