//! `Expect: 100-continue` on `HttpServer`: `100 Continue` when the body is
//! still to come, nothing interim when it came with the head, 417 when the
//! announced body is over the limit.

use crate::support;

use std::time::Duration;

use support::{Wire, mask_date, sleep_task, start};
use wf_core::net::ServerParams;
use wf_core::series_of;
use wf_http::HttpServer;

/// Echoes the body; `/slow` replies after 200 ms.
fn echo(limit: Option<usize>) -> (HttpServer, std::net::SocketAddr) {
    let mut params = ServerParams::default();
    params.request_size_limit = limit;
    let server = HttpServer::with_params(params, |task| {
        let body = task.req().body();
        task.resp_mut().append_body(body);
        if task.req().request_uri() == "/slow" {
            series_of(task).push_back(sleep_task(Duration::from_millis(200), |_| {}));
        }
    });
    let addr = start(&server);
    (server, addr)
}

#[test]
fn continue_then_the_reply() {
    let (server, addr) = echo(Some(100));
    let mut w = Wire::connect(addr);
    w.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(w.read_head(), b"HTTP/1.1 100 Continue\r\n\r\n");
    w.send("hello");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\nhello"
    );
    // The next request on the connection owes nothing.
    w.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    assert!(w.read_response().starts_with(b"HTTP/1.1 200 OK\r\n"));
    server.stop();
}

#[test]
fn continue_without_a_limit() {
    let (server, addr) = echo(None);
    let mut w = Wire::connect(addr);
    w.send("PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(w.read_head(), b"HTTP/1.1 100 Continue\r\n\r\n");
    w.send("3\r\nabc\r\n0\r\n\r\n");
    assert!(w.read_response().ends_with(b"\r\n\r\nabc"));
    server.stop();
}

#[test]
fn no_continue_when_the_body_came_along() {
    let (server, addr) = echo(Some(100));
    let mut w = Wire::connect(addr);
    w.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello");
    let reply = w.read_response();
    assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"), "{:?}", String::from_utf8_lossy(&reply));
    assert!(reply.ends_with(b"hello"));
    w.expect_open_for(Duration::from_millis(100));
    server.stop();
}

#[test]
fn no_continue_for_a_bodiless_request() {
    let (server, addr) = echo(Some(100));
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
    assert!(w.read_response().starts_with(b"HTTP/1.1 200 OK\r\n"));
    server.stop();
}

#[test]
fn too_large_gets_417_instead_of_continue() {
    let (server, addr) = echo(Some(4));
    let mut w = Wire::connect(addr);
    w.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n"
    );
    w.expect_closed();
    server.stop();
}

#[test]
fn continue_waits_for_earlier_replies() {
    // Pipelined behind a slow request, the second request's interim
    // `100 Continue` must not overtake the first request's reply: a client
    // reads responses in request order.
    let (server, addr) = echo(Some(100));
    let mut w = Wire::connect(addr);
    w.send("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nslowPOST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let first = w.read_response();
    assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"), "first came {:?}", String::from_utf8_lossy(&first));
    assert!(first.ends_with(b"\r\n\r\nslow"));
    assert_eq!(w.read_head(), b"HTTP/1.1 100 Continue\r\n\r\n");
    w.send("fast");
    assert!(w.read_response().ends_with(b"\r\n\r\nfast"));
    server.stop();
}
