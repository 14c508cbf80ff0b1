//! The client half of a protocol.

use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use tokio_util::codec::{Decoder, Encoder};

use super::options::ClientOptions;
use crate::error::{Error, State};
use crate::net::conn::Connection;
use crate::net::datagram::Transport;
use crate::net::protocol::{KeepAlive, Protocol};
use crate::net::uri::Uri;

/// How a request meets a connection: see [`ClientProtocol::mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A pooled connection of its own for the exchange, returned to the
    /// pool afterwards if the reply allows (HTTP, MySQL).
    Pooled,
    /// A connection shared with other requests in flight, replies matched
    /// in order (Redis). The exchange is one request and one reply.
    Pipelined,
    /// A fresh connection for this task alone, closed when the exchange
    /// ends (a Redis subscription).
    Dedicated,
}

/// What a task does after an exchange: see [`ClientProtocol::on_reply`].
#[derive(Debug)]
pub enum Next {
    /// The reply is the task's.
    Done,
    /// The reply means the task failed.
    Fail(Error),
    /// Try again (counts against the task's `retry_max`; once spent, the
    /// reply is the task's).
    Retry,
    /// Send the request to another URL (an HTTP redirect, a Redis `MOVED`):
    /// counts against the task's `redirect_max`.
    Redirect(Uri),
}

/// The client half of a protocol: implement it to get client tasks.
///
/// wf-core's client-task machine then does, for every task of the
/// protocol: route (name → candidate addresses, one picked per attempt) →
/// connection ([pooled, pipelined or dedicated](ClientProtocol::mode),
/// opened with [`on_connect`](ClientProtocol::on_connect)) →
/// [exchange](ClientProtocol::exchange) → decision
/// ([`on_reply`](ClientProtocol::on_reply): done, fail, retry, redirect) →
/// callback. Timeouts, retries, re-routing and pooling need no code here.
///
/// Async hooks are plain `async fn`s in an implementation.
///
/// # Hooks
///
/// | hook | default | e.g. |
/// |---|---|---|
/// | [`handshake`](ClientProtocol::handshake): what a fresh connection needs from the URL; connections are pooled per distinct value | — (required) | Redis credentials and database |
/// | [`on_connect`](ClientProtocol::on_connect): sub-requests on a fresh connection, unseen by the callback | nothing | Redis `AUTH`/`SELECT`, the MySQL handshake |
/// | [`default_keep_alive`](ClientProtocol::default_keep_alive): how long an idle connection is kept | close | 60 s for HTTP and Redis |
/// | [`keep_alive`](ClientProtocol::keep_alive): whether this reply lets the connection be reused | yes | HTTP `Connection: close` |
/// | [`transport`](ClientProtocol::transport): a byte stream or datagrams | stream | DNS: UDP, TCP when asked |
/// | [`reply_codec`](ClientProtocol::reply_codec): over datagrams, the codec that knows which reply it waits for | `client_codec()` | DNS: the query's ID and question |
/// | [`mode`](ClientProtocol::mode): pooled, pipelined or dedicated | pooled | Redis: pipelined, but `BLPOP`, `MULTI`… pooled |
/// | [`send_at_end_of_turn`](ClientProtocol::send_at_end_of_turn): whether a request on a reused pooled connection waits for the poller's other work of the moment | no | HTTP: yes |
/// | [`via`](ClientProtocol::via): where connections go | the URL's host | an HTTP proxy |
/// | [`prepare`](ClientProtocol::prepare): fill or check the request before each attempt | nothing | HTTP `Host`; refused Redis commands |
/// | [`exchange`](ClientProtocol::exchange): what one attempt sends and reads | one request, one reply | a MySQL prepared statement |
/// | [`on_reply`](ClientProtocol::on_reply): what the reply means | done | redirects, `MOVED`, access denied |
/// | [`is_retryable`](ClientProtocol::is_retryable): whether an error is worth another attempt | `SYS_ERROR` | not a lost MySQL session |
/// | [`is_idempotent`](ClientProtocol::is_idempotent): whether a request may be sent twice unasked | no | HTTP `GET` |
///
/// # Retry rules
///
/// What the machine sends again when a connection fails, and what it never
/// does. Every task's callback runs exactly once, whatever happened.
///
/// 1. **A task's `retry_max`** (default 0): an attempt that fails with an
///    error [`is_retryable`](ClientProtocol::is_retryable) accepts
///    (`SYS_ERROR` by default: `ECONNREFUSED`, `ECONNRESET`, `EPIPE`,
///    `EMSGSIZE`...) is made again from the start, routed afresh (another
///    address of the name if there is one), at once and with no back-off,
///    up to `retry_max` times. This re-sends the request even when it was
///    written in full, or part of its reply had come, so the server may
///    have run it: as in Workflow, a task asks for it by setting
///    `retry_max`; set it only for requests that are safe to repeat.
///    A timeout is a `SYS_ERROR` (`ETIMEDOUT`) and is retried like the
///    others, as in Workflow; the task's deadline is not (it ends the
///    task), nor is a reply over the response size limit (`EMSGSIZE`: the
///    same reply would be refused again), nor DNS and task errors.
/// 2. **A stale keep-alive connection** (without `retry_max`, not counted
///    against it): a pooled connection is checked before it is reused (one
///    the server closed, or with bytes nobody asked for, is dropped). If
///    the server closes a reused connection anyway (`ECONNRESET`, `EPIPE`,
///    `ENOTCONN`) before any byte of the reply, the request is sent again
///    on another connection only if none of it had been written, or if it
///    [`is_idempotent`](ClientProtocol::is_idempotent): a request the
///    server may have run is never re-sent unasked. Once a byte of the
///    reply came, never.
/// 3. **Pipelined requests** ([`Mode::Pipelined`]): when a shared
///    connection dies, every request in flight on it fails once, with the
///    connection's error (`ECONNRESET`...), and is retried only by rule 1.
///    Requests still queued in the client, none of whose bytes reached the
///    socket, fail with `ENOTCONN` and are sent once more on another
///    connection when the dead one had been reused (rule 2).
/// 4. **Dedicated connections** (a subscription) are never re-sent but by
///    rule 1.
pub trait ClientProtocol: Protocol + Eq + Hash {
    /// The client codec: encodes requests, decodes responses. Decode
    /// errors become the task's error (an `io::Error` maps to `SYS_ERROR`
    /// with its errno, e.g. `EBADMSG`, and is kept as the cause).
    type ClientCodec: Decoder<Item = Self::Response, Error: Into<Error>>
        + for<'a> Encoder<&'a Self::Request, Error: Into<Error>>
        + Send
        + 'static;

    /// What [`on_connect`](ClientProtocol::on_connect) needs from the URL
    /// and the task's options (`()` for nothing). Pooled connections are
    /// separated by it, as by the protocol value, the address and the TLS
    /// configuration: a connection made for one login is never handed to
    /// another.
    type Handshake: Clone + Eq + Hash + Send + Sync + 'static;

    /// A client codec for a new connection.
    fn client_codec(&self) -> Self::ClientCodec;

    /// The handshake a connection for `uri` needs; an error fails the task
    /// before anything is sent (a database name that is not a number, say).
    fn handshake(&self, uri: &Uri, opts: &ClientOptions) -> Result<Self::Handshake, Error>;

    /// Runs on every fresh connection before the task's request. Requests
    /// sent here are not the task's: its callback never sees them.
    fn on_connect(
        &self,
        conn: &mut Connection<Self::ClientCodec>,
        handshake: &Self::Handshake,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = (conn, handshake);
        async { Ok(()) }
    }

    /// How long an idle connection stays open for reuse when the task sets
    /// nothing (Workflow: zero, closing it, for a generic protocol; 60 s for
    /// HTTP and Redis).
    fn default_keep_alive(&self) -> Duration {
        Duration::ZERO
    }

    /// After a reply: whether the connection may be kept for reuse.
    fn keep_alive(&self, req: &Self::Request, resp: &Self::Response) -> KeepAlive {
        let _ = (req, resp);
        KeepAlive::Keep
    }

    /// Whether requests to `uri` (the task's URL, redirects followed) go
    /// over a byte stream (TCP, a Unix socket, TLS: the default) or as UDP
    /// datagrams. The protocol value is configuration, so a protocol may
    /// carry the choice (DNS: `tcp: bool`) as well as read the scheme.
    ///
    /// Over [`Transport::Datagram`] each attempt (the task's `retry_max`
    /// counts them as for streams) routes as usual, then opens a UDP
    /// socket of its own, connected to the address picked (no pool,
    /// no keep-alive), and:
    ///
    /// - encodes the request with a fresh [`client_codec`](ClientProtocol::client_codec)
    ///   into **one** datagram: over [`MAX_DATAGRAM`](super::super::MAX_DATAGRAM)
    ///   bytes the task fails with `SYS_ERROR`/`EMSGSIZE` and nothing is
    ///   sent;
    /// - waits for the reply: the first datagram within the task's watch
    ///   timeout (else the endpoint's response timeout), within its
    ///   receive timeout in all; then `SYS_ERROR`/`ETIMEDOUT`
    ///   ([`TimeoutReason::Transmit`](crate::TimeoutReason::Transmit)),
    ///   retried like any `SYS_ERROR`. An ICMP "port unreachable" fails
    ///   the attempt with `ECONNREFUSED`;
    /// - decodes each datagram received **alone**, with a fresh
    ///   [`reply_codec`](ClientProtocol::reply_codec) for the request: a
    ///   message that takes the whole datagram is the reply; `Ok(None)`
    ///   (the datagram is not a message of this exchange: a DNS reply with
    ///   another ID, say) drops it and the wait goes on, its deadline
    ///   unchanged. A datagram with bytes left after the message, one the
    ///   codec refuses, or one longer than the response size limit (at most
    ///   65,535 bytes are read) may be spoofed: it is remembered and the
    ///   wait goes on too; if no reply comes before the deadline, the task
    ///   fails with the last such error (`EBADMSG`, the codec's error with
    ///   `EBADMSG` for an `io::Error` of kind `InvalidData`, `EMSGSIZE`)
    ///   rather than a timeout.
    ///
    /// [`mode`](ClientProtocol::mode), [`exchange`](ClientProtocol::exchange),
    /// [`on_connect`](ClientProtocol::on_connect) and the keep-alive hooks
    /// are not asked over datagrams; [`handshake`](ClientProtocol::handshake),
    /// [`prepare`](ClientProtocol::prepare) and
    /// [`on_reply`](ClientProtocol::on_reply) are. A TLS scheme over
    /// datagrams fails the task with `SYS_ERROR`/`EPROTONOSUPPORT`, a Unix
    /// socket target with `EAFNOSUPPORT`, before anything is sent.
    fn transport(&self, uri: &Uri) -> Transport {
        let _ = uri;
        Transport::Stream
    }

    /// Over [`Transport::Datagram`]: the codec that decodes one datagram
    /// received for `req` (a fresh one per datagram, made after
    /// [`prepare`](ClientProtocol::prepare)). A codec that knows the
    /// request can tell its reply from other datagrams, and answer
    /// `Ok(None)` ("not ours", ignored) for those: a DNS reply with another
    /// ID or question. Default: [`client_codec`](ClientProtocol::client_codec).
    fn reply_codec(&self, req: &Self::Request) -> Self::ClientCodec {
        let _ = req;
        self.client_codec()
    }

    /// How `req` meets a connection. A [`Mode::Pipelined`] request never
    /// waits for a free connection: concurrent tasks to one target share a
    /// few connections (see [`pipeline_depth`](ClientProtocol::pipeline_depth)),
    /// and their encoded requests leave together in one write. The codec
    /// must then decode replies in the order it encoded their requests (a
    /// pipelined connection encodes request *n*+1 before it decodes reply
    /// *n*). A request that changes the connection's state for what follows
    /// (a transaction, a blocking pop) must not be pipelined.
    fn mode(&self, req: &Self::Request) -> Mode {
        let _ = req;
        Mode::Pooled
    }

    /// Whether a [`Mode::Pooled`] request on a reused connection waits for
    /// the end of the poller's turn before it is written: the poller first
    /// runs every task that is ready (reading their replies, running their
    /// callbacks, starting the next tasks of their series) and checks the
    /// sockets once more without blocking, then the requests waiting so go
    /// out one after another. Requests started by the replies of one turn
    /// then reach the server together, and a server that reads with
    /// `epoll` is woken once for them rather than once each: fewer
    /// wake-ups and system calls on both sides under load. A lone request
    /// pays one more pass of the scheduler (an `epoll_wait` that does not
    /// block). A fresh connection never waits (connecting took turns
    /// already). Default: no.
    fn send_at_end_of_turn(&self) -> bool {
        false
    }

    /// Pipelined requests in flight on one connection before another
    /// connection to the same target is opened (up to the endpoint's
    /// `max_connections`; beyond, the least busy one takes more).
    fn pipeline_depth(&self) -> usize {
        128
    }

    /// The URL whose host and scheme the connection goes to (and whose
    /// scheme decides TLS): `uri` itself, or a proxy's URL.
    fn via<'a>(&'a self, uri: &'a Uri) -> &'a Uri {
        uri
    }

    /// Fills or checks the request before each attempt, for the URL it
    /// goes to (it changes on a redirect) and the task's options. An error
    /// fails the task.
    fn prepare(&self, req: &mut Self::Request, uri: &Uri, opts: &ClientOptions) -> Result<(), Error> {
        let _ = (req, uri, opts);
        Ok(())
    }

    /// One attempt's exchange on a pooled or dedicated connection (a
    /// pipelined request is always one request and one reply). The
    /// connection's [`send`](Connection::send) and
    /// [`receive`](Connection::receive) keep the task's timeouts.
    fn exchange(
        &self,
        conn: &mut Connection<Self::ClientCodec>,
        req: &mut Self::Request,
    ) -> impl Future<Output = Result<Self::Response, Error>> + Send {
        async move {
            conn.send(&*req).await?;
            conn.receive().await
        }
    }

    /// What the reply means. `may_redirect` is false once the task's
    /// `redirect_max` is spent (a [`Next::Redirect`] then ends the task
    /// with this reply).
    fn on_reply(&self, req: &mut Self::Request, resp: &Self::Response, uri: &Uri, may_redirect: bool) -> Next {
        let _ = (req, resp, uri, may_redirect);
        Next::Done
    }

    /// Whether a failed attempt may be retried. Workflow retries
    /// `SYS_ERROR` only; wf also leaves out `EMSGSIZE`, a reply over the
    /// task's size limit, which the same request would get again.
    fn is_retryable(&self, error: &Error) -> bool {
        error.state() == State::SysError && error.code() != libc::EMSGSIZE
    }

    /// Whether sending `req` twice has the effect of sending it once, so
    /// that it may be sent again without the task asking (by its
    /// `retry_max`) when a reused keep-alive connection turns out to be
    /// closed after the request was written (see the retry rules above).
    /// Default `false`: such a request fails with the connection's error.
    /// HTTP says `true` for `GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT` and
    /// `DELETE` (RFC 9110 §9.2.2).
    fn is_idempotent(&self, req: &Self::Request) -> bool {
        let _ = req;
        false
    }
}
