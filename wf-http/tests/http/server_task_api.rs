//! What `process` sees of a request (method, target, version, headers,
//! body, peer, connection context) and `noreply()`, which closes the
//! connection instead of replying.

use crate::support;

use std::sync::mpsc;

use support::{Wire, start};
use wf_core::State;
use wf_http::HttpServer;

#[test]
fn process_sees_the_whole_request() {
    let (tx, rx) = mpsc::channel();
    let server = HttpServer::new(move |task| {
        let req = task.req();
        let headers: Vec<(String, String)> =
            req.headers().iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string())).collect();
        let _ = tx.send((
            req.method().to_string(),
            req.request_uri().to_string(),
            req.http_version().to_string(),
            headers,
            req.header("x-single").map(str::to_string),
            req.body(),
            task.peer_addr(),
        ));
    });
    let addr = start(&server);
    let mut w = Wire::connect(addr);
    w.send("PATCH /p/a%20th?q=1#frag HTTP/1.1\r\nHost: example\r\nX-Multi: 1\r\nx-multi: 2\r\nX-Single: s\r\nContent-Length: 4\r\n\r\nbody");
    w.read_response();
    let (method, uri, version, headers, single, body, peer) = rx.recv_timeout(support::WAIT).unwrap();
    assert_eq!((method.as_str(), uri.as_str(), version.as_str()), ("PATCH", "/p/a%20th?q=1#frag", "HTTP/1.1"));
    let expected: Vec<(String, String)> =
        [("Host", "example"), ("X-Multi", "1"), ("x-multi", "2"), ("X-Single", "s"), ("Content-Length", "4")]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
    assert_eq!(headers, expected);
    assert_eq!(single.as_deref(), Some("s"));
    assert_eq!(&body[..], b"body");
    assert_eq!(peer, Some(w.stream.local_addr().unwrap()));
    server.stop();
}

#[test]
fn noreply_closes_without_a_byte() {
    let (tx, rx) = mpsc::channel();
    let server = HttpServer::new(move |task| {
        if task.req().request_uri() == "/silent" {
            task.noreply();
            let tx = tx.clone();
            task.set_callback(move |t| {
                let _ = tx.send(t.state());
            });
        } else {
            task.resp_mut().append_body("spoken");
        }
    });
    let addr = start(&server);
    let mut w = Wire::connect(addr);
    w.send("GET /silent HTTP/1.1\r\nHost: x\r\n\r\n");
    w.expect_closed();
    assert_eq!(rx.recv_timeout(support::WAIT).unwrap(), State::NoReply, "the callback still runs");
    // Replies before the silent one still go out.
    let mut w = Wire::connect(addr);
    w.send(
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /silent HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(w.read_response().ends_with(b"spoken"));
    w.expect_closed();
    server.stop();
}

#[test]
fn connection_context_lives_with_the_connection() {
    let server = HttpServer::new(|task| {
        let conn = task.connection().clone();
        let n = conn.with_context(|n: &mut u32| {
            *n += 1;
            *n
        });
        let n = match n {
            Some(n) => n,
            None => {
                conn.set_context(1u32);
                1
            }
        };
        task.resp_mut().append_body(format!("{n}"));
    });
    let addr = start(&server);
    let mut a = Wire::connect(addr);
    for expected in ["1", "2", "3"] {
        a.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(a.read_response().ends_with(expected.as_bytes()));
    }
    let mut b = Wire::connect(addr);
    b.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(b.read_response().ends_with(b"\r\n\r\n1"), "each connection has its own context");
    server.stop();
}

#[test]
fn a_panic_in_process_closes_only_that_connection() {
    let server = HttpServer::new(|task| {
        if task.req().request_uri() == "/panic" {
            panic!("process panicked on purpose");
        }
        task.resp_mut().append_body("fine");
    });
    let addr = start(&server);
    let mut w = Wire::connect(addr);
    w.send("GET /panic HTTP/1.1\r\nHost: x\r\n\r\n");
    w.expect_closed();
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(w.read_response().ends_with(b"fine"), "the server goes on");
    server.stop();
}

/// `set_prepare` on a server task: runs after the series, before the
/// automatic fields; what it sets is on the wire.
#[test]
fn a_prepare_hook_fills_the_reply_late() {
    let server = HttpServer::new(|task| {
        task.resp_mut().append_body("body");
        task.set_prepare(|t| {
            let len = t.resp().body_len();
            t.resp_mut().set_header("X-Body-Length-Seen", &len.to_string());
            t.resp_mut().append_body("+late");
        });
    });
    let addr = start(&server);
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let reply = w.read_response();
    assert_eq!(support::header_value(&reply, "x-body-length-seen").as_deref(), Some("4"));
    // Content-Length is filled after the hook.
    assert_eq!(support::header_value(&reply, "content-length").as_deref(), Some("9"));
    assert!(reply.ends_with(b"body+late"));
    server.stop();
}

/// `set_prepare` on a client task: the request is completed once its
/// connection is chosen, right before it is sent.
#[test]
fn a_client_prepare_hook_sets_a_header_late() {
    let server = HttpServer::new(|task| {
        let v = task.req().header("x-late").unwrap_or_default().to_string();
        task.resp_mut().append_body(v);
    });
    let addr = start(&server);
    let out = support::fetch(&format!("http://{addr}/"), 0, 0, |t| {
        t.set_prepare(|req| {
            req.set_header("X-Late", "from prepare");
        });
    });
    assert_eq!(out.body(), "from prepare");
    server.stop();
}
