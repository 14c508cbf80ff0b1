//! One file task's operation on a ring: for a path, an open, the
//! operation, and the close.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::task::{Context, Poll};

use super::ring::{Orphan, Owned, Ring, Start};
use super::sqe;
use crate::op::{Completion, Op, Request};
use crate::target::FileTarget;

/// A file operation on its way through a ring; polled by the task.
pub(crate) struct Call {
    ring: &'static Ring,
    stage: Stage,
}

enum Stage {
    /// To submit when polled.
    Next(Next),
    /// In the ring.
    InFlight { slot: usize, then: Then },
    /// Finished (or failed before reaching the ring).
    Ready(Completion),
    /// Handed out.
    Gone,
}

enum Next {
    Open { path: CString, offset: u64, op: Op },
    Exec { fd: RawFd, offset: u64, op: Op, close: Option<RawFd> },
}

/// What an operation in flight was for.
enum Then {
    /// An open; the operation waits here for the descriptor.
    Opened { offset: u64, op: Op },
    /// The operation; `close` is the descriptor a path's open gave.
    Executed { fd: RawFd, offset: u64, close: Option<RawFd> },
}

impl Call {
    pub(super) fn new(ring: &'static Ring, req: Request) -> Call {
        let Request { target, offset, op } = req;
        let stage = match target {
            FileTarget::Fd(fd) => Stage::Next(Next::Exec { fd, offset, op, close: None }),
            FileTarget::Path(p) => match CString::new(p.as_os_str().as_bytes()) {
                Ok(path) => Stage::Next(Next::Open { path, offset, op }),
                // A NUL byte inside: no such path can exist.
                Err(_) => Stage::Ready(Completion { op, result: Err(libc::EINVAL) }),
            },
        };
        Call { ring, stage }
    }

    /// Submits, or checks on, the operation; its completion when done.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Completion> {
        loop {
            self.stage = match std::mem::replace(&mut self.stage, Stage::Gone) {
                Stage::Ready(c) => return Poll::Ready(c),
                Stage::Gone => unreachable!("a call is not polled after it completed"),
                Stage::InFlight { slot, then } => match self.ring.poll(slot, cx) {
                    Poll::Ready((owned, result)) => after(then, owned, result),
                    Poll::Pending => {
                        self.stage = Stage::InFlight { slot, then };
                        return Poll::Pending;
                    }
                },
                Stage::Next(Next::Open { path, offset, op }) => {
                    let writes = op.writes();
                    let owned = Owned { path: Some(path), ..Owned::default() };
                    let start = self.ring.start(owned, |o| sqe::open(o.path.as_ref().expect("set above"), writes), cx);
                    match self.started(start, Then::Opened { offset, op }) {
                        Some(stage) => stage,
                        None => return Poll::Pending,
                    }
                }
                Stage::Next(Next::Exec { fd, offset, op, close }) => {
                    let owned = Owned { op: Some(op), ..Owned::default() };
                    let start = self.ring.start(owned, |o| sqe::exec(fd, offset, o), cx);
                    match self.started(start, Then::Executed { fd, offset, close }) {
                        Some(stage) => stage,
                        None => return Poll::Pending,
                    }
                }
            };
        }
    }

    /// The stage after a submission, or `None` (and the stage set) when
    /// the task must wait.
    fn started(&mut self, start: Start, then: Then) -> Option<Stage> {
        match start {
            Start::Done(owned, result) => Some(after(then, owned, result)),
            Start::InFlight(slot) => {
                self.stage = Stage::InFlight { slot, then };
                None
            }
            Start::Full(owned) => {
                self.stage = Stage::Next(match then {
                    Then::Opened { offset, op } => {
                        Next::Open { path: owned.path.expect("an open keeps its path"), offset, op }
                    }
                    Then::Executed { fd, offset, close } => {
                        Next::Exec { fd, offset, op: owned.op.expect("an operation keeps its buffers"), close }
                    }
                });
                None
            }
        }
    }
}

/// The stage after an operation completed with `result` (`-errno` on failure).
fn after(then: Then, owned: Owned, result: i32) -> Stage {
    match then {
        Then::Opened { op, .. } if result < 0 => Stage::Ready(Completion { op, result: Err(-result) }),
        Then::Opened { offset, op } => Stage::Next(Next::Exec { fd: result, offset, op, close: Some(result) }),
        Then::Executed { close, .. } => {
            if let Some(fd) = close {
                // Closed before the callback runs; a close error changes
                // nothing about the bytes already read or written.
                // SAFETY: the ring opened `fd` for this call alone.
                unsafe { libc::close(fd) };
            }
            let mut op = owned.op.expect("an operation keeps its buffers");
            let result = match usize::try_from(result) {
                Ok(n) => {
                    // SAFETY: the kernel wrote `n` bytes into the buffers'
                    // spare capacities, in order.
                    unsafe { filled(&mut op, n) };
                    Ok(n)
                }
                Err(_) => Err(-result),
            };
            Stage::Ready(Completion { op, result })
        }
    }
}

/// Marks the `n` bytes a read put in the buffers as theirs.
///
/// # Safety
///
/// The kernel must have written `n` bytes into the buffers' spare
/// capacities, in order.
unsafe fn filled(op: &mut Op, n: usize) {
    match op {
        // SAFETY: as the caller guarantees; n <= count for a single buffer.
        Op::Read(rb) => unsafe { rb.filled(n.min(rb.count)) },
        // SAFETY: as the caller guarantees.
        Op::ReadV(bufs) => unsafe { Op::filled_v(bufs, n) },
        Op::Write(_) | Op::WriteV(_) | Op::Sync { .. } => {}
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.stage, Stage::Gone) {
            Stage::InFlight { slot, then } => {
                let orphan = match then {
                    Then::Opened { .. } => Orphan::OpenedFd,
                    Then::Executed { close: Some(fd), .. } => Orphan::Close(fd),
                    Then::Executed { close: None, .. } => Orphan::Buffers,
                };
                self.ring.abandon(slot, orphan);
            }
            Stage::Next(next) => {
                // It may have been waiting for room.
                self.ring.pass_turn();
                if let Next::Exec { close: Some(fd), .. } = next {
                    // SAFETY: the ring opened `fd` for this call alone.
                    unsafe { libc::close(fd) };
                }
            }
            Stage::Ready(_) | Stage::Gone => {}
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
    use std::task::{Wake, Waker};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::op::ReadBuf;

    /// Counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn ring() -> &'static Ring {
        Box::leak(Box::new(Ring::new().expect("io_uring works here")))
    }

    /// A pipe: a read on it stays in the kernel until something is written.
    pub(crate) fn pipe() -> (RawFd, RawFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        (fds[0], fds[1])
    }

    pub(crate) fn write(fd: RawFd, n: usize) {
        let data = vec![b'x'; n];
        // SAFETY: `data` is `n` readable bytes.
        assert_eq!(unsafe { libc::write(fd, data.as_ptr().cast(), n) }, n as isize);
    }

    fn read(ring: &'static Ring, fd: RawFd, count: usize) -> Call {
        let req = Request { target: FileTarget::Fd(fd), offset: 0, op: Op::Read(ReadBuf::new(count).unwrap()) };
        Call::new(ring, req)
    }

    /// Polls `call` until it completes, reaping the ring meanwhile.
    pub(crate) fn finish(ring: &Ring, call: &mut Call) -> Completion {
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(c) = call.poll(&mut cx) {
            return c;
        }
        reap_until(ring, || ring.in_flight() == 0);
        match call.poll(&mut cx) {
            Poll::Ready(c) => c,
            Poll::Pending => panic!("the kernel completed it"),
        }
    }

    /// Reaps until `done` holds (the kernel completes pipe reads on its
    /// own time); a bounded wait, not a timing.
    fn reap_until(ring: &Ring, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "the kernel never completed the reads");
            ring.reap();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_dropped_call_leaves_its_buffer_to_the_ring_until_the_kernel_is_done() {
        let ring = ring();
        let (r, w) = pipe();
        let mut call = read(ring, r, 4);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(call.poll(&mut cx).is_pending());
        assert_eq!(ring.in_flight(), 1);
        drop(call);
        // The buffer is the ring's now: the kernel writes into it, and the
        // ring frees it with the completion.
        write(w, 4);
        reap_until(ring, || ring.in_flight() == 0);
        // The slot is free again: the next read on this ring works.
        write(w, 2);
        let c = finish(ring, &mut read(ring, r, 2));
        let Op::Read(rb) = c.op else { panic!("a read") };
        assert_eq!((c.result, rb.vec.as_slice()), (Ok(2), &b"xx"[..]));
        // SAFETY: the pipe is this test's.
        unsafe { (libc::close(r), libc::close(w)) };
    }

    #[test]
    fn a_full_ring_makes_the_next_operation_wait_for_room() {
        let ring = ring();
        let (r, w) = pipe();
        let mut cx = Context::from_waker(Waker::noop());
        let mut blocked: Vec<Call> = (0..ring.cap()).map(|_| read(ring, r, 1)).collect();
        for c in &mut blocked {
            assert!(c.poll(&mut cx).is_pending());
        }
        assert_eq!(ring.in_flight(), ring.cap());
        // One more does not reach the kernel: it waits for room.
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut extra = read(ring, r, 1);
        assert!(extra.poll(&mut Context::from_waker(&waker)).is_pending());
        assert!(matches!(extra.stage, Stage::Next(_)), "not submitted");
        assert_eq!(ring.in_flight(), ring.cap());
        // Completions make room, and wake the waiting task.
        write(w, ring.cap() + 1);
        reap_until(ring, || count.0.load(Ordering::SeqCst) > 0);
        assert_eq!(finish(ring, &mut extra).result, Ok(1));
        for c in &mut blocked {
            assert_eq!(finish(ring, c).result, Ok(1));
        }
        assert_eq!(ring.in_flight(), 0);
        // SAFETY: the pipe is this test's.
        unsafe { (libc::close(r), libc::close(w)) };
    }

    /// A ring whose `io_uring_enter` fails with the errno in the first
    /// counter while it is not 0 (`errno` at first), and counts its calls
    /// in the second.
    pub(crate) fn failing_ring(errno: i32) -> (Ring, Arc<AtomicI32>, Arc<AtomicUsize>) {
        let fail = Arc::new(AtomicI32::new(errno));
        let calls = Arc::new(AtomicUsize::new(0));
        let (f, c) = (fail.clone(), calls.clone());
        let ring = Ring::with_enter(Box::new(move |uring| {
            c.fetch_add(1, Ordering::SeqCst);
            match f.load(Ordering::SeqCst) {
                0 => uring.submit(),
                errno => Err(io::Error::from_raw_os_error(errno)),
            }
        }));
        (ring.expect("io_uring works here"), fail, calls)
    }

    /// [`failing_ring`], kept for the rest of the process, and a pipe.
    fn failing(errno: i32) -> (&'static Ring, Arc<AtomicI32>, Arc<AtomicUsize>, (RawFd, RawFd)) {
        let (ring, fail, calls) = failing_ring(errno);
        (Box::leak(Box::new(ring)), fail, calls, pipe())
    }

    #[test]
    fn a_submission_short_of_memory_is_retried_by_one_task_until_it_goes_in() {
        let (ring, fail, _, (r, w)) = failing(libc::EAGAIN);
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = read(ring, r, 1);
        assert!(first.poll(&mut cx).is_pending());
        assert_eq!((ring.queued(), ring.retrying()), (1, true));
        // A second failure while the retry is pending takes the same retry.
        let mut second = read(ring, r, 1);
        assert!(second.poll(&mut cx).is_pending());
        assert_eq!((ring.queued(), ring.retrying()), (2, true));
        assert!(!ring.is_broken(), "EAGAIN passes");
        // Once the kernel takes entries again, the retry submits both and ends.
        fail.store(0, Ordering::SeqCst);
        reap_until(ring, || ring.queued() == 0 && !ring.retrying());
        assert_eq!(ring.in_flight(), 2, "both in the kernel");
        write(w, 2);
        assert_eq!(finish(ring, &mut first).result, Ok(1));
        assert_eq!(finish(ring, &mut second).result, Ok(1));
        // SAFETY: the pipe is this test's.
        unsafe { (libc::close(r), libc::close(w)) };
    }

    #[test]
    fn a_submission_failing_for_good_fails_the_queued_operations_with_its_errno() {
        let (ring, fail, calls, (r, w)) = failing(0);
        let mut cx = Context::from_waker(Waker::noop());
        // In the kernel before the ring breaks: it completes all the same.
        let mut submitted = read(ring, r, 1);
        assert!(submitted.poll(&mut cx).is_pending());
        // Queued by a transient failure, then failed with the errno that
        // breaks the ring (by the next submission or by the retry, which
        // comes first), and woken.
        fail.store(libc::EAGAIN, Ordering::SeqCst);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut queued = read(ring, r, 1);
        assert!(queued.poll(&mut Context::from_waker(&waker)).is_pending());
        fail.store(libc::EBADFD, Ordering::SeqCst);
        let mut next = read(ring, r, 1);
        let Poll::Ready(c) = next.poll(&mut cx) else { panic!("failed at once") };
        assert_eq!(c.result, Err(libc::EBADFD));
        // Woken after the lock is released, maybe by the retry task.
        reap_until(ring, || count.0.load(Ordering::SeqCst) > 0);
        let Poll::Ready(c) = queued.poll(&mut cx) else { panic!("failed") };
        assert_eq!(c.result, Err(libc::EBADFD));
        assert!(ring.is_broken());
        reap_until(ring, || !ring.retrying());
        assert_eq!((ring.queued(), ring.in_flight()), (0, 1));
        // A broken ring never enters the kernel again: what is left in its
        // queue stays unread there.
        let entered = calls.load(Ordering::SeqCst);
        let Poll::Ready(c) = read(ring, r, 1).poll(&mut cx) else { panic!("failed at once") };
        assert_eq!(c.result, Err(libc::EBADFD));
        assert_eq!(calls.load(Ordering::SeqCst), entered);
        write(w, 1);
        assert_eq!(finish(ring, &mut submitted).result, Ok(1));
        // SAFETY: the pipe is this test's.
        unsafe { (libc::close(r), libc::close(w)) };
    }
}
