//! Pipelined client connections: concurrent tasks to one target share a
//! connection, several requests in flight, replies matched in order.
//!
//! A pipe is a connection driven by a task of its own. A caller encodes its
//! request into the pipe's write buffer (under the pipe's lock, with the
//! connection's codec), queues a one-shot slot for the reply and wakes the
//! driver; the driver writes everything queued in one go, reads, decodes
//! replies and hands each to the oldest waiting slot. Requests that pile up
//! while a write is in progress leave together in the next one.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::AsyncWrite;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};
use tokio_util::codec::{Decoder, Encoder};

use super::options::ClientOptions;
use super::pool::PoolKey;
use super::protocol::ClientProtocol;
use super::setup::Setup;
use crate::error::{Error, State as TaskState, TimeoutReason};
use crate::net::conn::{Connection, Limits};
use crate::net::protocol::KeepAlive;
use crate::net::route::Routed;
use crate::net::stream::NetStream;
use crate::runtime::{self, EndpointParams};

type Slot<T> = oneshot::Sender<Result<T, Error>>;

/// Replies handed out per turn of the driver, at least: a turn hands out
/// up to half the requests waiting (see `deliver`). Between turns the
/// callers run and queue their next requests, which the next turn writes
/// before it hands out more: the server works on those while this thread
/// handles the rest, rather than each side waiting for the other's whole
/// batch. Half (not a fixed 16) keeps the writes, and the server's reads
/// and writes, as full as that allows: with 50 callers on one pipe, 25
/// requests a write rather than 13 (sendto per request 0.077 -> 0.040,
/// redis-server CPU per request 0.84x).
const DELIVER_BATCH: usize = 16;

struct Shared<C: Decoder> {
    /// The codec (requests are encoded by callers, replies decoded by the
    /// driver), the bytes waiting to be written and the waiting slots,
    /// each with its task's response size limit.
    codec: C,
    wbuf: BytesMut,
    waiting: VecDeque<(Slot<C::Item>, Option<usize>)>,
    /// How many of the last `waiting` have their bytes in `wbuf` still:
    /// none of them reached the socket.
    queued: usize,
    /// Set once the pipe takes no more requests.
    closed: Option<Error>,
    driver: Option<Waker>,
}

struct Pipe<C: Decoder> {
    shared: Mutex<Shared<C>>,
    in_flight: AtomicUsize,
    closed: AtomicBool,
    peer: Option<SocketAddr>,
    key: Arc<PoolKey>,
}

impl<C: Decoder> Pipe<C> {
    fn lock(&self) -> MutexGuard<'_, Shared<C>> {
        crate::lock::lock(&self.shared)
    }

    /// Stops taking requests; those in flight still get their replies.
    fn close(&self, why: Error) {
        self.closed.store(true, Ordering::Release);
        let waker = {
            let mut s = self.lock();
            s.closed.get_or_insert(why);
            s.driver.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

#[derive(Default)]
struct Entry<C: Decoder> {
    pipes: Vec<Arc<Pipe<C>>>,
    /// Someone is connecting; these wait for the outcome.
    connecting: Option<Vec<oneshot::Sender<Result<(), Error>>>>,
}

/// Every target's shared connections (each entry an `Entry` of its codec).
pub(crate) type Registry = rustc_hash::FxHashMap<Arc<PoolKey>, Box<dyn Any + Send>>;

fn registry() -> MutexGuard<'static, Registry> {
    crate::lock::lock(crate::global::pipes())
}

fn entry<'a, C>(reg: &'a mut Registry, key: &Arc<PoolKey>) -> &'a mut Entry<C>
where
    C: Decoder + Send + 'static,
    C::Item: Send,
{
    reg.entry(key.clone())
        .or_insert_with(|| Box::new(Entry::<C> { pipes: Vec::new(), connecting: None }))
        .downcast_mut::<Entry<C>>()
        .expect("a pool key belongs to one protocol type")
}

fn forget_if_empty<C>(reg: &mut Registry, key: &Arc<PoolKey>)
where
    C: Decoder + Send + 'static,
    C::Item: Send,
{
    let e = entry::<C>(reg, key);
    if e.pipes.is_empty() && e.connecting.is_none() {
        reg.remove(key);
    }
}

fn remove<C>(pipe: &Arc<Pipe<C>>)
where
    C: Decoder + Send + 'static,
    C::Item: Send,
{
    let mut reg = registry();
    if reg.contains_key(&pipe.key) {
        entry::<C>(&mut reg, &pipe.key).pipes.retain(|p| !Arc::ptr_eq(p, pipe));
        forget_if_empty::<C>(&mut reg, &pipe.key);
    }
}

/// Clears the "connecting" mark if the connecting task goes away before it
/// is done (dismissed); waiters then try again themselves.
struct Connecting<C>
where
    C: Decoder + Send + 'static,
    C::Item: Send,
{
    key: Arc<PoolKey>,
    armed: bool,
    _codec: std::marker::PhantomData<fn() -> C>,
}

impl<C> Connecting<C>
where
    C: Decoder + Send + 'static,
    C::Item: Send,
{
    fn finish(mut self, outcome: Result<Arc<Pipe<C>>, Error>) -> Result<Arc<Pipe<C>>, Error> {
        self.armed = false;
        let mut reg = registry();
        let e = entry::<C>(&mut reg, &self.key);
        let waiters = e.connecting.take().unwrap_or_default();
        if let Ok(p) = &outcome {
            e.pipes.push(p.clone());
        }
        forget_if_empty::<C>(&mut reg, &self.key);
        drop(reg);
        for w in waiters {
            let _ = w.send(outcome.as_ref().map(|_| ()).map_err(Error::clone));
        }
        outcome
    }
}

impl<C> Drop for Connecting<C>
where
    C: Decoder + Send + 'static,
    C::Item: Send,
{
    fn drop(&mut self) {
        if self.armed {
            let mut reg = registry();
            let e = entry::<C>(&mut reg, &self.key);
            e.connecting = None; // Dropping the senders wakes the waiters.
            forget_if_empty::<C>(&mut reg, &self.key);
        }
    }
}

/// A pipe to send on, and whether it existed before (a reused
/// connection may turn out to be closed by the server).
async fn acquire<P: ClientProtocol>(
    setup: &Setup<'_, P>,
    routed: &Routed,
    key: &Arc<PoolKey>,
    opts: &ClientOptions,
    endpoint: &EndpointParams,
) -> Result<(Arc<Pipe<P::ClientCodec>>, bool), Error> {
    let max = endpoint.max_connections.max(1);
    let depth = setup.protocol.pipeline_depth().max(1);
    let guard = loop {
        let rx = {
            let mut reg = registry();
            let e = entry::<P::ClientCodec>(&mut reg, key);
            let open = e.pipes.len() + usize::from(e.connecting.is_some());
            let best = e
                .pipes
                .iter()
                .filter(|p| !p.closed.load(Ordering::Acquire))
                .min_by_key(|p| p.in_flight.load(Ordering::Relaxed));
            if let Some(p) = best {
                if p.in_flight.load(Ordering::Relaxed) < depth || open >= max {
                    return Ok((p.clone(), true));
                }
            }
            match &mut e.connecting {
                Some(waiters) => {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(tx);
                    rx
                }
                None if open < max => {
                    e.connecting = Some(Vec::new());
                    break Connecting::<P::ClientCodec> {
                        key: key.clone(),
                        armed: true,
                        _codec: std::marker::PhantomData,
                    };
                }
                // Every slot holds a pipe that is closing: no room.
                None => return Err(Error::sys(libc::EAGAIN)),
            }
        };
        match rx.await {
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) | Err(_) => continue,
        }
    };
    // Boxed: connecting is rare, and its future would make every
    // request's future as large.
    let size = opts.response_size_limit_for(endpoint);
    let conn = Box::pin(setup.open(routed, endpoint, Limits { size, ..Limits::default() })).await;
    let keep_alive = opts.keep_alive().unwrap_or_else(|| setup.protocol.default_keep_alive());
    let outcome = conn.map(|c| start(c, key.clone(), keep_alive, size));
    guard.finish(outcome).map(|p| (p, false))
}

/// Turns a fresh connection into a pipe and starts its driver.
fn start<C>(conn: Connection<C>, key: Arc<PoolKey>, keep_alive: Duration, size: Option<usize>) -> Arc<Pipe<C>>
where
    C: Decoder<Error: Into<Error>> + Send + 'static,
    C::Item: Send,
{
    let peer = conn.peer_addr();
    let response_timeout = conn.response_timeout();
    let Connection { stream, rbuf, wbuf, codec, .. } = conn;
    let rbuf_len = rbuf.len();
    let pipe = Arc::new(Pipe {
        shared: Mutex::new(Shared { codec, wbuf, waiting: VecDeque::new(), queued: 0, closed: None, driver: None }),
        in_flight: AtomicUsize::new(0),
        closed: AtomicBool::new(false),
        peer,
        key,
    });
    let driver = Driver {
        pipe: pipe.clone(),
        stream,
        rbuf,
        out: BytesMut::with_capacity(4096),
        flushing: false,
        yielded: false,
        keep_alive,
        response_timeout,
        timer: Box::pin(tokio::time::sleep_until(Instant::now())),
        timer_at: None,
        last_io: Instant::now(),
        item_bytes: rbuf_len,
        size_limit: size,
        oversize: false,
    };
    runtime::spawn(driver);
    pipe
}

/// Sends `req` on a shared connection to `target` and waits for its
/// reply; gives the reply and the server's address.
pub(crate) async fn request<P: ClientProtocol>(
    setup: &Setup<'_, P>,
    req: &P::Request,
    opts: &ClientOptions,
    endpoint: &EndpointParams,
    routed: &Routed,
    key: Arc<PoolKey>,
) -> Result<(P::Response, Option<SocketAddr>), Error> {
    let mut stale_retry = true;
    loop {
        let (pipe, reused) = acquire(setup, routed, &key, opts, endpoint).await?;
        let rx = {
            let mut s = pipe.lock();
            if s.closed.is_some() {
                continue; // Closed since we picked it: pick again.
            }
            let before = s.wbuf.len();
            let Shared { codec, wbuf, .. } = &mut *s;
            if let Err(e) = codec.encode(req, wbuf) {
                s.wbuf.truncate(before);
                return Err(e.into());
            }
            let (tx, rx) = oneshot::channel();
            s.waiting.push_back((tx, opts.response_size_limit_for(endpoint)));
            s.queued += 1;
            pipe.in_flight.fetch_add(1, Ordering::Relaxed);
            let waker = s.driver.take();
            drop(s);
            if let Some(w) = waker {
                w.wake();
            }
            rx
        };
        // A task whose future is dropped while its reply is due (its
        // deadline passed, say) leaves the pipe closing: the replies
        // still due on it are suspect.
        let guard = CloseOnDrop(&*pipe);
        let got = wait(rx, opts, endpoint, &pipe).await;
        std::mem::forget(guard);
        match got {
            Ok(response) => {
                if setup.protocol.keep_alive(req, &response) == KeepAlive::Close {
                    pipe.close(Error::sys(libc::ECONNRESET));
                }
                return Ok((response, pipe.peer));
            }
            // The connection died before any byte of this request reached
            // it: not this request's failure. (One that went out may have
            // been run by the server: it fails, see `fail`.)
            Err(e) if reused && stale_retry && is_unsent(&e) => stale_retry = false,
            Err(e) => return Err(e),
        }
    }
}

/// Closes a pipe if dropped (see `request`).
struct CloseOnDrop<'a, C: Decoder>(&'a Pipe<C>);

impl<C: Decoder> Drop for CloseOnDrop<'_, C> {
    fn drop(&mut self) {
        self.0.close(Error::timeout(TimeoutReason::Deadline));
    }
}

/// The error of a request that never reached the connection (see `fail`).
fn is_unsent(e: &Error) -> bool {
    e.state() == TaskState::SysError && e.code() == libc::ENOTCONN
}

/// Waits for a reply. A dead connection is the driver's to notice (no
/// progress for the response timeout while replies are due); a task's own
/// watch or receive timeout is a limit on its reply alone: the watch
/// timeout (else the endpoint's response timeout) plus the receive
/// timeout. A request that times out leaves its pipe closing: later
/// replies on it are suspect.
async fn wait<C>(
    rx: oneshot::Receiver<Result<C::Item, Error>>,
    opts: &ClientOptions,
    endpoint: &EndpointParams,
    pipe: &Pipe<C>,
) -> Result<C::Item, Error>
where
    C: Decoder,
{
    let limit = match (opts.watch_timeout(), opts.receive_timeout()) {
        (None, None) => None,
        (watch, receive) => watch.or(endpoint.response_timeout).map(|w| w + receive.unwrap_or_default()).or(receive),
    };
    let got = match limit {
        None => rx.await,
        Some(t) => match tokio::time::timeout(t, rx).await {
            Ok(r) => r,
            Err(_) => {
                pipe.close(Error::timeout(TimeoutReason::Transmit));
                return Err(Error::timeout(TimeoutReason::Transmit));
            }
        },
    };
    got.unwrap_or(Err(Error::sys(libc::ECONNRESET)))
}

/// The task that owns a pipe's stream.
struct Driver<C: Decoder> {
    pipe: Arc<Pipe<C>>,
    stream: NetStream,
    rbuf: BytesMut,
    /// Bytes taken from the shared buffer, being written.
    out: BytesMut,
    flushing: bool,
    /// The driver yielded since it last took the queued requests: the
    /// callers woken before it have run and queued theirs.
    yielded: bool,
    keep_alive: Duration,
    response_timeout: Option<Duration>,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<Instant>,
    /// When bytes last moved (for the response timeout while replies are
    /// due) or the last reply arrived (for the keep-alive when idle).
    last_io: Instant,
    /// Bytes read since the last reply decoded.
    item_bytes: usize,
    /// The response size limit of the oldest request waiting (the last
    /// one seen when none waits).
    size_limit: Option<usize>,
    /// The oldest reply went over its size limit.
    oversize: bool,
}

enum Step {
    /// Nothing more to do until woken.
    Parked,
    /// The pipe is done (closed and drained, or idle past its keep-alive).
    Done,
}

impl<C> Driver<C>
where
    C: Decoder<Error: Into<Error>> + Send + 'static,
    C::Item: Send,
{
    fn step(&mut self, cx: &mut Context<'_>) -> Result<Step, Error> {
        // Bounded, so one busy pipe cannot hold its thread forever.
        for _ in 0..32 {
            let mut moved = false;
            if self.out.is_empty() {
                let mut s = self.pipe.lock();
                match &s.driver {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => s.driver = Some(cx.waker().clone()),
                }
                if !s.wbuf.is_empty() && !self.yielded {
                    // A caller queued a request and woke us, and tokio runs
                    // the task it wakes next: the other callers woken
                    // with that one (by replies handed out here or on
                    // another pipe) have not run yet. Yield once (to the
                    // back of the run queue) so that their requests leave
                    // in the same write rather than one write each.
                    drop(s);
                    self.yielded = true;
                    cx.waker().wake_by_ref();
                    return Ok(Step::Parked);
                }
                std::mem::swap(&mut self.out, &mut s.wbuf);
                s.queued = 0;
                self.yielded = false;
                if self.out.is_empty() && s.waiting.is_empty() && s.closed.is_some() {
                    return Ok(Step::Done);
                }
            }
            while !self.out.is_empty() {
                match Pin::new(&mut self.stream).poll_write(cx, &self.out) {
                    Poll::Ready(Ok(0)) => return Err(Error::sys(libc::EPIPE)),
                    Poll::Ready(Ok(n)) => {
                        self.out.advance(n);
                        self.flushing = true;
                        self.last_io = Instant::now();
                        moved = true;
                    }
                    Poll::Ready(Err(e)) => return Err(e.into()),
                    Poll::Pending => break,
                }
            }
            if self.out.is_empty() {
                // Keep the write buffer's memory for the next swap.
                self.out.clear();
                if self.flushing {
                    match Pin::new(&mut self.stream).poll_flush(cx) {
                        Poll::Ready(Ok(())) => self.flushing = false,
                        Poll::Ready(Err(e)) => return Err(e.into()),
                        Poll::Pending => {}
                    }
                }
            }
            // Replies already read first; then read more.
            if self.deliver()? > 0 {
                // The callers just woken will send their next requests:
                // yield (to the back of the run queue) so that those sent
                // meanwhile leave in one write, rather than run again as
                // soon as the first one wakes us.
                self.yielded = true;
                cx.waker().wake_by_ref();
                return Ok(Step::Parked);
            }
            if self.size_limit.is_some_and(|max| self.item_bytes > max) {
                self.oversize = true;
                crate::trace::debug!(peer = ?self.pipe.peer, limit = self.size_limit, "pipelined response over the size limit");
                return Err(Error::sys(libc::EMSGSIZE));
            }
            if self.rbuf.capacity() - self.rbuf.len() < 1024 {
                self.rbuf.reserve(8192);
            }
            // One byte past the limit at most: enough to tell the reply is
            // too big, nothing more buffered.
            let room = self.size_limit.map_or(usize::MAX, |max| max.saturating_sub(self.item_bytes).saturating_add(1));
            let mut limited = (&mut self.rbuf).limit(room);
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut limited) {
                Poll::Ready(Ok(0)) => {
                    let done = self.pipe.lock().waiting.is_empty();
                    return Err(Error::sys(if done { libc::ENOTCONN } else { libc::ECONNRESET }));
                }
                Poll::Ready(Ok(n)) => {
                    self.item_bytes = self.item_bytes.saturating_add(n);
                    self.last_io = Instant::now();
                    moved = true;
                }
                Poll::Ready(Err(e)) => return Err(e.into()),
                Poll::Pending => {}
            }
            if !moved {
                return Ok(Step::Parked);
            }
        }
        cx.waker().wake_by_ref();
        Ok(Step::Parked)
    }

    /// Decodes the replies read so far and hands them out in order.
    fn deliver(&mut self) -> Result<usize, Error> {
        let mut ready = Vec::new();
        {
            let mut s = self.pipe.lock();
            let turn = DELIVER_BATCH.max(s.waiting.len().div_ceil(2));
            while ready.len() < turn {
                let Some(item) = s.codec.decode(&mut self.rbuf).map_err(Into::into)? else { break };
                self.item_bytes = self.rbuf.len();
                match s.waiting.pop_front() {
                    Some((slot, _)) => ready.push((slot, item)),
                    // A reply nobody asked for: the stream is out of step.
                    None => return Err(Error::sys(libc::EBADMSG)),
                }
            }
            if let Some((_, limit)) = s.waiting.front() {
                self.size_limit = *limit;
            }
        }
        let n = ready.len();
        self.pipe.in_flight.fetch_sub(n, Ordering::Relaxed);
        for (slot, item) in ready {
            let _ = slot.send(Ok(item));
        }
        Ok(n)
    }

    /// Arms the timer: the response timeout while replies are due, the
    /// keep-alive while idle. Returns whether it already ran out.
    fn timer(&mut self, cx: &mut Context<'_>) -> Option<Error> {
        let busy = !self.out.is_empty() || self.pipe.in_flight.load(Ordering::Relaxed) > 0;
        let at =
            if busy { self.response_timeout.map(|t| self.last_io + t) } else { Some(self.last_io + self.keep_alive) };
        let at = at?;
        if Instant::now() >= at {
            return Some(if busy { Error::timeout(TimeoutReason::Transmit) } else { Error::sys(libc::ECONNRESET) });
        }
        if self.timer_at != Some(at) {
            self.timer.as_mut().reset(at);
            self.timer_at = Some(at);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timer_at = None;
                cx.waker().wake_by_ref();
                None
            }
            Poll::Pending => None,
        }
    }

    /// Closes the pipe: what is waiting fails with `e` (over the size
    /// limit: the oldest with `EMSGSIZE`, the others with `ECONNRESET`,
    /// their replies never having come), but requests none of whose bytes
    /// were handed to the socket fail with `ENOTCONN` (safe to send
    /// again), and only they do.
    fn fail(&mut self, e: Error) {
        self.pipe.closed.store(true, Ordering::Release);
        let e = if is_unsent(&e) { Error::sys(libc::ECONNRESET) } else { e };
        let (waiting, unsent) = {
            let mut s = self.pipe.lock();
            s.closed.get_or_insert(e.clone());
            s.wbuf.clear();
            s.driver = None;
            let unsent = std::mem::take(&mut s.queued);
            (std::mem::take(&mut s.waiting), unsent)
        };
        let sent = waiting.len().saturating_sub(unsent);
        self.pipe.in_flight.store(0, Ordering::Relaxed);
        if !waiting.is_empty() {
            crate::trace::debug!(peer = ?self.pipe.peer, error = %e, failed = waiting.len(), "pipelined connection closed with requests in flight");
        }
        let rest = if self.oversize { Error::sys(libc::ECONNRESET) } else { e.clone() };
        for (i, (slot, _)) in waiting.into_iter().enumerate() {
            let err = if i >= sent {
                Error::sys(libc::ENOTCONN)
            } else if i == 0 {
                e.clone()
            } else {
                rest.clone()
            };
            let _ = slot.send(Err(err));
        }
        remove(&self.pipe);
    }
}

impl<C> Future for Driver<C>
where
    C: Decoder<Error: Into<Error>> + Send + 'static,
    C::Item: Send,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let outcome = match this.step(cx) {
            Ok(Step::Parked) => match this.timer(cx) {
                None => return Poll::Pending,
                Some(e) => e,
            },
            Ok(Step::Done) => Error::sys(libc::ECONNRESET),
            Err(e) => e,
        };
        this.fail(outcome);
        Poll::Ready(())
    }
}
