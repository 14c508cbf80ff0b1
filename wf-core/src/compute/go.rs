//! Go tasks: a closure run on a named compute queue.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Sleep;

use super::executor::{ExecQueue, get_exec_queue};
use crate::error::Error;
use crate::task::{RunContext, Task, TaskKind};

/// A closure run on the compute pool; its result is kept in the task
/// (Workflow's `WFGoTask`, with a return value).
///
/// ```
/// let t = wf_core::create_go_task("doc", || (1..=10).sum::<u32>());
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let t = rt.block_on(async { t.await });
/// assert_eq!(t.result(), Some(&55));
/// ```
pub type GoTask<R = ()> = Task<Go<R>>;

/// The kind of a [`GoTask`].
pub struct Go<R> {
    queue: ExecQueue,
    func: Option<Box<dyn FnOnce() -> R + Send>>,
    /// Set by `compute` when the series moved to the compute thread.
    outcome: Option<std::thread::Result<R>>,
    /// The outcome, when the closure was sent to the pool by `poll_run`.
    rx: Option<oneshot::Receiver<std::thread::Result<R>>>,
    timeout: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    result: Option<R>,
}

impl<R> std::fmt::Debug for Go<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Go").field("queue", &self.queue).finish_non_exhaustive()
    }
}

impl<R: Send + 'static> Go<R> {
    fn new<F>(queue: ExecQueue, func: F, timeout: Option<Duration>) -> Go<R>
    where
        F: FnOnce() -> R + Send + 'static,
    {
        Go { queue, func: Some(Box::new(func)), outcome: None, rx: None, timeout, sleep: None, result: None }
    }

    /// The closure's return value; `None` until it returned, or when it
    /// panicked or timed out.
    pub fn result(&self) -> Option<&R> {
        self.result.as_ref()
    }

    /// Takes the closure's return value out.
    pub fn take_result(&mut self) -> Option<R> {
        self.result.take()
    }

    /// The queue the closure runs on.
    pub fn queue(&self) -> &ExecQueue {
        &self.queue
    }

    fn settle(&mut self, outcome: std::thread::Result<R>, run: &mut RunContext<'_>) {
        match outcome {
            Ok(r) => self.result = Some(r),
            Err(_panic) => run.set_panicked(),
        }
    }
}

impl<R: Send + 'static> TaskKind for Go<R> {
    fn compute_queue(&self) -> Option<ExecQueue> {
        // A timed go task must be watched by its series while it runs.
        (self.func.is_some() && self.timeout.is_none()).then(|| self.queue.clone())
    }

    fn compute(&mut self) {
        if let Some(f) = self.func.take() {
            self.outcome = Some(catch_unwind(AssertUnwindSafe(f)));
        }
    }

    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if let Some(outcome) = self.outcome.take() {
            self.settle(outcome, run);
            return Poll::Ready(());
        }
        if let Some(func) = self.func.take() {
            let (tx, rx) = oneshot::channel();
            self.queue.submit(Box::new(move || {
                // Still queued at shutdown: dropping `tx` aborts the task.
                if !crate::shutdown::is_shutting_down() {
                    let _ = tx.send(catch_unwind(AssertUnwindSafe(func)));
                }
            }));
            self.rx = Some(rx);
            if let Some(t) = self.timeout {
                self.sleep = Some(Box::pin(tokio::time::sleep(t)));
            }
        }
        let Some(rx) = self.rx.as_mut() else { return Poll::Ready(()) };
        match Pin::new(rx).poll(cx) {
            Poll::Ready(Ok(outcome)) => self.settle(outcome, run),
            Poll::Ready(Err(_)) => run.set_error(dropped()),
            Poll::Pending => {
                if !self.sleep.as_mut().is_some_and(|s| s.as_mut().poll(cx).is_ready()) {
                    return Poll::Pending;
                }
                // The closure runs on; its result is dropped.
                run.set_error(Error::sys(libc::ETIMEDOUT));
            }
        }
        self.rx = None;
        self.sleep = None;
        Poll::Ready(())
    }
}

/// The outcome of a compute job dropped without running: aborted by
/// shutdown, else canceled.
pub(super) fn dropped() -> Error {
    if crate::shutdown::is_shutting_down() { Error::aborted() } else { Error::sys(libc::ECANCELED) }
}

/// Creates a go task: `func` runs on the compute queue `queue`
/// (Workflow's `WFTaskFactory::create_go_task`). Set a callback with
/// [`Task::with_callback`] or [`Task::set_callback`].
pub fn create_go_task<R, F>(queue: &str, func: F) -> GoTask<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Task::new(Go::new(get_exec_queue(queue), func, None))
}

/// Like [`create_go_task`] on a queue handle, which saves the name lookup.
pub fn create_go_task_on<R, F>(queue: &ExecQueue, func: F) -> GoTask<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Task::new(Go::new(queue.clone(), func, None))
}

/// A go task with a deadline (Workflow's `create_timedgo_task`): when
/// `timeout` passes first, the callback runs with `SYS_ERROR`/`ETIMEDOUT`
/// while the closure runs on and its result is dropped.
pub fn create_timedgo_task<R, F>(timeout: Duration, queue: &str, func: F) -> GoTask<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Task::new(Go::new(get_exec_queue(queue), func, Some(timeout)))
}
