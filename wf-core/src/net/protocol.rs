//! What both sides of a protocol share: its messages and its URL schemes.

use std::time::Duration;

/// A network protocol's messages and URL schemes: the half that clients
/// and servers share.
///
/// A protocol crate implements this, then the half (or both halves) it
/// needs: [`ClientProtocol`](super::ClientProtocol) to get client tasks
/// (connection pools, pipelining, retries, redirects, timeouts) and
/// [`ServerProtocol`](super::ServerProtocol) to get a
/// [`Server`](super::Server). A client-only protocol writes no server
/// codec, and the other way round.
///
/// The protocol *value* is configuration (a size limit, a proxy, TLS
/// settings): client connections are pooled per distinct value, so it is
/// `Eq + Hash` for clients, and a setting that changes the codecs can never
/// leak onto a connection made with another.
///
/// # A complete protocol, step by step
///
/// The TLV protocol of [`tlv`](super::tlv) is the reference; this is its
/// shape (see `plugin-proof/` for a third-party crate with a login
/// handshake, keep-alive rules and server error replies):
///
/// ```
/// use std::io;
/// use bytes::{Buf, BufMut, BytesMut};
/// use tokio_util::codec::{Decoder, Encoder};
/// use wf_core::net::{ClientProtocol, Protocol, ServerParams, ServerProtocol, Uri};
///
/// // 1. Messages: `Default` is the empty message a new task starts with.
/// #[derive(Clone, Debug, Default)]
/// pub struct Line(pub String);
///
/// // 2. A codec per side (here one serves both). Decoders report bad
/// //    input as an `io::Error` (`InvalidData` becomes `EBADMSG`), and stop
/// //    at a limit: never buffer what a hostile peer declares.
/// #[derive(Debug, Default)]
/// pub struct LineCodec;
///
/// impl Decoder for LineCodec {
///     type Item = Line;
///     type Error = io::Error;
///     fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Line>> {
///         match src.iter().position(|&b| b == b'\n') {
///             Some(n) => {
///                 let line = src.split_to(n + 1);
///                 let text = std::str::from_utf8(&line[..n]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
///                 Ok(Some(Line(text.to_owned())))
///             }
///             None if src.len() > 64 * 1024 => Err(io::Error::new(io::ErrorKind::InvalidData, "line too long")),
///             None => Ok(None),
///         }
///     }
/// }
///
/// impl Encoder<&Line> for LineCodec {
///     type Error = io::Error;
///     fn encode(&mut self, line: &Line, dst: &mut BytesMut) -> io::Result<()> {
///         dst.put_slice(line.0.as_bytes());
///         dst.put_u8(b'\n');
///         Ok(())
///     }
/// }
///
/// // 3. The protocol value: configuration, compared and hashed.
/// #[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
/// pub struct Echo;
///
/// impl Protocol for Echo {
///     type Request = Line;
///     type Response = Line;
///     fn schemes(&self) -> &'static [&'static str] {
///         &["echo"]
///     }
/// }
///
/// // 4. The client half: a codec, and what a fresh connection needs from
/// //    the URL (nothing here). Every other hook has a default.
/// impl ClientProtocol for Echo {
///     type ClientCodec = LineCodec;
///     type Handshake = ();
///     fn client_codec(&self) -> LineCodec {
///         LineCodec
///     }
///     fn handshake(&self, _uri: &Uri, _opts: &wf_core::net::ClientOptions) -> Result<(), wf_core::Error> {
///         Ok(())
///     }
/// }
///
/// // 5. The server half: a codec.
/// impl ServerProtocol for Echo {
///     type ServerCodec = LineCodec;
///     fn server_codec(&self, _params: &ServerParams) -> LineCodec {
///         LineCodec
///     }
/// }
///
/// // 6. Use it.
/// # wf_core::net::register_scheme_port("echo", 7);
/// let server = wf_core::net::Server::new(Echo, |t| {
///     let text = t.req().0.clone();
///     t.resp_mut().0 = text;
/// });
/// server.start_on("127.0.0.1", 0).unwrap();
/// let url = format!("echo://{}/", server.listen_addr().unwrap());
/// let mut task = wf_core::net::create_client_task(Echo, &url, 0, |t| {
///     assert_eq!(t.resp().0, "hello");
/// });
/// task.req_mut().0 = "hello".into();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let task = rt.block_on(async { task.await });
/// assert_eq!(task.state(), wf_core::State::Success);
/// server.stop();
/// ```
///
/// The same protocol goes over UDP, one message per datagram, when its
/// client half's [`transport`](super::ClientProtocol::transport) says
/// [`Transport::Datagram`](super::Transport::Datagram) and its server is
/// started with [`start_udp`](super::Server::start_udp).
///
/// What else a protocol may say is in the two halves' hook tables:
/// [`ClientProtocol`](super::ClientProtocol#hooks) and
/// [`ServerProtocol`](super::ServerProtocol#hooks).
pub trait Protocol: Clone + Send + Sync + 'static {
    /// A request.
    type Request: Default + Send + Sync + 'static;
    /// A response.
    type Response: Default + Send + Sync + 'static;

    /// URL schemes a client task of this protocol accepts; any other is
    /// `TASK_ERROR`/`URI_SCHEME_INVALID`.
    fn schemes(&self) -> &'static [&'static str];

    /// Schemes among [`schemes`](Protocol::schemes) that mean TLS
    /// (`https`, `rediss`…).
    fn tls_schemes(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Whether a connection stays open after a reply, on either side: what
/// [`ClientProtocol::keep_alive`](super::ClientProtocol::keep_alive) and
/// [`ServerProtocol::keep_alive_after_reply`](super::ServerProtocol::keep_alive_after_reply)
/// decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepAlive {
    /// Stay open, idle for as long as configured (the task's keep-alive on
    /// a client, the server's `keep_alive_timeout`).
    Keep,
    /// Stay open, idle for at most this long, and never longer than
    /// configured (HTTP `Keep-Alive: timeout=N`).
    KeepFor(Duration),
    /// Close once the reply is read or written.
    Close,
}

impl KeepAlive {
    /// How long the connection may stay idle, given what is configured
    /// (`None` or zero: close it).
    pub fn idle_limit(self, configured: Option<Duration>) -> Option<Duration> {
        let limit = match self {
            KeepAlive::Close => return None,
            KeepAlive::Keep => configured,
            KeepAlive::KeepFor(d) => Some(configured.map_or(d, |c| c.min(d))),
        };
        limit.filter(|d| !d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_limit_never_exceeds_configuration() {
        let s = Duration::from_secs;
        assert_eq!(KeepAlive::Keep.idle_limit(Some(s(60))), Some(s(60)));
        assert_eq!(KeepAlive::KeepFor(s(300)).idle_limit(Some(s(60))), Some(s(60)));
        assert_eq!(KeepAlive::KeepFor(s(5)).idle_limit(Some(s(60))), Some(s(5)));
        assert_eq!(KeepAlive::Close.idle_limit(Some(s(60))), None);
        assert_eq!(KeepAlive::Keep.idle_limit(Some(Duration::ZERO)), None);
    }
}
