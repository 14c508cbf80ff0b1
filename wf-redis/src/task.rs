//! `RedisTask`: a Redis client task (the machine is wf-core's; login,
//! pipelining and redirects are Redis's client half, in `client`).

use std::ops::{Deref, DerefMut};
use std::task::{Context, Poll};

use wf_core::net::{Client, ClientKind, ClientOptions};
use wf_core::{RunContext, Task, TaskKind};

use crate::message::RedisArg;
use crate::protocol::Redis;
use crate::value::RedisValue;

/// Cluster redirects (`MOVED`, `ASK`) followed per task, as in Workflow.
const REDIRECT_MAX: u32 = 3;

/// A Redis client task (Workflow's `WFRedisTask`).
pub type RedisTask = Task<RedisClient>;

/// The kind of a [`RedisTask`]: wf-core's [`Client`] of [`Redis`] (its
/// `req()`, `resp()`, `uri()`, `peer_addr()`, `redirects()` through
/// `Deref`), with Redis's own shortcuts.
#[derive(Debug)]
pub struct RedisClient {
    client: Client<Redis>,
}

impl Deref for RedisClient {
    type Target = Client<Redis>;
    fn deref(&self) -> &Client<Redis> {
        &self.client
    }
}

impl DerefMut for RedisClient {
    fn deref_mut(&mut self) -> &mut Client<Redis> {
        &mut self.client
    }
}

impl RedisClient {
    /// Sets the command: `task.set_request("SET", ["key", "value"])`.
    pub fn set_request<I>(&mut self, command: &str, params: I)
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        self.client.req_mut().set_request(command, params);
    }

    /// The reply to the (first) command.
    pub fn result(&self) -> &RedisValue {
        self.client.resp().result()
    }
}

impl TaskKind for RedisClient {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        self.client.poll_run(cx, run)
    }
}

impl ClientKind for RedisClient {
    fn client_options(&mut self) -> &mut ClientOptions {
        self.client.client_options()
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
    let mut client = Client::new(protocol, url, retry_max);
    client.client_options().set_redirect_max(REDIRECT_MAX);
    Task::new(RedisClient { client }).with_callback(callback)
}
