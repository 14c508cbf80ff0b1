//! `HttpServer` replies compared byte for byte over TCP (the `Date` value
//! masked): what is filled in automatically, HTTP/1.0, HEAD, statuses,
//! chunked replies, `Connection: close` from either side.

use crate::support;

use std::time::{Duration, SystemTime};

use support::{Wire, header_value, mask_date, start};
use wf_http::HttpServer;

fn echo_server() -> (HttpServer, std::net::SocketAddr) {
    let server = HttpServer::new(|task| {
        let uri = task.req().request_uri().to_string();
        match uri.as_str() {
            "/404" => {
                task.resp_mut().set_status_code(404);
            }
            "/reason" => {
                task.resp_mut().set_status_code(299);
                task.resp_mut().set_reason_phrase("Custom Reason");
            }
            "/body" => task.resp_mut().append_body("hello"),
            "/chunked" => {
                task.resp_mut().set_header("Transfer-Encoding", "chunked");
                task.resp_mut().append_body("abc");
                task.resp_mut().append_body("def");
            }
            "/close" => {
                task.resp_mut().set_header("Connection", "close");
                task.resp_mut().append_body("bye");
            }
            "/204" => {
                task.resp_mut().set_status_code(204);
            }
            "/304-with-body" => {
                task.resp_mut().set_status_code(304);
                task.resp_mut().append_body("stale body");
            }
            "/own-headers" => {
                task.resp_mut().set_header("Content-Length", "2");
                task.resp_mut().set_header("Date", "Thu, 01 Jan 1970 00:00:00 GMT");
                task.resp_mut().set_header("X-Mine", "1");
                task.resp_mut().append_body("ok");
            }
            "/echo" => {
                let body = task.req().body();
                task.resp_mut().append_body(body);
            }
            _ => {}
        }
    });
    let addr = start(&server);
    (server, addr)
}

#[test]
fn default_reply_is_filled_in() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let reply = w.read_response();
    assert_eq!(
        mask_date(&reply),
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\n"
    );
    // The date is now.
    let date = httpdate::parse_http_date(&header_value(&reply, "date").unwrap()).unwrap();
    let skew = SystemTime::now().duration_since(date).unwrap_or_else(|e| e.duration());
    assert!(skew < Duration::from_secs(3), "date off by {skew:?}");
    // Kept alive: a second request on the same connection.
    w.send("GET /body HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\nhello"
    );
    server.stop();
}

#[test]
fn date_is_refreshed_every_second() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let first = header_value(&w.read_response(), "date").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let second = header_value(&w.read_response(), "date").unwrap();
    assert_ne!(first, second, "a cached date must not outlive its second");
    let (a, b) = (httpdate::parse_http_date(&first).unwrap(), httpdate::parse_http_date(&second).unwrap());
    assert!(b > a);
    server.stop();
}

#[test]
fn status_and_reason_filled() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET /404 HTTP/1.1\r\nHost: x\r\n\r\nGET /reason HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\n"
    );
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 299 Custom Reason\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\n"
    );
    server.stop();
}

#[test]
fn http_10_gets_close() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET /body HTTP/1.0\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: close\r\nDate: <date>\r\n\r\nhello"
    );
    w.expect_closed();
    server.stop();
}

#[test]
fn http_10_keep_alive_is_honoured() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET /body HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\nhello"
    );
    w.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert!(w.read_response().starts_with(b"HTTP/1.0 200 OK\r\n"));
    server.stop();
}

#[test]
fn client_connection_close() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\nDate: <date>\r\n\r\nhello"
    );
    w.expect_closed();
    server.stop();
}

#[test]
fn server_connection_close() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    // The request after the closing reply is never answered.
    w.send("GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\nDate: <date>\r\n\r\nbye"
    );
    w.expect_closed();
    server.stop();
}

#[test]
fn head_has_length_but_no_body() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("HEAD /body HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_head_response()),
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\n"
    );
    // No body bytes follow: the next reply starts right away.
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(w.read_response().starts_with(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"));
    server.stop();
}

#[test]
fn no_content_has_no_length() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET /204 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 204 No Content\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\n"
    );
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(w.read_response().starts_with(b"HTTP/1.1 200 OK\r\n"));
    server.stop();
}

#[test]
fn chunked_reply_gets_no_length() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\n6\r\nabcdef\r\n0\r\n\r\n"
    );
    server.stop();
}

#[test]
fn headers_set_by_process_are_kept() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET /own-headers HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        String::from_utf8(w.read_response()).unwrap(),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nX-Mine: 1\r\nConnection: Keep-Alive\r\n\r\nok"
    );
    server.stop();
}

#[test]
fn request_bodies_reach_process() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nlength");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\nlength"
    );
    w.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nchu\r\n4\r\nnked\r\n0\r\nX-T: 1\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\nchunked"
    );
    server.stop();
}

#[test]
fn head_of_a_chunked_reply_has_no_body() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("HEAD /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_head_response()),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\n"
    );
    // Not even the last-chunk: the next bytes are the next reply.
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let next = w.read_head();
    assert!(next.starts_with(b"HTTP/1.1 200 OK\r\n"), "after HEAD came {:?}", String::from_utf8_lossy(&next));
    server.stop();
}

#[test]
fn not_modified_never_carries_a_body() {
    let (server, addr) = echo_server();
    let mut w = Wire::connect(addr);
    w.send("GET /304-with-body HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 304 Not Modified\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\n"
    );
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let next = w.read_head();
    assert!(next.starts_with(b"HTTP/1.1 200 OK\r\n"), "after 304 came {:?}", String::from_utf8_lossy(&next));
    server.stop();
}

#[test]
fn connection_tokens_are_case_insensitive_lists() {
    let (server, addr) = echo_server();
    for header in ["Connection: CLOSE", "Connection: TE, close", "Connection: te\r\nConnection: Close"] {
        let mut w = Wire::connect(addr);
        w.send(format!("GET / HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n"));
        let reply = w.read_response();
        assert_eq!(header_value(&reply, "connection").as_deref(), Some("close"), "{header}");
        w.expect_closed();
    }
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.0\r\nConnection: Upgrade, KEEP-ALIVE\r\n\r\n");
    assert_eq!(header_value(&w.read_response(), "connection").as_deref(), Some("Keep-Alive"));
    w.expect_open_for(Duration::from_millis(100));
    server.stop();
}
