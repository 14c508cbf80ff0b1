//! The reply slot: where a request's series and its connection meet.
//!
//! Workflow's delayed reply: the reply to a request is sent when the
//! request's series ends, which may be long after `process` returned and
//! on another thread. Each request gets one [`ReplySlot`], shared by its
//! [`ServerTask`](super::ServerTask) and its connection:
//!
//! ```text
//! task side                          connection side
//! push(bytes)      ─┐
//! reply(resp)      ─┤
//! no_reply()       ─┼─ slot ─→ poll_ready / take → encode, write
//! task_gone()      ─┘              │
//! poll_written  ←──────────────────┴─ written(resp, result) / conn_closed()
//! ```
//!
//! The connection takes replies from the slot at the head of its queue
//! only, so replies leave in request order; it hands the response back
//! with the write's result, and the task finishes with it (its callback
//! sees the reply it sent).

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};

use super::protocol::ServerProtocol;
use crate::error::Error;
use crate::net::protocol::KeepAlive;
use crate::sync::lock;

/// One request's slot, shared by its server task and its connection.
pub(super) struct ReplySlot<P: ServerProtocol> {
    state: Mutex<SlotState<P>>,
}

struct SlotState<P: ServerProtocol> {
    /// Raw bytes to write before the reply, in order.
    pushes: Vec<Bytes>,
    reply: Option<Outgoing<P>>,
    /// The task went away without replying (its series was canceled).
    task_gone: bool,
    /// The connection's verdict, with the response handed back.
    written: Option<(P::Response, Result<(), Error>)>,
    conn_gone: bool,
    conn_waker: Option<Waker>,
    task_waker: Option<Waker>,
}

/// What a task hands its connection when its series ends.
enum Outgoing<P: ServerProtocol> {
    /// A reply, and whether the connection stays open after it.
    Reply { resp: P::Response, keep: KeepAlive },
    /// No reply: the connection closes (`ServerTask::noreply`).
    NoReply,
}

/// What the connection finds in the slot at the head of its queue.
pub(super) enum Head<P: ServerProtocol> {
    /// Nothing yet (pushed bytes, if any, were taken).
    Waiting,
    /// The reply, to encode and write.
    Reply(P::Response, KeepAlive),
    /// No reply will come: close the connection.
    Close,
}

impl<P: ServerProtocol> ReplySlot<P> {
    /// An empty slot.
    pub(super) fn new() -> Arc<ReplySlot<P>> {
        Arc::new(ReplySlot {
            state: Mutex::new(SlotState {
                pushes: Vec::new(),
                reply: None,
                task_gone: false,
                written: None,
                conn_gone: false,
                conn_waker: None,
                task_waker: None,
            }),
        })
    }

    /// Task side: hands over bytes or the reply and wakes the connection;
    /// false (and `f` not run) once the reply was handed over or the
    /// connection closed.
    #[inline]
    fn send(&self, f: impl FnOnce(&mut SlotState<P>)) -> bool {
        let mut st = lock(&self.state);
        if st.conn_gone || st.reply.is_some() || st.written.is_some() {
            return false;
        }
        f(&mut st);
        let w = st.conn_waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
        true
    }

    /// Task side: queues raw bytes to write before the reply.
    #[inline]
    pub(super) fn push(&self, data: Bytes) -> bool {
        self.send(move |st| st.pushes.push(data))
    }

    /// Task side: moves the reply out of `resp` into the slot; false (and
    /// `resp` left alone) once the connection closed.
    #[inline]
    pub(super) fn reply(&self, resp: &mut P::Response, keep: KeepAlive) -> bool {
        self.send(|st| st.reply = Some(Outgoing::Reply { resp: std::mem::take(resp), keep }))
    }

    /// Task side: there will be no reply; the connection closes.
    #[inline]
    pub(super) fn no_reply(&self) {
        self.send(|st| st.reply = Some(Outgoing::NoReply));
    }

    /// Task side: the task went away without replying; the connection
    /// closes rather than wait forever.
    pub(super) fn task_gone(&self) {
        let mut st = lock(&self.state);
        st.task_gone = true;
        let w = st.conn_waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Task side: ready once the connection wrote the reply (handing it
    /// back into `resp`) or failed to, or closed first (`ECONNRESET`).
    #[inline]
    pub(super) fn poll_written(&self, cx: &mut Context<'_>, resp: &mut P::Response) -> Poll<Result<(), Error>> {
        let mut st = lock(&self.state);
        if let Some((back, result)) = st.written.take() {
            drop(st);
            *resp = back;
            return Poll::Ready(result);
        }
        if st.conn_gone {
            return Poll::Ready(Err(Error::sys(libc::ECONNRESET)));
        }
        st.task_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Connection side: moves pushed bytes into `out` and takes the reply.
    #[inline]
    pub(super) fn take(&self, out: &mut BytesMut) -> Head<P> {
        let mut st = lock(&self.state);
        for b in st.pushes.drain(..) {
            out.extend_from_slice(&b);
        }
        match st.reply.take() {
            Some(Outgoing::Reply { resp, keep }) => Head::Reply(resp, keep),
            Some(Outgoing::NoReply) => Head::Close,
            None if st.task_gone => Head::Close,
            None => Head::Waiting,
        }
    }

    /// Connection side: ready when there is something to take.
    #[inline]
    pub(super) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = lock(&self.state);
        if !st.pushes.is_empty() || st.reply.is_some() || st.task_gone {
            Poll::Ready(())
        } else {
            st.conn_waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Connection side: the reply was written (or not); wakes the task.
    #[inline]
    pub(super) fn written(&self, resp: P::Response, result: Result<(), Error>) {
        let mut st = lock(&self.state);
        st.written = Some((resp, result));
        let w = st.task_waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Connection side: the connection closed; a task still waiting fails.
    pub(super) fn conn_closed(&self) {
        let mut st = lock(&self.state);
        st.conn_gone = true;
        let w = st.task_waker.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }
}
