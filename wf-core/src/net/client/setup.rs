//! Connection setup: which TLS, which pool, connecting, TLS, and the
//! protocol's handshake.

use std::cell::RefCell;
use std::sync::Arc;

use tokio::net::{TcpStream, UnixStream};

use super::options::ClientOptions;
use super::pool::PoolKey;
use super::protocol::ClientProtocol;
use crate::error::{Error, TimeoutReason};
use crate::net::conn::{Connection, Limits};
use crate::net::datagram::Transport;
use crate::net::protocol::Protocol;
use crate::net::route::{Routed, Target};
use crate::net::stream::{NetStream, Plain};
use crate::net::uri::Uri;
use crate::runtime::EndpointParams;

/// A client connection's TLS configuration.
#[cfg(feature = "tls")]
pub(crate) type TlsConfig = crate::net::tls::TlsClient;

/// Without the `tls` feature there is no TLS configuration to have.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Debug)]
pub(crate) enum TlsConfig {}

#[cfg(feature = "tls")]
fn choose_tls(opts: &ClientOptions) -> Result<TlsConfig, Error> {
    Ok(opts.tls().cloned().unwrap_or_else(crate::net::tls::TlsClient::verified))
}

#[cfg(not(feature = "tls"))]
fn choose_tls(_opts: &ClientOptions) -> Result<TlsConfig, Error> {
    Err(Error::new(crate::State::SslError, 1))
}

#[cfg(feature = "tls")]
fn tls_id(t: &TlsConfig) -> usize {
    t.id()
}

#[cfg(not(feature = "tls"))]
fn tls_id(t: &TlsConfig) -> usize {
    match *t {}
}

#[cfg(feature = "tls")]
async fn secure(tls: &TlsConfig, host: &str, stream: Plain, endpoint: &EndpointParams) -> Result<NetStream, Error> {
    let s = crate::net::tls::connect(tls, host, stream, endpoint.ssl_connect_timeout).await?;
    Ok(NetStream::TlsClient(Box::new(s)))
}

#[cfg(not(feature = "tls"))]
async fn secure(tls: &TlsConfig, _host: &str, _stream: Plain, _endpoint: &EndpointParams) -> Result<NetStream, Error> {
    match *tls {}
}

/// Everything about a task's connections that does not depend on the
/// address: worked out once per attempt.
pub(crate) struct Setup<'a, P: ClientProtocol> {
    pub(crate) protocol: &'a P,
    /// Where connections go (the URL, or a proxy's).
    pub(crate) via: &'a Uri,
    pub(crate) handshake: P::Handshake,
    pub(crate) tls: Option<TlsConfig>,
    /// A stream or datagrams.
    pub(crate) transport: Transport,
}

/// `TASK_ERROR`/`URI_SCHEME_INVALID` unless `uri` is for `protocol`.
pub(crate) fn check_scheme<P: Protocol>(protocol: &P, uri: &Uri) -> Result<(), Error> {
    if protocol.schemes().contains(&uri.scheme()) { Ok(()) } else { Err(Error::task(crate::code::URI_SCHEME_INVALID)) }
}

impl<'a, P: ClientProtocol> Setup<'a, P> {
    pub(crate) fn new(protocol: &'a P, uri: &'a Uri, opts: &ClientOptions) -> Result<Setup<'a, P>, Error> {
        check_scheme(protocol, uri)?;
        let via = protocol.via(uri);
        let transport = protocol.transport(uri);
        if transport == Transport::Datagram && protocol.tls_schemes().contains(&via.scheme()) {
            crate::trace::debug!(url = uri.as_str(), "a TLS scheme over datagrams");
            return Err(Error::sys(libc::EPROTONOSUPPORT));
        }
        let tls = if protocol.tls_schemes().contains(&via.scheme()) { Some(choose_tls(opts)?) } else { None };
        let handshake = protocol.handshake(uri, opts)?;
        Ok(Setup { protocol, via, handshake, tls, transport })
    }

    /// The pool of connections to `target` made this way.
    pub(crate) fn key(&self, target: &Target) -> Arc<PoolKey> {
        // Tasks to one target ask for the same key over and over: the last
        // one made on this thread is kept and handed out again while it
        // matches (two allocations and two frees a task less).
        thread_local! {
            static LAST: RefCell<Option<Arc<PoolKey>>> = const { RefCell::new(None) };
        }
        let tls = self.tls.as_ref().map_or(0, tls_id);
        let same = |k: &&Arc<PoolKey>| k.is(target, tls, self.protocol, &self.handshake);
        if let Some(k) = LAST.with_borrow(|last| last.as_ref().filter(same).cloned()) {
            return k;
        }
        let key =
            Arc::new(PoolKey::new(target.clone(), tls, Box::new((self.protocol.clone(), self.handshake.clone()))));
        LAST.with_borrow_mut(|last| *last = Some(key.clone()));
        key
    }

    /// Connects to the routed target, adds TLS (for the route's server
    /// name, else the URL's host), and runs the protocol's `on_connect`;
    /// the connection then keeps `limits`.
    pub(crate) async fn open(
        &self,
        routed: &Routed,
        endpoint: &EndpointParams,
        limits: Limits,
    ) -> Result<Connection<P::ClientCodec>, Error> {
        let target = routed.target();
        let plain = connect_target(target, endpoint).await?;
        let stream = match &self.tls {
            Some(tls) => secure(tls, routed.server_name().unwrap_or(self.via.host_str()), plain, endpoint).await?,
            None => NetStream::Plain(plain),
        };
        let peer = match target {
            Target::Inet(a) => Some(*a),
            Target::Unix(_) => None,
        };
        let mut conn = Connection::new(stream, self.protocol.client_codec(), peer, endpoint.response_timeout);
        // The handshake's replies are held to the size limit too.
        conn.set_size_limit(limits.size);
        self.protocol.on_connect(&mut conn, &self.handshake).await?;
        conn.set_limits(limits);
        Ok(conn)
    }
}

async fn connect_target(target: &Target, endpoint: &EndpointParams) -> Result<Plain, Error> {
    let fut = async {
        match target {
            Target::Inet(addr) => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Plain::Tcp(s))
            }
            Target::Unix(path) => Ok(Plain::Unix(UnixStream::connect(path).await?)),
        }
    };
    match endpoint.connect_timeout {
        Some(t) => match tokio::time::timeout(t, fut).await {
            Ok(r) => r.map_err(|e: std::io::Error| Error::from(e)),
            Err(_) => Err(Error::timeout(TimeoutReason::Connect)),
        },
        None => fut.await.map_err(|e: std::io::Error| Error::from(e)),
    }
}
