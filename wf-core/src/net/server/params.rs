//! The server's parameters.

use std::time::Duration;

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
