//! The MySQL protocol on wf-core's plug-in API: the client handshake
//! (TLS, authentication plugins, auth switch) and the server's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use mysql_common::auth::plugins::{AuthProc, ChallengeResponsePlugin, Context};
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse, SslRequest};
use mysql_common::proto::MySerialize;
use wf_core::net::{BoxFuture, Connection, Protocol, ServerParams, Uri};
use wf_core::{Error, code};

use crate::codec::{ClientCodec, MAX_PACKET, ServerCodec, bad};
use crate::message::{MySQLRequest, MySQLResponse};

/// What a `mysql://` URL says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) db: Option<String>,
    /// The handshake's collation id.
    pub(crate) collation: u8,
    pub(crate) results_charset: Option<String>,
    pub(crate) tls: bool,
}

/// The default collation of a character set, or the id of a collation
/// named directly (`utf8mb4_unicode_ci`).
fn collation_of(name: &str) -> Option<u8> {
    let id = match name.to_ascii_lowercase().as_str() {
        "utf8mb4" => 45,
        "utf8" | "utf8mb3" => 33,
        "latin1" => 8,
        "gbk" => 28,
        "gb2312" => 24,
        "gb18030" => 248,
        "big5" => 1,
        "ascii" => 11,
        "binary" => 63,
        "ucs2" => 35,
        "utf16" => 54,
        "utf32" => 60,
        "cp1251" => 51,
        "latin2" => 9,
        "euckr" => 19,
        "sjis" => 13,
        "ujis" => 12,
        other => {
            let id = mysql_common::collations::CollationId::from(other) as u16;
            return u8::try_from(id).ok().filter(|&i| i != 0);
        }
    };
    Some(id)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    /// Reads `mysql[s]://user:password@host[:port][/db][?character_set=…&character_set_results=…]`.
    /// An unknown character set is `TASK_ERROR` 4003.
    pub(crate) fn from_uri(uri: &Uri) -> Result<Target, Error> {
        let db = uri.path().trim_start_matches('/');
        let mut t = Target {
            user: uri.user().unwrap_or("").to_owned(),
            password: uri.password().unwrap_or("").to_owned(),
            db: (!db.is_empty()).then(|| percent_decode(db)),
            collation: 45,
            results_charset: None,
            tls: uri.scheme() == "mysqls",
        };
        for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "character_set" => {
                    t.collation = collation_of(v).ok_or(Error::task(code::MYSQL_INVALID_CHARACTER_SET))?;
                }
                "character_set_results" => {
                    collation_of(v).ok_or(Error::task(code::MYSQL_INVALID_CHARACTER_SET))?;
                    t.results_charset = Some(v.to_owned());
                }
                _ => {}
            }
        }
        Ok(t)
    }
}

struct Auth<'a> {
    password: &'a [u8],
    tls: bool,
    unix: bool,
    scramble: &'a [u8],
}

impl Context for &Auth<'_> {
    fn pass(&self) -> &[u8] {
        self.password
    }
    fn is_ipc_transport(&self) -> bool {
        self.unix
    }
    fn is_tls_transport(&self) -> bool {
        self.tls
    }
    fn scramble(&self) -> &[u8] {
        self.scramble
    }
    fn server_key_pem(&self) -> Option<&[u8]> {
        None
    }
}

/// A server's refusal during the handshake as a task error.
fn handshake_error(p: &[u8]) -> Error {
    let e = crate::codec::parse_err(p);
    match e.code {
        1129 | 1130 => Error::task(code::MYSQL_HOST_NOT_ALLOWED),
        1040 => Error::sys(libc::EAGAIN), // too many connections: worth a retry
        _ => Error::task(code::MYSQL_ACCESS_DENIED),
    }
}

fn plugin_error(_: impl std::fmt::Debug) -> Error {
    Error::task(code::MYSQL_ACCESS_DENIED)
}

async fn raw(conn: &mut Connection<ClientCodec>) -> Result<Bytes, Error> {
    conn.receive().await?.raw.ok_or_else(bad)
}

/// Runs the client side of the handshake on a fresh connection.
async fn handshake(
    conn: &mut Connection<ClientCodec>,
    uri: &Uri,
    t: &Target,
    #[allow(unused_variables)] tls: Option<&TlsConfig>,
) -> Result<(), Error> {
    let greeting = raw(conn).await?;
    if greeting.first() == Some(&0xff) {
        return Err(handshake_error(&greeting));
    }
    let hs: HandshakePacket<'_> = ParseBuf(&greeting).parse(()).map_err(|_| bad())?;
    let server_caps = hs.capabilities();
    let wanted = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_MULTI_STATEMENTS
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB;
    let mut caps = wanted & server_caps;
    if !caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
        return Err(Error::sys(libc::EPROTONOSUPPORT));
    }
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut secure = false;
    if t.tls {
        if !server_caps.contains(CapabilityFlags::CLIENT_SSL) {
            return Err(Error::task(code::MYSQL_SSL_NOT_SUPPORTED));
        }
        caps |= CapabilityFlags::CLIENT_SSL;
        let mut p = Vec::new();
        SslRequest::new(caps, MAX_PACKET as u32, t.collation).serialize(&mut p);
        conn.send(&MySQLRequest::handshake(p)).await?;
        #[cfg(feature = "tls")]
        {
            let client = tls.map(|c| c.0.clone()).unwrap_or_else(wf_core::net::tls::TlsClient::verified);
            conn.upgrade_tls(&client, uri.host_str()).await?;
            secure = true;
        }
        #[cfg(not(feature = "tls"))]
        return Err(Error::task(code::MYSQL_SSL_NOT_SUPPORTED));
    }
    let unix = uri.unix_path().is_some();
    let mut nonce = hs.nonce();
    let mut plugin = hs.auth_plugin().unwrap_or(AuthPlugin::MysqlNativePassword).into_owned();
    let mut proc = AuthProc::init(&plugin).map_err(plugin_error)?;
    let auth = Auth { password: t.password.as_bytes(), tls: secure, unix, scramble: &nonce };
    let first = proc.run(&auth, &nonce).map_err(plugin_error)?;
    let version = hs.server_version_parsed().unwrap_or((5, 7, 0));
    let mut p = Vec::new();
    HandshakeResponse::new(
        Some(first.data().unwrap_or_default().to_vec()),
        version,
        Some(t.user.as_bytes()),
        t.db.as_deref().map(str::as_bytes),
        Some(plugin.clone()),
        caps,
        None,
        MAX_PACKET as u32,
    )
    .serialize(&mut p);
    // mysql_common always asks for utf8mb4 here: put the URL's collation
    // in its place (the byte after capabilities and max packet size).
    p[8] = t.collation;
    conn.send(&MySQLRequest::handshake(p)).await?;
    loop {
        let packet = raw(conn).await?;
        match packet.first() {
            Some(0x00) => break,
            Some(0xff) => return Err(handshake_error(&packet)),
            Some(0xfe) => {
                // Auth switch: another plugin, another scramble.
                let switch: AuthSwitchRequest<'_> = ParseBuf(&packet).parse(()).map_err(|_| bad())?;
                plugin = switch.auth_plugin().into_owned();
                nonce = switch.plugin_data().strip_suffix(&[0]).unwrap_or(switch.plugin_data()).to_vec();
                proc = AuthProc::init(&plugin).map_err(plugin_error)?;
                let auth = Auth { password: t.password.as_bytes(), tls: secure, unix, scramble: &nonce };
                let r = proc.run(&auth, &nonce).map_err(plugin_error)?;
                conn.send(&MySQLRequest::handshake(r.data().unwrap_or_default().to_vec())).await?;
            }
            Some(0x01) => {
                let auth = Auth { password: t.password.as_bytes(), tls: secure, unix, scramble: &nonce };
                let r = proc.run(&auth, &packet[1..]).map_err(plugin_error)?;
                if let Some(d) = r.data() {
                    conn.send(&MySQLRequest::handshake(d.to_vec())).await?;
                }
            }
            _ => return Err(bad()),
        }
    }
    conn.codec_mut().commands();
    if let Some(cs) = &t.results_charset {
        let mut req = MySQLRequest::default();
        req.set_query(format!("SET character_set_results = {cs}"));
        conn.send(&req).await?;
        if conn.receive().await?.is_error_packet() {
            return Err(Error::task(code::MYSQL_INVALID_CHARACTER_SET));
        }
    }
    Ok(())
}

/// TLS for `mysqls://` (the server's certificate verified by default).
#[derive(Clone, Debug)]
pub(crate) struct TlsConfig(#[cfg(feature = "tls")] pub(crate) wf_core::net::tls::TlsClient);

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
    pub(crate) server_auth: Option<Arc<crate::server::Login>>,
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
    type ClientCodec = ClientCodec;
    type ServerCodec = ServerCodec;

    fn schemes(&self) -> &'static [&'static str] {
        &["mysql", "mysqls"]
    }

    fn client_codec(&self) -> ClientCodec {
        ClientCodec::new()
    }

    fn server_codec(&self, _params: &ServerParams) -> ServerCodec {
        ServerCodec::new()
    }

    fn default_keep_alive(&self) -> Option<Duration> {
        Some(self.keep_alive.unwrap_or(Duration::from_secs(60)))
    }

    fn on_connect<'a>(
        &'a self,
        conn: &'a mut Connection<ClientCodec>,
        uri: &'a Uri,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let Some(fixed) = &self.fixed {
                // A fixed connection that connected before was lost: what
                // its transaction did is gone. Say so once.
                if fixed.swap(false, Ordering::AcqRel) {
                    return Err(Error::sys(libc::ECONNRESET));
                }
            }
            let t = Target::from_uri(uri)?;
            handshake(conn, uri, &t, self.tls.as_ref()).await?;
            if let Some(fixed) = &self.fixed {
                fixed.store(true, Ordering::Release);
            }
            Ok(())
        })
    }

    fn is_retryable(&self, error: &Error) -> bool {
        // Not a fixed connection (its session would be lost), and not a
        // request that is wrong in itself (a prepared statement's parameter
        // count).
        self.fixed.is_none() && error.state() == wf_core::State::SysError && error.code() != libc::EINVAL
    }

    fn pool_key(&self, uri: &Uri) -> String {
        let mut k = format!(
            "{}\0{}\0{}\0{}",
            uri.user().unwrap_or(""),
            uri.password().unwrap_or(""),
            uri.path(),
            uri.query().unwrap_or("")
        );
        if uri.scheme() == "mysqls" {
            k.push_str("\0tls");
            #[cfg(feature = "tls")]
            if let Some(t) = &self.tls {
                k.push_str(&format!("{}", t.0.id()));
            }
        }
        if let Some(f) = &self.fixed {
            k.push_str(&format!("\0fixed{:p}", Arc::as_ptr(f)));
        }
        k
    }

    fn on_accept<'a>(&'a self, conn: &'a mut Connection<ServerCodec>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crate::server::accept(conn, self.server_auth.clone()))
    }

    fn server_params(&self) -> ServerParams {
        // Workflow's MySQL server keeps idle connections 8 hours.
        let mut params = ServerParams::default();
        params.keep_alive_timeout = Some(Duration::from_secs(8 * 3600));
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_target() {
        let t = Target::from_uri(
            &Uri::parse("mysql://u:p%40ss@h/db1?character_set=gbk&character_set_results=latin1").unwrap(),
        )
        .unwrap();
        assert_eq!((t.user.as_str(), t.password.as_str(), t.db.as_deref()), ("u", "p@ss", Some("db1")));
        assert_eq!((t.collation, t.results_charset.as_deref(), t.tls), (28, Some("latin1"), false));
        let e = Target::from_uri(&Uri::parse("mysql://u@h/?character_set=klingon").unwrap()).unwrap_err();
        assert_eq!(e.code(), code::MYSQL_INVALID_CHARACTER_SET);
        assert!(Target::from_uri(&Uri::parse("mysqls://u@h").unwrap()).unwrap().tls);
        assert_eq!(collation_of("utf8mb4_unicode_ci"), Some(224));
    }
}
