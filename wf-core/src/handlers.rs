//! The handler threads (`Settings::handler_threads`): a small pool that
//! polls series futures apart from the pollers.
//!
//! Every request a server gets with handler threads crosses threads
//! twice: the poller hands it over (its `process` and series run here),
//! and once its reply is written the poller hands the series back (its
//! callbacks run here too). What a hand-over costs is the wake-up of a
//! sleeping thread (a futex wake, a context switch), so the pool keeps
//! them to one per poller turn rather than one per request:
//!
//! - A job made runnable on a poller thread (a request decoded, a reply
//!   written) is queued at once, but the sleeping handler thread is woken
//!   at the end of the poller's turn, by a task of that poller
//!   ([`on_poller`]) queued behind the connections woken with it: the
//!   requests read in one turn wake one thread, once.
//! - A thread that takes a job and leaves more queued wakes another
//!   sleeping thread, so a callback that blocks holds up only its own
//!   thread, never the jobs queued behind it.
//! - A job started on a poller thread (a request's) remembers that
//!   poller's [`Mailbox`]: the wake-ups its series sends the poller's
//!   tasks (the reply is ready: [`wake_home`]) are posted there, and only
//!   the first one posted since the poller last emptied it wakes the
//!   poller (an `eventfd` write when it sleeps in `epoll_wait`); the
//!   poller's [`on_poller`] task wakes the rest, each a local wake-up.
//! - A job is one allocation (its future and its state) and is its own
//!   waker: a wake-up queues it unless it is queued or running already
//!   (then it runs once more).
//!
//! The pool lives as long as the process, as the pollers do.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use crate::lock::lock;

/// The handler threads and their queue of runnable jobs.
pub(crate) struct Pool {
    queue: Mutex<Queue>,
}

struct Queue {
    jobs: VecDeque<Arc<dyn Run>>,
    /// Threads asleep (or about to be) with nobody waking them yet.
    idle: Vec<Thread>,
}

/// A job the pool can run (a [`Job`] whatever its future).
trait Run: Send + Sync {
    fn run(self: Arc<Self>);
}

impl Pool {
    /// Starts `n` handler threads (`n` ≥ 1).
    pub(crate) fn start(n: usize) -> &'static Pool {
        let pool: &'static Pool =
            Box::leak(Box::new(Pool { queue: Mutex::new(Queue { jobs: VecDeque::new(), idle: Vec::new() }) }));
        for i in 0..n {
            std::thread::Builder::new()
                .name(format!("wf-handler-{i}"))
                .spawn(move || pool.work())
                .expect("wf: cannot start the handler threads");
        }
        pool
    }

    /// Runs `f` on a handler thread.
    pub(crate) fn spawn<F: Future<Output = ()> + Send + Unpin + 'static>(&'static self, f: F) {
        let home = POLLER_MAILBOX.get();
        let job = Arc::new(Job { state: AtomicU8::new(SCHEDULED), fut: Mutex::new(Some(f)), pool: self, home });
        self.push(job);
    }

    /// Queues a runnable job and sees that a thread takes it: an idle
    /// thread is woken now, or at the end of the turn on a poller.
    fn push(&self, job: Arc<dyn Run>) {
        let someone_idle = {
            let mut q = lock(&self.queue);
            q.jobs.push_back(job);
            !q.idle.is_empty()
        };
        if someone_idle && !defer_wake() {
            self.wake_one();
        }
    }

    /// Wakes an idle thread if jobs wait.
    fn wake_one(&self) {
        let t = {
            let mut q = lock(&self.queue);
            if q.jobs.is_empty() {
                return;
            }
            q.idle.pop()
        };
        if let Some(t) = t {
            t.unpark();
        }
    }

    /// A handler thread: takes jobs in turn, sleeps when there are none.
    fn work(&self) {
        let me = std::thread::current();
        loop {
            let (job, more) = {
                let mut q = lock(&self.queue);
                match q.jobs.pop_front() {
                    Some(job) => (job, !q.jobs.is_empty() && !q.idle.is_empty()),
                    None => {
                        q.idle.push(me.clone());
                        drop(q);
                        std::thread::park();
                        // Woken (taken off the idle list), or spuriously.
                        let mut q = lock(&self.queue);
                        if let Some(i) = q.idle.iter().position(|t| t.id() == me.id()) {
                            q.idle.swap_remove(i);
                        }
                        continue;
                    }
                }
            };
            if more {
                // What is left must not wait for this job.
                self.wake_one();
            }
            job.run();
        }
    }
}

/// Queued, not running.
const SCHEDULED: u8 = 0;
/// Being polled.
const RUNNING: u8 = 1;
/// Woken while being polled: polled again after.
const NOTIFIED: u8 = 2;
/// Waiting for a wake-up.
const IDLE: u8 = 3;
/// Finished.
const DONE: u8 = 4;

/// A future run by the pool, and its own waker.
struct Job<F> {
    state: AtomicU8,
    /// Taken (dropped) when it finishes; locked only by the thread
    /// polling it.
    fut: Mutex<Option<F>>,
    pool: &'static Pool,
    /// The mailbox of the poller that started it, if one did.
    home: Option<&'static Mailbox>,
}

impl<F: Future<Output = ()> + Send + Unpin + 'static> Run for Job<F> {
    fn run(self: Arc<Self>) {
        self.state.store(RUNNING, Ordering::Release);
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = lock(&self.fut);
        let Some(f) = fut.as_mut() else { return };
        // A panic escaping a series (its own code, not a callback, which
        // the driver catches) ends the job, not the thread.
        let outer = JOB_HOME.replace(self.home);
        let done = catch_unwind(AssertUnwindSafe(|| Pin::new(f).poll(&mut cx).is_ready())).unwrap_or(true);
        JOB_HOME.set(outer);
        if done {
            let f = fut.take();
            drop(fut);
            self.state.store(DONE, Ordering::Release);
            let _ = catch_unwind(AssertUnwindSafe(move || drop(f)));
            return;
        }
        drop(fut);
        if self.state.compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // Woken while it ran: after what is queued already.
            self.state.store(SCHEDULED, Ordering::Release);
            lock(&self.pool.queue).jobs.push_back(self);
        }
    }
}

impl<F: Future<Output = ()> + Send + Unpin + 'static> Wake for Job<F> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            let next = match s {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                _ => return, // queued, to run again, or finished
            };
            match self.state.compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) if next == SCHEDULED => return self.pool.push(self.clone()),
                Ok(_) => return,
                Err(now) => s = now,
            }
        }
    }
}

thread_local! {
    /// On a poller thread: its [`on_poller`] task's waker, once it ran.
    static TURN_END: RefCell<Option<Waker>> = const { RefCell::new(None) };
    /// On a poller thread: handler threads are to be woken at the end of
    /// this turn.
    static WAKE_PENDING: Cell<bool> = const { Cell::new(false) };
    /// On a poller thread: its mailbox, once its [`on_poller`] task ran.
    static POLLER_MAILBOX: Cell<Option<&'static Mailbox>> = const { Cell::new(None) };
    /// On a handler thread, while it polls a job: the job's home poller.
    static JOB_HOME: Cell<Option<&'static Mailbox>> = const { Cell::new(None) };
}

/// Wakes `w`, a task of the pollers: from a job started on a poller, by
/// way of that poller's [`Mailbox`]; elsewhere at once.
#[cfg_attr(not(feature = "net"), allow(dead_code))] // server replies use it
#[inline]
pub(crate) fn wake_home(w: Waker) {
    match JOB_HOME.get() {
        Some(home) => home.post(w),
        None => w.wake(),
    }
}

/// Wake-ups handler threads send one poller, woken there by its
/// [`on_poller`] task.
struct Mailbox {
    inner: Mutex<Posted>,
}

struct Posted {
    /// Posted since the poller last took them.
    wakers: Vec<Waker>,
    /// The poller's [`on_poller`] task.
    drain: Waker,
}

impl Mailbox {
    /// Posts `w`; the first one since the poller took them wakes it.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    fn post(&self, w: Waker) {
        let drain = {
            let mut m = lock(&self.inner);
            m.wakers.push(w);
            (m.wakers.len() == 1).then(|| m.drain.clone())
        };
        if let Some(d) = drain {
            d.wake();
        }
    }
}

/// On a poller thread with an [`on_poller`] task: leaves the wake-up of a
/// handler thread to the end of the turn (true); elsewhere false.
fn defer_wake() -> bool {
    if WAKE_PENDING.get() {
        return true;
    }
    TURN_END.with_borrow(|w| match w {
        Some(w) => {
            WAKE_PENDING.set(true);
            w.wake_by_ref();
            true
        }
        None => false,
    })
}

/// The task each poller loop runs for the pool. Woken by the first job
/// a turn queues, it runs after the tasks woken before it (the other
/// connections of that turn) and wakes a handler thread for them all;
/// woken by its [`Mailbox`], it wakes the tasks posted there.
pub(crate) async fn on_poller(pool: &'static Pool) {
    let mut mailbox: Option<&'static Mailbox> = None;
    let mut posted = Vec::new();
    std::future::poll_fn(|cx| {
        let mailbox = *mailbox.get_or_insert_with(|| {
            let m: &'static Mailbox = Box::leak(Box::new(Mailbox {
                inner: Mutex::new(Posted { wakers: Vec::new(), drain: cx.waker().clone() }),
            }));
            POLLER_MAILBOX.set(Some(m));
            m
        });
        TURN_END.with_borrow_mut(|w| match w {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *w = Some(cx.waker().clone()),
        });
        {
            let mut m = lock(&mailbox.inner);
            if !m.drain.will_wake(cx.waker()) {
                m.drain = cx.waker().clone();
            }
            std::mem::swap(&mut posted, &mut m.wakers);
        }
        posted.drain(..).for_each(Waker::wake);
        if WAKE_PENDING.replace(false) {
            pool.wake_one();
        }
        Poll::<()>::Pending
    })
    .await
}
