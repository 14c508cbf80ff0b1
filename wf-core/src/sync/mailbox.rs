use std::any::Any;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::Registry;
use crate::error::Error;
use crate::lock::lock;
use crate::shutdown::ShutdownWatch;
use crate::task::{RunContext, Task, TaskKind};

/// A task that completes once it has been started and a message has been
/// sent to it (Workflow's `WFMailboxTask`); the callback reads the message.
///
/// Send through a [`MailboxHandle`] (from [`handle`](Mailbox::handle),
/// taken any time before the start), before or after the start, or by name
/// with [`send_by_name`]. A mailbox that can no longer get its message
/// (started with no handle left and no name) fails with
/// `TASK_ERROR`/[`code::ORPHANED`](crate::code::ORPHANED) instead of waiting forever, and
/// [`shutdown`](crate::shutdown) aborts one still waiting.
///
/// ```
/// use wf_core::create_mailbox_task;
/// let mut m = create_mailbox_task(|m: &mut wf_core::MailboxTask<String>| {
///     assert_eq!(m.take_message().as_deref(), Some("hi"));
/// });
/// let h = m.handle();
/// m.start();
/// h.send("hi".to_string()).unwrap();
/// wf_core::wait_finish();
/// ```
pub type MailboxTask<M> = Task<Mailbox<M>>;

/// The kind of a [`MailboxTask`].
#[derive(Debug)]
pub struct Mailbox<M> {
    shared: Arc<MailboxShared<M>>,
    message: Option<M>,
    name: Option<String>,
    watch: ShutdownWatch,
}

#[derive(Debug)]
struct MailboxShared<M> {
    /// Reachable by name until it got its message.
    named: bool,
    state: Mutex<MailboxState<M>>,
}

#[derive(Debug)]
struct MailboxState<M> {
    message: Option<M>,
    sent: bool,
    /// Live [`MailboxHandle`]s.
    handles: usize,
    waker: Option<Waker>,
}

impl<M> MailboxShared<M> {
    fn send(&self, msg: M) -> Result<(), M> {
        let mut st = lock(&self.state);
        if st.sent {
            return Err(msg);
        }
        st.sent = true;
        st.message = Some(msg);
        let w = st.waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
        Ok(())
    }
}

/// A named mailbox's shared state, type-erased.
pub(crate) type MailboxEntry = Arc<dyn Any + Send + Sync>;

fn named() -> &'static Registry<MailboxEntry> {
    crate::global::named_mailboxes()
}

impl<M: Send + 'static> Mailbox<M> {
    /// A handle that sends this mailbox its message from anywhere.
    pub fn handle(&self) -> MailboxHandle<M> {
        lock(&self.shared.state).handles += 1;
        MailboxHandle { shared: self.shared.clone() }
    }

    /// The message, once received.
    pub fn message(&self) -> Option<&M> {
        self.message.as_ref()
    }

    /// Takes the message out.
    pub fn take_message(&mut self) -> Option<M> {
        self.message.take()
    }
}

impl<M> Drop for Mailbox<M> {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            let me = Arc::as_ptr(&self.shared) as *const ();
            named().remove(name, |e| Arc::as_ptr(e) as *const () == me);
        }
    }
}

impl<M: Send + 'static> TaskKind for Mailbox<M> {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let mut st = lock(&self.shared.state);
        if st.sent {
            self.message = st.message.take();
            return Poll::Ready(());
        }
        if st.handles == 0 && !self.shared.named {
            // Nothing can send it a message any more: fail rather than hang.
            drop(st);
            super::fail_orphaned(run, "mailbox");
            return Poll::Ready(());
        }
        st.waker = Some(cx.waker().clone());
        drop(st);
        if self.watch.poll_shutdown(cx).is_pending() {
            return Poll::Pending;
        }
        let mut st = lock(&self.shared.state);
        if st.sent {
            // The message came first after all.
            self.message = st.message.take();
        } else {
            // Aborted: a later send gets its message back.
            st.sent = true;
            run.set_error(Error::aborted());
        }
        Poll::Ready(())
    }
}

/// Sends a [`MailboxTask`] its message from anywhere. When the last handle
/// of a mailbox without a name goes away before a message was sent, the
/// mailbox fails with `TASK_ERROR`/[`code::ORPHANED`](crate::code::ORPHANED).
#[derive(Debug)]
pub struct MailboxHandle<M> {
    shared: Arc<MailboxShared<M>>,
}

impl<M> Clone for MailboxHandle<M> {
    fn clone(&self) -> Self {
        lock(&self.shared.state).handles += 1;
        MailboxHandle { shared: self.shared.clone() }
    }
}

impl<M> Drop for MailboxHandle<M> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        st.handles -= 1;
        let orphaned = st.handles == 0 && !self.shared.named && !st.sent;
        let w = if orphaned { st.waker.take() } else { None };
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl<M> MailboxHandle<M> {
    /// Delivers `msg`; a mailbox takes one message, so a second send gives
    /// the message back as `Err`.
    pub fn send(&self, msg: M) -> Result<(), M> {
        self.shared.send(msg)
    }
}

fn new_mailbox<M: Send + 'static>(name: Option<String>) -> Mailbox<M> {
    let shared = Arc::new(MailboxShared {
        named: name.is_some(),
        state: Mutex::new(MailboxState { message: None, sent: false, handles: 0, waker: None }),
    });
    Mailbox { shared, message: None, name, watch: ShutdownWatch::new() }
}

/// Creates a mailbox task for one message of type `M`.
pub fn create_mailbox_task<M: Send + 'static>(
    callback: impl FnOnce(&mut MailboxTask<M>) + Send + 'static,
) -> MailboxTask<M> {
    Task::new(new_mailbox(None)).with_callback(callback)
}

/// Creates a mailbox that [`send_by_name`] reaches by `name`.
pub fn create_named_mailbox_task<M: Send + 'static>(
    name: &str,
    callback: impl FnOnce(&mut MailboxTask<M>) + Send + 'static,
) -> MailboxTask<M> {
    let m = new_mailbox::<M>(Some(name.to_string()));
    named().add(name, m.shared.clone() as MailboxEntry);
    Task::new(m).with_callback(callback)
}

/// Sends `msg` to at most `max` mailboxes named `name` that take messages
/// of type `M`, in creation order; returns how many got it. With nobody
/// waiting the message is dropped.
pub fn send_by_name<M: Clone + Send + 'static>(name: &str, msg: M, max: usize) -> usize {
    let mut delivered = 0;
    let mut map = named().lock();
    let Some(list) = map.get_mut(name) else { return 0 };
    let mut i = 0;
    while i < list.len() && delivered < max {
        let Ok(mailbox) = list[i].clone().downcast::<MailboxShared<M>>() else {
            i += 1;
            continue;
        };
        // A mailbox filled through its handle is out of reach by name: it
        // leaves the list without taking one of the `max` deliveries.
        list.remove(i);
        if mailbox.send(msg.clone()).is_ok() {
            delivered += 1;
        }
    }
    if list.is_empty() {
        map.remove(name);
    }
    delivered
}

/// Sends each mailbox named `name` that takes messages of type `M` its own
/// message, in creation order: the first waiting mailbox gets the front of
/// `msgs`, the next one the following message… (Workflow's array form,
/// `send_by_name(name, msg[], max)`). Delivered messages leave `msgs`; the
/// rest stay there when fewer mailboxes wait than there are messages.
/// Returns how many were delivered.
///
/// ```
/// use std::collections::VecDeque;
/// use wf_core::{create_named_mailbox_task, send_by_name_each};
/// for want in [1, 2] {
///     create_named_mailbox_task("doc-each", move |m| assert_eq!(m.message(), Some(&want))).start();
/// }
/// let mut msgs = VecDeque::from([1, 2, 3]);
/// assert_eq!(send_by_name_each("doc-each", &mut msgs), 2);
/// assert_eq!(msgs, [3]);
/// wf_core::wait_finish();
/// ```
pub fn send_by_name_each<M: Send + 'static>(name: &str, msgs: &mut std::collections::VecDeque<M>) -> usize {
    let mut delivered = 0;
    let mut map = named().lock();
    let Some(list) = map.get_mut(name) else { return 0 };
    let mut i = 0;
    while i < list.len() {
        let Ok(mailbox) = list[i].clone().downcast::<MailboxShared<M>>() else {
            i += 1;
            continue;
        };
        let Some(msg) = msgs.pop_front() else { break };
        // A mailbox filled through its handle leaves the list and gives the
        // message back for the next one.
        list.remove(i);
        match mailbox.send(msg) {
            Ok(()) => delivered += 1,
            Err(msg) => msgs.push_front(msg),
        }
    }
    if list.is_empty() {
        map.remove(name);
    }
    delivered
}
