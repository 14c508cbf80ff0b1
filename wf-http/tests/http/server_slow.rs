//! Slow and stalled clients against an `HttpServer` (issue 12): a head
//! dripped past the header timeout and a body below the minimum receive
//! rate get 408 and the connection closes; an upload arriving steadily is
//! neither idle nor cut; slow heads cannot lock legitimate clients out.

use crate::support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread::sleep;
use std::time::{Duration, Instant};

use support::{Wire, counting_server, mask_date};
use testkit::WAIT;
use wf_core::net::ServerParams;

const TIMED_OUT: &str =
    "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n";

/// Sends `bytes` one at a time, `gap` apart, until the peer stops taking
/// them; returns how many were sent.
fn drip(w: &mut Wire, bytes: &[u8], gap: Duration) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        if w.try_send(&[*b]).is_err() {
            return i;
        }
        sleep(gap);
    }
    bytes.len()
}

#[test]
fn a_dripped_head_gets_408_at_the_header_timeout() {
    let mut params = ServerParams::default();
    params.header_timeout = Some(Duration::from_millis(400));
    let (server, addr, calls) = counting_server(params);
    let mut w = Wire::connect(addr);
    // Each byte well within the per-read timeout (10 s), the head never
    // complete: the old server kept this connection forever.
    let head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_string() + &"a".repeat(200);
    let started = Instant::now();
    let mut reader = w.clone_reader();
    let dripper = std::thread::spawn(move || drip(&mut w, head.as_bytes(), Duration::from_millis(20)));
    assert_eq!(mask_date(&reader.read_response()), TIMED_OUT);
    reader.expect_closed();
    assert!(started.elapsed() < WAIT);
    let sent = dripper.join().unwrap();
    assert!(sent < 200, "the server kept reading a head past its timeout ({sent} bytes)");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop();
}

#[test]
fn a_dripped_body_gets_408_below_the_minimum_rate() {
    let mut params = ServerParams::default();
    params.min_receive_rate = Some(1000);
    params.min_receive_rate_grace = Duration::from_millis(300);
    let (server, addr, calls) = counting_server(params);
    let mut w = Wire::connect(addr);
    w.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    let mut reader = w.clone_reader();
    // Five bytes a second against a floor of 1000.
    let dripper = std::thread::spawn(move || drip(&mut w, &[b'x'; 1000], Duration::from_millis(200)));
    assert_eq!(mask_date(&reader.read_response()), TIMED_OUT);
    reader.expect_closed();
    assert!(dripper.join().unwrap() < 1000);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop();
}

/// An upload in progress sits in the codec, not the read buffer: it used
/// to count as idle and was closed at the keep-alive timeout with no reply.
#[test]
fn a_steady_upload_outlasting_keep_alive_is_served() {
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(Duration::from_millis(200));
    params.peer_response_timeout = Some(Duration::from_millis(500));
    params.min_receive_rate = Some(256);
    params.min_receive_rate_grace = Duration::from_millis(500);
    let (server, addr, calls) = counting_server(params);
    let mut w = Wire::connect(addr);
    w.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n");
    // 2 KB/s for a second: five keep-alive timeouts long.
    for _ in 0..20 {
        w.send([b'y'; 100]);
        sleep(Duration::from_millis(50));
    }
    let resp = w.read_response();
    assert!(resp.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&resp));
    assert!(resp.ends_with(b"\r\n\r\n2000"), "{}", String::from_utf8_lossy(&resp));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.stop();
}

/// The lock-out, scaled down: slow heads fill `max_connections`;
/// a legitimate client still gets in, by evicting the oldest of them.
#[test]
fn slow_heads_do_not_lock_out_legitimate_clients() {
    let mut params = ServerParams::default();
    params.max_connections = 6;
    let (server, addr, calls) = counting_server(params);
    let mut slow = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHo");
        slow.push(s);
        sleep(Duration::from_millis(20));
    }
    for _ in 0..3 {
        let mut w = Wire::connect(addr);
        w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let resp = w.read_response();
        assert!(resp.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&resp));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    drop(slow);
    server.stop();
}

/// A graceful stop does not wait on a client dripping its head beyond the
/// header timeout.
#[test]
fn stop_is_bounded_by_a_head_dripper() {
    let mut params = ServerParams::default();
    params.header_timeout = Some(Duration::from_millis(300));
    let (server, addr, _calls) = counting_server(params);
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHo");
    let dripper = std::thread::spawn(move || drip(&mut w, &[b'a'; 400], Duration::from_millis(25)));
    sleep(Duration::from_millis(50));
    let started = Instant::now();
    server.stop();
    assert!(started.elapsed() < WAIT, "stop waited on the dripper");
    dripper.join().unwrap();
}
