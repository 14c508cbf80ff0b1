//! Client fault injection against raw servers (protocol-agnostic, TLV): a
//! server that closes a reused connection, replies in part, resets mid
//! reply, or cuts a pipelined batch. Each test checks one of the retry
//! rules of `ClientProtocol` ("Retry rules"): every task's callback runs
//! exactly once, with a clear state, within `WAIT`, and what the server
//! may have run is never sent again unless the task asked (`retry_max`)
//! or the request is idempotent.
#![cfg(feature = "net")]

use crate::support;

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use support::WAIT;
use support::net::{RawServer, drain, encode, read_tlv};
use wf_core::net::tlv::{Tlv, TlvCodec, TlvMessage};
use wf_core::net::{ClientOptions, ClientProtocol, Mode, Protocol, Uri, create_client_task};
use wf_core::{Error, State};

/// TLV with a different mind about retries: `idempotent` says whether a
/// request may be sent twice unasked, `pipelined` shares connections.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Faulty {
    idempotent: bool,
    pipelined: bool,
}

impl Protocol for Faulty {
    type Request = TlvMessage;
    type Response = TlvMessage;
    fn schemes(&self) -> &'static [&'static str] {
        &["tlv"]
    }
}

impl ClientProtocol for Faulty {
    type ClientCodec = TlvCodec;
    type Handshake = ();
    fn client_codec(&self) -> TlvCodec {
        Tlv::default().client_codec()
    }
    fn handshake(&self, _uri: &Uri, _opts: &ClientOptions) -> Result<(), Error> {
        Ok(())
    }
    fn default_keep_alive(&self) -> Duration {
        Duration::from_secs(10)
    }
    fn mode(&self, _req: &TlvMessage) -> Mode {
        if self.pipelined { Mode::Pipelined } else { Mode::Pooled }
    }
    fn is_idempotent(&self, _req: &TlvMessage) -> bool {
        self.idempotent
    }
}

/// What a callback saw.
#[derive(Debug, Clone)]
struct Seen {
    state: State,
    error: Error,
    resp: TlvMessage,
}

/// Starts a task of `protocol` to `url` for each of `values`, and
/// collects their outcomes (in task order). Panics if a callback is
/// missing after `WAIT` or one runs twice.
fn run_many(protocol: &Faulty, url: &str, retry_max: u32, values: Vec<Vec<u8>>) -> Vec<Seen> {
    let n = values.len();
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for (i, v) in values.into_iter().enumerate() {
        let (tx, calls) = (tx.clone(), calls.clone());
        let mut t = create_client_task(protocol.clone(), url, retry_max, move |t| {
            calls.fetch_add(1, Ordering::SeqCst);
            let seen = Seen {
                state: t.state(),
                error: t.error().cloned().unwrap_or_else(|| Error::new(t.state(), 0)),
                resp: t.resp().clone(),
            };
            let _ = tx.send((i, seen));
        });
        *t.req_mut() = TlvMessage::new(i as u32, v);
        t.start();
    }
    let mut out: Vec<Option<Seen>> = vec![None; n];
    for _ in 0..n {
        let (i, seen) = rx.recv_timeout(WAIT).unwrap_or_else(|_| {
            panic!("callbacks missing after {WAIT:?}: {} of {n} ran", calls.load(Ordering::SeqCst))
        });
        assert!(out[i].replace(seen).is_none(), "task {i}'s callback ran twice");
    }
    // None runs late, either.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), n, "a callback ran more than once");
    out.into_iter().map(Option::unwrap).collect()
}

fn one(protocol: &Faulty, url: &str, retry_max: u32, value: &str) -> Seen {
    run_many(protocol, url, retry_max, vec![value.as_bytes().to_vec()]).pop().unwrap()
}

/// A connection failure's state: `SYS_ERROR` with a reset-like errno.
#[track_caller]
fn assert_cut(s: &Seen) {
    assert_eq!(s.state, State::SysError, "{}", s.error);
    assert!([libc::ECONNRESET, libc::EPIPE, libc::ENOTCONN].contains(&s.error.code()), "{:?}: {}", s.error, s.error);
}

/// Closes `s` with a reset (RST) rather than a clean end of stream.
fn reset(s: TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a `linger` of the size given.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(s);
}

/// Answers the first request of each connection; on the second one does
/// `second` (counted in `requests`).
fn second_request_server(requests: Arc<AtomicUsize>, second: fn(TcpStream)) -> RawServer {
    RawServer::spawn(move |mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        while let Ok(Some(req)) = read_tlv(&mut s) {
            if requests.fetch_add(1, Ordering::SeqCst) == 1 {
                return second(s);
            }
            let _ = s.write_all(&encode(req.tlv_type(), req.value()));
        }
    })
}

/// Rule 2: a reused connection closed after the request went out, with
/// no byte of reply: not re-sent (the server may have run it), even with
/// the connection known to be reused.
#[test]
fn written_request_on_a_reused_connection_is_not_resent() {
    let requests = Arc::new(AtomicUsize::new(0));
    let server = second_request_server(requests.clone(), drop);
    let p = Faulty::default();
    assert_eq!(one(&p, &server.url(), 0, "one").state, State::Success);
    let s = one(&p, &server.url(), 0, "two");
    assert_cut(&s);
    assert_eq!((server.accepts(), requests.load(Ordering::SeqCst)), (1, 2), "sent again");
}

/// Rule 2: the same for an idempotent request: sent once more, on a new
/// connection, and the task succeeds, without `retry_max`.
#[test]
fn idempotent_request_on_a_reused_connection_is_resent_once() {
    let requests = Arc::new(AtomicUsize::new(0));
    let server = second_request_server(requests.clone(), drop);
    let p = Faulty { idempotent: true, ..Faulty::default() };
    assert_eq!(one(&p, &server.url(), 0, "one").state, State::Success);
    let s = one(&p, &server.url(), 0, "two");
    assert_eq!(s.state, State::Success, "{}", s.error);
    assert_eq!(s.resp.value().as_ref(), b"two");
    assert_eq!((server.accepts(), requests.load(Ordering::SeqCst)), (2, 3));
}

/// Half a reply, then a clean close: the reply began, so the request is
/// never re-sent unasked (idempotent or not, reused connection or not).
#[test]
fn half_reply_then_close_is_never_resent() {
    let requests = Arc::new(AtomicUsize::new(0));
    let server = second_request_server(requests.clone(), |mut s| {
        let full = encode(1, b"a reply cut in the middle");
        let _ = s.write_all(&full[..full.len() / 2]);
    });
    let p = Faulty { idempotent: true, ..Faulty::default() };
    assert_eq!(one(&p, &server.url(), 0, "one").state, State::Success);
    let s = one(&p, &server.url(), 0, "two");
    assert_cut(&s);
    assert_eq!((server.accepts(), requests.load(Ordering::SeqCst)), (1, 2), "sent again");
}

/// Half a reply, then a reset: `ECONNRESET`, not re-sent.
#[test]
fn reset_mid_reply_fails_once() {
    let requests = Arc::new(AtomicUsize::new(0));
    let server = second_request_server(requests.clone(), |mut s| {
        let full = encode(1, b"a reply cut in the middle");
        let _ = s.write_all(&full[..full.len() / 2]);
        std::thread::sleep(Duration::from_millis(20));
        reset(s);
    });
    let p = Faulty { idempotent: true, ..Faulty::default() };
    assert_eq!(one(&p, &server.url(), 0, "one").state, State::Success);
    let s = one(&p, &server.url(), 0, "two");
    assert_eq!((s.state, s.error.code()), (State::SysError, libc::ECONNRESET), "{}", s.error);
    assert_eq!((server.accepts(), requests.load(Ordering::SeqCst)), (1, 2));
}

/// Rule 1: `retry_max` re-sends whatever happened, even after a part of
/// the reply came (the task asked for it).
#[test]
fn retry_max_resends_even_after_the_reply_began() {
    let server = RawServer::spawn({
        let conns = AtomicUsize::new(0);
        move |mut s| {
            s.set_read_timeout(Some(WAIT)).unwrap();
            let first = conns.fetch_add(1, Ordering::SeqCst) == 0;
            if let Ok(Some(req)) = read_tlv(&mut s) {
                let full = encode(req.tlv_type(), req.value());
                let _ = s.write_all(if first { &full[..5] } else { &full });
                if !first {
                    drain(s);
                }
            }
        }
    });
    let s = one(&Faulty::default(), &server.url(), 1, "again");
    assert_eq!(s.state, State::Success, "{}", s.error);
    assert_eq!(s.resp.value().as_ref(), b"again");
    assert_eq!(server.accepts(), 2);
}

/// Under load, a server that misbehaves at random (answers, closes
/// without a reply, replies in part, resets, or closes at accept): every
/// callback once, success or a connection error, none hanging; retries
/// (`retry_max` 2) only add attempts.
#[test]
fn misbehaving_server_under_load_every_callback_once() {
    let server = RawServer::spawn({
        let n = AtomicUsize::new(0);
        move |mut s| {
            s.set_read_timeout(Some(WAIT)).unwrap();
            let mode = n.fetch_add(1, Ordering::SeqCst) % 5;
            if mode == 4 {
                return; // close at accept
            }
            while let Ok(Some(req)) = read_tlv(&mut s) {
                let full = encode(req.tlv_type(), req.value());
                match mode {
                    0 | 1 => {
                        let _ = s.write_all(&full);
                        if mode == 1 {
                            return; // close after one reply
                        }
                    }
                    2 => {
                        let _ = s.write_all(&full[..3]);
                        return;
                    }
                    _ => return reset(s),
                }
            }
        }
    });
    for retry_max in [0, 2] {
        // Under the endpoint's 200 connections (beyond: `EAGAIN` at once).
        let values = (0..150).map(|i| format!("v{i}").into_bytes()).collect();
        let seen = run_many(&Faulty::default(), &server.url(), retry_max, values);
        let ok = seen.iter().filter(|s| s.state == State::Success).count();
        for (i, s) in seen.iter().enumerate() {
            if s.state == State::Success {
                assert_eq!(s.resp, TlvMessage::new(i as u32, format!("v{i}")));
            } else {
                assert_cut(s);
            }
        }
        assert!(ok > 0, "nothing succeeded (retry_max {retry_max})");
    }
}

/// A pipelined server that reads `cut_after` requests, answers the first
/// half of them and then closes with a reset.
fn cutting_pipelined_server(cut_after: usize, read: Arc<AtomicUsize>) -> RawServer {
    RawServer::spawn(move |mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut reqs = Vec::new();
        while reqs.len() < cut_after {
            match read_tlv(&mut s) {
                Ok(Some(r)) => {
                    read.fetch_add(1, Ordering::SeqCst);
                    reqs.push(r);
                }
                _ => return,
            }
        }
        for r in &reqs[..cut_after / 2] {
            let _ = s.write_all(&encode(r.tlv_type(), r.value()));
        }
        std::thread::sleep(Duration::from_millis(50));
        reset(s);
    })
}

/// Rule 3: a pipelined batch cut by the server: the replies that came are
/// delivered, every other request in flight fails once with the
/// connection's error, and none is sent again without `retry_max` (the
/// server read them all: it may have run them).
#[test]
fn pipelined_batch_cut_fails_each_in_flight_request_once() {
    let read = Arc::new(AtomicUsize::new(0));
    let n = 40;
    let server = cutting_pipelined_server(n, read.clone());
    let p = Faulty { pipelined: true, ..Faulty::default() };
    let values = (0..n).map(|i| format!("p{i}").into_bytes()).collect();
    let seen = run_many(&p, &server.url(), 0, values);
    let ok: Vec<usize> = (0..n).filter(|&i| seen[i].state == State::Success).collect();
    assert_eq!(ok.len(), n / 2, "{seen:?}");
    for (i, s) in seen.iter().enumerate() {
        if s.state == State::Success {
            assert_eq!(s.resp, TlvMessage::new(i as u32, format!("p{i}")));
        } else {
            assert_eq!((s.state, s.error.code()), (State::SysError, libc::ECONNRESET), "{}", s.error);
        }
    }
    assert_eq!((server.accepts(), read.load(Ordering::SeqCst)), (1, n), "a request was sent again");
}

/// Rule 3 with `retry_max`: the failed ones are sent again (the task
/// asked), and with a server that answers the second time they succeed.
#[test]
fn pipelined_batch_cut_with_retry_max_is_resent() {
    let read = Arc::new(AtomicUsize::new(0));
    let n = 40;
    let server = RawServer::spawn({
        let conns = AtomicUsize::new(0);
        let read = read.clone();
        move |mut s| {
            s.set_read_timeout(Some(WAIT)).unwrap();
            let first = conns.fetch_add(1, Ordering::SeqCst) == 0;
            let mut reqs = Vec::new();
            while let Ok(Some(r)) = read_tlv(&mut s) {
                read.fetch_add(1, Ordering::SeqCst);
                if !first {
                    let _ = s.write_all(&encode(r.tlv_type(), r.value()));
                    continue;
                }
                reqs.push(r);
                if reqs.len() == n {
                    for r in &reqs[..n / 2] {
                        let _ = s.write_all(&encode(r.tlv_type(), r.value()));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    return reset(s);
                }
            }
        }
    });
    let p = Faulty { pipelined: true, ..Faulty::default() };
    let values = (0..n).map(|i| format!("p{i}").into_bytes()).collect();
    let seen = run_many(&p, &server.url(), 1, values);
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.state, State::Success, "task {i}: {}", s.error);
        assert_eq!(s.resp, TlvMessage::new(i as u32, format!("p{i}")));
    }
    assert_eq!(read.load(Ordering::SeqCst), n + n / 2);
}

/// Rule 3, the safe re-send: requests still queued in the client (none of
/// their bytes reached the socket, which the server stopped reading) when
/// a reused pipelined connection dies are sent once more on a new one and
/// succeed; those handed to the socket fail once.
#[test]
fn pipelined_requests_never_written_are_resent_on_a_new_connection() {
    let (cut_tx, cut_rx) = mpsc::channel::<()>();
    let cut_rx = Mutex::new(Some(cut_rx));
    let server = RawServer::spawn(move |mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        if let Some(rx) = cut_rx.lock().unwrap().take() {
            // The first connection: read nothing; reset when told.
            let _ = rx.recv_timeout(WAIT);
            return reset(s);
        }
        while let Ok(Some(r)) = read_tlv(&mut s) {
            let _ = s.write_all(&encode(r.tlv_type(), r.value()));
        }
    });
    let p = Faulty { pipelined: true, ..Faulty::default() };
    let url = server.url();
    // Enough bytes to fill both sockets' buffers: the driver's write blocks.
    let big = vec![b'x'; 1 << 20];
    let (tx, rx) = mpsc::channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let start = |i: u32, v: Vec<u8>| {
        let (tx, calls) = (tx.clone(), calls.clone());
        let mut t = create_client_task(p.clone(), &url, 0, move |t| {
            calls.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send((i, t.state(), t.error().map_or(0, Error::code), t.resp().value().len()));
        });
        *t.req_mut() = TlvMessage::new(i, v);
        t.start();
    };
    let first = 24;
    for i in 0..first {
        start(i, big.clone());
    }
    // Let the connection open and the driver block on its write.
    std::thread::sleep(Duration::from_millis(300));
    let later = 10;
    for i in first..first + later {
        start(i, b"small".to_vec());
    }
    std::thread::sleep(Duration::from_millis(100));
    cut_tx.send(()).unwrap();
    let mut seen = vec![None; (first + later) as usize];
    for _ in 0..first + later {
        let (i, state, code, len) = rx.recv_timeout(WAIT).expect("a callback");
        assert!(seen[i as usize].replace((state, code, len)).is_none(), "task {i} twice");
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), (first + later) as usize);
    let mut unsent_on_its_own_connection = 0;
    for (i, s) in seen.iter().enumerate() {
        let (state, code, len) = s.unwrap();
        if i < first as usize {
            // Handed to the socket: failed. (Any that were still queued
            // behind the blocked write were sent again, whole.) The task
            // that opened the connection is not sent again (rule 3 of
            // `ClientProtocol`'s retries: only when the dead connection was
            // reused): on a loaded machine the cut may come before the
            // driver wrote any of it, and it fails with ENOTCONN.
            let cut = state == State::SysError && [libc::ECONNRESET, libc::EPIPE].contains(&code);
            if (state, code) == (State::SysError, libc::ENOTCONN) {
                unsent_on_its_own_connection += 1;
                assert_eq!(unsent_on_its_own_connection, 1, "task {i}: a second ENOTCONN");
                continue;
            }
            assert!(cut || (state, len) == (State::Success, 1 << 20), "task {i}: {state:?} errno {code}");
        } else {
            assert_eq!((state, len), (State::Success, 5), "task {i}: errno {code}");
        }
    }
    assert_eq!(server.accepts(), 2);
}
