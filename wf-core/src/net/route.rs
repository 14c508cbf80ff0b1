//! The route seam: where a request goes.
//!
//! For each attempt, the client-task machine asks the [`Route`] of the URL
//! where this attempt goes ([`route`](Route::route), knowing what this
//! request tried before), and tells it how the attempt went
//! ([`report`](Route::report)). A route is Workflow's name-service policy.
//!
//! The route of a URL is, in order: the task's own
//! ([`ClientOptions::set_route`](super::ClientOptions::set_route)), the
//! route registered for the URL's host name ([`register_route`]), or the
//! default route ([`set_default_route`]), which is [`DnsRoute`] unless set:
//! the name's addresses from the DNS cache, the least loaded one first, an
//! address that failed to connect avoided for 30 s while others work.
//! Upstreams (`wf_core::upstream`), name-service policies and cluster maps
//! are routes registered under a name; a policy that rewrites the host and
//! port and lets DNS do the rest calls [`DnsRoute::route_to`].

use std::any::Any;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::resolve;
use super::uri::{Host, Uri};
use crate::error::{Error, State, TimeoutReason, code};
use crate::runtime::EndpointParams;

pub use async_trait::async_trait;

/// Where a connection goes: a socket address or a Unix socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A Unix domain socket.
    Unix(PathBuf),
}

/// Where one attempt goes, as a [`Route`] decided it: the target, the
/// endpoint parameters for connections to it if the route has its own,
/// the TLS server name if not the URL's host, and a token of the route's (an upstream's server entry, say) that
/// [`report`](Route::report) and later [`Pick`]s of the same request see.
#[derive(Clone)]
pub struct Routed {
    target: Target,
    endpoint: Option<EndpointParams>,
    server_name: Option<Arc<str>>,
    token: Option<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Routed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routed")
            .field("target", &self.target)
            .field("endpoint", &self.endpoint)
            .field("server_name", &self.server_name)
            .field("token", &self.token.is_some())
            .finish()
    }
}

impl Routed {
    /// An attempt to `target`, with the task's (or the global) endpoint
    /// parameters and no token.
    pub fn new(target: Target) -> Routed {
        Routed { target, endpoint: None, server_name: None, token: None }
    }

    /// Uses `params` for connections of this attempt instead of the task's
    /// or the global endpoint parameters (max connections, timeouts…).
    pub fn with_endpoint(mut self, params: Option<EndpointParams>) -> Routed {
        self.endpoint = params;
        self
    }

    /// The name TLS connections of this attempt send (SNI) and verify the
    /// server's certificate against, instead of the URL's host (an
    /// upstream server's host name, say).
    pub fn with_server_name(mut self, name: Arc<str>) -> Routed {
        self.server_name = Some(name);
        self
    }

    /// Attaches a token of the route's, to recognize the attempt in
    /// [`report`](Route::report) and in [`Pick::tried`].
    pub fn with_token(mut self, token: Arc<dyn Any + Send + Sync>) -> Routed {
        self.token = Some(token);
        self
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The endpoint parameters the route chose for this attempt, if any.
    pub fn endpoint(&self) -> Option<&EndpointParams> {
        self.endpoint.as_ref()
    }

    /// The TLS server name the route chose, if any.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The route's token, if it attached one.
    pub fn token(&self) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.token.as_ref()
    }
}

/// What [`Route::route`] knows about the attempt it routes.
#[derive(Clone, Copy)]
pub struct Pick<'a> {
    tried: &'a [Routed],
    retry: bool,
    load: &'a (dyn Fn(&Target) -> usize + Sync),
}

impl std::fmt::Debug for Pick<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pick").field("tried", &self.tried).field("retry", &self.retry).finish_non_exhaustive()
    }
}

fn no_load(_: &Target) -> usize {
    0
}

impl<'a> Pick<'a> {
    pub(crate) fn new(tried: &'a [Routed], retry: bool, load: &'a (dyn Fn(&Target) -> usize + Sync)) -> Pick<'a> {
        Pick { tried, retry, load }
    }

    /// A pick for a first attempt with nothing tried and no load known
    /// (for tests, benchmarks, and routes that route outside a task).
    pub fn first() -> Pick<'static> {
        Pick { tried: &[], retry: false, load: &no_load }
    }

    /// A pick for a retry after the attempts `tried` (no load known).
    pub fn after(tried: &'a [Routed]) -> Pick<'a> {
        Pick { tried, retry: true, load: &no_load }
    }

    /// Where earlier attempts of this request went, in order (a redirect
    /// starts the list anew).
    pub fn tried(&self) -> &'a [Routed] {
        self.tried
    }

    /// Whether an earlier attempt of this request went to `target`.
    pub fn was_tried(&self, target: &Target) -> bool {
        self.tried.iter().any(|r| &r.target == target)
    }

    /// True for a retry (a cache may then be trusted less: DNS results
    /// younger than `dns_ttl_min` only).
    pub fn is_retry(&self) -> bool {
        self.retry
    }

    /// Connections to `target` in use by this protocol now.
    pub fn load(&self, target: &Target) -> usize {
        (self.load)(target)
    }
}

/// Decides where requests for a URL go (Workflow's name-service policy):
/// a target per attempt, then how the attempt went.
///
/// Implement it with [`async_trait`](macro@async_trait) (re-exported here) and register it
/// under a host name with [`register_route`], make it the default with
/// [`set_default_route`], or set it on a task with
/// [`ClientOptions::set_route`](super::ClientOptions::set_route).
///
/// ```
/// use std::sync::Arc;
/// use wf_core::net::route::{DnsRoute, Pick, Route, Routed, Target, async_trait, register_route};
/// use wf_core::net::Uri;
///
/// /// `backend` is served by one fixed address.
/// struct Fixed(std::net::SocketAddr);
///
/// #[async_trait]
/// impl Route for Fixed {
///     async fn route(&self, _uri: &Uri, _pick: Pick<'_>) -> Result<Routed, wf_core::Error> {
///         Ok(Routed::new(Target::Inet(self.0)))
///     }
/// }
///
/// /// `www` goes to a host name of our choosing, resolved by DNS.
/// struct Rewrite;
///
/// #[async_trait]
/// impl Route for Rewrite {
///     async fn route(&self, uri: &Uri, pick: Pick<'_>) -> Result<Routed, wf_core::Error> {
///         DnsRoute::shared().route_to("localhost", uri.port(), pick).await
///     }
/// }
///
/// register_route("backend", Arc::new(Fixed("127.0.0.1:8080".parse().unwrap())));
/// register_route("www", Arc::new(Rewrite));
/// ```
#[async_trait]
pub trait Route: Send + Sync + 'static {
    /// Where this attempt for `uri` goes. An error fails the attempt
    /// (`TASK_ERROR`/`UPSTREAM_UNAVAILABLE` when nothing is left to try,
    /// a `DNS_ERROR`…); it is retried only as the protocol retries errors.
    async fn route(&self, uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error>;

    /// How the attempt `routed` went: `Ok` when a reply came, else the
    /// error (a connection refused, a timeout…). Not called for attempts
    /// that [`route`](Route::route) failed, nor when the task's deadline
    /// cut the attempt short.
    fn report(&self, routed: &Routed, outcome: Result<(), &Error>) {
        let _ = (routed, outcome);
    }
}

/// The registered routes and the default one.
#[derive(Default)]
pub(crate) struct Registry {
    named: HashMap<String, Arc<dyn Route>>,
    default: Option<Arc<dyn Route>>,
}

/// Makes `route` decide for every URL whose host is `name` (an upstream
/// name, say; compared without case); replaces a route registered before
/// under that name (Workflow's `WFNameService::add_policy`).
pub fn register_route(name: &str, route: Arc<dyn Route>) {
    let mut routes = crate::lock::write(crate::global::routes());
    routes.named.insert(name.to_ascii_lowercase(), route);
}

/// Removes the route registered under `name`; false if there was none.
pub fn unregister_route(name: &str) -> bool {
    let mut routes = crate::lock::write(crate::global::routes());
    routes.named.remove(&name.to_ascii_lowercase()).is_some()
}

/// Removes the route registered under `name` if it is `route` (the same
/// object); true if it was.
pub(crate) fn unregister_route_if(name: &str, route: &Arc<dyn Route>) -> bool {
    let mut routes = crate::lock::write(crate::global::routes());
    let key = name.to_ascii_lowercase();
    let same = routes.named.get(&key).is_some_and(|r| std::ptr::addr_eq(Arc::as_ptr(r), Arc::as_ptr(route)));
    if same {
        routes.named.remove(&key);
    }
    same
}

/// The route registered under `name`, if any.
pub fn registered_route(name: &str) -> Option<Arc<dyn Route>> {
    let routes = crate::lock::read(crate::global::routes());
    routes.named.get(&name.to_ascii_lowercase()).cloned()
}

/// Makes `route` decide for every URL no registered route claims
/// (Workflow's `set_default_policy`); `None` restores DNS.
pub fn set_default_route(route: Option<Arc<dyn Route>>) {
    crate::lock::write(crate::global::routes()).default = route;
}

/// The route for URLs no registered route claims: the one set with
/// [`set_default_route`], else the shared [`DnsRoute`].
pub fn default_route() -> Arc<dyn Route> {
    let routes = crate::lock::read(crate::global::routes());
    match &routes.default {
        Some(r) => r.clone(),
        None => DnsRoute::shared(),
    }
}

/// The route for `uri`: registered for its host name, else the default.
pub(crate) fn route_for(uri: &Uri) -> Arc<dyn Route> {
    let routes = crate::lock::read(crate::global::routes());
    if let Host::Name(name) = uri.host() {
        if !routes.named.is_empty() {
            if let Some(r) = routes.named.get(name) {
                return r.clone();
            }
        }
    }
    match &routes.default {
        Some(r) => r.clone(),
        None => DnsRoute::shared(),
    }
}

/// The default route: DNS (through wf's cache) for names, the path for
/// Unix sockets; of several addresses, the least loaded one that neither
/// this request tried nor failed to connect in the last 30 s.
#[derive(Debug)]
pub struct DnsRoute {
    /// Addresses that failed to connect, and when.
    failed: Mutex<HashMap<SocketAddr, Instant>>,
}

/// Past this many remembered failures, expired ones are dropped on insert.
const FAILED_PRUNE_ABOVE: usize = 256;

/// The most failures remembered at once (more within one pause are not).
const FAILED_MAX: usize = 4096;

/// How long an address that failed to connect is avoided while others work.
const FAILED_ADDRESS_PAUSE: Duration = Duration::from_secs(30);

impl DnsRoute {
    pub(crate) fn new() -> DnsRoute {
        DnsRoute { failed: Mutex::default() }
    }

    /// The process's DNS route (the default route unless another is set).
    pub fn shared() -> Arc<DnsRoute> {
        crate::global::dns_route().clone()
    }

    /// Routes to `host` (a name, or an IPv4/IPv6 literal, brackets
    /// allowed) and `port` through wf's DNS cache: for a name-service
    /// policy that rewrites the host and port and lets DNS do the rest.
    /// The cache is trusted for `Settings::dns_ttl_default`, on a retry for
    /// `dns_ttl_min`. Report the attempt back with [`Route::report`] on
    /// this route to have failing addresses avoided.
    pub async fn route_to(&self, host: &str, port: u16, pick: Pick<'_>) -> Result<Routed, Error> {
        let addrs = resolve::resolve(host, port, pick.is_retry()).await?;
        self.choose(&addrs, pick)
    }

    /// As [`route_to`](DnsRoute::route_to), with the cache trusted for
    /// `ttl_default`, on a retry for `ttl_min` (an upstream server's own
    /// DNS TTLs).
    pub async fn route_to_with_ttl(
        &self,
        host: &str,
        port: u16,
        ttl_default: Duration,
        ttl_min: Duration,
        pick: Pick<'_>,
    ) -> Result<Routed, Error> {
        let addrs = resolve::resolve_with_ttl(host, port, if pick.is_retry() { ttl_min } else { ttl_default }).await?;
        self.choose(&addrs, pick)
    }

    /// Of `addrs`, the least loaded that is healthy and untried, else
    /// healthy, else any.
    fn choose(&self, addrs: &[SocketAddr], pick: Pick<'_>) -> Result<Routed, Error> {
        let inet = |a: &SocketAddr| Routed::new(Target::Inet(*a));
        match addrs {
            [] => Err(Error::task(code::UPSTREAM_UNAVAILABLE)),
            [a] => Ok(inet(a)),
            _ => {
                let ranks: Vec<u8> = {
                    let now = Instant::now();
                    let failed = crate::lock::lock(&self.failed);
                    let healthy =
                        |a: &SocketAddr| failed.get(a).is_none_or(|at| now.duration_since(*at) >= FAILED_ADDRESS_PAUSE);
                    // Preference: healthy and untried, then healthy, then any.
                    addrs
                        .iter()
                        .map(|a| u8::from(!healthy(a)) * 2 + u8::from(pick.was_tried(&Target::Inet(*a))))
                        .collect()
                };
                let best = ranks.iter().copied().min().unwrap_or(0);
                let a = addrs
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| ranks[*i] == best)
                    .min_by_key(|(_, a)| pick.load(&Target::Inet(**a)))
                    .map_or(&addrs[0], |(_, a)| a);
                Ok(inet(a))
            }
        }
    }
}

#[async_trait]
impl Route for DnsRoute {
    async fn route(&self, uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error> {
        match uri.host() {
            Host::Unix(p) => Ok(Routed::new(Target::Unix(p.clone()))),
            // One address, nothing to resolve or choose: no list is built.
            Host::Ip(ip) => Ok(Routed::new(Target::Inet(SocketAddr::new(*ip, uri.port())))),
            host => {
                let addrs = resolve::resolve_host(host, uri.port(), pick.is_retry()).await?;
                self.choose(&addrs, pick)
            }
        }
    }

    fn report(&self, routed: &Routed, outcome: Result<(), &Error>) {
        let Target::Inet(addr) = routed.target() else { return };
        match outcome {
            Ok(()) => {
                let mut failed = crate::lock::lock(&self.failed);
                if !failed.is_empty() {
                    failed.remove(addr);
                }
            }
            Err(e) if is_connect_failure(e) => {
                let now = Instant::now();
                let mut failed = crate::lock::lock(&self.failed);
                // Addresses that failed once and were never picked again
                // (rotating DNS answers, nodes a reply named) go once their
                // pause is over: the map holds recent failures only.
                if failed.len() >= FAILED_PRUNE_ABOVE {
                    failed.retain(|_, at| now.duration_since(*at) < FAILED_ADDRESS_PAUSE);
                }
                if failed.len() < FAILED_MAX || failed.contains_key(addr) {
                    failed.insert(*addr, now);
                }
            }
            Err(_) => {}
        }
    }
}

/// Errors that say the address itself does not work, not the request.
fn is_connect_failure(e: &Error) -> bool {
    e.state() == State::SysError
        && (e.timeout_reason() == TimeoutReason::Connect
            || [libc::ECONNREFUSED, libc::EHOSTUNREACH, libc::ENETUNREACH, libc::EADDRNOTAVAIL].contains(&e.code()))
}
