//! `HttpTask`: an HTTP client task following redirects.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue, LOCATION, TRANSFER_ENCODING,
};
use wf_core::net::{ClientOptions, Uri, request};
use wf_core::{Error, RunContext, Task, TaskKind, code};

use crate::codec::length_value;
use crate::message::{HttpRequest, HttpResponse};
use crate::protocol::Http;
use crate::proxy::Tunnel;

/// An HTTP client task (Workflow's `WFHttpTask`).
pub type HttpTask = Task<HttpClient>;

struct Done {
    resp: HttpResponse,
    peer: Option<SocketAddr>,
    uri: Uri,
    redirects: u32,
}

type Running = Pin<Box<dyn Future<Output = (HttpRequest, Result<Done, Error>)> + Send>>;

/// The kind of an [`HttpTask`].
pub struct HttpClient {
    uri: Result<Uri, Error>,
    proxy: Option<Result<Uri, Error>>,
    req: HttpRequest,
    resp: HttpResponse,
    redirect_max: u32,
    redirects: u32,
    opts: ClientOptions,
    peer: Option<SocketAddr>,
    running: Option<Running>,
    /// A streaming task's per-piece callback and where the pieces arrive.
    extract: Option<Box<dyn FnMut(Bytes) + Send>>,
    pieces: Option<std::sync::mpsc::Receiver<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("uri", &self.uri).field("redirects", &self.redirects).finish_non_exhaustive()
    }
}

impl HttpClient {
    /// The request.
    pub fn req(&self) -> &HttpRequest {
        &self.req
    }

    /// The request, to fill before start.
    pub fn req_mut(&mut self) -> &mut HttpRequest {
        &mut self.req
    }

    /// The response (empty until the task succeeded).
    pub fn resp(&self) -> &HttpResponse {
        &self.resp
    }

    /// The response, mutably (e.g. to move it out in the callback).
    pub fn resp_mut(&mut self) -> &mut HttpResponse {
        &mut self.resp
    }

    /// The URL the response came from (after redirects).
    pub fn uri(&self) -> Option<&Uri> {
        self.uri.as_ref().ok()
    }

    /// Redirects followed.
    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// The server's address (`None` over a Unix socket or a proxy tunnel
    /// until connected).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// For a streaming task: the longest silence allowed between two
    /// pieces of the response (the first one is the watch timeout).
    pub fn set_chunk_timeout(&mut self, t: Duration) {
        let mut p = wf_core::settings().endpoint_params.clone();
        p.response_timeout = Some(t);
        self.opts.set_endpoint_params(p);
    }

    fn deliver_pieces(&mut self) {
        if let (Some(rx), Some(extract)) = (&self.pieces, &mut self.extract) {
            while let Ok(piece) = rx.try_recv() {
                extract(piece);
            }
        }
    }
}

/// `Basic` credentials.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Fills what a request to `uri` needs: target, `Host`, credentials from
/// the URL, `Content-Length`, `Connection`.
fn prepare(req: &mut HttpRequest, uri: &Uri, auto_host: bool, keep: bool) {
    req.uri = uri.request_uri();
    if auto_host {
        if let Ok(v) = HeaderValue::from_str(&uri.authority()) {
            req.headers.insert(HOST, v);
        }
    }
    if let Some(pass) = uri.password() {
        if let Ok(v) = HeaderValue::from_str(&basic_auth(uri.user().unwrap_or(""), pass)) {
            req.headers.insert(AUTHORIZATION, v);
        }
    } else if let Some(user) = uri.user() {
        if let Ok(v) = HeaderValue::from_str(&basic_auth(user, "")) {
            req.headers.insert(AUTHORIZATION, v);
        }
    }
    if !req.is_chunked() && (req.body_len() > 0 || req.method == Method::POST || req.method == Method::PUT) {
        req.headers.insert(CONTENT_LENGTH, length_value(req.body_len()));
    }
    if !req.headers.contains_key(CONNECTION) {
        req.headers.insert(CONNECTION, HeaderValue::from_static(if keep { "Keep-Alive" } else { "close" }));
    }
}

fn is_redirect(code: u16) -> bool {
    matches!(code, 301 | 302 | 303 | 307 | 308)
}

async fn run(
    mut uri: Uri,
    proxy: Option<Uri>,
    mut req: HttpRequest,
    opts: ClientOptions,
    redirect_max: u32,
) -> (HttpRequest, Result<Done, Error>) {
    let auto_host = !req.headers.contains_key(HOST);
    let mut redirects = 0;
    loop {
        prepare(&mut req, &uri, auto_host, opts.keep_alive() != Some(None));
        let result = match &proxy {
            None => request(&Http::default(), &uri, &req, &opts).await,
            Some(p) => {
                #[allow(unused_mut)]
                let mut tunnel = Tunnel::new(&uri, p);
                #[cfg(feature = "tls")]
                {
                    tunnel.tls = opts.tls().cloned();
                }
                request(&Http { tunnel: Some(tunnel) }, p, &req, &opts).await
            }
        };
        let reply = match result {
            Ok(r) => r,
            Err(e) => return (req, Err(e)),
        };
        let resp = reply.response;
        if !is_redirect(resp.status_code()) || redirects >= redirect_max {
            return (req, Ok(Done { resp, peer: reply.peer, uri, redirects }));
        }
        let next = match resp.header(LOCATION.as_str()).map(|l| uri.join(l)) {
            Some(Ok(next)) if matches!(next.scheme(), "http" | "https") => next,
            _ => return (req, Err(Error::task(code::HTTP_BAD_REDIRECT_HEADER))),
        };
        let code = resp.status_code();
        if code == 303 || (matches!(code, 301 | 302) && req.method != Method::GET && req.method != Method::HEAD) {
            if req.method != Method::HEAD {
                req.method = Method::GET;
            }
            req.clear_body();
            for h in [CONTENT_LENGTH, TRANSFER_ENCODING, CONTENT_TYPE] {
                req.headers.remove(h);
            }
        }
        if next.host() != uri.host() || next.port() != uri.port() {
            req.headers.remove(AUTHORIZATION);
        }
        uri = next;
        redirects += 1;
    }
}

impl TaskKind for HttpClient {
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
                let proxy = match &self.proxy {
                    None => None,
                    Some(Ok(p)) if p.scheme() == "http" => Some(p.clone()),
                    Some(Ok(_)) => {
                        run.set_error(Error::task(code::URI_SCHEME_INVALID));
                        return Poll::Ready(());
                    }
                    Some(Err(e)) => {
                        run.set_error(*e);
                        return Poll::Ready(());
                    }
                };
                let mut req = std::mem::take(&mut self.req);
                if self.extract.is_some() {
                    let (tx, rx) = std::sync::mpsc::channel();
                    req.chunk_sink = Some(tx);
                    self.pieces = Some(rx);
                }
                self.running.insert(Box::pin(run_task(uri, proxy, req, self.opts.clone(), self.redirect_max)))
            }
        };
        let polled = fut.as_mut().poll(cx);
        // Pieces decoded during this poll go to the callback right away.
        self.deliver_pieces();
        let (mut req, result) = match polled {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.running = None;
        req.chunk_sink = None;
        self.deliver_pieces();
        self.pieces = None;
        self.req = req;
        match result {
            Ok(done) => {
                self.resp = done.resp;
                self.peer = done.peer;
                self.uri = Ok(done.uri);
                self.redirects = done.redirects;
            }
            Err(e) => run.set_error(e),
        }
        Poll::Ready(())
    }
}

fn run_task(
    uri: Uri,
    proxy: Option<Uri>,
    req: HttpRequest,
    opts: ClientOptions,
    redirect_max: u32,
) -> impl Future<Output = (HttpRequest, Result<Done, Error>)> + Send {
    run(uri, proxy, req, opts, redirect_max)
}

fn new_task(
    url: &str,
    proxy: Option<&str>,
    redirect_max: u32,
    retry_max: u32,
    callback: impl FnOnce(&mut HttpTask) + Send + 'static,
) -> HttpTask {
    let mut opts = ClientOptions::default();
    opts.set_retry_max(retry_max);
    Task::new(HttpClient {
        uri: Uri::parse_cached(url),
        proxy: proxy.map(Uri::parse),
        req: HttpRequest::default(),
        resp: HttpResponse::default(),
        redirect_max,
        redirects: 0,
        opts,
        peer: None,
        running: None,
        extract: None,
        pieces: None,
    })
    .with_callback(callback)
}

/// A streaming HTTP task (Workflow's `WFHttpChunkedClient`): `extract` is
/// called with each piece of the response body as it arrives (chunks of a
/// chunked response, or reads of any other), for server-sent events and
/// LLM token streams; the callback runs at the end, with the head in
/// `resp()` and an empty body. Redirects are followed; there are no
/// retries. Bound the wait for the first byte with `set_watch_timeout` and
/// the silence between pieces with `set_chunk_timeout`.
pub fn create_http_chunked_task(
    url: &str,
    redirect_max: u32,
    extract: impl FnMut(Bytes) + Send + 'static,
    callback: impl FnOnce(&mut HttpTask) + Send + 'static,
) -> HttpTask {
    let mut t = new_task(url, None, redirect_max, 0, callback);
    t.kind_mut().extract = Some(Box::new(extract));
    t
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
///         _ => eprintln!("failed: {}", t.error()),
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

impl wf_core::net::ClientKind for HttpClient {
    fn client_options(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(basic_auth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }
}
