//! Client connection pools, one per target.
//!
//! A target may have at most `max_connections` connections open; idle ones
//! are reused most-recently-released first, closed when their keep-alive
//! runs out, and never handed out once the peer closed them.

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until, timeout_at};

use crate::error::{Error, TimeoutReason};
use crate::net::conn::Connection;
use crate::net::route::Target;
use crate::runtime;

trait IdleConn: Send {
    fn reusable(&mut self) -> bool;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<C: Send + 'static> IdleConn for Connection<C> {
    fn reusable(&mut self) -> bool {
        self.is_reusable()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

struct Idle {
    conn: Box<dyn IdleConn>,
    expires: Instant,
}

/// One target's pool.
#[derive(Default)]
pub(crate) struct Entry {
    /// Idle connections, the most recently released last.
    idle: Vec<Idle>,
    /// Connections open, idle or in use (or being connected).
    open: usize,
    waiters: VecDeque<oneshot::Sender<()>>,
    sweeping: bool,
}

impl Entry {
    fn wake_one(&mut self) {
        while let Some(w) = self.waiters.pop_front() {
            if w.send(()).is_ok() {
                return;
            }
        }
    }
}

/// A protocol value with its handshake: what separates pooled connections
/// besides the address and TLS, compared and hashed through `dyn`.
pub(crate) trait KeyPart: Send + Sync + 'static {
    fn same(&self, other: &dyn KeyPart) -> bool;
    fn hash_into(&self, h: &mut dyn Hasher);
    fn as_any(&self) -> &dyn Any;
}

impl<T: Eq + Hash + Send + Sync + 'static> KeyPart for T {
    fn same(&self, other: &dyn KeyPart) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }

    fn hash_into(&self, mut h: &mut dyn Hasher) {
        TypeId::of::<T>().hash(&mut h);
        self.hash(&mut h);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What separates pooled connections: the address, the TLS
/// configuration, and the protocol value with its handshake (credentials,
/// database…).
pub(crate) struct PoolKey {
    target: Target,
    tls: usize,
    protocol: Box<dyn KeyPart>,
}

impl PoolKey {
    pub(crate) fn new(target: Target, tls: usize, protocol: Box<dyn KeyPart>) -> PoolKey {
        PoolKey { target, tls, protocol }
    }

    /// Whether this is the key [`new`](PoolKey::new) would make of
    /// `target`, `tls` and `(protocol, handshake)`, without making it.
    pub(crate) fn is<P, H>(&self, target: &Target, tls: usize, protocol: &P, handshake: &H) -> bool
    where
        P: Eq + 'static,
        H: Eq + 'static,
    {
        self.tls == tls
            && self.target == *target
            && self.protocol.as_any().downcast_ref::<(P, H)>().is_some_and(|(p, h)| p == protocol && h == handshake)
    }
}

impl PartialEq for PoolKey {
    fn eq(&self, other: &PoolKey) -> bool {
        self.target == other.target && self.tls == other.tls && self.protocol.same(other.protocol.as_ref())
    }
}

impl Eq for PoolKey {}

impl Hash for PoolKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.target.hash(h);
        self.tls.hash(h);
        self.protocol.hash_into(h);
    }
}

impl std::fmt::Debug for PoolKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolKey").field("target", &self.target).field("tls", &self.tls).finish_non_exhaustive()
    }
}

/// Every target's pool.
pub(crate) type Entries = rustc_hash::FxHashMap<Arc<PoolKey>, Entry>;

fn entries() -> MutexGuard<'static, Entries> {
    crate::lock::lock(crate::global::pools())
}

/// A slot in a target's pool: with a connection (reused, or connected by
/// the holder), or still empty. Dropping it closes the connection and
/// frees the slot.
pub(crate) struct Lease<C: Send + 'static> {
    key: Arc<PoolKey>,
    conn: Option<Connection<C>>,
    reused: bool,
    held: bool,
}

impl<C: Send + 'static> Lease<C> {
    pub(crate) fn conn(&mut self) -> Option<&mut Connection<C>> {
        self.conn.as_mut()
    }

    pub(crate) fn set_conn(&mut self, conn: Connection<C>) {
        self.conn = Some(conn);
    }

    /// Whether the connection came from the idle list.
    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    /// Closes the connection but keeps the slot, to connect again.
    pub(crate) fn discard_conn(&mut self) {
        self.conn = None;
        self.reused = false;
    }

    /// Returns the connection for reuse for `keep_alive`, or closes it.
    pub(crate) fn release(mut self, keep_alive: Option<Duration>) {
        let conn = match (self.conn.take(), keep_alive) {
            (Some(c), Some(k)) if !k.is_zero() => c,
            _ => return, // Drop closes and frees the slot.
        };
        self.held = false;
        let expires = Instant::now() + keep_alive.unwrap_or_default();
        let mut map = entries();
        let entry = map.entry(self.key.clone()).or_default();
        entry.idle.push(Idle { conn: Box::new(conn), expires });
        entry.wake_one();
        if !entry.sweeping {
            entry.sweeping = true;
            let key = self.key.clone();
            runtime::spawn(sweep(key, expires));
        }
    }
}

impl<C: Send + 'static> Drop for Lease<C> {
    fn drop(&mut self) {
        if self.held {
            self.conn = None;
            let mut map = entries();
            if let Some(entry) = map.get_mut(&self.key) {
                entry.open = entry.open.saturating_sub(1);
                entry.wake_one();
                forget_if_unused(&mut map, &self.key);
            }
        }
    }
}

fn forget_if_unused(map: &mut Entries, key: &Arc<PoolKey>) {
    if let Some(e) = map.get(key) {
        if e.open == 0 && e.idle.is_empty() && e.waiters.is_empty() && !e.sweeping {
            map.remove(key);
        }
    }
}

/// Closes the idle connections of `key` whose keep-alive ran out.
async fn sweep(key: Arc<PoolKey>, mut next: Instant) {
    loop {
        sleep_until(next).await;
        let mut closed = Vec::new();
        {
            let mut map = entries();
            let Some(entry) = map.get_mut(&key) else { return };
            let now = Instant::now();
            let before = entry.idle.len();
            let (keep, expired): (Vec<Idle>, Vec<Idle>) = entry.idle.drain(..).partition(|i| i.expires > now);
            entry.idle = keep;
            closed.extend(expired);
            entry.open -= before - entry.idle.len();
            for _ in 0..(before - entry.idle.len()) {
                entry.wake_one();
            }
            match entry.idle.iter().map(|i| i.expires).min() {
                Some(at) => next = at,
                None => {
                    entry.sweeping = false;
                    forget_if_unused(&mut map, &key);
                    return;
                }
            }
        }
        drop(closed);
    }
}

/// Takes a slot for `key`: an idle connection if a live one is there, else
/// a free slot to connect in. With no free slot it fails with
/// `SYS_ERROR`/`EAGAIN` at once, or waits up to `wait` and then fails with
/// `ETIMEDOUT` ([`TimeoutReason::Wait`]).
pub(crate) async fn acquire<C: Send + 'static>(
    key: &Arc<PoolKey>,
    max: usize,
    wait: Option<Duration>,
) -> Result<Lease<C>, Error> {
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        let rx = {
            let mut stale = Vec::new();
            let mut map = entries();
            let entry = map.entry(key.clone()).or_default();
            let now = Instant::now();
            let mut found = None;
            while let Some(mut idle) = entry.idle.pop() {
                if idle.expires > now && idle.conn.reusable() {
                    found = Some(idle.conn);
                    break;
                }
                entry.open -= 1;
                stale.push(idle);
            }
            if let Some(conn) = found {
                if let Ok(conn) = conn.into_any().downcast::<Connection<C>>() {
                    drop(map);
                    return Ok(Lease { key: key.clone(), conn: Some(*conn), reused: true, held: true });
                }
                // A key is never shared by two codecs; count it as closed.
                entry.open -= 1;
            }
            if entry.open < max.max(1) {
                entry.open += 1;
                return Ok(Lease { key: key.clone(), conn: None, reused: false, held: true });
            }
            if deadline.is_none_or(|d| d <= now) {
                return Err(Error::sys(libc::EAGAIN));
            }
            let (tx, rx) = oneshot::channel();
            entry.waiters.push_back(tx);
            rx
        };
        match deadline {
            Some(d) => {
                if timeout_at(d, rx).await.is_err() {
                    return Err(Error::timeout(TimeoutReason::Wait));
                }
            }
            None => return Err(Error::sys(libc::EAGAIN)),
        }
    }
}

/// Connections of `key` in use (for picking the least-loaded address).
pub(crate) fn load(key: &PoolKey) -> usize {
    entries().get(key).map_or(0, |e| e.open - e.idle.len())
}
