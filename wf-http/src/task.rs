//! `HttpTask`: an HTTP client task (the machine is wf-core's; redirects,
//! proxies and keep-alive are HTTP's client half, in `client`).

use std::ops::{Deref, DerefMut};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wf_core::net::{Client, ClientKind, ClientOptions, Uri};
use wf_core::{RunContext, Task, TaskKind};

use crate::protocol::Http;

/// An HTTP client task (Workflow's `WFHttpTask`).
pub type HttpTask = Task<HttpClient>;

/// The kind of an [`HttpTask`]: wf-core's [`Client`] of [`Http`] (its
/// `req()`, `resp()`, `uri()`, `peer_addr()`, `redirects()` through
/// `Deref`), plus what a streaming task needs.
pub struct HttpClient {
    client: Client<Http>,
    /// A streaming task's per-piece callback and where the pieces arrive.
    extract: Option<Box<dyn FnMut(Bytes) + Send>>,
    pieces: Option<std::sync::mpsc::Receiver<Bytes>>,
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
    /// Limit on the silence between pieces of a streaming task's response
    /// (the first one is the watch timeout).
    pub fn set_chunk_timeout(&mut self, t: Duration) {
        let mut p = wf_core::settings().endpoint_params.clone();
        p.response_timeout = Some(t);
        self.client.client_options().set_endpoint_params(p);
    }

    fn deliver_pieces(&mut self) {
        if let (Some(rx), Some(extract)) = (&self.pieces, &mut self.extract) {
            while let Ok(piece) = rx.try_recv() {
                extract(piece);
            }
        }
    }
}

impl TaskKind for HttpClient {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if self.extract.is_some() && !self.client.is_running() && self.pieces.is_none() {
            let (tx, rx) = std::sync::mpsc::channel();
            self.client.req_mut().chunk_sink = Some(tx);
            self.pieces = Some(rx);
        }
        let polled = self.client.poll_run(cx, run);
        // Pieces decoded during this poll go to the callback right away.
        self.deliver_pieces();
        if polled.is_ready() {
            self.client.req_mut().chunk_sink = None;
            self.deliver_pieces();
            self.pieces = None;
        }
        polled
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
    Task::new(HttpClient { client, extract: None, pieces: None }).with_callback(callback)
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

/// A streaming HTTP task (Workflow's `WFHttpChunkedClient`): `extract` is
/// called with each piece of the response body as it arrives (chunks of a
/// chunked response, or reads of any other), for server-sent events and
/// LLM token streams; the callback runs at the end, with the head in
/// `resp()` and an empty body. Redirects are followed; there are no
/// retries. Bound the wait for the first byte with `set_watch_timeout` and
/// the silence between pieces with `set_chunk_timeout`. The body is never
/// buffered whole, so the task has no response size limit unless you set
/// one (`set_response_size_limit`); its head keeps the codec's limits.
pub fn create_http_chunked_task(
    url: &str,
    redirect_max: u32,
    extract: impl FnMut(Bytes) + Send + 'static,
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
