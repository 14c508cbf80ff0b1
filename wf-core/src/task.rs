//! Tasks: the unit of work every part of wf is made of.
//!
//! A task is a [`Task<K>`]: the part every task shares (state, error,
//! callback, user data) around a *kind* `K` that says what the task does
//! (wait for a timer, count, run a closure on the compute pool, send a
//! request…). Kinds are written by implementing [`TaskKind`]; this is how
//! wf-timer, the protocol crates and third-party crates add their own tasks.

use std::any::Any;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::ops::{Deref, DerefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::compute::ExecQueue;
use crate::error::{Error, State, TimeoutReason, code};
use crate::series::{self, SeriesWork};

/// What a task does: the behaviour behind a [`Task<K>`].
///
/// `poll_run` is called on the thread that drives the task's series, first
/// when the task starts and then each time the waker in `cx` is woken, until
/// it returns `Poll::Ready`. Before returning `Ready` the kind reports its
/// outcome with [`RunContext::set_error`] (no report means success). The
/// task's callback then runs and the series moves on.
///
/// Dropping a kind that never ran must release whatever it holds without
/// side effects: that is how wf dismisses tasks.
///
/// A kind that may wait for long (a timer, a count, a message) holds a
/// [`ShutdownWatch`](crate::ShutdownWatch) and reports
/// [`Error::aborted`] when [`shutdown`](crate::shutdown) ends the wait. A
/// task first polled after shutdown is aborted by the engine without being
/// polled.
///
/// ```
/// use std::task::{Context, Poll};
/// use wf_core::{RunContext, Task, TaskKind};
///
/// /// A task that adds two numbers.
/// struct Add(u32, u32, Option<u32>);
///
/// impl TaskKind for Add {
///     fn poll_run(&mut self, _cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
///         self.2 = Some(self.0 + self.1);
///         Poll::Ready(())
///     }
/// }
///
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let t = rt.block_on(async { Task::new(Add(2, 3, None)).await });
/// assert_eq!(t.2, Some(5));
/// ```
pub trait TaskKind: Send + Sized + 'static {
    /// Drives the task's work; see the trait documentation.
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()>;

    /// For kinds whose work is a blocking computation: the compute queue to
    /// run [`compute`](TaskKind::compute) on. When this returns a queue the
    /// engine calls `compute` on a compute thread and moves the series
    /// along with it, so the callback and the tasks after it run there too
    /// (as in Workflow) until one has to wait; `poll_run` is called after
    /// `compute` and should then report the outcome. Kinds that cannot move
    /// (inside a module or a repeater) are polled as usual, so `poll_run`
    /// must also work without `compute` having run. The default is `None`.
    fn compute_queue(&self) -> Option<ExecQueue> {
        None
    }

    /// Does the blocking work on a compute thread; see
    /// [`compute_queue`](TaskKind::compute_queue).
    fn compute(&mut self) {}

    /// Drives the task like [`poll_run`](TaskKind::poll_run), for kinds
    /// whose work needs the whole task, not only the kind: the repeater and
    /// the dynamic task hand the task itself to their closure, as Workflow
    /// does. `series` is the series the task runs in. The default calls
    /// `poll_run`; a kind that overrides it reports its outcome with
    /// [`Task::set_outcome`].
    #[inline]
    fn poll_task(task: &mut Task<Self>, cx: &mut Context<'_>, series: &mut SeriesWork) -> Poll<()> {
        task.poll_kind(cx, series)
    }
}

/// What a running [`TaskKind`] may touch besides itself: its outcome and the
/// series it runs in.
#[derive(Debug)]
pub struct RunContext<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) error: &'a mut Option<Box<Error>>,
    pub(crate) panicked: &'a mut bool,
    pub(crate) series: &'a mut SeriesWork,
}

impl RunContext<'_> {
    /// Records that the task failed, and why; it is what the callback sees.
    pub fn set_error(&mut self, e: Error) {
        *self.state = e.state();
        *self.error = Some(Box::new(e));
    }

    /// Records a state that is not a failure (a server task's
    /// [`State::NoReply`], say); no state recorded means success.
    pub fn set_state(&mut self, state: State) {
        *self.state = state;
        *self.error = None;
    }

    /// The failure recorded so far, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    /// Marks the task as failed by a panic: its series is canceled after
    /// the callback (used for go functions).
    pub fn set_panicked(&mut self) {
        self.set_error(Error::task(code::PANICKED));
        *self.panicked = true;
    }

    /// The series this task runs in, e.g. to push a task in front of it.
    pub fn series(&mut self) -> &mut SeriesWork {
        self.series
    }
}

type Callback<K> = Box<dyn FnOnce(&mut Task<K>) + Send>;

/// A task: created by a factory, owned by you until it starts, then owned
/// by the engine until its callback returns.
///
/// * [`start`](Task::start) runs it in a new series; pushing it into a
///   series or adding it to a parallel runs it there;
/// * dropping a task that never started dismisses it: its callback never
///   runs and everything it holds is released;
/// * `task.await` starts it and resolves, after the callback has run, to
///   the finished task;
/// * inside the callback, [`series_of`](crate::series_of) reaches the
///   task's series.
///
/// A task is `#[must_use]`: one built and then dropped unused is a
/// forgotten `start()`. An awaited task comes back finished, so a task
/// awaited only for its effect is written `let _ = task.await;`.
///
/// A `Task<K>` dereferences to its kind `K`, so a task's own methods (a
/// counter's `count`, an HTTP task's `resp`) are called on the task.
#[must_use = "a task does nothing until it is started (`start()`), pushed into a series or parallel, or awaited"]
pub struct Task<K: TaskKind> {
    kind: K,
    state: State,
    /// Boxed: failures are rare, and a task is smaller without the room
    /// for one (every task is an allocation).
    error: Option<Box<Error>>,
    panicked: bool,
    /// Polled at least once (a task first polled after shutdown is aborted).
    started: bool,
    /// Aborted by the engine: never polled again.
    aborted: bool,
    callback: Option<Callback<K>>,
    /// User data and the awaiter, boxed apart: most tasks have neither, and
    /// a small task is a smaller allocation.
    extras: Option<Box<Extras<K>>>,
}

struct Extras<K: TaskKind> {
    user_data: Option<Box<dyn Any + Send>>,
    awaiter: Option<oneshot::Sender<Task<K>>>,
}

impl<K: TaskKind> Task<K> {
    fn extras(&mut self) -> &mut Extras<K> {
        self.extras.get_or_insert_with(|| Box::new(Extras { user_data: None, awaiter: None }))
    }

    fn user_data_slot(&self) -> Option<&Box<dyn Any + Send>> {
        self.extras.as_ref()?.user_data.as_ref()
    }
}

impl<K: TaskKind> Task<K> {
    /// A task of kind `kind` with no callback.
    pub fn new(kind: K) -> Task<K> {
        Task {
            kind,
            state: State::Undefined,
            error: None,
            panicked: false,
            started: false,
            aborted: false,
            callback: None,
            extras: None,
        }
    }

    /// Sets the callback and returns the task, for building in one
    /// expression: `create_go_task("q", f).with_callback(|t| …)`.
    pub fn with_callback<F>(mut self, callback: F) -> Task<K>
    where
        F: FnOnce(&mut Task<K>) + Send + 'static,
    {
        self.callback = Some(Box::new(callback));
        self
    }

    /// Sets (or replaces) the callback that runs when the task finishes.
    pub fn set_callback<F>(&mut self, callback: F)
    where
        F: FnOnce(&mut Task<K>) + Send + 'static,
    {
        self.callback = Some(Box::new(callback));
    }

    /// The task's state: [`State::Undefined`] until it finished.
    pub fn state(&self) -> State {
        self.state
    }

    /// Why the task failed (state, code, timeout reason and cause; its
    /// `Display` is the error text), or `None` when it did not fail.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    /// The error code, 0 when the task did not fail (Workflow's
    /// `get_error()`).
    pub fn error_code(&self) -> i32 {
        self.error.as_deref().map_or(0, Error::code)
    }

    /// The error text, as Workflow's `get_error_string(state, error)`
    /// gives it (`"Success"` when the task did not fail), with the cause.
    pub fn error_text(&self) -> String {
        match &self.error {
            Some(e) => e.to_string(),
            None => crate::get_error_string(self.state, 0),
        }
    }

    /// Why the task timed out, if it did.
    pub fn timeout_reason(&self) -> TimeoutReason {
        self.error.as_deref().map_or(TimeoutReason::NotTimeout, Error::timeout_reason)
    }

    /// Attaches a value to the task (Workflow's `user_data`).
    pub fn set_user_data<T: Any + Send>(&mut self, data: T) {
        self.extras().user_data = Some(Box::new(data));
    }

    /// The attached value, if there is one of type `T`.
    pub fn user_data<T: Any>(&self) -> Option<&T> {
        self.user_data_slot()?.downcast_ref()
    }

    /// The attached value, mutably, if there is one of type `T`.
    pub fn user_data_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.extras.as_mut()?.user_data.as_mut()?.downcast_mut()
    }

    /// Takes the attached value out, if there is one of type `T`.
    pub fn take_user_data<T: Any>(&mut self) -> Option<T> {
        let slot = &mut self.extras.as_mut()?.user_data;
        match slot.take()?.downcast::<T>() {
            Ok(b) => Some(*b),
            Err(b) => {
                *slot = Some(b);
                None
            }
        }
    }

    /// Sets the outcome from inside wf-core (server tasks start as
    /// `ToReply`, `noreply` makes them `NoReply`).
    pub(crate) fn set_state(&mut self, state: State) {
        self.state = state;
        self.error = None;
    }

    /// Records the task's outcome from [`TaskKind::poll_task`]: `Ok`
    /// means success.
    pub fn set_outcome(&mut self, outcome: Result<(), Error>) {
        match outcome {
            Ok(()) => self.set_state(State::Success),
            Err(e) => {
                self.state = e.state();
                self.error = Some(Box::new(e));
            }
        }
    }

    /// Polls the kind with its [`RunContext`] (the default
    /// [`TaskKind::poll_task`]).
    #[inline]
    fn poll_kind(&mut self, cx: &mut Context<'_>, series: &mut SeriesWork) -> Poll<()> {
        let Task { kind, state, error, panicked, .. } = self;
        let mut run = RunContext { state, error, panicked, series };
        kind.poll_run(cx, &mut run)
    }

    /// The task's kind.
    pub fn kind(&self) -> &K {
        &self.kind
    }

    /// The task's kind, mutably.
    pub fn kind_mut(&mut self) -> &mut K {
        &mut self.kind
    }

    /// Runs the task in a new series of its own (Workflow's `start()`).
    pub fn start(self) {
        series::start_series_work(self, |_| {});
    }
}

impl<K: TaskKind> Deref for Task<K> {
    type Target = K;
    fn deref(&self) -> &K {
        &self.kind
    }
}

impl<K: TaskKind> DerefMut for Task<K> {
    fn deref_mut(&mut self) -> &mut K {
        &mut self.kind
    }
}

impl<K: TaskKind> fmt::Debug for Task<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("kind", &std::any::type_name::<K>())
            .field("state", &self.state)
            .field("error", &self.error)
            .finish()
    }
}

/// Starts the task and resolves, after its callback has run, to the
/// finished task.
impl<K: TaskKind> IntoFuture for Task<K> {
    type Output = Task<K>;
    type IntoFuture = TaskFuture<K>;

    fn into_future(mut self) -> TaskFuture<K> {
        let (tx, rx) = oneshot::channel();
        self.extras().awaiter = Some(tx);
        self.start();
        TaskFuture { rx }
    }
}

/// The future of an awaited [`Task`]; see its `IntoFuture` implementation.
#[must_use = "futures do nothing unless awaited"]
pub struct TaskFuture<K: TaskKind> {
    rx: oneshot::Receiver<Task<K>>,
}

impl<K: TaskKind> fmt::Debug for TaskFuture<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskFuture")
    }
}

impl<K: TaskKind> Future for TaskFuture<K> {
    type Output = Task<K>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Task<K>> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(t)) => Poll::Ready(t),
            // The engine always sends the task back; losing it means the
            // runtime itself went away, which only happens at process exit.
            Poll::Ready(Err(_)) => panic!("wf runtime shut down while a task was awaited"),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What polling a task gave.
pub(crate) enum Step {
    Ready,
    Pending,
    /// The task wants its work run on this compute queue (see
    /// [`TaskKind::compute_queue`]); nothing was polled.
    Offload(ExecQueue),
}

/// The engine's view of a task of any kind.
pub(crate) trait SubTask: Send + 'static {
    /// Polls the task; with `may_offload`, a compute task asks to be
    /// offloaded instead of being polled.
    fn poll_run(&mut self, cx: &mut Context<'_>, series: &mut SeriesWork, may_offload: bool) -> Step;
    /// Runs the callback; returns true when the series must be canceled.
    fn finish(self: Box<Self>, series: &mut SeriesWork) -> bool;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn set_user_data_boxed(&mut self, data: Box<dyn Any + Send>);
    /// The compute queue of a compute task that has not run yet.
    fn compute_queue(&self) -> Option<ExecQueue>;
    /// Runs the kind's compute work; a panic fails the task.
    fn compute(&mut self);
}

impl<K: TaskKind> Task<K> {
    /// Finishes the task as aborted, without (more of) its work.
    fn abort(&mut self) {
        self.aborted = true;
        self.state = State::Aborted;
        self.error = Some(Box::new(Error::aborted()));
    }
}

impl<K: TaskKind> SubTask for Task<K> {
    fn poll_run(&mut self, cx: &mut Context<'_>, series: &mut SeriesWork, may_offload: bool) -> Step {
        if self.aborted {
            return Step::Ready;
        }
        if !self.started {
            self.started = true;
            // After shutdown a task finishes at once, without its work.
            if crate::shutdown::is_shutting_down() {
                self.abort();
                return Step::Ready;
            }
        }
        if may_offload {
            if let Some(q) = self.kind.compute_queue() {
                return Step::Offload(q);
            }
        }
        match catch_unwind(AssertUnwindSafe(|| K::poll_task(self, cx, series))) {
            Ok(Poll::Ready(())) => Step::Ready,
            Ok(Poll::Pending) => Step::Pending,
            Err(_) => {
                self.set_outcome(Err(Error::task(code::PANICKED)));
                self.panicked = true;
                Step::Ready
            }
        }
    }

    fn finish(mut self: Box<Self>, series: &mut SeriesWork) -> bool {
        if self.state == State::Undefined {
            self.state = State::Success;
        }
        let mut cancel = self.panicked;
        if let Some(cb) = self.callback.take() {
            let task: &mut Task<K> = &mut self;
            let _enter = series::enter(series, task as *mut Task<K> as *const ());
            if catch_unwind(AssertUnwindSafe(|| cb(task))).is_err() {
                cancel = true;
            }
        }
        if let Some(tx) = self.extras.as_mut().and_then(|e| e.awaiter.take()) {
            let _ = tx.send(*self);
        }
        cancel
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn set_user_data_boxed(&mut self, data: Box<dyn Any + Send>) {
        self.extras().user_data = Some(data);
    }

    fn compute_queue(&self) -> Option<ExecQueue> {
        self.kind.compute_queue()
    }

    fn compute(&mut self) {
        // A compute task still queued at shutdown does not run.
        if crate::shutdown::is_shutting_down() {
            self.abort();
            return;
        }
        self.started = true;
        if catch_unwind(AssertUnwindSafe(|| self.kind.compute())).is_err() {
            self.state = State::TaskError;
            self.error = Some(Box::new(Error::task(code::PANICKED)));
            self.panicked = true;
        }
    }
}

/// A task of any kind, ready to be pushed into a series.
///
/// Every [`Task<K>`] converts into one; series and the factories that take
/// "some task" (dynamic, repeater, conditional…) accept `impl Into<AnyTask>`.
/// Dropping an `AnyTask` dismisses the task.
#[must_use = "a task does nothing until it is started (`start()`), pushed into a series or parallel, or awaited"]
pub struct AnyTask(pub(crate) Box<dyn SubTask>);

impl AnyTask {
    /// The task, if it is of kind `K`.
    pub fn downcast_mut<K: TaskKind>(&mut self) -> Option<&mut Task<K>> {
        self.0.as_any_mut().downcast_mut()
    }

    /// Replaces the task's user data with an already boxed value
    /// (conditionals deliver their message this way).
    pub fn set_user_data_boxed(&mut self, data: Box<dyn Any + Send>) {
        self.0.set_user_data_boxed(data);
    }
}

impl AnyTask {
    /// A task already in a box, left where it is (a server's request
    /// task is built in its box once, not moved into one).
    pub(crate) fn from_boxed<K: TaskKind>(task: Box<Task<K>>) -> AnyTask {
        AnyTask(task)
    }
}

impl<K: TaskKind> From<Task<K>> for AnyTask {
    fn from(t: Task<K>) -> AnyTask {
        AnyTask(Box::new(t))
    }
}

impl fmt::Debug for AnyTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnyTask")
    }
}
