//! One io_uring instance, shared under a lock by the threads that submit
//! to it, and the operations in flight on it.
//!
//! A submitting thread pushes its entry and enters the kernel at once. A
//! read of page-cached data completes inside that `io_uring_enter`, so
//! the thread finds its completion right after the call and goes on with
//! it: no other thread, no wake-up. Completions that come later (disk
//! reads, writes handed to io_uring's workers, `fsync`) are reaped by
//! whichever thread next touches the ring, or by the ring's reaper task,
//! woken through an eventfd. The eventfd is switched off while a thread
//! is in its own `io_uring_enter`, which reaps afterwards anyway, so that
//! inline completions wake nobody; it is switched on again only when
//! operations remain in flight after that reap (so a run of inline
//! completions does not switch it at all).
//!
//! Whatever the kernel may read or write (buffers, iovecs, the path of an
//! open) belongs to the ring from submission to completion, even if the
//! task that asked is dropped meanwhile.
//!
//! When `io_uring_enter` fails, the entries it did not take stay queued.
//! After a passing shortage (`EAGAIN`, `EBUSY`) one retry task per ring
//! submits them again, backing off from 1 ms to at most 128 ms, until the
//! kernel takes them (any submission meanwhile takes them along). Any
//! other errno means the ring no longer works: the queued operations fail
//! with it, and the ring is broken for good. It never enters the kernel
//! again, so the entries left in its queue, whose buffers went back to
//! their tasks, are never read; operations already in the kernel still
//! complete and are reaped. New operations go to another ring (see
//! [`Rings`](super::Rings)), or fail with the errno if none is left.

use std::collections::VecDeque;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use io_uring::{IoUring, opcode, squeue};
use wf_core::lock::lock;

use crate::op::Op;

/// Submission queue entries of a ring; the completion queue has twice as
/// many, and the operations in flight on a ring never exceed it.
const ENTRIES: u32 = 256;

/// The first wait before a failed submission is retried; it doubles with
/// every failed retry, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(1);

/// The longest wait between two retries of a submission.
const RETRY_MAX: Duration = Duration::from_millis(128);

/// Enters the kernel with the queued entries: [`IoUring::submit`], unless
/// a test puts a failure in between.
pub(super) type Enter = Box<dyn FnMut(&IoUring) -> io::Result<usize> + Send>;

/// What the kernel may read or write while an operation is in flight.
#[derive(Default)]
pub(super) struct Owned {
    /// The operation's buffers.
    pub(super) op: Option<Op>,
    /// The iovecs of a vectored operation, pointing into `op`'s buffers.
    pub(super) iov: IoVecs,
    /// The path of an open.
    pub(super) path: Option<CString>,
}

/// iovecs pointing into the buffers of the [`Owned`] that holds them.
#[derive(Default)]
pub(super) struct IoVecs(pub(super) Vec<libc::iovec>);

// SAFETY: the pointers lead into buffers owned next to them, in the same
// `Owned`, and are only handed to the kernel, never dereferenced here.
unsafe impl Send for IoVecs {}

/// What to release when an operation completes after its task is gone.
#[derive(Clone, Copy, Debug)]
pub(super) enum Orphan {
    /// Nothing but the buffers.
    Buffers,
    /// The descriptor an open returned.
    OpenedFd,
    /// This descriptor, opened for the operation.
    Close(RawFd),
}

enum Slot {
    Free {
        next: usize,
    },
    /// In the kernel; `orphan` is set once the task is gone.
    InFlight {
        owned: Owned,
        waker: Option<Waker>,
        orphan: Option<Orphan>,
    },
    /// Completed, waiting for its task: the result is the CQE's (`-errno`
    /// on failure).
    Done {
        owned: Owned,
        result: i32,
    },
}

const NONE: usize = usize::MAX;

struct State {
    uring: IoUring,
    enter: Enter,
    slots: Vec<Slot>,
    /// Slots whose entries are in the submission queue, not yet taken by
    /// the kernel (after a failed submission), oldest first.
    queued: VecDeque<usize>,
    /// Whether a retry task is pending: there is at most one.
    retrying: bool,
    free: usize,
    in_flight: usize,
    /// Tasks waiting for room in the ring.
    waiting: VecDeque<Waker>,
    /// Tasks to wake once the lock is released (see [`unlock`]).
    woken: Vec<Waker>,
    /// Whether the kernel signals the eventfd. Off only while no
    /// operation is in flight (or this thread is about to reap), so that
    /// the common case, every completion inline, costs no switching.
    eventfd_on: bool,
}

/// How [`Ring::start`] went.
pub(super) enum Start {
    /// Completed inside the submission (a page-cached read), or failed
    /// with the ring (`-errno`): the result is here already.
    Done(Owned, i32),
    /// In flight: poll this slot.
    InFlight(usize),
    /// No room (the queue is full of entries failed submissions left):
    /// the buffers come back and the task is woken when there is room.
    Full(Owned),
}

/// One io_uring instance; see the module documentation.
pub(super) struct Ring {
    state: Mutex<State>,
    /// Signalled by the kernel for completions nobody reaps at once.
    eventfd: OwnedFd,
    /// Operations in flight at most: the completion queue's size, so that
    /// it never overflows.
    cap: usize,
    /// The errno that broke the ring (see the module documentation), or 0.
    /// Written under the lock.
    broken: AtomicI32,
}

impl Ring {
    /// Sets up a ring, checks that the kernel has every operation wf uses
    /// (Linux 5.6), and registers its eventfd. The errno otherwise
    /// (`EPERM` under a seccomp filter, `ENOSYS` on old kernels).
    pub(super) fn new() -> Result<Ring, i32> {
        Ring::with_enter(Box::new(|uring| uring.submit()))
    }

    /// A ring that enters the kernel through `enter`.
    pub(super) fn with_enter(enter: Enter) -> Result<Ring, i32> {
        let uring = IoUring::new(ENTRIES).map_err(|e| errno(&e))?;
        let mut probe = io_uring::Probe::new();
        uring.submitter().register_probe(&mut probe).map_err(|e| errno(&e))?;
        let needed = [
            opcode::Read::CODE,
            opcode::Write::CODE,
            opcode::Readv::CODE,
            opcode::Writev::CODE,
            opcode::Fsync::CODE,
            opcode::OpenAt::CODE,
        ];
        if !needed.iter().all(|&code| probe.is_supported(code)) {
            return Err(libc::ENOSYS);
        }
        // SAFETY: plain syscall; the descriptor is checked and then owned.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(errno(&io::Error::last_os_error()));
        }
        // SAFETY: `efd` is a fresh descriptor that nothing else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(efd) };
        uring.submitter().register_eventfd(eventfd.as_raw_fd()).map_err(|e| errno(&e))?;
        let cap = uring.params().cq_entries() as usize;
        let state = State {
            uring,
            enter,
            slots: Vec::new(),
            queued: VecDeque::new(),
            retrying: false,
            free: NONE,
            in_flight: 0,
            waiting: VecDeque::new(),
            woken: Vec::new(),
            eventfd_on: true,
        };
        Ok(Ring { state: Mutex::new(state), eventfd, cap, broken: AtomicI32::new(0) })
    }

    /// Whether a submission failed for good on this ring (see the module
    /// documentation): operations started on it fail.
    pub(super) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed) != 0
    }

    /// The eventfd the reaper task waits on.
    pub(super) fn eventfd(&self) -> RawFd {
        self.eventfd.as_raw_fd()
    }

    /// Submits the entry `make` builds from `owned` (the ring sets its
    /// `user_data`). Whatever the entry points into must live in `owned`.
    pub(super) fn start(
        &'static self,
        mut owned: Owned,
        make: impl FnOnce(&mut Owned) -> squeue::Entry,
        cx: &mut Context<'_>,
    ) -> Start {
        let mut s = lock(&self.state);
        let broken = self.broken.load(Ordering::Relaxed);
        if broken != 0 {
            unlock(s);
            return Start::Done(owned, -broken);
        }
        if s.in_flight >= self.cap {
            // Completions not reaped yet may have made room.
            s.reap();
            if s.in_flight >= self.cap {
                s.wait_for_room(cx.waker());
                unlock(s);
                return Start::Full(owned);
            }
        }
        let slot = s.alloc();
        let entry = make(&mut owned).user_data(slot as u64);
        // SAFETY: everything the entry points into is in `owned`, which the
        // slot keeps until the completion is reaped.
        if unsafe { s.uring.submission().push(&entry) }.is_err() {
            // Only if earlier submissions failed and filled the queue.
            s.release(slot);
            s.wait_for_room(cx.waker());
            unlock(s);
            return Start::Full(owned);
        }
        s.slots[slot] = Slot::InFlight { owned, waker: None, orphan: None };
        s.in_flight += 1;
        s.queued.push_back(slot);
        match s.submit() {
            Ok(()) => {}
            Err(e) if transient(e) => {
                // The entry stays queued: the next submission takes it
                // along, and a retry is scheduled in case there is none.
                s.set_waker(slot, cx);
                let spawn = !std::mem::replace(&mut s.retrying, true);
                unlock(s);
                if spawn {
                    self.retry_later(e);
                }
                return Start::InFlight(slot);
            }
            // This operation is among the queued ones, done now.
            Err(e) => self.fail_queued(&mut s, e),
        }
        let start = match s.take_done(slot) {
            Some((owned, result)) => Start::Done(owned, result),
            None => {
                s.set_waker(slot, cx);
                Start::InFlight(slot)
            }
        };
        unlock(s);
        start
    }

    /// Polls the operation in `slot`.
    pub(super) fn poll(&self, slot: usize, cx: &mut Context<'_>) -> Poll<(Owned, i32)> {
        let mut s = lock(&self.state);
        s.reap();
        let poll = match s.take_done(slot) {
            Some(done) => Poll::Ready(done),
            None => {
                s.set_waker(slot, cx);
                Poll::Pending
            }
        };
        unlock(s);
        poll
    }

    /// The task that started the operation in `slot` is gone: the ring
    /// releases what `orphan` says when it completes.
    pub(super) fn abandon(&self, slot: usize, orphan: Orphan) {
        let done = {
            let mut s = lock(&self.state);
            match &mut s.slots[slot] {
                Slot::InFlight { orphan: o, waker, .. } => {
                    *o = Some(orphan);
                    *waker = None;
                    None
                }
                _ => s.take_done(slot),
            }
        };
        if let Some((_owned, result)) = done {
            release(orphan, result);
        }
    }

    /// Reaps what completed (the reaper task, after the eventfd fired).
    pub(super) fn reap(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads 8 bytes into `buf`; the eventfd is non-blocking,
        // and EAGAIN (nothing signalled) is fine.
        let _ = unsafe { libc::read(self.eventfd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        let mut s = lock(&self.state);
        s.reap();
        unlock(s);
    }

    /// A task that was told to wait for room is gone: passes its turn on,
    /// so that no wake-up for room is lost with it.
    pub(super) fn pass_turn(&self) {
        let mut s = lock(&self.state);
        if s.in_flight < self.cap {
            if let Some(w) = s.waiting.pop_front() {
                drop(s);
                w.wake();
            }
        }
    }

    /// Operations in the kernel.
    #[cfg(test)]
    pub(super) fn in_flight(&self) -> usize {
        lock(&self.state).in_flight
    }

    /// The most operations in the kernel at once.
    #[cfg(test)]
    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    /// Entries in the submission queue that the kernel has not taken.
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        lock(&self.state).queued.len()
    }

    /// Whether a retry task is pending.
    #[cfg(test)]
    pub(super) fn retrying(&self) -> bool {
        lock(&self.state).retrying
    }

    /// The retry task's turn: submits what failed submissions left queued
    /// (unless a submission since took it along). `Err` with a transient
    /// errno if it has to try again; otherwise the task is done.
    fn retry(&self) -> Result<(), i32> {
        let mut s = lock(&self.state);
        let r = if s.queued.is_empty() || self.is_broken() { Ok(()) } else { s.submit() };
        match r {
            Err(e) if transient(e) => {}
            Err(e) => {
                self.fail_queued(&mut s, e);
                s.retrying = false;
            }
            Ok(()) => s.retrying = false,
        }
        unlock(s);
        r
    }

    /// After a transient failure of `io_uring_enter` (`EAGAIN`: the kernel
    /// is short of memory), submits again, backing off, until the kernel
    /// takes the queued entries or fails them for good. The one retry task
    /// of the ring ([`State::retrying`] is set).
    fn retry_later(&'static self, errno: i32) {
        warn_retry(errno);
        wf_core::handle().spawn(async move {
            let mut wait = RETRY_FIRST;
            loop {
                tokio::time::sleep(wait).await;
                match self.retry() {
                    Err(e) if transient(e) => wait = (wait * 2).min(RETRY_MAX),
                    _ => return,
                }
            }
        });
    }

    /// `io_uring_enter` failed with `errno`, which no retry mends: breaks
    /// the ring and completes the operations whose entries the kernel did
    /// not take with the errno (see the module documentation). Tasks
    /// waiting for room are woken to fail too.
    fn fail_queued(&self, s: &mut State, errno: i32) {
        self.broken.store(errno, Ordering::Relaxed);
        warn_failed(errno, s.queued.len());
        let State { slots, free, in_flight, queued, waiting, woken, .. } = s;
        for slot in queued.drain(..) {
            match std::mem::replace(&mut slots[slot], Slot::Free { next: *free }) {
                Slot::InFlight { owned, waker, orphan: None } => {
                    slots[slot] = Slot::Done { owned, result: -errno };
                    woken.extend(waker);
                }
                // The buffers can go: the kernel never sees the entry.
                Slot::InFlight { orphan: Some(orphan), .. } => {
                    *free = slot;
                    release(orphan, -errno);
                }
                other => {
                    slots[slot] = other;
                    continue;
                }
            }
            *in_flight -= 1;
        }
        woken.extend(waiting.drain(..));
    }
}

impl State {
    /// Queues a task for a wake-up when there is room. A task polled again
    /// right after it queued keeps its one place; other stale entries cost
    /// a wake-up each, and [`reap`](State::reap) wakes every waiter once
    /// nothing is in flight, so none is forgotten.
    fn wait_for_room(&mut self, waker: &Waker) {
        if !self.waiting.back().is_some_and(|w| w.will_wake(waker)) {
            self.waiting.push_back(waker.clone());
        }
    }

    fn alloc(&mut self) -> usize {
        if self.free == NONE {
            self.slots.push(Slot::Free { next: NONE });
            return self.slots.len() - 1;
        }
        let slot = self.free;
        let Slot::Free { next } = self.slots[slot] else { unreachable!("the free list holds free slots") };
        self.free = next;
        slot
    }

    fn release(&mut self, slot: usize) {
        self.slots[slot] = Slot::Free { next: self.free };
        self.free = slot;
    }

    fn set_waker(&mut self, slot: usize, cx: &Context<'_>) {
        if let Slot::InFlight { waker, .. } = &mut self.slots[slot] {
            match waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *waker = Some(cx.waker().clone()),
            }
        }
    }

    fn take_done(&mut self, slot: usize) -> Option<(Owned, i32)> {
        if !matches!(self.slots[slot], Slot::Done { .. }) {
            return None;
        }
        let Slot::Done { owned, result } = std::mem::replace(&mut self.slots[slot], Slot::Free { next: self.free })
        else {
            unreachable!("checked above")
        };
        self.free = slot;
        Some((owned, result))
    }

    /// Enters the kernel with what is queued, the eventfd off meanwhile
    /// (this thread reaps right after), then reaps.
    fn submit(&mut self) -> Result<(), i32> {
        if self.eventfd_on {
            self.uring.completion().disable_eventfd();
            self.eventfd_on = false;
        }
        let r = loop {
            match (self.enter)(&self.uring) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                r => break r,
            }
        };
        // The kernel takes entries in order: those left are the newest.
        let left = self.uring.submission().len();
        let taken = self.queued.len().saturating_sub(left);
        self.queued.drain(..taken);
        let r = match r {
            // The kernel may take fewer entries than queued when it is
            // short of memory: the rest wait for a retry.
            Ok(_) if left > 0 => Err(libc::EAGAIN),
            Ok(_) => Ok(()),
            Err(e) => Err(errno(&e)),
        };
        self.reap();
        if self.in_flight > 0 {
            // Some completions are still to come: the eventfd must tell.
            // One posted before it was on is reaped just below.
            self.uring.completion().enable_eventfd();
            self.eventfd_on = true;
            self.reap();
        }
        r
    }

    /// Moves completions into their slots and marks their tasks (and, for
    /// each operation that left the kernel, one task waiting for room) to
    /// be woken by [`unlock`].
    fn reap(&mut self) {
        let State { uring, slots, free, in_flight, waiting, woken, .. } = self;
        for cqe in uring.completion() {
            let slot = cqe.user_data() as usize;
            let result = cqe.result();
            match std::mem::replace(&mut slots[slot], Slot::Free { next: *free }) {
                Slot::InFlight { owned, waker, orphan: None } => {
                    slots[slot] = Slot::Done { owned, result };
                    woken.extend(waker);
                }
                Slot::InFlight { orphan: Some(orphan), .. } => {
                    *free = slot;
                    release(orphan, result);
                }
                other => {
                    slots[slot] = other;
                    continue;
                }
            }
            *in_flight -= 1;
            woken.extend(waiting.pop_front());
        }
        // An entry may stand for a task that no longer waits (it got room
        // later, or was dropped), and so spend a completion's wake-up: once
        // nothing is in flight, no completion will come to wake the rest.
        if *in_flight == 0 {
            woken.extend(waiting.drain(..));
        }
    }
}

/// Releases the lock, then wakes the tasks that [`State::reap`] marked:
/// a wake-up never runs under the lock.
fn unlock(mut s: MutexGuard<'_, State>) {
    if s.woken.is_empty() {
        return;
    }
    let woken = std::mem::take(&mut s.woken);
    drop(s);
    for w in woken {
        w.wake();
    }
}

/// Releases what an orphaned operation leaves behind.
fn release(orphan: Orphan, result: i32) {
    let fd = match orphan {
        Orphan::Buffers => return,
        Orphan::OpenedFd if result >= 0 => result,
        Orphan::OpenedFd => return,
        Orphan::Close(fd) => fd,
    };
    // SAFETY: the ring opened `fd` for a task that is gone; nothing else
    // owns it.
    unsafe { libc::close(fd) };
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Whether a failed `io_uring_enter` may work when tried again: the kernel
/// was short of memory (`EAGAIN`) or of room for completions (`EBUSY`), or
/// a signal came (`EINTR`).
fn transient(errno: i32) -> bool {
    matches!(errno, libc::EAGAIN | libc::EBUSY | libc::EINTR)
}

/// Says, through `tracing`, that a submission failed and is retried.
#[cfg(feature = "tracing")]
fn warn_retry(errno: i32) {
    tracing::warn!(target: "wf", errno, "wf-fileio: io_uring_enter failed; retrying, backing off from 1 ms");
}

/// Without the `tracing` feature a retried submission is not reported.
#[cfg(not(feature = "tracing"))]
fn warn_retry(_errno: i32) {}

/// Says, through `tracing`, that a submission failed for good and the
/// operations it left queued failed with it.
#[cfg(feature = "tracing")]
fn warn_failed(errno: i32, operations: usize) {
    tracing::error!(
        target: "wf",
        errno,
        operations,
        "wf-fileio: io_uring_enter failed; the queued operations fail and the ring is no longer used"
    );
}

/// Without the `tracing` feature a failed submission is not reported.
#[cfg(not(feature = "tracing"))]
fn warn_failed(_errno: i32, _operations: usize) {}
