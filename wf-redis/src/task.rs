//! `RedisTask`: a Redis client task, following cluster redirects.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use wf_core::net::{ClientOptions, Uri, request};
use wf_core::{Error, RunContext, Task, TaskKind, code};

use crate::message::{RedisArg, RedisRequest, RedisResponse};
use crate::protocol::{Redis, Target};
use crate::value::RedisValue;

/// Cluster redirects (`MOVED`, `ASK`) followed per task, as in Workflow.
const REDIRECT_MAX: u32 = 3;

/// Commands a task may not send: the connection's own setup (`AUTH`,
/// `SELECT`, `HELLO` come from the URL), and those that would leave a
/// shared connection unusable (`SUBSCRIBE`: use the
/// [subscriber](crate::create_subscribe_task)).
const DISALLOWED: &[&str] = &[
    "AUTH",
    "SELECT",
    "RESET",
    "ASKING",
    "HELLO",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "MONITOR",
    "SYNC",
    "PSYNC",
];

/// A Redis client task (Workflow's `WFRedisTask`).
pub type RedisTask = Task<RedisClient>;

struct Done {
    resp: RedisResponse,
    uri: Uri,
    peer: Option<SocketAddr>,
    redirects: u32,
}

type Running = Pin<Box<dyn Future<Output = (RedisRequest, Result<Done, Error>)> + Send>>;

/// The kind of a [`RedisTask`].
pub struct RedisClient {
    protocol: Redis,
    uri: Result<Uri, Error>,
    req: RedisRequest,
    resp: RedisResponse,
    opts: ClientOptions,
    peer: Option<SocketAddr>,
    redirects: u32,
    running: Option<Running>,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient").field("uri", &self.uri).field("req", &self.req).finish_non_exhaustive()
    }
}

impl RedisClient {
    /// The request.
    pub fn req(&self) -> &RedisRequest {
        &self.req
    }

    /// The request, to fill before start.
    pub fn req_mut(&mut self) -> &mut RedisRequest {
        &mut self.req
    }

    /// Sets the command: `task.set_request("SET", ["key", "value"])`.
    pub fn set_request<I>(&mut self, command: &str, params: I)
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        self.req.set_request(command, params);
    }

    /// The response (empty until the task succeeded).
    pub fn resp(&self) -> &RedisResponse {
        &self.resp
    }

    /// The response, mutably (e.g. to take values out in the callback).
    pub fn resp_mut(&mut self) -> &mut RedisResponse {
        &mut self.resp
    }

    /// The reply to the (first) command.
    pub fn result(&self) -> &RedisValue {
        self.resp.result()
    }

    /// The URL the reply came from (after cluster redirects).
    pub fn uri(&self) -> Option<&Uri> {
        self.uri.as_ref().ok()
    }

    /// Cluster redirects followed.
    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// The server's address (`None` over a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn check(&self) -> Result<Uri, Error> {
        let uri = self.uri.clone()?;
        Target::check_db(&uri)?;
        if self.req.is_empty() {
            return Err(Error::sys(libc::EINVAL));
        }
        for c in self.req.commands() {
            if DISALLOWED.iter().any(|d| c[0].eq_ignore_ascii_case(d.as_bytes())) {
                return Err(Error::task(code::REDIS_COMMAND_DISALLOWED));
            }
        }
        Ok(uri)
    }
}

/// `MOVED 3999 127.0.0.1:6381` or `ASK …`: whether to ask, and where.
fn redirect(v: &RedisValue, from: &Uri) -> Option<(bool, Uri)> {
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
    Uri::parse(&url).ok().map(|u| (ask, u))
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

fn denied(resp: &RedisResponse) -> bool {
    resp.results()
        .iter()
        .any(|v| matches!(v, RedisValue::Error(e) if e.starts_with(b"NOAUTH") || e.starts_with(b"WRONGPASS")))
}

async fn run(
    protocol: Redis,
    mut uri: Uri,
    mut req: RedisRequest,
    opts: ClientOptions,
) -> (RedisRequest, Result<Done, Error>) {
    let mut redirects = 0;
    loop {
        let r = request(&protocol, &uri, &req, &opts).await;
        req.asking = false;
        let reply = match r {
            Ok(reply) => reply,
            Err(e) => return (req, Err(e)),
        };
        if denied(&reply.response) {
            return (req, Err(Error::task(code::REDIS_ACCESS_DENIED)));
        }
        if req.len() == 1 && redirects < REDIRECT_MAX {
            if let Some((ask, next)) = redirect(reply.response.result(), &uri) {
                redirects += 1;
                req.asking = ask;
                uri = next;
                continue;
            }
        }
        return (req, Ok(Done { resp: reply.response, peer: reply.peer, uri, redirects }));
    }
}

impl TaskKind for RedisClient {
    fn poll_run(&mut self, cx: &mut Context<'_>, run_cx: &mut RunContext<'_>) -> Poll<()> {
        let fut = match &mut self.running {
            Some(f) => f,
            None => {
                let uri = match self.check() {
                    Ok(u) => u,
                    Err(e) => {
                        run_cx.set_error(e);
                        return Poll::Ready(());
                    }
                };
                let req = std::mem::take(&mut self.req);
                self.running.insert(Box::pin(run(self.protocol.clone(), uri, req, self.opts.clone())))
            }
        };
        let (req, result) = match fut.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.running = None;
        self.req = req;
        match result {
            Ok(done) => {
                self.resp = done.resp;
                self.peer = done.peer;
                self.uri = Ok(done.uri);
                self.redirects = done.redirects;
            }
            Err(e) => run_cx.set_error(e),
        }
        Poll::Ready(())
    }
}

/// Creates a Redis task for `url`:
/// `redis[s]://[user][:password]@host[:port][/db][?protocol=3]` (Workflow's
/// `create_redis_task`). Set the command with
/// [`set_request`](RedisClient::set_request) before it starts.
///
/// On each fresh connection `AUTH` (with the URL's credentials) and
/// `SELECT` (a database other than 0) go out first, invisible to the
/// callback; a refused `AUTH` is `TASK_ERROR`/`REDIS_ACCESS_DENIED` (3001),
/// never retried. Sending `AUTH`, `SELECT`, `HELLO`, `RESET` or
/// `SUBSCRIBE` yourself is `TASK_ERROR`/`REDIS_COMMAND_DISALLOWED` (3002).
/// Cluster `MOVED` and `ASK` replies are followed up to 3 times. Tasks to
/// the same server share connections, several requests in flight on each.
///
/// ```no_run
/// use wf_redis::create_redis_task;
///
/// let mut task = create_redis_task("redis://127.0.0.1/", 2, |t| {
///     println!("{:?}: {}", t.state(), t.result());
/// });
/// task.set_request("SET", ["key", "value"]);
/// task.start();
/// wf_core::wait_finish();
/// ```
pub fn create_redis_task(
    url: &str,
    retry_max: u32,
    callback: impl FnOnce(&mut RedisTask) + Send + 'static,
) -> RedisTask {
    create_redis_task_with(Redis::default(), url, retry_max, callback)
}

/// [`create_redis_task`] with a protocol value of your own (a reply size
/// limit, say).
pub fn create_redis_task_with(
    protocol: Redis,
    url: &str,
    retry_max: u32,
    callback: impl FnOnce(&mut RedisTask) + Send + 'static,
) -> RedisTask {
    let mut opts = ClientOptions::default();
    opts.set_retry_max(retry_max);
    Task::new(RedisClient {
        protocol,
        uri: Uri::parse_cached(url),
        req: RedisRequest::default(),
        resp: RedisResponse::default(),
        opts,
        peer: None,
        redirects: 0,
        running: None,
    })
    .with_callback(callback)
}

impl wf_core::net::ClientKind for RedisClient {
    fn client_options(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
