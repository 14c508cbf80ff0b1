//! A server connection, as a state machine.
//!
//! [`serve`] opens the connection (TLS handshake, the protocol's
//! `on_accept`), then [`Conn::run`] turns the machine until it closes.
//! Requests are processed inside the connection's task: `process` runs as
//! soon as a request is decoded and the request's series is polled here
//! ([`Conn::drive`]), so a reply ready at once leaves in the same turn,
//! without a spawn or a thread switch; replies of pipelined requests leave
//! in order, in one write.
//!
//! # States
//!
//! [`Phase`] is what the connection waits in between turns, with the
//! deadline of each. A request *in progress* is one whose first bytes came
//! and that has not decoded yet, wherever its bytes are (the read buffer,
//! or the codec: HTTP keeps a partial body there, TLV its header);
//! [`Progress`] follows it, counting its bytes as they are read.
//!
//! | phase | means | deadline | kick: eviction / stop |
//! |---|---|---|---|
//! | `Idle { since, until }` | no request in progress, nothing in flight | `until`: `since` + `keep_alive_timeout` (the reply's, capped), or + `peer_response_timeout` before the first request | closes / closes |
//! | `Reading` | a request in progress, nothing in flight | head: its start + `header_timeout`; body: the minimum receive rate; always: the last read + `peer_response_timeout`, its start + `receive_timeout` | closes / finishes that request, answers, closes |
//! | `Serving` | requests in flight; reads ahead while fewer than [`MAX_PIPELINE`] | none | — (not kicked) / answers what it read, then closes |
//! | `Draining { error_reply }` | no more reading (end of input, or a request the codec rejected): answers what is in flight, then `error_reply`, then closes | none | — / — |
//! | `Closing` | a reply closes the connection (or there is none): close once the write is out | — | — |
//!
//! Clocks of a request in progress do not run while the server works on
//! requests before it: the header, rate and per-read limits count from
//! the last write at the earliest.
//!
//! Writing is a step of a turn, not a phase: what the turn queued goes
//! out in one write, each write making progress within
//! `peer_response_timeout` (`Connection::flush_reporting`). Bytes a
//! request's series pushes ([`ServerPusher`](super::ServerPusher)) are
//! taken as they come, while the request is the oldest in flight, and
//! counted down as each write takes them ([`Pushed`]), so a producer
//! waiting for its backlog to drain learns of every write, not only of
//! the reply's.
//!
//! # A turn
//!
//! [`Conn::run`] repeats, each step a small function:
//!
//! 1. [`decode`](Conn::decode): requests complete in the buffer become
//!    series (`process` runs): `Idle | Reading | Serving → Serving`; a
//!    request the codec rejects, or one past the size backstop:
//!    `→ Draining { error_reply }`. Notes when the request in progress
//!    is past its head ([`ServerProtocol::head_complete`]).
//! 2. [`drive`](Conn::drive): polls the series once, inline.
//! 3. [`interim`](Conn::interim): bytes such as `100 Continue`, when
//!    nothing is in flight.
//! 4. [`collect`](Conn::collect): replies ready, in request order, are
//!    encoded; a closing reply, none, or an encoding error: `→ Closing`.
//!    [`finish_draining`](Conn::finish_draining): `Draining` with nothing
//!    in flight queues its error reply: `→ Closing`.
//! 5. [`write`](Conn::write): one write; each reply's task learns how it
//!    went. A failed write closes. While the socket is full, the series
//!    are polled too (their replies and pushes wait for the next turn).
//! 6. `Closing` closes. [`settle`](Conn::settle) picks the phase to wait
//!    in: `Serving →` `Idle` or `Reading` once all is answered, `Idle →
//!    Reading` when a request began.
//! 7. [`stop_turn`](Conn::stop_turn): the server stops (see below).
//! 8. [`publish`](Conn::publish) tells admission what the connection does
//!    ([`Activity`]), when that changed.
//! 9. [`wait`](Conn::wait) for a series, a reply, bytes (end of input:
//!    `→ Draining`), the deadline ([`expire`](Conn::expire): closes, a
//!    request in progress first getting the protocol's timeout reply), or
//!    a kick.
//!
//! # The limits against hostile clients
//!
//! - **Header timeout**: a request in progress whose head is not complete
//!   (`Progress::body` unset) must complete it within `header_timeout`
//!   of its first byte.
//! - **Minimum receive rate**: once the head is complete (for a protocol
//!   without a head, from the first byte), the rest must come at
//!   `min_receive_rate` bytes/s after `min_receive_rate_grace`:
//!   [`Conn::deadline`] is `body start + grace + received / rate`, which
//!   moves on with every byte read ([`Conn::on_read`] counts them).
//! - **Size backstop**: the bytes of the request in progress are counted
//!   whatever the codec does with them; past
//!   `ServerParams::request_backstop` (2 × `request_size_limit` + 64 KiB)
//!   the request gets the protocol's `EMSGSIZE` reply and the connection
//!   closes. A codec's own, precise limit answers first.
//! - **Eviction**: [`Conn::activity`] maps phases to the [`Activity`]
//!   admission sees (`Opening`, `Idle`, `Receiving` for `Reading`,
//!   `Serving`); `accept.rs` evicts idle connections first (least
//!   recently used), then receiving ones (oldest request first), never a
//!   serving one. `Idle` and `Reading` listen to the kick.
//! - **Graceful stop**: an idle connection closes at once; one `Reading`
//!   finishes that request (within its limits), and one `Serving` reads
//!   nothing more; each answers every request it decoded, then closes
//!   (after the write: no reply is cut), its last reply marked as such
//!   ([`ServerProtocol::last_reply`]). On closing while the client may
//!   still be sending, the connection reads and drops its bytes for a
//!   moment ([`LINGER_IDLE`], at most [`LINGER_MAX`] and
//!   [`LINGER_BYTES`]) so that the
//!   client's unread replies are not lost to a reset.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::futures::Notified;
use tokio::time::{Instant, Sleep, sleep_until, timeout, timeout_at};
use tokio_util::codec::{Decoder, Encoder};

use super::protocol::ServerProtocol;
use super::reply::{Head, ReplySlot};
use super::shared::{Activity, ConnEntry, Shared};
use super::task::{Process, ServerConnection, ServerKind, ServerTask};
use crate::error::{Error, State};
use crate::net::conn::Connection;
use crate::net::protocol::KeepAlive;
use crate::net::spare::READ_RESERVE;
use crate::net::stream::{NetStream, Plain};
use crate::runtime;
use crate::series::{self, Driver, End, SeriesWork};
use crate::task::{AnyTask, Task};

/// Requests read ahead on one connection while earlier ones are processed.
pub(super) const MAX_PIPELINE: usize = 64;

/// Serves an accepted connection until it closes, then unregisters it.
pub(super) async fn serve<P: ServerProtocol>(
    shared: Arc<Shared<P>>,
    process: Arc<Process<P>>,
    id: u64,
    entry: Arc<ConnEntry>,
    stream: Plain,
    peer: Option<SocketAddr>,
) {
    let connection = ServerConnection::new(id);
    if let Some(io) = open(&shared, stream, peer).await {
        Conn::new(&shared, &process, &entry, &connection, peer, io).run().await;
    }
    connection.clear_context();
    shared.conn_closed(id);
}

/// The TLS handshake (if the server has TLS) and the protocol's
/// `on_accept`; `None` when either failed.
async fn open<P: ServerProtocol>(
    shared: &Shared<P>,
    stream: Plain,
    peer: Option<SocketAddr>,
) -> Option<Connection<P::ServerCodec>> {
    #[cfg(feature = "tls")]
    let tls = crate::sync::lock(&shared.tls).clone();
    #[cfg(feature = "tls")]
    let stream = match tls {
        Some(tls) => match crate::net::tls::accept(&tls, stream, shared.params.ssl_accept_timeout).await {
            Ok(s) => NetStream::TlsServer(Box::new(s)),
            Err(_e) => {
                crate::trace::debug!(?peer, error = %_e, "TLS handshake with a client failed; connection closed");
                return None;
            }
        },
        None => NetStream::Plain(stream),
    };
    #[cfg(not(feature = "tls"))]
    let stream = NetStream::Plain(stream);
    let codec = shared.protocol.server_codec(&shared.params);
    let mut io = Connection::new(stream, codec, peer, shared.params.peer_response_timeout);
    // What `on_accept` receives (a login, say) is held to the size
    // backstop too.
    io.set_size_limit(shared.params.request_backstop().map(|b| usize::try_from(b).unwrap_or(usize::MAX)));
    match shared.protocol.on_accept(&mut io).await {
        Ok(()) => Some(io),
        Err(_e) => {
            crate::trace::debug!(?peer, error = %_e, "on_accept refused a connection");
            None
        }
    }
}

/// What a connection waits in between turns (see the module's table).
enum Phase<R> {
    /// No request in progress, nothing in flight.
    Idle {
        /// Since when: accepted, or the last write.
        since: Instant,
        /// When it closes, if nothing comes.
        until: Option<Instant>,
    },
    /// A request in progress ([`Conn::req`]), nothing in flight.
    Reading,
    /// Requests in flight.
    Serving,
    /// Reading is over: answer what is in flight, then `error_reply`,
    /// then close.
    Draining {
        /// The answer to a request the codec rejected, if the protocol
        /// has one (boxed: a phase is moved every turn, a response is
        /// large, and this one is rare).
        error_reply: Option<Box<R>>,
    },
    /// Close once what is queued is written.
    Closing,
}

impl<R> Phase<R> {
    /// More requests may be read.
    #[inline]
    fn reads(&self) -> bool {
        matches!(self, Phase::Idle { .. } | Phase::Reading | Phase::Serving)
    }
}

/// The request in progress: begun, not decoded yet.
#[derive(Clone, Copy, Debug)]
struct Progress {
    /// When its first byte was read.
    started: Instant,
    /// Its bytes read so far (in the buffer, or taken by the codec).
    bytes: u64,
    /// When its head was seen complete, and `bytes` then.
    body: Option<(Instant, u64)>,
}

/// How far a stopping server lets the connection go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// The server runs.
    Running,
    /// Stopping: the request in progress may finish coming in.
    FinishCurrent,
    /// Stopping: nothing more is read; what was decoded is answered.
    NoMoreReads,
}

/// After closing its side, how long a connection waits for more bytes
/// from a client that may still be sending before it drops them and
/// closes (a close with unread bytes resets the connection, and a reset
/// can make the client lose replies it has not read yet).
pub(super) const LINGER_IDLE: Duration = Duration::from_millis(200);

/// The most a closing connection lingers in all.
pub(super) const LINGER_MAX: Duration = Duration::from_secs(1);

/// The most a closing connection reads and drops while it lingers: a
/// client still sending past this is not reading its replies either, and
/// a hostile one would otherwise have a second of loopback bandwidth.
pub(super) const LINGER_BYTES: usize = 1 << 20;

/// How long the reply to a request ended by a deadline may take to write.
const EXPIRY_REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// Why [`Conn::wait`] returned.
enum Wake {
    /// A series moved, or a reply (or pushed bytes) came.
    Progress,
    /// A read finished.
    Read(std::io::Result<usize>),
    /// The timer fired for this deadline.
    Deadline(Instant),
    /// Admission wants the (idle or receiving) connection closed, or the
    /// server stops.
    Kick,
}

/// What a turn asks of [`Conn::run`].
enum Turn {
    Go,
    Close,
}

/// The connection's one timer, armed lazily: re-armed only when a deadline
/// comes earlier than the armed one, and checked when it fires, so most
/// requests touch no timer at all.
#[derive(Default)]
struct Timer {
    armed: Option<(Instant, Pin<Box<Sleep>>)>,
}

impl Timer {
    /// Makes sure the timer fires by `d`.
    #[inline]
    fn arm(&mut self, d: Instant) {
        match &mut self.armed {
            Some((at, _)) if *at <= d => {}
            Some((at, sleep)) => {
                sleep.as_mut().reset(d);
                *at = d;
            }
            None => self.armed = Some((d, Box::pin(sleep_until(d)))),
        }
    }

    /// Waits for the armed timer.
    async fn fired(&mut self) {
        self.armed.as_mut().expect("armed").1.as_mut().await
    }

    /// The timer fired for deadline `d`: true if `d` has passed, else the
    /// timer (armed for an earlier deadline that has moved) is set to `d`.
    #[inline]
    fn passed(&mut self, d: Instant) -> bool {
        if Instant::now() >= d {
            return true;
        }
        let (at, sleep) = self.armed.as_mut().expect("armed");
        sleep.as_mut().reset(d);
        *at = d;
        false
    }
}

/// A reply encoded and waiting for the write, to tell its result.
type Ack<P> = Arc<ReplySlot<P>>;

/// Pushed bytes of one request in the write buffer, counted down in their
/// slot as writes take them.
struct Pushed<P: ServerProtocol> {
    slot: Arc<ReplySlot<P>>,
    /// Where they start in the write buffer.
    start: usize,
    /// How many are left to write.
    len: usize,
}

/// `n` bytes left the front of the write buffer: credits the pushed bytes
/// among them to their slots.
#[inline]
fn credit<P: ServerProtocol>(pushed: &mut VecDeque<Pushed<P>>, n: usize) {
    for m in pushed.iter_mut() {
        if m.start >= n {
            m.start -= n;
            continue;
        }
        let done = (n - m.start).min(m.len);
        m.start = 0;
        m.len -= done;
        m.slot.wrote(done);
    }
    while pushed.front().is_some_and(|m| m.len == 0) {
        pushed.pop_front();
    }
}

/// A connection being served: its I/O, its phase, the requests in flight.
struct Conn<'a, P: ServerProtocol> {
    shared: &'a Arc<Shared<P>>,
    process: &'a Arc<Process<P>>,
    entry: &'a ConnEntry,
    connection: &'a ServerConnection,
    peer: Option<SocketAddr>,
    io: Connection<P::ServerCodec>,
    phase: Phase<P::Response>,
    /// The request in progress, if one began.
    req: Option<Progress>,
    /// Requests in flight, in order: the head's reply goes out first.
    pending: VecDeque<Arc<ReplySlot<P>>>,
    /// Series of this connection's requests still running here.
    drivers: Vec<Driver>,
    /// Replies in the write buffer.
    acks: Vec<Ack<P>>,
    /// Pushed bytes in the write buffer, in order.
    pushed: VecDeque<Pushed<P>>,
    /// Requests decoded so far (the next one's `task_seq`).
    seq: u64,
    last_read: Instant,
    /// Accepted, or the last write: when an idle phase starts.
    last_write: Instant,
    /// How long the connection may stay idle, as the last reply said.
    keep_alive: Option<Duration>,
    timer: Timer,
    /// What admission was last told.
    published: Activity,
    stop: Stop,
    /// The client closed its side (or reading failed).
    peer_done: bool,
    /// Bytes came since the codec last asked for more: decoding again
    /// without them would find nothing new.
    unread: bool,
}

impl<'a, P: ServerProtocol> Conn<'a, P> {
    fn new(
        shared: &'a Arc<Shared<P>>,
        process: &'a Arc<Process<P>>,
        entry: &'a ConnEntry,
        connection: &'a ServerConnection,
        peer: Option<SocketAddr>,
        io: Connection<P::ServerCodec>,
    ) -> Self {
        let now = Instant::now();
        let mut conn = Conn {
            shared,
            process,
            entry,
            connection,
            peer,
            io,
            phase: Phase::Closing, // set below
            req: None,
            pending: VecDeque::new(),
            drivers: Vec::new(),
            acks: Vec::new(),
            pushed: VecDeque::new(),
            seq: 0,
            last_read: now,
            last_write: now,
            keep_alive: shared.params.keep_alive_timeout,
            timer: Timer::default(),
            published: Activity::Opening,
            stop: Stop::Running,
            peer_done: false,
            unread: true,
        };
        conn.phase = Phase::Idle { since: now, until: conn.idle_until(now) };
        // Bytes `on_accept` read past its own exchange begin a request.
        if !conn.io.rbuf.is_empty() {
            conn.req = Some(Progress { started: now, bytes: conn.io.rbuf.len() as u64, body: None });
        }
        conn
    }

    /// Turns the machine until the connection closes, then closes it.
    async fn run(&mut self) {
        // Listened to across turns (registered once, not per wait); a
        // kick while the connection serves is taken when it next idles
        // or receives, as a permit of `notify_one` would be.
        let entry = self.entry;
        let mut kick = std::pin::pin!(entry.kick.notified());
        loop {
            self.decode();
            if !self.drivers.is_empty() {
                std::future::poll_fn(|cx| {
                    self.drive(cx);
                    Poll::Ready(())
                })
                .await;
            }
            self.interim();
            self.collect();
            self.finish_draining();
            if let Turn::Close = self.write().await {
                break;
            }
            if let Phase::Closing = self.phase {
                break;
            }
            self.settle();
            if let Turn::Close = self.stop_turn() {
                break;
            }
            self.publish();
            let deadline = self.deadline();
            match self.wait(deadline, kick.as_mut()).await {
                Wake::Progress => {}
                Wake::Read(Ok(n)) if n > 0 => self.on_read(n),
                Wake::Read(_) => self.end_of_input(),
                Wake::Deadline(d) => {
                    if self.timer.passed(d) {
                        self.expire().await;
                        break;
                    }
                }
                // A stopping server: `stop_turn` decides.
                Wake::Kick if self.shared.stopping.load(Ordering::Acquire) => kick.set(entry.kick.notified()),
                Wake::Kick => {
                    crate::trace::debug!(peer = ?self.peer, "connection evicted to admit another");
                    break;
                }
            }
        }
        self.close().await;
    }

    /// Requests complete in the buffer become series, while the phase
    /// reads and fewer than [`MAX_PIPELINE`] are in flight; then notes
    /// whether the request in progress is past its head, and holds it to
    /// the size backstop.
    #[inline]
    fn decode(&mut self) {
        let mut wants_more = false;
        while self.unread && self.phase.reads() && self.pending.len() < MAX_PIPELINE {
            match self.io.codec.decode(&mut self.io.rbuf) {
                Ok(Some(req)) => {
                    self.phase = Phase::Serving;
                    // Bytes left over belong to the next request.
                    self.req = (!self.io.rbuf.is_empty()).then(|| Progress {
                        started: self.last_read,
                        bytes: self.io.rbuf.len() as u64,
                        body: None,
                    });
                    if self.stop == Stop::FinishCurrent {
                        self.stop = Stop::NoMoreReads;
                    }
                    self.dispatch(req);
                }
                Ok(None) => {
                    wants_more = true;
                    self.unread = false;
                    break;
                }
                Err(e) => {
                    // Answered (if the protocol has an answer) after the
                    // replies before it; then the connection closes.
                    let error_reply = self.shared.protocol.error_reply(&mut self.io.codec, &e.into());
                    self.phase = Phase::Draining { error_reply: error_reply.map(Box::new) };
                }
            }
        }
        let Some(req) = &mut self.req else { return };
        if !wants_more {
            return;
        }
        if req.body.is_none() && self.shared.protocol.head_complete(&self.io.codec) {
            req.body = Some((Instant::now(), req.bytes));
        }
        if self.shared.params.request_backstop().is_some_and(|max| req.bytes > max) {
            crate::trace::debug!(peer = ?self.peer, bytes = req.bytes, "request over the size backstop; closing");
            let e = Error::sys(libc::EMSGSIZE);
            let error_reply = self.shared.protocol.error_reply(&mut self.io.codec, &e);
            self.phase = Phase::Draining { error_reply: error_reply.map(Box::new) };
        }
    }

    /// Starts the series of a request: runs `process` at once, then keeps
    /// the series' driver here, polled by this connection's task (no
    /// spawn, no thread switch for the reply). With handler threads, both
    /// run there instead; the reply comes back through the slot.
    #[inline]
    fn dispatch(&mut self, req: P::Request) {
        let slot = ReplySlot::new();
        let mut task = Box::new(Task::new(ServerKind::new(
            self.shared.clone(),
            req,
            self.seq,
            self.peer,
            self.connection.clone(),
            slot.clone(),
        )));
        task.set_state(State::ToReply);
        self.seq += 1;
        self.pending.push_back(slot);
        if runtime::has_handlers() {
            spawn_request(self.shared.clone(), self.process.clone(), task);
        } else {
            let drivers = &mut self.drivers;
            start_request(self.shared, &**self.process, task, |driver| drivers.push(driver));
        }
    }

    /// Polls the request series driven here once (a step of the turn,
    /// not a wait: `run` calls it inside a `poll_fn` that is ready at once).
    #[inline]
    fn drive(&mut self, cx: &mut Context<'_>) {
        poll_drivers(&mut self.drivers, cx);
    }

    /// Interim bytes (100 Continue), which never overtake earlier replies.
    #[inline]
    fn interim(&mut self) {
        if self.pending.is_empty() {
            self.shared.protocol.server_interim(&mut self.io.codec, &mut self.io.wbuf);
        }
    }

    /// Replies ready, in request order, into the write buffer (each
    /// encoded where it lies, in its slot).
    #[inline]
    fn collect(&mut self) {
        let params = &self.shared.params;
        while let Some(slot) = self.pending.front() {
            let start = self.io.wbuf.len();
            // The reply about to be taken is the connection's last when the
            // server stops with nothing else in flight or arriving.
            let last = self.pending.len() == 1 && self.req.is_none() && self.shared.stopping.load(Ordering::Acquire);
            let protocol = &self.shared.protocol;
            let codec = &mut self.io.codec;
            let (head, moved) = slot.take(&mut self.io.wbuf, |resp, mut keep, wbuf| {
                if keep != KeepAlive::Close && last {
                    protocol.last_reply(resp);
                    keep = KeepAlive::Close;
                }
                let encoded: Result<(), Error> = codec.encode(&*resp, wbuf).map_err(Into::into);
                (encoded, keep)
            });
            if moved > 0 {
                self.pushed.push_back(Pushed { slot: slot.clone(), start, len: moved });
            }
            match head {
                Head::Waiting => return,
                Head::Reply((encoded, keep)) => {
                    let slot = self.pending.pop_front().expect("the head");
                    if let Err(e) = encoded {
                        slot.written(Err(e));
                        return self.close_after_write();
                    }
                    self.acks.push(slot);
                    match keep {
                        KeepAlive::Close => return self.close_after_write(),
                        KeepAlive::Keep => self.keep_alive = params.keep_alive_timeout,
                        // Never longer than the server's own limit: a
                        // client's `Keep-Alive: timeout=300` does not
                        // hold a connection 300 s.
                        KeepAlive::KeepFor(d) => {
                            self.keep_alive = Some(params.keep_alive_timeout.map_or(d, |c| c.min(d)))
                        }
                    }
                }
                // No reply, or the request's series dropped it: close.
                Head::Close => {
                    if let Some(slot) = self.pending.pop_front() {
                        slot.conn_closed();
                    }
                    return self.close_after_write();
                }
            }
        }
    }

    /// The connection closes after this turn's write: requests after a
    /// closing reply are never answered.
    #[inline]
    fn close_after_write(&mut self) {
        for slot in self.pending.drain(..) {
            slot.conn_closed();
        }
        self.phase = Phase::Closing;
    }

    /// `Draining` with nothing in flight: the error reply (if any) goes
    /// out with the last replies, then the connection closes.
    #[inline]
    fn finish_draining(&mut self) {
        if let Phase::Draining { error_reply } = &mut self.phase {
            if self.pending.is_empty() {
                if let Some(resp) = error_reply.take() {
                    let _ = self.io.codec.encode(&*resp, &mut self.io.wbuf);
                }
                self.phase = Phase::Closing;
            }
        }
    }

    /// Writes out what the turn queued, in one write, and tells each
    /// reply's task how it went. While the socket is full the request
    /// series go on (a producer learns its pushed bytes drained as the
    /// client reads, and can make the next piece), taking no more from
    /// them until the next turn.
    #[inline]
    async fn write(&mut self) -> Turn {
        if self.io.wbuf.is_empty() {
            return Turn::Go;
        }
        let Conn { io, pushed, drivers, acks, .. } = self;
        // Most writes take it all at once: no timer, no clock.
        let result = match std::future::poll_fn(|cx| Poll::Ready(io.poll_write_now(cx, |n| credit(pushed, n)))).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                let mut flush = std::pin::pin!(io.flush_reporting(None, |n| credit(pushed, n)));
                std::future::poll_fn(|cx| match flush.as_mut().poll(cx) {
                    Poll::Pending => {
                        poll_drivers(drivers, cx);
                        Poll::Pending
                    }
                    done => done,
                })
                .await
            }
            Err(e) => Err(e),
        };
        self.last_write = Instant::now();
        let failed = result.is_err();
        // The tasks of these replies are (usually) driven here: they finish
        // when `wait` polls the drivers next, with no wake-up of this task.
        std::future::poll_fn(|cx| {
            for slot in acks.drain(..) {
                slot.written_here(result.clone(), cx.waker());
            }
            Poll::Ready(())
        })
        .await;
        if failed { Turn::Close } else { Turn::Go }
    }

    /// Picks the phase to wait in, from what is in flight and what has
    /// begun.
    #[inline]
    fn settle(&mut self) {
        match self.phase {
            // Unchanged: nothing came, nothing was written.
            Phase::Idle { since, .. } if since == self.last_write && self.req.is_none() => return,
            Phase::Serving if !self.pending.is_empty() => return,
            Phase::Draining { .. } | Phase::Closing => return,
            Phase::Idle { .. } | Phase::Reading | Phase::Serving => {}
        }
        self.phase = if !self.pending.is_empty() {
            Phase::Serving
        } else if self.req.is_some() {
            Phase::Reading
        } else {
            Phase::Idle { since: self.last_write, until: self.idle_until(self.last_write) }
        };
    }

    /// When a connection idle since `since` closes: after the keep-alive
    /// limit (the last reply's), or before the first request after the
    /// peer response timeout (the keep-alive timeout is for idleness after
    /// a reply).
    #[inline]
    fn idle_until(&self, since: Instant) -> Option<Instant> {
        let limit = if self.seq == 0 { self.shared.params.peer_response_timeout } else { self.keep_alive };
        limit.map(|t| since + t)
    }

    /// The server stops: an idle connection closes now; one receiving a
    /// request lets that request finish coming in (within its limits);
    /// one serving reads nothing more. Each closes once everything it
    /// decoded is answered.
    #[inline]
    fn stop_turn(&mut self) -> Turn {
        if self.stop == Stop::Running {
            if !self.shared.stopping.load(Ordering::Acquire) {
                return Turn::Go;
            }
            self.stop = match self.phase {
                Phase::Reading => Stop::FinishCurrent,
                _ => Stop::NoMoreReads,
            };
        }
        let done = match self.phase {
            Phase::Idle { .. } => true,
            Phase::Reading => self.stop == Stop::NoMoreReads,
            Phase::Serving | Phase::Draining { .. } | Phase::Closing => false,
        };
        if done { Turn::Close } else { Turn::Go }
    }

    /// When the connection closes if nothing happens: the idle limit; for
    /// a request in progress, the header timeout until its head is
    /// complete, then the minimum receive rate, and always a read every
    /// `peer_response_timeout` and the whole of it within
    /// `receive_timeout`.
    #[inline]
    fn deadline(&self) -> Option<Instant> {
        let params = &self.shared.params;
        match self.phase {
            Phase::Idle { until, .. } => until,
            Phase::Reading => {
                let req = self.req.as_ref()?;
                // The client is not to blame for the time the server took
                // answering the requests before this one.
                let from = |t: Instant| t.max(self.last_write);
                let by_peer = params.peer_response_timeout.map(|t| from(self.last_read) + t);
                let whole = params.receive_timeout.map(|t| req.started + t);
                let rule = match req.body {
                    None => params.header_timeout.map(|t| from(req.started) + t),
                    Some((at, base)) => match params.min_receive_rate {
                        Some(rate) if rate > 0 => {
                            let owed = Duration::try_from_secs_f64((req.bytes - base) as f64 / f64::from(rate)).ok();
                            from(at)
                                .checked_add(params.min_receive_rate_grace)
                                .zip(owed)
                                .and_then(|(t, o)| t.checked_add(o))
                        }
                        _ => None,
                    },
                };
                [by_peer, whole, rule].into_iter().flatten().min()
            }
            Phase::Serving | Phase::Draining { .. } | Phase::Closing => None,
        }
    }

    /// What admission sees of a phase.
    #[inline]
    fn activity(&self) -> Activity {
        match (&self.phase, &self.req) {
            (Phase::Idle { since, .. }, _) => Activity::Idle(since.into_std()),
            (Phase::Reading, Some(req)) => Activity::Receiving(req.started.into_std()),
            (Phase::Reading, None) => Activity::Receiving(self.last_read.into_std()),
            (Phase::Serving | Phase::Draining { .. } | Phase::Closing, _) => Activity::Serving,
        }
    }

    /// Tells admission what the connection does, when that changed.
    #[inline]
    fn publish(&mut self) {
        let now = self.activity();
        if now != self.published {
            self.entry.publish(now);
            self.published = now;
        }
    }

    /// Waits for a series to move, a reply, bytes, the deadline, or (idle
    /// or receiving) a kick (`kick`, the connection's listener, kept across
    /// turns).
    async fn wait(&mut self, deadline: Option<Instant>, kick: Pin<&mut Notified<'_>>) -> Wake {
        if let Some(d) = deadline {
            self.timer.arm(d);
        }
        let kickable = matches!(self.phase, Phase::Idle { .. } | Phase::Reading);
        let can_read = self.phase.reads() && self.pending.len() < MAX_PIPELINE && self.stop != Stop::NoMoreReads;
        if matches!(self.phase, Phase::Idle { .. }) && self.io.rbuf.is_empty() && self.io.wbuf.is_empty() {
            // Idle connections hold no buffers (see `read`).
            self.io.release_buffers();
        }
        let Conn { pending, io, drivers, timer, .. } = self;
        let has_drivers = !drivers.is_empty();
        tokio::select! {
            biased;
            _ = std::future::poll_fn(|cx| if poll_drivers(drivers, cx) { Poll::Ready(()) } else { Poll::Pending }), if has_drivers => Wake::Progress,
            _ = std::future::poll_fn(|cx| pending.front().expect("a pending reply").poll_ready(cx)), if !pending.is_empty() => Wake::Progress,
            n = read(io), if can_read => Wake::Read(n),
            _ = timer.fired(), if deadline.is_some() => Wake::Deadline(deadline.expect("deadline")),
            _ = kick, if kickable => Wake::Kick,
        }
    }

    /// `n` bytes came: they belong to the request in progress, or begin
    /// one.
    #[inline]
    fn on_read(&mut self, n: usize) {
        let now = Instant::now();
        self.last_read = now;
        self.unread = true;
        match &mut self.req {
            Some(req) => req.bytes += n as u64,
            None => self.req = Some(Progress { started: now, bytes: n as u64, body: None }),
        }
    }

    /// The peer closed its side, or reading failed: what is in flight is
    /// answered, then the connection closes.
    #[inline]
    fn end_of_input(&mut self) {
        self.peer_done = true;
        self.connection.set_closed();
        self.phase = Phase::Draining { error_reply: None };
    }

    /// The deadline passed. A request in progress gets the protocol's
    /// answer to a timeout, if it has one (HTTP: 408), written within
    /// [`EXPIRY_REPLY_TIMEOUT`]; then the connection closes.
    async fn expire(&mut self) {
        if !matches!(self.phase, Phase::Reading) {
            return;
        }
        crate::trace::debug!(peer = ?self.peer, req = ?self.req, "request in progress ran out of time; closing");
        let e = Error::timeout(crate::error::TimeoutReason::Transmit);
        if let Some(resp) = self.shared.protocol.error_reply(&mut self.io.codec, &e) {
            if self.io.codec.encode(&resp, &mut self.io.wbuf).is_ok() {
                let _ = self.io.flush_within(Some(EXPIRY_REPLY_TIMEOUT)).await;
            }
        }
    }

    /// Closes: series still running go on by themselves (a server's stop
    /// waits for them); their replies learn that the connection is gone.
    /// A client that may still be sending gets a moment for it to end
    /// ([`LINGER_IDLE`], [`LINGER_MAX`], [`LINGER_BYTES`]).
    async fn close(&mut self) {
        self.connection.set_closed();
        for d in self.drivers.drain(..) {
            runtime::spawn(d);
        }
        for slot in self.pending.drain(..) {
            slot.conn_closed();
        }
        for slot in self.acks.drain(..) {
            slot.written(Err(Error::sys(libc::ECONNRESET)));
        }
        for m in self.pushed.drain(..) {
            m.slot.conn_closed();
        }
        let _ = timeout(Duration::from_millis(100), self.io.stream.shutdown()).await;
        // Idle, with nothing left unread: nothing the client sends now
        // could have been answered anyway.
        let idle = matches!(self.phase, Phase::Idle { .. }) && self.req.is_none() && self.stop == Stop::Running;
        if self.peer_done || idle {
            return;
        }
        let end = Instant::now() + LINGER_MAX;
        let mut dropped = 0;
        while dropped < LINGER_BYTES {
            self.io.rbuf.clear();
            self.io.rbuf.reserve(READ_RESERVE);
            let at = (Instant::now() + LINGER_IDLE).min(end);
            match timeout_at(at, self.io.stream.read_buf(&mut self.io.rbuf)).await {
                Ok(Ok(n)) if n > 0 => dropped += n,
                _ => break,
            }
        }
    }
}

/// Reads what comes into the read buffer. A connection whose buffers were
/// released (idle) first waits, without them, for bytes to come, then
/// takes them back: 10,000 idle connections cost no buffer memory.
#[inline]
async fn read<C>(io: &mut Connection<C>) -> std::io::Result<usize> {
    if io.rbuf.capacity() == 0 {
        std::future::poll_fn(|cx| io.stream.poll_read_ready(cx)).await?;
        io.take_buffers();
    }
    io.rbuf.reserve(READ_RESERVE);
    io.stream.read_buf(&mut io.rbuf).await
}

/// Runs `process` on a request's task, then makes the request's series
/// (its tasks, then the reply) for the caller to drive; `None` when
/// `process` panicked (the task is dropped unanswered).
pub(super) fn start_series<P: ServerProtocol>(
    shared: &Arc<Shared<P>>,
    process: &Process<P>,
    task: Box<ServerTask<P>>,
) -> Option<Driver> {
    let mut out = None;
    start_request(shared, process, task, |driver| out = Some(driver));
    out
}

/// Runs `process` and then the request's series on the handler threads
/// (`Settings::handler_threads`); a panic in `process` drops the task
/// unanswered.
pub(super) fn spawn_request<P: ServerProtocol>(
    shared: Arc<Shared<P>>,
    process: Arc<Process<P>>,
    task: Box<ServerTask<P>>,
) {
    runtime::spawn_series(Request::Start(Some((shared, process, task))));
}

/// Runs `process` for `task` and hands the request's series, ending with
/// the reply, to `place`; nothing when `process` panicked (dropping the
/// task unanswered closes the connection). The series is built where
/// `place` puts it, not moved around (this runs for every request).
#[inline(always)]
fn start_request<P: ServerProtocol>(
    shared: &Arc<Shared<P>>,
    process: &Process<P>,
    mut task: Box<ServerTask<P>>,
    place: impl FnOnce(Driver),
) {
    let mut series = SeriesWork::empty();
    let panicked = {
        let _enter = series::enter(&mut series, &mut *task as *mut ServerTask<P> as *const ());
        catch_unwind(AssertUnwindSafe(|| process(&mut task))).is_err()
    };
    if panicked {
        return;
    }
    series.set_last_task(AnyTask::from_boxed(task));
    series.set_end(End::Parent(shared.clone(), 0));
    shared.inflight.fetch_add(1, Ordering::AcqRel);
    place(Driver::new(series));
}

/// A request run on a handler thread: `process`, then its series.
// One per request, spawned (so boxed) whole: the start state becoming the
// driver in place costs no second allocation.
#[allow(clippy::large_enum_variant)]
enum Request<P: ServerProtocol> {
    Start(Option<Pending<P>>),
    Series(Driver),
}

/// What a request needs to start: the server, its `process`, the task.
type Pending<P> = (Arc<Shared<P>>, Arc<Process<P>>, Box<ServerTask<P>>);

// Nothing in a request is pinned: it is moved into the series.
impl<P: ServerProtocol> Unpin for Request<P> {}

impl<P: ServerProtocol> Future for Request<P> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Request::Start(start) = this {
            let (shared, process, task) = start.take().expect("a request starts once");
            start_request(&shared, &*process, task, |driver| *this = Request::Series(driver));
            if matches!(this, Request::Start(_)) {
                return Poll::Ready(()); // `process` panicked
            }
        }
        match this {
            Request::Series(driver) => Pin::new(driver).poll(cx),
            Request::Start(_) => unreachable!("started above"),
        }
    }
}

/// Polls the request series driven by a connection; true when one
/// finished.
fn poll_drivers(drivers: &mut Vec<Driver>, cx: &mut Context<'_>) -> bool {
    let before = drivers.len();
    drivers.retain_mut(|d| Pin::new(d).poll(cx).is_pending());
    drivers.len() != before
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::net::stream::Plain;

    /// An idle connection's wait for its next request holds no buffer;
    /// the bytes that come are read whole, into buffers taken back then.
    #[tokio::test]
    async fn idle_read_waits_without_buffers() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let stream = NetStream::Plain(Plain::Tcp(tokio::net::TcpStream::from_std(server).unwrap()));
        let mut io = Connection::new(stream, (), None, None);
        io.release_buffers();
        assert_eq!((io.rbuf.capacity(), io.wbuf.capacity()), (0, 0));

        // Nothing came: the read waits, and holds no buffer meanwhile.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(std::pin::pin!(read(&mut io)).poll(&mut cx).is_pending());
        assert_eq!((io.rbuf.capacity(), io.wbuf.capacity()), (0, 0));

        (&client).write_all(b"next request").unwrap();
        let n = read(&mut io).await.unwrap();
        assert_eq!(&io.rbuf[..n], b"next request");
        assert!(io.wbuf.capacity() > 0, "the write buffer came back too");

        // Empty again, they go back to the thread's spares.
        io.rbuf.clear();
        io.release_buffers();
        assert_eq!((io.rbuf.capacity(), io.wbuf.capacity()), (0, 0));
        drop(client);
        assert_eq!(read(&mut io).await.unwrap(), 0, "end of input");
    }
}
