//! One file operation on its way to a backend and back, and the piece of a
//! task kind that sends it and waits for it.

use std::task::{Context, Poll};

use tokio::sync::oneshot;
use wf_core::{Error, RunContext};

use crate::backend;
use crate::target::FileTarget;

/// A read buffer: a `Vec` with room for `count` bytes; the backend fills
/// the spare capacity and sets the length to the bytes read.
pub(crate) struct ReadBuf {
    pub(crate) vec: Vec<u8>,
    pub(crate) count: usize,
}

impl ReadBuf {
    /// Allocates room for `count` bytes; `ENOMEM` when that is impossible
    /// (a huge count is an error in the callback, not an abort).
    pub(crate) fn new(count: usize) -> Result<ReadBuf, i32> {
        let mut vec = Vec::new();
        vec.try_reserve_exact(count).map_err(|_| libc::ENOMEM)?;
        Ok(ReadBuf { vec, count })
    }

    /// Marks the first `n` bytes (`n <= count`) as written by the kernel.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the spare capacity must have been written.
    pub(crate) unsafe fn filled(&mut self, n: usize) {
        debug_assert!(n <= self.count && self.count <= self.vec.capacity());
        // SAFETY: the caller guarantees the bytes were written, and
        // n <= count <= capacity.
        unsafe { self.vec.set_len(n) };
    }
}

/// What to do.
pub(crate) enum Op {
    Read(ReadBuf),
    Write(Vec<u8>),
    ReadV(Vec<ReadBuf>),
    WriteV(Vec<Vec<u8>>),
    Sync { data_only: bool },
}

impl Op {
    /// Whether a path target is opened for writing (`O_WRONLY | O_CREAT`).
    pub(crate) fn writes(&self) -> bool {
        matches!(self, Op::Write(_) | Op::WriteV(_))
    }

    /// Spreads `n` bytes read over the buffers of a vectored read.
    ///
    /// # Safety
    ///
    /// The kernel must have written `n` bytes into the buffers' spare
    /// capacities, in order.
    pub(crate) unsafe fn filled_v(bufs: &mut [ReadBuf], mut n: usize) {
        for b in bufs {
            let k = n.min(b.count);
            // SAFETY: the first k bytes of this buffer are among the n written.
            unsafe { b.filled(k) };
            n -= k;
        }
    }
}

/// An operation and its file.
pub(crate) struct Request {
    pub(crate) target: FileTarget,
    pub(crate) offset: u64,
    pub(crate) op: Op,
}

/// A finished operation: the buffers come back with the byte count or the errno.
pub(crate) struct Completion {
    pub(crate) op: Op,
    pub(crate) result: Result<usize, i32>,
}

/// Where a backend delivers a [`Completion`].
pub(crate) type Reply = oneshot::Sender<Completion>;

/// The state a task kind keeps for its one operation.
pub(crate) struct Call {
    pending: Option<backend::Pending>,
    retval: isize,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("in_flight", &self.pending.is_some()).field("retval", &self.retval).finish()
    }
}

impl Call {
    pub(crate) fn new() -> Call {
        Call { pending: None, retval: -1 }
    }

    /// The byte count (0 for syncs), or -1 until the operation succeeded.
    pub(crate) fn retval(&self) -> isize {
        self.retval
    }

    /// Sends the request `make` builds on first poll, then waits for it.
    /// Gives back the operation (with its buffers) when it finished, and
    /// records the outcome in `run`. `make` fails with an errno for bad
    /// input found before anything is sent.
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        run: &mut RunContext<'_>,
        make: impl FnOnce() -> Result<Request, i32>,
    ) -> Poll<Option<Op>> {
        if self.pending.is_none() {
            match make() {
                Ok(req) => self.pending = Some(backend::submit(req)),
                Err(errno) => {
                    run.set_error(Error::sys(errno));
                    return Poll::Ready(None);
                }
            }
        }
        let Some(pending) = self.pending.as_mut() else { unreachable!("sent above") };
        let done = std::task::ready!(pending.poll(cx));
        self.pending = None;
        Poll::Ready(match done {
            Some(Completion { op, result: Ok(n) }) => {
                self.retval = n as isize;
                Some(op)
            }
            Some(Completion { op, result: Err(errno) }) => {
                run.set_error(Error::sys(errno));
                Some(op)
            }
            // The backend lost the operation (its thread died): say so
            // rather than hang.
            None => {
                run.set_error(Error::sys(libc::EIO));
                None
            }
        })
    }
}

/// Rejects offsets the kernel would read as negative (io_uring would even
/// take -1 as "the current position").
pub(crate) fn check_offset(offset: u64) -> Result<u64, i32> {
    if offset > i64::MAX as u64 { Err(libc::EINVAL) } else { Ok(offset) }
}
