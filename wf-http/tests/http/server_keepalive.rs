//! `HttpServer` keep-alive: the request's `Keep-Alive: max=N` and
//! `timeout=N`, the server's `keep_alive_timeout`, and what the reply's
//! `Connection` header announces.

use crate::support;

use std::io::Read;
use std::time::{Duration, Instant};

use support::{Wire, header_value, sleep_task, start};
use wf_core::net::ServerParams;
use wf_core::series_of;
use wf_http::HttpServer;

fn seq_server(params: ServerParams) -> (HttpServer, std::net::SocketAddr) {
    let server = HttpServer::with_params(params, |task| {
        let seq = task.task_seq();
        task.resp_mut().append_body(seq.to_string());
        if task.req().request_uri() == "/slow" {
            series_of(task).push_back(sleep_task(Duration::from_millis(500), |_| {}));
        }
    });
    let addr = start(&server);
    (server, addr)
}

#[test]
fn max_closes_after_that_many_replies() {
    let (server, addr) = seq_server(ServerParams::default());
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\nKeep-Alive: max=2\r\n\r\n");
    let first = w.read_response();
    assert!(first.ends_with(b"\r\n\r\n0"));
    w.send("GET / HTTP/1.1\r\nHost: x\r\nKeep-Alive: max=2\r\n\r\n");
    let second = w.read_response();
    assert!(second.ends_with(b"\r\n\r\n1"));
    w.expect_closed();
    server.stop();
}

#[test]
fn max_reply_announces_the_close() {
    // The reply after which the server closes must say so: a client that
    // reads `Connection: Keep-Alive` would reuse a dead connection.
    let (server, addr) = seq_server(ServerParams::default());
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\nKeep-Alive: max=1\r\n\r\n");
    let only = w.read_response();
    assert_eq!(header_value(&only, "connection").as_deref(), Some("close"), "{}", String::from_utf8_lossy(&only));
    w.expect_closed();
    server.stop();
}

#[test]
fn request_timeout_closes_an_idle_connection() {
    let (server, addr) = seq_server(ServerParams::default());
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\nKeep-Alive: timeout=1\r\n\r\n");
    w.read_response();
    w.expect_open_for(Duration::from_millis(600));
    let waited = w.time_until_closed();
    assert!(waited < Duration::from_millis(1500), "closed {waited:?} after the check, timeout 1 s");
    server.stop();
}

#[test]
fn server_keep_alive_timeout_closes_an_idle_connection() {
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(Duration::from_millis(300));
    let (server, addr) = seq_server(params);
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    w.read_response();
    w.expect_open_for(Duration::from_millis(150));
    let waited = w.time_until_closed();
    assert!(waited < Duration::from_millis(1000), "closed {waited:?} after the check, timeout 300 ms");
    server.stop();
}

#[test]
fn keep_alive_timeout_counts_from_the_reply() {
    // The request takes longer than the keep-alive timeout to process; the
    // idle time starts when the reply is out, so a prompt next request is
    // served.
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(Duration::from_millis(300));
    let (server, addr) = seq_server(params);
    let mut w = Wire::connect(addr);
    let t0 = Instant::now();
    w.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(w.read_response().ends_with(b"\r\n\r\n0"));
    assert!(t0.elapsed() >= Duration::from_millis(450), "the reply waited for the pushed task: {:?}", t0.elapsed());
    std::thread::sleep(Duration::from_millis(50));
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut next = [0u8; 12];
    let n = w.stream.read(&mut next).unwrap_or(0);
    assert_eq!(&next[..n], b"HTTP/1.1 200", "the connection was closed 50 ms after the reply");
    server.stop();
}

#[test]
fn task_seq_counts_requests_per_connection() {
    let (server, addr) = seq_server(ServerParams::default());
    let mut a = Wire::connect(addr);
    let mut b = Wire::connect(addr);
    for expected in ["0", "1", "2"] {
        a.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(a.read_response().ends_with(expected.as_bytes()));
    }
    b.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(b.read_response().ends_with(b"\r\n\r\n0"), "a new connection starts at 0");
    server.stop();
}
