//! The route seam: where a request goes.
//!
//! For each attempt, the client-task machine asks the [`Route`] of the URL
//! for the candidate addresses ([`resolve`](Route::resolve)), lets it pick
//! one ([`select`](Route::select), knowing which this request already
//! tried), and tells it how the attempt went ([`report`](Route::report)).
//!
//! The route of a URL is, in order: the task's own
//! ([`ClientOptions::set_route`](super::ClientOptions::set_route)), the
//! route registered for the URL's host name ([`register_route`]), or the
//! default, [`DnsRoute`]: the name's addresses from the DNS cache, the
//! least loaded one first, an address that failed to connect avoided for
//! 30 s while others work. Upstreams, name-service policies and cluster
//! maps are routes registered under a name.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::dns;
use super::uri::{Host, Uri};
use crate::error::{Error, State, TimeoutReason};

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

/// What [`Route::select`] knows about the attempt it picks for.
#[derive(Clone, Copy)]
pub struct Pick<'a> {
    tried: &'a [Target],
    load: &'a (dyn Fn(&Target) -> usize + Sync),
}

impl std::fmt::Debug for Pick<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pick").field("tried", &self.tried).finish_non_exhaustive()
    }
}

impl<'a> Pick<'a> {
    pub(crate) fn new(tried: &'a [Target], load: &'a (dyn Fn(&Target) -> usize + Sync)) -> Pick<'a> {
        Pick { tried, load }
    }

    /// Targets earlier attempts of this request went to, in order.
    pub fn tried(&self) -> &'a [Target] {
        self.tried
    }

    /// Whether an earlier attempt of this request went to `target`.
    pub fn was_tried(&self, target: &Target) -> bool {
        self.tried.contains(target)
    }

    /// Connections to `target` in use by this protocol now.
    pub fn load(&self, target: &Target) -> usize {
        (self.load)(target)
    }
}

/// Decides where requests for a URL go: resolve its host into candidates,
/// select one per attempt, hear back how it went.
///
/// Implement it with [`async_trait`](macro@async_trait) (re-exported here) and register it
/// under a host name with [`register_route`], or set it on a task with
/// [`ClientOptions::set_route`](super::ClientOptions::set_route).
///
/// ```
/// use std::sync::Arc;
/// use wf_core::net::route::{Pick, Route, Target, async_trait, register_route};
/// use wf_core::net::Uri;
///
/// /// Every request for `backend` goes to one fixed address.
/// struct Fixed(std::net::SocketAddr);
///
/// #[async_trait]
/// impl Route for Fixed {
///     async fn resolve(&self, _uri: &Uri, _retry: bool) -> Result<Vec<Target>, wf_core::Error> {
///         Ok(vec![Target::Inet(self.0)])
///     }
///     fn select(&self, _uri: &Uri, candidates: &[Target], _pick: Pick<'_>) -> Option<usize> {
///         (!candidates.is_empty()).then_some(0)
///     }
/// }
///
/// register_route("backend", Arc::new(Fixed("127.0.0.1:8080".parse().unwrap())));
/// ```
#[async_trait]
pub trait Route: Send + Sync + 'static {
    /// The addresses requests for `uri` may go to. `retry` is true for a
    /// retry (a cache may then be trusted less).
    async fn resolve(&self, uri: &Uri, retry: bool) -> Result<Vec<Target>, Error>;

    /// Picks the index of the candidate this attempt uses; `None` fails the
    /// task with `TASK_ERROR`/`UPSTREAM_UNAVAILABLE`.
    fn select(&self, uri: &Uri, candidates: &[Target], pick: Pick<'_>) -> Option<usize>;

    /// How an attempt on `target` went: `Ok` when a reply came, else the
    /// error (a connection refused, a timeout…).
    fn report(&self, target: &Target, outcome: Result<(), &Error>) {
        let _ = (target, outcome);
    }
}

/// Makes `route` decide for every URL whose host is `name` (an upstream
/// name, say); replaces a route registered before under that name.
pub fn register_route(name: &str, route: Arc<dyn Route>) {
    let mut routes = crate::global::routes().write().unwrap_or_else(|e| e.into_inner());
    routes.insert(name.to_ascii_lowercase(), route);
}

/// Removes the route registered under `name`; false if there was none.
pub fn unregister_route(name: &str) -> bool {
    let mut routes = crate::global::routes().write().unwrap_or_else(|e| e.into_inner());
    routes.remove(&name.to_ascii_lowercase()).is_some()
}

/// The route for `uri`: registered for its host name, else DNS.
pub(crate) fn route_for(uri: &Uri) -> Arc<dyn Route> {
    if let Host::Name(name) = uri.host() {
        let routes = crate::global::routes().read().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = routes.get(name) {
            return r.clone();
        }
    }
    dns_route()
}

fn dns_route() -> Arc<dyn Route> {
    crate::global::dns_route().clone()
}

impl DnsRoute {
    pub(crate) fn new() -> DnsRoute {
        DnsRoute { failed: Mutex::default() }
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

/// How long an address that failed to connect is avoided while others work.
const FAILED_ADDRESS_PAUSE: Duration = Duration::from_secs(30);

#[async_trait]
impl Route for DnsRoute {
    async fn resolve(&self, uri: &Uri, retry: bool) -> Result<Vec<Target>, Error> {
        Ok(match uri.host() {
            Host::Unix(p) => vec![Target::Unix(p.clone())],
            host => dns::resolve_host(host, uri.port(), retry).await?.iter().map(|a| Target::Inet(*a)).collect(),
        })
    }

    fn select(&self, _uri: &Uri, candidates: &[Target], pick: Pick<'_>) -> Option<usize> {
        if candidates.len() <= 1 {
            return (!candidates.is_empty()).then_some(0);
        }
        let ranks: Vec<u8> = {
            let now = Instant::now();
            let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            let healthy = |t: &Target| match t {
                Target::Inet(a) => failed.get(a).is_none_or(|at| now.duration_since(*at) >= FAILED_ADDRESS_PAUSE),
                Target::Unix(_) => true,
            };
            // Preference: healthy and untried, then healthy, then any.
            candidates.iter().map(|t| u8::from(!healthy(t)) * 2 + u8::from(pick.was_tried(t))).collect()
        };
        let best = *ranks.iter().min()?;
        candidates
            .iter()
            .enumerate()
            .filter(|(i, _)| ranks[*i] == best)
            .min_by_key(|(_, t)| pick.load(t))
            .map(|(i, _)| i)
    }

    fn report(&self, target: &Target, outcome: Result<(), &Error>) {
        let Target::Inet(addr) = target else { return };
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(()) => {
                if !failed.is_empty() {
                    failed.remove(addr);
                }
            }
            Err(e) if is_connect_failure(e) => {
                failed.insert(*addr, Instant::now());
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
