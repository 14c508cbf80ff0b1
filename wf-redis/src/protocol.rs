//! The Redis protocol on wf-core's plug-in API.

use std::time::Duration;

use wf_core::net::{BoxFuture, Connection, Protocol, ReplyKeepAlive, ServerParams, Uri};
use wf_core::{Error, code};

use crate::codec::{ClientCodec, DEFAULT_SIZE_LIMIT, Resp, ServerCodec};
use crate::message::{RedisRequest, RedisResponse};
use crate::value::RedisValue;

/// The Redis protocol: RESP2 (or RESP3 with `?protocol=3` in the URL)
/// over TCP, a Unix socket or TLS (`rediss://`).
///
/// Most code never names it: [`create_redis_task`](crate::create_redis_task)
/// and [`RedisServer`](crate::RedisServer) use it. It is public for
/// [`wf_core::net::request`] and for a server with a size limit of its
/// own.
#[derive(Clone, Debug)]
pub struct Redis {
    size_limit: usize,
}

impl Default for Redis {
    fn default() -> Redis {
        Redis { size_limit: DEFAULT_SIZE_LIMIT }
    }
}

impl Redis {
    /// Largest reply a client accepts (default 512 MiB, Redis's own
    /// largest bulk string); a bigger one fails the task with
    /// `SYS_ERROR`/`EMSGSIZE`.
    pub fn with_size_limit(limit: usize) -> Redis {
        Redis { size_limit: limit }
    }
}

/// What a URL says about a connection: credentials, database, RESP.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: u32,
    pub(crate) resp3: bool,
}

impl Target {
    /// The URL's database number (`/6`; none is 0).
    pub(crate) fn check_db(uri: &Uri) -> Result<u32, Error> {
        let db = uri.path().trim_start_matches('/');
        if db.is_empty() { Ok(0) } else { db.parse().map_err(|_| Error::task(code::URI_PARSE_FAILED)) }
    }

    /// Reads `redis[s]://[user][:password]@host[:port][/db][?protocol=3]`;
    /// a database that is not a number is `URI_PARSE_FAILED`.
    pub(crate) fn from_uri(uri: &Uri) -> Result<Target, Error> {
        let db = Target::check_db(uri)?;
        let mut resp3 = false;
        for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("protocol", "3")) | Some(("resp", "3")) => resp3 = true,
                Some(("protocol", "2")) | Some(("resp", "2")) => resp3 = false,
                _ => {}
            }
        }
        Ok(Target {
            user: uri.user().filter(|u| !u.is_empty()).map(str::to_owned),
            password: uri.password().map(str::to_owned),
            db,
            resp3,
        })
    }
}

/// Whether a reply to a connection's own `AUTH`, `HELLO` or `SELECT`
/// went wrong: access denied (`TASK_ERROR` 3001), as in Workflow.
fn check_setup(resp: RedisResponse) -> Result<(), Error> {
    match resp.result() {
        RedisValue::Error(e) if e.starts_with(b"NOPROTO") => Err(Error::sys(libc::EPROTONOSUPPORT)),
        RedisValue::Error(_) => Err(Error::task(code::REDIS_ACCESS_DENIED)),
        _ => Ok(()),
    }
}

/// Commands that may not share a connection: they block it, or change
/// its state for the commands after them.
const EXCLUSIVE: &[&str] = &[
    "BLPOP",
    "BRPOP",
    "BRPOPLPUSH",
    "BLMOVE",
    "BLMPOP",
    "BZPOPMIN",
    "BZPOPMAX",
    "BZMPOP",
    "XREAD",
    "XREADGROUP",
    "WAIT",
    "WAITAOF",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "CLIENT",
    "QUIT",
    "READONLY",
    "READWRITE",
    "RESET",
];

/// Whether command `name` may not share a connection (see [`EXCLUSIVE`]).
pub(crate) fn is_exclusive(name: &[u8]) -> bool {
    // Most commands are not: rule them out by length and first letter.
    (4..=10).contains(&name.len())
        && matches!(name[0].to_ascii_uppercase(), b'B' | b'X' | b'W' | b'M' | b'E' | b'D' | b'U' | b'C' | b'Q' | b'R')
        && EXCLUSIVE.iter().any(|x| x.len() == name.len() && x.as_bytes().eq_ignore_ascii_case(name))
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

impl Protocol for Redis {
    type Request = RedisRequest;
    type Response = RedisResponse;
    type ClientCodec = ClientCodec;
    type ServerCodec = ServerCodec;

    fn schemes(&self) -> &'static [&'static str] {
        &["redis", "rediss"]
    }

    fn tls_schemes(&self) -> &'static [&'static str] {
        &["rediss"]
    }

    fn client_codec(&self) -> ClientCodec {
        ClientCodec::new(self.size_limit)
    }

    fn server_codec(&self, params: &ServerParams) -> ServerCodec {
        ServerCodec::new(params.request_size_limit)
    }

    fn default_keep_alive(&self) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }

    fn on_connect<'a>(
        &'a self,
        conn: &'a mut Connection<ClientCodec>,
        uri: &'a Uri,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let t = Target::from_uri(uri)?;
            let mut req = RedisRequest::default();
            if t.resp3 {
                let mut params = vec!["3".to_owned()];
                if let Some(p) = &t.password {
                    params.extend(["AUTH".into(), t.user.clone().unwrap_or_else(|| "default".into()), p.clone()]);
                }
                req.set_request("HELLO", params);
                conn.codec_mut().set_resp(Resp::V3);
                conn.send(&req).await?;
                check_setup(conn.receive().await?)?;
            } else if let Some(p) = &t.password {
                match &t.user {
                    Some(u) => req.set_request("AUTH", [u, p]),
                    None => req.set_request("AUTH", [p]),
                }
                conn.send(&req).await?;
                check_setup(conn.receive().await?)?;
            }
            if t.db > 0 {
                req.set_request("SELECT", [t.db.to_string()]);
                conn.send(&req).await?;
                check_setup(conn.receive().await?)?;
            }
            Ok(())
        })
    }

    fn keep_alive(&self, req: &RedisRequest, _resp: &RedisResponse, configured: Option<Duration>) -> Option<Duration> {
        if req.exclusive && leaves_state(req) { None } else { configured }
    }

    fn pipelined(&self, req: &RedisRequest) -> bool {
        !req.asking && !req.exclusive
    }

    fn pool_key(&self, uri: &Uri) -> String {
        // Credentials, database and RESP version separate connections; so
        // does the size limit, which lives in the codec.
        let mut k = String::with_capacity(32);
        k.push_str(uri.user().unwrap_or(""));
        k.push('\0');
        k.push_str(uri.password().unwrap_or(""));
        k.push('\0');
        k.push_str(uri.path());
        k.push('\0');
        k.push_str(uri.query().unwrap_or(""));
        if self.size_limit != DEFAULT_SIZE_LIMIT {
            k.push('\0');
            k.push_str(&self.size_limit.to_string());
        }
        k
    }

    fn prepare_reply(&self, req: &RedisRequest, resp: &mut RedisResponse, _seq: u64) {
        if resp.results().is_empty() && req.command().is_some_and(|c| c.eq_ignore_ascii_case("QUIT")) {
            resp.set_result(RedisValue::ok());
        }
    }

    fn keep_alive_after_reply(&self, req: &RedisRequest, _resp: &RedisResponse, _seq: u64) -> ReplyKeepAlive {
        if req.command().is_some_and(|c| c.eq_ignore_ascii_case("QUIT")) {
            ReplyKeepAlive::Close
        } else {
            ReplyKeepAlive::Keep
        }
    }

    fn error_reply(&self, _codec: &mut ServerCodec, error: &Error) -> Option<RedisResponse> {
        let mut resp = RedisResponse::default();
        let text = if error.code() == libc::EMSGSIZE {
            "ERR Protocol error: request too large"
        } else {
            "ERR Protocol error: invalid request"
        };
        resp.set_result(RedisValue::error(text));
        Some(resp)
    }

    fn server_params(&self) -> ServerParams {
        // Workflow's Redis server: idle connections kept 5 minutes, TLS
        // handshakes within 5 s.
        let mut params = ServerParams::default();
        params.keep_alive_timeout = Some(Duration::from_secs(300));
        params.ssl_accept_timeout = Some(Duration::from_secs(5));
        params
    }
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
    fn url_target() {
        let t = Target::from_uri(&Uri::parse("redis://u:p%40ss@h:1/6?protocol=3").unwrap()).unwrap();
        assert_eq!(t, Target { user: Some("u".into()), password: Some("p@ss".into()), db: 6, resp3: true });
        let t = Target::from_uri(&Uri::parse("redis://:pw@h").unwrap()).unwrap();
        assert_eq!((t.user, t.password.as_deref(), t.db), (None, Some("pw"), 0));
        let e = Target::from_uri(&Uri::parse("redis://h/x").unwrap()).unwrap_err();
        assert_eq!(e.code(), code::URI_PARSE_FAILED);
    }

    #[test]
    fn blocking_and_stateful_commands_are_not_pipelined() {
        let r = Redis::default();
        assert!(r.pipelined(&req(&[&["GET", "a"], &["set", "b", "c"]])));
        assert!(!r.pipelined(&req(&[&["blpop", "q", "0"]])));
        assert!(!r.pipelined(&req(&[&["MULTI"], &["INCR", "a"], &["EXEC"]])));
        assert!(!leaves_state(&req(&[&["MULTI"], &["INCR", "a"], &["EXEC"]])));
        assert!(leaves_state(&req(&[&["MULTI"], &["INCR", "a"]])));
        assert!(leaves_state(&req(&[&["WATCH", "a"]])));
        assert!(!r.pipelined(&req(&[&["GETX_LONG_NAME_OVER_16", "a"], &["MULTI"]])));
    }
}
