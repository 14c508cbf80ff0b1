//! A MySQL connection's login: the handshake (TLS, authentication plugins,
//! auth switch) with what the URL and the task's options say.

use bytes::Bytes;
use mysql_common::auth::plugins::{AuthProc, ChallengeResponsePlugin, Context};
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse, SslRequest};
use mysql_common::proto::MySerialize;
use wf_core::Error;
use wf_core::net::{Connection, Uri};

use crate::codec::{ClientCodec, MAX_PACKET, bad};
use crate::message::MySQLRequest;

/// The TLS configuration for `mysqls://`, compared by identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TlsConfig(#[cfg(feature = "tls")] pub(crate) wf_core::net::tls::TlsClient);

/// What a MySQL connection's login needs from the URL and the task's
/// options: credentials, database, character sets, TLS (the
/// [`MySql`](crate::MySql) protocol's handshake). Pooled connections are
/// separated by it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MySqlLogin {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) db: Option<String>,
    /// The handshake's collation id.
    pub(crate) collation: u8,
    pub(crate) results_charset: Option<String>,
    pub(crate) tls: bool,
    /// The TLS configuration for `mysqls://`.
    pub(crate) tls_config: Option<TlsConfig>,
    /// The server's name, for TLS.
    pub(crate) host: String,
    /// Over a Unix socket.
    pub(crate) unix: bool,
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

impl MySqlLogin {
    /// Reads `mysql[s]://user:password@host[:port][/db][?character_set=…&character_set_results=…]`.
    /// An unknown character set is `TASK_ERROR` 4003.
    pub(crate) fn from_uri(uri: &Uri) -> Result<MySqlLogin, Error> {
        let db = uri.path().trim_start_matches('/');
        let mut t = MySqlLogin {
            user: uri.user().unwrap_or("").to_owned(),
            password: uri.password().unwrap_or("").to_owned(),
            db: (!db.is_empty()).then(|| percent_decode(db)),
            collation: 45,
            results_charset: None,
            tls: uri.scheme() == "mysqls",
            tls_config: None,
            host: uri.host_str().to_owned(),
            unix: uri.unix_path().is_some(),
        };
        for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "character_set" => {
                    t.collation = collation_of(v).ok_or(Error::task(crate::code::INVALID_CHARACTER_SET))?;
                }
                "character_set_results" => {
                    collation_of(v).ok_or(Error::task(crate::code::INVALID_CHARACTER_SET))?;
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
        1129 | 1130 => Error::task(crate::code::HOST_NOT_ALLOWED),
        1040 => Error::sys(libc::EAGAIN), // too many connections: worth a retry
        _ => Error::task(crate::code::ACCESS_DENIED),
    }
}

fn plugin_error(_: impl std::fmt::Debug) -> Error {
    Error::task(crate::code::ACCESS_DENIED)
}

async fn raw(conn: &mut Connection<ClientCodec>) -> Result<Bytes, Error> {
    conn.receive().await?.raw.ok_or_else(bad)
}

/// Runs the client side of the handshake on a fresh connection.
pub(crate) async fn handshake(conn: &mut Connection<ClientCodec>, t: &MySqlLogin) -> Result<(), Error> {
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
            return Err(Error::task(crate::code::SSL_NOT_SUPPORTED));
        }
        caps |= CapabilityFlags::CLIENT_SSL;
        let mut p = Vec::new();
        SslRequest::new(caps, MAX_PACKET as u32, t.collation).serialize(&mut p);
        conn.send(&MySQLRequest::handshake(p)).await?;
        #[cfg(feature = "tls")]
        {
            let client =
                t.tls_config.as_ref().map(|c| c.0.clone()).unwrap_or_else(wf_core::net::tls::TlsClient::verified);
            conn.upgrade_tls(&client, &t.host).await?;
            secure = true;
        }
        #[cfg(not(feature = "tls"))]
        return Err(Error::task(crate::code::SSL_NOT_SUPPORTED));
    }
    let unix = t.unix;
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
            return Err(Error::task(crate::code::INVALID_CHARACTER_SET));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_target() {
        let t = MySqlLogin::from_uri(
            &Uri::parse("mysql://u:p%40ss@h/db1?character_set=gbk&character_set_results=latin1").unwrap(),
        )
        .unwrap();
        assert_eq!((t.user.as_str(), t.password.as_str(), t.db.as_deref()), ("u", "p@ss", Some("db1")));
        assert_eq!((t.collation, t.results_charset.as_deref(), t.tls), (28, Some("latin1"), false));
        let e = MySqlLogin::from_uri(&Uri::parse("mysql://u@h/?character_set=klingon").unwrap()).unwrap_err();
        assert_eq!(e.code(), crate::code::INVALID_CHARACTER_SET);
        assert!(MySqlLogin::from_uri(&Uri::parse("mysqls://u@h").unwrap()).unwrap().tls);
        assert_eq!(collation_of("utf8mb4_unicode_ci"), Some(224));
    }
}
