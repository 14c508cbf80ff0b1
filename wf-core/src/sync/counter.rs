use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::Registry;
use crate::lock::lock;
use crate::task::{RunContext, Task, TaskKind};

/// A task that completes once it has been started and counted `target`
/// times (Workflow's `WFCounterTask`).
///
/// Counting may happen before the start. Count through the task before
/// starting it, or through a [`CounterHandle`] (from
/// [`handle`](Counter::handle)) or [`count_by_name`] from anywhere.
/// Counting past the target is harmless.
///
/// ```
/// use wf_core::create_counter_task;
/// let mut c = create_counter_task(2, |c| assert_eq!(c.state(), wf_core::State::Success));
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
    target: u32,
    /// Counts made through the task before anyone else could count.
    local: u32,
    shared: Option<Arc<CounterShared>>,
    name: Option<String>,
}

#[derive(Debug)]
pub(crate) struct CounterShared {
    target: u32,
    state: Mutex<CounterState>,
}

#[derive(Debug, Default)]
struct CounterState {
    counted: u32,
    waker: Option<Waker>,
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

impl Counter {
    fn shared(&mut self) -> &Arc<CounterShared> {
        let (target, local) = (self.target, self.local);
        self.shared.get_or_insert_with(|| {
            Arc::new(CounterShared { target, state: Mutex::new(CounterState { counted: local, waker: None }) })
        })
    }

    /// Counts once.
    pub fn count(&mut self) {
        match &self.shared {
            Some(s) => {
                s.add(1);
            }
            None => self.local = (self.local + 1).min(self.target),
        }
    }

    /// A handle that counts this counter from anywhere, also after start.
    pub fn handle(&mut self) -> CounterHandle {
        CounterHandle { shared: self.shared().clone() }
    }

    /// The target.
    pub fn target(&self) -> u32 {
        self.target
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        if let (Some(name), Some(shared)) = (&self.name, &self.shared) {
            named().remove(name, |s| Arc::ptr_eq(s, shared));
        }
    }
}

impl TaskKind for Counter {
    fn poll_run(&mut self, cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        match &self.shared {
            None => {
                if self.local >= self.target {
                    Poll::Ready(())
                } else {
                    // Nobody else can count this counter: it never completes,
                    // like a Workflow counter nobody counts.
                    Poll::Pending
                }
            }
            Some(s) => {
                let mut st = lock(&s.state);
                if st.counted >= s.target {
                    Poll::Ready(())
                } else {
                    st.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }
}

/// Counts a [`CounterTask`] from anywhere. Cloning gives another handle to
/// the same counter.
#[derive(Clone, Debug)]
pub struct CounterHandle {
    shared: Arc<CounterShared>,
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
    Task::new(Counter { target, local: 0, shared: None, name: None }).with_callback(callback)
}

/// Creates a counter that [`count_by_name`] reaches by `name`.
pub fn create_named_counter_task(
    name: &str,
    target: u32,
    callback: impl FnOnce(&mut CounterTask) + Send + 'static,
) -> CounterTask {
    let mut c = Counter { target, local: 0, shared: None, name: Some(name.to_string()) };
    let shared = c.shared().clone();
    named().add(name, shared);
    Task::new(c).with_callback(callback)
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
