//! The Redis protocol on wf-core's plug-in API.

use std::time::Duration;

use wf_core::Error;
use wf_core::net::{KeepAlive, Protocol, ServerParams, ServerProtocol};

use crate::codec::{DEFAULT_REQUEST_LIMIT, DEFAULT_SIZE_LIMIT, ServerCodec};
use crate::message::{RedisRequest, RedisResponse};
use crate::value::RedisValue;

/// The Redis protocol: RESP2 (or RESP3 with `?protocol=3` in the URL)
/// over TCP, a Unix socket or TLS (`rediss://`).
///
/// Most code never names it: [`create_redis_task`](crate::create_redis_task)
/// and [`RedisServer`](crate::RedisServer) use it. It is public for
/// [`wf_core::net::request`] and for a server with a size limit of its
/// own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Redis {
    pub(crate) size_limit: usize,
}

impl Default for Redis {
    fn default() -> Redis {
        Redis::with_size_limit(DEFAULT_SIZE_LIMIT)
    }
}

impl Redis {
    /// Largest reply a client accepts (default 512 MiB, Redis's own
    /// largest bulk string); a bigger one fails the task with
    /// `SYS_ERROR`/`EMSGSIZE`, as soon as it is known: a length or count
    /// that cannot fit is refused when read, before its data.
    pub fn with_size_limit(limit: usize) -> Redis {
        // Every task, the subscriber's included, is made with a protocol
        // value: its error codes are named by then.
        crate::code::register();
        Redis { size_limit: limit }
    }
}

impl Protocol for Redis {
    type Request = RedisRequest;
    type Response = RedisResponse;

    fn schemes(&self) -> &'static [&'static str] {
        &["redis", "rediss"]
    }

    fn tls_schemes(&self) -> &'static [&'static str] {
        &["rediss"]
    }
}

impl ServerProtocol for Redis {
    type ServerCodec = ServerCodec;

    fn server_codec(&self, params: &ServerParams) -> ServerCodec {
        ServerCodec::new(params.request_size_limit)
    }

    fn prepare_reply(&self, req: &RedisRequest, resp: &mut RedisResponse, _seq: u64) {
        if resp.results().is_empty() && req.command().is_some_and(|c| c.eq_ignore_ascii_case("QUIT")) {
            resp.set_result(RedisValue::ok());
        }
    }

    fn keep_alive_after_reply(&self, req: &RedisRequest, _resp: &RedisResponse, _seq: u64) -> KeepAlive {
        if req.command().is_some_and(|c| c.eq_ignore_ascii_case("QUIT")) { KeepAlive::Close } else { KeepAlive::Keep }
    }

    /// redis-server's answer to a request it cannot read
    /// (`-ERR Protocol error: invalid multibulk length`, `expected '$',
    /// got '*'`, …, or `request too large` over the size limit); the
    /// connection then closes, as redis-server closes it.
    fn error_reply(&self, codec: &mut ServerCodec, error: &Error) -> Option<RedisResponse> {
        let mut resp = RedisResponse::default();
        let value = codec.refusal_reply().unwrap_or_else(|| {
            RedisValue::error(if error.code() == libc::EMSGSIZE {
                "ERR Protocol error: request too large"
            } else {
                "ERR Protocol error: invalid request"
            })
        });
        resp.set_result(value);
        Some(resp)
    }

    fn server_params(&self) -> ServerParams {
        // Workflow's Redis server: idle connections kept 5 minutes, TLS
        // handshakes within 5 s. Requests up to 1 MiB, wf's default for
        // every server (redis-server's own limits, 512 MiB an argument
        // and 1 GiB a client's buffer, are for a trusted network).
        let mut params = ServerParams::default();
        params.request_size_limit = Some(DEFAULT_REQUEST_LIMIT);
        params.keep_alive_timeout = Some(Duration::from_secs(300));
        params.ssl_accept_timeout = Some(Duration::from_secs(5));
        params
    }
}
