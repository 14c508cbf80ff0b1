//! Shutdown: what a program calls before it exits, so that every task
//! still waiting finishes with [`State::Aborted`](crate::State::Aborted).

use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

use crate::lock::lock;

/// Ends the waiting so that the program can exit (Workflow aborts these
/// tasks when the process exits; wf does it when asked).
///
/// After `shutdown()`:
///
/// * pending timers, counters, mailboxes, selectors and conditionals
///   (guards, resource pools and message queues included) finish at once
///   with [`State::Aborted`](crate::State::Aborted) and their callbacks
///   run (the task a conditional wraps is dismissed);
/// * compute tasks still queued (not yet running) finish `Aborted` without
///   running; those already running finish normally;
/// * every task that starts from now on, whatever its kind, finishes
///   `Aborted` at once without doing its work, so series drain quickly:
///   each task's callback and each series callback still run;
/// * network tasks already in flight finish normally (their timeouts bound
///   them): cutting a request half sent would leave the peer in an unknown
///   state. Stop servers with their `stop()` before shutting down.
///
/// So a program that calls `shutdown()` and then
/// [`wait_finish`](crate::wait_finish) returns. Shutdown is for the end of
/// the process: it cannot be undone.
///
/// ```
/// use wf_core::{State, create_counter_task};
///
/// // A counter nobody will count any more…
/// let c = create_counter_task(1, |c| assert_eq!(c.state(), State::Aborted));
/// let _h = c.handle();
/// c.start();
/// // …does not keep the program from exiting.
/// wf_core::shutdown();
/// wf_core::wait_finish();
/// assert!(wf_core::is_shutting_down());
/// ```
pub fn shutdown() {
    let (flag, watchers) = crate::global::shutdown_watchers();
    if flag.swap(true, Ordering::AcqRel) {
        return;
    }
    crate::trace::debug!("shutdown: aborting waiting tasks");
    let wakers: Vec<Waker> = {
        let mut w = lock(watchers);
        w.free.clear();
        w.slots.drain(..).flatten().collect()
    };
    for w in wakers {
        w.wake();
    }
}

/// True once [`shutdown`] was called.
pub fn is_shutting_down() -> bool {
    crate::global::shutdown_watchers().0.load(Ordering::Acquire)
}

/// The wakers of tasks waiting to hear about shutdown: a slab, so that a
/// waiting task costs one slot and no allocation once the slab has grown.
#[derive(Debug)]
pub(crate) struct Watchers {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Watchers {
    pub(crate) const fn new() -> Watchers {
        Watchers { slots: Vec::new(), free: Vec::new() }
    }
}

/// How a [`TaskKind`](crate::TaskKind) that waits learns about
/// [`shutdown`]: keep one in the kind and poll it whenever the kind is
/// about to return `Poll::Pending`.
///
/// [`poll_shutdown`](ShutdownWatch::poll_shutdown) is ready once shutdown
/// was called; until then it registers the task's waker, so that
/// `shutdown()` wakes the task and the next poll sees it. The kind then
/// reports `Aborted` and returns `Poll::Ready`. Dropping the watch
/// unregisters it.
///
/// ```
/// use std::task::{Context, Poll};
/// use wf_core::{Error, RunContext, ShutdownWatch, State, TaskKind};
///
/// /// A task that waits for shutdown and nothing else.
/// #[derive(Default)]
/// struct UntilShutdown(ShutdownWatch);
///
/// impl TaskKind for UntilShutdown {
///     fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
///         if self.0.poll_shutdown(cx).is_ready() {
///             run.set_error(Error::aborted());
///             return Poll::Ready(());
///         }
///         Poll::Pending
///     }
/// }
///
/// wf_core::Task::new(UntilShutdown::default())
///     .with_callback(|t| assert_eq!(t.state(), State::Aborted))
///     .start();
/// wf_core::shutdown();
/// wf_core::wait_finish();
/// ```
#[derive(Debug, Default)]
pub struct ShutdownWatch {
    /// The slot in the slab, and the waker stored there.
    registered: Option<(usize, Waker)>,
}

impl ShutdownWatch {
    /// A watch not registered yet.
    pub const fn new() -> ShutdownWatch {
        ShutdownWatch { registered: None }
    }

    /// `Ready` once [`shutdown`] was called; `Pending` otherwise, with the
    /// waker of `cx` registered to be woken by it.
    pub fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if is_shutting_down() {
            self.registered = None;
            return Poll::Ready(());
        }
        if self.registered.as_ref().is_some_and(|(_, w)| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let (flag, watchers) = crate::global::shutdown_watchers();
        let mut ws = lock(watchers);
        // Checked again under the lock: `shutdown` sets the flag before it
        // takes the lock, so either it sees this waker or this sees the flag.
        if flag.load(Ordering::Acquire) {
            self.registered = None;
            return Poll::Ready(());
        }
        let waker = cx.waker().clone();
        let slot = match &self.registered {
            Some((slot, _)) => *slot,
            None => match ws.free.pop() {
                Some(slot) => slot,
                None => {
                    ws.slots.push(None);
                    ws.slots.len() - 1
                }
            },
        };
        ws.slots[slot] = Some(waker.clone());
        self.registered = Some((slot, waker));
        Poll::Pending
    }
}

impl Drop for ShutdownWatch {
    fn drop(&mut self) {
        if let Some((slot, _)) = self.registered.take() {
            let (flag, watchers) = crate::global::shutdown_watchers();
            let mut ws = lock(watchers);
            // After shutdown the slab was emptied and is never used again.
            if !flag.load(Ordering::Acquire) && slot < ws.slots.len() {
                ws.slots[slot] = None;
                ws.free.push(slot);
            }
        }
    }
}
