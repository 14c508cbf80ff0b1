//! Pipelining on `HttpServer`: requests sent back to back are answered in
//! request order however long each takes, and replies that are ready
//! together arrive together.

use crate::support;

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Wire, sleep_task, start};
use wf_core::series_of;
use wf_http::HttpServer;

/// Replies with the request's path after sleeping `/ms` milliseconds;
/// records the order in which processing finished.
fn delay_server() -> (HttpServer, std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let log = finished.clone();
    let server = HttpServer::new(move |task| {
        let path = task.req().request_uri().to_string();
        let ms: u64 = path.trim_start_matches('/').parse().unwrap_or(0);
        let log = log.clone();
        task.resp_mut().append_body(path.clone());
        series_of(task).push_back(sleep_task(Duration::from_millis(ms), move |_| log.lock().unwrap().push(path)));
    });
    let addr = start(&server);
    (server, addr, finished)
}

#[test]
fn replies_in_request_order() {
    let (server, addr, finished) = delay_server();
    let mut w = Wire::connect(addr);
    w.send("GET /300 HTTP/1.1\r\nHost: x\r\n\r\nGET /0 HTTP/1.1\r\nHost: x\r\n\r\nPOST /150 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nxGET /10 HTTP/1.1\r\nHost: x\r\n\r\n");
    for expected in ["/300", "/0", "/150", "/10"] {
        let reply = w.read_response();
        assert!(reply.ends_with(expected.as_bytes()), "expected {expected}, got {:?}", String::from_utf8_lossy(&reply));
    }
    assert_eq!(*finished.lock().unwrap(), ["/0", "/10", "/150", "/300"], "processing ran concurrently");
    server.stop();
}

#[test]
fn replies_ready_together_arrive_together() {
    let (server, addr, _) = delay_server();
    let mut w = Wire::connect(addr);
    let n = 5;
    let mut requests = String::from("GET /200 HTTP/1.1\r\nHost: x\r\n\r\n");
    for _ in 1..n {
        requests.push_str("GET /0 HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    w.send(&requests);
    // All replies wait behind the first; once it is ready all go out.
    std::thread::sleep(Duration::from_millis(600));
    let mut all = vec![0u8; 64 * 1024];
    let got = w.stream.read(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all[..got]);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), n, "one read got: {text:?}");
    assert!(text.ends_with("\r\n\r\n/0"));
    // And in order.
    w.buf.extend_from_slice(&all[..got]);
    assert!(w.read_response().ends_with(b"/200"));
    for _ in 1..n {
        assert!(w.read_response().ends_with(b"/0"));
    }
    server.stop();
}

#[test]
fn many_pipelined_requests() {
    // More than the server reads ahead at once (64).
    let server = HttpServer::new(|task| {
        let uri = task.req().request_uri().to_string();
        task.resp_mut().append_body(uri);
    });
    let addr = start(&server);
    let mut w = Wire::connect(addr);
    let all: String = (0..200).map(|i| format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n")).collect();
    w.send(&all);
    for i in 0..200 {
        let reply = w.read_response();
        assert!(
            reply.ends_with(format!("\r\n\r\n/{i}").as_bytes()),
            "reply {i}: {:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    server.stop();
}
