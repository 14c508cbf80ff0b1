//! Client timeouts and their reasons: connecting (`Connect`), waiting for
//! the first byte of the reply (`Transmit`, watch timeout), receiving the
//! whole reply (`Transmit`, receive timeout), sending the whole request
//! (`Transmit`, send timeout) and the endpoint's per-read response
//! timeout (`Transmit`). Every one is `SYS_ERROR`/`ETIMEDOUT`.
#![cfg(feature = "net")]

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::net::{Outcome, RawServer, drain, read_tlv, tlv_task, tlv_url};
use support::{WAIT, recv};
use wf_core::net::ClientTask;
use wf_core::net::tlv::Tlv;
use wf_core::{EndpointParams, State, TimeoutReason};

/// Starts `t` and returns its outcome and how long it took.
fn run(t: ClientTask<Tlv>, rx: &std::sync::mpsc::Receiver<Outcome>) -> (Outcome, Duration) {
    let start = Instant::now();
    t.start();
    let o = recv(rx);
    let elapsed = o.at - start;
    (o, elapsed)
}

fn assert_timeout(o: &Outcome, reason: TimeoutReason) {
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ETIMEDOUT), "{}", o.error);
    assert_eq!(o.error.timeout_reason(), reason);
    assert!(o.error.is_timeout());
    assert_eq!(o.error.to_string(), "Connection timed out");
}

/// A listener that never accepts, whose accept queue is full: the kernel
/// drops further SYNs, so connecting hangs. (Linux keeps `backlog + 1`
/// connections queued; with a backlog of 0 the second connect already
/// hangs. The fillers are returned to keep the queue full.)
fn unresponsive_listener() -> (std::net::TcpListener, SocketAddr, Vec<TcpStream>) {
    let listener = {
        let _rt = wf_core::handle().enter();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        socket.listen(0).unwrap().into_std().unwrap()
    };
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return (listener, addr, fillers),
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    panic!("the accept queue never filled: connects to a full queue do not hang here");
}

#[test]
fn connect_timeout() {
    let (_listener, addr, _fillers) = unresponsive_listener();
    let (mut t, rx) = tlv_task(&tlv_url(addr), 0);
    let mut p = EndpointParams::default();
    p.connect_timeout = Some(Duration::from_millis(200));
    t.options_mut().set_endpoint_params(p);
    let (o, elapsed) = run(t, &rx);
    assert_timeout(&o, TimeoutReason::Connect);
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < WAIT, "{elapsed:?}");
}

/// A server that reads requests and never answers.
fn silent_server() -> RawServer {
    RawServer::spawn(drain)
}

#[test]
fn watch_timeout() {
    let server = silent_server();
    let (mut t, rx) = tlv_task(&server.url(), 0);
    t.set_watch_timeout(Duration::from_millis(200));
    t.req_mut().set_value("anyone?");
    let (o, elapsed) = run(t, &rx);
    assert_timeout(&o, TimeoutReason::Transmit);
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < WAIT, "{elapsed:?}");
    assert_eq!(server.accepts(), 1);
}

#[test]
fn response_timeout_of_the_endpoint() {
    let server = silent_server();
    let (mut t, rx) = tlv_task(&server.url(), 0);
    let mut p = EndpointParams::default();
    p.response_timeout = Some(Duration::from_millis(200));
    t.options_mut().set_endpoint_params(p);
    let (o, elapsed) = run(t, &rx);
    assert_timeout(&o, TimeoutReason::Transmit);
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < WAIT, "{elapsed:?}");
}

#[test]
fn receive_timeout() {
    // Sends the first 4 bytes of a reply, then stalls.
    let server = RawServer::spawn(|mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        if let Ok(Some(_)) = read_tlv(&mut s) {
            let _ = s.write_all(&[0, 0, 0, 1]);
            drain(s);
        }
    });
    let (mut t, rx) = tlv_task(&server.url(), 0);
    t.set_receive_timeout(Duration::from_millis(300));
    t.req_mut().set_value("slowly");
    let (o, elapsed) = run(t, &rx);
    assert_timeout(&o, TimeoutReason::Transmit);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < WAIT, "{elapsed:?}");
}

/// The watch timeout only covers the first byte: a reply whose first byte
/// comes in time but whose rest takes longer than the watch timeout is
/// received (the endpoint's response timeout still limits each read).
#[test]
fn watch_timeout_ends_with_the_first_byte() {
    let server = RawServer::spawn(|mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        if let Ok(Some(req)) = read_tlv(&mut s) {
            let wire = support::net::encode(req.tlv_type(), req.value());
            let _ = s.write_all(&wire[..4]);
            std::thread::sleep(Duration::from_millis(400));
            let _ = s.write_all(&wire[4..]);
            drain(s);
        }
    });
    let (mut t, rx) = tlv_task(&server.url(), 0);
    t.set_watch_timeout(Duration::from_millis(200));
    t.req_mut().set_value("split reply");
    let (o, elapsed) = run(t, &rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"split reply");
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
}

/// Workflow (`Communicator::append_message`): with a watch timeout set,
/// the receive timeout starts with the first byte of the reply, not when
/// the request was sent. A reply that comes complete after 500 ms is in
/// time for a 2 s watch timeout, and the 300 ms receive timeout has not
/// even started.
#[test]
fn watch_timeout_postpones_the_receive_timeout() {
    let server = RawServer::spawn(|mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        if let Ok(Some(req)) = read_tlv(&mut s) {
            std::thread::sleep(Duration::from_millis(500));
            let _ = s.write_all(&support::net::encode(req.tlv_type(), req.value()));
            drain(s);
        }
    });
    let (mut t, rx) = tlv_task(&server.url(), 0);
    t.set_watch_timeout(Duration::from_secs(2));
    t.set_receive_timeout(Duration::from_millis(300));
    t.req_mut().set_value("late but whole");
    let (o, elapsed) = run(t, &rx);
    assert_eq!(o.state, State::Success, "{:?} {} after {elapsed:?}", o.error, o.error);
    assert_eq!(o.resp.value().as_ref(), b"late but whole");
}

#[test]
fn send_timeout() {
    // Accepts and never reads: a large request fills the socket buffers.
    let server = RawServer::spawn(|s| {
        std::thread::sleep(WAIT);
        drop(s);
    });
    let (mut t, rx) = tlv_task(&server.url(), 0);
    t.set_send_timeout(Duration::from_millis(300));
    t.req_mut().set_value(vec![7u8; 64 << 20]);
    let (o, elapsed) = run(t, &rx);
    assert_timeout(&o, TimeoutReason::Transmit);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < WAIT, "{elapsed:?}");
}

/// Without any timeout set, a reply is waited for as long as the default
/// response timeout allows: a slow (500 ms) but steady server is fine.
#[test]
fn no_timeout_for_a_slow_server() {
    let server = RawServer::spawn(|mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut header = [0u8; 8];
        if s.read_exact(&mut header).is_ok() {
            let len = u32::from_be_bytes(header[4..].try_into().unwrap()) as usize;
            let mut value = vec![0u8; len];
            let _ = s.read_exact(&mut value);
            std::thread::sleep(Duration::from_millis(500));
            let _ = s.write_all(&header);
            let _ = s.write_all(&value);
            drain(s);
        }
    });
    let (mut t, rx) = tlv_task(&server.url(), 0);
    t.req_mut().set_value("patience");
    let (o, elapsed) = run(t, &rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"patience");
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
}
