//! The refresher: SRV records → an upstream's servers, on a timer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wf_core::Error;
use wf_core::upstream::{AddressParams, Policy, ServerType, Upstream};

use crate::error::DnsError;
use crate::resolver::Resolver;
use crate::srv::SrvLookup;
use crate::trace;

/// Keeps the servers of a wf [`Upstream`] in step with the SRV records of
/// a name, until dropped.
///
/// [`start`](SrvDiscoveryBuilder::start) looks the records up once,
/// creates the upstream with the servers found, then looks again on wf's
/// runtime each time the records' TTL runs out (clamped to
/// [`ttl_bounds`](SrvDiscoveryBuilder::ttl_bounds)). A lookup that fails
/// keeps the last good list (a `tracing` warning says why) and is tried
/// again after the lower bound. Dropping the handle stops the refreshes;
/// the upstream stays, with its last list, until
/// [`Upstream::delete`].
///
/// See the [crate](crate) documentation for how records map to servers.
#[derive(Debug)]
pub struct SrvDiscovery {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// Configures an [`SrvDiscovery`]: see [`SrvDiscovery::builder`].
#[derive(Debug, Clone)]
pub struct SrvDiscoveryBuilder {
    upstream: String,
    srv_name: String,
    server: Option<SocketAddr>,
    timeout: Duration,
    attempts: u32,
    ttl_min: Duration,
    ttl_max: Duration,
    policy: Option<Policy>,
    params: AddressParams,
}

/// What an [`SrvDiscovery`] did so far.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Status {
    /// Lookups that succeeded (the first one included).
    pub refreshes: u64,
    /// Lookups that failed; the upstream kept its list.
    pub failures: u64,
    /// Why the last failed lookup failed.
    pub last_error: Option<Error>,
    /// Servers in the upstream after the last successful lookup.
    pub servers: usize,
    /// When the next lookup is due, from the last lookup's end.
    pub next_refresh: Duration,
}

#[derive(Debug)]
struct Shared {
    upstream: Upstream,
    srv_name: String,
    resolver: Resolver,
    /// The most one whole lookup (SRV and targets) may take.
    lookup_limit: Duration,
    ttl_min: Duration,
    ttl_max: Duration,
    params: AddressParams,
    state: Mutex<State>,
    /// Serializes lookups (the timer's and [`SrvDiscovery::refresh`]'s).
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    status: Status,
    /// The list last given to the upstream.
    applied: Vec<(String, AddressParams)>,
}

impl SrvDiscovery {
    /// Discovery of the SRV records of `srv_name` (`_service._proto.domain`)
    /// into the upstream named `upstream` (what URLs then name as their
    /// host). Defaults: the first `nameserver` of `/etc/resolv.conf`, 2 s per
    /// attempt, 3 attempts, refresh between 5 s and 300 s, policy
    /// `WeightedRandom { try_another: true }`, Workflow's default server
    /// params.
    pub fn builder(upstream: &str, srv_name: &str) -> SrvDiscoveryBuilder {
        SrvDiscoveryBuilder {
            upstream: upstream.to_owned(),
            srv_name: srv_name.to_owned(),
            server: None,
            timeout: Duration::from_secs(2),
            attempts: 3,
            ttl_min: Duration::from_secs(5),
            ttl_max: Duration::from_secs(300),
            policy: None,
            params: AddressParams::default(),
        }
    }

    /// The upstream this discovery feeds.
    pub fn upstream(&self) -> &Upstream {
        &self.shared.upstream
    }

    /// What it did so far.
    pub fn status(&self) -> Status {
        lock(&self.shared.state).status.clone()
    }

    /// Looks the records up now and applies them (the timer goes on as
    /// before); returns how many servers the upstream has. A failure keeps
    /// the last list, as a timed refresh does.
    pub async fn refresh(&self) -> Result<usize, Error> {
        self.shared.refresh().await.map(|_| lock(&self.shared.state).status.servers)
    }
}

impl Drop for SrvDiscovery {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SrvDiscoveryBuilder {
    /// The DNS server to ask, instead of `/etc/resolv.conf`'s.
    pub fn server(mut self, server: SocketAddr) -> Self {
        self.server = Some(server);
        self
    }

    /// How long each DNS attempt waits (2 s) and how many UDP attempts a
    /// query makes (3). A whole lookup, the SRV query and the queries for
    /// its targets, may take at most 4 × `attempts` × `timeout`.
    pub fn timeout(mut self, timeout: Duration, attempts: u32) -> Self {
        self.timeout = timeout;
        self.attempts = attempts;
        self
    }

    /// Refresh when the records' TTL runs out, but no sooner than `min`
    /// and no later than `max` (5 s and 300 s); a failed lookup is retried
    /// after `min`.
    pub fn ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.ttl_min = min;
        self.ttl_max = max.max(min);
        self
    }

    /// The upstream's policy (`WeightedRandom { try_another: true }`).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The params each server gets (endpoint params, `max_fails`, group…);
    /// weight and main/backup come from the records.
    pub fn params(mut self, params: AddressParams) -> Self {
        self.params = params;
        self
    }

    /// Looks the records up, creates the upstream (replacing one of that
    /// name) with the servers found, and starts refreshing on wf's runtime.
    ///
    /// Fails, creating nothing, when there is no DNS server to ask or the
    /// first lookup fails (`DNS_ERROR`: see [`DnsError`]'s conversion).
    /// From outside an async context:
    /// `wf_core::handle().block_on(builder.start())`.
    pub async fn start(self) -> Result<SrvDiscovery, Error> {
        let server = match self.server {
            Some(s) => s,
            None => Resolver::from_resolv_conf()?.server(),
        };
        let resolver = Resolver::new(server).timeout(self.timeout).attempts(self.attempts);
        let lookup_limit = self.timeout.saturating_mul(self.attempts.max(1)).saturating_mul(LOOKUP_LIMIT_FACTOR);
        let first = bounded_lookup(&resolver, &self.srv_name, lookup_limit).await?;
        let policy = self.policy.unwrap_or(Policy::WeightedRandom { try_another: true });
        let upstream = Upstream::create(&self.upstream, policy);
        let shared = Arc::new(Shared {
            upstream,
            srv_name: self.srv_name,
            resolver,
            lookup_limit,
            ttl_min: self.ttl_min,
            ttl_max: self.ttl_max,
            params: self.params,
            state: Mutex::new(State::default()),
            refreshing: tokio::sync::Mutex::new(()),
        });
        let mut delay = match shared.apply(first) {
            Ok(d) => d,
            Err(e) => {
                Upstream::delete(shared.upstream.name());
                return Err(e);
            }
        };
        let weak = Arc::downgrade(&shared);
        let task = wf_core::handle().spawn(async move {
            loop {
                tokio::time::sleep(delay).await;
                let Some(shared) = weak.upgrade() else { return };
                delay = shared.refresh().await.unwrap_or(shared.ttl_min);
            }
        });
        Ok(SrvDiscovery { shared, task })
    }
}

impl Shared {
    /// One lookup, applied; returns the delay until the next one.
    async fn refresh(&self) -> Result<Duration, Error> {
        let _one = self.refreshing.lock().await;
        let outcome = match bounded_lookup(&self.resolver, &self.srv_name, self.lookup_limit).await {
            Ok(found) => self.apply(found),
            Err(e) => Err(Error::from(e)),
        };
        if let Err(e) = &outcome {
            trace::warning!(srv = %self.srv_name, upstream = self.upstream.name(), error = %e, "SRV refresh failed; the last list is kept");
            let mut state = lock(&self.state);
            state.status.failures += 1;
            state.status.last_error = Some(e.clone());
            state.status.next_refresh = self.ttl_min;
        }
        outcome
    }

    /// Gives the upstream the servers of `found` (when they changed).
    fn apply(&self, found: SrvLookup) -> Result<Duration, Error> {
        let list = servers_of(&found, &self.params);
        if list.is_empty() {
            return Err(DnsError::NoRecords.into());
        }
        let delay = found.ttl.clamp(self.ttl_min, self.ttl_max);
        let mut state = lock(&self.state);
        if state.applied != list {
            self.upstream.set_servers(list.clone())?;
            state.applied = list;
        }
        state.status.refreshes += 1;
        state.status.servers = state.applied.len();
        state.status.next_refresh = delay;
        Ok(delay)
    }
}

/// The upstream servers for SRV lookup results: the lowest priority value
/// main, the others backup, weight 0 taken as 1; sorted by priority then
/// address, so that the same records in another order are the same list.
fn servers_of(found: &SrvLookup, template: &AddressParams) -> Vec<(String, AddressParams)> {
    let Some(best) = found.servers.iter().map(|s| s.priority).min() else { return Vec::new() };
    let mut servers: Vec<_> = found.servers.iter().collect();
    servers.sort_by_key(|s| (s.priority, s.addr, s.weight));
    servers
        .into_iter()
        .map(|s| {
            let mut p = template.clone();
            p.weight = s.weight.max(1);
            p.server_type = if s.priority == best { ServerType::Main } else { ServerType::Backup };
            (s.addr.to_string(), p)
        })
        .collect()
}

/// How many times the worst single query a whole lookup may take.
const LOOKUP_LIMIT_FACTOR: u32 = 4;

/// `lookup_srv` under a deadline: a server answering SRV but stalling on
/// many targets must not stall the refresher for long.
async fn bounded_lookup(resolver: &Resolver, name: &str, limit: Duration) -> Result<SrvLookup, DnsError> {
    tokio::time::timeout(limit, resolver.lookup_srv(name)).await.unwrap_or(Err(DnsError::Timeout))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srv::SrvServer;

    fn server(addr: &str, priority: u16, weight: u16) -> SrvServer {
        SrvServer { addr: addr.parse().unwrap(), target: "t".into(), priority, weight }
    }

    #[test]
    fn records_to_servers() {
        let found = SrvLookup {
            servers: vec![
                server("127.0.0.2:81", 20, 7),
                server("127.0.0.1:80", 10, 0),
                server("[::1]:82", 10, 300),
                server("127.0.0.3:83", 30, 1),
            ],
            ttl: Duration::ZERO,
        };
        let list = servers_of(&found, &AddressParams::default());
        let got: Vec<_> = list.iter().map(|(a, p)| (a.as_str(), p.weight, p.server_type == ServerType::Main)).collect();
        assert_eq!(
            got,
            [
                ("127.0.0.1:80", 1, true),
                ("[::1]:82", 300, true),
                ("127.0.0.2:81", 7, false),
                ("127.0.0.3:83", 1, false)
            ]
        );
        assert!(servers_of(&SrvLookup { servers: vec![], ttl: Duration::ZERO }, &AddressParams::default()).is_empty());
    }
}
