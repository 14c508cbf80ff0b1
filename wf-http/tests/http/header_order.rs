//! Header field names keep the case and order they were received or set
//! with, on the wire, both ways, client and server; lookups ignore case;
//! the limits on fields still hold.

use crate::support;

use std::sync::mpsc;

use support::{RawServer, Reply, Wire, fetch, mask_date, start};
use wf_core::State;
use wf_http::HttpServer;

type Fields = Vec<(String, String)>;

fn fields(headers: &wf_http::Headers) -> Fields {
    headers.iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Fields {
    list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

#[test]
fn a_server_sees_the_request_fields_as_sent_and_sends_its_own_as_set() {
    let (tx, rx) = mpsc::channel();
    let server = HttpServer::new(move |task| {
        let req = task.req();
        let _ = tx.send((
            fields(req.headers()),
            req.header("X-CUSTOM-AUTH").map(str::to_string),
            req.headers().get_all("x-custom-auth").map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>(),
        ));
        let resp = task.resp_mut();
        resp.set_header("X-Signed-By", "k1");
        resp.add_header("x-Trace", "a");
        resp.add_header("content-TYPE", "text/plain");
        resp.add_header("X-TRACE", "b");
        resp.append_body("ok");
    });
    let addr = start(&server);
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nhOsT: x\r\nX-Custom-Auth: 1\r\nx-lower: 2\r\nACCEPT: */*\r\nx-CUSTOM-auth: 3\r\n\r\n");
    let reply = mask_date(&w.read_response());
    assert_eq!(
        reply,
        "HTTP/1.1 200 OK\r\nX-Signed-By: k1\r\nx-Trace: a\r\ncontent-TYPE: text/plain\r\nX-TRACE: b\r\n\
         Content-Length: 2\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\nok"
    );
    let (seen, first, all) = rx.recv_timeout(support::WAIT).unwrap();
    assert_eq!(
        seen,
        pairs(&[("hOsT", "x"), ("X-Custom-Auth", "1"), ("x-lower", "2"), ("ACCEPT", "*/*"), ("x-CUSTOM-auth", "3")])
    );
    assert_eq!((first.as_deref(), all), (Some("1"), vec!["1".to_string(), "3".to_string()]));
    // Fields the process sets over its own keep their place and its case;
    // the automatic ones are not added twice.
    server.stop();
}

#[test]
fn fields_a_server_sets_replace_the_automatic_ones_where_they_stand() {
    let server = HttpServer::new(|task| {
        let resp = task.resp_mut();
        resp.add_header("X-First", "1");
        resp.add_header("connection", "close");
        resp.add_header("X-Last", "2");
        resp.set_header("X-First", "3");
        resp.append_body("bye");
    });
    let addr = start(&server);
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        mask_date(&w.read_response()),
        "HTTP/1.1 200 OK\r\nX-First: 3\r\nconnection: close\r\nX-Last: 2\r\nContent-Length: 3\r\nDate: <date>\r\n\r\nbye"
    );
    w.expect_closed();
    server.stop();
}

#[test]
fn a_client_sends_fields_as_set_with_its_own_in_documented_places() {
    let server = RawServer::spawn(|_| Reply::Send(support::response("200 OK", &[], "ok")));
    let port = server.addr().port();
    fetch(&server.url("/a"), 0, 0, |t| {
        let req = t.req_mut();
        req.add_header("X-Zeta", "1");
        req.add_header("x-alpha", "2");
        req.add_header("ACCEPT", "*/*");
        req.add_header("x-ZETA", "3");
    })
    .ok();
    // Host first (RFC 9112 §3.2), the task's fields in order, Connection last.
    fetch(&server.url("/b"), 0, 0, |t| {
        let req = t.req_mut();
        req.set_method("POST");
        req.add_header("X-Sig", "s");
        req.add_header("content-type", "text/plain");
        req.append_body("hi");
    })
    .ok();
    // A Host the task sets keeps its place and case.
    fetch(&server.url("/c"), 0, 0, |t| {
        let req = t.req_mut();
        req.add_header("X-Before", "1");
        req.add_header("hOST", "example.com");
        req.add_header("connection", "close");
    })
    .ok();
    let seen = server.seen();
    let heads: Vec<String> = seen.iter().map(|s| s.head_text()).collect();
    assert_eq!(
        heads,
        [
            format!(
                "GET /a HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Zeta: 1\r\nx-alpha: 2\r\nACCEPT: */*\r\nx-ZETA: 3\r\n\
             Connection: Keep-Alive\r\n\r\n"
            ),
            format!(
                "POST /b HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Sig: s\r\ncontent-type: text/plain\r\n\
             Content-Length: 2\r\nConnection: Keep-Alive\r\n\r\n"
            ),
            "GET /c HTTP/1.1\r\nX-Before: 1\r\nhOST: example.com\r\nconnection: close\r\n\r\n".to_string(),
        ]
    );
}

#[test]
fn a_client_sees_the_response_fields_as_received() {
    let server = RawServer::spawn(|_| {
        Reply::Send(
            b"HTTP/1.1 200 OK\r\nx-lower: a\r\nX-UPPER: b\r\nSet-Cookie: 1\r\ncontent-LENGTH: 2\r\nset-cookie: 2\r\n\r\nok"
                .to_vec(),
        )
    });
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "ok");
    assert_eq!(
        fields(o.resp.headers()),
        pairs(&[("x-lower", "a"), ("X-UPPER", "b"), ("Set-Cookie", "1"), ("content-LENGTH", "2"), ("set-cookie", "2")])
    );
    assert_eq!(o.resp.headers().get_all("SET-COOKIE").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(o.resp.header("Content-Length"), Some("2"));
}

#[test]
fn trailers_follow_the_head_fields_as_received() {
    let server = RawServer::spawn(|_| {
        Reply::Send(
            b"HTTP/1.1 200 OK\r\nTrailer: x-Sum\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-Sum: 5\r\n\r\n"
                .to_vec(),
        )
    });
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "ok");
    assert_eq!(
        fields(o.resp.headers()),
        pairs(&[("Trailer", "x-Sum"), ("Transfer-Encoding", "chunked"), ("x-Sum", "5")])
    );
}

#[test]
fn a_redirect_sets_host_again_in_its_place() {
    let target = RawServer::spawn(|_| Reply::Send(support::response("200 OK", &[], "there")));
    let to = target.url("/to");
    let from =
        RawServer::spawn(move |_| Reply::Send(support::response("302 Found", &[&format!("Location: {to}")], "")));
    let o = fetch(&from.url("/from"), 1, 0, |t| {
        t.req_mut().add_header("X-A", "1");
    });
    assert_eq!(o.ok().body(), "there");
    let port = target.addr().port();
    assert_eq!(
        target.seen()[0].head_text(),
        format!("GET /to HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-A: 1\r\nConnection: Keep-Alive\r\n\r\n")
    );
}

#[test]
fn hostile_field_names_stay_bounded() {
    let server = HttpServer::new(|task| {
        let n = task.req().headers().len();
        task.resp_mut().append_body(n.to_string());
    });
    let addr = start(&server);
    // Host in two cases is two Host fields: refused.
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n");
    assert!(w.read_response().starts_with(b"HTTP/1.1 400 "));
    w.expect_closed();
    // 100 fields (the limit), long names: accepted, names kept whole.
    let long = format!("X-{}", "N".repeat(500));
    let many: String = (0..99).map(|i| format!("{long}-{i}: v\r\n")).collect();
    let mut w = Wire::connect(addr);
    w.send(format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n"));
    assert!(mask_date(&w.read_response()).ends_with("\r\n\r\n100"));
    // One more field: 431. A name past the head limit: 431 without
    // waiting for its end.
    let mut w = Wire::connect(addr);
    w.send(format!("GET / HTTP/1.1\r\nHost: x\r\n{many}X-More: v\r\n\r\n"));
    assert!(w.read_response().starts_with(b"HTTP/1.1 431 "));
    w.expect_closed();
    let mut w = Wire::connect(addr);
    w.send(format!("GET / HTTP/1.1\r\nHost: x\r\nX-{}", "n".repeat(70 * 1024)));
    assert!(w.read_response().starts_with(b"HTTP/1.1 431 "));
    w.expect_closed();
    server.stop();

    // The client side: a reply with too many fields, or a name past the
    // head limit, fails the task (EMSGSIZE) instead of growing.
    let many_reply: String = (0..101).map(|i| format!("X-F{i}: v\r\n")).collect();
    let many_reply = format!("HTTP/1.1 200 OK\r\n{many_reply}Content-Length: 0\r\n\r\n").into_bytes();
    let huge_name = format!("HTTP/1.1 200 OK\r\nX-{}: v\r\nContent-Length: 0\r\n\r\n", "n".repeat(70 * 1024));
    for reply in [many_reply, huge_name.into_bytes()] {
        let server = RawServer::spawn(move |_| Reply::SendAndClose(reply.clone()));
        let o = fetch(&server.url("/"), 0, 0, |_| {});
        assert_eq!((o.state, o.error.code()), (State::SysError, libc::EMSGSIZE), "{}", o.error);
    }
}
