//! Graceful stop of `HttpServer`: requests in flight are answered, idle
//! keep-alive connections are closed, new connections are refused, and
//! the server can start again.

use crate::support;

use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::{Wire, sleep_task, start};
use wf_core::series_of;
use wf_http::HttpServer;

#[test]
fn stop_waits_for_requests_in_flight() {
    let (started_tx, started) = mpsc::channel();
    let server = HttpServer::new(move |task| {
        let _ = started_tx.send(());
        task.resp_mut().append_body("finished");
        series_of(task).push_back(sleep_task(Duration::from_millis(300), |_| {}));
    });
    let addr = start(&server);
    let client = thread::spawn(move || {
        let mut w = Wire::connect(addr);
        w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let reply = w.read_response();
        // After the reply of a stopping server, the connection closes.
        w.expect_closed();
        reply
    });
    started.recv_timeout(support::WAIT).unwrap();
    let t0 = Instant::now();
    server.stop();
    let stopped_after = t0.elapsed();
    assert!(stopped_after >= Duration::from_millis(200), "stop returned before the reply ({stopped_after:?})");
    let reply = client.join().unwrap();
    assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(reply.ends_with(b"finished"));
    assert!(TcpStream::connect(addr).is_err(), "a stopped server accepts nothing");
}

#[test]
fn stop_closes_idle_keep_alive_connections_at_once() {
    let server = HttpServer::new(|task| task.resp_mut().append_body("x"));
    let addr = start(&server);
    let mut idle = Wire::connect(addr);
    idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    idle.read_response();
    assert_eq!(server.conn_count(), 1);
    let t0 = Instant::now();
    server.stop();
    assert!(t0.elapsed() < Duration::from_secs(2), "stop waited {:?} for an idle connection", t0.elapsed());
    idle.expect_closed();
    assert_eq!(server.conn_count(), 0);
}

#[test]
fn stop_then_start_again() {
    let server = HttpServer::new(|task| task.resp_mut().append_body("again"));
    let first = start(&server);
    server.stop();
    assert!(TcpStream::connect(first).is_err());
    let second = start(&server);
    let mut w = Wire::connect(second);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(w.read_response().ends_with(b"again"));
    server.stop();
}

#[test]
fn shutdown_does_not_wait() {
    let (started_tx, started) = mpsc::channel();
    let server = HttpServer::new(move |task| {
        let _ = started_tx.send(());
        series_of(task).push_back(sleep_task(Duration::from_millis(300), |_| {}));
    });
    let addr = start(&server);
    let client = thread::spawn(move || {
        let mut w = Wire::connect(addr);
        w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        w.read_response()
    });
    started.recv_timeout(support::WAIT).unwrap();
    let t0 = Instant::now();
    server.shutdown();
    assert!(t0.elapsed() < Duration::from_millis(200), "shutdown blocked");
    server.wait_finish();
    assert!(client.join().unwrap().starts_with(b"HTTP/1.1 200 OK\r\n"));
}

/// The last reply of a stopping server's keep-alive connection says
/// `Connection: close` (also over a `Connection: keep-alive` set by
/// hand), so the client does not send another request on it.
#[test]
fn a_stopping_server_says_close_on_the_last_reply() {
    let (started_tx, started) = mpsc::channel();
    let server = HttpServer::new(move |task| {
        let _ = started_tx.send(());
        task.resp_mut().append_body("last");
        if task.req().request_uri() == "/by-hand" {
            task.resp_mut().set_header("Connection", "keep-alive");
        }
        series_of(task).push_back(sleep_task(Duration::from_millis(200), |_| {}));
    });
    let addr = start(&server);
    let clients: Vec<_> = ["/", "/by-hand"]
        .into_iter()
        .map(|path| {
            let mut w = Wire::connect(addr);
            w.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
            w
        })
        .collect();
    for _ in 0..2 {
        started.recv_timeout(support::WAIT).unwrap();
    }
    server.shutdown();
    for mut w in clients {
        let reply = w.read_response();
        assert!(reply.ends_with(b"last"));
        assert_eq!(support::header_value(&reply, "connection").as_deref(), Some("close"), "{reply:?}");
        w.expect_closed();
    }
    server.wait_finish();
}

/// Before a stop, the same replies keep the connection.
#[test]
fn a_running_server_keeps_the_connection() {
    let server = HttpServer::new(|task| task.resp_mut().append_body("x"));
    let addr = start(&server);
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let reply = w.read_response();
    assert_ne!(support::header_value(&reply, "connection").as_deref(), Some("close"));
    w.expect_open_for(Duration::from_millis(100));
    server.stop();
}
