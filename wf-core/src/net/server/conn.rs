//! A server connection: the TLS handshake and `on_accept`, then requests
//! read, processed in the connection's task and answered in order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::codec::{Decoder, Encoder};

use super::protocol::ServerProtocol;
use super::reply::{Head, ReplySlot};
use super::shared::{ConnEntry, Shared};
use super::task::{Process, ServerConnection, ServerKind, ServerTask};
use crate::error::{Error, State};
use crate::net::conn::Connection;
use crate::net::protocol::KeepAlive;
use crate::net::stream::{NetStream, Plain};
use crate::runtime;
use crate::series::{self, Driver, End, SeriesWork};
use crate::sync::lock;
use crate::task::Task;

/// Requests read ahead on one connection while earlier ones are processed.
const MAX_PIPELINE: usize = 64;

pub(super) async fn serve<P: ServerProtocol>(
    shared: Arc<Shared<P>>,
    process: Arc<Process<P>>,
    id: u64,
    entry: Arc<ConnEntry>,
    stream: Plain,
    peer: Option<SocketAddr>,
) {
    let connection = ServerConnection::new(id);
    #[cfg(feature = "tls")]
    let tls = lock(&shared.tls).clone();
    #[cfg(feature = "tls")]
    let stream = match tls {
        Some(tls) => match crate::net::tls::accept(&tls, stream, shared.params.ssl_accept_timeout).await {
            Ok(s) => Some(NetStream::TlsServer(Box::new(s))),
            Err(_e) => {
                crate::trace::debug!(?peer, error = %_e, "TLS handshake with a client failed; connection closed");
                None
            }
        },
        None => Some(NetStream::Plain(stream)),
    };
    #[cfg(not(feature = "tls"))]
    let stream = Some(NetStream::Plain(stream));
    if let Some(stream) = stream {
        let codec = shared.protocol.server_codec(&shared.params);
        let mut io = Connection::new(stream, codec, peer, shared.params.peer_response_timeout);
        let accepted = shared.protocol.on_accept(&mut io).await;
        if let Err(_e) = &accepted {
            crate::trace::debug!(?peer, error = %_e, "on_accept refused a connection");
        }
        if accepted.is_ok() {
            let mut conn = ServerConn {
                shared: &shared,
                process: &*process,
                entry: &entry,
                connection: &connection,
                peer,
                io,
                pending: VecDeque::new(),
                drivers: Vec::new(),
                seq: 0,
            };
            conn.run().await;
        }
    }
    connection.clear_context();
    shared.conn_closed(id);
}

struct ServerConn<'a, P: ServerProtocol> {
    shared: &'a Arc<Shared<P>>,
    process: &'a Process<P>,
    entry: &'a ConnEntry,
    connection: &'a ServerConnection,
    peer: Option<SocketAddr>,
    io: Connection<P::ServerCodec>,
    pending: VecDeque<Arc<ReplySlot<P>>>,
    /// Series of this connection's requests still running here.
    drivers: Vec<Driver>,
    seq: u64,
}

type Ack<P> = (Arc<ReplySlot<P>>, <P as crate::net::Protocol>::Response);

impl<P: ServerProtocol> ServerConn<'_, P> {
    async fn run(&mut self) {
        let inner = self.shared.clone();
        let params = &inner.params;
        // More requests may be read from this connection.
        let mut reading = true;
        // Close once what is queued has been written.
        let mut finish = false;
        let mut request_started: Option<Instant> = None;
        let mut last_read = Instant::now();
        // When the connection last went idle: accepted, or a reply written.
        let mut idle_from = Instant::now();
        // No request has arrived yet: it must within the peer response
        // timeout (the keep-alive timeout is for idleness after a reply).
        let mut fresh = true;
        let mut error_reply: Option<P::Response> = None;
        let mut acks: Vec<Ack<P>> = Vec::new();
        let mut idle_limit = params.keep_alive_timeout;
        // One timer, armed lazily: re-armed only when a deadline comes
        // earlier than the armed one, and checked when it fires, so most
        // requests touch no timer at all.
        let mut timer: Option<(Instant, std::pin::Pin<Box<tokio::time::Sleep>>)> = None;
        // What `idle_since` last said, to write it only when it changes.
        let mut published: Option<Instant> = None;
        loop {
            // Requests complete in the buffer become series.
            while reading && self.pending.len() < MAX_PIPELINE {
                match self.io.codec.decode(&mut self.io.rbuf) {
                    Ok(Some(req)) => {
                        request_started = None;
                        fresh = false;
                        self.dispatch(req);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        // Answered (if the protocol has an answer) after the
                        // replies before it; then the connection closes.
                        reading = false;
                        error_reply = inner.protocol.error_reply(&mut self.io.codec, &e.into());
                    }
                }
            }
            if !self.drivers.is_empty() {
                let drivers = &mut self.drivers;
                std::future::poll_fn(|cx| {
                    Self::poll_drivers(drivers, cx);
                    Poll::Ready(())
                })
                .await;
            }
            if self.pending.is_empty() {
                // Interim bytes (100 Continue) never overtake earlier replies.
                inner.protocol.server_interim(&mut self.io.codec, &mut self.io.wbuf);
            }
            if reading && !self.io.rbuf.is_empty() && request_started.is_none() {
                request_started = Some(Instant::now());
            }
            // Replies ready, in request order, go out in one write.
            while let Some(slot) = self.pending.front() {
                match slot.take(&mut self.io.wbuf) {
                    Head::Waiting => break,
                    Head::Reply(resp, keep) => {
                        let slot = self.pending.pop_front().expect("the head");
                        let encoded: Result<(), Error> =
                            self.io.codec.encode(&resp, &mut self.io.wbuf).map_err(Into::into);
                        if let Err(e) = encoded {
                            slot.written(resp, Err(e));
                            finish = true;
                            break;
                        }
                        acks.push((slot, resp));
                        match keep {
                            KeepAlive::Close => {
                                finish = true;
                                break;
                            }
                            KeepAlive::Keep => idle_limit = params.keep_alive_timeout,
                            // Never longer than the server's own limit: a
                            // client's `Keep-Alive: timeout=300` does not
                            // hold a connection 300 s.
                            KeepAlive::KeepFor(d) => {
                                idle_limit = Some(params.keep_alive_timeout.map_or(d, |c| c.min(d)))
                            }
                        }
                    }
                    // No reply, or the request's series dropped it: close.
                    Head::Close => {
                        self.pending.pop_front();
                        finish = true;
                        break;
                    }
                }
            }
            if finish {
                // Requests after a closing reply are never answered.
                for slot in self.pending.drain(..) {
                    slot.conn_closed();
                }
            } else if !reading && self.pending.is_empty() {
                if let Some(resp) = error_reply.take() {
                    let _ = self.io.codec.encode(&resp, &mut self.io.wbuf);
                }
                finish = true;
            }
            if !self.io.wbuf.is_empty() {
                let result = self.write_out().await;
                idle_from = Instant::now();
                let failed = result.is_err();
                for (slot, resp) in acks.drain(..) {
                    slot.written(resp, result.clone());
                }
                if failed {
                    break;
                }
            }
            if finish {
                break;
            }
            let idle = self.pending.is_empty() && self.io.rbuf.is_empty();
            if idle && inner.stopping.load(Ordering::Acquire) {
                break;
            }
            // Wait for a reply, more bytes, a timeout, or a kick.
            let idle_mark = idle.then_some(idle_from);
            if idle_mark != published {
                self.entry.set_idle_since(idle_mark.map(Instant::into_std));
                published = idle_mark;
            }
            let deadline = if idle {
                if fresh { params.peer_response_timeout } else { idle_limit }.map(|t| idle_from + t)
            } else if self.pending.is_empty() {
                // A request is partly in: it must keep coming.
                let by_peer = params.peer_response_timeout.map(|t| last_read + t);
                let whole = params.receive_timeout.zip(request_started).map(|(t, s)| s + t);
                match (by_peer, whole) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            } else {
                None
            };
            if let Some(d) = deadline {
                match &mut timer {
                    Some((at, _)) if *at <= d => {}
                    Some((at, sleep)) => {
                        sleep.as_mut().reset(d);
                        *at = d;
                    }
                    None => timer = Some((d, Box::pin(sleep_until(d)))),
                }
            }
            let can_read = reading && self.pending.len() < MAX_PIPELINE;
            let pending = &mut self.pending;
            let stream = &mut self.io.stream;
            let rbuf = &mut self.io.rbuf;
            let drivers = &mut self.drivers;
            let has_drivers = !drivers.is_empty();
            tokio::select! {
                biased;
                _ = std::future::poll_fn(|cx| if Self::poll_drivers(drivers, cx) { Poll::Ready(()) } else { Poll::Pending }), if has_drivers => {}
                _ = std::future::poll_fn(|cx| pending.front().expect("a pending reply").poll_ready(cx)), if !pending.is_empty() => {}
                n = async { rbuf.reserve(4096); stream.read_buf(rbuf).await }, if can_read => {
                    match n {
                        Ok(0) | Err(_) => reading = false,
                        Ok(_) => last_read = Instant::now(),
                    }
                }
                _ = async { timer.as_mut().expect("armed").1.as_mut().await }, if deadline.is_some() => {
                    let d = deadline.expect("deadline");
                    if Instant::now() >= d {
                        break;
                    }
                    // Armed for an earlier deadline that has moved: re-arm.
                    let (at, sleep) = timer.as_mut().expect("armed");
                    sleep.as_mut().reset(d);
                    *at = d;
                }
                _ = self.entry.kick.notified(), if idle => break,
            }
        }
        // Series still running go on by themselves (a server's stop waits
        // for them); their replies learn that the connection is gone.
        for d in self.drivers.drain(..) {
            runtime::spawn(d);
        }
        for slot in self.pending.drain(..) {
            slot.conn_closed();
        }
        for (slot, resp) in acks.drain(..) {
            slot.written(resp, Err(Error::sys(libc::ECONNRESET)));
        }
        let _ = timeout(Duration::from_millis(100), self.io.stream.shutdown()).await;
    }

    async fn write_out(&mut self) -> Result<(), Error> {
        self.io.flush_within(None).await
    }

    /// Starts the series of a request: runs `process` at once, then keeps
    /// the series' driver here, polled by this connection's task (no
    /// spawn, no thread switch for the reply).
    fn dispatch(&mut self, req: P::Request) {
        let slot = ReplySlot::new();
        let mut task = Task::new(ServerKind::new(
            self.shared.clone(),
            req,
            self.seq,
            self.peer,
            self.connection.clone(),
            slot.clone(),
        ));
        task.set_state(State::ToReply);
        self.seq += 1;
        self.pending.push_back(slot);
        let mut series = SeriesWork::empty();
        let panicked = {
            let _enter = series::enter(&mut series, &mut task as *mut ServerTask<P> as *const ());
            catch_unwind(AssertUnwindSafe(|| (self.process)(&mut task))).is_err()
        };
        if panicked {
            // Dropping the task unanswered closes the connection.
            return;
        }
        series.set_last_task(task);
        series.set_end(End::Parent(self.shared.clone(), 0));
        self.shared.inflight.fetch_add(1, Ordering::AcqRel);
        self.drivers.push(Driver::new(series));
    }

    /// Polls the request series driven by this connection; true when one
    /// finished.
    fn poll_drivers(drivers: &mut Vec<Driver>, cx: &mut Context<'_>) -> bool {
        let before = drivers.len();
        drivers.retain_mut(|d| std::pin::Pin::new(d).poll(cx).is_pending());
        drivers.len() != before
    }
}
