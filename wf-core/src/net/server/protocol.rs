//! The server half of a protocol.

use std::future::Future;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::params::ServerParams;
use crate::error::Error;
use crate::net::conn::Connection;
use crate::net::protocol::{KeepAlive, Protocol};

/// The server half of a protocol: implement it to get a
/// [`Server`](super::Server).
///
/// The server reads requests with the codec, runs the `process` function
/// of each in a series, and writes the reply when the series ends
/// (Workflow's delayed reply), in order per connection.
///
/// Over UDP ([`Server::start_udp`](super::Server::start_udp)) every
/// datagram gets a fresh codec that decodes it alone and encodes its
/// reply; [`error_reply`](ServerProtocol::error_reply) answers a datagram
/// that is not a request, and the hooks about connections
/// (`on_accept`, keep-alive, `server_interim`, `head_complete`) are not
/// asked.
///
/// # Hooks
///
/// | hook | default | e.g. |
/// |---|---|---|
/// | [`server_params`](ServerProtocol::server_params): the protocol's default parameters | [`ServerParams::default`] | Redis keeps connections 300 s |
/// | [`on_accept`](ServerProtocol::on_accept): a greeting or login before the first request | nothing | the MySQL handshake |
/// | [`prepare_reply`](ServerProtocol::prepare_reply): fill automatic fields of a reply | nothing | HTTP `Content-Length`, `Date` |
/// | [`keep_alive_after_reply`](ServerProtocol::keep_alive_after_reply): whether the connection stays open | yes | HTTP/1.0, `Connection: close` |
/// | [`last_reply`](ServerProtocol::last_reply): tell the client a reply is the connection's last (the server stops) | nothing | HTTP `Connection: close` |
/// | [`server_interim`](ServerProtocol::server_interim): bytes to send while a request is still arriving | nothing | HTTP `100 Continue` |
/// | [`error_reply`](ServerProtocol::error_reply): the answer to a request the codec rejected | close without one | HTTP 400/413/431, Redis `-ERR` |
/// | [`head_complete`](ServerProtocol::head_complete): whether the request arriving is past its head (header timeout, then the minimum receive rate) | yes (no head) | HTTP: the header block read; TLV: the 8-byte header |
/// | [`min_reply_len`](ServerProtocol::min_reply_len): at least how many bytes a reply encodes to, told without encoding it (over UDP, a reply too big for a datagram is refused unencoded) | 0 | TLV: 8 + the value's length |
pub trait ServerProtocol: Protocol {
    /// The server codec: decodes requests, encodes responses. It enforces
    /// `params.request_size_limit`.
    type ServerCodec: Decoder<Item = Self::Request, Error: Into<Error>>
        + for<'a> Encoder<&'a Self::Response, Error: Into<Error>>
        + Send
        + 'static;

    /// A server codec for a new connection.
    fn server_codec(&self, params: &ServerParams) -> Self::ServerCodec;

    /// The protocol's default parameters (Workflow's Redis server keeps
    /// connections 300 s, MySQL 8 h…).
    fn server_params(&self) -> ServerParams {
        ServerParams::default()
    }

    /// Runs on every accepted connection (after TLS) before its first
    /// request is read, e.g. to send the MySQL greeting and check the login.
    /// An error closes the connection.
    fn on_accept(&self, conn: &mut Connection<Self::ServerCodec>) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// Fills what the protocol sets by itself before a reply is encoded.
    /// `seq` is the request's index on its connection.
    fn prepare_reply(&self, req: &Self::Request, resp: &mut Self::Response, seq: u64) {
        let _ = (req, resp, seq);
    }

    /// Whether the connection stays open after this reply, and how long it
    /// may then stay idle (never longer than the server's
    /// `keep_alive_timeout`).
    fn keep_alive_after_reply(&self, req: &Self::Request, resp: &Self::Response, seq: u64) -> KeepAlive {
        let _ = (req, resp, seq);
        KeepAlive::Keep
    }

    /// A stopping server (a [`shutdown`](super::Server::shutdown), a
    /// graceful restart) closes the connection after this reply, which
    /// was going to keep it open: mark the reply so that the client does
    /// not send another request on it (HTTP: `Connection: close`). Called
    /// on the connection's last reply only, once no request is in flight
    /// or arriving behind it, just before it is encoded.
    fn last_reply(&self, resp: &mut Self::Response) {
        let _ = resp;
    }

    /// Bytes to send while a request is still coming in (HTTP's
    /// `100 Continue`). Called after each read; the codec knows what it
    /// has seen.
    fn server_interim(&self, codec: &mut Self::ServerCodec, out: &mut BytesMut) {
        let _ = (codec, out);
    }

    /// Whether the request arriving (begun, not yet decoded) is past its
    /// head: wf-core holds a request to
    /// [`header_timeout`](ServerParams::header_timeout) until it is, then
    /// its body to [`min_receive_rate`](ServerParams::min_receive_rate).
    ///
    /// The default, `true`, is for a protocol without a head: its requests
    /// are held to the rate rule from their first byte.
    fn head_complete(&self, codec: &Self::ServerCodec) -> bool {
        let _ = codec;
        true
    }

    /// The reply to a request the codec rejected (then the connection
    /// closes); `None` closes without replying. The codec that failed is
    /// passed along: it may know more than the error (which HTTP status
    /// fits, say).
    ///
    /// wf-core also asks it when it ends a request itself: with
    /// `SYS_ERROR`/`ETIMEDOUT` ([`TimeoutReason::Transmit`](crate::TimeoutReason::Transmit))
    /// when a request in progress runs out of time (header timeout,
    /// minimum receive rate, receive or peer response timeout; HTTP would
    /// answer 408), and with `SYS_ERROR`/`EMSGSIZE` when a request
    /// outgrows the backstop of
    /// [`request_size_limit`](ServerParams::request_size_limit). That
    /// reply gets one second to be written; then the connection closes.
    fn error_reply(&self, codec: &mut Self::ServerCodec, error: &Error) -> Option<Self::Response> {
        let _ = (codec, error);
        None
    }

    /// At least how many bytes `resp` encodes to, if the protocol can tell
    /// without encoding it (never more than it encodes to). Over UDP
    /// ([`Server::start_udp`](super::Server::start_udp)) a reply that this
    /// many bytes would take past
    /// [`MAX_DATAGRAM`](crate::net::MAX_DATAGRAM) fails with
    /// `SYS_ERROR`/`EMSGSIZE` before it is encoded, so that an oversized
    /// reply costs no copy. The default, 0, says nothing: the reply is
    /// encoded, then measured.
    fn min_reply_len(&self, resp: &Self::Response) -> usize {
        let _ = resp;
        0
    }
}
