//! Entry points for wf's fuzz targets (`fuzz/fuzz_targets/mysql_*.rs`).
//!
//! **Not API**: hidden from the docs, no stability promise; it exists so
//! the fuzzers reach parsers that only run inside a connection (the
//! login exchange) and codec states a request sets up (binary rows after
//! `COM_STMT_EXECUTE`).

use bytes::BytesMut;
use mysql_common::packets::AuthPlugin;
use tokio_util::codec::Encoder;

use crate::codec::{ClientCodec, ServerCodec};
use crate::message::{MySQLRequest, Reply};

/// The reply a client codec is told to expect.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// OK/ERR or text result sets (`COM_QUERY`).
    Text,
    /// Binary rows (`COM_STMT_EXECUTE`).
    Binary,
    /// A `COM_STMT_PREPARE` answer.
    Prepare,
}

/// A client codec past the login, decoding whole responses.
pub fn client_codec() -> ClientCodec {
    let mut c = ClientCodec::new();
    c.commands();
    c
}

/// A client codec still logging in: it hands out single packets.
pub fn handshake_client_codec() -> ClientCodec {
    ClientCodec::new()
}

/// Encodes a request (into a scratch buffer) so `codec` expects `reply`
/// next.
pub fn expect(codec: &mut ClientCodec, reply: Expect) {
    let req = match reply {
        Expect::Text => {
            let mut r = MySQLRequest::default();
            r.set_query("SELECT 1");
            r
        }
        Expect::Binary => MySQLRequest::packet(&b"\x17\x01\0\0\0\0\x01\0\0\0"[..], Reply::Binary),
        Expect::Prepare => MySQLRequest::packet(&b"\x16SELECT ?"[..], Reply::Prepare),
    };
    let _ = codec.encode(&req, &mut BytesMut::new());
}

/// A server codec refusing commands over `limit` bytes; `commands`: past
/// the login.
pub fn server_codec(limit: Option<usize>, commands: bool) -> ServerCodec {
    let mut c = ServerCodec::new(limit);
    if commands {
        c.commands();
    }
    c
}

/// Runs the client's side of a login against hostile packets: `greeting`
/// is the server's first packet, `then` the packets that follow the login
/// packet (auth switch, more data, OK/ERR). `true` if the login succeeds.
pub fn client_login(greeting: &[u8], then: &[&[u8]]) -> bool {
    let Some(g) = crate::login::parse_greeting(greeting) else { return false };
    let plugin = g.plugin.as_deref().map_or(AuthPlugin::MysqlNativePassword, AuthPlugin::from_bytes).into_owned();
    let Ok(mut auth) = crate::login::ClientAuth::new(b"secret", false, false, plugin, g.nonce) else { return false };
    if auth.first().is_err() {
        return false;
    }
    for p in then {
        match auth.on_packet(p) {
            Ok(crate::login::Next::Done) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Reads a client's login packet as a server does; `Some(user)` if it
/// reads.
pub fn server_login(packet: &[u8]) -> Option<Vec<u8>> {
    crate::server_login::parse_login(packet).map(|l| l.user.to_vec())
}

/// The packet a login-phase client codec handed out (empty otherwise).
pub fn raw_packet(resp: &crate::MySQLResponse) -> &[u8] {
    resp.raw.as_deref().unwrap_or_default()
}

/// The payload of a request a server codec decoded (a login packet, a
/// command's bytes after its command byte for queries).
pub fn request_packet(req: &MySQLRequest) -> &[u8] {
    match &req.command {
        crate::message::Command::Handshake(p) | crate::message::Command::Packet { payload: p, .. } => p,
        crate::message::Command::Query(q) => q,
        crate::message::Command::Unset => &[],
    }
}
