//! Everything about a request besides the request itself.

use std::sync::Arc;
use std::time::Duration;

use crate::net::route::Route;
use crate::runtime::{self, EndpointParams};

/// A task's retries, redirects, timeouts, limits, keep-alive, route and
/// TLS (the settings of Workflow's `WFNetworkTask`). Every client task
/// carries one; [`Task::options_mut`](crate::Task::options_mut) reaches
/// it.
///
/// # Against a hostile or broken server
///
/// With the defaults, each read and write must make progress within the
/// endpoint's response timeout (10 s), and a response may be at most
/// [`response_size_limit`](ClientOptions::response_size_limit) bytes
/// (64 MiB, from [`EndpointParams`]). So:
///
/// - a server that **never stops sending** fails the task with
///   `SYS_ERROR`/`EMSGSIZE` once the response passes the limit; nothing
///   past it is buffered, and the connection is closed;
/// - a server that **drips** (a byte every few seconds, each within the
///   response timeout) is *not* cut by the defaults: set a
///   [`deadline`](ClientOptions::set_deadline) (the whole task) or a
///   [`receive timeout`](ClientOptions::set_receive_timeout) (the whole
///   response) to bound it. Both end the task with
///   `SYS_ERROR`/`ETIMEDOUT`, the deadline with
///   [`TimeoutReason::Deadline`](crate::TimeoutReason::Deadline), the
///   receive timeout with `Transmit`.
#[derive(Clone, Default)]
pub struct ClientOptions {
    retry_max: u32,
    redirect_max: u32,
    send_timeout: Option<Duration>,
    receive_timeout: Option<Duration>,
    watch_timeout: Option<Duration>,
    keep_alive: Option<Duration>,
    wait_timeout: Option<Duration>,
    /// `None`: the endpoint's.
    response_size_limit: Option<Option<usize>>,
    deadline: Option<Duration>,
    endpoint: Option<EndpointParams>,
    route: Option<Arc<dyn Route>>,
    #[cfg(feature = "tls")]
    tls: Option<crate::net::tls::TlsClient>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("retry_max", &self.retry_max)
            .field("redirect_max", &self.redirect_max)
            .field("send_timeout", &self.send_timeout)
            .field("receive_timeout", &self.receive_timeout)
            .field("watch_timeout", &self.watch_timeout)
            .field("keep_alive", &self.keep_alive)
            .field("wait_timeout", &self.wait_timeout)
            .field("response_size_limit", &self.response_size_limit)
            .field("deadline", &self.deadline)
            .field("endpoint", &self.endpoint)
            .field("route", &self.route.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// Attempts after the first one, for errors the protocol deems
    /// retryable (Workflow: `SYS_ERROR` only).
    pub fn retry_max(&self) -> u32 {
        self.retry_max
    }

    /// Sets [`retry_max`](ClientOptions::retry_max).
    pub fn set_retry_max(&mut self, n: u32) -> &mut Self {
        self.retry_max = n;
        self
    }

    /// Redirects the task follows (HTTP 3xx, Redis `MOVED`/`ASK`).
    pub fn redirect_max(&self) -> u32 {
        self.redirect_max
    }

    /// Sets [`redirect_max`](ClientOptions::redirect_max).
    pub fn set_redirect_max(&mut self, n: u32) -> &mut Self {
        self.redirect_max = n;
        self
    }

    /// Limit on sending the whole request (default: none).
    pub fn set_send_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.send_timeout = t;
        self
    }

    /// Limit on receiving the whole reply (default: none).
    pub fn set_receive_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.receive_timeout = t;
        self
    }

    /// Limit on the wait for the reply's first byte (default: the
    /// endpoint's response timeout).
    pub fn set_watch_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.watch_timeout = t;
        self
    }

    /// How long the connection may stay open for reuse after this reply;
    /// zero closes it (default: the protocol's).
    pub fn set_keep_alive(&mut self, t: Duration) -> &mut Self {
        self.keep_alive = Some(t);
        self
    }

    /// The keep-alive this task set, if it set one.
    pub fn keep_alive(&self) -> Option<Duration> {
        self.keep_alive
    }

    /// How long to wait for a free connection when the target is at its
    /// connection limit (default: fail at once with `EAGAIN`).
    pub fn set_wait_timeout(&mut self, t: Option<Duration>) -> &mut Self {
        self.wait_timeout = t;
        self
    }

    /// The largest response this task accepts, in bytes as read from the
    /// connection (framing included), counted from the end of the
    /// previous response: over it the task fails with
    /// `SYS_ERROR`/`EMSGSIZE`, nothing past it is buffered, and the
    /// connection is closed. `None` sets no limit. Default: the endpoint
    /// parameters' (64 MiB).
    pub fn set_response_size_limit(&mut self, limit: Option<usize>) -> &mut Self {
        self.response_size_limit = Some(limit);
        self
    }

    /// The response size limit in force for this task (see
    /// [`set_response_size_limit`](ClientOptions::set_response_size_limit)).
    pub fn response_size_limit(&self) -> Option<usize> {
        self.response_size_limit.unwrap_or_else(|| self.endpoint().response_size_limit)
    }

    /// An overall limit on the task, from its start to its callback:
    /// resolving, waiting for a connection, connecting, every retry and
    /// redirect, every exchange. When it passes, the task ends with
    /// `SYS_ERROR`/`ETIMEDOUT` and
    /// [`TimeoutReason::Deadline`](crate::TimeoutReason::Deadline), and the
    /// connection it was using is closed. Default: none (wf only; Workflow
    /// has none).
    pub fn set_deadline(&mut self, t: Option<Duration>) -> &mut Self {
        self.deadline = t;
        self
    }

    /// The task's overall deadline, if it has one.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// Per-task endpoint parameters instead of the global settings'.
    pub fn set_endpoint_params(&mut self, p: EndpointParams) -> &mut Self {
        self.endpoint = Some(p);
        self
    }

    /// Where this task's requests go, instead of the route registered for
    /// the URL's host (or DNS).
    pub fn set_route(&mut self, route: Arc<dyn Route>) -> &mut Self {
        self.route = Some(route);
        self
    }

    /// TLS configuration for TLS schemes (default: certificates verified
    /// against the system roots).
    #[cfg(feature = "tls")]
    pub fn set_tls(&mut self, tls: crate::net::tls::TlsClient) -> &mut Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS configuration set for this task, if any.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&crate::net::tls::TlsClient> {
        self.tls.as_ref()
    }

    /// The response size limit for connections made with `endpoint` (a
    /// route's, say): the task's own if it set one, else the endpoint's.
    pub(crate) fn response_size_limit_for(&self, endpoint: &EndpointParams) -> Option<usize> {
        self.response_size_limit.unwrap_or(endpoint.response_size_limit)
    }

    pub(crate) fn send_timeout(&self) -> Option<Duration> {
        self.send_timeout
    }

    pub(crate) fn watch_timeout(&self) -> Option<Duration> {
        self.watch_timeout
    }

    pub(crate) fn receive_timeout(&self) -> Option<Duration> {
        self.receive_timeout
    }

    pub(crate) fn wait_timeout(&self) -> Option<Duration> {
        self.wait_timeout
    }

    pub(crate) fn route(&self) -> Option<&Arc<dyn Route>> {
        self.route.as_ref()
    }

    pub(crate) fn endpoint(&self) -> &EndpointParams {
        self.endpoint.as_ref().unwrap_or(&runtime::settings().endpoint_params)
    }
}
