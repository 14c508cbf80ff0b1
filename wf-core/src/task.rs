//! Tasks: the unit of work every part of wf is made of.
//!
//! A task is a [`Task<K>`]: the part every task shares (state, error,
//! callback, user data) around a *kind* `K` that says what the task does
//! (wait for a timer, count, run a closure on the compute pool, send a
//! request…). Kinds are written by implementing [`TaskKind`]; this is how
//! wf-timer, the protocol crates and third-party crates add their own tasks.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr;
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
/// A kind may move between polls (a small task lives in its series' queue
/// entry): keep what must not move behind a pointer (`Box::pin`).
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
pub struct RunContext<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) error: &'a mut dyn ErrorSlot,
    pub(crate) panicked: &'a mut bool,
    pub(crate) series: &'a mut SeriesWork,
}

impl RunContext<'_> {
    /// Records that the task failed, and why; it is what the callback sees.
    pub fn set_error(&mut self, e: Error) {
        *self.state = e.state();
        self.error.set(Some(e));
    }

    /// Records a state that is not a failure (a server task's
    /// [`State::NoReply`], say); no state recorded means success.
    pub fn set_state(&mut self, state: State) {
        *self.state = state;
        self.error.set(None);
    }

    /// The failure recorded so far, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.get()
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

impl fmt::Debug for RunContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext").field("state", &self.state).field("error", &self.error()).finish()
    }
}

/// Where a [`RunContext`] records a failure: the task's cold part, of
/// whatever kind.
pub(crate) trait ErrorSlot {
    fn set(&mut self, e: Option<Error>);
    fn get(&self) -> Option<&Error>;
}

impl<K: TaskKind> ErrorSlot for Option<Box<Cold<K>>> {
    fn set(&mut self, e: Option<Error>) {
        match (self.as_mut(), e) {
            (Some(cold), e) => cold.error = e,
            (None, None) => {}
            (None, Some(e)) => *self = Some(Box::new(Cold { error: Some(e), user_data: None, awaiter: None })),
        }
    }

    fn get(&self) -> Option<&Error> {
        self.as_ref()?.error.as_ref()
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
    callback: Option<Callback<K>>,
    /// The error, the user data and the awaiter, boxed apart: most tasks
    /// have none of them, and a small task is stored in place in its
    /// series' queue (see [`AnyTask`]).
    cold: Option<Box<Cold<K>>>,
    state: State,
    panicked: bool,
    /// Polled at least once (a task first polled after shutdown is aborted).
    started: bool,
    /// Aborted by the engine: never polled again.
    aborted: bool,
}

/// The rarely used parts of a task.
pub(crate) struct Cold<K: TaskKind> {
    error: Option<Error>,
    user_data: Option<Box<dyn Any + Send>>,
    awaiter: Option<oneshot::Sender<Task<K>>>,
}

impl<K: TaskKind> Task<K> {
    fn cold(&mut self) -> &mut Cold<K> {
        self.cold.get_or_insert_with(|| Box::new(Cold { error: None, user_data: None, awaiter: None }))
    }

    fn user_data_slot(&self) -> Option<&Box<dyn Any + Send>> {
        self.cold.as_ref()?.user_data.as_ref()
    }

    fn set_error(&mut self, e: Option<Error>) {
        self.cold.set(e);
    }
}

impl<K: TaskKind> Task<K> {
    /// A task of kind `kind` with no callback.
    pub fn new(kind: K) -> Task<K> {
        Task {
            kind,
            callback: None,
            cold: None,
            state: State::Undefined,
            panicked: false,
            started: false,
            aborted: false,
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
        self.cold.get()
    }

    /// The error code, 0 when the task did not fail (Workflow's
    /// `get_error()`).
    pub fn error_code(&self) -> i32 {
        self.error().map_or(0, Error::code)
    }

    /// The error text, as Workflow's `get_error_string(state, error)`
    /// gives it (`"Success"` when the task did not fail), with the cause.
    pub fn error_text(&self) -> String {
        match self.error() {
            Some(e) => e.to_string(),
            None => crate::get_error_string(self.state, 0),
        }
    }

    /// Why the task timed out, if it did.
    pub fn timeout_reason(&self) -> TimeoutReason {
        self.error().map_or(TimeoutReason::NotTimeout, Error::timeout_reason)
    }

    /// Attaches a value to the task (Workflow's `user_data`).
    pub fn set_user_data<T: Any + Send>(&mut self, data: T) {
        self.cold().user_data = Some(Box::new(data));
    }

    /// The attached value, if there is one of type `T`.
    pub fn user_data<T: Any>(&self) -> Option<&T> {
        self.user_data_slot()?.downcast_ref()
    }

    /// The attached value, mutably, if there is one of type `T`.
    pub fn user_data_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.cold.as_mut()?.user_data.as_mut()?.downcast_mut()
    }

    /// Takes the attached value out, if there is one of type `T`.
    pub fn take_user_data<T: Any>(&mut self) -> Option<T> {
        let slot = &mut self.cold.as_mut()?.user_data;
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
        self.set_error(None);
    }

    /// Records the task's outcome from [`TaskKind::poll_task`]: `Ok`
    /// means success.
    pub fn set_outcome(&mut self, outcome: Result<(), Error>) {
        match outcome {
            Ok(()) => self.set_state(State::Success),
            Err(e) => {
                self.state = e.state();
                self.set_error(Some(e));
            }
        }
    }

    /// Polls the kind with its [`RunContext`] (the default
    /// [`TaskKind::poll_task`]).
    #[inline]
    fn poll_kind(&mut self, cx: &mut Context<'_>, series: &mut SeriesWork) -> Poll<()> {
        let Task { kind, state, cold, panicked, .. } = self;
        let mut run = RunContext { state, error: cold, panicked, series };
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
            .field("error", &self.error())
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
        self.cold().awaiter = Some(tx);
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

impl<K: TaskKind> Task<K> {
    /// Finishes the task as aborted, without (more of) its work.
    fn abort(&mut self) {
        self.aborted = true;
        self.state = State::Aborted;
        self.set_error(Some(Error::aborted()));
    }

    /// Polls the task for the engine; with `may_offload`, a compute task
    /// asks to be offloaded instead of being polled.
    fn poll_step(&mut self, cx: &mut Context<'_>, series: &mut SeriesWork, may_offload: bool) -> Step {
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

    /// Runs the callback; returns whether the series must be canceled,
    /// and the awaiter to hand the finished task to.
    fn run_callback(&mut self, series: &mut SeriesWork) -> (bool, Option<oneshot::Sender<Task<K>>>) {
        if self.state == State::Undefined {
            self.state = State::Success;
        }
        let mut cancel = self.panicked;
        if let Some(cb) = self.callback.take() {
            let _enter = series::enter(series, self as *mut Task<K> as *const ());
            if catch_unwind(AssertUnwindSafe(|| cb(self))).is_err() {
                cancel = true;
            }
        }
        (cancel, self.cold.as_mut().and_then(|c| c.awaiter.take()))
    }

    /// Runs the kind's compute work on a compute thread; a panic fails the
    /// task.
    fn compute_step(&mut self) {
        // A compute task still queued at shutdown does not run.
        if crate::shutdown::is_shutting_down() {
            self.abort();
            return;
        }
        self.started = true;
        if catch_unwind(AssertUnwindSafe(|| self.kind.compute())).is_err() {
            self.state = State::TaskError;
            self.set_error(Some(Error::task(code::PANICKED)));
            self.panicked = true;
        }
    }
}

/// Room for a task stored in place in an [`AnyTask`], in words: a task
/// this small (an empty task, a counter) costs no allocation of its own,
/// and a series of them is one array.
const INLINE_WORDS: usize = 5;

/// Where an [`AnyTask`] keeps its task: the task itself when it fits, else
/// a pointer to it.
type Slot = MaybeUninit<[usize; INLINE_WORDS]>;

/// True when a `Task<K>` is stored in place (decided at compile time).
const fn fits_inline<K: TaskKind>() -> bool {
    size_of::<Task<K>>() <= size_of::<Slot>() && align_of::<Task<K>>() <= align_of::<Slot>()
}

/// How a `Task<K>` sits in a [`Slot`].
trait Store {
    /// The task.
    ///
    /// # Safety
    ///
    /// `slot` holds a live `Task<K>` stored this way.
    unsafe fn task<K: TaskKind>(slot: *mut Slot) -> *mut Task<K>;

    /// Moves the task out; the slot is then empty.
    ///
    /// # Safety
    ///
    /// As [`task`](Store::task); the slot is not used again.
    unsafe fn take<K: TaskKind>(slot: *mut Slot) -> Task<K>;

    /// Drops the task; the slot is then empty.
    ///
    /// # Safety
    ///
    /// As [`take`](Store::take).
    unsafe fn drop_task<K: TaskKind>(slot: *mut Slot);
}

/// The task is in the slot.
struct Inline;

/// The slot holds a `Box<Task<K>>`.
struct Boxed;

impl Store for Inline {
    unsafe fn task<K: TaskKind>(slot: *mut Slot) -> *mut Task<K> {
        slot.cast()
    }

    unsafe fn take<K: TaskKind>(slot: *mut Slot) -> Task<K> {
        // SAFETY: the caller guarantees a live task in place, used no more.
        unsafe { ptr::read(slot.cast::<Task<K>>()) }
    }

    unsafe fn drop_task<K: TaskKind>(slot: *mut Slot) {
        // SAFETY: as `take`.
        unsafe { ptr::drop_in_place(slot.cast::<Task<K>>()) }
    }
}

impl Store for Boxed {
    unsafe fn task<K: TaskKind>(slot: *mut Slot) -> *mut Task<K> {
        // SAFETY: the caller guarantees the slot holds the box's pointer.
        unsafe { slot.cast::<*mut Task<K>>().read() }
    }

    unsafe fn take<K: TaskKind>(slot: *mut Slot) -> Task<K> {
        // SAFETY: the pointer came from `Box::into_raw`, and the slot is
        // not used again, so the box is rebuilt once.
        unsafe { *Box::from_raw(Self::task::<K>(slot)) }
    }

    unsafe fn drop_task<K: TaskKind>(slot: *mut Slot) {
        // SAFETY: as `take`.
        drop(unsafe { Box::from_raw(Self::task::<K>(slot)) })
    }
}

/// The engine's operations on the task in an [`AnyTask`] (a hand-made
/// vtable, one per kind and [`Store`], so that a queue entry is the
/// task itself and not a pointer to it).
struct VTable {
    poll_step: unsafe fn(*mut Slot, &mut Context<'_>, &mut SeriesWork, bool) -> Step,
    finish: unsafe fn(*mut Slot, &mut SeriesWork) -> bool,
    drop_task: unsafe fn(*mut Slot),
    as_any_mut: unsafe fn(*mut Slot) -> *mut dyn Any,
    set_user_data_boxed: unsafe fn(*mut Slot, Box<dyn Any + Send>),
    compute_queue: unsafe fn(*mut Slot) -> Option<ExecQueue>,
    compute: unsafe fn(*mut Slot),
}

/// The vtable of an [`AnyTask`] whose task has finished (a driver's
/// `current` between tasks): its functions touch nothing.
static NO_TASK: VTable = VTable {
    poll_step: |_, _, _, _| Step::Ready,
    finish: |_, _| false,
    drop_task: |_| {},
    as_any_mut: |_| ptr::NonNull::<()>::dangling().as_ptr() as *mut dyn Any,
    set_user_data_boxed: |_, _| {},
    compute_queue: |_| None,
    compute: |_| {},
};

/// The vtable of `Task<K>` stored as `S`.
fn vtable<K: TaskKind, S: Store>() -> &'static VTable {
    // The slot erases the task's type, and `AnyTask` is `Send` whatever it
    // holds: every task put in one must be `Send` itself.
    const fn is_send<T: Send>() {}
    is_send::<Task<K>>();
    &VTable {
        poll_step: poll_step::<K, S>,
        finish: finish::<K, S>,
        drop_task: S::drop_task::<K>,
        as_any_mut: as_any_mut::<K, S>,
        set_user_data_boxed: set_user_data_boxed::<K, S>,
        compute_queue: compute_queue::<K, S>,
        compute: compute::<K, S>,
    }
}

// SAFETY (for the functions below): an `AnyTask` calls its vtable's
// functions only on its own slot, which holds a live `Task<K>` stored as
// `S` (the vtable was chosen with the slot's contents), and calls
// `finish` or `drop_task` once, last.

unsafe fn poll_step<K: TaskKind, S: Store>(
    slot: *mut Slot,
    cx: &mut Context<'_>,
    series: &mut SeriesWork,
    may_offload: bool,
) -> Step {
    // SAFETY: see above.
    unsafe { (*S::task::<K>(slot)).poll_step(cx, series, may_offload) }
}

unsafe fn finish<K: TaskKind, S: Store>(slot: *mut Slot, series: &mut SeriesWork) -> bool {
    // SAFETY: see above; the task is moved out or dropped once, last.
    unsafe {
        let (cancel, awaiter) = (*S::task::<K>(slot)).run_callback(series);
        match awaiter {
            Some(tx) => drop(tx.send(S::take::<K>(slot))),
            None => S::drop_task::<K>(slot),
        }
        cancel
    }
}

unsafe fn as_any_mut<K: TaskKind, S: Store>(slot: *mut Slot) -> *mut dyn Any {
    // SAFETY: see above.
    unsafe { S::task::<K>(slot) as *mut dyn Any }
}

unsafe fn set_user_data_boxed<K: TaskKind, S: Store>(slot: *mut Slot, data: Box<dyn Any + Send>) {
    // SAFETY: see above.
    unsafe { (*S::task::<K>(slot)).cold().user_data = Some(data) }
}

unsafe fn compute_queue<K: TaskKind, S: Store>(slot: *mut Slot) -> Option<ExecQueue> {
    // SAFETY: see above.
    unsafe { (*S::task::<K>(slot)).kind.compute_queue() }
}

unsafe fn compute<K: TaskKind, S: Store>(slot: *mut Slot) {
    // SAFETY: see above.
    unsafe { (*S::task::<K>(slot)).compute_step() }
}

/// A task of any kind, ready to be pushed into a series.
///
/// Every [`Task<K>`] converts into one; series and the factories that take
/// "some task" (dynamic, repeater, conditional…) accept `impl Into<AnyTask>`.
/// Dropping an `AnyTask` dismisses the task.
#[must_use = "a task does nothing until it is started (`start()`), pushed into a series or parallel, or awaited"]
pub struct AnyTask {
    vtable: &'static VTable,
    /// A small task in place, a larger one boxed.
    slot: Slot,
    /// A task is `Send` (every kind is) but not necessarily `Sync`.
    _not_sync: PhantomData<Cell<()>>,
}

impl AnyTask {
    /// The task, if it is of kind `K`.
    pub fn downcast_mut<K: TaskKind>(&mut self) -> Option<&mut Task<K>> {
        // SAFETY: the slot holds the task the vtable is for; the borrow of
        // the task is tied to the borrow of `self`.
        let any = unsafe { &mut *(self.vtable.as_any_mut)(&mut self.slot) };
        any.downcast_mut()
    }

    /// Replaces the task's user data with an already boxed value
    /// (conditionals deliver their message this way).
    pub fn set_user_data_boxed(&mut self, data: Box<dyn Any + Send>) {
        // SAFETY: the slot holds the task the vtable is for.
        unsafe { (self.vtable.set_user_data_boxed)(&mut self.slot, data) }
    }

    /// Polls the task; with `may_offload`, a compute task asks to be
    /// offloaded instead of being polled.
    #[inline]
    pub(crate) fn poll_step(&mut self, cx: &mut Context<'_>, series: &mut SeriesWork, may_offload: bool) -> Step {
        // SAFETY: the slot holds the task the vtable is for.
        unsafe { (self.vtable.poll_step)(&mut self.slot, cx, series, may_offload) }
    }

    /// A place for a task, holding none (a driver's `current` between
    /// tasks).
    pub(crate) fn none() -> AnyTask {
        AnyTask { vtable: &NO_TASK, slot: Slot::uninit(), _not_sync: PhantomData }
    }

    /// True for [`none`](AnyTask::none) and for a task that finished.
    #[inline]
    pub(crate) fn is_none(&self) -> bool {
        ptr::eq(self.vtable, &NO_TASK)
    }

    /// Takes the task out, leaving none.
    pub(crate) fn take(&mut self) -> AnyTask {
        std::mem::replace(self, AnyTask::none())
    }

    /// Runs the callback and drops the task (or hands it to its awaiter)
    /// where it is, leaving none; returns true when the series must be
    /// canceled. Finishing in place spares a copy of the task.
    #[inline]
    pub(crate) fn finish(&mut self, series: &mut SeriesWork) -> bool {
        let vtable = std::mem::replace(&mut self.vtable, &NO_TASK);
        // SAFETY: the slot holds the task `vtable` is for; `self` no longer
        // refers to it, so it is finished once and never dropped again.
        unsafe { (vtable.finish)(&mut self.slot, series) }
    }

    /// The compute queue of a compute task that has not run yet.
    pub(crate) fn compute_queue(&mut self) -> Option<ExecQueue> {
        // SAFETY: the slot holds the task the vtable is for.
        unsafe { (self.vtable.compute_queue)(&mut self.slot) }
    }

    /// Runs the kind's compute work; a panic fails the task.
    pub(crate) fn compute(&mut self) {
        // SAFETY: the slot holds the task the vtable is for.
        unsafe { (self.vtable.compute)(&mut self.slot) }
    }
}

impl Drop for AnyTask {
    fn drop(&mut self) {
        // SAFETY: the slot holds the task the vtable is for; it is dropped
        // once, here (`finish` does not let `Drop` run).
        unsafe { (self.vtable.drop_task)(&mut self.slot) }
    }
}

impl AnyTask {
    /// A task already in a box, left where it is (a server's request
    /// task is built in its box once, not moved into one).
    #[cfg_attr(not(feature = "net"), allow(dead_code))] // servers use it
    pub(crate) fn from_boxed<K: TaskKind>(task: Box<Task<K>>) -> AnyTask {
        if fits_inline::<K>() {
            return AnyTask::from(*task);
        }
        let mut slot = Slot::uninit();
        // SAFETY: a slot has room for a pointer, suitably aligned.
        unsafe { slot.as_mut_ptr().cast::<*mut Task<K>>().write(Box::into_raw(task)) };
        AnyTask { vtable: vtable::<K, Boxed>(), slot, _not_sync: PhantomData }
    }
}

impl<K: TaskKind> From<Task<K>> for AnyTask {
    #[inline]
    fn from(t: Task<K>) -> AnyTask {
        let mut slot = Slot::uninit();
        let vtable = if fits_inline::<K>() {
            // SAFETY: `fits_inline` checked size and alignment.
            unsafe { slot.as_mut_ptr().cast::<Task<K>>().write(t) };
            vtable::<K, Inline>()
        } else {
            // SAFETY: a slot has room for a pointer, suitably aligned.
            unsafe { slot.as_mut_ptr().cast::<*mut Task<K>>().write(Box::into_raw(Box::new(t))) };
            vtable::<K, Boxed>()
        };
        AnyTask { vtable, slot, _not_sync: PhantomData }
    }
}

impl fmt::Debug for AnyTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnyTask")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tasks_are_stored_in_place() {
        // A series of empty tasks or counters costs no allocation per task
        // (the engine benchmark's pre-built series and counter chain).
        assert!(fits_inline::<crate::Empty>());
        assert!(fits_inline::<crate::Counter>());
        assert!(!fits_inline::<crate::Go<()>>());
        assert_eq!(size_of::<AnyTask>(), 48);
    }
}
