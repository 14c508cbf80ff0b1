use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::Registry;
use crate::lock::lock;
use crate::task::{AnyTask, RunContext, Task, TaskKind};

/// A task that holds another task back until it is signaled (Workflow's
/// `WFConditional`).
///
/// When the conditional runs it waits for [`signal`](ConditionalHandle::signal);
/// then the wrapped task runs next in the same series, with the signal's
/// message as its user data. Signaling before the start is fine. Guards,
/// resource pools and message queues hand out conditionals.
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
}

impl std::fmt::Debug for Conditional {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conditional").field("name", &self.name).finish_non_exhaustive()
    }
}

pub(crate) struct CondShared {
    state: Mutex<CondState>,
}

struct CondState {
    signaled: bool,
    message: Option<Box<dyn Any + Send>>,
    waker: Option<Waker>,
}

impl CondShared {
    fn new() -> Arc<CondShared> {
        Arc::new(CondShared { state: Mutex::new(CondState { signaled: false, message: None, waker: None }) })
    }

    /// Signals with an already boxed message; false when already signaled.
    pub(crate) fn signal_boxed(&self, message: Option<Box<dyn Any + Send>>) -> bool {
        let mut st = lock(&self.state);
        if st.signaled {
            return false;
        }
        st.signaled = true;
        st.message = message;
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
            st.waker = Some(cx.waker().clone());
            return Poll::Pending;
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

/// Signals a [`ConditionalTask`] from anywhere.
#[derive(Clone)]
pub struct ConditionalHandle {
    shared: Arc<CondShared>,
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
    Task::new(Conditional { task: Some(task), shared: CondShared::new(), acquire, name })
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
    let next = {
        let mut guards = lock(guards());
        let Some(g) = guards.get_mut(resource) else { return false };
        match g.waiters.pop_front() {
            Some(w) => Some(w),
            None => {
                guards.remove(resource);
                None
            }
        }
    };
    match next {
        Some(w) => {
            w.signal_boxed(boxed(msg));
            true
        }
        None => false,
    }
}
