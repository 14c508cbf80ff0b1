//! Replies produced piece by piece: the pusher, and the drain task that
//! holds a producer back while its connection is behind.

use std::sync::Arc;
use std::task::{Context, Poll};

use super::protocol::ServerProtocol;
use super::reply::ReplySlot;
use crate::task::{RunContext, Task, TaskKind};

/// Writes raw bytes on a server task's connection before its reply
/// (Workflow's `push`): for responses produced piece by piece. Cloneable
/// and sendable, so other tasks and threads can write.
///
/// Over UDP ([`Server::start_udp`](super::Server::start_udp)) the pushed
/// bytes lead the reply's datagram, and count as written once they are in
/// it; when they and the reply pass
/// [`MAX_DATAGRAM`](crate::net::MAX_DATAGRAM) bytes nothing is sent and
/// the pusher sees the connection closed.
///
/// # Backpressure
///
/// Pushed bytes wait in the server until the connection has written them,
/// and a client may read slowly or not at all; [`queued`](Self::queued)
/// says how many are waiting. A producer of a large reply keeps that
/// bounded by waiting, before it produces the next piece, for a
/// [`drain_task`](Self::drain_task): the task finishes once at most its
/// mark is left to write, or with an error once the connection closed, so
/// a producer never waits forever. Pushed into the request's series (or
/// awaited from async code), it holds back what comes after it:
///
/// ```no_run
/// use wf_core::net::tlv::Tlv;
/// use wf_core::net::{Server, ServerPusher};
/// use wf_core::{State, series_of};
///
/// /// Pushes `left` more 64 KiB pieces, each once at most 256 KiB are
/// /// waiting to be written.
/// fn produce(pusher: ServerPusher<Tlv>, left: usize) -> wf_core::net::DrainTask<Tlv> {
///     pusher.drain_task(256 << 10).with_callback(move |t| {
///         // An error: the connection closed; stop producing.
///         if t.state() == State::Success && left > 0 && pusher.push(vec![b'x'; 64 << 10]) {
///             series_of(t).push_back(produce(pusher, left - 1));
///         }
///     })
/// }
///
/// let server = Server::new(Tlv::default(), |task| {
///     let next = produce(task.pusher(), 1024);
///     series_of(task).push_back(next);
/// });
/// ```
pub struct ServerPusher<P: ServerProtocol> {
    slot: Arc<ReplySlot<P>>,
}

impl<P: ServerProtocol> ServerPusher<P> {
    /// The pusher of the request answered through `slot`.
    pub(super) fn new(slot: Arc<ReplySlot<P>>) -> ServerPusher<P> {
        ServerPusher { slot }
    }

    /// Queues `data` to be written as soon as every earlier reply on the
    /// connection is out; false once the reply was sent or the connection
    /// closed.
    pub fn push(&self, data: impl Into<bytes::Bytes>) -> bool {
        self.slot.push(data.into())
    }

    /// Bytes pushed and not written to the connection yet: waiting to be
    /// taken, or taken and not yet accepted by the socket. Bytes pushed
    /// before the connection closed stay counted (they were never
    /// written).
    pub fn queued(&self) -> usize {
        self.slot.queued()
    }

    /// A task that finishes once at most `limit` pushed bytes are left to
    /// write ([`queued`](Self::queued) `<= limit`; at once if they
    /// already are), or fails with `State::SysError` and `ECONNRESET` once
    /// the connection closed (or a write on it failed) first. See the
    /// type's documentation.
    pub fn drain_task(&self, limit: usize) -> DrainTask<P> {
        Task::new(DrainKind { slot: self.slot.clone(), limit })
    }
}

impl<P: ServerProtocol> Clone for ServerPusher<P> {
    fn clone(&self) -> Self {
        ServerPusher { slot: self.slot.clone() }
    }
}

impl<P: ServerProtocol> std::fmt::Debug for ServerPusher<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerPusher").field("queued", &self.queued()).finish()
    }
}

/// A task waiting for a connection to write what was pushed on it; see
/// [`ServerPusher::drain_task`].
pub type DrainTask<P> = Task<DrainKind<P>>;

/// The kind of a [`DrainTask`].
pub struct DrainKind<P: ServerProtocol> {
    slot: Arc<ReplySlot<P>>,
    limit: usize,
}

impl<P: ServerProtocol> std::fmt::Debug for DrainKind<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrainKind").field("limit", &self.limit).finish_non_exhaustive()
    }
}

impl<P: ServerProtocol> TaskKind for DrainKind<P> {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        match self.slot.poll_drained(cx, self.limit) {
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Ready(Err(e)) => {
                run.set_error(e);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
