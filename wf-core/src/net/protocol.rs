//! The protocol plug-in API.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio_util::codec::{Decoder, Encoder};

use super::conn::Connection;
use super::server::ServerParams;
use super::uri::Uri;
use crate::error::{Error, State};

/// What a server connection does after a reply: see
/// [`Protocol::keep_alive_after_reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKeepAlive {
    /// Stay open, idle for at most the server's `keep_alive_timeout`.
    Keep,
    /// Stay open, idle for at most this long (e.g. HTTP `Keep-Alive:
    /// timeout=N`).
    KeepFor(Duration),
    /// Close once the reply is written.
    Close,
}

/// A boxed, sendable future: what protocol hooks return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A network protocol: the one thing to write to get client tasks and a
/// server for it.
///
/// # Writing a protocol
///
/// 1. Define the request and response types (`Default` gives the empty
///    message a new task starts with).
/// 2. Write the codecs with `tokio_util::codec`: the client codec encodes
///    `&Request` and decodes `Response`; the server codec decodes
///    `Request` and encodes `&Response`. Encoding takes a reference because
///    the task keeps its messages: the callback reads them, and a retry
///    sends the request again. Decode errors become the task's error
///    (`Into<Error>`; an `io::Error` maps to `SYS_ERROR` with its errno,
///    e.g. `EBADMSG` for malformed input or `EMSGSIZE` for an oversized
///    one).
/// 3. Implement this trait: name the URL schemes, build the codecs, and
///    override the hooks whose defaults do not fit.
///
/// Then [`create_client_task`](super::create_client_task) sends requests
/// and [`Server`](super::Server) answers them. The TLV protocol in
/// [`tlv`](super::tlv) is the complete reference; it uses nothing that a
/// third-party crate could not.
///
/// # Hooks
///
/// | hook | default | e.g. |
/// |---|---|---|
/// | [`on_connect`](Protocol::on_connect): sub-requests on a fresh client connection, invisible to the callback | nothing | Redis `AUTH`/`SELECT`, the MySQL handshake |
/// | [`keep_alive`](Protocol::keep_alive): whether a reply lets the connection be reused, and for how long | the task's keep-alive | HTTP `Connection: close` |
/// | [`is_retryable`](Protocol::is_retryable): whether an error is worth another attempt | `SYS_ERROR` only | not after an auth failure |
/// | [`pool_key`](Protocol::pool_key): what else separates pooled connections | nothing | Redis credentials and db |
/// | [`pipelined`](Protocol::pipelined): whether a request may share a connection with others in flight | no | Redis commands but `BLPOP`, `MULTI`… |
/// | [`on_accept`](Protocol::on_accept): a server's greeting or login before the first request | nothing | the MySQL handshake |
/// | [`prepare_reply`](Protocol::prepare_reply): fill automatic fields of a server reply | nothing | HTTP `Content-Length`, `Date` |
/// | [`keep_alive_after_reply`](Protocol::keep_alive_after_reply): whether a server connection stays open | yes | HTTP/1.0, `Connection: close` |
/// | [`error_reply`](Protocol::error_reply): what a server answers to a request its codec rejected | close without a reply | HTTP 400/413/431 |
pub trait Protocol: Clone + Send + Sync + 'static {
    /// A request.
    type Request: Default + Send + Sync + 'static;
    /// A response.
    type Response: Default + Send + Sync + 'static;
    /// The client side: encodes requests, decodes responses.
    type ClientCodec: Decoder<Item = Self::Response, Error: Into<Error>>
        + for<'a> Encoder<&'a Self::Request, Error: Into<Error>>
        + Send
        + 'static;
    /// The server side: decodes requests, encodes responses.
    type ServerCodec: Decoder<Item = Self::Request, Error: Into<Error>>
        + for<'a> Encoder<&'a Self::Response, Error: Into<Error>>
        + Send
        + 'static;

    /// URL schemes a client task of this protocol accepts; any other is
    /// `TASK_ERROR`/`URI_SCHEME_INVALID`.
    fn schemes(&self) -> &'static [&'static str];

    /// Schemes among [`schemes`](Protocol::schemes) that mean TLS
    /// (`https`, `rediss`…).
    fn tls_schemes(&self) -> &'static [&'static str] {
        &[]
    }

    /// A client codec for a new connection.
    fn client_codec(&self) -> Self::ClientCodec;

    /// A server codec for a new connection; `params.request_size_limit`
    /// is for the codec to enforce.
    fn server_codec(&self, params: &ServerParams) -> Self::ServerCodec;

    /// How long a client connection stays open for reuse when a task sets
    /// nothing (Workflow: 0 for a generic protocol, 60 s for HTTP and
    /// Redis). `None` closes it after each reply.
    fn default_keep_alive(&self) -> Option<Duration> {
        None
    }

    /// Runs on every fresh client connection before the task's request.
    /// Requests sent here are not the task's: its callback never sees them.
    fn on_connect<'a>(
        &'a self,
        conn: &'a mut Connection<Self::ClientCodec>,
        uri: &'a Uri,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let _ = (conn, uri);
        Box::pin(std::future::ready(Ok(())))
    }

    /// After a reply: how long the connection may be kept for reuse
    /// (`None`: close it). `configured` is the task's keep-alive.
    fn keep_alive(&self, req: &Self::Request, resp: &Self::Response, configured: Option<Duration>) -> Option<Duration> {
        let _ = (req, resp);
        configured
    }

    /// Whether a failed attempt may be retried. Workflow retries
    /// `SYS_ERROR` only.
    fn is_retryable(&self, error: &Error) -> bool {
        error.state() == State::SysError
    }

    /// Whether `req` may go out on a connection that other requests share,
    /// several in flight at once, their replies matched in order (Redis).
    /// Such requests never wait for a free connection: concurrent tasks to
    /// one target share a few connections (see
    /// [`pipeline_depth`](Protocol::pipeline_depth)), and a task's
    /// encoded request joins the others' in one write.
    ///
    /// The codec must then decode replies in the order it encoded their
    /// requests, and keep any per-request state it needs to (a
    /// pipelined connection encodes request *n*+1 before it decodes reply
    /// *n*). A request that changes the connection's state for what
    /// follows (a transaction, a blocking pop) must not be pipelined: it
    /// takes an exclusive connection as usual.
    fn pipelined(&self, req: &Self::Request) -> bool {
        let _ = req;
        false
    }

    /// Pipelined requests in flight on one connection before another
    /// connection to the same target is opened (up to the endpoint's
    /// `max_connections`; beyond, the least busy one takes more).
    fn pipeline_depth(&self) -> usize {
        128
    }

    /// Extra text that separates pooled connections to the same address
    /// (credentials, database…). Connections are already separated by
    /// protocol type, address and TLS configuration, not by URL scheme:
    /// a protocol whose schemes differ in more than TLS adds the scheme
    /// here. Pooled connections keep the codec they
    /// were made with, so any setting of this protocol value that changes
    /// its codecs (a size limit, say) belongs in the key too.
    fn pool_key(&self, uri: &Uri) -> String {
        let _ = uri;
        String::new()
    }

    /// Server: runs on every accepted connection (after TLS) before its
    /// first request is read, e.g. to send the MySQL greeting and check
    /// the login. An error closes the connection.
    fn on_accept<'a>(&'a self, conn: &'a mut Connection<Self::ServerCodec>) -> BoxFuture<'a, Result<(), Error>> {
        let _ = conn;
        Box::pin(std::future::ready(Ok(())))
    }

    /// Server: fills what the protocol sets by itself before a reply is
    /// encoded. `seq` is the request's index on its connection.
    fn prepare_reply(&self, req: &Self::Request, resp: &mut Self::Response, seq: u64) {
        let _ = (req, resp, seq);
    }

    /// Server: whether the connection stays open after this reply, and
    /// how long it may then stay idle.
    fn keep_alive_after_reply(&self, req: &Self::Request, resp: &Self::Response, seq: u64) -> ReplyKeepAlive {
        let _ = (req, resp, seq);
        ReplyKeepAlive::Keep
    }

    /// Server: bytes to send while a request is still coming in (HTTP's
    /// `100 Continue`). Called after each read; the codec knows what it
    /// has seen.
    fn server_interim(&self, codec: &mut Self::ServerCodec, out: &mut bytes::BytesMut) {
        let _ = (codec, out);
    }

    /// Server: the reply to a request the codec rejected (then the
    /// connection closes); `None` closes without replying. The codec that
    /// failed is passed along: it may know more than the error (which HTTP
    /// status fits, say).
    fn error_reply(&self, codec: &mut Self::ServerCodec, error: &Error) -> Option<Self::Response> {
        let _ = (codec, error);
        None
    }

    /// Server: the protocol's default parameters (Workflow's Redis server
    /// keeps connections 300 s, MySQL 8 h…).
    fn server_params(&self) -> ServerParams {
        ServerParams::default()
    }
}
