use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::conditional::{CondShared, ConditionalTask, create_acquiring_conditional};
use crate::lock::lock;
use crate::task::AnyTask;

/// Items and the conditionals waiting for them: the core of a resource
/// pool and of a message queue.
struct Channel<T> {
    items: VecDeque<T>,
    /// Hand out the most recently posted item first (resource pools).
    lifo: bool,
    waiters: VecDeque<Arc<CondShared>>,
}

struct Shared<T> {
    state: Mutex<Channel<T>>,
}

impl<T: Any + Send> Shared<T> {
    fn new(items: VecDeque<T>, lifo: bool) -> Arc<Shared<T>> {
        Arc::new(Shared { state: Mutex::new(Channel { items, lifo, waiters: VecDeque::new() }) })
    }

    fn get(self: &Arc<Self>, task: AnyTask) -> ConditionalTask {
        let me = self.clone();
        create_acquiring_conditional(task, move |waiter| {
            let mut ch = lock(&me.state);
            let item = if ch.lifo { ch.items.pop_back() } else { ch.items.pop_front() };
            match item {
                Some(item) => {
                    drop(ch);
                    waiter.signal_boxed(Some(Box::new(item)));
                }
                None => ch.waiters.push_back(waiter.clone()),
            }
        })
    }

    fn post(&self, item: T) {
        let mut item = Some(item);
        loop {
            let mut ch = lock(&self.state);
            match ch.waiters.pop_front() {
                Some(w) => {
                    drop(ch);
                    // A waiter aborted by shutdown refuses the item: the
                    // next one gets it.
                    if w.signal_with(|| item.take().map(|i| Box::new(i) as Box<dyn Any + Send>)) {
                        return;
                    }
                }
                None => {
                    ch.items.extend(item);
                    return;
                }
            }
        }
    }

    fn len(&self) -> usize {
        lock(&self.state).items.len()
    }
}

/// A pool of resources handed to tasks (Workflow's `WFResourcePool`).
///
/// [`get`](ResourcePool::get) wraps a task; when the wrapper runs it takes a
/// resource (the most recently returned one first) or waits, first come,
/// first served, until one is [`post`](ResourcePool::post)ed back. The
/// wrapped task finds the resource in its user data.
///
/// ```
/// use wf_core::{create_go_task, ResourcePool};
/// let pool = ResourcePool::new(vec!["conn-a", "conn-b"]);
/// for _ in 0..5 {
///     let p = pool.clone();
///     let go = create_go_task("doc", || ()).with_callback(move |t| {
///         let conn: &str = t.take_user_data().unwrap();
///         p.post(conn);
///     });
///     pool.get(go).start();
/// }
/// wf_core::wait_finish();
/// assert_eq!(pool.available(), 2);
/// ```
pub struct ResourcePool<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for ResourcePool<T> {
    fn clone(&self) -> Self {
        ResourcePool { shared: self.shared.clone() }
    }
}

impl<T> std::fmt::Debug for ResourcePool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResourcePool")
    }
}

impl<T: Any + Send> ResourcePool<T> {
    /// A pool holding `resources`; the first one is handed out first.
    pub fn new(resources: impl IntoIterator<Item = T>) -> ResourcePool<T> {
        // Kept as a stack (the most recently returned resource goes out
        // first), so the first resource sits on top.
        let mut items: VecDeque<T> = resources.into_iter().collect();
        items.make_contiguous().reverse();
        ResourcePool { shared: Shared::new(items, true) }
    }

    /// Wraps `task` so that it runs holding a resource.
    pub fn get(&self, task: impl Into<AnyTask>) -> ConditionalTask {
        self.shared.get(task.into())
    }

    /// Returns a resource (any `T`, not necessarily the one taken); the
    /// longest-waiting task gets it.
    pub fn post(&self, resource: T) {
        self.shared.post(resource)
    }

    /// Resources not handed out.
    pub fn available(&self) -> usize {
        self.shared.len()
    }
}

/// An unbounded first-in, first-out queue of messages for tasks (Workflow's
/// `WFMessageQueue`).
///
/// [`get`](MessageQueue::get) wraps a task that, when it runs, takes the
/// oldest message or waits for the next [`post`](MessageQueue::post); the
/// message is in the wrapped task's user data.
///
/// ```
/// use wf_core::{create_go_task, MessageQueue};
/// let q = MessageQueue::new();
/// let go = create_go_task("doc", || ()).with_callback(|t| {
///     assert_eq!(t.take_user_data::<u32>(), Some(1));
/// });
/// q.get(go).start();
/// q.post(1u32);
/// wf_core::wait_finish();
/// ```
pub struct MessageQueue<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for MessageQueue<T> {
    fn clone(&self) -> Self {
        MessageQueue { shared: self.shared.clone() }
    }
}

impl<T> std::fmt::Debug for MessageQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageQueue")
    }
}

impl<T: Any + Send> Default for MessageQueue<T> {
    fn default() -> Self {
        MessageQueue { shared: Shared::new(VecDeque::new(), false) }
    }
}

impl<T: Any + Send> MessageQueue<T> {
    /// An empty queue.
    pub fn new() -> MessageQueue<T> {
        MessageQueue::default()
    }

    /// Wraps `task` so that it runs with the next message.
    pub fn get(&self, task: impl Into<AnyTask>) -> ConditionalTask {
        self.shared.get(task.into())
    }

    /// Posts a message; the longest-waiting task gets it, else it is queued.
    pub fn post(&self, msg: T) {
        self.shared.post(msg)
    }

    /// Messages queued and not yet taken.
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// True when no message is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
