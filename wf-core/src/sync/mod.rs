//! Tasks that wait for something outside their series: counters,
//! mailboxes, selectors, conditionals, guards, resource pools, message
//! queues; and the `WaitGroup` that glues wf to blocking code.

mod conditional;
mod counter;
mod mailbox;
mod pool;
mod selector;
mod wait_group;

pub use conditional::{
    Conditional, ConditionalHandle, ConditionalTask, create_conditional, create_guard, create_named_conditional,
    release_guard, release_guard_safe, signal_by_name, signal_by_name_each,
};
pub use counter::{Counter, CounterHandle, CounterTask, count_by_name, create_counter_task, create_named_counter_task};
pub use mailbox::{
    Mailbox, MailboxHandle, MailboxTask, create_mailbox_task, create_named_mailbox_task, send_by_name,
    send_by_name_each,
};
pub use pool::{MessageQueue, ResourcePool};
pub use selector::{Selector, SelectorHandle, SelectorTask, create_selector_task};
pub use wait_group::WaitGroup;

pub(crate) use conditional::{CondShared, Guard};
pub(crate) use counter::CounterShared;
pub(crate) use mailbox::MailboxEntry;

// The crate's lock helper, also imported from here by graph and net::server.
pub(crate) use crate::lock::lock;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Name → entries in creation order; the registry behind every `*_by_name`.
pub(crate) struct Registry<T> {
    map: Mutex<HashMap<String, Vec<T>>>,
}

impl<T> Registry<T> {
    pub(crate) fn new() -> Registry<T> {
        Registry { map: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<T>>> {
        crate::lock::lock(&self.map)
    }

    pub(crate) fn add(&self, name: &str, entry: T) {
        self.lock().entry(name.to_string()).or_default().push(entry);
    }

    /// Removes the first entry of `name` that `is_it` matches.
    pub(crate) fn remove(&self, name: &str, is_it: impl Fn(&T) -> bool) {
        let mut map = self.lock();
        if let Some(list) = map.get_mut(name) {
            if let Some(i) = list.iter().position(is_it) {
                list.remove(i);
            }
            if list.is_empty() {
                map.remove(name);
            }
        }
    }
}

/// Ends a counter, mailbox or conditional that nothing can reach any more
/// (no handle left, no name): it fails with `TASK_ERROR`/`ORPHANED` rather
/// than wait forever.
pub(crate) fn fail_orphaned(run: &mut crate::RunContext<'_>, _kind: &'static str) {
    crate::trace::warning!(kind = _kind, "started with no handle and no name: orphaned");
    run.set_error(crate::Error::task(crate::code::ORPHANED));
}
