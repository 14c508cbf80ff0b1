//! The io_uring backend, driven straight from wf's own threads.
//!
//! There is no ring thread: a file task submits its operation to a ring
//! from the poller thread it runs on and enters the kernel at once (see
//! [`ring`]). A page-cached read completes inside that call, so the task
//! goes on to its callback in the same poll, on the same thread, the way a
//! single-threaded io_uring loop would. Each thread keeps to one ring
//! (threads are spread over the rings round robin), so the pollers do not
//! contend for a lock. Completions that come later are reaped by the next
//! thread to touch the ring, or by the ring's reaper task on wf's runtime,
//! which waits on the ring's eventfd.
//!
//! This replaces tokio-uring, whose operations can only be submitted from
//! a thread running its own runtime: every wf task then paid a hop to a
//! ring thread and a wake-up back (BENCHMARKS.md, "File IO").

mod call;
mod ring;
mod sqe;

use std::cell::Cell;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::op::Request;
pub(crate) use call::Call;
use ring::Ring;

pub(super) struct Rings {
    /// Never dropped: the backend lives as long as the process, and so do
    /// the operations in flight on it.
    rings: &'static [Ring],
    /// The ring the next thread to submit keeps to.
    next: AtomicUsize,
}

thread_local! {
    /// This thread's ring, once it submitted something.
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

impl Rings {
    /// Sets up `n` rings (fewer if the kernel refuses more, e.g. over
    /// `RLIMIT_MEMLOCK` before Linux 5.12) and starts their reaper tasks
    /// on wf's runtime; the errno of the first ring if none can be set up
    /// (`EPERM` under a seccomp filter, `ENOSYS` on old kernels).
    pub(super) fn start(n: usize) -> Result<Rings, i32> {
        let mut rings = vec![Ring::new()?];
        while rings.len() < n {
            match Ring::new() {
                Ok(ring) => rings.push(ring),
                Err(errno) => {
                    fewer_rings(rings.len(), errno);
                    break;
                }
            }
        }
        let rings: &'static [Ring] = Vec::leak(rings);
        let rt = wf_core::handle();
        let _entered = rt.enter();
        for ring in rings {
            // SAFETY: the eventfd is the ring's, open for as long as the
            // ring lives, which is as long as the process.
            let efd = unsafe { AsyncFd::register_with_interest(EventFd(ring.eventfd()), Interest::READABLE) }
                .map_err(|e| e.into_parts().1.raw_os_error().unwrap_or(libc::EIO))?;
            rt.spawn(reap(ring, efd));
        }
        Ok(Rings { rings, next: AtomicUsize::new(0) })
    }

    /// How many rings there are.
    pub(super) fn len(&self) -> usize {
        self.rings.len()
    }

    /// Starts `req` on this thread's ring; the returned call submits it
    /// when first polled. A thread whose ring broke moves on to the next
    /// ring that works (if none does, its operations fail with the errno
    /// that broke its ring).
    pub(super) fn call(&'static self, req: Request) -> Call {
        let n = self.rings.len();
        let i = MINE.with(|mine| {
            if mine.get() >= n {
                mine.set(self.next.fetch_add(1, Ordering::Relaxed) % n);
            }
            let i = mine.get();
            if self.rings[i].is_broken() {
                if let Some(j) = (1..n).map(|k| (i + k) % n).find(|&j| !self.rings[j].is_broken()) {
                    mine.set(j);
                }
            }
            mine.get()
        });
        Call::new(&self.rings[i], req)
    }
}

/// The eventfd of a ring, as tokio's reactor sees it (the ring owns it).
struct EventFd(RawFd);

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A ring's reaper task: reaps whenever the kernel signals a completion
/// that no submitting thread picked up.
async fn reap(ring: &'static Ring, efd: AsyncFd<EventFd>) {
    loop {
        match efd.readable().await {
            Ok(mut ready) => {
                // Cleared first: a completion signalled from here on makes
                // the eventfd readable again.
                ready.clear_ready();
                ring.reap();
            }
            // The reactor is gone: the runtime is shutting down.
            Err(_) => return,
        }
    }
}

/// Says, through `tracing`, that fewer rings than asked could be set up.
#[cfg(feature = "tracing")]
fn fewer_rings(rings: usize, errno: i32) {
    tracing::warn!(target: "wf", rings, errno, "wf-fileio: no more io_uring rings could be set up; using fewer");
}

/// Without the `tracing` feature this is not reported.
#[cfg(not(feature = "tracing"))]
fn fewer_rings(_rings: usize, _errno: i32) {}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::call::tests::{failing_ring, finish, pipe, write};
    use super::*;
    use crate::op::{Op, ReadBuf};
    use crate::target::FileTarget;

    fn read(fd: RawFd) -> Request {
        Request { target: FileTarget::Fd(fd), offset: 0, op: Op::Read(ReadBuf::new(1).unwrap()) }
    }

    #[test]
    fn a_thread_whose_ring_broke_moves_on_to_a_ring_that_works() {
        let rings = Vec::leak(vec![failing_ring(libc::EBADFD).0, failing_ring(0).0]);
        let (broken, works) = (&rings[0], &rings[1]);
        let rings: &'static Rings = Box::leak(Box::new(Rings { rings, next: AtomicUsize::new(0) }));
        let (r, w) = pipe();
        write(w, 1);
        // This thread's first call goes to the first ring, and breaks it.
        let Poll::Ready(c) = rings.call(read(r)).poll(&mut Context::from_waker(Waker::noop())) else {
            panic!("failed at once")
        };
        assert_eq!(c.result, Err(libc::EBADFD));
        assert!(broken.is_broken());
        // The next one goes to the other ring.
        assert_eq!(finish(works, &mut rings.call(read(r))).result, Ok(1));
        // SAFETY: the pipe is this test's.
        unsafe { (libc::close(r), libc::close(w)) };
    }
}
