//! The server's parameters.

use std::time::Duration;

/// Server parameters (Workflow's `WFServerParams`, with wf's limits
/// against hostile clients). A timeout of `None` waits forever; a limit of
/// `None` has none.
///
/// | field | default | anchor |
/// |---|---|---|
/// | [`max_connections`](ServerParams::max_connections) | 2000 | Workflow 2000 |
/// | [`peer_response_timeout`](ServerParams::peer_response_timeout) | 10 s | Workflow 10 s |
/// | [`receive_timeout`](ServerParams::receive_timeout) | none | Workflow none |
/// | [`keep_alive_timeout`](ServerParams::keep_alive_timeout) | 60 s | Workflow 60 s |
/// | [`request_size_limit`](ServerParams::request_size_limit) | 1 MiB | nginx `client_max_body_size` 1 MB |
/// | [`header_timeout`](ServerParams::header_timeout) | 15 s | hyper `header_read_timeout` 30 s, nginx `client_header_timeout` 60 s |
/// | [`min_receive_rate`](ServerParams::min_receive_rate) | 256 B/s after a 10 s grace | Kestrel `MinRequestBodyDataRate` 240 B/s, 5 s grace |
/// | [`ssl_accept_timeout`](ServerParams::ssl_accept_timeout) | 10 s | Workflow 10 s |
///
/// ```
/// use std::time::Duration;
/// let mut p = wf_core::net::ServerParams::default();
/// p.request_size_limit = Some(8 << 20);
/// p.header_timeout = Some(Duration::from_secs(5));
/// assert_eq!(p.min_receive_rate, Some(256));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerParams {
    /// Connections open at once (2000). When full, a new connection makes
    /// room by closing, first, the least recently used idle keep-alive
    /// connection, else the connection that started receiving its current
    /// request the longest ago (and has not completed it); a connection
    /// with requests in flight is never closed for it. With neither, the
    /// new connection is refused.
    ///
    /// Over UDP ([`Server::start_udp`](super::Server::start_udp)) it is
    /// the number of requests in flight at once (from a datagram to its
    /// reply sent); datagrams past it are dropped.
    pub max_connections: usize,
    /// Limit on each read or write making progress (10 s); also how long a
    /// new connection may take to send its first byte.
    pub peer_response_timeout: Option<Duration>,
    /// Limit on receiving a whole request, from its first byte (none: the
    /// header timeout and the minimum receive rate bound a slow request).
    pub receive_timeout: Option<Duration>,
    /// How long an idle keep-alive connection stays open (60 s). A reply
    /// may ask for less (`KeepAlive::KeepFor`), never for more: a client's
    /// `Keep-Alive: timeout=300` does not raise it.
    pub keep_alive_timeout: Option<Duration>,
    /// Largest request the codec accepts (1 MiB; nginx's
    /// `client_max_body_size` is 1 MB). The protocol decides what an
    /// oversized request gets (HTTP: 413, or 417 to `Expect:
    /// 100-continue`; Redis: `-ERR`; TLV: the connection closes), and
    /// nothing is buffered past it.
    ///
    /// wf-core holds every codec to it too, as a backstop for a codec that
    /// ignores it: once the bytes of one request that has not decoded
    /// exceed twice the limit plus 64 KiB (room for framing, e.g. HTTP
    /// headers and chunk sizes), the request is answered with the
    /// protocol's [`error_reply`](super::ServerProtocol::error_reply) for
    /// `SYS_ERROR`/`EMSGSIZE` (if it has one) and the connection closes.
    pub request_size_limit: Option<usize>,
    /// Limit from a request's first byte until its head is complete (15 s;
    /// hyper's `header_read_timeout` is 30 s, nginx's
    /// `client_header_timeout` 60 s). What the head is, the protocol says
    /// ([`ServerProtocol::head_complete`](super::ServerProtocol::head_complete));
    /// a protocol without one is held to the minimum receive rate from the
    /// request's first byte instead.
    ///
    /// A request ended by this or any other receiving limit (the minimum
    /// rate, `receive_timeout`, `peer_response_timeout`) gets the
    /// protocol's [`error_reply`](super::ServerProtocol::error_reply) for
    /// `SYS_ERROR`/`ETIMEDOUT` if it has one (HTTP: 408), then the
    /// connection closes.
    pub header_timeout: Option<Duration>,
    /// Minimum rate, in bytes per second, at which the rest of a request
    /// (its body, or a head-less request) must arrive once its head is
    /// complete (256 B/s; Kestrel's `MinRequestBodyDataRate` is 240 B/s):
    /// the connection closes when fewer than `rate × (elapsed − grace)`
    /// bytes have come, `elapsed` counted from the end of the head. A
    /// steady 1 KiB/s upload is never cut; a byte every few seconds is.
    pub min_receive_rate: Option<u32>,
    /// How long a body may lag behind [`min_receive_rate`](ServerParams::min_receive_rate)
    /// before the rate is enforced (10 s; Kestrel's grace is 5 s).
    pub min_receive_rate_grace: Duration,
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
            request_size_limit: Some(1 << 20),
            header_timeout: Some(Duration::from_secs(15)),
            min_receive_rate: Some(256),
            min_receive_rate_grace: Duration::from_secs(10),
            ssl_accept_timeout: ten,
        }
    }
}

impl ServerParams {
    /// Bytes of one request past which wf-core refuses it whatever its
    /// codec does: twice `request_size_limit` plus 64 KiB.
    pub(super) fn request_backstop(&self) -> Option<u64> {
        self.request_size_limit.map(|l| (l as u64).saturating_mul(2).saturating_add(64 << 10))
    }
}
