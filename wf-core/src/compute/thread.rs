//! Thread tasks: a routine with typed input and output on the compute pool.

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

type Routine<I, O> = Box<dyn FnOnce(&mut I) -> O + Send>;
type Reply<I, O> = (I, std::thread::Result<O>);

/// A routine with typed input and output run on the compute pool
/// (Workflow's `WFThreadTask<IN, OUT>`).
///
/// ```
/// let t = wf_core::create_thread_task("doc", (6, 7), |io: &mut (i32, i32)| io.0 * io.1, |t| {
///     assert_eq!(t.output(), Some(&42));
///     assert_eq!(t.input(), Some(&(6, 7)));
/// });
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let t = rt.block_on(async { t.await });
/// assert_eq!(t.state(), wf_core::State::Success);
/// ```
pub type ThreadTask<I, O> = Task<Thread<I, O>>;

/// The kind of a [`ThreadTask`].
pub struct Thread<I, O> {
    queue: ExecQueue,
    input: Option<I>,
    routine: Option<Routine<I, O>>,
    rx: Option<oneshot::Receiver<Reply<I, O>>>,
    /// Set by `compute` when the series moved to the compute thread.
    outcome: Option<std::thread::Result<O>>,
    timeout: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    output: Option<O>,
}

impl<I, O> std::fmt::Debug for Thread<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thread").field("queue", &self.queue).finish_non_exhaustive()
    }
}

impl<I, O> Thread<I, O> {
    /// The input; `None` while the routine runs, and after a timeout.
    pub fn input(&self) -> Option<&I> {
        self.input.as_ref()
    }

    /// The input, mutably (e.g. to fill it before start).
    pub fn input_mut(&mut self) -> Option<&mut I> {
        self.input.as_mut()
    }

    /// The routine's output; `None` until it returned, or when it panicked
    /// or timed out.
    pub fn output(&self) -> Option<&O> {
        self.output.as_ref()
    }

    /// Takes the output out.
    pub fn take_output(&mut self) -> Option<O> {
        self.output.take()
    }
}

impl<I: Send + 'static, O: Send + 'static> TaskKind for Thread<I, O> {
    fn compute_queue(&self) -> Option<ExecQueue> {
        (self.routine.is_some() && self.timeout.is_none()).then(|| self.queue.clone())
    }

    fn compute(&mut self) {
        if let (Some(routine), Some(input)) = (self.routine.take(), self.input.as_mut()) {
            self.outcome = Some(catch_unwind(AssertUnwindSafe(|| routine(input))));
        }
    }

    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if let Some(outcome) = self.outcome.take() {
            match outcome {
                Ok(o) => self.output = Some(o),
                Err(_) => run.set_panicked(),
            }
            return Poll::Ready(());
        }
        if let (Some(routine), Some(mut input)) = (self.routine.take(), self.input.take()) {
            let (tx, rx) = oneshot::channel();
            self.queue.submit(Box::new(move || {
                // Still queued at shutdown: dropping `tx` aborts the task.
                if !crate::shutdown::is_shutting_down() {
                    let r = catch_unwind(AssertUnwindSafe(|| routine(&mut input)));
                    let _ = tx.send((input, r));
                }
            }));
            self.rx = Some(rx);
            if let Some(t) = self.timeout {
                self.sleep = Some(Box::pin(tokio::time::sleep(t)));
            }
        }
        let Some(rx) = self.rx.as_mut() else { return Poll::Ready(()) };
        match Pin::new(rx).poll(cx) {
            Poll::Ready(Ok((input, r))) => {
                self.input = Some(input);
                match r {
                    Ok(o) => self.output = Some(o),
                    Err(_) => run.set_panicked(),
                }
            }
            Poll::Ready(Err(_)) => run.set_error(super::go::dropped()),
            Poll::Pending => match self.sleep.as_mut() {
                _ if self.sleep.as_mut().is_some_and(|s| s.as_mut().poll(cx).is_ready()) => {
                    run.set_error(Error::sys(libc::ETIMEDOUT));
                }
                _ => return Poll::Pending,
            },
        }
        self.rx = None;
        self.sleep = None;
        Poll::Ready(())
    }
}

fn new_thread_task<I, O, F, C>(
    queue: ExecQueue,
    input: I,
    routine: F,
    timeout: Option<Duration>,
    callback: C,
) -> ThreadTask<I, O>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(&mut I) -> O + Send + 'static,
    C: FnOnce(&mut ThreadTask<I, O>) + Send + 'static,
{
    Task::new(Thread {
        queue,
        input: Some(input),
        routine: Some(Box::new(routine)),
        rx: None,
        outcome: None,
        timeout,
        sleep: None,
        output: None,
    })
    .with_callback(callback)
}

/// Creates a thread task: `routine(&mut input)` runs on compute queue
/// `queue` and its return value becomes the output
/// (Workflow's `WFThreadTaskFactory::create_thread_task`).
pub fn create_thread_task<I, O, F, C>(queue: &str, input: I, routine: F, callback: C) -> ThreadTask<I, O>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(&mut I) -> O + Send + 'static,
    C: FnOnce(&mut ThreadTask<I, O>) + Send + 'static,
{
    new_thread_task(get_exec_queue(queue), input, routine, None, callback)
}

/// Like [`create_thread_task`] on a queue handle: with
/// [`Executor::queue`](crate::Executor::queue), the routine runs on a
/// program's own executor (Workflow's `create_thread_task(queue, executor, …)`).
pub fn create_thread_task_on<I, O, F, C>(queue: &ExecQueue, input: I, routine: F, callback: C) -> ThreadTask<I, O>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(&mut I) -> O + Send + 'static,
    C: FnOnce(&mut ThreadTask<I, O>) + Send + 'static,
{
    new_thread_task(queue.clone(), input, routine, None, callback)
}

/// A thread task with a deadline: when `timeout` passes first, the callback
/// runs with `SYS_ERROR`/`ETIMEDOUT`, the routine runs on, and its input
/// and output are dropped.
pub fn create_timed_thread_task<I, O, F, C>(
    timeout: Duration,
    queue: &str,
    input: I,
    routine: F,
    callback: C,
) -> ThreadTask<I, O>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(&mut I) -> O + Send + 'static,
    C: FnOnce(&mut ThreadTask<I, O>) + Send + 'static,
{
    new_thread_task(get_exec_queue(queue), input, routine, Some(timeout), callback)
}
