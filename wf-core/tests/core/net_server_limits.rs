//! Server limits: `request_size_limit` (an oversized TLV request closes the
//! connection without a reply, TLV having no error reply),
//! `receive_timeout` (a request trickling in too slowly),
//! `peer_response_timeout` (a request that stops coming) and
//! `keep_alive_timeout` (an idle connection).
#![cfg(feature = "net")]

use crate::support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use support::net::{connect, encode, expect_closed, round_trip, start_local};
use support::{WAIT, recv};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, ServerParams};

/// An echo server with `params` that counts processed requests.
fn server(params: ServerParams) -> (Server<Tlv>, std::net::SocketAddr, Arc<AtomicUsize>) {
    let processed = Arc::new(AtomicUsize::new(0));
    let seen = processed.clone();
    let server = Server::with_params(Tlv::default(), params, move |task| {
        seen.fetch_add(1, Ordering::SeqCst);
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    let addr = start_local(&server);
    (server, addr, processed)
}

#[test]
fn request_size_limit() {
    let mut params = ServerParams::default();
    params.request_size_limit = Some(16);
    let (server, addr, processed) = server(params);

    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, &[b'x'; 10]), TlvMessage::new(1, vec![b'x'; 10]));
    assert_eq!(round_trip(&mut s, 2, &[b'y'; 16]), TlvMessage::new(2, vec![b'y'; 16]));
    s.write_all(&encode(3, &[b'z'; 100])).unwrap();
    expect_closed(&mut s);
    assert_eq!(processed.load(Ordering::SeqCst), 2);

    // The limit is per request, not per connection.
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 4, &[b'w'; 10]), TlvMessage::new(4, vec![b'w'; 10]));
    assert_eq!(processed.load(Ordering::SeqCst), 3);
    drop(s);
    server.stop();
}

/// The header alone tells the request is too big: the server does not
/// wait for the value.
#[test]
fn oversized_header_closes_at_once() {
    let mut params = ServerParams::default();
    params.request_size_limit = Some(16);
    let (server, addr, processed) = server(params);
    let mut s = connect(addr);
    s.write_all(&encode(1, &[0; 1000])[..8]).unwrap();
    expect_closed(&mut s);
    assert_eq!(processed.load(Ordering::SeqCst), 0);
    server.stop();
}

/// Writes `wire` one byte every `step` on a thread; reports when the
/// server closed the connection (relative to the first byte) and how many
/// bytes had been sent by then.
fn trickle(addr: std::net::SocketAddr, wire: Vec<u8>, step: Duration) -> (Duration, usize) {
    let mut reader = connect(addr);
    let mut writer = reader.try_clone().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let (start_tx, start_rx) = mpsc::channel();
    let writer_thread = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            start_tx.send(Instant::now()).unwrap();
            for b in wire {
                if writer.write_all(&[b]).is_err() {
                    return;
                }
                sent.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(step);
            }
        })
    };
    let start = recv(&start_rx);
    expect_closed(&mut reader);
    let elapsed = start.elapsed();
    let sent_then = sent.load(Ordering::SeqCst);
    drop(reader);
    writer_thread.join().unwrap();
    (elapsed, sent_then)
}

#[test]
fn receive_timeout_against_a_slow_sender() {
    let mut params = ServerParams::default();
    params.receive_timeout = Some(Duration::from_millis(300));
    let (server, addr, processed) = server(params);
    let wire = encode(1, b"one byte at a time, far too slowly");
    let len = wire.len();
    let (closed_after, sent) = trickle(addr, wire, Duration::from_millis(100));
    assert!(closed_after >= Duration::from_millis(300), "closed after {closed_after:?}");
    assert!(sent < len, "the whole request ({len} bytes) was sent before the server closed");
    assert_eq!(processed.load(Ordering::SeqCst), 0);
    server.stop();
}

/// Without a receive timeout, the same slow sender gets its answer (each
/// byte comes well within the peer response timeout).
#[test]
fn slow_sender_without_receive_timeout_is_served() {
    let mut params = ServerParams::default();
    params.peer_response_timeout = Some(Duration::from_millis(500));
    let (server, addr, processed) = server(params);
    let mut s = connect(addr);
    for b in encode(1, b"slow") {
        s.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(support::net::read_tlv(&mut s).unwrap(), Some(TlvMessage::new(1, "slow")));
    assert_eq!(processed.load(Ordering::SeqCst), 1);
    drop(s);
    server.stop();
}

#[test]
fn peer_response_timeout_against_a_stalled_request() {
    let mut params = ServerParams::default();
    params.peer_response_timeout = Some(Duration::from_millis(200));
    let (server, addr, processed) = server(params);
    let mut s = connect(addr);
    let start = Instant::now();
    s.write_all(&encode(1, b"never finished")[..4]).unwrap();
    expect_closed(&mut s);
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < WAIT, "{elapsed:?}");
    assert_eq!(processed.load(Ordering::SeqCst), 0);
    server.stop();
}

#[test]
fn keep_alive_timeout_closes_an_idle_connection() {
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(Duration::from_millis(200));
    let (server, addr, _) = server(params);
    let mut s = connect(addr);
    let sent = Instant::now();
    assert_eq!(round_trip(&mut s, 1, b"once"), TlvMessage::new(1, "once"));
    expect_closed(&mut s);
    let elapsed = sent.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < WAIT, "{elapsed:?}");
    server.stop();
}

/// Workflow (`Communicator::handle_reply_result`): the keep-alive time
/// starts when the reply has been written. A request that took 500 ms to
/// answer leaves its connection open for another 300 ms of idleness.
#[test]
fn keep_alive_counts_from_the_reply() {
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(Duration::from_millis(300));
    let server = Server::with_params(Tlv::default(), params, |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
        wf_core::series_of(task).push_back(wf_timer::create_timer_task(Duration::from_millis(500), |_| {}));
    });
    let addr = start_local(&server);
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, b"slow"), TlvMessage::new(1, "slow"));
    let replied = Instant::now();
    expect_closed(&mut s);
    let idle = replied.elapsed();
    assert!(idle >= Duration::from_millis(250), "closed {idle:?} after the reply");
    server.stop();
}

/// The same, seen by a client: a request sent right after a slow reply is
/// answered on the same connection.
#[test]
fn connection_reusable_right_after_a_slow_reply() {
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(Duration::from_millis(300));
    let server = Server::with_params(Tlv::default(), params, |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
        if task.task_seq() == 0 {
            wf_core::series_of(task).push_back(wf_timer::create_timer_task(Duration::from_millis(500), |_| {}));
        }
    });
    let addr = start_local(&server);
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, b"slow"), TlvMessage::new(1, "slow"));
    std::thread::sleep(Duration::from_millis(20));
    s.write_all(&encode(2, b"quick")).unwrap();
    match support::net::read_tlv(&mut s) {
        Ok(Some(reply)) => assert_eq!(reply, TlvMessage::new(2, "quick")),
        other => panic!("the connection was closed right after the reply: {other:?}"),
    }
    drop(s);
    server.stop();
}

/// Workflow (`Communicator::handle_listen_result`): a new connection must
/// deliver its first request within the peer response timeout; the
/// keep-alive timeout is for idleness after a reply.
#[test]
fn silent_new_connection_closed_after_peer_response_timeout() {
    let mut params = ServerParams::default();
    params.peer_response_timeout = Some(Duration::from_millis(200));
    let (server, addr, _) = server(params);
    let start = Instant::now();
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    expect_closed(&mut s);
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    server.stop();
}

/// Requests pipelined before an oversized one are still answered; then
/// the connection closes.
#[test]
fn oversized_request_after_valid_ones() {
    let mut params = ServerParams::default();
    params.request_size_limit = Some(16);
    let (server, addr, processed) = server(params);
    let mut s = connect(addr);
    let mut wire = encode(1, b"fine");
    wire.extend(encode(2, b"also fine"));
    wire.extend(encode(3, &[0; 100]));
    s.write_all(&wire).unwrap();
    assert_eq!(support::net::read_tlv(&mut s).unwrap(), Some(TlvMessage::new(1, "fine")));
    assert_eq!(support::net::read_tlv(&mut s).unwrap(), Some(TlvMessage::new(2, "also fine")));
    expect_closed(&mut s);
    assert_eq!(processed.load(Ordering::SeqCst), 2);
    server.stop();
}

/// A client that never reads its (large) reply: the write stalls, and the
/// peer response timeout ends it; the server task's callback sees the
/// timeout.
#[test]
fn peer_response_timeout_against_a_client_that_never_reads() {
    let mut params = ServerParams::default();
    params.peer_response_timeout = Some(Duration::from_millis(200));
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = Server::with_params(Tlv::default(), params, move |task| {
        task.resp_mut().set_value(vec![1u8; 64 << 20]);
        let tx = tx.lock().unwrap().clone();
        task.set_callback(move |t| {
            tx.send(t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0))).unwrap()
        });
    });
    let addr = start_local(&server);
    let mut s = connect(addr);
    s.write_all(&encode(1, b"send me a lot")).unwrap();
    let err = recv(&rx);
    assert_eq!((err.state(), err.code()), (wf_core::State::SysError, libc::ETIMEDOUT), "{err}");
    assert_eq!(err.timeout_reason(), wf_core::TimeoutReason::Transmit);
    drop(s);
    server.stop();
}
