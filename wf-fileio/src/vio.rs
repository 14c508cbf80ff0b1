//! preadv and pwritev tasks (Workflow's `WFFileVIOTask`).

use std::os::fd::RawFd;
use std::path::Path;
use std::task::{Context, Poll};

use wf_core::{RunContext, Task, TaskKind};

use crate::op::{Call, Op, ReadBuf, Request, check_offset};
use crate::target::FileTarget;

/// A preadv or pwritev task.
pub type FileVioTask = Task<FileVio>;

/// The kind of a [`FileVioTask`]: one positional scatter read or gather
/// write over several buffers, which belong to the task.
#[derive(Debug)]
pub struct FileVio {
    target: FileTarget,
    offset: u64,
    /// For reads, the size of each buffer.
    sizes: Vec<usize>,
    write: bool,
    bufs: Vec<Vec<u8>>,
    call: Call,
}

impl FileVio {
    /// The file.
    pub fn target(&self) -> &FileTarget {
        &self.target
    }

    /// The descriptor, for a task on a descriptor.
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

    /// Whether this is a pwritev task.
    pub fn is_write(&self) -> bool {
        self.write
    }

    /// The buffers: for a read, as many as were asked for, filled in order
    /// with the [`retval`](FileVio::retval) bytes read (a short read leaves
    /// the last ones shorter or empty); for a write, the data.
    pub fn bufs(&self) -> &[Vec<u8>] {
        &self.bufs
    }

    /// Takes the buffers out of the task.
    pub fn take_bufs(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.bufs)
    }

    /// The bytes read or written in all, or -1 unless the task succeeded.
    pub fn retval(&self) -> isize {
        self.call.retval()
    }
}

impl TaskKind for FileVio {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let op = std::task::ready!(self.call.poll(cx, run, || {
            let offset = check_offset(self.offset)?;
            let op = if self.write {
                Op::WriteV(std::mem::take(&mut self.bufs))
            } else {
                Op::ReadV(self.sizes.iter().map(|&n| ReadBuf::new(n)).collect::<Result<_, _>>()?)
            };
            Ok(Request { target: self.target.clone(), offset, op })
        }));
        match op {
            Some(Op::WriteV(bufs)) => self.bufs = bufs,
            Some(Op::ReadV(rbs)) => self.bufs = rbs.into_iter().map(|rb| rb.vec).collect(),
            _ => {}
        }
        Poll::Ready(())
    }
}

/// Creates a task that reads into buffers of the given `sizes`, in order,
/// from `offset` (Workflow's `create_preadv_task`); more than `IOV_MAX`
/// (1024) buffers fail with `EINVAL`.
///
/// `target` is a descriptor (`RawFd`, left open) or a path (opened
/// `O_RDONLY` and closed by the task).
pub fn create_preadv_task(
    target: impl Into<FileTarget>,
    sizes: impl IntoIterator<Item = usize>,
    offset: u64,
    callback: impl FnOnce(&mut FileVioTask) + Send + 'static,
) -> FileVioTask {
    let sizes: Vec<usize> = sizes.into_iter().collect();
    let kind = FileVio { target: target.into(), offset, sizes, write: false, bufs: Vec::new(), call: Call::new() };
    Task::new(kind).with_callback(callback)
}

/// Creates a task that writes `bufs`, one after another, at `offset`
/// (Workflow's `create_pwritev_task`).
///
/// `target` is a descriptor (`RawFd`, left open) or a path (opened
/// `O_WRONLY | O_CREAT`, mode `0644`, and closed by the task).
pub fn create_pwritev_task(
    target: impl Into<FileTarget>,
    bufs: Vec<Vec<u8>>,
    offset: u64,
    callback: impl FnOnce(&mut FileVioTask) + Send + 'static,
) -> FileVioTask {
    let kind = FileVio { target: target.into(), offset, sizes: Vec::new(), write: true, bufs, call: Call::new() };
    Task::new(kind).with_callback(callback)
}
