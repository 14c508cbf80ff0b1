//! `RedisClusterTask`: a Redis task whose node is chosen by its keys.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wf_core::net::{ClientKind, ClientOptions, Uri};
use wf_core::{RunContext, Task, TaskKind};

use super::{Outcome, RedisCluster};
use crate::message::{RedisArg, RedisRequest, RedisResponse};
use crate::value::RedisValue;

type Running = Pin<Box<dyn Future<Output = (RedisRequest, Outcome)> + Send>>;

/// A Redis Cluster task: made by [`RedisCluster::create_task`], it goes
/// in series and parallels like a [`RedisTask`](crate::RedisTask).
pub type RedisClusterTask = Task<RedisClusterClient>;

/// The kind of a [`RedisClusterTask`]: its request, reply, options, and
/// the node that answered.
pub struct RedisClusterClient {
    cluster: RedisCluster,
    req: RedisRequest,
    resp: RedisResponse,
    opts: ClientOptions,
    uri: Option<Uri>,
    redirects: u32,
    running: Option<Running>,
}

impl std::fmt::Debug for RedisClusterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClusterClient")
            .field("req", &self.req)
            .field("uri", &self.uri)
            .field("redirects", &self.redirects)
            .finish_non_exhaustive()
    }
}

impl RedisClusterClient {
    /// Sets the command: `task.set_request("SET", ["key", "value"])`.
    pub fn set_request<I>(&mut self, command: &str, params: I)
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        self.req.set_request(command, params);
    }

    /// The request (several commands with
    /// [`push_command`](RedisRequest::push_command); their keys must share
    /// a slot).
    pub fn req(&self) -> &RedisRequest {
        &self.req
    }

    /// The request, to fill before start.
    pub fn req_mut(&mut self) -> &mut RedisRequest {
        &mut self.req
    }

    /// The reply (empty until the task succeeded).
    pub fn resp(&self) -> &RedisResponse {
        &self.resp
    }

    /// The reply, mutably (to move values out in the callback).
    pub fn resp_mut(&mut self) -> &mut RedisResponse {
        &mut self.resp
    }

    /// The reply to the (first) command.
    pub fn result(&self) -> &RedisValue {
        self.resp.result()
    }

    /// The node the last attempt went to (the one that answered, once the
    /// task succeeded).
    pub fn uri(&self) -> Option<&Uri> {
        self.uri.as_ref()
    }

    /// `MOVED` and `ASK` redirects followed.
    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// The cluster this task belongs to.
    pub fn cluster(&self) -> &RedisCluster {
        &self.cluster
    }
}

impl TaskKind for RedisClusterClient {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let fut = match &mut self.running {
            Some(f) => f,
            None => {
                let (cluster, opts, mut req) = (self.cluster.clone(), self.opts.clone(), std::mem::take(&mut self.req));
                self.running.insert(Box::pin(async move {
                    let out = cluster.run(&mut req, &opts).await;
                    (req, out)
                }))
            }
        };
        let (req, out) = match fut.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.running = None;
        self.req = req;
        self.req.asking = false;
        self.redirects = out.redirects;
        self.uri = out.uri;
        match out.result {
            Ok(resp) => self.resp = resp,
            Err(e) => run.set_error(e),
        }
        Poll::Ready(())
    }
}

impl ClientKind for RedisClusterClient {
    fn client_options(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }
}

pub(super) fn create(
    cluster: RedisCluster,
    retry_max: u32,
    redirect_max: u32,
    callback: impl FnOnce(&mut RedisClusterTask) + Send + 'static,
) -> RedisClusterTask {
    let mut opts = ClientOptions::default();
    opts.set_retry_max(retry_max).set_redirect_max(redirect_max);
    let kind = RedisClusterClient {
        cluster,
        req: RedisRequest::default(),
        resp: RedisResponse::default(),
        opts,
        uri: None,
        redirects: 0,
        running: None,
    };
    Task::new(kind).with_callback(callback)
}
