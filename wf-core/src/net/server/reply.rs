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
//! poll_written  ←──────────────────┼─ written(resp, result) / conn_closed()
//! poll_drained  ←──────────────────┴─ wrote(n)
//! ```
//!
//! The connection takes replies from the slot at the head of its queue
//! only, so replies leave in request order. It encodes the response where
//! it lies, in the slot, and tells the write's result; the task takes the
//! response back and finishes with it (its callback sees the reply it
//! sent). A response moves twice per request: into the slot and back.
//!
//! Pushed bytes are counted from `push` until the connection wrote them
//! (`queued`); the connection reports each write's share (`wrote`), and
//! producers waiting for the count to fall to their mark (`poll_drained`,
//! the drain task) are woken then, or with an error when the connection
//! closes. An ordinary reply never touches this: no push, no count.

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
    /// Pushed bytes not written yet (in `pushes`, or taken by the
    /// connection and not yet out).
    queued: usize,
    /// Producers waiting for `queued` to fall to a mark: the mark and the
    /// waker (one entry per waker).
    drains: Vec<(usize, Waker)>,
    reply: Option<Outgoing>,
    /// The response handed over, until its task takes it back.
    resp: Option<P::Response>,
    /// The reply (or the lack of one) was handed over: nothing more may
    /// be pushed.
    sealed: bool,
    /// The task went away without replying (its series was canceled).
    task_gone: bool,
    /// The connection's verdict on the write of the reply.
    written: Option<Result<(), Error>>,
    conn_gone: bool,
    conn_waker: Option<Waker>,
    task_waker: Option<Waker>,
}

/// What a task hands its connection when its series ends.
enum Outgoing {
    /// A reply (in `SlotState::resp`), and whether the connection stays
    /// open after it.
    Reply(KeepAlive),
    /// No reply: the connection closes (`ServerTask::noreply`).
    NoReply,
}

/// What the connection finds in the slot at the head of its queue.
pub(super) enum Head<R> {
    /// Nothing yet (pushed bytes, if any, were taken).
    Waiting,
    /// The reply, encoded: what the encoder said.
    Reply(R),
    /// No reply will come: close the connection.
    Close,
}

impl<P: ServerProtocol> ReplySlot<P> {
    /// An empty slot.
    pub(super) fn new() -> Arc<ReplySlot<P>> {
        Arc::new(ReplySlot {
            state: Mutex::new(SlotState {
                pushes: Vec::new(),
                queued: 0,
                drains: Vec::new(),
                reply: None,
                resp: None,
                sealed: false,
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
        if st.conn_gone || st.sealed {
            return false;
        }
        f(&mut st);
        let w = st.conn_waker.take();
        drop(st);
        if let Some(w) = w {
            // From a handler thread, through the connection's poller's
            // mailbox: one wake-up of the poller for many replies.
            crate::handlers::wake_home(w);
        }
        true
    }

    /// Task side: queues raw bytes to write before the reply.
    #[inline]
    pub(super) fn push(&self, data: Bytes) -> bool {
        self.send(move |st| {
            st.queued += data.len();
            st.pushes.push(data);
        })
    }

    /// Pushed bytes not written to the connection yet.
    #[inline]
    pub(super) fn queued(&self) -> usize {
        lock(&self.state).queued
    }

    /// Producer side: ready once at most `limit` pushed bytes are left to
    /// write; an error (`ECONNRESET`) once the connection closed (or its
    /// write failed) first.
    pub(super) fn poll_drained(&self, cx: &mut Context<'_>, limit: usize) -> Poll<Result<(), Error>> {
        let mut st = lock(&self.state);
        if st.conn_gone {
            return Poll::Ready(Err(Error::sys(libc::ECONNRESET)));
        }
        if st.queued <= limit {
            return Poll::Ready(Ok(()));
        }
        let waker = cx.waker();
        match st.drains.iter_mut().find(|(_, w)| w.will_wake(waker)) {
            // One waker for several waiters (tasks of one series driver):
            // woken at the first mark reached, as the highest is reached
            // first; each then polls again.
            Some((mark, _)) => *mark = (*mark).max(limit),
            None => st.drains.push((limit, waker.clone())),
        }
        Poll::Pending
    }

    /// Task side: moves the reply out of `resp` into the slot; false (and
    /// `resp` left alone) once the connection closed.
    #[inline]
    pub(super) fn reply(&self, resp: &mut P::Response, keep: KeepAlive) -> bool {
        self.send(|st| {
            st.resp = Some(std::mem::take(resp));
            st.reply = Some(Outgoing::Reply(keep));
            st.sealed = true;
        })
    }

    /// Task side: there will be no reply; the connection closes.
    #[inline]
    pub(super) fn no_reply(&self) {
        self.send(|st| {
            st.reply = Some(Outgoing::NoReply);
            st.sealed = true;
        });
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

    /// Task side: ready once the connection wrote the reply or failed
    /// to, or closed first (`ECONNRESET`); the response handed over comes
    /// back into `resp`.
    #[inline]
    pub(super) fn poll_written(&self, cx: &mut Context<'_>, resp: &mut P::Response) -> Poll<Result<(), Error>> {
        let mut st = lock(&self.state);
        let result = match st.written.take() {
            Some(result) => result,
            None if st.conn_gone => Err(Error::sys(libc::ECONNRESET)),
            None => {
                st.task_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        };
        let back = st.resp.take();
        drop(st);
        if let Some(back) = back {
            *resp = back;
        }
        Poll::Ready(result)
    }

    /// Connection side: moves pushed bytes into `out` and, when the reply
    /// is there, has `encode` write it after them, where it lies (it stays
    /// in the slot for its task); also says how many pushed bytes were
    /// moved (they stay counted in `queued` until [`wrote`](Self::wrote)
    /// reports them written).
    #[inline]
    pub(super) fn take<R>(
        &self,
        out: &mut BytesMut,
        encode: impl FnOnce(&mut P::Response, KeepAlive, &mut BytesMut) -> R,
    ) -> (Head<R>, usize) {
        let mut st = lock(&self.state);
        let mut moved = 0;
        for b in st.pushes.drain(..) {
            moved += b.len();
            out.extend_from_slice(&b);
        }
        let head = match st.reply.take() {
            Some(Outgoing::Reply(keep)) => match st.resp.as_mut() {
                Some(resp) => Head::Reply(encode(resp, keep, out)),
                None => Head::Close,
            },
            Some(Outgoing::NoReply) => Head::Close,
            None if st.task_gone => Head::Close,
            None => Head::Waiting,
        };
        (head, moved)
    }

    /// Connection side: `n` pushed bytes were written; wakes the producers
    /// whose mark is reached.
    pub(super) fn wrote(&self, n: usize) {
        let mut st = lock(&self.state);
        st.queued = st.queued.saturating_sub(n);
        let queued = st.queued;
        let ready = take_ready(&mut st.drains, |mark| mark >= queued);
        drop(st);
        ready.into_iter().for_each(Waker::wake);
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
    /// A failed write closes the connection: producers still waiting
    /// fail too.
    #[inline]
    pub(super) fn written(&self, result: Result<(), Error>) {
        self.written_from(result, None);
    }

    /// [`written`](Self::written), from the task polled with `here`: a
    /// task waiting with that waker is not woken (the connection polls
    /// the series it drives after the write anyway; a wake-up of the
    /// running task would only poll it once more for nothing).
    #[inline]
    pub(super) fn written_here(&self, result: Result<(), Error>, here: &Waker) {
        self.written_from(result, Some(here));
    }

    #[inline]
    fn written_from(&self, result: Result<(), Error>, here: Option<&Waker>) {
        let mut st = lock(&self.state);
        if result.is_err() {
            st.conn_gone = true;
        }
        st.written = Some(result);
        let w = st.task_waker.take().filter(|w| !here.is_some_and(|h| w.will_wake(h)));
        let drains = std::mem::take(&mut st.drains);
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
        drains.into_iter().for_each(|(_, w)| w.wake());
    }

    /// Connection side: the connection closed; a task or producer still
    /// waiting fails, and bytes pushed but not taken are dropped (they
    /// stay counted in `queued`: they were never written).
    pub(super) fn conn_closed(&self) {
        let mut st = lock(&self.state);
        st.conn_gone = true;
        let pushes = std::mem::take(&mut st.pushes);
        let w = st.task_waker.take();
        let drains = std::mem::take(&mut st.drains);
        drop(st);
        drop(pushes);
        if let Some(w) = w {
            w.wake();
        }
        drains.into_iter().for_each(|(_, w)| w.wake());
    }
}

/// Removes the waiters whose mark `reached` says is reached and returns
/// their wakers (no allocation when there is none, nor when all are).
fn take_ready(drains: &mut Vec<(usize, Waker)>, reached: impl Fn(usize) -> bool) -> Vec<Waker> {
    if drains.iter().all(|(mark, _)| reached(*mark)) {
        return std::mem::take(drains).into_iter().map(|(_, w)| w).collect();
    }
    let mut ready = Vec::new();
    drains.retain(|(mark, w)| {
        let r = reached(*mark);
        if r {
            ready.push(w.clone());
        }
        !r
    });
    ready
}
