//! Everything about a request besides the request itself.

use std::sync::Arc;
use std::time::Duration;

use crate::net::route::Route;
use crate::runtime::{self, EndpointParams};

/// A task's retries, redirects, timeouts, keep-alive, route and TLS (the
/// settings of Workflow's `WFNetworkTask`). Every client task carries one;
/// [`Task::options_mut`](crate::Task::options_mut) reaches it.
#[derive(Clone, Default)]
pub struct ClientOptions {
    retry_max: u32,
    redirect_max: u32,
    send_timeout: Option<Duration>,
    receive_timeout: Option<Duration>,
    watch_timeout: Option<Duration>,
    keep_alive: Option<Duration>,
    wait_timeout: Option<Duration>,
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
