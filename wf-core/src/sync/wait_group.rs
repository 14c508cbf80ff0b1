use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::lock::{lock, wait, wait_timeout};

/// Waits from ordinary (blocking) code for `n` events (Workflow's
/// `WFFacilities::WaitGroup`). Cloning gives another handle to the same
/// group. A group created with `n <= 0` is already done.
///
/// ```
/// let wg = wf_core::WaitGroup::new(3);
/// for i in 0..3 {
///     let wg = wg.clone();
///     wf_core::create_go_task("doc", move || i).with_callback(move |_| wg.done()).start();
/// }
/// wg.wait();
/// ```
#[derive(Clone, Debug)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    left: Mutex<i64>,
    zero: Condvar,
    notify: tokio::sync::Notify,
}

impl WaitGroup {
    /// A group waiting for `n` calls to [`done`](WaitGroup::done).
    pub fn new(n: i64) -> WaitGroup {
        WaitGroup { inner: Arc::new(Inner { left: Mutex::new(n), zero: Condvar::new(), notify: Default::default() }) }
    }

    /// Waits for `n` more events.
    pub fn add(&self, n: i64) {
        let mut left = lock(&self.inner.left);
        *left += n;
        if *left <= 0 {
            self.wake();
        }
    }

    /// One event happened.
    pub fn done(&self) {
        let mut left = lock(&self.inner.left);
        *left -= 1;
        if *left == 0 {
            self.wake();
        }
    }

    fn wake(&self) {
        self.inner.zero.notify_all();
        self.inner.notify.notify_waiters();
    }

    /// Blocks until every event happened.
    pub fn wait(&self) {
        let mut left = lock(&self.inner.left);
        while *left > 0 {
            left = wait(&self.inner.zero, left);
        }
    }

    /// Blocks for at most `timeout`; true when every event happened.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut left = lock(&self.inner.left);
        while *left > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            left = wait_timeout(&self.inner.zero, left, deadline - now).0;
        }
        true
    }

    /// Waits without blocking a thread, for async code.
    pub async fn wait_async(&self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if *lock(&self.inner.left) <= 0 {
                return;
            }
            notified.await;
        }
    }
}
