//! A Redis Cluster client: each command goes to the master that serves
//! its keys' slot (or, when asked, a read to one of its replicas).
//!
//! ```no_run
//! use wf_redis::cluster::RedisCluster;
//!
//! let cluster = RedisCluster::new(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]).unwrap();
//! let mut set = cluster.create_task(1, |t| println!("SET: {:?} {}", t.state(), t.result()));
//! set.set_request("SET", ["{user:1}.name", "ada"]);
//! set.start();
//! wf_core::wait_finish();
//! ```
//!
//! # How a command finds its node
//!
//! - **Slot map.** The first task reads `CLUSTER SLOTS` from a known
//!   node (the masters of the current map, then the seeds, until one
//!   answers with a well-formed map: ranges inside 0..16384 that do not
//!   overlap, plausible hosts, at most 1024 nodes). The map sits beside
//!   wf-core's route seam, not in it: a task picks a node URL
//!   (`redis://host:port` with the seed's credentials, database and
//!   `?protocol=`), and that URL is an ordinary target, so commands to one
//!   master share wf's pipelined connections to it.
//! - **Keys.** A key's slot is CRC16 (XMODEM) of the key, or of its
//!   `{hash tag}`, mod 16384 ([`key_slot`]). The key of a command is its
//!   first argument, except for a table of commands with several keys or
//!   none (`MGET`, `MSET`, `DEL`, `EXISTS`, `RENAME`, `BLPOP`, `EVAL` by
//!   `numkeys`, `XREAD … STREAMS`, and keyless `PING`, `INFO`, `MULTI`…).
//!   Every key of a request (every command of a pipeline) must hash to
//!   one slot: otherwise the task fails with `TASK_ERROR`/
//!   [`CROSS_SLOT`](crate::code::CROSS_SLOT) (3003) before anything is
//!   sent; `MGET`/`DEL` across slots are not split. A request without
//!   keys goes to a master in turn.
//! - **`MOVED`.** The slot is given to the node named in the reply, the
//!   whole map is read again (at most once a second, one read at a time
//!   for all tasks), and the request is sent there.
//! - **`ASK`.** The request goes once to the node named, preceded by
//!   `ASKING` (on a connection of its own); the map is left alone.
//! - **Redirects** are followed up to the task's `redirect_max` (5 by
//!   default); then the redirect reply is the task's result, as for a
//!   plain [`RedisTask`](crate::RedisTask). A pipeline is redirected only
//!   when every reply in it is the same kind of redirect.
//! - **Connection errors.** A refused connection (a master that died) is
//!   retried up to 8 times, backing off from 100 ms to 1 s (5.5 s in all,
//!   time for a replica to take over when `cluster-node-timeout` is a
//!   second or two), the map read again before each attempt, whatever the
//!   task's `retry_max`; another
//!   `SYS_ERROR` (a reset, a timeout: the command may have run) is retried
//!   that way only within the task's `retry_max`.
//! - **Replicas** are read from only when asked:
//!   [`read_from_replicas(true)`](RedisCluster::read_from_replicas) sends
//!   a request whose every command is read-only (`GET`, `MGET`, `EXISTS`,
//!   `STRLEN`, `GETRANGE`, `HGET`, `HMGET`, `HGETALL`, `HEXISTS`, `HLEN`,
//!   `LRANGE`, `LLEN`, `LINDEX`, `SCARD`, `SISMEMBER`, `SMEMBERS`,
//!   `ZRANGE`, `ZSCORE`, `ZCARD`, `TTL`, `PTTL`, `TYPE` and a few more
//!   reads of those kinds: the table is in `cluster/readonly.rs`) to one
//!   of its slot's replicas, in turn. Their connections are pooled apart:
//!   the node URL gets `readonly=1`, which makes each connection send
//!   `READONLY` once after its login. Writes, transactions (`MULTI`…),
//!   scripts, keyless commands and a pipeline with any write go to the
//!   master; so does a read whose slot's master has no replica in the
//!   map. A replica's `MOVED` (the slot moved, or the replica changed
//!   role) is followed as above, to the master it names. A replica that
//!   fails the exchange (refused, reset, timed out: a read may be sent
//!   again) is left for the master at once, for that task. A replica
//!   may lag its master: a read there may miss a write just acknowledged.
//!   Replicas are learnt from `CLUSTER SLOTS`, which leaves out a replica
//!   whose replication offset its node has not heard of yet (a fresh
//!   cluster with no writes): such a replica is used once the map is read
//!   again (after a `MOVED` or a connection error).
//!
//! The task's deadline, if set, bounds the whole task, redirects and
//! retries included; its other options (timeouts, keep-alive, size limit)
//! apply to each exchange.

mod keys;
mod map;
mod readonly;
mod slot;
mod task;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use wf_core::net::{ClientOptions, Uri, request};
use wf_core::{Error, State};

use crate::code;
use crate::message::{RedisRequest, RedisResponse};
use crate::protocol::Redis;
use crate::value::RedisValue;
use map::SlotMap;

pub use slot::{SLOTS, key_slot};
pub use task::{RedisClusterClient, RedisClusterTask};

/// Redirects a task follows unless it sets its own `redirect_max`.
const REDIRECT_MAX: u32 = 5;
/// Attempts after a refused connection, whatever the task's `retry_max`.
const REFUSED_RETRIES: u32 = 8;
/// The first pause before such an attempt; it doubles each time, up to
/// [`BACKOFF_MAX`] (5.5 s for all eight).
const BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How often a `MOVED` may cause the whole map to be read again.
const MOVED_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// How often anything may cause it.
const REFRESH_INTERVAL: Duration = Duration::from_millis(100);
/// How long a node has to answer `CLUSTER SLOTS`.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);

/// The most masters one map read asks (then the seeds): a map of 1,024
/// dead nodes must not hold every task for half an hour.
const REFRESH_NODES: usize = 8;

/// The most one map read takes in all, whatever it asks.
const REFRESH_BUDGET: Duration = Duration::from_secs(6);

/// A Redis Cluster, known by a few seed URLs: makes [`RedisClusterTask`]s
/// that go to the master serving their keys. Cheap to clone (a handle);
/// every clone shares one slot map.
#[derive(Clone, Debug)]
pub struct RedisCluster {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    protocol: Redis,
    seeds: Vec<Uri>,
    map: RwLock<SlotMap>,
    /// Bumped each time a whole map is read.
    epoch: AtomicU64,
    /// When the map was last read; held while it is read (single flight).
    refreshing: tokio::sync::Mutex<Option<Instant>>,
    /// Spreads keyless commands over the masters.
    next_keyless: AtomicUsize,
    /// Whether reads go to replicas.
    read_from_replicas: AtomicBool,
    /// Spreads reads over a slot's replicas.
    next_replica: AtomicUsize,
}

/// What one cluster task ended with.
pub(crate) struct Outcome {
    pub(crate) result: Result<RedisResponse, Error>,
    pub(crate) uri: Option<Uri>,
    pub(crate) redirects: u32,
}

impl RedisCluster {
    /// A cluster known by `seeds`: `redis[s]://[user][:password]@host[:port]
    /// [?protocol=3]` URLs of some of its nodes. Their credentials, scheme
    /// and query are used for every node. Nothing is sent until the first
    /// task runs.
    ///
    /// # Errors
    ///
    /// No seed, or a seed that is not a `redis`/`rediss` URL:
    /// `TASK_ERROR`/`URI_PARSE_FAILED` (1001) or `URI_SCHEME_INVALID`
    /// (1002).
    pub fn new<I>(seeds: I) -> Result<RedisCluster, Error>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        RedisCluster::with_protocol(Redis::default(), seeds)
    }

    /// [`new`](RedisCluster::new) with a protocol value of your own (a
    /// reply size limit).
    pub fn with_protocol<I>(protocol: Redis, seeds: I) -> Result<RedisCluster, Error>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let seeds = seeds.into_iter().map(|s| Uri::parse(s.as_ref())).collect::<Result<Vec<_>, _>>()?;
        if seeds.is_empty() {
            return Err(Error::task(wf_core::code::URI_PARSE_FAILED));
        }
        if seeds.iter().any(|s| !matches!(s.scheme(), "redis" | "rediss")) {
            return Err(Error::task(wf_core::code::URI_SCHEME_INVALID));
        }
        Ok(RedisCluster {
            inner: Arc::new(Inner {
                protocol,
                seeds,
                map: RwLock::default(),
                epoch: AtomicU64::new(0),
                refreshing: tokio::sync::Mutex::new(None),
                next_keyless: AtomicUsize::new(0),
                read_from_replicas: AtomicBool::new(false),
                next_replica: AtomicUsize::new(0),
            }),
        })
    }

    /// Whether read-only requests go to their slot's replicas (off by
    /// default; see [the module docs](self) for which requests and what
    /// happens when a replica fails). It applies to every clone of this
    /// handle, and to tasks that start after it is set.
    ///
    /// ```no_run
    /// use wf_redis::cluster::RedisCluster;
    ///
    /// let cluster = RedisCluster::new(["redis://127.0.0.1:7000"]).unwrap().read_from_replicas(true);
    /// let mut get = cluster.create_task(0, |t| println!("GET: {}", t.result()));
    /// get.set_request("GET", ["{user:1}.name"]); // a replica answers
    /// get.start();
    /// wf_core::wait_finish();
    /// ```
    pub fn read_from_replicas(self, on: bool) -> RedisCluster {
        self.inner.read_from_replicas.store(on, Ordering::Relaxed);
        self
    }

    /// A task for this cluster, with `retry_max` retries (Workflow's
    /// `create_redis_task` with the node chosen for you). Set its command
    /// with [`set_request`](RedisClusterClient::set_request) before it
    /// starts.
    pub fn create_task(
        &self,
        retry_max: u32,
        callback: impl FnOnce(&mut RedisClusterTask) + Send + 'static,
    ) -> RedisClusterTask {
        task::create(self.clone(), retry_max, REDIRECT_MAX, callback)
    }

    /// The URL of the master serving `slot`, as the map says now (`None`
    /// before the first task read it).
    pub fn master_of(&self, slot: u16) -> Option<String> {
        read(&self.inner.map).master(slot).map(|u| u.as_str().to_owned())
    }

    /// The URLs of the masters in the map now.
    pub fn masters(&self) -> Vec<String> {
        read(&self.inner.map).masters().into_iter().map(|u| u.as_str().to_owned()).collect()
    }

    /// Runs `req` against the cluster: the whole task, from slot to reply.
    pub(crate) async fn run(&self, req: &mut RedisRequest, opts: &ClientOptions) -> Outcome {
        match opts.deadline() {
            Some(d) => match tokio::time::timeout(d, self.run_inner(req, opts)).await {
                Ok(out) => out,
                Err(_) => {
                    Outcome { result: Err(Error::timeout(wf_core::TimeoutReason::Deadline)), uri: None, redirects: 0 }
                }
            },
            None => self.run_inner(req, opts).await,
        }
    }

    async fn run_inner(&self, req: &mut RedisRequest, opts: &ClientOptions) -> Outcome {
        let fail = |e: Error| Outcome { result: Err(e), uri: None, redirects: 0 };
        if req.is_empty() {
            return fail(Error::sys(libc::EINVAL));
        }
        let slot = match request_slot(req) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let inner = &self.inner;
        if !read(&inner.map).is_loaded() {
            if let Err(e) = self.refresh(0, REFRESH_INTERVAL).await {
                return fail(e);
            }
        }
        // Each exchange alone: redirects and retries are decided here.
        let mut sub = opts.clone();
        sub.set_retry_max(0).set_redirect_max(0).set_deadline(None);
        let (mut redirects, mut retries, mut refused) = (0u32, 0u32, 0u32);
        let mut target: Option<(Uri, bool)> = None;
        // A read for a replica, until one fails it.
        let mut to_replica = slot.is_some()
            && inner.read_from_replicas.load(Ordering::Relaxed)
            && readonly::all_read_only(req.commands());
        loop {
            let mut at_replica = false;
            let (uri, asking) = match target.take() {
                Some(t) => t,
                None => match slot.filter(|_| to_replica).and_then(|s| self.replica_for(s)) {
                    Some(u) => {
                        at_replica = true;
                        (u, false)
                    }
                    None => match self.node_for(slot) {
                        Some(u) => (u, false),
                        None => return fail(Error::sys(libc::ENOTCONN)),
                    },
                },
            };
            req.asking = asking;
            let seen = inner.epoch.load(Ordering::Acquire);
            let result = request(&inner.protocol, &uri, req, &sub).await;
            // A reply too large would be as large from the master.
            if at_replica {
                if let Some(_e) =
                    result.as_ref().err().filter(|e| (e.state(), e.code()) != (State::SysError, libc::EMSGSIZE))
                {
                    crate::trace::debug!(url = %uri, error = %_e, "cluster: replica failed, reading from the master");
                    to_replica = false;
                    continue;
                }
            }
            match result {
                Ok(resp) => {
                    // A replica's redirect names a master: no READONLY.
                    let writable =
                        if at_replica && resp.result().is_error() { crate::login::writable_uri(&uri) } else { None };
                    let Some((ask, moved_slot, next)) = redirect_of(&resp, writable.as_ref().unwrap_or(&uri)) else {
                        return Outcome { result: Ok(resp), uri: Some(uri), redirects };
                    };
                    if redirects >= opts.redirect_max() {
                        crate::trace::debug!(url = %uri, "cluster: redirect limit reached");
                        return Outcome { result: Ok(resp), uri: Some(uri), redirects };
                    }
                    redirects += 1;
                    if !ask {
                        crate::lock_write(&inner.map).patch(moved_slot, &next);
                        self.refresh_after_moved().await;
                    }
                    crate::trace::debug!(from = %uri, to = %next, ask, "cluster: redirected");
                    target = Some((next, ask));
                }
                Err(e) if e.state() == State::SysError => {
                    let was_refused = [libc::ECONNREFUSED, libc::EHOSTUNREACH, libc::ENETUNREACH].contains(&e.code());
                    if was_refused && refused < REFUSED_RETRIES {
                        refused += 1;
                    } else if !was_refused && retries < opts.retry_max() && e.code() != libc::EMSGSIZE {
                        retries += 1;
                    } else {
                        return Outcome { result: Err(e), uri: Some(uri), redirects };
                    }
                    let attempt = refused + retries;
                    crate::trace::debug!(url = %uri, error = %e, attempt, "cluster: retrying after a connection error");
                    tokio::time::sleep((BACKOFF * (1 << (attempt - 1).min(4))).min(BACKOFF_MAX)).await;
                    // A failed read leaves the old map: the next attempt
                    // tries again.
                    let _ = self.refresh(seen, REFRESH_INTERVAL).await;
                }
                Err(e) => return Outcome { result: Err(e), uri: Some(uri), redirects },
            }
        }
    }

    /// The node for `slot` (`None`: any master, in turn).
    fn node_for(&self, slot: Option<u16>) -> Option<Uri> {
        let map = read(&self.inner.map);
        let slot = slot.unwrap_or_else(|| (self.inner.next_keyless.fetch_add(5471, Ordering::Relaxed) % 16384) as u16);
        // A slot no master serves: ask any, which answers CLUSTERDOWN.
        map.master(slot).or_else(|| map.masters().first().copied()).cloned()
    }

    /// One of `slot`'s replicas, in turn (`None`: it has none).
    fn replica_for(&self, slot: u16) -> Option<Uri> {
        let turn = self.inner.next_replica.fetch_add(1, Ordering::Relaxed);
        read(&self.inner.map).replica(slot, turn).cloned()
    }

    /// Reads the map again after a `MOVED`, unless another task is reading
    /// it or it was read less than a second ago.
    async fn refresh_after_moved(&self) {
        let Ok(last) = self.inner.refreshing.try_lock() else { return };
        if last.is_some_and(|t| t.elapsed() < MOVED_REFRESH_INTERVAL) {
            return;
        }
        drop(last);
        let seen = self.inner.epoch.load(Ordering::Acquire);
        let _ = self.refresh(seen, MOVED_REFRESH_INTERVAL).await;
    }

    /// Reads the whole map again, one task at a time: a task that waited
    /// for another's read (the epoch moved past `seen`) uses that one.
    /// Reads are at least `interval` apart.
    async fn refresh(&self, seen: u64, interval: Duration) -> Result<(), Error> {
        let inner = &self.inner;
        let mut last = inner.refreshing.lock().await;
        if inner.epoch.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        if let Some(t) = *last {
            let wait = interval.saturating_sub(t.elapsed());
            if !wait.is_zero() {
                if !read(&inner.map).is_loaded() {
                    // The read this task queued behind failed just now: not
                    // again for each task that waited.
                    return Err(Error::sys(libc::ENOTCONN));
                }
                tokio::time::sleep(wait).await;
            }
        }
        let started = Instant::now();
        let mut candidates: Vec<Uri> = read(&inner.map).masters().into_iter().take(REFRESH_NODES).cloned().collect();
        for s in &inner.seeds {
            if !candidates.iter().any(|c| c.as_str() == s.as_str()) {
                candidates.push(s.clone());
            }
        }
        let mut opts = ClientOptions::default();
        opts.set_receive_timeout(Some(REFRESH_TIMEOUT)).set_deadline(Some(REFRESH_TIMEOUT));
        let mut error = Error::sys(libc::ENOTCONN);
        for uri in candidates {
            if started.elapsed() >= REFRESH_BUDGET {
                break;
            }
            let mut req = RedisRequest::default();
            req.set_request("CLUSTER", ["SLOTS"]);
            match request(&inner.protocol, &uri, &mut req, &opts).await {
                Ok(resp) => match SlotMap::from_cluster_slots(resp.result(), &uri) {
                    Some(map) => {
                        *crate::lock_write(&inner.map) = map;
                        inner.epoch.fetch_add(1, Ordering::Release);
                        *last = Some(Instant::now());
                        return Ok(());
                    }
                    None => {
                        crate::trace::debug!(url = %uri, reply = %resp.result(), "cluster: CLUSTER SLOTS refused");
                        error = Error::sys(libc::EBADMSG);
                    }
                },
                Err(e) => {
                    crate::trace::debug!(url = %uri, error = %e, "cluster: CLUSTER SLOTS failed");
                    error = e;
                }
            }
        }
        *last = Some(Instant::now());
        Err(error)
    }
}

fn read(map: &RwLock<SlotMap>) -> std::sync::RwLockReadGuard<'_, SlotMap> {
    map.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The one slot every key of `req` hashes to; `None` for no key.
fn request_slot(req: &RedisRequest) -> Result<Option<u16>, Error> {
    let mut slot = None;
    for c in req.commands() {
        for k in keys::command_keys(c) {
            let s = key_slot(k);
            if slot.is_some_and(|x| x != s) {
                return Err(Error::task(code::CROSS_SLOT));
            }
            slot = Some(s);
        }
    }
    Ok(slot)
}

/// The redirect every reply of `resp` asks for, all of one kind to one
/// node: (`ASK`?, the slot, where).
fn redirect_of(resp: &RedisResponse, from: &Uri) -> Option<(bool, u16, Uri)> {
    let first = resp.results().first()?;
    let (ask, next) = crate::client::redirect(first, from)?;
    let text = first.as_bytes()?;
    let slot: u16 = std::str::from_utf8(text).ok()?.split_ascii_whitespace().nth(1)?.parse().ok()?;
    if slot >= SLOTS || resp.results()[1..].iter().any(|v| !is_same_redirect(v, text)) {
        return None;
    }
    Some((ask, slot, next))
}

fn is_same_redirect(v: &RedisValue, text: &[u8]) -> bool {
    matches!(v, RedisValue::Error(e) if e[..] == *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cmds: &[&[&str]]) -> RedisRequest {
        let mut r = RedisRequest::default();
        for c in cmds {
            r.push_command(c[0], c[1..].iter().copied());
        }
        r
    }

    #[test]
    fn one_slot_per_request() {
        assert_eq!(request_slot(&req(&[&["GET", "foo"]])).unwrap(), Some(12182));
        assert_eq!(request_slot(&req(&[&["PING"]])).unwrap(), None);
        assert_eq!(request_slot(&req(&[&["MGET", "{foo}a", "{foo}b"]])).unwrap(), Some(12182));
        assert_eq!(
            request_slot(&req(&[&["MULTI"], &["INCR", "{u}1"], &["INCR", "{u}2"], &["EXEC"]])).unwrap(),
            Some(key_slot(b"u"))
        );
        let e = request_slot(&req(&[&["MGET", "foo", "bar"]])).unwrap_err();
        assert_eq!((e.state(), e.code()), (State::TaskError, code::CROSS_SLOT));
        assert!(request_slot(&req(&[&["SET", "foo", "1"], &["SET", "bar", "1"]])).is_err());
    }

    #[test]
    fn redirects_of_whole_replies_only() {
        let from = Uri::parse("redis://127.0.0.1:7000").unwrap();
        let moved = RedisValue::error("MOVED 12182 127.0.0.1:7002");
        let (ask, slot, to) = redirect_of(&RedisResponse::from_results(vec![moved.clone()]), &from).unwrap();
        assert_eq!((ask, slot, to.port()), (false, 12182, 7002));
        let two = RedisResponse::from_results(vec![moved.clone(), moved.clone()]);
        assert!(redirect_of(&two, &from).is_some());
        let mixed = RedisResponse::from_results(vec![moved.clone(), RedisValue::ok()]);
        assert!(redirect_of(&mixed, &from).is_none());
        let (ask, _, _) =
            redirect_of(&RedisResponse::from_results(vec![RedisValue::error("ASK 1 127.0.0.1:7001")]), &from).unwrap();
        assert!(ask);
        let bad_slot = RedisResponse::from_results(vec![RedisValue::error("MOVED 99999 127.0.0.1:7001")]);
        assert!(redirect_of(&bad_slot, &from).is_none());
        assert!(redirect_of(&RedisResponse::from_results(vec![RedisValue::ok()]), &from).is_none());
    }

    #[test]
    fn seeds_are_checked() {
        assert!(RedisCluster::new(Vec::<String>::new()).is_err());
        assert!(RedisCluster::new(["http://127.0.0.1:7000"]).is_err());
        assert!(RedisCluster::new(["not a url"]).is_err());
        let c = RedisCluster::new(["redis://127.0.0.1:7000"]).unwrap();
        assert!(c.masters().is_empty() && c.master_of(0).is_none());
    }
}
