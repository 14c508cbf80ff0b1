//! Series: tasks run one after another, driven by one tokio task.

use std::any::Any;
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::compute::{ExecQueue, Run};
use crate::runtime;
use crate::task::{AnyTask, Step, Task, TaskKind};

type SeriesCallback = Box<dyn FnOnce(&mut SeriesWork) + Send>;

/// An ordered queue of tasks run one after another (Workflow's `SeriesWork`).
///
/// * the first task (the one the series was created with) runs first, then
///   the queue: a task pushed to the front before the series starts runs
///   right after the first task (as in Workflow);
/// * each task's callback runs before the next task starts;
/// * tasks pushed from a callback run next (`push_front` before queued ones);
/// * the series callback runs after the last task's callback, including the
///   tasks that callback pushed; pushing a task from the series callback is
///   a programming error and panics;
/// * [`cancel`](SeriesWork::cancel) drops the queued tasks without their
///   callbacks; the series callback still runs;
/// * a typed context is the series' local variable, reachable from every
///   callback through [`series_of`].
///
/// A series is driven by one tokio task: finishing a task and starting the
/// next costs no spawn and no thread switch. Dropping a series that never
/// started dismisses it and every task in it.
///
/// ```
/// use wf_core::{create_empty_task, create_series_work, series_of};
///
/// let mut series = create_series_work(create_empty_task(), |s| {
///     assert_eq!(s.context::<Vec<u32>>(), Some(&vec![1, 2]));
/// });
/// series.set_context(Vec::<u32>::new());
/// series.push_back(wf_core::create_go_task("doc", || 1).with_callback(|t| {
///     let n = *t.result().unwrap();
///     series_of(t).context_mut::<Vec<u32>>().unwrap().push(n);
///     series_of(t).push_back(wf_core::create_go_task("doc", || 2).with_callback(|t| {
///         let n = *t.result().unwrap();
///         series_of(t).context_mut::<Vec<u32>>().unwrap().push(n);
///     }));
/// }));
/// series.start();
/// wf_core::wait_finish();
/// ```
#[must_use = "a series does nothing until it is started (`start()`), added to a parallel, or awaited"]
#[derive(Default)]
pub struct SeriesWork {
    head: Option<AnyTask>,
    queue: VecDeque<AnyTask>,
    last: Option<AnyTask>,
    context: Option<Box<dyn Any + Send>>,
    callback: Option<SeriesCallback>,
    canceled: bool,
    finished: bool,
    counted: bool,
    end: End,
}

/// What happens to a series once its callback has run.
#[derive(Default)]
pub(crate) enum End {
    /// Nothing more.
    #[default]
    Drop,
    /// Someone awaits it.
    Await(oneshot::Sender<SeriesWork>),
    /// It belongs to a parallel or a graph, which gets it back.
    Parent(Arc<dyn ParentHook>, usize),
}

/// A parent (parallel, graph) that gets its sub-series back when they end.
pub(crate) trait ParentHook: Send + Sync + 'static {
    fn series_done(self: Arc<Self>, index: usize, series: SeriesWork);
}

impl SeriesWork {
    /// A series whose first task is `first`.
    pub fn new(first: impl Into<AnyTask>) -> SeriesWork {
        SeriesWork { head: Some(first.into()), ..SeriesWork::default() }
    }

    /// An empty series; its callback runs as soon as it starts unless tasks
    /// are pushed first.
    pub fn empty() -> SeriesWork {
        SeriesWork::default()
    }

    /// Sets the callback that runs after the last task.
    pub fn set_callback(&mut self, callback: impl FnOnce(&mut SeriesWork) + Send + 'static) {
        self.callback = Some(Box::new(callback));
    }

    /// Appends a task; it runs after every task already queued.
    ///
    /// # Panics
    ///
    /// When the series has finished: its callback runs or has run
    /// ([`is_finished`](SeriesWork::is_finished)). Nothing would run the
    /// task (Workflow forbids it too); start a new series instead.
    #[track_caller]
    pub fn push_back(&mut self, task: impl Into<AnyTask>) {
        self.check_open("push_back");
        self.queue.push_back(task.into());
    }

    /// Puts a task at the front of the queue: it runs next, before the
    /// tasks already queued. Before the series starts, its first task still
    /// runs first (as in Workflow, where the first task is kept apart from
    /// the queue): a series created with `F`, then `push_front(X)` and
    /// `push_back(Y)`, runs `F`, `X`, `Y`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use wf_core::{create_empty_task, create_series_work};
    ///
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let named = |name: &'static str| {
    ///     let log = log.clone();
    ///     create_empty_task().with_callback(move |_| log.lock().unwrap().push(name))
    /// };
    /// let mut series = create_series_work(named("F"), |_| {});
    /// series.push_front(named("X"));
    /// series.push_back(named("Y"));
    /// series.start();
    /// wf_core::wait_finish();
    /// assert_eq!(*log.lock().unwrap(), ["F", "X", "Y"]);
    /// ```
    ///
    /// # Panics
    ///
    /// When the series has finished, as [`push_back`](SeriesWork::push_back).
    #[track_caller]
    pub fn push_front(&mut self, task: impl Into<AnyTask>) {
        self.check_open("push_front");
        self.queue.push_front(task.into());
    }

    /// Sets the task that always runs after the queue drains (the server
    /// reply uses this slot).
    ///
    /// # Panics
    ///
    /// When the series has finished, as [`push_back`](SeriesWork::push_back).
    #[track_caller]
    pub fn set_last_task(&mut self, task: impl Into<AnyTask>) {
        self.check_open("set_last_task");
        self.last = Some(task.into());
    }

    /// Panics when a task is added to a finished series (from its callback,
    /// or after it came back from a parallel or an `await`).
    #[inline]
    #[track_caller]
    fn check_open(&self, what: &str) {
        if self.finished {
            finished_series(what);
        }
    }

    /// The last task, if it is set and of kind `K`.
    pub fn last_task_mut<K: TaskKind>(&mut self) -> Option<&mut Task<K>> {
        self.last.as_mut()?.downcast_mut()
    }

    /// Removes and returns the last task.
    pub fn take_last_task(&mut self) -> Option<AnyTask> {
        self.last.take()
    }

    /// Cancels the series: the running task finishes normally, every task
    /// still queued (the last task too) is dropped without its callback,
    /// and the series callback runs.
    pub fn cancel(&mut self) {
        self.canceled = true;
    }

    /// True once [`cancel`](SeriesWork::cancel) was called.
    pub fn is_canceled(&self) -> bool {
        self.canceled
    }

    /// True when the series callback runs or has run.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Sets the series context (its local variable).
    pub fn set_context<C: Any + Send>(&mut self, context: C) {
        self.context = Some(Box::new(context));
    }

    /// The context, if there is one of type `C`.
    pub fn context<C: Any>(&self) -> Option<&C> {
        self.context.as_ref()?.downcast_ref()
    }

    /// The context, mutably, if there is one of type `C`.
    pub fn context_mut<C: Any>(&mut self) -> Option<&mut C> {
        self.context.as_mut()?.downcast_mut()
    }

    /// Takes the context out, if there is one of type `C`.
    pub fn take_context<C: Any>(&mut self) -> Option<C> {
        match self.context.take()?.downcast::<C>() {
            Ok(b) => Some(*b),
            Err(b) => {
                self.context = Some(b);
                None
            }
        }
    }

    /// Number of tasks waiting to run (the last task included).
    pub fn len(&self) -> usize {
        self.head.is_some() as usize + self.queue.len() + self.last.is_some() as usize
    }

    /// True when no task is waiting to run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts the series (Workflow's `start_series_work`); [`wait_finish`](crate::wait_finish)
    /// waits for it.
    pub fn start(mut self) {
        self.counted = true;
        runtime::series_started();
        Driver::start(self);
    }

    pub(crate) fn set_end(&mut self, end: End) {
        self.end = end;
    }

    fn pop(&mut self) -> Option<AnyTask> {
        if self.canceled {
            self.clear();
            return None;
        }
        if let Some(t) = self.head.take() {
            return Some(t);
        }
        match self.queue.pop_front() {
            Some(t) => Some(t),
            None => self.last.take(),
        }
    }

    /// Drops what the series holds, as dropping it would.
    fn release(&mut self) {
        self.clear();
        self.queue = VecDeque::new();
        self.context = None;
        self.callback = None;
    }

    pub(crate) fn clear(&mut self) {
        self.head = None;
        self.queue.clear();
        self.last = None;
    }
}

/// The panic of [`SeriesWork::check_open`], out of the way of the pushes.
#[cold]
#[inline(never)]
#[track_caller]
fn finished_series(what: &str) -> ! {
    panic!(
        "SeriesWork::{what}: the series has finished (its callback runs or has run); a task added now would never run"
    )
}

impl fmt::Debug for SeriesWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesWork")
            .field("pending", &self.len())
            .field("canceled", &self.canceled)
            .field("finished", &self.finished)
            .finish()
    }
}

/// Starts the series and resolves, after its callback has run, to the
/// finished series (its context still inside).
impl IntoFuture for SeriesWork {
    type Output = SeriesWork;
    type IntoFuture = SeriesFuture;

    fn into_future(mut self) -> SeriesFuture {
        let (tx, rx) = oneshot::channel();
        self.end = End::Await(tx);
        self.start();
        SeriesFuture { rx }
    }
}

/// The future of an awaited [`SeriesWork`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct SeriesFuture {
    rx: oneshot::Receiver<SeriesWork>,
}

impl Future for SeriesFuture {
    type Output = SeriesWork;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SeriesWork> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(s)) => Poll::Ready(s),
            Poll::Ready(Err(_)) => panic!("wf runtime shut down while a series was awaited"),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Creates a series whose first task is `first` (Workflow's
/// `Workflow::create_series_work`).
pub fn create_series_work(
    first: impl Into<AnyTask>,
    callback: impl FnOnce(&mut SeriesWork) + Send + 'static,
) -> SeriesWork {
    let mut s = SeriesWork::new(first);
    s.set_callback(callback);
    s
}

/// Creates a series and starts it (Workflow's `Workflow::start_series_work`).
pub fn start_series_work(first: impl Into<AnyTask>, callback: impl FnOnce(&mut SeriesWork) + Send + 'static) {
    create_series_work(first, callback).start();
}

thread_local! {
    /// The series whose task callback runs on this thread, and that task.
    static CURRENT: Cell<(*mut SeriesWork, *const ())> = const { Cell::new((ptr::null_mut(), ptr::null())) };
}

/// True while a task's callback, a series callback or a server's
/// `process` runs on this thread.
pub(crate) fn in_callback() -> bool {
    CURRENT.with(|c| !c.get().0.is_null())
}

/// Marks `series` as the series of task `id` while the guard lives.
pub(crate) fn enter(series: &mut SeriesWork, id: *const ()) -> Enter {
    let prev = CURRENT.with(|c| c.replace((series as *mut SeriesWork, id)));
    Enter { prev }
}

pub(crate) struct Enter {
    prev: (*mut SeriesWork, *const ()),
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

/// The series of a task whose callback is running (Workflow's `series_of`).
///
/// Call it inside the task's callback (or a server's `process`) to push
/// more tasks, cancel, or reach the series context.
///
/// # Panics
///
/// When `task` is not the task whose callback is running on this thread;
/// [`try_series_of`] returns `None` instead.
pub fn series_of<K: TaskKind>(task: &mut Task<K>) -> &mut SeriesWork {
    match try_series_of(task) {
        Some(s) => s,
        None => panic!("series_of: the task is not running its callback"),
    }
}

/// Like [`series_of`], but `None` outside the task's callback.
pub fn try_series_of<K: TaskKind>(task: &mut Task<K>) -> Option<&mut SeriesWork> {
    let id = task as *mut Task<K> as *const ();
    let (series, current) = CURRENT.with(|c| c.get());
    if series.is_null() || current != id {
        return None;
    }
    // SAFETY: `series` was set by `enter` from a `&mut SeriesWork` that the
    // driver does not touch while this task's callback runs, and the guard
    // is dropped when the callback returns. The returned borrow is tied to
    // the borrow of `task`, which lives no longer than the callback, and
    // only one such borrow can exist at a time because each one holds
    // `task` mutably.
    Some(unsafe { &mut *series })
}

/// Drives one series: pops a task, polls it to completion, runs its
/// callback, repeats; then runs the series callback.
///
/// A top-level driver runs as a tokio task, except while its current task
/// is a compute task: then the driver moves onto the compute thread, which
/// runs the task's work, its callback and the following tasks until one has
/// to wait, and hands the driver back to tokio (a spawn) at that point.
pub(crate) struct Driver {
    series: SeriesWork,
    /// The running task ([`AnyTask::none`] between tasks).
    current: AnyTask,
    /// On a compute thread: the queue it runs on (a driver out of budget
    /// queues itself there again).
    queue: Option<ExecQueue>,
}

/// How often (in finished tasks) a busy driver looks at the clock.
const BUDGET: u32 = 128;

/// How long a driver may run tasks without a break before it lets other
/// work run. A count alone would make a driver of tiny tasks yield often,
/// and on a multi-core runtime each yield invites another worker to steal
/// the series, moving it across cores.
const SLICE: std::time::Duration = std::time::Duration::from_micros(200);

/// Where a driver runs.
#[derive(Clone, Copy)]
enum Mode {
    /// Inside a module or a repeater: never moves.
    Nested,
    /// As a tokio task.
    Tokio,
    /// On a compute thread.
    Compute,
}

enum Drive {
    Pending,
    /// The current task is a compute task: move the driver to this queue.
    Offload(ExecQueue),
    /// Out of budget on a compute thread: queue it again.
    Yield,
    Done,
}

impl Driver {
    pub(crate) fn new(mut series: SeriesWork) -> Driver {
        // The first task always runs, even in a series canceled before it
        // started (as in Workflow, where `start()` dispatches it).
        let current = series.head.take().or_else(|| series.queue.pop_front()).unwrap_or_else(AnyTask::none);
        Driver { series, current, queue: None }
    }

    /// Starts a top-level driver for `series`: on the compute pool when
    /// its first task is a compute task, else as a tokio task (on the
    /// handler threads when there are some). The driver is boxed once and
    /// moves between tokio and the compute threads as that box.
    pub(crate) fn start(series: SeriesWork) {
        let mut driver = Box::new(Driver::new(series));
        match driver.current.compute_queue() {
            Some(q) => driver.migrate(q),
            None => runtime::spawn_series(Launched(Some(driver))),
        }
    }

    /// Queues the driver on compute queue `q`.
    fn migrate(mut self: Box<Self>, q: ExecQueue) {
        let queue = q.clone();
        self.queue = Some(q);
        queue.submit(self);
    }

    /// Runs the series until its callback has run, without leaving this
    /// thread (for drivers nested in a module or a repeater).
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.drive(cx, Mode::Nested) {
            Drive::Pending => Poll::Pending,
            Drive::Offload(_) | Drive::Yield => unreachable!("nested drivers never move"),
            Drive::Done => Poll::Ready(()),
        }
    }

    fn drive(&mut self, cx: &mut Context<'_>, mode: Mode) -> Drive {
        if self.series.finished {
            return Drive::Done;
        }
        let mut budget = BUDGET;
        let mut slice_start: Option<std::time::Instant> = None;
        loop {
            // The task runs and finishes in place in `current`.
            if self.current.is_none() {
                match self.series.pop() {
                    Some(t) => self.current = t,
                    None => break,
                }
            }
            match self.current.poll_step(cx, &mut self.series, !matches!(mode, Mode::Nested)) {
                Step::Ready => {}
                Step::Pending => return Drive::Pending,
                Step::Offload(q) => {
                    if matches!(mode, Mode::Compute) && q.is_idle() {
                        // Already on a compute thread and nobody else waits
                        // for one: do the work here.
                        self.current.compute();
                        continue;
                    }
                    return Drive::Offload(q);
                }
            }
            if self.current.finish(&mut self.series) {
                self.series.cancel();
            }
            budget -= 1;
            if budget == 0 {
                budget = BUDGET;
                let now = std::time::Instant::now();
                let start = *slice_start.get_or_insert(now);
                if now - start >= SLICE {
                    if matches!(mode, Mode::Compute) {
                        return Drive::Yield;
                    }
                    cx.waker().wake_by_ref();
                    return Drive::Pending;
                }
            }
        }
        self.series.finished = true;
        if let Some(cb) = self.series.callback.take() {
            let series = &mut self.series;
            // A callback too (for `request`'s deadlock check); no task is
            // running, so `series_of` finds nothing.
            let _enter = enter(series, ptr::null());
            let _ = catch_unwind(AssertUnwindSafe(|| cb(series)));
        }
        // Nothing can have been pushed by the callback (pushing panics).
        Drive::Done
    }

    /// A driver taken out of a tokio task to move to a compute thread.
    fn take_out(&mut self) -> Box<Driver> {
        Box::new(Driver { series: std::mem::take(&mut self.series), current: self.current.take(), queue: None })
    }

    pub(crate) fn series_mut(&mut self) -> &mut SeriesWork {
        &mut self.series
    }

    /// After the series callback: hands the series to whoever waits for it.
    fn end(&mut self) {
        let counted = self.series.counted;
        match std::mem::take(&mut self.series.end) {
            // Released in place (no copy of the series); before
            // `series_ended`, as a drop would be.
            End::Drop => self.series.release(),
            End::Await(tx) => drop(tx.send(std::mem::take(&mut self.series))),
            End::Parent(parent, index) => parent.series_done(index, std::mem::take(&mut self.series)),
        }
        if counted {
            runtime::series_ended();
        }
    }
}

/// On a compute thread: does the current task's work, then drives the
/// series on from here.
impl Run for Driver {
    fn run(mut self: Box<Self>) {
        self.current.compute();
        // Tasks created and polled here (timers, sockets) need the runtime.
        let _rt = runtime::handle().enter();
        // Nothing can wake this poll: a task that must wait is polled again
        // by the tokio task the driver becomes, with a real waker.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.drive(&mut cx, Mode::Compute) {
            Drive::Pending => runtime::spawn_series(Launched(Some(self))),
            Drive::Offload(q) => self.migrate(q),
            Drive::Yield => match self.queue.take() {
                Some(q) => self.migrate(q),
                None => runtime::spawn_series(Launched(Some(self))),
            },
            Drive::Done => self.end(),
        }
    }
}

/// A driver polled in place by its owner (a server connection drives its
/// requests' series this way); it moves to a compute thread as a new box.
impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.drive(cx, Mode::Tokio) {
            Drive::Pending | Drive::Yield => Poll::Pending,
            Drive::Offload(q) => {
                this.take_out().migrate(q);
                Poll::Ready(())
            }
            Drive::Done => {
                this.end();
                Poll::Ready(())
            }
        }
    }
}

/// A top-level driver as a tokio task; it moves to a compute thread as
/// the same box.
struct Launched(Option<Box<Driver>>);

impl Future for Launched {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(driver) = self.0.as_mut() else { return Poll::Ready(()) };
        match driver.drive(cx, Mode::Tokio) {
            Drive::Pending | Drive::Yield => Poll::Pending,
            Drive::Offload(q) => {
                if let Some(driver) = self.0.take() {
                    driver.migrate(q);
                }
                Poll::Ready(())
            }
            Drive::Done => {
                driver.end();
                Poll::Ready(())
            }
        }
    }
}
