//! An upstream's server list as picks read it: rebuilt whole on every
//! change (rare), read under a shared lock by picks (many).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::policy::{Policy, request_hash};
use super::ring::Ring;
use super::server::Server;
use super::vnswrr::Vnswrr;

/// The mains and backups of one group.
#[derive(Debug, Default)]
struct Group {
    mains: Vec<u32>,
    backups: Vec<u32>,
}

/// The servers of an upstream and what its policy picks with.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Every entry, in the order added.
    pub(crate) servers: Vec<Arc<Server>>,
    /// The main entries, in the order added.
    mains: Vec<Arc<Server>>,
    /// Running sums of the mains' weights.
    prefix: Vec<u64>,
    groups: HashMap<i32, Group>,
    /// Backups without a group (indices into `servers`).
    ungrouped_backups: Vec<u32>,
    /// The mains' group ids.
    main_groups: Vec<Option<i32>>,
    ring: Ring,
    vnswrr: Option<Mutex<Vnswrr>>,
}

/// What a pick needs to know about one request.
pub(crate) struct Request<'a> {
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) fragment: &'a str,
    /// Whether this request tried the entry already.
    pub(crate) tried: &'a dyn Fn(&Server) -> bool,
    /// Whether it tried any (false on a first attempt: no scan needed).
    pub(crate) any_tried: bool,
    /// Now, on the breaker clock, read at most once and only when a
    /// breaker is tripped (0 until read): reading the clock costs a third
    /// of a pick.
    pub(crate) now: std::cell::Cell<u64>,
}

impl Request<'_> {
    /// The entry may serve this request: up and not tried by it.
    fn can_serve(&self, s: &Server) -> bool {
        s.is_up(|| self.now()) && !(self.any_tried && (self.tried)(s))
    }

    /// Now on the breaker clock (read once).
    pub(crate) fn now(&self) -> u64 {
        match self.now.get() {
            0 => {
                let now = super::breaker::now();
                self.now.set(now);
                now
            }
            now => now,
        }
    }
}

/// A cheap random number (xorshift64*, per thread, seeded from std's
/// random hasher keys).
pub(crate) fn random() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(&h as *const _ as usize);
            h.finish() | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

fn below(n: u64) -> u64 {
    // Multiply-shift: unbiased enough for weights below 2^32·65535.
    ((u128::from(random()) * u128::from(n)) >> 64) as u64
}

impl Table {
    pub(crate) fn new(servers: Vec<Arc<Server>>, policy: &Policy) -> Table {
        let mut t = Table { servers, ..Table::default() };
        let mut sum = 0u64;
        for (i, s) in t.servers.iter().enumerate() {
            let group = s.params.group_used();
            if s.is_main() {
                sum += u64::from(s.params.weight_used());
                t.prefix.push(sum);
                t.mains.push(s.clone());
                t.main_groups.push(group);
                if let Some(g) = group {
                    t.groups.entry(g).or_default().mains.push(i as u32);
                }
            } else {
                match group {
                    Some(g) => t.groups.entry(g).or_default().backups.push(i as u32),
                    None => t.ungrouped_backups.push(i as u32),
                }
            }
        }
        if policy.uses_ring() {
            t.ring = Ring::new(&t.mains);
        }
        if matches!(policy, Policy::Vnswrr) {
            let weights = t.mains.iter().map(|s| s.params.weight_used()).collect();
            t.vnswrr = Some(Mutex::new(Vnswrr::new(weights, random() as usize)));
        }
        t
    }

    /// Picks the entry for `req` as `policy` says (see [`Policy`]), `None`
    /// when no entry can serve it.
    pub(crate) fn pick(&self, policy: &Policy, rr: &AtomicUsize, req: &Request<'_>) -> Option<Arc<Server>> {
        if self.servers.is_empty() {
            return None;
        }
        let first = if self.mains.is_empty() { None } else { self.first(policy, rr, req) };
        if let Some(i) = first {
            if req.can_serve(&self.mains[i]) {
                return Some(self.mains[i].clone());
            }
            // Another of the picked server's group, main or backup.
            if let Some(g) = self.main_groups[i] {
                if let Some(s) = self.group_one(g, req) {
                    return Some(s);
                }
            }
        }
        if policy.try_another() && !self.mains.is_empty() {
            if let Some(i) = self.another(policy, rr, first, req) {
                return Some(self.mains[i].clone());
            }
        }
        self.random_of(&self.ungrouped_backups, req)
    }

    /// The policy's first pick among the mains (the ring's and VNSWRR's
    /// walk on to one that can serve; the others may pick one that
    /// cannot, but not one this request tried, when another is left).
    fn first(&self, policy: &Policy, rr: &AtomicUsize, req: &Request<'_>) -> Option<usize> {
        let n = self.mains.len();
        match policy {
            Policy::WeightedRandom { .. } => {
                // By weight among the mains this request has not tried.
                let untried = |i: usize| !(req.tried)(&self.mains[i]);
                let tried_weight: u64 = match req.any_tried {
                    false => 0,
                    true => {
                        (0..n).filter(|i| !untried(*i)).map(|i| u64::from(self.mains[i].params.weight_used())).sum()
                    }
                };
                let total = self.prefix[n - 1] - tried_weight;
                if total == 0 {
                    return None;
                }
                if tried_weight == 0 {
                    let x = below(total);
                    return Some(self.prefix.partition_point(|p| *p <= x));
                }
                let x = below(total);
                let mut s = 0;
                (0..n).filter(|i| untried(*i)).find(|i| {
                    s += u64::from(self.mains[*i].params.weight_used());
                    s > x
                })
            }
            Policy::RoundRobin { .. } => {
                let start = rr.fetch_add(1, Ordering::Relaxed) % n;
                (0..n).map(|k| (start + k) % n).find(|i| !(req.tried)(&self.mains[*i]))
            }
            Policy::ConsistentHash { hash } => {
                let h = match hash {
                    Some(f) => f(req.path, req.query, req.fragment),
                    None => request_hash(req.path, req.query, req.fragment),
                };
                self.ring.walk(h).find(|i| req.can_serve(&self.mains[*i]))
            }
            Policy::Manual { select, .. } => Some(select(req.path, req.query, req.fragment) as usize % n),
            Policy::Vnswrr => {
                let v = self.vnswrr.as_ref()?;
                crate::lock::lock(v).next(|i| req.can_serve(&self.mains[i]))
            }
        }
    }

    /// The second pick, among the mains that can serve.
    fn another(&self, policy: &Policy, rr: &AtomicUsize, first: Option<usize>, req: &Request<'_>) -> Option<usize> {
        let n = self.mains.len();
        match policy {
            Policy::WeightedRandom { .. } => {
                let ok = |i: &usize| req.can_serve(&self.mains[*i]);
                let total: u64 = (0..n).filter(ok).map(|i| u64::from(self.mains[i].params.weight_used())).sum();
                if total == 0 {
                    return None;
                }
                let x = below(total);
                let mut s = 0;
                (0..n).filter(ok).find(|i| {
                    s += u64::from(self.mains[*i].params.weight_used());
                    s > x
                })
            }
            Policy::RoundRobin { .. } => {
                let start = first.map_or_else(|| rr.fetch_add(1, Ordering::Relaxed), |f| f + 1) % n;
                (0..n).map(|k| (start + k) % n).find(|i| req.can_serve(&self.mains[*i]))
            }
            Policy::Manual { second, .. } => {
                let h = match second {
                    Some(f) => f(req.path, req.query, req.fragment),
                    None => request_hash(req.path, req.query, req.fragment),
                };
                self.ring.walk(h).find(|i| req.can_serve(&self.mains[*i]))
            }
            // Their first pick walked on to one that could serve; if it
            // cannot now (disabled or fused by another thread meanwhile),
            // walk again.
            Policy::ConsistentHash { .. } | Policy::Vnswrr => self.first(policy, rr, req),
        }
    }

    /// A main of group `g` that can serve, else a backup of it.
    fn group_one(&self, g: i32, req: &Request<'_>) -> Option<Arc<Server>> {
        let group = self.groups.get(&g)?;
        self.random_of(&group.mains, req).or_else(|| self.random_of(&group.backups, req))
    }

    /// One of `entries` that can serve, from a random start.
    fn random_of(&self, entries: &[u32], req: &Request<'_>) -> Option<Arc<Server>> {
        if entries.is_empty() {
            return None;
        }
        let n = entries.len();
        let start = below(n as u64) as usize;
        (0..n).map(|k| &self.servers[entries[(start + k) % n] as usize]).find(|s| req.can_serve(s)).cloned()
    }

    /// Every entry that is not disabled is fused, and one of them is past
    /// its MTTR: all of them become half-open (Workflow's breaker check).
    pub(crate) fn recover_all_if_all_fused(&self, now: u64) -> bool {
        let mut live = self.servers.iter().filter(|s| !s.is_disabled()).peekable();
        if live.peek().is_none() {
            return false;
        }
        let mut any_past = false;
        for s in live {
            if !s.breaker.is_tripped() {
                return false;
            }
            any_past |= s.breaker.is_half_open(now);
        }
        if any_past {
            for s in &self.servers {
                s.breaker.half_open();
            }
        }
        any_past
    }

    /// The addresses of the main entries, in the order added.
    pub(crate) fn main_addresses(&self) -> Vec<String> {
        self.mains.iter().map(|s| s.address.to_string()).collect()
    }

    #[cfg(test)]
    pub(crate) fn ring_len(&self) -> usize {
        self.ring.len()
    }
}
