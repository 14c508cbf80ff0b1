//! Submission entries for wf's file operations.

use std::ffi::CString;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types};

use super::ring::Owned;
use crate::op::{Op, ReadBuf};

/// The entry that runs `owned`'s operation on `fd` at `offset`; the
/// iovecs of a vectored operation are put in `owned` first.
pub(super) fn exec(fd: RawFd, offset: u64, owned: &mut Owned) -> squeue::Entry {
    let fd = types::Fd(fd);
    let Owned { op, iov, .. } = owned;
    match op.as_mut().expect("an operation comes with its buffers") {
        Op::Read(rb) => opcode::Read::new(fd, spare(rb), len32(rb.count)).offset(offset).build(),
        Op::Write(buf) => opcode::Write::new(fd, buf.as_ptr(), len32(buf.len())).offset(offset).build(),
        Op::ReadV(bufs) => {
            iov.0 = bufs.iter_mut().map(|rb| libc::iovec { iov_base: spare(rb).cast(), iov_len: rb.count }).collect();
            opcode::Readv::new(fd, iov.0.as_ptr(), len32(iov.0.len())).offset(offset).build()
        }
        Op::WriteV(bufs) => {
            iov.0 = bufs.iter().map(|b| libc::iovec { iov_base: b.as_ptr() as *mut _, iov_len: b.len() }).collect();
            opcode::Writev::new(fd, iov.0.as_ptr(), len32(iov.0.len())).offset(offset).build()
        }
        Op::Sync { data_only } => {
            let flags = if *data_only { types::FsyncFlags::DATASYNC } else { types::FsyncFlags::empty() };
            opcode::Fsync::new(fd).flags(flags).build()
        }
    }
}

/// The entry that opens `path` for `op` (`O_RDONLY`, or `O_WRONLY |
/// O_CREAT` with mode `0644` for a write), close-on-exec.
pub(super) fn open(path: &CString, writes: bool) -> squeue::Entry {
    let flags = if writes { libc::O_WRONLY | libc::O_CREAT } else { libc::O_RDONLY } | libc::O_CLOEXEC;
    opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr()).flags(flags).mode(0o644).build()
}

/// The buffer's spare capacity (at least `count` bytes, reserved by
/// `ReadBuf::new`), where the kernel writes.
fn spare(rb: &mut ReadBuf) -> *mut u8 {
    rb.vec.spare_capacity_mut().as_mut_ptr().cast()
}

/// A length as io_uring takes it. A longer buffer is cut (a short read
/// or write, which `retval` reports; the kernel stops below 2 GiB anyway);
/// a longer iovec array fails with `EINVAL` as it would in `preadv`.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
