//! Registration: a server's key, held by a lease kept alive.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use wf_core::Error;

use crate::config::Etcd;
use crate::discovery::pause;
use crate::gateway;
use crate::record;
use crate::trace;
use crate::upstream::AddressParams;

/// A server's registration in etcd (see [`Etcd::register`]): its key
/// exists while the registration lives.
///
/// A keep-alive runs on wf's runtime every third of the TTL. If etcd is
/// unreachable it retries (warn); if the lease expired meanwhile, it
/// grants a new one and puts the key again. [`deregister`] revokes the
/// lease, so the key goes at once; dropping the registration does the same
/// in the background (best effort: a process that exits right after may
/// not finish it, and then the key goes at the lease's expiry, as when the
/// process dies).
///
/// [`deregister`]: Registration::deregister
#[derive(Debug)]
pub struct Registration {
    key: String,
    lease: Arc<AtomicI64>,
    stop: Option<watch::Sender<bool>>,
    done: Option<oneshot::Receiver<Result<(), Error>>>,
}

impl Registration {
    /// The key: `PREFIX SERVICE/ADDRESS`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The id of the lease that holds the key now (a new one after an
    /// expiry).
    pub fn lease(&self) -> i64 {
        self.lease.load(Ordering::Acquire)
    }

    /// Stops the keep-alive and revokes the lease: the key is gone when
    /// this returns `Ok`. An error (etcd unreachable) leaves the key until
    /// the lease expires.
    pub async fn deregister(mut self) -> Result<(), Error> {
        let done = self.done.take();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        match done {
            Some(done) => done.await.unwrap_or_else(|_| Err(Error::sys(libc::ECANCELED))),
            None => Ok(()),
        }
    }

    /// [`deregister`](Registration::deregister) for code outside async.
    /// Not from a wf callback.
    pub fn deregister_blocking(self) -> Result<(), Error> {
        crate::block_on(self.deregister())
    }
}

impl Etcd {
    /// Registers `address` as a server of `service`: grants a lease of
    /// `ttl` (whole seconds, at least 1), puts the key
    /// [`key(service, address)`](Etcd::key) with a [record](crate#keys-and-values)
    /// of `params` (its weight, main/backup type and group) attached to the
    /// lease, and keeps the lease alive until the returned
    /// [`Registration`] is deregistered or dropped.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use wf_core::upstream::AddressParams;
    ///
    /// # async fn f() -> Result<(), wf_core::Error> {
    /// let etcd = wf_etcd::Etcd::new("http://127.0.0.1:2379");
    /// let me = etcd.register("search", "10.0.0.7:8080", &AddressParams::default(), Duration::from_secs(10)).await?;
    /// // … serve …
    /// me.deregister().await?;
    /// # Ok(()) }
    /// ```
    pub async fn register(
        &self,
        service: &str,
        address: &str,
        params: &AddressParams,
        ttl: Duration,
    ) -> Result<Registration, Error> {
        let key = self.key(service, address)?;
        let value = record::encode(address, params);
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX).max(1);
        let lease = put_with_lease(self, &key, &value, ttl).await?;
        let lease = Arc::new(AtomicI64::new(lease));
        let (stop, stopped) = watch::channel(false);
        let (done_tx, done) = oneshot::channel();
        let keeper = KeepAlive { etcd: self.clone(), key: key.clone(), value, ttl, lease: lease.clone() };
        wf_core::handle().spawn(async move {
            let _ = done_tx.send(keeper.run(stopped).await);
        });
        Ok(Registration { key, lease, stop: Some(stop), done: Some(done) })
    }

    /// [`register`](Etcd::register) for code outside async. Not from a wf
    /// callback.
    pub fn register_blocking(
        &self,
        service: &str,
        address: &str,
        params: &AddressParams,
        ttl: Duration,
    ) -> Result<Registration, Error> {
        let (etcd, service, address, params) = (self.clone(), service.to_owned(), address.to_owned(), params.clone());
        crate::block_on(async move { etcd.register(&service, &address, &params, ttl).await })
    }
}

/// Grants a lease and puts the key with it; the lease's id. A failed put
/// revokes the lease.
async fn put_with_lease(etcd: &Etcd, key: &str, value: &str, ttl: i64) -> Result<i64, Error> {
    let lease = gateway::grant(etcd, ttl).await?;
    if let Err(e) = gateway::put(etcd, key.as_bytes(), value.as_bytes(), lease).await {
        let _ = gateway::revoke(etcd, lease).await;
        return Err(e);
    }
    Ok(lease)
}

struct KeepAlive {
    etcd: Etcd,
    key: String,
    value: String,
    ttl: i64,
    lease: Arc<AtomicI64>,
}

impl KeepAlive {
    /// Keeps the lease alive until stopped, then revokes it.
    async fn run(self, stopped: watch::Receiver<bool>) -> Result<(), Error> {
        let period = Duration::from_secs(self.ttl as u64) / 3;
        let mut wait = period;
        loop {
            if pause(wait, &stopped).await {
                break;
            }
            wait = match self.refresh().await {
                Ok(()) => period,
                Err(_e) => {
                    trace::warning!(key = %self.key, error = %_e, "etcd registration: keep-alive failed; retrying");
                    (period / 3).max(Duration::from_millis(100))
                }
            };
        }
        gateway::revoke(&self.etcd, self.lease.load(Ordering::Acquire)).await
    }

    /// One keep-alive; a new lease and put when the old one is gone.
    async fn refresh(&self) -> Result<(), Error> {
        let lease = self.lease.load(Ordering::Acquire);
        if gateway::keep_alive(&self.etcd, lease).await? > 0 {
            return Ok(());
        }
        trace::warning!(key = %self.key, lease, "etcd registration: the lease expired; registering again");
        let lease = put_with_lease(&self.etcd, &self.key, &self.value, self.ttl).await?;
        self.lease.store(lease, Ordering::Release);
        Ok(())
    }
}
