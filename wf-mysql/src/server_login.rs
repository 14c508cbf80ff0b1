//! The server side of the MySQL handshake: the greeting, and the login
//! check a [`MySQLServer`](crate::MySQLServer) makes.

use std::collections::HashMap;
use std::sync::Arc;

use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::constants::CapabilityFlags;
use wf_core::Error;
use wf_core::net::Connection;

use crate::codec::{RawPacket, ServerCodec, bad, err_packet, refusal_for};
use crate::lenenc::lenenc_at;
use crate::login::{nul_str, take};
use crate::message::{Command, ServerError};

/// How a [`MySQLServer`](crate::MySQLServer) checks logins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerAuth {
    /// `mysql_native_password` (MySQL 5.x, MariaDB).
    NativePassword,
    /// `caching_sha2_password` (MySQL 8): the fast path (a SHA-256
    /// scramble), or with `full` the full authentication a server asks for
    /// when the password is not cached (over TLS or a Unix socket the
    /// client then sends the password itself).
    CachingSha2 {
        /// Ask for full authentication instead of accepting the scramble.
        full: bool,
    },
}

/// Users and how they log in.
#[derive(Debug)]
pub(crate) struct Login {
    pub(crate) users: HashMap<String, String>,
    pub(crate) auth: ServerAuth,
}

fn nonce() -> [u8; 20] {
    let mut n = [0u8; 20];
    if getrandom::fill(&mut n).is_err() {
        // No entropy source: a time-based nonce still differs per login.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        n[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
    }
    // The scramble is NUL-terminated on the wire: no zero bytes inside.
    for b in &mut n {
        *b = (*b % 94) + 33;
    }
    n
}

/// What the server offers.
fn server_caps() -> mysql_common::constants::CapabilityFlags {
    use mysql_common::constants::CapabilityFlags as C;
    C::CLIENT_PROTOCOL_41
        | C::CLIENT_SECURE_CONNECTION
        | C::CLIENT_PLUGIN_AUTH
        | C::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | C::CLIENT_LONG_PASSWORD
        | C::CLIENT_LONG_FLAG
        | C::CLIENT_TRANSACTIONS
        | C::CLIENT_MULTI_STATEMENTS
        | C::CLIENT_MULTI_RESULTS
        | C::CLIENT_PS_MULTI_RESULTS
        | C::CLIENT_CONNECT_WITH_DB
}

fn greeting(nonce: &[u8; 20], plugin: &[u8], id: u32) -> Vec<u8> {
    let bits = server_caps().bits();
    let mut p = vec![10];
    p.extend_from_slice(b"5.7.99-wf\0");
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(&nonce[..8]);
    p.push(0);
    p.extend_from_slice(&(bits as u16).to_le_bytes());
    p.push(45); // utf8mb4_general_ci
    p.extend_from_slice(&2u16.to_le_bytes()); // autocommit
    p.extend_from_slice(&((bits >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(&nonce[8..]);
    p.push(0);
    p.extend_from_slice(plugin);
    p.push(0);
    p
}

fn ok_packet() -> Vec<u8> {
    vec![0, 0, 0, 2, 0, 0, 0]
}

fn denied(user: &str) -> Vec<u8> {
    err_packet(&ServerError { code: 1045, state: "28000".into(), message: format!("Access denied for user '{user}'") })
}

/// What the server reads of a client's login packet (the handshake
/// response), all borrowed from the packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LoginPacket<'a> {
    pub(crate) user: &'a [u8],
    pub(crate) auth_data: &'a [u8],
    pub(crate) db: Option<&'a [u8]>,
    pub(crate) plugin: Option<&'a [u8]>,
}

/// Reads a login packet with bounds: the fixed 32 bytes, then the user,
/// the auth data (its declared length checked against the packet), the
/// database and the plugin's name, as the capabilities both sides have
/// say (clients set flags the greeting did not offer, such as connection
/// attributes, without always sending what they would add; those are
/// ignored). An SSL request (32 bytes) or a pre-4.1 login is refused.
pub(crate) fn parse_login(mut p: &[u8]) -> Option<LoginPacket<'_>> {
    let p = &mut p;
    let head = take(p, 32)?;
    let bits = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) & server_caps().bits();
    let caps = CapabilityFlags::from_bits_truncate(bits);
    if !caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
        return None;
    }
    let user = nul_str(p)?;
    let auth_data = if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        let (n, start) = lenenc_at(p, 0)?;
        let data = p.get(start..start.checked_add(n)?)?;
        *p = &p[start + n..];
        data
    } else if caps.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION) {
        let n = usize::from(*p.first()?);
        let data = p.get(1..1 + n)?;
        *p = &p[1 + n..];
        data
    } else {
        nul_str(p)?
    };
    let db = match caps.contains(CapabilityFlags::CLIENT_CONNECT_WITH_DB) && !p.is_empty() {
        true => Some(nul_str(p)?),
        false => None,
    };
    let plugin =
        (caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !p.is_empty()).then(|| nul_str(&mut *p).unwrap_or(p));
    Some(LoginPacket { user, auth_data, db, plugin })
}

/// `ER_HANDSHAKE_ERROR`: a login packet that does not read.
fn bad_handshake() -> Vec<u8> {
    err_packet(&ServerError { code: 1043, state: "08S01".into(), message: "Bad handshake".into() })
}

/// The client's next packet of the login exchange. A packet over the
/// handshake limit or out of sequence is answered with MySQL's error
/// (`ER_NET_PACKET_TOO_LARGE`, `ER_NET_PACKETS_OUT_OF_ORDER`) before the
/// connection closes.
async fn read(conn: &mut Connection<ServerCodec>) -> Result<bytes::Bytes, Error> {
    match conn.receive().await {
        Ok(req) => match req.command {
            Command::Handshake(p) => Ok(p),
            _ => Err(bad()),
        },
        Err(e) => {
            if matches!(e.code(), libc::EMSGSIZE | libc::EBADMSG) && e.state() == wf_core::State::SysError {
                let refusal = conn.codec_mut().take_refusal().unwrap_or_else(|| refusal_for(e.code()));
                let _ = conn.send(RawPacket(err_packet(&refusal))).await;
            }
            Err(e)
        }
    }
}

/// The server side of the handshake: greeting, login check, OK.
pub(crate) async fn accept(conn: &mut Connection<ServerCodec>, login: Option<Arc<Login>>) -> Result<(), Error> {
    static IDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let id = IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nonce = nonce();
    let plugin: &[u8] = match login.as_deref().map(|l| &l.auth) {
        Some(ServerAuth::CachingSha2 { .. }) => b"caching_sha2_password",
        _ => b"mysql_native_password",
    };
    conn.send(RawPacket(greeting(&nonce, plugin, id))).await?;
    let p = read(conn).await?;
    let Some(resp) = parse_login(&p) else {
        let _ = conn.send(RawPacket(bad_handshake())).await;
        return Err(bad());
    };
    let user = String::from_utf8_lossy(resp.user).into_owned();
    let Some(login) = login else {
        // No users configured: everyone gets in (Workflow's test server).
        conn.send(RawPacket(ok_packet())).await?;
        conn.codec_mut().commands();
        return Ok(());
    };
    let Some(password) = login.users.get(&user).cloned() else {
        conn.send(RawPacket(denied(&user))).await?;
        return Err(Error::sys(libc::EACCES));
    };
    let mut data = resp.auth_data.to_vec();
    if resp.plugin != Some(plugin) {
        // Ask the client to switch to our plugin, with the same nonce.
        let mut switch = vec![0xfe];
        switch.extend_from_slice(plugin);
        switch.push(0);
        switch.extend_from_slice(&nonce);
        switch.push(0);
        conn.send(RawPacket(switch)).await?;
        data = read(conn).await?.to_vec();
    }
    let ok = match login.auth {
        ServerAuth::NativePassword => {
            let expected = scramble_native(&nonce, password.as_bytes()).map(|s| s.to_vec()).unwrap_or_default();
            data == expected
        }
        ServerAuth::CachingSha2 { full } => {
            let expected = scramble_sha256(&nonce, password.as_bytes()).map(|s| s.to_vec()).unwrap_or_default();
            if data != expected {
                false
            } else if password.is_empty() {
                // An empty password has no scramble: straight to OK, as
                // MySQL does.
                true
            } else if full {
                // "Perform full authentication": the client sends the
                // password in clear over a secure transport.
                conn.send(RawPacket(vec![0x01, 0x04])).await?;
                let answer = read(conn).await?;
                let mut clear = password.as_bytes().to_vec();
                clear.push(0);
                answer[..] == clear[..]
            } else {
                conn.send(RawPacket(vec![0x01, 0x03])).await?; // fast auth success
                true
            }
        }
    };
    if !ok {
        conn.send(RawPacket(denied(&user))).await?;
        return Err(Error::sys(libc::EACCES));
    }
    conn.send(RawPacket(ok_packet())).await?;
    conn.codec_mut().commands();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wf's own login packet (mysql_common's serializer, as the client
    /// sends it): user `u`, 20 bytes of auth data, database `db`.
    fn login_packet() -> Vec<u8> {
        use mysql_common::packets::{AuthPlugin, HandshakeResponse};
        use mysql_common::proto::MySerialize;
        let mut p = Vec::new();
        HandshakeResponse::new(
            Some(vec![7; 20]),
            (8, 0, 36),
            Some(&b"u"[..]),
            Some(&b"db"[..]),
            Some(AuthPlugin::MysqlNativePassword),
            server_caps(),
            None,
            1 << 30,
        )
        .serialize(&mut p);
        p
    }

    #[test]
    fn login_packets_read_with_bounds() {
        let p = login_packet();
        let l = parse_login(&p).unwrap();
        assert_eq!(
            l,
            LoginPacket {
                user: b"u",
                auth_data: &[7; 20],
                db: Some(&b"db"[..]),
                plugin: Some(&b"mysql_native_password"[..])
            }
        );
        for n in 0..p.len() {
            let _ = parse_login(&p[..n]);
        }
        // Auth data declaring 2^63 bytes.
        let mut lying = p[..34].to_vec();
        lying.extend_from_slice(&[0xfe, 0, 0, 0, 0, 0, 0, 0, 0x80, 1, 2]);
        assert_eq!(&lying[32..34], b"u\0");
        assert!(parse_login(&lying).is_none());
        // An SSL request, a pre-4.1 login.
        assert!(parse_login(&p[..32]).is_none());
        let mut old = p.clone();
        old[1] &= !0x02;
        assert!(parse_login(&old).is_none());
    }
}
