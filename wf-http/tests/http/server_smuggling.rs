//! Request smuggling (issue 12), replayed byte for byte against an
//! `HttpServer`: each request with ambiguous framing is answered 400 and
//! the connection closes, and the request hidden after it is never served
//! (`process` counts every request it sees).

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Wire, mask_date, start};
use wf_core::net::ServerParams;
use wf_http::HttpServer;

/// What an attacker hides after the ambiguous request.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

/// A server (1 MiB request limit) counting `process` calls, answering
/// each request with its target.
fn counting() -> (HttpServer, std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut params = ServerParams::default();
    params.request_size_limit = Some(1 << 20);
    let counted = calls.clone();
    let server = HttpServer::with_params(params, move |task| {
        counted.fetch_add(1, Ordering::SeqCst);
        let target = task.req().request_uri().to_string();
        task.resp_mut().append_body(target);
    });
    let addr = start(&server);
    (server, addr, calls)
}

fn error_reply(status: &str) -> String {
    format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n")
}

/// Sends `raw` then the smuggled request in one write; expects `status`
/// and the connection closed, with nothing served.
fn refused(addr: std::net::SocketAddr, calls: &AtomicUsize, raw: &str, status: &str) {
    let before = calls.load(Ordering::SeqCst);
    let mut w = Wire::connect(addr);
    w.send(format!("{raw}{SMUGGLED}"));
    assert_eq!(mask_date(&w.read_response()), error_reply(status), "for {raw:?}");
    w.expect_closed();
    assert_eq!(calls.load(Ordering::SeqCst), before, "nothing served for {raw:?}");
}

const CHUNKED: &str = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

#[test]
fn chunk_sizes_must_be_bare_hex_digits() {
    let (server, addr, calls) = counting();
    for chunks in [
        " 5\r\nhello\r\n0\r\n\r\n",      // leading space (the finding)
        "5 \r\nhello\r\n0\r\n\r\n",      // trailing space
        "\t5\r\nhello\r\n0\r\n\r\n",     // leading tab
        "+5\r\nhello\r\n0\r\n\r\n",      // sign
        "0x5\r\nhello\r\n0\r\n\r\n",     // C prefix
        "\r\nhello\r\n0\r\n\r\n",        // empty
        "5\nhello\r\n0\r\n\r\n",         // bare LF
        "5\rhello\r\n0\r\n\r\n",         // bare CR
        "5\r\nhelloXX0\r\n\r\n",         // no CRLF after the data
        "5\r\nhello\n0\r\n\r\n",         // LF alone after the data
        "5\r\nhello\r\n0\r\n\n",         // bare LF ending the trailers
        "5;\r\nhello\r\n0\r\n\r\n",      // extension without a name
        "5;a=\r\nhello\r\n0\r\n\r\n",    // extension without a value
        "5;a=\"x\r\nhello\r\n0\r\n\r\n", // unterminated quoted value
        "5;a b\r\nhello\r\n0\r\n\r\n",   // two names
        "5;a=b c\r\nhello\r\n0\r\n\r\n", // two values
    ] {
        refused(addr, &calls, &format!("{CHUNKED}{chunks}"), "400 Bad Request");
    }
    // Extensions as RFC 9112 writes them are accepted (and dropped).
    let mut w = Wire::connect(addr);
    w.send(format!("{CHUNKED}5 ; a = b ;c=\"q \\\" d\";e\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"));
    assert!(w.read_response().ends_with(b"\r\n\r\n/"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.stop();
}

#[test]
fn a_chunk_size_past_64_bits_is_refused_at_once() {
    let (server, addr, calls) = counting();
    // No body follows: the answer must not wait for one (it used to hang).
    for size in ["10000000000000000", "ffffffffffffffff0", "00000000000000000000ffffffffffffffff1"] {
        let mut w = Wire::connect(addr);
        w.send(format!("{CHUNKED}{size}"));
        assert_eq!(mask_date(&w.read_response()), error_reply("400 Bad Request"), "{size}");
        w.expect_closed();
    }
    // Leading zeros are digits like any other, within the line's bound.
    refused(addr, &calls, &format!("{CHUNKED}{}5\r\nhello\r\n0\r\n\r\n", "0".repeat(1100)), "400 Bad Request");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop();
}

#[test]
fn chunk_extensions_and_trailers_are_bounded() {
    let (server, addr, calls) = counting();
    let long_ext = format!("5;a={}\r\nhello\r\n0\r\n\r\n", "b".repeat(2000));
    refused(addr, &calls, &format!("{CHUNKED}{long_ext}"), "400 Bad Request");
    let many: String = (0..101).map(|i| format!("X-T{i}: v\r\n")).collect();
    refused(addr, &calls, &format!("{CHUNKED}0\r\n{many}\r\n"), "431 Request Header Fields Too Large");
    let big = format!("{CHUNKED}0\r\nX-T: {}\r\n\r\n", "v".repeat(70 * 1024));
    refused(addr, &calls, &big, "431 Request Header Fields Too Large");
    server.stop();
}

#[test]
fn host_is_required_once_and_valid() {
    let (server, addr, calls) = counting();
    for raw in [
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a:port\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    ] {
        refused(addr, &calls, raw, "400 Bad Request");
    }
    // Valid forms are served; HTTP/1.0 may leave it out.
    for raw in [
        "GET /1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        "GET /2 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
        "GET /3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET /4 HTTP/1.1\r\nHost:\r\n\r\n",
        "GET /5 HTTP/1.0\r\n\r\n",
    ] {
        let mut w = Wire::connect(addr);
        w.send(raw);
        let resp = w.read_response();
        assert!(resp.starts_with(b"HTTP/1.1 200 ") || resp.starts_with(b"HTTP/1.0 200 "), "{raw:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    server.stop();
}

#[test]
fn ambiguous_framing_is_refused() {
    let (server, addr, calls) = counting();
    for raw in [
        // Content-Length and Transfer-Encoding together, either order.
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        // Differing lengths.
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
        // A transfer coding other than a single final chunked.
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        // Transfer-Encoding in HTTP/1.0.
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // Obsolete line folding, space before the colon.
        "POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Content-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        // Bare LF or CR in the head.
        "POST / HTTP/1.1\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\n\nhello",
        "POST / HTTP/1.1\r\nHost: x\rContent-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: x\r\nX-A: 1\rContent-Length: 5\r\n\r\nhello",
    ] {
        refused(addr, &calls, raw, "400 Bad Request");
    }
    server.stop();
}

#[test]
fn an_empty_line_before_a_request_is_ignored() {
    // RFC 9112 §2.2: some clients send a CRLF after a body.
    let (server, addr, calls) = counting();
    let mut w = Wire::connect(addr);
    w.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(w.read_response().ends_with(b"\r\n\r\n/a"));
    assert!(w.read_response().ends_with(b"\r\n\r\n/b"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    server.stop();
}
