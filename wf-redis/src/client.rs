//! The client half of Redis: login, pipelining, refused commands, and
//! what a reply means (`MOVED`/`ASK` redirects, access denied).

use std::future::Future;
use std::time::Duration;

use wf_core::Error;
use wf_core::net::{ClientOptions, ClientProtocol, Connection, KeepAlive, Mode, Next, Uri};

use crate::code;
use crate::codec::ClientCodec;
use crate::login::{RedisLogin, log_in};
use crate::message::{RedisRequest, RedisResponse};
use crate::protocol::Redis;
use crate::value::RedisValue;

/// Commands a task may not send: the connection's own setup (`AUTH`,
/// `SELECT`, `HELLO`, `READONLY` come from the URL; `READWRITE` would undo
/// the last on a shared connection), and those that would leave a
/// shared connection unusable (`SUBSCRIBE`: use the
/// [subscriber](crate::RedisSubscriber)).
const DISALLOWED: &[&str] = &[
    "AUTH",
    "SELECT",
    "RESET",
    "ASKING",
    "HELLO",
    "READONLY",
    "READWRITE",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "MONITOR",
    "SYNC",
    "PSYNC",
];

impl ClientProtocol for Redis {
    type ClientCodec = ClientCodec;
    type Handshake = RedisLogin;

    fn client_codec(&self) -> ClientCodec {
        ClientCodec::new(self.size_limit)
    }

    fn handshake(&self, uri: &Uri, _opts: &ClientOptions) -> Result<RedisLogin, Error> {
        RedisLogin::from_uri(uri)
    }

    fn on_connect(
        &self,
        conn: &mut Connection<ClientCodec>,
        login: &RedisLogin,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        log_in(conn, login)
    }

    fn default_keep_alive(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn keep_alive(&self, req: &RedisRequest, resp: &RedisResponse) -> KeepAlive {
        // redis-server (and wf's RedisServer) closes the connection after
        // a protocol error: don't send the next request on it.
        let protocol_error = resp
            .results()
            .iter()
            .any(|v| v.is_error() && v.as_bytes().is_some_and(|b| b.starts_with(b"ERR Protocol error")));
        if protocol_error || (req.exclusive && leaves_state(req)) { KeepAlive::Close } else { KeepAlive::Keep }
    }

    fn mode(&self, req: &RedisRequest) -> Mode {
        if req.asking || req.exclusive { Mode::Pooled } else { Mode::Pipelined }
    }

    fn prepare(&self, req: &mut RedisRequest, _uri: &Uri, _opts: &ClientOptions) -> Result<(), Error> {
        if req.is_empty() {
            return Err(Error::sys(libc::EINVAL));
        }
        for c in req.commands() {
            if DISALLOWED.iter().any(|d| c[0].eq_ignore_ascii_case(d.as_bytes())) {
                return Err(Error::task(code::COMMAND_DISALLOWED));
            }
        }
        Ok(())
    }

    fn on_reply(&self, req: &mut RedisRequest, resp: &RedisResponse, uri: &Uri, may_redirect: bool) -> Next {
        req.asking = false;
        if denied(resp) {
            return Next::Fail(Error::task(code::ACCESS_DENIED));
        }
        if req.len() == 1 && may_redirect {
            if let Some((ask, next)) = redirect(resp.result(), uri) {
                req.asking = ask;
                return Next::Redirect(next);
            }
        }
        Next::Done
    }
}

/// Whether the connection is left in a state the next task must not
/// inherit: inside `MULTI`, or watching keys, or closed by `QUIT`.
fn leaves_state(req: &RedisRequest) -> bool {
    let (mut multi, mut watching) = (false, false);
    for c in req.commands() {
        let is = |what: &str| c[0].eq_ignore_ascii_case(what.as_bytes());
        if is("MULTI") {
            multi = true;
        } else if is("EXEC") || is("DISCARD") {
            multi = false;
            watching = false;
        } else if is("WATCH") {
            watching = true;
        } else if is("UNWATCH") {
            watching = false;
        } else if is("QUIT") || is("CLIENT") {
            return true;
        }
    }
    multi || watching
}

fn denied(resp: &RedisResponse) -> bool {
    resp.results()
        .iter()
        .any(|v| matches!(v, RedisValue::Error(e) if e.starts_with(b"NOAUTH") || e.starts_with(b"WRONGPASS")))
}

/// `MOVED 3999 127.0.0.1:6381` or `ASK …`: whether to ask, and where.
pub(crate) fn redirect(v: &RedisValue, from: &Uri) -> Option<(bool, Uri)> {
    let RedisValue::Error(e) = v else { return None };
    let text = std::str::from_utf8(e).ok()?;
    let mut words = text.split_ascii_whitespace();
    let ask = match words.next()? {
        "MOVED" => false,
        "ASK" => true,
        _ => return None,
    };
    let _slot = words.next()?;
    let (host, port) = words.next()?.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    node_uri(from, host, port).map(|u| (ask, u))
}

/// The longest node host a server's reply may name.
const MAX_HOST: usize = 255;

/// `from` with its host and port replaced (its scheme, credentials,
/// database and query kept); an empty host or `?` keeps `from`'s host.
/// `None` for a host that is not a plain name or address (it comes from a
/// server's reply: `h/3?x=` would pick another database).
pub(crate) fn node_uri(from: &Uri, host: &str, port: u16) -> Option<Uri> {
    if host.len() > MAX_HOST || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:_?".contains(&b)) {
        return None;
    }
    let host = match host {
        "" | "?" => from.host_str().to_owned(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_owned(),
    };
    let userinfo = match (from.user(), from.password()) {
        (None, None) => String::new(),
        (u, Some(p)) => format!("{}:{}@", pct(u.unwrap_or("")), pct(p)),
        (Some(u), None) => format!("{}@", pct(u)),
    };
    let query = from.query().map(|q| format!("?{q}")).unwrap_or_default();
    let url = format!("{}://{userinfo}{host}:{port}{}{query}", from.scheme(), from.path());
    Uri::parse(&url).ok()
}

/// Percent-encodes what a URL's userinfo cannot hold as is.
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cmds: &[&[&str]]) -> RedisRequest {
        let mut r = RedisRequest::default();
        for c in cmds {
            r.push_command(c[0], c[1..].iter().copied());
        }
        r
    }

    #[test]
    fn moved_and_ask_targets() {
        let from = Uri::parse("redis://u:p@10.0.0.1:7000/0?protocol=3").unwrap();
        let (ask, to) = redirect(&RedisValue::error("MOVED 3999 127.0.0.1:6381"), &from).unwrap();
        assert!(!ask);
        assert_eq!(to.as_str(), "redis://u:p@127.0.0.1:6381/0?protocol=3");
        let (ask, to) = redirect(&RedisValue::error("ASK 1 ::1:7001"), &from).unwrap();
        assert!(ask);
        assert_eq!(to.host_str(), "::1");
        let (_, to) = redirect(&RedisValue::error("MOVED 1 :7002"), &from).unwrap();
        assert_eq!((to.host_str(), to.port()), ("10.0.0.1", 7002));
        assert!(redirect(&RedisValue::error("ERR MOVED"), &from).is_none());
        assert!(redirect(&RedisValue::from("MOVED 1 a:1"), &from).is_none());
        // A host that would change the URL's database or query.
        assert!(redirect(&RedisValue::error("MOVED 1 h/3?x=:7000"), &from).is_none());
        assert!(redirect(&RedisValue::error("ASK 1 h@evil:7000"), &from).is_none());
        let long = format!("MOVED 1 {}:7000", "a".repeat(256));
        assert!(redirect(&RedisValue::error(long), &from).is_none());
    }

    #[test]
    fn blocking_and_stateful_commands_are_not_pipelined() {
        let r = Redis::default();
        assert_eq!(r.mode(&req(&[&["GET", "a"], &["set", "b", "c"]])), Mode::Pipelined);
        assert_eq!(r.mode(&req(&[&["blpop", "q", "0"]])), Mode::Pooled);
        assert_eq!(r.mode(&req(&[&["MULTI"], &["INCR", "a"], &["EXEC"]])), Mode::Pooled);
        assert_eq!(r.mode(&req(&[&["GETX_LONG_NAME_OVER_16", "a"], &["MULTI"]])), Mode::Pooled);
        assert!(!leaves_state(&req(&[&["MULTI"], &["INCR", "a"], &["EXEC"]])));
        assert!(leaves_state(&req(&[&["MULTI"], &["INCR", "a"]])));
        assert!(leaves_state(&req(&[&["WATCH", "a"]])));
    }
}
