//! [`ReplyHandle`]: a request's reply, reachable from the later tasks of
//! its series until it is sent.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

use super::protocol::ServerProtocol;
use crate::sync::lock;

/// A cheap, `Send` handle to a server task's reply, for the tasks that run
/// after `process` in the request's series (the proxy pattern of Workflow's
/// tutorial 05 and pyworkflow: `process` pushes a client task whose callback
/// fills the reply). Taken with
/// [`ServerKind::reply_handle`](super::ServerKind::reply_handle).
///
/// The reply lives in the handle from the moment the first handle is taken
/// until the reply is sent, when it goes back into the server task (whose
/// callback sees what was sent). From then on [`lock`](ReplyHandle::lock)
/// gives `None` and [`set`](ReplyHandle::set) gives the response back: a
/// handle kept too long is an error the caller sees, never a lost write.
///
/// A later task may also decide that there is no reply at all:
/// [`noreply`](ReplyHandle::noreply), Workflow's `noreply()` called on the
/// server task from anywhere in its series.
pub struct ReplyHandle<P: ServerProtocol> {
    cell: Arc<Mutex<Held<P::Response>>>,
}

/// What a handle holds: the reply until it is sent, and whether there
/// should be none.
struct Held<R> {
    resp: Option<R>,
    noreply: bool,
}

/// What the server task takes back from a handle when its series ends.
pub(super) struct Taken<R> {
    /// The reply, unless it was taken already.
    pub(super) resp: Option<R>,
    /// [`ReplyHandle::noreply`] was called in time.
    pub(super) noreply: bool,
}

impl<P: ServerProtocol> ReplyHandle<P> {
    /// A handle holding `resp` until the reply is sent.
    pub(super) fn new(resp: P::Response) -> ReplyHandle<P> {
        ReplyHandle { cell: Arc::new(Mutex::new(Held { resp: Some(resp), noreply: false })) }
    }

    /// Server side, when the reply is sent: takes the response back and
    /// whether a reply is wanted; every handle sees the reply as sent from
    /// now on.
    pub(super) fn take(&self) -> Taken<P::Response> {
        let mut held = lock(&self.cell);
        Taken { resp: held.resp.take(), noreply: std::mem::take(&mut held.noreply) }
    }

    /// The reply, to read or fill, until it is sent; `None` after.
    ///
    /// Holding the guard blocks the server task from sending the reply:
    /// drop it before the callback returns.
    pub fn lock(&self) -> Option<ReplyGuard<'_, P>> {
        let guard = lock(&self.cell);
        guard.resp.is_some().then_some(ReplyGuard { guard })
    }

    /// Replaces the reply; once it was sent, gives `resp` back.
    pub fn set(&self, resp: P::Response) -> Result<(), P::Response> {
        match lock(&self.cell).resp.as_mut() {
            Some(slot) => {
                *slot = resp;
                Ok(())
            }
            None => Err(resp),
        }
    }

    /// No reply: when the series ends the connection is closed instead
    /// of answered (after the replies to earlier requests on it), and the
    /// server task finishes as `NoReply`, its callback still run. What
    /// [`Task::noreply`](crate::Task::noreply) does in `process`, from a
    /// later task of the series (Workflow and pyworkflow allow
    /// `noreply()` anywhere in the series until the reply is sent).
    ///
    /// Over UDP nothing is sent back. Cannot be undone. Returns false,
    /// and does nothing, once the reply was sent (or the server task went
    /// away).
    ///
    /// ```no_run
    /// # use wf_core::net::{ServerTask, tlv::Tlv};
    /// # fn process(task: &mut ServerTask<Tlv>) {
    /// let reply = task.reply_handle();
    /// let check = wf_core::create_go_task("check", || false).with_callback(move |t| {
    ///     if !*t.result().unwrap() {
    ///         // Refused: close the connection, say nothing.
    ///         reply.noreply();
    ///     }
    /// });
    /// wf_core::series_of(task).push_back(check);
    /// # }
    /// ```
    pub fn noreply(&self) -> bool {
        let mut held = lock(&self.cell);
        if held.resp.is_none() {
            return false;
        }
        held.noreply = true;
        true
    }

    /// True once the reply was sent (or the server task went away).
    pub fn is_sent(&self) -> bool {
        lock(&self.cell).resp.is_none()
    }
}

impl<P: ServerProtocol> Clone for ReplyHandle<P> {
    fn clone(&self) -> ReplyHandle<P> {
        ReplyHandle { cell: self.cell.clone() }
    }
}

impl<P: ServerProtocol> fmt::Debug for ReplyHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never waits: a guard may be held on this very thread.
        let mut d = f.debug_struct("ReplyHandle");
        match self.cell.try_lock() {
            Ok(cell) => d.field("sent", &cell.resp.is_none()).field("noreply", &cell.noreply),
            Err(std::sync::TryLockError::Poisoned(p)) => d.field("sent", &p.get_ref().resp.is_none()),
            Err(std::sync::TryLockError::WouldBlock) => d.field("sent", &format_args!("locked")),
        };
        d.finish()
    }
}

/// The locked reply of a [`ReplyHandle`]; dereferences to the response.
pub struct ReplyGuard<'a, P: ServerProtocol> {
    /// Its reply is always `Some` (checked when locked).
    guard: MutexGuard<'a, Held<P::Response>>,
}

impl<P: ServerProtocol> Deref for ReplyGuard<'_, P> {
    type Target = P::Response;
    fn deref(&self) -> &P::Response {
        self.guard.resp.as_ref().expect("a locked reply is present")
    }
}

impl<P: ServerProtocol> DerefMut for ReplyGuard<'_, P> {
    fn deref_mut(&mut self) -> &mut P::Response {
        self.guard.resp.as_mut().expect("a locked reply is present")
    }
}

impl<P: ServerProtocol> fmt::Debug for ReplyGuard<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyGuard")
    }
}
