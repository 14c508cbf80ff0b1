//! The portable backend: blocking `pread`/`pwrite`/`preadv`/`pwritev`/
//! `fsync`/`fdatasync` on a small pool of threads.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Condvar, Mutex};

use wf_core::lock::{lock, wait};

use crate::op::{Completion, Op, ReadBuf, Reply, Request};
use crate::target::FileTarget;

type Job = (Request, Reply);

pub(super) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

impl Pool {
    pub(super) fn start(threads: usize) -> Pool {
        let shared = Arc::new(Shared { jobs: Mutex::new(VecDeque::new()), ready: Condvar::new() });
        for i in 0..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("wf-fileio-{i}"))
                .spawn(move || worker(&shared))
                .expect("wf-fileio: cannot start a file IO thread");
        }
        Pool { shared }
    }

    pub(super) fn submit(&self, req: Request, reply: Reply) {
        lock(&self.shared.jobs).push_back((req, reply));
        self.shared.ready.notify_one();
    }
}

fn worker(shared: &Shared) {
    loop {
        let (req, reply) = {
            let mut jobs = lock(&shared.jobs);
            loop {
                if let Some(job) = jobs.pop_front() {
                    break job;
                }
                jobs = wait(&shared.ready, jobs);
            }
        };
        // The task may be gone (runtime shutdown): nothing to tell then.
        let _ = reply.send(run(req));
    }
}

/// Runs one request to completion on this thread.
fn run(req: Request) -> Completion {
    let Request { target, offset, mut op } = req;
    let file: File;
    let fd = match target {
        FileTarget::Fd(fd) => fd,
        FileTarget::Path(path) => {
            let mut o = OpenOptions::new();
            if op.writes() {
                o.write(true).create(true).mode(0o644);
            } else {
                o.read(true);
            }
            match o.open(&path) {
                Ok(f) => {
                    file = f;
                    file.as_raw_fd()
                }
                Err(e) => return Completion { op, result: Err(e.raw_os_error().unwrap_or(libc::EIO)) },
            }
        }
    };
    let result = exec(fd, offset, &mut op);
    // A path's file closes here, when `file` drops, before the callback.
    Completion { op, result }
}

fn exec(fd: RawFd, offset: u64, op: &mut Op) -> Result<usize, i32> {
    let Ok(off) = libc::off_t::try_from(offset) else { return Err(libc::EINVAL) };
    match op {
        Op::Read(rb) => {
            let spare = rb.vec.spare_capacity_mut();
            // SAFETY: `spare` is writable memory of at least `rb.count` bytes
            // (ReadBuf reserved them); pread writes at most that many.
            let n = retry(|| unsafe { libc::pread(fd, spare.as_mut_ptr().cast(), rb.count, off) })?;
            // SAFETY: pread wrote the first n bytes.
            unsafe { rb.filled(n) };
            Ok(n)
        }
        Op::Write(buf) => {
            // SAFETY: `buf` is `buf.len()` readable bytes.
            retry(|| unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), off) })
        }
        Op::ReadV(bufs) => {
            let iov: Vec<libc::iovec> = bufs.iter_mut().map(read_iovec).collect();
            let cnt = iov_count(iov.len())?;
            // SAFETY: each iovec is writable spare capacity of its buffer,
            // which outlives the call.
            let n = retry(|| unsafe { libc::preadv(fd, iov.as_ptr(), cnt, off) })?;
            // SAFETY: preadv wrote n bytes over the iovecs in order.
            unsafe { Op::filled_v(bufs, n) };
            Ok(n)
        }
        Op::WriteV(bufs) => {
            let iov: Vec<libc::iovec> =
                bufs.iter().map(|b| libc::iovec { iov_base: b.as_ptr() as *mut _, iov_len: b.len() }).collect();
            let cnt = iov_count(iov.len())?;
            // SAFETY: each iovec is the initialized bytes of its buffer,
            // which outlives the call; pwritev only reads them.
            retry(|| unsafe { libc::pwritev(fd, iov.as_ptr(), cnt, off) })
        }
        Op::Sync { data_only } => {
            // SAFETY: plain syscalls on a descriptor number.
            retry(|| unsafe { if *data_only { fdatasync(fd) } else { libc::fsync(fd) } } as isize)
        }
    }
}

fn read_iovec(rb: &mut ReadBuf) -> libc::iovec {
    libc::iovec { iov_base: rb.vec.spare_capacity_mut().as_mut_ptr().cast(), iov_len: rb.count }
}

fn iov_count(n: usize) -> Result<libc::c_int, i32> {
    libc::c_int::try_from(n).map_err(|_| libc::EINVAL)
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
unsafe fn fdatasync(fd: RawFd) -> libc::c_int {
    // SAFETY: as fsync.
    unsafe { libc::fsync(fd) }
}

#[cfg(not(any(target_os = "macos", target_os = "ios")))]
unsafe fn fdatasync(fd: RawFd) -> libc::c_int {
    // SAFETY: a plain syscall on a descriptor number.
    unsafe { libc::fdatasync(fd) }
}

/// Runs a syscall until it is not interrupted; its result or its errno.
fn retry(mut call: impl FnMut() -> isize) -> Result<usize, i32> {
    loop {
        let r = call();
        if r >= 0 {
            return Ok(r as usize);
        }
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}
