use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::Registry;
use crate::error::Error;
use crate::lock::lock;
use crate::shutdown::ShutdownWatch;
use crate::task::{AnyTask, RunContext, Task, TaskKind};

/// A task that holds another task back until it is signaled (Workflow's
/// `WFConditional`).
///
/// When the conditional runs it waits for [`signal`](ConditionalHandle::signal);
/// then the wrapped task runs next in the same series, with the signal's
/// message as its user data. Signaling before the start is fine. Guards,
/// resource pools and message queues hand out conditionals.
///
/// Signal through a [`ConditionalHandle`] (from
/// [`handle`](Conditional::handle), taken any time before the start),
/// before or after the start, or by name with [`signal_by_name`]. A
/// conditional that can no longer be signaled (started with no handle
/// left, no name, and not waiting on a guard, pool or queue) fails with
/// `TASK_ERROR`/[`code::ORPHANED`](crate::code::ORPHANED) and its task is dismissed, instead of
/// waiting forever. [`shutdown`](crate::shutdown) aborts a waiting
/// conditional: its callback runs with `Aborted` and the task it wraps is
/// dismissed.
///
/// ```
/// use wf_core::{create_conditional, create_go_task};
/// let go = create_go_task("doc", || ()).with_callback(|t| {
///     assert_eq!(t.user_data::<&str>(), Some(&"go on"));
/// });
/// let c = create_conditional(go);
/// let h = c.handle();
/// c.start();
/// h.signal("go on");
/// wf_core::wait_finish();
/// ```
pub type ConditionalTask = Task<Conditional>;

type Acquire = Box<dyn FnOnce(&Arc<CondShared>) + Send>;

/// The kind of a [`ConditionalTask`].
pub struct Conditional {
    task: Option<AnyTask>,
    shared: Arc<CondShared>,
    /// Run at the start: the conditional queues for a guard or a pool.
    acquire: Option<Acquire>,
    name: Option<String>,
    watch: ShutdownWatch,
}

impl std::fmt::Debug for Conditional {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conditional").field("name", &self.name).finish_non_exhaustive()
    }
}

pub(crate) struct CondShared {
    /// Reachable without a handle: by name, or waiting on a guard, a pool
    /// or a queue.
    reachable: bool,
    state: Mutex<CondState>,
}

struct CondState {
    /// Signaled, or ended without a signal (aborted, orphaned): it takes
    /// no more signals.
    signaled: bool,
    message: Option<Box<dyn Any + Send>>,
    /// Live [`ConditionalHandle`]s.
    handles: usize,
    waker: Option<Waker>,
}

impl CondShared {
    fn new(reachable: bool) -> Arc<CondShared> {
        Arc::new(CondShared {
            reachable,
            state: Mutex::new(CondState { signaled: false, message: None, handles: 0, waker: None }),
        })
    }

    /// Signals with an already boxed message; false when already signaled.
    pub(crate) fn signal_boxed(&self, message: Option<Box<dyn Any + Send>>) -> bool {
        self.signal_with(|| message)
    }

    /// Signals with the message `make` gives, called only when the signal
    /// is taken (so nothing is lost); false when already signaled.
    pub(crate) fn signal_with(&self, make: impl FnOnce() -> Option<Box<dyn Any + Send>>) -> bool {
        let mut st = lock(&self.state);
        if st.signaled {
            return false;
        }
        st.signaled = true;
        st.message = make();
        let w = st.waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
        true
    }
}

fn boxed<M: Any + Send>(msg: M) -> Option<Box<dyn Any + Send>> {
    if TypeId::of::<M>() == TypeId::of::<()>() { None } else { Some(Box::new(msg)) }
}

impl Conditional {
    /// A handle that signals this conditional from anywhere.
    pub fn handle(&self) -> ConditionalHandle {
        lock(&self.shared.state).handles += 1;
        ConditionalHandle { shared: self.shared.clone() }
    }
}

impl Drop for Conditional {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            named().remove(name, |s| Arc::ptr_eq(s, &self.shared));
        }
    }
}

impl TaskKind for Conditional {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if let Some(acquire) = self.acquire.take() {
            acquire(&self.shared);
        }
        let mut st = lock(&self.shared.state);
        if !st.signaled {
            if st.handles == 0 && !self.shared.reachable {
                // Nothing can signal it any more: fail rather than hang.
                st.signaled = true;
                drop(st);
                self.task = None;
                super::fail_orphaned(run, "conditional");
                return Poll::Ready(());
            }
            st.waker = Some(cx.waker().clone());
            drop(st);
            if self.watch.poll_shutdown(cx).is_pending() {
                return Poll::Pending;
            }
            st = lock(&self.shared.state);
            if !st.signaled {
                // Aborted: later signals are refused (a guard or a pool
                // passes them on), and the task is dismissed, as it would
                // be had the conditional started after the shutdown.
                st.signaled = true;
                drop(st);
                run.set_error(Error::aborted());
                self.task = None;
                return Poll::Ready(());
            }
        }
        let message = st.message.take();
        drop(st);
        if let Some(mut task) = self.task.take() {
            if let Some(m) = message {
                task.set_user_data_boxed(m);
            }
            run.series().push_front(task);
        }
        Poll::Ready(())
    }
}

/// Signals a [`ConditionalTask`] from anywhere. When the last handle of a
/// conditional that nothing else can signal goes away unsignaled, the
/// conditional fails with `TASK_ERROR`/[`code::ORPHANED`](crate::code::ORPHANED).
pub struct ConditionalHandle {
    shared: Arc<CondShared>,
}

impl Clone for ConditionalHandle {
    fn clone(&self) -> Self {
        lock(&self.shared.state).handles += 1;
        ConditionalHandle { shared: self.shared.clone() }
    }
}

impl Drop for ConditionalHandle {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        st.handles -= 1;
        let orphaned = st.handles == 0 && !self.shared.reachable && !st.signaled;
        let w = if orphaned { st.waker.take() } else { None };
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl std::fmt::Debug for ConditionalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConditionalHandle")
    }
}

impl ConditionalHandle {
    /// Lets the wrapped task run, with `msg` as its user data (`()` leaves
    /// the user data alone). False when it was signaled already.
    pub fn signal<M: Any + Send>(&self, msg: M) -> bool {
        self.shared.signal_boxed(boxed(msg))
    }
}

fn new_conditional(task: AnyTask, acquire: Option<Acquire>, name: Option<String>) -> ConditionalTask {
    let shared = CondShared::new(acquire.is_some() || name.is_some());
    Task::new(Conditional { task: Some(task), shared, acquire, name, watch: ShutdownWatch::new() })
}

/// Wraps `task` in a conditional; see [`ConditionalTask`].
pub fn create_conditional(task: impl Into<AnyTask>) -> ConditionalTask {
    new_conditional(task.into(), None, None)
}

pub(crate) fn create_acquiring_conditional(
    task: AnyTask,
    acquire: impl FnOnce(&Arc<CondShared>) + Send + 'static,
) -> ConditionalTask {
    new_conditional(task, Some(Box::new(acquire)), None)
}

fn named() -> &'static Registry<Arc<CondShared>> {
    crate::global::named_conditionals()
}

/// Wraps `task` in a conditional that [`signal_by_name`] reaches by `name`
/// (Workflow's named conditional, an observer).
pub fn create_named_conditional(name: &str, task: impl Into<AnyTask>) -> ConditionalTask {
    let c = new_conditional(task.into(), None, Some(name.to_string()));
    named().add(name, c.shared.clone());
    c
}

/// Signals each conditional named `name` with its own message, in creation
/// order: the first waiting one gets the front of `msgs`, the next one the
/// following message… (Workflow's array form,
/// `signal_by_name(name, msg[], max)`). Delivered messages leave `msgs`;
/// the rest stay there when fewer conditionals wait than there are
/// messages. Returns how many were signaled.
///
/// ```
/// use std::collections::VecDeque;
/// use wf_core::{create_go_task, create_named_conditional, signal_by_name_each};
/// for want in ["a", "b"] {
///     let go = create_go_task("doc", || ()).with_callback(move |t| assert_eq!(t.user_data::<&str>(), Some(&want)));
///     create_named_conditional("doc-each", go).start();
/// }
/// let mut msgs = VecDeque::from(["a", "b", "c"]);
/// assert_eq!(signal_by_name_each("doc-each", &mut msgs), 2);
/// assert_eq!(msgs, ["c"]);
/// wf_core::wait_finish();
/// ```
pub fn signal_by_name_each<M: Any + Send>(name: &str, msgs: &mut VecDeque<M>) -> usize {
    let mut signaled = 0;
    let mut map = named().lock();
    let Some(list) = map.get_mut(name) else { return 0 };
    while !msgs.is_empty() && !list.is_empty() {
        // A message is taken only by a conditional that accepts it.
        if list.remove(0).signal_with(|| msgs.pop_front().and_then(boxed)) {
            signaled += 1;
        }
    }
    if list.is_empty() {
        map.remove(name);
    }
    signaled
}

/// Signals at most `max` conditionals named `name`, in creation order, each
/// with a clone of `msg`; returns how many were signaled.
pub fn signal_by_name<M: Any + Send + Clone>(name: &str, msg: M, max: usize) -> usize {
    let mut signaled = 0;
    let mut map = named().lock();
    let Some(list) = map.get_mut(name) else { return 0 };
    while signaled < max && !list.is_empty() {
        // A conditional signaled through its handle leaves the list without
        // taking one of the `max` signals.
        if list.remove(0).signal_boxed(boxed(msg.clone())) {
            signaled += 1;
        }
    }
    if list.is_empty() {
        map.remove(name);
    }
    signaled
}

/// A named guard: whether it is held, and who waits for it.
pub(crate) struct Guard {
    held: bool,
    waiters: VecDeque<Arc<CondShared>>,
}

fn guards() -> &'static Mutex<std::collections::HashMap<String, Guard>> {
    crate::global::named_guards()
}

/// Wraps `task` so that it runs only while holding the named guard
/// `resource` (Workflow's `create_guard`): an async mutex whose waiters are
/// served first come, first served. The guard is taken when the returned
/// task runs; release it with [`release_guard`], usually in `task`'s
/// callback.
///
/// ```
/// use wf_core::{create_guard, create_go_task, release_guard};
/// for _ in 0..3 {
///     let go = create_go_task("doc", || ()).with_callback(|_| {
///         release_guard("doc-guard", ());
///     });
///     create_guard("doc-guard", go).start();
/// }
/// wf_core::wait_finish();
/// ```
pub fn create_guard(resource: &str, task: impl Into<AnyTask>) -> ConditionalTask {
    let name = resource.to_string();
    create_acquiring_conditional(task.into(), move |me| {
        let mut guards = lock(guards());
        let g = guards.entry(name).or_insert(Guard { held: false, waiters: VecDeque::new() });
        if g.held {
            g.waiters.push_back(me.clone());
        } else {
            g.held = true;
            drop(guards);
            me.signal_boxed(None);
        }
    })
}

/// Releases the named guard: the next waiter (if any) takes it and runs,
/// with `msg` as its task's user data. Returns true when a waiter was woken.
pub fn release_guard<M: Any + Send>(resource: &str, msg: M) -> bool {
    let mut msg = Some(msg);
    loop {
        let next = {
            let mut guards = lock(guards());
            let Some(g) = guards.get_mut(resource) else { return false };
            match g.waiters.pop_front() {
                Some(w) => w,
                None => {
                    guards.remove(resource);
                    return false;
                }
            }
        };
        // A waiter aborted by shutdown refuses the guard: the next one
        // takes it.
        if next.signal_with(|| msg.take().and_then(boxed)) {
            return true;
        }
    }
}

/// Releases the named guard like [`release_guard`], from any thread
/// (Workflow's `release_guard_safe`).
///
/// Workflow's `release_guard` runs the next holder's series inline, on
/// the releasing thread, which may nest deeply; its `_safe` form hands it
/// to another thread through a timer. In wf releasing never runs the next
/// holder inline (it is woken and runs on the runtime), so both are the
/// same; this name is kept for code ported from Workflow.
///
/// ```
/// use wf_core::{create_guard, create_go_task, release_guard_safe};
/// for _ in 0..2 {
///     let go = create_go_task("doc", || ()).with_callback(|_| {
///         release_guard_safe("doc-guard-safe", ());
///     });
///     create_guard("doc-guard-safe", go).start();
/// }
/// wf_core::wait_finish();
/// ```
pub fn release_guard_safe<M: Any + Send>(resource: &str, msg: M) -> bool {
    release_guard(resource, msg)
}
