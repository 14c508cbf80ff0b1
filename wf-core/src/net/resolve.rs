//! Name resolution with a process-wide cache (Workflow's `WFDnsResolver`
//! over `DnsCache`).
//!
//! Literal addresses need no lookup. Names are looked up by the
//! asynchronous resolver (`net::dns`'s, reached through
//! `global::dns_async_lookup`), or with blocking `getaddrinfo` on
//! tokio's blocking threads, at most `settings().dns_threads` at once; one
//! lookup per (host, port) in flight: concurrent callers share its result.
//! Results are cached for `dns_ttl_default` on a task's first attempt and
//! trusted for only `dns_ttl_min` by retries. An expired entry is
//! refreshed by the first caller that finds it; while that lookup runs
//! other callers keep the old addresses, as in Workflow, and if it fails
//! every waiter gets the old addresses too (serve-stale). Errors are not
//! cached. An asynchronous lookup takes at most [`LOOKUP_TIMEOUT`] in all
//! (then `EAI_AGAIN`); a `getaddrinfo` lookup is bounded by the C
//! library's own `resolv.conf` timeout and attempts.
//!
//! The cache holds at most [`MAX_CACHED`] names: past
//! [`PRUNE_ABOVE`] (or twice the size left by the last pruning, whichever
//! is more) expired names are dropped, then the oldest until half the cap
//! is left, so pruning costs amortised constant time per lookup.

use std::collections::HashMap;
use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::uri::Host;
use crate::error::{Error, State};

/// Resolved addresses, in `getaddrinfo` order.
pub(crate) type Addrs = Arc<[SocketAddr]>;

type Key = (String, u16);
type Outcome = Option<Result<Addrs, Error>>;

/// A lookup in flight: callers wait on `rx` until it holds the outcome.
#[derive(Clone)]
struct Flight {
    id: u64,
    rx: watch::Receiver<Outcome>,
}

/// The longest an asynchronous lookup (every name server, search name
/// and attempt) may take before it fails with `EAI_AGAIN`.
pub(crate) const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Slot {
    /// The last successful lookup and when it finished.
    cached: Option<(Addrs, Instant)>,
    flight: Option<Flight>,
}

/// Resolved names and lookups in flight.
#[derive(Default)]
pub(crate) struct Cache {
    slots: HashMap<Key, Slot>,
    next_id: u64,
    /// The size at which the next insert prunes (0: [`PRUNE_ABOVE`]).
    prune_at: usize,
}

/// Beyond this many cached names, expired entries are dropped on insert.
const PRUNE_ABOVE: usize = 4096;
/// The most names cached: beyond, the oldest are dropped.
const MAX_CACHED: usize = 65_536;

impl Cache {
    /// Drops what is expired (older than `ttl`) once the cache grew past
    /// its pruning size, then the oldest entries while more than half of
    /// `cap` remain; lookups in flight are kept. The next pruning happens
    /// at twice the size left (between [`PRUNE_ABOVE`] and `cap`).
    fn prune(&mut self, ttl: Duration, cap: usize) {
        if self.slots.len() < self.prune_at.max(PRUNE_ABOVE.min(cap)) {
            return;
        }
        self.slots.retain(|_, s| s.flight.is_some() || s.cached.as_ref().is_some_and(|(_, at)| at.elapsed() < ttl));
        let keep = cap / 2;
        if self.slots.len() > keep {
            let mut ages: Vec<(Instant, Key)> = self
                .slots
                .iter()
                .filter(|(_, s)| s.flight.is_none())
                .filter_map(|(k, s)| s.cached.as_ref().map(|(_, at)| (*at, k.clone())))
                .collect();
            let excess = (self.slots.len() - keep).min(ages.len());
            if excess > 0 {
                ages.select_nth_unstable(excess - 1);
                for (_, k) in &ages[..excess] {
                    self.slots.remove(k);
                }
                crate::trace::debug!(dropped = excess, "DNS cache full: the oldest names dropped");
            }
        }
        self.prune_at = (2 * self.slots.len()).clamp(PRUNE_ABOVE.min(cap), cap);
    }
}

fn cache() -> MutexGuard<'static, Cache> {
    crate::global::dns_cache().lock().unwrap_or_else(PoisonError::into_inner)
}

/// Forgets every cached name (lookups in flight still finish and share
/// their result).
#[cfg(test)]
pub(crate) fn clear_cache() {
    let mut c = cache();
    c.slots.retain(|_, slot| {
        slot.cached = None;
        slot.flight.is_some()
    });
}

/// Resolves a URL host: an address at once, a name through the cache.
/// A Unix socket is not resolved: `SYS_ERROR`/`EINVAL`.
pub(crate) async fn resolve_host(host: &Host, port: u16, retry: bool) -> Result<Addrs, Error> {
    match host {
        Host::Ip(ip) => Ok(Arc::from([SocketAddr::new(*ip, port)])),
        Host::Name(name) => resolve(name, port, retry).await,
        Host::Unix(_) => Err(Error::sys(libc::EINVAL)),
    }
}

/// Resolves `host` (a name, or a literal IPv4/IPv6 address, brackets
/// allowed) to socket addresses with `port`.
///
/// A cached result is used while younger than `settings().dns_ttl_default`,
/// or `dns_ttl_min` when `retry` is true. Failures are
/// `DNS_ERROR` with the (negative) `EAI_*` code of `getaddrinfo`.
pub(crate) async fn resolve(host: &str, port: u16, retry: bool) -> Result<Addrs, Error> {
    let s = crate::settings();
    resolve_with_ttl(host, port, if retry { s.dns_ttl_min } else { s.dns_ttl_default }).await
}

fn literal(host: &str) -> Option<IpAddr> {
    let h = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    h.parse().ok()
}

pub(crate) async fn resolve_with_ttl(host: &str, port: u16, ttl: Duration) -> Result<Addrs, Error> {
    if let Some(ip) = literal(host) {
        return Ok(Arc::from([SocketAddr::new(ip, port)]));
    }
    let key: Key = (host.to_ascii_lowercase(), port);
    let mut aborted = 0;
    let mut stale;
    loop {
        let (mut flight, start) = {
            let mut c = cache();
            let next_id = c.next_id;
            let slot = c.slots.entry(key.clone()).or_default();
            if let Some((addrs, at)) = &slot.cached {
                if at.elapsed() < ttl {
                    return Ok(addrs.clone());
                }
                // Being refreshed (a lookup bounded by LOOKUP_TIMEOUT): the
                // stale addresses meanwhile.
                if slot.flight.is_some() {
                    return Ok(addrs.clone());
                }
            }
            stale = slot.cached.as_ref().map(|(addrs, _)| addrs.clone());
            match &slot.flight {
                Some(f) => (f.clone(), None),
                None => {
                    let (tx, rx) = watch::channel(None);
                    let f = Flight { id: next_id, rx };
                    slot.flight = Some(f.clone());
                    c.next_id += 1;
                    (f, Some(tx))
                }
            }
        };
        // Started with the cache unlocked: a lookup task dropped at once
        // (runtime shutting down) unlocks it to take itself out.
        if let Some(tx) = start {
            start_lookup(key.clone(), flight.id, tx);
        }
        // The lookup runs in its own task, so dropping this future (a
        // canceled or timed-out caller) does not cancel it for others.
        match flight.rx.wait_for(Option::is_some).await {
            Ok(outcome) => match (outcome.as_ref(), stale) {
                // The refresh failed: the old addresses still serve.
                (Some(Err(_e)), Some(addrs)) => {
                    crate::trace::debug!(host, error = %_e, "DNS refresh failed, the stale addresses used");
                    return Ok(addrs);
                }
                (Some(r), _) => return r.clone(),
                (None, _) => {}
            },
            // The lookup task was dropped (its runtime shut down): it took
            // itself out of the cache first, so the next turn starts anew,
            // a few times at most.
            Err(_) => {
                aborted += 1;
                if aborted >= 3 {
                    return Err(Error::new(State::DnsError, libc::EAI_AGAIN));
                }
            }
        }
    }
}

/// Completes a flight: on drop, unfinished or not, the flight leaves the
/// cache before its sender is dropped, so that waiters woken by the drop
/// never find it again.
struct Publisher {
    key: Key,
    id: u64,
    tx: watch::Sender<Outcome>,
}

impl Publisher {
    fn publish(self, outcome: Result<Addrs, Error>) {
        {
            let mut c = cache();
            c.prune(crate::settings().dns_ttl_default, MAX_CACHED);
            let slot = c.slots.entry(self.key.clone()).or_default();
            if let Ok(addrs) = &outcome {
                slot.cached = Some((addrs.clone(), Instant::now()));
            }
            if slot.flight.as_ref().is_some_and(|f| f.id == self.id) {
                slot.flight = None;
            }
            if slot.cached.is_none() && slot.flight.is_none() {
                c.slots.remove(&self.key);
            }
        }
        self.tx.send_replace(Some(outcome));
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if self.tx.borrow().is_some() {
            return;
        }
        let mut c = cache();
        if let Some(slot) = c.slots.get_mut(&self.key) {
            if slot.flight.as_ref().is_some_and(|f| f.id == self.id) {
                slot.flight = None;
                if slot.cached.is_none() {
                    c.slots.remove(&self.key);
                }
            }
        }
    }
}

fn start_lookup(key: Key, id: u64, tx: watch::Sender<Outcome>) {
    let publisher = Publisher { key, id, tx };
    let task = async move {
        #[cfg(test)]
        {
            let (host, port) = &publisher.key;
            if let Some(d) = test_hooks::on_lookup(host, *port) {
                tokio::time::sleep(d).await;
            }
        }
        if crate::settings().resolver == crate::runtime::Resolver::Async {
            let (host, port) = &publisher.key;
            let lookup = (crate::global::dns_async_lookup())(host.clone(), *port);
            let outcome = match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                Ok(r) => r.map(Addrs::from),
                Err(_) => {
                    crate::trace::debug!(host, "DNS lookup gave up after LOOKUP_TIMEOUT");
                    Err(Error::new(State::DnsError, libc::EAI_AGAIN))
                }
            };
            publisher.publish(outcome);
            return;
        }
        let outcome = match crate::global::dns_lookup_limit().acquire().await {
            Ok(permit) => {
                let (host, port) = publisher.key.clone();
                let r = tokio::task::spawn_blocking(move || lookup(&host, port)).await;
                drop(permit);
                match r {
                    Ok(r) => r,
                    // The blocking pool is shutting down.
                    Err(_) => Err(Error::new(State::DnsError, libc::EAI_AGAIN)),
                }
            }
            Err(_) => Err(Error::new(State::DnsError, libc::EAI_AGAIN)),
        };
        publisher.publish(outcome);
    };
    // The asynchronous resolver needs sockets and timers: it runs on wf's
    // runtime. A `getaddrinfo` lookup runs on the caller's runtime, or on
    // wf's when called from elsewhere.
    if crate::settings().resolver == crate::runtime::Resolver::Async {
        drop(crate::handle().spawn(task));
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(h) => drop(h.spawn(task)),
        Err(_) => drop(crate::handle().spawn(task)),
    }
}

#[cfg(test)]
pub(crate) mod test_hooks {
    //! Observing and slowing lookups, per (host, port).

    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError};
    use std::time::Duration;

    #[derive(Default)]
    struct Hooks {
        counts: HashMap<(String, u16), usize>,
        delays: HashMap<(String, u16), Duration>,
    }

    static HOOKS: Mutex<Option<Hooks>> = Mutex::new(None);

    fn with<R>(f: impl FnOnce(&mut Hooks) -> R) -> R {
        f(HOOKS.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(Hooks::default))
    }

    /// Called by every lookup: counts it, and tells the delay set for it.
    pub(crate) fn on_lookup(host: &str, port: u16) -> Option<Duration> {
        let key = (host.to_string(), port);
        with(|h| {
            *h.counts.entry(key.clone()).or_default() += 1;
            h.delays.get(&key).copied()
        })
    }

    /// How many lookups ran for (host, port).
    pub(crate) fn lookups(host: &str, port: u16) -> usize {
        with(|h| h.counts.get(&(host.to_string(), port)).copied().unwrap_or(0))
    }

    /// Makes every lookup of (host, port) sleep `d` first.
    pub(crate) fn set_delay(host: &str, port: u16, d: Duration) {
        with(|h| h.delays.insert((host.to_string(), port), d));
    }
}

/// Frees a `getaddrinfo` result list when dropped.
struct AddrInfoList(*mut libc::addrinfo);

impl Drop for AddrInfoList {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a successful getaddrinfo call and
            // is freed exactly once, here.
            unsafe { libc::freeaddrinfo(self.0) };
        }
    }
}

/// Converts one `addrinfo` entry's address, if it is IPv4 or IPv6.
///
/// # Safety
/// `ai` must be an entry of a live `getaddrinfo` result.
unsafe fn sockaddr_of(ai: &libc::addrinfo, port: u16) -> Option<SocketAddr> {
    if ai.ai_addr.is_null() {
        return None;
    }
    let len = ai.ai_addrlen as usize;
    match ai.ai_family {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the address is a sockaddr_in and its
            // length covers one; read_unaligned makes no alignment demand.
            let sin = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in>()) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in6>()) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(ip, port, u32::from_be(sin6.sin6_flowinfo), sin6.sin6_scope_id)))
        }
        _ => None,
    }
}

/// One blocking `getaddrinfo(host, NULL, {AF_UNSPEC, SOCK_STREAM,
/// AI_ADDRCONFIG})`, addresses given `port`, in the order returned, exact
/// duplicates dropped.
fn lookup(host: &str, port: u16) -> Result<Addrs, Error> {
    let dns_err = |eai| Error::new(State::DnsError, eai);
    // A name with a NUL cannot exist.
    let c_host = CString::new(host).map_err(|_| dns_err(libc::EAI_NONAME))?;
    // SAFETY: addrinfo is a plain C struct; all-zero (null pointers) is
    // the documented way to start hints.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = match crate::settings().address_family {
        crate::runtime::AddressFamily::Unspecified => libc::AF_UNSPEC,
        crate::runtime::AddressFamily::Ipv4 => libc::AF_INET,
        crate::runtime::AddressFamily::Ipv6 => libc::AF_INET6,
    };
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_ADDRCONFIG;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: c_host is NUL-terminated and outlives the call, the service
    // may be null, hints is initialized, res is a valid out-pointer.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        // On failure nothing is allocated (res is left untouched or null).
        return Err(dns_err(rc));
    }
    let list = AddrInfoList(res);
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut p = list.0;
    while !p.is_null() {
        // SAFETY: p walks the ai_next chain of the live result `list`,
        // which is freed only when `list` drops after this loop.
        let ai = unsafe { &*p };
        // SAFETY: ai is an entry of that live result.
        if let Some(sa) = unsafe { sockaddr_of(ai, port) } {
            if !out.contains(&sa) {
                out.push(sa);
            }
        }
        p = ai.ai_next;
    }
    drop(list);
    if out.is_empty() {
        return Err(dns_err(libc::EAI_NONAME));
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::test_hooks::{lookups, set_delay};
    use super::*;
    use std::future::Future;

    /// Tests that expect cache hits hold it shared; clearing takes it alone.
    static CACHE_STATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

    #[tokio::test]
    async fn literals_skip_lookup() {
        let a = resolve("127.0.0.1", 1001, false).await.unwrap();
        assert_eq!(&a[..], &["127.0.0.1:1001".parse::<SocketAddr>().unwrap()]);
        let a = resolve("::1", 1002, true).await.unwrap();
        assert_eq!(&a[..], &["[::1]:1002".parse::<SocketAddr>().unwrap()]);
        let a = resolve("[::1]", 1003, false).await.unwrap();
        assert_eq!(&a[..], &["[::1]:1003".parse::<SocketAddr>().unwrap()]);
        for (h, p) in [("127.0.0.1", 1001), ("::1", 1002), ("[::1]", 1003)] {
            assert_eq!(lookups(h, p), 0);
        }
        assert!(!cache().slots.keys().any(|(_, p)| (1001..=1003).contains(p)));
        let a = resolve_host(&Host::Ip("10.1.2.3".parse().unwrap()), 5, false).await.unwrap();
        assert_eq!(&a[..], &["10.1.2.3:5".parse::<SocketAddr>().unwrap()]);
        let e = resolve_host(&Host::Unix("/tmp/x".into()), 0, false).await.unwrap_err();
        assert_eq!(e, Error::sys(libc::EINVAL));
    }

    #[tokio::test]
    async fn localhost_is_loopback() {
        let a = resolve("localhost", 2001, false).await.unwrap();
        assert!(!a.is_empty());
        assert!(a.iter().all(|sa| sa.ip().is_loopback() && sa.port() == 2001), "{a:?}");
        let b = resolve_host(&Host::Name("LocalHost".into()), 2001, false).await.unwrap();
        assert_eq!(a, b);
    }

    #[tokio::test]
    async fn invalid_tld_fails_fast() {
        let t = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(20), resolve("nonexistent.invalid", 3001, false)).await;
        let e = r.expect("getaddrinfo for .invalid hung (network DNS?)").unwrap_err();
        assert_eq!(e.state(), State::DnsError);
        assert!(e.code() < 0, "{e:?}");
        assert!(!e.to_string().is_empty() && e.to_string() != "Unknown error", "{e}");
        eprintln!("nonexistent.invalid: {e:?} \"{e}\" in {:?}", t.elapsed());
        // A NUL in a name fails without lookup side effects.
        let e = resolve("bad\0name", 3002, false).await.unwrap_err();
        assert_eq!(e, Error::new(State::DnsError, libc::EAI_NONAME));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn single_flight_shares_result() {
        let _g = CACHE_STATE.read().await;
        let port = 4001;
        set_delay("localhost", port, Duration::from_millis(200));
        let tasks: Vec<_> =
            (0..20).map(|_| tokio::spawn(async move { resolve("localhost", port, false).await })).collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        assert_eq!(lookups("localhost", port), 1);
        assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
        // Cached now.
        resolve("LOCALHOST", port, true).await.unwrap();
        assert_eq!(lookups("localhost", port), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn single_flight_shares_error_uncached() {
        let port = 4002;
        let host = "nonexistent.invalid";
        set_delay(host, port, Duration::from_millis(200));
        let tasks: Vec<_> = (0..20).map(|_| tokio::spawn(async move { resolve(host, port, false).await })).collect();
        let mut errors = Vec::new();
        for t in tasks {
            errors.push(t.await.unwrap().unwrap_err());
        }
        assert_eq!(lookups(host, port), 1);
        assert!(errors.iter().all(|e| *e == errors[0] && e.state() == State::DnsError));
        // Errors are not cached.
        resolve(host, port, false).await.unwrap_err();
        assert_eq!(lookups(host, port), 2);
        assert!(!cache().slots.contains_key(&(host.to_string(), port)));
    }

    #[tokio::test]
    async fn canceled_caller_does_not_cancel_lookup() {
        let _g = CACHE_STATE.read().await;
        let port = 4003;
        set_delay("localhost", port, Duration::from_millis(200));
        let r = tokio::time::timeout(Duration::from_millis(20), resolve("localhost", port, false)).await;
        assert!(r.is_err());
        // The lookup went on and the next caller shares it.
        resolve("localhost", port, false).await.unwrap();
        assert_eq!(lookups("localhost", port), 1);
    }

    #[test]
    fn lookup_task_dropped_with_its_runtime() {
        let port = 4004;
        set_delay("localhost", port, Duration::from_millis(300));
        let a = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        // The lookup task starts on runtime `a` and outlives this caller.
        a.block_on(async {
            let r = tokio::time::timeout(Duration::from_millis(20), resolve("localhost", port, false)).await;
            assert!(r.is_err());
        });
        let b = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let waiter = b.spawn(async move { resolve("localhost", port, false).await });
        std::thread::sleep(Duration::from_millis(50));
        // With getaddrinfo, dropping `a` drops the lookup task and the
        // waiter starts another; the asynchronous resolver runs on wf's
        // runtime, which `a` cannot take down.
        drop(a);
        let r = b.block_on(waiter).unwrap().unwrap();
        assert!(r[0].ip().is_loopback());
        let expected = if crate::settings().resolver == crate::runtime::Resolver::Async { 1 } else { 2 };
        assert_eq!(lookups("localhost", port), expected);
    }

    #[test]
    fn cache_capped_and_pruned_rarely() {
        let now = Instant::now();
        let slot = |age: u64| Slot {
            cached: Some((Arc::from([]), now.checked_sub(Duration::from_secs(age)).unwrap_or(now))),
            flight: None,
        };
        let mut c = Cache::default();
        // 10,000 fresh names (ages 0..10,000 s, TTL one day) and a cap of
        // 8,192: the oldest go, down to half the cap.
        for i in 0..10_000u64 {
            c.slots.insert((format!("n{i}"), 0), slot(i));
        }
        c.prune(Duration::from_secs(86_400), 8_192);
        assert_eq!(c.slots.len(), 4_096);
        assert!(c.slots.contains_key(&("n0".into(), 0)) && !c.slots.contains_key(&("n4096".into(), 0)));
        assert_eq!(c.prune_at, 8_192);
        // Below the pruning size nothing is scanned, even expired names.
        c.slots.insert(("old".into(), 0), slot(100_000));
        c.prune(Duration::from_secs(86_400), 8_192);
        assert!(c.slots.contains_key(&("old".into(), 0)));
        // Expired names go first.
        for i in 0..5_000u64 {
            c.slots.insert((format!("e{i}"), 0), slot(90_000));
        }
        c.prune(Duration::from_secs(86_400), 8_192);
        assert_eq!(c.slots.len(), 4_096);
        assert!(!c.slots.keys().any(|(k, _)| k.starts_with('e') || k == "old"));
    }

    #[tokio::test]
    async fn failed_refresh_serves_stale() {
        let _g = CACHE_STATE.read().await;
        let key: Key = ("stale.invalid".into(), 6001);
        let old: Addrs = Arc::from(["192.0.2.9:6001".parse::<SocketAddr>().unwrap()]);
        let at = Instant::now().checked_sub(Duration::from_secs(10)).unwrap_or_else(Instant::now);
        cache().slots.insert(key.clone(), Slot { cached: Some((old.clone(), at)), flight: None });
        // The refresh fails (.invalid never exists): the old addresses.
        let a = resolve_with_ttl("stale.invalid", 6001, Duration::from_secs(1)).await.unwrap();
        assert!(Arc::ptr_eq(&a, &old));
        assert_eq!(lookups("stale.invalid", 6001), 1);
        // Nothing cached: the error.
        let e = resolve_with_ttl("stale.invalid", 6002, Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(e.state(), State::DnsError);
    }

    #[tokio::test]
    async fn ttl() {
        let _g = CACHE_STATE.write().await;
        let port = 5001;
        clear_cache();
        let n0 = lookups("localhost", port);
        let a = resolve("localhost", port, false).await.unwrap();
        assert_eq!(lookups("localhost", port), n0 + 1);
        let b = resolve("localhost", port, false).await.unwrap();
        assert_eq!(lookups("localhost", port), n0 + 1);
        assert!(Arc::ptr_eq(&a, &b));
        // A retry with the default settings (60 s) still trusts it.
        resolve("localhost", port, true).await.unwrap();
        assert_eq!(lookups("localhost", port), n0 + 1);
        // Past the TTL, a new lookup.
        resolve_with_ttl("localhost", port, Duration::ZERO).await.unwrap();
        assert_eq!(lookups("localhost", port), n0 + 2);
        resolve_with_ttl("localhost", port, Duration::from_secs(3600)).await.unwrap();
        assert_eq!(lookups("localhost", port), n0 + 2);
        // Different port, different entry.
        resolve("localhost", port + 1, false).await.unwrap();
        assert_eq!(lookups("localhost", port + 1), 1);
        // Cleared: looked up again.
        clear_cache();
        resolve("localhost", port, false).await.unwrap();
        assert_eq!(lookups("localhost", port), n0 + 3);
    }

    #[test]
    fn lookup_blocking() {
        let a = lookup("localhost", 80).unwrap();
        assert!(a.iter().all(|sa| sa.ip().is_loopback()));
        // Unique addresses.
        for (i, x) in a.iter().enumerate() {
            assert!(!a[i + 1..].contains(x));
        }
    }

    #[test]
    fn resolve_outside_a_runtime() {
        // Polled with no tokio runtime around: the lookup runs on wf's.
        let mut f = std::pin::pin!(resolve("localhost", 6001, false));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let deadline = Instant::now() + Duration::from_secs(20);
        let r = loop {
            if let std::task::Poll::Ready(r) = f.as_mut().poll(&mut cx) {
                break r;
            }
            assert!(Instant::now() < deadline, "resolve never finished");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(r.unwrap()[0].ip().is_loopback());
    }
}
