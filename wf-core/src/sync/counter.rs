use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::Registry;
use crate::error::Error;
use crate::lock::lock;
use crate::shutdown::ShutdownWatch;
use crate::task::{RunContext, Task, TaskKind};

/// A task that completes once it has been started and counted `target`
/// times (Workflow's `WFCounterTask`).
///
/// Count through the task before starting it, through a
/// [`CounterHandle`] (from [`handle`](Counter::handle), taken any time
/// before the start) from anywhere, before or after the start, or by name
/// with [`count_by_name`]. Counting past the target is harmless.
///
/// A counter that can no longer be counted (started short of its target
/// with no handle left and no name) fails with
/// `TASK_ERROR`/[`code::ORPHANED`](crate::code::ORPHANED) instead of waiting forever, and
/// [`shutdown`](crate::shutdown) aborts one still waiting.
///
/// ```
/// use wf_core::create_counter_task;
/// let c = create_counter_task(2, |c| assert_eq!(c.state(), wf_core::State::Success));
/// c.count();
/// let h = c.handle();
/// c.start();
/// h.count();
/// h.count(); // over-counting is harmless
/// wf_core::wait_finish();
/// ```
pub type CounterTask = Task<Counter>;

/// The kind of a [`CounterTask`].
#[derive(Debug)]
pub struct Counter {
    /// `None` for a counter of target 0 without a name: it completes when
    /// it starts and nothing can change that, so it needs no shared state
    /// (a chain of such counters allocates nothing but its tasks).
    shared: Option<Arc<CounterShared>>,
}

#[derive(Debug)]
pub(crate) struct CounterShared {
    target: u32,
    /// The name it is reachable by until it reached its target.
    name: Option<String>,
    state: Mutex<CounterState>,
}

#[derive(Debug, Default)]
struct CounterState {
    counted: u32,
    /// Live [`CounterHandle`]s.
    handles: usize,
    waker: Option<Waker>,
    watch: ShutdownWatch,
}

impl CounterShared {
    /// Adds up to `n` counts; true when they reached the target.
    fn add(&self, n: u32) -> bool {
        let mut st = lock(&self.state);
        let used = n.min(self.target - st.counted);
        if used == 0 {
            return false;
        }
        st.counted += used;
        if st.counted < self.target {
            return false;
        }
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }
}

fn named() -> &'static Registry<Arc<CounterShared>> {
    crate::global::named_counters()
}

impl CounterShared {
    fn new(target: u32, name: Option<String>) -> Arc<CounterShared> {
        Arc::new(CounterShared { target, name, state: Mutex::new(CounterState::default()) })
    }
}

impl Counter {
    fn new(target: u32) -> Counter {
        Counter { shared: (target > 0).then(|| CounterShared::new(target, None)) }
    }

    /// Counts once (before the start: a started task belongs to the
    /// engine, so count it through a [`CounterHandle`] or by name).
    pub fn count(&self) {
        if let Some(shared) = &self.shared {
            shared.add(1);
        }
    }

    /// A handle that counts this counter from anywhere, also after start.
    pub fn handle(&self) -> CounterHandle {
        // A counter of target 0 needs no count: its handle counts nothing.
        let shared = self.shared.clone().unwrap_or_else(|| CounterShared::new(0, None));
        lock(&shared.state).handles += 1;
        CounterHandle { shared }
    }

    /// The target.
    pub fn target(&self) -> u32 {
        self.shared.as_ref().map_or(0, |s| s.target)
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        let Some(shared) = &self.shared else { return };
        if let Some(name) = &shared.name {
            named().remove(name, |s| Arc::ptr_eq(s, shared));
        }
        // A handle may outlive the task: stop watching for shutdown now.
        lock(&shared.state).watch = ShutdownWatch::new();
    }
}

impl TaskKind for Counter {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let Some(shared) = &self.shared else { return Poll::Ready(()) };
        let mut st = lock(&shared.state);
        if st.counted >= shared.target {
            return Poll::Ready(());
        }
        if st.handles == 0 && shared.name.is_none() {
            // Nothing can count it any more: fail rather than hang.
            drop(st);
            super::fail_orphaned(run, "counter");
            return Poll::Ready(());
        }
        st.waker = Some(cx.waker().clone());
        // Under the counter's lock: `shutdown` never takes it, and a count
        // that arrives meanwhile finds the waker.
        if st.watch.poll_shutdown(cx).is_pending() {
            return Poll::Pending;
        }
        if st.counted < shared.target {
            // Aborted: later counts do nothing and reach nothing.
            st.counted = shared.target;
            run.set_error(Error::aborted());
        }
        Poll::Ready(())
    }
}

/// Counts a [`CounterTask`] from anywhere. Cloning gives another handle to
/// the same counter. When the last handle of a counter without a name goes
/// away short of the target, the counter fails with
/// `TASK_ERROR`/[`code::ORPHANED`](crate::code::ORPHANED): nothing could count it any more.
#[derive(Debug)]
pub struct CounterHandle {
    shared: Arc<CounterShared>,
}

impl Clone for CounterHandle {
    fn clone(&self) -> Self {
        lock(&self.shared.state).handles += 1;
        CounterHandle { shared: self.shared.clone() }
    }
}

impl Drop for CounterHandle {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        st.handles -= 1;
        let orphaned = st.handles == 0 && self.shared.name.is_none() && st.counted < self.shared.target;
        let w = if orphaned { st.waker.take() } else { None };
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl CounterHandle {
    /// Counts once; returns true when this count reached the target.
    pub fn count(&self) -> bool {
        self.shared.add(1)
    }
}

/// Creates a counter that completes when started and counted `target`
/// times; `target` 0 completes at start.
pub fn create_counter_task(target: u32, callback: impl FnOnce(&mut CounterTask) + Send + 'static) -> CounterTask {
    Task::new(Counter::new(target)).with_callback(callback)
}

/// Creates a counter that [`count_by_name`] reaches by `name`.
pub fn create_named_counter_task(
    name: &str,
    target: u32,
    callback: impl FnOnce(&mut CounterTask) + Send + 'static,
) -> CounterTask {
    let shared = CounterShared::new(target, Some(name.to_string()));
    named().add(name, shared.clone());
    Task::new(Counter { shared: Some(shared) }).with_callback(callback)
}

/// Counts the counters named `name` `n` times in all, spread over them in
/// creation order (the first takes what it still needs, then the next…).
/// Returns how many counters reached their target. Counting a name nobody
/// uses, or past every target, does nothing.
pub fn count_by_name(name: &str, n: u32) -> usize {
    let mut left = n;
    let mut reached = Vec::new();
    {
        let mut map = named().lock();
        let Some(list) = map.get_mut(name) else { return 0 };
        let mut i = 0;
        while i < list.len() && left > 0 {
            let s = &list[i];
            let mut st = lock(&s.state);
            let used = left.min(s.target - st.counted);
            st.counted += used;
            left -= used;
            if st.counted == s.target {
                if used > 0 {
                    reached.push(st.waker.take());
                }
                drop(st);
                list.remove(i);
            } else {
                i += 1;
            }
        }
        if list.is_empty() {
            map.remove(name);
        }
    }
    let woken = reached.len();
    for w in reached.into_iter().flatten() {
        w.wake();
    }
    woken
}
