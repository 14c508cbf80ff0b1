//! Upstreams: a name that stands for a set of servers, used as the host of
//! any URL (Workflow's `UpstreamManager`).
//!
//! ```no_run
//! use wf_core::upstream::{AddressParams, Policy, Upstream};
//!
//! let up = Upstream::create("backend", Policy::WeightedRandom { try_another: true });
//! up.add_server("10.0.0.1:8080").unwrap();
//! let mut heavy = AddressParams::default();
//! heavy.weight = 3;
//! up.add_server_with("10.0.0.2:8080", heavy).unwrap();
//! // Any protocol: http://backend/path, redis://backend/0, tlv://backend/…
//! // go to one of the two, three times out of four to the second.
//! ```
//!
//! An upstream is a [`Route`] registered under its name:
//! each attempt of a task picks a server by the upstream's [`Policy`],
//! then resolves it (a host name through wf's DNS cache with the server's
//! own TTLs). The port is the address's, else the URL's, else the
//! scheme's default. Connections to the server use its
//! [`AddressParams::endpoint`] parameters when it has them; TLS to a
//! host-name server sends and verifies that host name (to an IP address,
//! the URL's host, as in Workflow).
//!
//! Servers are added, removed, replaced, enabled and disabled at any time
//! from any thread; the same address added twice is two servers (twice
//! the share, two breakers). No lock is held across an await.
//!
//! Circuit breaking: a server whose attempts failed `max_fails` times in a
//! row (connection-level errors: refused, reset, timeouts, TLS errors,
//! its host name not resolving; not replies of any status, nor this
//! process's own limits) is *fused* for the upstream's MTTR (30 s,
//! [`Upstream::set_mttr`]), then half-open: picked again, one failure fuses
//! it again, one success heals it. When every server is fused and one is
//! past its MTTR, all become half-open. A retry never goes to a server
//! this request tried. Backups serve when the picked main and the mains of
//! its group cannot (an ungrouped backup when the policy finds no main).
//! When no server can serve, the task fails with
//! `TASK_ERROR`/`UPSTREAM_UNAVAILABLE` (1004).
//!
//! A pick's server list is a snapshot: picks take a shared lock only to
//! clone it; changes build a new one. A pick costs O(1) (round robin,
//! VNSWRR once its sequence is built), O(log n) (weighted random, the
//! ring) on a first attempt; a retry scans the mains once.
//!
//! Note for the benchmark (helper U2's `cargo xtask bench upstream`): the
//! hidden [`Upstream::pick_for_bench`] makes one pick without the network
//! and [`Upstream::report_for_bench`] reports an outcome for a server.

mod address;
mod breaker;
mod params;
mod policy;
mod ring;
mod server;
mod table;
mod vnswrr;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use params::{AddressParams, ServerType};

/// Checks a server address as [`Upstream::add_server`] does, without an
/// upstream (discovery uses it to skip the bad ones of a list that
/// [`Upstream::set_servers`] would refuse whole).
pub fn check_address(address: &str) -> Result<(), Error> {
    address::parse(address).map(|_| ())
}
pub use policy::{Policy, UpstreamHash, request_hash};

use crate::error::{Error, code};
use crate::net::Uri;
use crate::net::route::{self, DnsRoute, Pick, Route, Routed, Target, async_trait};
use crate::trace;
use address::Dest;
use server::Server;
use table::{Request, Table};

/// The default MTTR: how long a fused server is left alone.
const DEFAULT_MTTR: Duration = Duration::from_secs(30);

/// An upstream: a cheap handle (clones share it).
#[derive(Clone)]
pub struct Upstream {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.shared.name)
            .field("policy", &self.shared.policy)
            .field("servers", &crate::lock::read(&self.shared.table).servers.len())
            .finish()
    }
}

/// What the handles share; the route registered under the name.
struct Shared {
    name: String,
    policy: Policy,
    table: RwLock<Arc<Table>>,
    /// Round robin's turn.
    rr: AtomicUsize,
    /// The MTTR in nanoseconds.
    mttr: AtomicU64,
}

impl Upstream {
    /// Creates the upstream `name` (compared without case) with `policy`
    /// and no servers, and registers it as the route for URLs whose host
    /// is `name`; replaces an upstream or route of that name.
    pub fn create(name: &str, policy: Policy) -> Upstream {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            table: RwLock::new(Arc::new(Table::new(Vec::new(), &policy))),
            policy,
            rr: AtomicUsize::new(0),
            mttr: AtomicU64::new(DEFAULT_MTTR.as_nanos() as u64),
        });
        let up = Upstream { shared };
        let mut ups = crate::lock::lock(crate::global::upstreams());
        route::register_route(name, up.shared.clone());
        ups.insert(name.to_ascii_lowercase(), up.clone());
        up
    }

    /// The upstream named `name`, if one was created (and not deleted).
    pub fn get(name: &str) -> Option<Upstream> {
        crate::lock::lock(crate::global::upstreams()).get(&name.to_ascii_lowercase()).cloned()
    }

    /// Deletes the upstream `name` and its route (unless another route
    /// replaced it since); true if there was one (Workflow's
    /// `upstream_delete`: 0, then -1).
    pub fn delete(name: &str) -> bool {
        let mut ups = crate::lock::lock(crate::global::upstreams());
        match ups.remove(&name.to_ascii_lowercase()) {
            Some(up) => {
                let route: Arc<dyn Route> = up.shared.clone();
                route::unregister_route_if(name, &route);
                true
            }
            None => false,
        }
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The upstream's policy.
    pub fn policy(&self) -> &Policy {
        &self.shared.policy
    }

    /// Adds a main server of weight 1 with Workflow's default parameters.
    /// `address`: `ip`, `host`, `ip:port`, `host:port`, `[v6]:port`, or a
    /// Unix socket path; a bad one is `TASK_ERROR`/`URI_PARSE_FAILED` (or
    /// `URI_PORT_INVALID`).
    pub fn add_server(&self, address: &str) -> Result<(), Error> {
        self.add_server_with(address, AddressParams::default())
    }

    /// Adds a server with `params` (the same address again is another
    /// server).
    pub fn add_server_with(&self, address: &str, params: AddressParams) -> Result<(), Error> {
        let server = Arc::new(Server::new(address, params)?);
        self.update(|servers| servers.push(server));
        Ok(())
    }

    /// Removes every server with this address; how many.
    pub fn remove_server(&self, address: &str) -> usize {
        let mut removed = 0;
        self.update(|servers| {
            let before = servers.len();
            servers.retain(|s| &*s.address != address);
            removed = before - servers.len();
        });
        removed
    }

    /// Replaces every server with this address by one with `params` (added
    /// even if there was none, unless the address is bad); how many were
    /// removed.
    pub fn replace_server(&self, address: &str, params: AddressParams) -> usize {
        let server = match Server::new(address, params) {
            Ok(s) => Arc::new(s),
            Err(_e) => {
                trace::debug!(upstream = self.name(), address, error = %_e, "bad address not added");
                return 0;
            }
        };
        let mut removed = 0;
        self.update(|servers| {
            let before = servers.len();
            servers.retain(|s| &*s.address != address);
            removed = before - servers.len();
            servers.push(server);
        });
        removed
    }

    /// Takes the servers with this address back in (breakers reset); how
    /// many.
    pub fn enable_server(&self, address: &str) -> usize {
        self.set_disabled(address, false)
    }

    /// Takes the servers with this address out of picks until enabled;
    /// how many.
    pub fn disable_server(&self, address: &str) -> usize {
        self.set_disabled(address, true)
    }

    fn set_disabled(&self, address: &str, disabled: bool) -> usize {
        let table = self.table();
        let mut n = 0;
        for s in table.servers.iter().filter(|s| &*s.address == address) {
            s.set_disabled(disabled);
            n += 1;
        }
        n
    }

    /// The addresses of the main servers, in the order added (Workflow's
    /// `upstream_main_address_list`).
    pub fn main_addresses(&self) -> Vec<String> {
        self.table().main_addresses()
    }

    /// Every server (main and backup) with its parameters, in the order
    /// added.
    pub fn servers(&self) -> Vec<(String, AddressParams)> {
        self.table().servers.iter().map(|s| (s.address.to_string(), s.params.clone())).collect()
    }

    /// Replaces the whole list at once (for discovery); a server kept with
    /// the same address and parameters keeps its breaker state (and its
    /// being disabled). A bad address fails the call and changes nothing.
    pub fn set_servers(&self, servers: Vec<(String, AddressParams)>) -> Result<(), Error> {
        // Parsed first: all or nothing.
        let mut fresh = Vec::with_capacity(servers.len());
        for (address, params) in servers {
            fresh.push(Server::new(&address, params)?);
        }
        self.update(|old| {
            // The old entries by address (a discovery list may hold
            // thousands: no scan of them per new entry under the lock).
            let mut pool: HashMap<Arc<str>, Vec<Arc<Server>>> = HashMap::default();
            for o in old.drain(..) {
                pool.entry(o.address.clone()).or_default().push(o);
            }
            for s in fresh {
                let kept = pool.get_mut(&s.address).and_then(|same| {
                    let i = same.iter().position(|o| o.params == s.params)?;
                    Some(same.remove(i))
                });
                old.push(kept.unwrap_or_else(|| Arc::new(s)));
            }
        });
        Ok(())
    }

    /// How long a fused server is left alone before it is tried again
    /// (30 s; Workflow's `set_mttr_seconds`).
    pub fn set_mttr(&self, mttr: Duration) {
        self.shared.mttr.store(u64::try_from(mttr.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// One pick for a request with this path, query and fragment, as a
    /// first attempt would make it, without the network; the address of
    /// the server picked. For benchmarks and tests.
    #[doc(hidden)]
    pub fn pick_for_bench(&self, path: &str, query: &str, fragment: &str) -> Option<Arc<str>> {
        self.shared.pick(path, query, fragment, None).map(|s| s.address.clone())
    }

    /// Reports an attempt on the first server entry with this address, as
    /// the client machine does (`Ok`: a reply came). For tests and
    /// benchmarks.
    #[doc(hidden)]
    pub fn report_for_bench(&self, address: &str, outcome: Result<(), &Error>) {
        let table = self.table();
        if let Some(s) = table.servers.iter().find(|s| &*s.address == address) {
            self.shared.account(s, outcome);
        }
    }

    fn table(&self) -> Arc<Table> {
        crate::lock::read(&self.shared.table).clone()
    }

    /// Changes the server list and rebuilds what picks read.
    fn update(&self, change: impl FnOnce(&mut Vec<Arc<Server>>)) {
        let mut table = crate::lock::write(&self.shared.table);
        let mut servers = table.servers.clone();
        change(&mut servers);
        *table = Arc::new(Table::new(servers, &self.shared.policy));
    }
}

impl Shared {
    /// Picks the server entry for a request, `None` if none can serve.
    fn pick(
        &self,
        path: &str,
        query: &str,
        fragment: &str,
        tried: Option<&dyn Fn(&Server) -> bool>,
    ) -> Option<Arc<Server>> {
        let req = Request {
            path,
            query,
            fragment,
            tried: tried.unwrap_or(&|_| false),
            any_tried: tried.is_some(),
            now: Default::default(),
        };
        // Not picked under the lock: a user's hash or select function may
        // change the upstream.
        let table = crate::lock::read(&self.table).clone();
        if let Some(s) = table.pick(&self.policy, &self.rr, &req) {
            return Some(s);
        }
        if table.recover_all_if_all_fused(req.now()) {
            trace::debug!(upstream = self.name.as_str(), "every server fused: all half-open");
            return table.pick(&self.policy, &self.rr, &req);
        }
        None
    }

    /// Counts an attempt's outcome in the entry's breaker.
    fn account(&self, s: &Server, outcome: Result<(), &Error>) {
        match outcome {
            Ok(()) => s.breaker.success(),
            Err(e) if breaker::counts(e) => {
                let mttr = self.mttr.load(Ordering::Relaxed);
                if s.breaker.failure(s.params.max_fails_used(), breaker::now(), mttr) {
                    trace::debug!(upstream = self.name.as_str(), server = &*s.address, error = %e, "server fused");
                }
            }
            Err(_) => {}
        }
    }
}

fn is_entry(r: &Routed, s: &Server) -> bool {
    r.token().is_some_and(|t| std::ptr::addr_eq(Arc::as_ptr(t), s as *const Server))
}

#[async_trait]
impl Route for Shared {
    async fn route(&self, uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error> {
        let tried = |s: &Server| pick.tried().iter().any(|r| is_entry(r, s));
        let tried: Option<&dyn Fn(&Server) -> bool> = if pick.tried().is_empty() { None } else { Some(&tried) };
        let server = self
            .pick(uri.path(), uri.query().unwrap_or(""), uri.fragment().unwrap_or(""), tried)
            .ok_or(Error::task(code::UPSTREAM_UNAVAILABLE))?;
        let endpoint = server.params.endpoint.clone();
        let routed = match &server.dest {
            Dest::Ip(ip, port) => Routed::new(Target::Inet((*ip, port.unwrap_or(uri.port())).into())),
            Dest::Unix(path) => Routed::new(Target::Unix(path.clone())),
            Dest::Name(host, port) => {
                let p = &server.params;
                let dns = DnsRoute::shared();
                match dns
                    .route_to_with_ttl(host, port.unwrap_or(uri.port()), p.dns_ttl_default, p.dns_ttl_min, pick)
                    .await
                {
                    // TLS names the server's host, not the upstream.
                    Ok(r) => r.with_server_name(host.clone()),
                    Err(e) => {
                        self.account(&server, Err(&e));
                        return Err(e);
                    }
                }
            }
        };
        Ok(routed.with_endpoint(endpoint).with_token(server))
    }

    fn report(&self, routed: &Routed, outcome: Result<(), &Error>) {
        if let Some(s) = routed.token().and_then(|t| t.downcast_ref::<Server>()) {
            self.account(s, outcome);
            // A host-name server's addresses came from the DNS route: it
            // hears how its address did, as for any URL.
            if matches!(s.dest, Dest::Name(..)) {
                DnsRoute::shared().report(routed, outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests;
