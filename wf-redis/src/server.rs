//! `RedisServer`: wf's generic server speaking RESP.

use std::ops::Deref;

use wf_core::net::{Server, ServerParams, ServerTask};

use crate::protocol::Redis;

/// A command a [`RedisServer`] is answering: `req()` holds it,
/// `resp_mut().set_result(…)` sets the reply, and tasks pushed into
/// `series_of(task)` run before the reply goes out.
pub type RedisServerTask = ServerTask<Redis>;

/// A Redis server (Workflow's `WFRedisServer`): `process` sees each
/// command and fills its reply; the reply is sent when the command's
/// series ends. Pipelined commands are answered in order. `QUIT` is
/// answered `+OK` (unless `process` says otherwise) and closes the
/// connection. Idle connections close after 5 minutes.
///
/// Replies are RESP2: RESP3 values (maps, doubles…) are sent in their
/// RESP2 forms, as Redis does for a RESP2 client.
///
/// Requests are read by redis-server's rules: a multibulk of bulk
/// strings or an inline command. One that breaks them (`*1\r\n*1\r\n`,
/// a bulk length above 512 MiB, a count above 2^31 - 1…) or is larger
/// than `request_size_limit` (1 MiB by default) is answered with
/// redis-server's `-ERR Protocol error: …` and the connection closes,
/// after the replies to the requests before it.
///
/// ```no_run
/// use wf_redis::{RedisServer, RedisValue};
///
/// let server = RedisServer::new(|task| {
///     let reply = match task.req().command().map(str::to_ascii_uppercase).as_deref() {
///         Some("PING") => RedisValue::status("PONG"),
///         _ => RedisValue::error("ERR unknown command"),
///     };
///     task.resp_mut().set_result(reply);
/// });
/// server.start(6380).unwrap();
/// # server.stop();
/// ```
pub struct RedisServer {
    server: Server<Redis>,
}

impl std::fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.fmt(f)
    }
}

impl RedisServer {
    /// A server with Workflow's Redis defaults (2000 connections, 300 s
    /// keep-alive, 10 s peer response timeout, 5 s TLS handshake) and
    /// requests up to 1 MiB.
    pub fn new(process: impl Fn(&mut RedisServerTask) + Send + Sync + 'static) -> RedisServer {
        RedisServer { server: Server::new(Redis::default(), process) }
    }

    /// A server with `params` (`request_size_limit` answers an error and
    /// closes the connection; `None` is redis-server's own limit on a
    /// client's buffer, 1 GiB).
    pub fn with_params(
        params: ServerParams,
        process: impl Fn(&mut RedisServerTask) + Send + Sync + 'static,
    ) -> RedisServer {
        RedisServer { server: Server::with_params(Redis::default(), params, process) }
    }
}

impl Deref for RedisServer {
    type Target = Server<Redis>;
    fn deref(&self) -> &Server<Redis> {
        &self.server
    }
}
