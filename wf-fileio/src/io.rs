//! pread and pwrite tasks (Workflow's `WFFileIOTask`).

use std::os::fd::RawFd;
use std::path::Path;
use std::task::{Context, Poll};

use wf_core::{RunContext, Task, TaskKind};

use crate::op::{Call, Op, ReadBuf, Request, check_offset};
use crate::target::FileTarget;

/// A pread or pwrite task.
pub type FileIoTask = Task<FileIo>;

/// The kind of a [`FileIoTask`]: one positional read or write.
///
/// The buffer belongs to the task: a pwrite task holds the bytes it
/// writes, a pread task the bytes it read (exactly [`retval`](FileIo::retval)
/// of them). Take it in the callback with [`take_buf`](FileIo::take_buf).
#[derive(Debug)]
pub struct FileIo {
    target: FileTarget,
    offset: u64,
    count: usize,
    write: bool,
    buf: Vec<u8>,
    call: Call,
}

impl FileIo {
    /// The file.
    pub fn target(&self) -> &FileTarget {
        &self.target
    }

    /// The descriptor, for a task on a descriptor (Workflow's `args->fd`).
    pub fn fd(&self) -> Option<RawFd> {
        self.target.fd()
    }

    /// The path, for a task on a path.
    pub fn path(&self) -> Option<&Path> {
        self.target.path()
    }

    /// The file offset.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The bytes asked for: the read size, or the length of the data to write.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether this is a pwrite task.
    pub fn is_write(&self) -> bool {
        self.write
    }

    /// The bytes read (exactly [`retval`](FileIo::retval) of them), or the
    /// bytes to write.
    pub fn buf(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the buffer out of the task.
    pub fn take_buf(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The bytes read or written, or -1 unless the task succeeded
    /// (Workflow's `get_retval`). A read at or past the end of the file
    /// gives 0; a short read gives what was there.
    pub fn retval(&self) -> isize {
        self.call.retval()
    }
}

impl TaskKind for FileIo {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let op = std::task::ready!(self.call.poll(cx, run, || {
            let offset = check_offset(self.offset)?;
            let op =
                if self.write { Op::Write(std::mem::take(&mut self.buf)) } else { Op::Read(ReadBuf::new(self.count)?) };
            Ok(Request { target: self.target.clone(), offset, op })
        }));
        match op {
            Some(Op::Write(buf)) => self.buf = buf,
            Some(Op::Read(rb)) => self.buf = rb.vec,
            _ => {}
        }
        Poll::Ready(())
    }
}

/// Creates a task that reads up to `count` bytes at `offset` (Workflow's
/// `create_pread_task`). In the callback, `buf()` holds the bytes read and
/// `retval()` their number; errors are `SYS_ERROR` with the errno.
///
/// `target` is a descriptor (`RawFd`, left open) or a path (opened
/// `O_RDONLY` and closed by the task).
pub fn create_pread_task(
    target: impl Into<FileTarget>,
    count: usize,
    offset: u64,
    callback: impl FnOnce(&mut FileIoTask) + Send + 'static,
) -> FileIoTask {
    let kind = FileIo { target: target.into(), offset, count, write: false, buf: Vec::new(), call: Call::new() };
    Task::new(kind).with_callback(callback)
}

/// Creates a task that writes `buf` at `offset` (Workflow's
/// `create_pwrite_task`); `retval()` is the number of bytes written.
///
/// `target` is a descriptor (`RawFd`, left open) or a path (opened
/// `O_WRONLY | O_CREAT`, mode `0644`, and closed by the task).
pub fn create_pwrite_task(
    target: impl Into<FileTarget>,
    buf: impl Into<Vec<u8>>,
    offset: u64,
    callback: impl FnOnce(&mut FileIoTask) + Send + 'static,
) -> FileIoTask {
    let buf = buf.into();
    let kind = FileIo { target: target.into(), offset, count: buf.len(), write: true, buf, call: Call::new() };
    Task::new(kind).with_callback(callback)
}
