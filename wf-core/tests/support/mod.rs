//! Helpers shared by the wf-core integration tests (what other crates'
//! tests need too, such as [`WAIT`], lives in `testkit`).
// Each test binary uses some of these helpers (and re-exports), not all.
#![allow(dead_code, unused_imports)]

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};

pub(crate) use testkit::{WAIT, recv, wait_until};
use wf_core::{RunContext, Task, TaskKind};

#[cfg(feature = "net")]
pub(crate) mod net;

/// Counts how many of its tokens were dropped.
#[derive(Clone, Default, Debug)]
pub(crate) struct Drops(Arc<AtomicUsize>);

impl Drops {
    pub(crate) fn new() -> Drops {
        Drops::default()
    }

    /// A token that counts one drop here when it is dropped.
    pub(crate) fn token(&self) -> Token {
        Token(self.0.clone())
    }

    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Increments its [`Drops`] when dropped.
#[derive(Debug)]
pub(crate) struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A shared, ordered record of events.
#[derive(Debug)]
pub(crate) struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Log(self.0.clone())
    }
}

impl<T: Clone + Debug> Log<T> {
    pub(crate) fn new() -> Log<T> {
        Log(Arc::new(Mutex::new(Vec::new())))
    }

    pub(crate) fn push(&self, v: T) {
        self.0.lock().unwrap().push(v);
    }

    pub(crate) fn get(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Tracks how many holders are active at once and the peak.
#[derive(Clone, Default, Debug)]
pub(crate) struct Concurrency {
    active: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Concurrency {
    pub(crate) fn enter(&self) {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    pub(crate) fn leave(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

/// A task kind that runs another task's kind and reports when that kind
/// has been polled for the first time.
///
/// Wrapping a conditional (guard, resource pool or message queue `get`)
/// in a probe tells the test that the conditional has queued for its
/// resource, so waiters can be queued in a known order.
pub(crate) struct Probe<K: TaskKind> {
    inner: Task<K>,
    polled: Option<mpsc::Sender<()>>,
}

impl<K: TaskKind> TaskKind for Probe<K> {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let r = self.inner.kind_mut().poll_run(cx, run);
        if let Some(tx) = self.polled.take() {
            let _ = tx.send(());
        }
        r
    }
}

/// Wraps `inner` in a [`Probe`]; the receiver gets one message after the
/// first poll of `inner`.
pub(crate) fn probe<K: TaskKind>(inner: Task<K>) -> (Task<Probe<K>>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    (Task::new(Probe { inner, polled: Some(tx) }), rx)
}
