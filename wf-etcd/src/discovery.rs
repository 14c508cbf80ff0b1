//! Discovery: a wf upstream kept in step with a service's keys.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use wf_core::Error;

use crate::code;
use crate::config::Etcd;
use crate::gateway::{self, prefix_end};
use crate::record;
use crate::trace;
use crate::upstream::{AddressParams, Upstream};
use crate::watch::{Batch, End, Event, Sink};

/// The most servers one service may have: past it a range reply or watch
/// event fails (the last good list stays in force).
pub const MAX_SERVERS: usize = 65536;
/// The first pause before reconnecting to etcd; it doubles up to
/// [`MAX_BACKOFF`] while etcd stays away.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between two attempts to reach etcd.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A running watcher that keeps a wf [`Upstream`] in step with the keys of
/// its service in etcd (see [`Etcd::discover`]). Dropping it stops the
/// watch; the upstream keeps its last list.
///
/// The watch stream is a wf task, running as long as the watcher lives:
/// [`wf_core::wait_finish`] waits for it, so drop the watcher before
/// calling that.
#[derive(Debug)]
pub struct Discovery {
    shared: Arc<Shared>,
    _stop: watch::Sender<bool>,
}

impl Discovery {
    /// The etcd revision the upstream's list reflects: every change up to
    /// it has been applied.
    pub fn revision(&self) -> i64 {
        self.shared.revision.load(Ordering::Acquire)
    }

    /// Whether the watch stream is established now (false while etcd is
    /// unreachable and the watcher retries).
    pub fn is_watching(&self) -> bool {
        self.shared.watching.load(Ordering::Acquire)
    }

    /// The upstream being kept in step.
    pub fn upstream(&self) -> &Upstream {
        &self.shared.upstream
    }
}

impl Etcd {
    /// Reads the servers registered for the service named like `upstream`
    /// (the keys under [`prefix`](Etcd::prefix)`NAME/`), gives them to the
    /// upstream ([`Upstream::set_servers`]), and keeps doing so: a watcher
    /// running on wf's runtime applies each change as etcd reports it.
    ///
    /// Fails when the first read does (etcd unreachable, an error, a bad
    /// name); after that the watcher never gives up. When etcd goes away
    /// it keeps the last list, reports through `tracing` (warn), retries
    /// with a pause doubling from 100 ms to 5 s, and resumes the watch
    /// from the last revision it applied, so that no change is missed; if
    /// etcd compacted that revision away, it reads the whole service
    /// again. A value that is not a valid [record](crate#keys-and-values)
    /// is skipped (warn), and the server it described is dropped.
    ///
    /// ```no_run
    /// use wf_core::upstream::{Policy, Upstream};
    ///
    /// # async fn f() -> Result<(), wf_core::Error> {
    /// let etcd = wf_etcd::Etcd::new("http://127.0.0.1:2379");
    /// let search = Upstream::create("search", Policy::WeightedRandom { try_another: true });
    /// let discovery = etcd.discover(&search).await?;
    /// // http://search/... now goes to the servers registered in etcd.
    /// # drop(discovery); Ok(()) }
    /// ```
    pub async fn discover(&self, upstream: &Upstream) -> Result<Discovery, Error> {
        let prefix = self.service_prefix(upstream.name())?.into_bytes();
        let end = prefix_end(&prefix);
        let shared = Arc::new(Shared {
            upstream: upstream.clone(),
            prefix,
            servers: Mutex::default(),
            revision: AtomicI64::new(0),
            watching: AtomicBool::new(false),
        });
        reread(self, &shared, &end).await?;
        let (stop, stopped) = watch::channel(false);
        let (etcd, watcher) = (self.clone(), shared.clone());
        wf_core::handle().spawn(async move { run(etcd, watcher, end, stopped).await });
        Ok(Discovery { shared, _stop: stop })
    }

    /// [`discover`](Etcd::discover) for code outside async: blocks until
    /// the first list is applied. Not from a wf callback (it would block a
    /// thread the runtime needs).
    pub fn discover_blocking(&self, upstream: &Upstream) -> Result<Discovery, Error> {
        let (etcd, upstream) = (self.clone(), upstream.clone());
        crate::block_on(async move { etcd.discover(&upstream).await })
    }
}

/// What the watcher and its handle share.
#[derive(Debug)]
struct Shared {
    upstream: Upstream,
    /// `PREFIX SERVICE/`.
    prefix: Vec<u8>,
    /// The servers by key, in key order.
    servers: Mutex<BTreeMap<Vec<u8>, (String, AddressParams)>>,
    revision: AtomicI64,
    watching: AtomicBool,
}

impl Shared {
    /// The server of one key, or `None` (warn) when its value is bad.
    fn decode(&self, key: &[u8], value: &[u8]) -> Option<(String, AddressParams)> {
        let address = key.strip_prefix(&self.prefix[..]).unwrap_or(key);
        // The key is kept with the server: as long as an address at most.
        let decoded = if address.len() > record::MAX_ADDRESS {
            Err(format!("a key over {} bytes", record::MAX_ADDRESS))
        } else {
            record::decode(address, value)
        };
        match decoded {
            Ok(server) => Some(server),
            Err(_why) => {
                trace::warning!(
                    key = %String::from_utf8_lossy(key),
                    why = %_why,
                    "etcd discovery: skipping a bad server record",
                );
                None
            }
        }
    }

    /// Gives the list to the upstream. The upstream takes a list whole or
    /// not at all, so servers with an address it cannot take are skipped
    /// (warn) and the rest applied.
    fn apply(&self, servers: &BTreeMap<Vec<u8>, (String, AddressParams)>) {
        let good: Vec<_> = servers
            .values()
            .filter(|(address, _)| match crate::upstream::check_address(address) {
                Ok(()) => true,
                Err(_e) => {
                    trace::warning!(
                        upstream = self.upstream.name(),
                        address = %address,
                        error = %_e,
                        "etcd discovery: skipping a server the upstream cannot take",
                    );
                    false
                }
            })
            .cloned()
            .collect();
        if let Err(_e) = self.upstream.set_servers(good) {
            trace::warning!(upstream = self.upstream.name(), error = %_e, "etcd discovery: the upstream refused the list");
        }
    }
}

impl Sink for Arc<Shared> {
    fn created(&mut self) {
        self.watching.store(true, Ordering::Release);
        trace::debug!(upstream = self.upstream.name(), "etcd discovery: watching");
    }

    fn events(&mut self, batch: Batch) -> Result<(), Error> {
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = servers.clone();
        for event in batch.events {
            match event {
                Event::Put { key, value } => match self.decode(&key, &value) {
                    Some(server) => drop(next.insert(key, server)),
                    None => drop(next.remove(&key)),
                },
                Event::Delete { key } => drop(next.remove(&key)),
            }
        }
        if next.len() > MAX_SERVERS {
            return Err(code::error(code::BAD_REPLY, format!("etcd discovery: more than {MAX_SERVERS} servers")));
        }
        self.apply(&next);
        *servers = next;
        self.revision.fetch_max(batch.revision, Ordering::AcqRel);
        Ok(())
    }
}

/// Reads the whole service and applies it.
async fn reread(etcd: &Etcd, shared: &Shared, end: &[u8]) -> Result<(), Error> {
    let (revision, pairs) = gateway::range(etcd, &shared.prefix, end).await?;
    if pairs.len() > MAX_SERVERS {
        return Err(code::error(code::BAD_REPLY, format!("etcd discovery: more than {MAX_SERVERS} servers")));
    }
    let servers: BTreeMap<_, _> =
        pairs.into_iter().filter_map(|(k, v)| shared.decode(&k, &v).map(|server| (k, server))).collect();
    let mut current = shared.servers.lock().unwrap_or_else(PoisonError::into_inner);
    shared.apply(&servers);
    *current = servers;
    shared.revision.store(revision, Ordering::Release);
    Ok(())
}

/// The watcher: watch, and on any end but a stop, re-establish it.
async fn run(etcd: Etcd, shared: Arc<Shared>, end: Vec<u8>, stopped: watch::Receiver<bool>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let from = shared.revision.load(Ordering::Acquire).saturating_add(1);
        let ended = crate::watch::watch(&etcd, &shared.prefix, &end, from, shared.clone(), &stopped).await;
        let was_watching = shared.watching.swap(false, Ordering::AcqRel);
        if was_watching {
            backoff = MIN_BACKOFF;
        }
        match ended {
            End::Stopped => return,
            End::Compacted(_at) => {
                trace::debug!(upstream = shared.upstream.name(), compacted = _at, "etcd discovery: reading again");
                // On success too, the pause below: a gateway answering every
                // watch with a compaction must not make a tight loop.
                match reread(&etcd, &shared, &end).await {
                    Ok(()) => {}
                    Err(_e) => trace::warning!(
                        upstream = shared.upstream.name(),
                        error = %_e,
                        retry_in = ?backoff,
                        "etcd discovery: cannot read the service; keeping the last list",
                    ),
                }
            }
            End::Failed(_e) => trace::warning!(
                upstream = shared.upstream.name(),
                error = %_e,
                revision = from - 1,
                retry_in = ?backoff,
                "etcd discovery: the watch failed; keeping the last list",
            ),
            End::Closed => trace::debug!(upstream = shared.upstream.name(), "etcd discovery: etcd ended the watch"),
        }
        if pause(backoff, &stopped).await {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Sleeps `d`; true when the watcher was stopped meanwhile.
pub(crate) async fn pause(d: Duration, stopped: &watch::Receiver<bool>) -> bool {
    let mut stopped = stopped.clone();
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stopped.wait_for(|s| *s) => true,
    }
}
