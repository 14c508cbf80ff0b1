//! fsync and fdatasync tasks (Workflow's `WFFileSyncTask`).

use std::os::fd::RawFd;
use std::path::Path;
use std::task::{Context, Poll};

use wf_core::{RunContext, Task, TaskKind};

use crate::op::{Call, Op, Request};
use crate::target::FileTarget;

/// An fsync or fdatasync task.
pub type FileSyncTask = Task<FileSync>;

/// The kind of a [`FileSyncTask`]: flushes a file to its storage.
#[derive(Debug)]
pub struct FileSync {
    target: FileTarget,
    data_only: bool,
    call: Call,
}

impl FileSync {
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

    /// Whether this is an fdatasync task.
    pub fn is_datasync(&self) -> bool {
        self.data_only
    }

    /// 0 when the task succeeded, else -1.
    pub fn retval(&self) -> isize {
        self.call.retval()
    }
}

impl TaskKind for FileSync {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let target = &self.target;
        let data_only = self.data_only;
        std::task::ready!(
            self.call
                .poll(cx, run, || { Ok(Request { target: target.clone(), offset: 0, op: Op::Sync { data_only } }) })
        );
        Poll::Ready(())
    }
}

fn create(
    target: FileTarget,
    data_only: bool,
    callback: impl FnOnce(&mut FileSyncTask) + Send + 'static,
) -> FileSyncTask {
    Task::new(FileSync { target, data_only, call: Call::new() }).with_callback(callback)
}

/// Creates a task that flushes the file's data and metadata (Workflow's
/// `create_fsync_task`). A path is opened `O_RDONLY` and closed.
pub fn create_fsync_task(
    target: impl Into<FileTarget>,
    callback: impl FnOnce(&mut FileSyncTask) + Send + 'static,
) -> FileSyncTask {
    create(target.into(), false, callback)
}

/// Creates a task that flushes the file's data and the metadata needed to
/// read it back (Workflow's `create_fdatasync_task`; `fsync` where the
/// system has no `fdatasync`). A path is opened `O_RDONLY` and closed.
pub fn create_fdatasync_task(
    target: impl Into<FileTarget>,
    callback: impl FnOnce(&mut FileSyncTask) + Send + 'static,
) -> FileSyncTask {
    create(target.into(), true, callback)
}
