//! The server task (one per request) and the connection context its tasks
//! share.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::handle::ReplyHandle;
use super::protocol::ServerProtocol;
use super::push::ServerPusher;
use super::reply::ReplySlot;
use super::shared::Shared;
use crate::error::{Error, State};
use crate::sync::lock;
use crate::task::{RunContext, Task, TaskKind};

/// The function a server runs for each request (its `process`).
pub(super) type Process<P> = dyn Fn(&mut ServerTask<P>) + Send + Sync;

/// A server task's `prepare` hook (see [`ServerKind::set_prepare`]).
type Prepare<P> = Box<dyn FnOnce(&mut ServerKind<P>) + Send>;

/// A request a server is answering (Workflow's server task).
pub type ServerTask<P> = Task<ServerKind<P>>;

/// The kind of a [`ServerTask`].
pub struct ServerKind<P: ServerProtocol> {
    shared: Arc<Shared<P>>,
    req: P::Request,
    resp: P::Response,
    seq: u64,
    peer: Option<SocketAddr>,
    connection: ServerConnection,
    slot: Arc<ReplySlot<P>>,
    /// Where the reply lives once a [`ReplyHandle`] was taken.
    handle: Option<ReplyHandle<P>>,
    sent: bool,
    noreply: bool,
    prepare: Option<Prepare<P>>,
}

impl<P: ServerProtocol> ServerKind<P> {
    /// The task of request `seq` on `connection`, answered through `slot`.
    #[inline]
    pub(super) fn new(
        shared: Arc<Shared<P>>,
        req: P::Request,
        seq: u64,
        peer: Option<SocketAddr>,
        connection: ServerConnection,
        slot: Arc<ReplySlot<P>>,
    ) -> ServerKind<P> {
        ServerKind {
            shared,
            req,
            resp: P::Response::default(),
            seq,
            peer,
            connection,
            slot,
            handle: None,
            sent: false,
            noreply: false,
            prepare: None,
        }
    }
}

impl<P: ServerProtocol> Drop for ServerKind<P> {
    fn drop(&mut self) {
        if let Some(h) = &self.handle {
            // Handles still held see the reply as gone.
            drop(h.take());
        }
        if !self.sent {
            // Dropped unanswered (its series was canceled): the connection
            // closes rather than wait forever.
            self.slot.task_gone();
        }
    }
}

impl<P: ServerProtocol> std::fmt::Debug for ServerKind<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKind").field("seq", &self.seq).field("peer", &self.peer).finish_non_exhaustive()
    }
}

impl<P: ServerProtocol> ServerKind<P> {
    /// The request.
    pub fn req(&self) -> &P::Request {
        &self.req
    }

    /// The request, mutably (e.g. to move it into a client task).
    pub fn req_mut(&mut self) -> &mut P::Request {
        &mut self.req
    }

    /// The reply being built (once a [`reply_handle`](Self::reply_handle)
    /// was taken: an empty placeholder until the reply is sent; the reply
    /// is in the handle).
    pub fn resp(&self) -> &P::Response {
        &self.resp
    }

    /// The reply, to fill in `process` (once a
    /// [`reply_handle`](Self::reply_handle) was taken: a placeholder, see
    /// [`resp`](Self::resp)).
    pub fn resp_mut(&mut self) -> &mut P::Response {
        &mut self.resp
    }

    /// A handle to this task's reply for the tasks that run after `process`
    /// in its series (the proxy pattern: a client task's callback fills the
    /// reply). The reply, as built so far, moves into the handle and stays
    /// there until it is sent; fill it through the handle from then on.
    /// Every call gives a handle to the same reply. Costs nothing unless
    /// called (one allocation when it is).
    ///
    /// ```no_run
    /// # use wf_core::net::{ServerTask, tlv::Tlv};
    /// # fn process(task: &mut ServerTask<Tlv>) {
    /// let reply = task.reply_handle();
    /// let later = wf_core::create_go_task("fill", || 7).with_callback(move |t| {
    ///     if let Some(mut resp) = reply.lock() {
    ///         resp.set_value(t.result().unwrap().to_string());
    ///     }
    /// });
    /// wf_core::series_of(task).push_back(later);
    /// # }
    /// ```
    pub fn reply_handle(&mut self) -> ReplyHandle<P> {
        if self.sent {
            // Too late: a handle that reads as sent.
            let h = ReplyHandle::new(P::Response::default());
            drop(h.take());
            return h;
        }
        self.handle.get_or_insert_with(|| ReplyHandle::new(std::mem::take(&mut self.resp))).clone()
    }

    /// The request's index on its connection, from 0 (Workflow's
    /// `get_task_seq`).
    pub fn task_seq(&self) -> u64 {
        self.seq
    }

    /// The client's address (`None` over a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The connection, for its context.
    pub fn connection(&self) -> &ServerConnection {
        &self.connection
    }

    /// Whether the client is gone: it closed or reset its connection
    /// before the reply was sent (Workflow's `closed()`). Cheap (one
    /// atomic load): `process` and later tasks of the series may check it
    /// to stop expensive work whose reply nobody will read; the reply of
    /// such a request then fails (`SYS_ERROR`/`ECONNRESET`) or goes to a
    /// client that only half-closed.
    ///
    /// It becomes true when the connection reads the end of its input or
    /// an error, which it notices while it waits for the series (it keeps
    /// reading, up to its pipelining limit, while requests are in
    /// flight), and when it closes. Requests that have no connection of
    /// their own (datagrams) always say false.
    pub fn closed(&self) -> bool {
        self.connection.is_closed()
    }

    /// Sets a hook run once, just before the reply is encoded: after the
    /// series, before the protocol fills its automatic fields (HTTP's
    /// `Content-Length`, `Connection`, `Date`). Workflow's `set_prepare`
    /// on a server task (called in `message_out`). Not run for
    /// [`noreply`](Task::noreply), nor when the client is gone first.
    pub fn set_prepare(&mut self, prepare: impl FnOnce(&mut ServerKind<P>) + Send + 'static) {
        self.prepare = Some(Box::new(prepare));
    }

    /// A handle writing raw bytes on the connection before the reply; see
    /// [`ServerPusher`].
    pub fn pusher(&self) -> ServerPusher<P> {
        ServerPusher::new(self.slot.clone())
    }
}

impl<P: ServerProtocol> Task<ServerKind<P>> {
    /// Closes the connection instead of replying; the task finishes as
    /// `NoReply` and its callback still runs. From a later task of the
    /// series (once `process` returned), the same through a
    /// [`ReplyHandle`]: [`ReplyHandle::noreply`].
    pub fn noreply(&mut self) {
        self.kind_mut().noreply = true;
        self.set_state(State::NoReply);
    }
}

impl<P: ServerProtocol> TaskKind for ServerKind<P> {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if !self.sent {
            self.sent = true;
            if let Some(taken) = self.handle.as_ref().map(ReplyHandle::take) {
                if let Some(resp) = taken.resp {
                    self.resp = resp;
                }
                // `noreply` through a handle, from a later task.
                self.noreply |= taken.noreply;
            }
            if self.noreply {
                self.slot.no_reply();
                run.set_state(State::NoReply);
                return Poll::Ready(());
            }
            if let Some(prepare) = self.prepare.take() {
                prepare(self);
            }
            let protocol = &self.shared.protocol;
            protocol.prepare_reply(&self.req, &mut self.resp, self.seq);
            let keep = protocol.keep_alive_after_reply(&self.req, &self.resp, self.seq);
            if !self.slot.reply(&mut self.resp, keep) {
                run.set_error(Error::sys(libc::ECONNRESET));
                return Poll::Ready(());
            }
        }
        match self.slot.poll_written(cx, &mut self.resp) {
            Poll::Ready(Ok(())) => run.set_state(State::Success),
            Poll::Ready(Err(e)) => run.set_error(e),
            Poll::Pending => return Poll::Pending,
        }
        Poll::Ready(())
    }
}

/// A connection's context, shared by its server tasks and dropped when the
/// connection closes (Workflow's `WFConnection` context).
#[derive(Clone)]
pub struct ServerConnection {
    id: u64,
    context: Arc<Mutex<Option<Box<dyn Any + Send>>>>,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConnection").field("id", &self.id).finish_non_exhaustive()
    }
}

impl ServerConnection {
    /// Connection `id`, no context yet.
    pub(super) fn new(id: u64) -> ServerConnection {
        ServerConnection { id, context: Arc::new(Mutex::new(None)), closed: Arc::new(AtomicBool::new(false)) }
    }

    /// The peer is gone (end of input, a read error, or the connection
    /// closed).
    pub(super) fn set_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Whether the peer is gone: it closed or reset the connection, or
    /// the connection closed (see [`ServerKind::closed`]).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Drops the context: the connection has closed.
    pub(super) fn clear_context(&self) {
        *lock(&self.context) = None;
    }

    /// A number unique to this connection within its server.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sets the connection's context; it is dropped when the connection
    /// closes.
    pub fn set_context<T: Any + Send>(&self, value: T) {
        *lock(&self.context) = Some(Box::new(value));
    }

    /// Runs `f` on the context, if there is one of type `T`.
    pub fn with_context<T: Any, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        lock(&self.context).as_mut()?.downcast_mut::<T>().map(f)
    }

    /// Takes the context out, if there is one of type `T`.
    pub fn take_context<T: Any>(&self) -> Option<T> {
        let mut slot = lock(&self.context);
        match slot.take()?.downcast::<T>() {
            Ok(b) => Some(*b),
            Err(b) => {
                *slot = Some(b);
                None
            }
        }
    }
}
