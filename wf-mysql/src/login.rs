//! A MySQL connection's login: the handshake (TLS, authentication plugins,
//! auth switch) with what the URL and the task's options say.

use bytes::Bytes;
use mysql_common::auth::plugins::{AuthProc, ChallengeResponsePlugin, Context};
use mysql_common::constants::CapabilityFlags;
use mysql_common::packets::{AuthPlugin, HandshakeResponse, SslRequest};
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// Hashes the short names (user, host, database) and a few flags, but
/// only the password's length: a pool key is hashed twice per task, and
/// logins of many users on one target must still spread over the map.
/// Equal logins hash alike; equality decides.
impl std::hash::Hash for MySqlLogin {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (&self.user, &self.host, &self.db, self.password.len()).hash(h);
        (self.collation, self.tls, self.unix).hash(h);
    }
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

/// Splits `n` bytes off the front of `p`.
pub(crate) fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = p.split_at_checked(n)?;
    *p = rest;
    Some(head)
}

/// A NUL-terminated string off the front of `p` (the NUL dropped).
pub(crate) fn nul_str<'a>(p: &mut &'a [u8]) -> Option<&'a [u8]> {
    let i = p.iter().position(|&b| b == 0)?;
    let s = &p[..i];
    *p = &p[i + 1..];
    Some(s)
}

/// What the client needs of the server's greeting (protocol 10).
#[derive(Debug)]
pub(crate) struct Greeting {
    pub(crate) caps: CapabilityFlags,
    /// The scramble: both parts, at least 20 bytes (zero-padded, as
    /// mysql_common does), at most what the packet holds.
    pub(crate) nonce: Vec<u8>,
    /// The authentication plugin's name, if the server named one.
    pub(crate) plugin: Option<Vec<u8>>,
    /// The server's version, for the login packet (5.7.0 if unreadable).
    pub(crate) version: (u16, u16, u16),
}

/// `major.minor.patch` at the start of a server version (`8.0.36`,
/// `5.5.5-10.11.6-MariaDB`).
fn parse_version(v: &[u8]) -> Option<(u16, u16, u16)> {
    let mut parts = v.splitn(3, |&b| b == b'.').map(|part| {
        let digits = part.iter().take_while(|b| b.is_ascii_digit()).count();
        std::str::from_utf8(&part[..digits]).ok()?.parse::<u16>().ok()
    });
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Reads the server's greeting with bounds: every field within the
/// packet, the second part of the scramble as long as the server says
/// (at least 13 bytes, the protocol's rule) if the packet holds it, the
/// plugin name up to its NUL or the packet's end. mysql_common's parser
/// is not used: it computes the scramble's length in `i8` arithmetic
/// that overflows on a hostile length byte.
pub(crate) fn parse_greeting(mut p: &[u8]) -> Option<Greeting> {
    let p = &mut p;
    if take(p, 1)? != [10] {
        return None;
    }
    let version = parse_version(nul_str(p)?).unwrap_or((5, 7, 0));
    take(p, 4)?; // connection id
    let mut nonce = take(p, 8)?.to_vec();
    take(p, 1)?; // filler
    let low = take(p, 2)?;
    let mut bits = u32::from(u16::from_le_bytes([low[0], low[1]]));
    let mut plugin = None;
    // Servers older than 4.1 end here; CLIENT_PROTOCOL_41 is then unset
    // and the login refused.
    if !p.is_empty() {
        // Collation, status, upper capabilities, scramble length, reserved.
        let rest = take(p, 1 + 2 + 2 + 1 + 10)?;
        bits |= u32::from(u16::from_le_bytes([rest[3], rest[4]])) << 16;
        let caps = CapabilityFlags::from_bits_truncate(bits);
        if caps.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION) {
            let n = usize::from(rest[5]).saturating_sub(8).max(13);
            let part = take(p, n)?;
            nonce.extend_from_slice(part.strip_suffix(&[0]).unwrap_or(part));
        }
        if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) {
            // Some servers leave out the NUL.
            let name = p.iter().position(|&b| b == 0).map_or(&p[..], |i| &p[..i]);
            plugin = Some(name.to_vec());
        }
    }
    if nonce.len() < 20 {
        nonce.resize(20, 0);
    }
    Some(Greeting { caps: CapabilityFlags::from_bits_truncate(bits), nonce, plugin, version })
}

/// An auth switch request (`0xfe`, the plugin's name, NUL, its data):
/// the plugin and the new scramble (its trailing NUL dropped).
pub(crate) fn parse_auth_switch(p: &[u8]) -> Option<(AuthPlugin<'static>, Vec<u8>)> {
    let mut rest = p.strip_prefix(&[0xfe])?;
    let name = nul_str(&mut rest)?;
    let data = rest.strip_suffix(&[0]).unwrap_or(rest);
    Some((AuthPlugin::from_bytes(name).into_owned(), data.to_vec()))
}

/// The client's side of the authentication exchange, packet by packet.
pub(crate) struct ClientAuth<'a> {
    password: &'a [u8],
    tls: bool,
    unix: bool,
    plugin: AuthPlugin<'static>,
    proc: AuthProc,
    nonce: Vec<u8>,
}

/// What to do after a packet of the exchange.
#[derive(Debug)]
pub(crate) enum Next {
    /// Logged in.
    Done,
    /// Send this packet and read the next.
    Send(Vec<u8>),
    /// Read the next packet.
    Read,
}

impl<'a> ClientAuth<'a> {
    /// Starts with the greeting's plugin and scramble.
    pub(crate) fn new(
        password: &'a [u8],
        tls: bool,
        unix: bool,
        plugin: AuthPlugin<'static>,
        nonce: Vec<u8>,
    ) -> Result<ClientAuth<'a>, Error> {
        let proc = init_plugin(&plugin, tls || unix)?;
        Ok(ClientAuth { password, tls, unix, plugin, proc, nonce })
    }

    fn run(&mut self, challenge: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let auth = Auth { password: self.password, tls: self.tls, unix: self.unix, scramble: &self.nonce };
        let r = self.proc.run(&auth, challenge).map_err(plugin_error)?;
        Ok(r.data().map(<[u8]>::to_vec))
    }

    /// The login packet's auth data.
    pub(crate) fn first(&mut self) -> Result<Vec<u8>, Error> {
        let nonce = self.nonce.clone();
        Ok(self.run(&nonce)?.unwrap_or_default())
    }

    /// Handles a packet the server sent after the login packet (each
    /// bounded by the codec's handshake limit).
    pub(crate) fn on_packet(&mut self, packet: &[u8]) -> Result<Next, Error> {
        match packet.first() {
            Some(0x00) => Ok(Next::Done),
            Some(0xff) => Err(handshake_error(packet)),
            Some(0xfe) => {
                // Auth switch: another plugin, another scramble.
                let (plugin, nonce) = parse_auth_switch(packet).ok_or_else(bad)?;
                self.proc = init_plugin(&plugin, self.tls || self.unix)?;
                (self.plugin, self.nonce) = (plugin, nonce);
                Ok(Next::Send(self.first()?))
            }
            Some(0x01) => Ok(self.run(&packet[1..])?.map_or(Next::Read, Next::Send)),
            _ => Err(bad()),
        }
    }
}

/// The plugin's exchange. `mysql_clear_password` sends the password
/// itself: only over TLS or a Unix socket (as libmysqlclient refuses it
/// unless enabled), so a hostile server cannot ask for it in clear.
fn init_plugin(plugin: &AuthPlugin<'_>, secure: bool) -> Result<AuthProc, Error> {
    if *plugin == AuthPlugin::MysqlClearPassword && !secure {
        return Err(Error::task(crate::code::ACCESS_DENIED));
    }
    AuthProc::init(plugin).map_err(plugin_error)
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
    let hs = parse_greeting(&greeting).ok_or_else(bad)?;
    let server_caps = hs.caps;
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
    let plugin = hs.plugin.as_deref().map_or(AuthPlugin::MysqlNativePassword, AuthPlugin::from_bytes).into_owned();
    let mut auth = ClientAuth::new(t.password.as_bytes(), secure, t.unix, plugin.clone(), hs.nonce)?;
    let first = auth.first()?;
    let mut p = Vec::new();
    HandshakeResponse::new(
        Some(first),
        hs.version,
        Some(t.user.as_bytes()),
        t.db.as_deref().map(str::as_bytes),
        Some(plugin),
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
        match auth.on_packet(&packet)? {
            Next::Done => break,
            Next::Send(data) => conn.send(&MySQLRequest::handshake(data)).await?,
            Next::Read => {}
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
    fn logins_hash_alike_when_equal_and_differ_by_any_part() {
        use std::hash::{BuildHasher, RandomState};
        let login = |url: &str| MySqlLogin::from_uri(&Uri::parse(url).unwrap()).unwrap();
        let h = RandomState::new();
        let a = login("mysql://u:pw@h/db?character_set=gbk");
        assert_eq!(a, login("mysql://u:pw@h/db?character_set=gbk"));
        assert_eq!(h.hash_one(&a), h.hash_one(login("mysql://u:pw@h/db?character_set=gbk")));
        // Same lengths, another password: same hash, not the same login.
        assert_ne!(a, login("mysql://u:px@h/db?character_set=gbk"));
        assert_ne!(a, login("mysql://v:pw@h/db?character_set=gbk"));
        assert_ne!(a, login("mysql://u:pw@h/db"));
        // Users of one length on one target do not share a hash.
        let users: std::collections::HashSet<u64> =
            (0..100).map(|i| h.hash_one(login(&format!("mysql://app_{i:04}:pw@h/db")))).collect();
        assert_eq!(users.len(), 100);
    }

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

    /// MariaDB 10.11's greeting, as captured.
    const MARIADB: &[u8] = b"\x0a5.5.5-10.11.6-MariaDB\0\x2a\0\0\0abcdefgh\0\xfe\xf7\x2d\x02\0\xff\x81\x15\0\0\0\0\0\0\x1d\0\0\0ijklmnopqrst\0mysql_native_password\0";

    #[test]
    fn greetings_read_with_bounds() {
        let g = parse_greeting(MARIADB).unwrap();
        assert_eq!(g.nonce, b"abcdefghijklmnopqrst");
        assert_eq!(g.plugin.as_deref(), Some(&b"mysql_native_password"[..]));
        assert_eq!(g.version, (5, 5, 5));
        assert!(g.caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_PLUGIN_AUTH));
        // Every cut of it is refused or read, never a panic.
        for n in 0..MARIADB.len() {
            let _ = parse_greeting(&MARIADB[..n]);
        }
        // A scramble length of 0x80 (mysql_common: i8 overflow) or 0xff:
        // the packet does not hold that much.
        for len in [0x80, 0xff] {
            let mut p = MARIADB.to_vec();
            p[43] = len;
            assert!(parse_greeting(&p).is_none(), "{len:#x}");
        }
        // A plugin name without its NUL runs to the packet's end.
        let g = parse_greeting(&MARIADB[..MARIADB.len() - 1]).unwrap();
        assert_eq!(g.plugin.as_deref(), Some(&b"mysql_native_password"[..]));
    }

    #[test]
    fn auth_switches_read_with_bounds() {
        let (plugin, nonce) = parse_auth_switch(b"\xfecaching_sha2_password\0abc\0").unwrap();
        assert_eq!((plugin, nonce), (AuthPlugin::CachingSha2Password, b"abc".to_vec()));
        assert!(parse_auth_switch(b"\xfeno-nul").is_none());
        assert!(parse_auth_switch(b"\xfe").is_none());
    }

    #[test]
    fn clear_text_passwords_only_over_a_secure_transport() {
        let switch = b"\xfemysql_clear_password\0";
        let mut auth = ClientAuth::new(b"pw", false, false, AuthPlugin::MysqlNativePassword, vec![1; 20]).unwrap();
        assert_eq!(auth.on_packet(switch).unwrap_err().code(), crate::code::ACCESS_DENIED);
        let mut auth = ClientAuth::new(b"pw", true, false, AuthPlugin::MysqlNativePassword, vec![1; 20]).unwrap();
        assert!(matches!(auth.on_packet(switch).unwrap(), Next::Send(p) if p == b"pw\0"));
    }
}
