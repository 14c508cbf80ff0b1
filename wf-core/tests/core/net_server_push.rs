//! Backpressure for pushed replies: a producer that waits for a drain task
//! before each piece holds at most its mark plus one piece in the server
//! while its client does not read; the drain task fires as the client
//! reads, and fails (`ECONNRESET`) when the client goes away, so no
//! producer waits forever. TLV server, raw client sockets.
#![cfg(feature = "net")]

use crate::support;

use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use support::net::{connect, encode, read_tlv, start_local};
use support::{WAIT, wait_until};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{DrainTask, Server, ServerPusher};
use wf_core::{State, create_counter_task, series_of};

/// Bytes pushed at a time.
const PIECE: usize = 64 << 10;
/// The producer pushes the next piece once at most this much is queued.
const MARK: usize = 256 << 10;
/// Pieces in a reply: 32 MiB, far more than loopback socket buffers hold
/// (about 4 MiB here while the client does not read).
const PIECES: usize = 512;
/// The most read at a time.
const READ: usize = 1 << 20;

/// Byte `i` of a pushed stream is `PATTERN[i % 251]`: bytes `i..i + n`
/// are `PATTERN[i % 251..][..n]` for `n` up to [`READ`].
static PATTERN: LazyLock<Bytes> = LazyLock::new(|| (0..READ + 251).map(|i| (i % 251) as u8).collect());

/// Bytes `at..at + n` of a pushed stream.
fn expected(at: usize, n: usize) -> Bytes {
    PATTERN.slice(at % 251..at % 251 + n)
}

/// Piece `k` of a pushed stream (no copy).
fn piece(k: usize) -> Bytes {
    expected(k * PIECE, PIECE)
}

/// What the server side saw.
#[derive(Default)]
struct Probe {
    /// Bytes pushed so far.
    pushed: AtomicUsize,
    /// The most `queued()` said right after a push.
    max_queued: AtomicUsize,
    /// A drain task is pending (pushed and not finished).
    waiting: AtomicBool,
    /// How the first drain task that did not succeed ended.
    drain_failed: Mutex<Option<(State, i32)>>,
    /// How the reply went (the server task's callback).
    reply: Mutex<Option<(State, i32)>>,
    pusher: Mutex<Option<ServerPusher<Tlv>>>,
}

impl Probe {
    fn pushed(&self, pusher: &ServerPusher<Tlv>, n: usize) {
        self.pushed.fetch_add(n, Ordering::SeqCst);
        self.max_queued.fetch_max(pusher.queued(), Ordering::SeqCst);
    }

    fn queued(&self) -> usize {
        self.pusher.lock().unwrap().as_ref().expect("a request came").queued()
    }

    fn failed(&self, state: State, code: i32) {
        self.drain_failed.lock().unwrap().get_or_insert((state, code));
    }
}

/// Waits for the drain, then pushes piece `k` and the wait after it.
fn produce(probe: Arc<Probe>, pusher: ServerPusher<Tlv>, k: usize) -> DrainTask<Tlv> {
    probe.waiting.store(true, Ordering::SeqCst);
    pusher.drain_task(MARK).with_callback(move |t| {
        probe.waiting.store(false, Ordering::SeqCst);
        if t.state() != State::Success {
            return probe.failed(t.state(), t.error_code());
        }
        if k == PIECES || !pusher.push(piece(k)) {
            return;
        }
        probe.pushed(&pusher, PIECE);
        series_of(t).push_back(produce(probe.clone(), pusher, k + 1));
    })
}

/// A server streaming [`PIECES`] pieces before its reply (type 7,
/// `done`), each once the drain task allows it, in the request's series.
fn streaming_server(probe: &Arc<Probe>) -> Server<Tlv> {
    let probe = probe.clone();
    Server::new(Tlv::default(), move |task| {
        let pusher = task.pusher();
        *probe.pusher.lock().unwrap() = Some(pusher.clone());
        *task.resp_mut() = TlvMessage::new(7, "done");
        let p = probe.clone();
        task.set_callback(move |t| *p.reply.lock().unwrap() = Some((t.state(), t.error_code())));
        let first = produce(probe.clone(), pusher, 0);
        series_of(task).push_back(first);
    })
}

/// Sends a request and waits until the producer is held back: a drain
/// task pending with more than the mark queued, and nothing pushed for a
/// while (the loopback socket buffers are full, the connection's write
/// waits).
fn stall(probe: &Probe, server: &Server<Tlv>) -> TcpStream {
    let addr = start_local(server);
    let mut s = connect(addr);
    s.write_all(&encode(1, b"go")).unwrap();
    let held = || {
        probe.waiting.load(Ordering::SeqCst) && probe.pusher.lock().unwrap().as_ref().is_some_and(|p| p.queued() > MARK)
    };
    let until = Instant::now() + WAIT;
    let mut last = usize::MAX;
    loop {
        let pushed = probe.pushed.load(Ordering::SeqCst);
        if pushed == last && held() {
            return s;
        }
        assert!(Instant::now() < until, "the producer is never held back (pushed {pushed} bytes)");
        last = pushed;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Reads the pushed stream and the reply after it, checking every byte.
fn read_all(s: &mut TcpStream) -> TlvMessage {
    let mut buf = vec![0u8; READ];
    let mut at = 0;
    while at < PIECES * PIECE {
        let want = buf.len().min(PIECES * PIECE - at);
        let n = s.read(&mut buf[..want]).expect("the stream goes on");
        assert!(n > 0, "the stream ended after {at} bytes");
        assert!(buf[..n] == expected(at, n), "bytes {at}..{} differ from what was pushed", at + n);
        at += n;
    }
    read_tlv(s).unwrap().expect("the reply after the pushed bytes")
}

/// A client that does not read: the producer stops at its mark, whatever
/// the reply's size, and the server holds no more than the mark plus one
/// piece of it.
#[test]
fn a_client_that_does_not_read_holds_the_producer_at_its_mark() {
    let probe = Arc::new(Probe::default());
    let server = streaming_server(&probe);
    let s = stall(&probe, &server);
    let pushed = probe.pushed.load(Ordering::SeqCst);
    // Held back before the end (a producer that was not would have pushed
    // everything and be waiting for nothing).
    assert!(pushed < PIECES * PIECE, "pushed all {pushed} bytes into a stalled connection");
    let max = probe.max_queued.load(Ordering::SeqCst);
    assert!(max <= MARK + PIECE, "{max} bytes queued at most, more than the mark and a piece");
    assert!(probe.queued() <= MARK + PIECE);
    assert!(probe.waiting.load(Ordering::SeqCst));
    drop(s);
    server.stop();
}

/// The drain task fires as the client reads: the whole stream arrives, in
/// order, then the reply; the server never held more than the mark and a
/// piece.
#[test]
fn the_drain_task_fires_as_the_client_reads() {
    let probe = Arc::new(Probe::default());
    let server = streaming_server(&probe);
    let mut s = stall(&probe, &server);
    assert_eq!(read_all(&mut s), TlvMessage::new(7, "done"));
    assert!(wait_until(WAIT, || probe.reply.lock().unwrap().is_some()));
    assert_eq!(*probe.reply.lock().unwrap(), Some((State::Success, 0)));
    assert_eq!(*probe.drain_failed.lock().unwrap(), None);
    assert_eq!(probe.pushed.load(Ordering::SeqCst), PIECES * PIECE);
    assert_eq!(probe.queued(), 0, "everything was written");
    let max = probe.max_queued.load(Ordering::SeqCst);
    assert!(max <= MARK + PIECE, "{max} bytes queued at most");
    server.stop();
}

/// The client goes away while the producer waits: the drain task fails
/// with `ECONNRESET` (it does not wait forever), and so does the reply;
/// the server serves on.
#[test]
fn the_drain_task_fails_when_the_client_goes_away() {
    let probe = Arc::new(Probe::default());
    let server = streaming_server(&probe);
    let s = stall(&probe, &server);
    drop(s);
    assert!(wait_until(WAIT, || probe.drain_failed.lock().unwrap().is_some()), "the waiting drain task finishes");
    assert_eq!(*probe.drain_failed.lock().unwrap(), Some((State::SysError, libc::ECONNRESET)));
    assert!(!probe.waiting.load(Ordering::SeqCst));
    assert!(wait_until(WAIT, || probe.reply.lock().unwrap().is_some()));
    let (state, _) = probe.reply.lock().unwrap().expect("the reply task finished");
    assert_eq!(state, State::SysError, "the reply was never written");
    // A new drain task on the closed connection fails at once.
    let pusher = probe.pusher.lock().unwrap().clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    pusher.drain_task(usize::MAX).with_callback(move |t| tx.send((t.state(), t.error_code())).unwrap()).start();
    assert_eq!(support::recv(&rx), (State::SysError, libc::ECONNRESET));
    assert!(!pusher.push("more"), "nothing more is pushed");
    server.stop();
}

/// From async code: a producer awaiting each drain task (here on another
/// task than the request's series, which a counter holds open) is paced
/// the same way, and learns that its client went away.
#[test]
fn an_async_producer_awaits_the_drain_task() {
    let probe = Arc::new(Probe::default());
    let p = probe.clone();
    let server = Server::new(Tlv::default(), move |task| {
        let pusher = task.pusher();
        *p.pusher.lock().unwrap() = Some(pusher.clone());
        let done = create_counter_task(1, |_| {});
        let done_handle = done.handle();
        series_of(task).push_back(done);
        let p = p.clone();
        wf_core::handle().spawn(async move {
            for k in 0..PIECES {
                p.waiting.store(true, Ordering::SeqCst);
                let t = pusher.drain_task(MARK).await;
                p.waiting.store(false, Ordering::SeqCst);
                if t.state() != State::Success {
                    p.failed(t.state(), t.error_code());
                    break;
                }
                if !pusher.push(piece(k)) {
                    break;
                }
                p.pushed(&pusher, PIECE);
            }
            done_handle.count();
        });
    });
    let s = stall(&probe, &server);
    let max = probe.max_queued.load(Ordering::SeqCst);
    assert!(max <= MARK + PIECE, "{max} bytes queued at most");
    drop(s);
    assert!(wait_until(WAIT, || probe.drain_failed.lock().unwrap().is_some()));
    assert_eq!(*probe.drain_failed.lock().unwrap(), Some((State::SysError, libc::ECONNRESET)));
    server.stop();
}
