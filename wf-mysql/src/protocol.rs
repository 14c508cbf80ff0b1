//! The MySQL protocol on wf-core's plug-in API: the messages and the
//! server half (the client half is in `client`, the login in `login`).

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use wf_core::Error;
use wf_core::net::{Connection, Protocol, ServerParams, ServerProtocol};

use crate::codec::ServerCodec;
use crate::login::TlsConfig;
use crate::message::{MySQLRequest, MySQLResponse};

/// The MySQL protocol (MySQL 5.7+, 8, and MariaDB).
///
/// Most code never names it: [`create_mysql_task`](crate::create_mysql_task),
/// [`MySQLConnection`](crate::MySQLConnection) and
/// [`MySQLServer`](crate::MySQLServer) use it.
#[derive(Clone, Debug, Default)]
pub struct MySql {
    pub(crate) tls: Option<TlsConfig>,
    /// For a fixed connection: set once it has connected; a later
    /// reconnect fails (the transaction it held is gone).
    pub(crate) fixed: Option<Arc<AtomicBool>>,
    pub(crate) keep_alive: Option<Duration>,
    /// The server's process function does the login check (see
    /// `MySQLServer`).
    pub(crate) server_auth: Option<Arc<crate::server_login::Login>>,
}

impl MySql {
    /// The TLS configuration for `mysqls://` (default: certificates
    /// verified against the system roots).
    #[cfg(feature = "tls")]
    pub fn with_tls(tls: wf_core::net::tls::TlsClient) -> MySql {
        MySql { tls: Some(TlsConfig(tls)), ..MySql::default() }
    }
}

impl Protocol for MySql {
    type Request = MySQLRequest;
    type Response = MySQLResponse;

    fn schemes(&self) -> &'static [&'static str] {
        &["mysql", "mysqls"]
    }
}

impl ServerProtocol for MySql {
    type ServerCodec = ServerCodec;

    fn server_codec(&self, params: &ServerParams) -> ServerCodec {
        ServerCodec::new(params.request_size_limit)
    }

    fn on_accept(&self, conn: &mut Connection<ServerCodec>) -> impl Future<Output = Result<(), Error>> + Send {
        crate::server_login::accept(conn, self.server_auth.clone())
    }

    /// A refused command is answered as MySQL does: an error packet
    /// (`ER_NET_PACKET_TOO_LARGE` over `request_size_limit`,
    /// `ER_NET_PACKETS_OUT_OF_ORDER`, `ER_UNKNOWN_COM_ERROR`), then the
    /// connection closes.
    fn error_reply(&self, codec: &mut ServerCodec, error: &Error) -> Option<MySQLResponse> {
        let e = codec.take_refusal().unwrap_or_else(|| crate::codec::refusal_for(error.code()));
        let mut resp = MySQLResponse::default();
        resp.outcomes.push(crate::message::Outcome::Err(e));
        Some(resp)
    }

    fn server_params(&self) -> ServerParams {
        // Workflow's MySQL server keeps idle connections 8 hours.
        let mut params = ServerParams::default();
        params.keep_alive_timeout = Some(Duration::from_secs(8 * 3600));
        params
    }
}

/// Protocol values are equal when they are the same configuration: the
/// same TLS settings, fixed connection and server login (by identity).
impl PartialEq for MySql {
    fn eq(&self, other: &MySql) -> bool {
        let same = |a: &Option<Arc<AtomicBool>>, b: &Option<Arc<AtomicBool>>| match (a, b) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        let same_login = match (&self.server_auth, &other.server_auth) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        self.tls == other.tls && same(&self.fixed, &other.fixed) && self.keep_alive == other.keep_alive && same_login
    }
}

impl Eq for MySql {}

impl Hash for MySql {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.tls.hash(h);
        self.fixed.as_ref().map(Arc::as_ptr).hash(h);
        self.keep_alive.hash(h);
        self.server_auth.as_ref().map(Arc::as_ptr).hash(h);
    }
}
