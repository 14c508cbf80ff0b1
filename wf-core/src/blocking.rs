//! Blocking for a task from code that is not async (Workflow's
//! `WFFacilities::request`).

use std::time::Duration;

use crate::compute::executor_thread;
use crate::error::Error;
use crate::task::{Task, TaskKind};
use crate::{runtime, series};

/// Starts `task` and blocks the calling thread until its callback has run;
/// returns the finished task (Workflow's `WFFacilities::request`, for any
/// task: an HTTP, Redis or MySQL request, a go task, a timer…).
///
/// This is for code outside wf: `main`, a thread of the program's own, a
/// thread of an [`Executor`](crate::Executor) the program created. The
/// task's own timeouts bound the wait; [`request_timeout`] adds one of its
/// own.
///
/// ```
/// let t = wf_core::request(wf_core::create_go_task("doc-request", || 6 * 7)).unwrap();
/// assert_eq!(t.result(), Some(&42));
/// ```
///
/// # Errors
///
/// `SYS_ERROR`/`EDEADLK`, without starting the task, when called where
/// blocking could deadlock: in a task or series callback or a server's
/// `process`, on a poller thread (or in any async context), or on a thread
/// of wf's compute pool. The task those threads would wait for may need the very thread
/// that waits.
pub fn request<K: TaskKind>(task: Task<K>) -> Result<Task<K>, Error> {
    check_may_block()?;
    Ok(runtime::handle().block_on(task.into_future()))
}

/// Like [`request`], giving up after `timeout`.
///
/// # Errors
///
/// Those of [`request`], and `SYS_ERROR`/`ETIMEDOUT` when `timeout` passed
/// first: the task runs on and is dropped when it finishes.
pub fn request_timeout<K: TaskKind>(task: Task<K>, timeout: Duration) -> Result<Task<K>, Error> {
    check_may_block()?;
    runtime::handle()
        .block_on(async { tokio::time::timeout(timeout, task.into_future()).await })
        .map_err(|_| Error::sys(libc::ETIMEDOUT))
}

fn check_may_block() -> Result<(), Error> {
    let deadlock = series::in_callback()
        || match executor_thread() {
            // wf's own compute pool: the task may need this thread.
            Some(global) => global,
            // A poller thread, or async code the program runs.
            None => tokio::runtime::Handle::try_current().is_ok(),
        };
    if deadlock {
        return Err(Error::sys(libc::EDEADLK).with_cause(
            "wf::request blocks its thread: call it outside callbacks, async code, poller and compute threads",
        ));
    }
    Ok(())
}
