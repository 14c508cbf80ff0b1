//! Malformed or oversized requests get 400, 413, 417 or 431 from
//! `HttpServer`, byte for byte, and the connection closes; `process` never
//! sees them.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Wire, mask_date, start};
use wf_core::net::ServerParams;
use wf_http::HttpServer;

/// A server with a 10-byte request limit that counts `process` calls.
fn limited() -> (HttpServer, std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut params = ServerParams::default();
    params.request_size_limit = Some(10);
    let counted = calls.clone();
    let server = HttpServer::with_params(params, move |task| {
        counted.fetch_add(1, Ordering::SeqCst);
        let body = task.req().body();
        task.resp_mut().append_body(body);
    });
    let addr = start(&server);
    (server, addr, calls)
}

fn error_reply(status: &str) -> String {
    format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n")
}

fn expect_error(addr: std::net::SocketAddr, request: &[u8], status: &str) {
    let mut w = Wire::connect(addr);
    w.send(request);
    assert_eq!(mask_date(&w.read_response()), error_reply(status), "for {:?}", String::from_utf8_lossy(request));
    w.expect_closed();
}

#[test]
fn malformed_requests_get_400_and_close() {
    let (server, addr, calls) = limited();
    for raw in [
        &b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
    ] {
        expect_error(addr, raw, "400 Bad Request");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "process never saw a malformed request");
    server.stop();
}

#[test]
fn oversized_body_gets_413_and_close() {
    let (server, addr, calls) = limited();
    expect_error(addr, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", "413 Payload Too Large");
    expect_error(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
        "413 Payload Too Large",
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // At the limit it is served.
    let mut w = Wire::connect(addr);
    w.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
    assert!(w.read_response().ends_with(b"\r\n\r\n0123456789"));
    server.stop();
}

#[test]
fn oversized_body_after_expect_gets_417_and_close() {
    let (server, addr, calls) = limited();
    expect_error(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
        "417 Expectation Failed",
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop();
}

#[test]
fn too_many_headers_get_431_and_close() {
    let (server, addr, _) = limited();
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    expect_error(
        addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
        "431 Request Header Fields Too Large",
    );
    server.stop();
}

#[test]
fn oversized_head_gets_431_and_close() {
    let (server, addr, _) = limited();
    let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(70 * 1024));
    expect_error(addr, big.as_bytes(), "431 Request Header Fields Too Large");
    server.stop();
}

#[test]
fn replies_before_the_bad_request_still_go_out_in_order() {
    let (server, addr, calls) = limited();
    let mut w = Wire::connect(addr);
    w.send("POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\naPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nbGET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n");
    assert!(w.read_response().ends_with(b"\r\n\r\na"));
    assert!(w.read_response().ends_with(b"\r\n\r\nb"));
    assert_eq!(mask_date(&w.read_response()), error_reply("400 Bad Request"));
    w.expect_closed();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    server.stop();
}
