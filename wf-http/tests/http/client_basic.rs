//! `HttpTask` against a raw server that records what it receives: the
//! request bytes (Host, Content-Length, Connection, Basic auth from the
//! URL), the response API, framing of replies, keep-alive reuse, retries
//! and URL errors.

use crate::support;

use support::{RawServer, Reply, closed_port, fetch, response};
use wf_core::{State, code};

fn ok_server() -> RawServer {
    RawServer::spawn(|_| Reply::Send(response("200 OK", &[], "ok")))
}

#[test]
fn default_get_request_bytes() {
    let server = ok_server();
    let o = fetch(&server.url("/path/x?q=1&r=%20"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "ok");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let port = server.addr().port();
    assert_eq!(
        seen[0].head_text(),
        format!("GET /path/x?q=1&r=%20 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Keep-Alive\r\n\r\n")
    );
}

#[test]
fn empty_path_is_slash() {
    let server = ok_server();
    fetch(&format!("http://{}", server.addr()), 0, 0, |_| {}).ok();
    assert_eq!(server.seen()[0].target, "/");
}

#[test]
fn content_length_on_post_and_put() {
    let server = ok_server();
    fetch(&server.url("/post"), 0, 0, |t| {
        t.req_mut().set_method("POST");
        t.req_mut().append_body("hello");
    })
    .ok();
    fetch(&server.url("/empty-post"), 0, 0, |t| {
        t.req_mut().set_method("POST");
    })
    .ok();
    fetch(&server.url("/empty-put"), 0, 0, |t| {
        t.req_mut().set_method("PUT");
    })
    .ok();
    fetch(&server.url("/get-with-body"), 0, 0, |t| {
        t.req_mut().append_body("xy");
    })
    .ok();
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].header("content-length"), Some("5"));
    assert_eq!(seen[0].body, b"hello");
    assert_eq!(seen[1].header("content-length"), Some("0"), "an empty POST still says 0");
    assert_eq!(seen[2].header("content-length"), Some("0"), "an empty PUT still says 0");
    assert_eq!(seen[3].header("content-length"), Some("2"));
    assert_eq!(seen[3].body, b"xy");
}

#[test]
fn no_content_length_on_empty_get() {
    let server = ok_server();
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    assert_eq!(server.seen()[0].header("content-length"), None);
}

#[test]
fn chunked_request_body() {
    let server = ok_server();
    fetch(&server.url("/"), 0, 0, |t| {
        t.req_mut().set_method("POST");
        t.req_mut().set_header("Transfer-Encoding", "chunked");
        t.req_mut().append_body("abc");
        t.req_mut().append_body("de");
    })
    .ok();
    let seen = &server.seen()[0];
    assert_eq!(seen.header("content-length"), None, "no length next to chunked");
    assert_eq!(seen.body, b"abcde");
}

#[test]
fn user_headers_are_kept() {
    let server = ok_server();
    fetch(&server.url("/"), 0, 0, |t| {
        t.req_mut().set_header("Host", "virtual.example");
        t.req_mut().add_header("X-Trace", "1");
        t.req_mut().add_header("X-Trace", "2");
        t.req_mut().set_header("User-Agent", "wf-test");
    })
    .ok();
    let seen = &server.seen()[0];
    assert_eq!(seen.header("host"), Some("virtual.example"));
    let traces: Vec<_> =
        seen.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("x-trace")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(traces, ["1", "2"]);
    assert_eq!(seen.header("user-agent"), Some("wf-test"));
}

#[test]
fn userinfo_becomes_basic_auth() {
    let server = ok_server();
    let port = server.addr().port();
    fetch(&format!("http://Aladdin:open%20sesame@127.0.0.1:{port}/"), 0, 0, |_| {}).ok();
    fetch(&format!("http://user@127.0.0.1:{port}/"), 0, 0, |_| {}).ok();
    fetch(&format!("http://127.0.0.1:{port}/"), 0, 0, |_| {}).ok();
    let seen = server.seen();
    assert_eq!(seen[0].header("authorization"), Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    assert_eq!(seen[1].header("authorization"), Some("Basic dXNlcjo="), "user alone: `user:`");
    assert_eq!(seen[2].header("authorization"), None);
}

#[test]
fn response_api() {
    let server = RawServer::spawn(|_| {
        Reply::Send(
            b"HTTP/1.1 418 I'm a teapot\r\nX-One: 1\r\nX-Two: a\r\nX-Two: b\r\nContent-Length: 6\r\n\r\nteapot"
                .to_vec(),
        )
    });
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.state, State::Success, "HTTP errors are successful tasks");
    assert_eq!(
        (o.resp.status_code(), o.resp.reason_phrase(), o.resp.http_version()),
        (418, "I'm a teapot", "HTTP/1.1")
    );
    assert_eq!(o.resp.header("x-one"), Some("1"));
    let twos: Vec<_> = o.resp.headers().get_all("x-two").map(|v| v.to_str().unwrap()).collect();
    assert_eq!(twos, ["a", "b"]);
    assert_eq!(o.body(), "teapot");
    assert_eq!(o.peer, Some(server.addr()));
    assert_eq!(o.req.method(), "GET", "the request is kept for the callback");
}

#[test]
fn chunked_response_with_trailers() {
    let server = RawServer::spawn(|_| {
        Reply::Send(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: yes\r\n\r\n"
                .to_vec(),
        )
    });
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "hello world");
    assert_eq!(o.resp.header("x-trailer"), Some("yes"));
}

#[test]
fn close_delimited_response_is_a_success() {
    let server = RawServer::spawn(|_| Reply::SendAndClose(b"HTTP/1.1 200 OK\r\nX: 1\r\n\r\nuntil the end".to_vec()));
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "until the end");
    // Such a connection is not reused.
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    assert_eq!(server.accepts(), 2);
}

#[test]
fn head_response_has_no_body() {
    // The server announces a length but, for HEAD, sends no body; the next
    // reply on the connection must parse.
    let server = RawServer::spawn(|req| {
        if req.method == "HEAD" {
            Reply::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec())
        } else {
            Reply::Send(response("200 OK", &[], "after head"))
        }
    });
    let o = fetch(&server.url("/"), 0, 0, |t| {
        t.req_mut().set_method("HEAD");
    });
    assert_eq!((o.ok().resp.body_len(), o.resp.header("content-length")), (0, Some("1000")));
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "after head");
    assert_eq!(server.accepts(), 1, "the connection was reused after HEAD");
}

#[test]
fn no_content_and_not_modified() {
    let server = RawServer::spawn(|req| match req.target.as_str() {
        "/204" => Reply::Send(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
        _ => Reply::Send(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n".to_vec()),
    });
    let o = fetch(&server.url("/204"), 0, 0, |_| {});
    assert_eq!((o.ok().resp.status_code(), o.resp.body_len()), (204, 0));
    let o = fetch(&server.url("/304"), 0, 0, |_| {});
    assert_eq!((o.ok().resp.status_code(), o.resp.body_len()), (304, 0));
    assert_eq!(server.accepts(), 1);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let server = ok_server();
    for _ in 0..3 {
        fetch(&server.url("/"), 0, 0, |_| {}).ok();
    }
    assert_eq!(server.accepts(), 1);
    let conns: Vec<usize> = server.seen().iter().map(|s| s.conn).collect();
    assert_eq!(conns, [0, 0, 0]);
}

#[test]
fn server_connection_close_is_honoured() {
    let server = RawServer::spawn(|_| Reply::SendAndClose(response("200 OK", &["Connection: close"], "bye")));
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    assert_eq!(server.accepts(), 2);
}

#[test]
fn request_connection_close_is_honoured() {
    let server = ok_server();
    for _ in 0..2 {
        fetch(&server.url("/"), 0, 0, |t| {
            t.req_mut().set_header("Connection", "close");
        })
        .ok();
    }
    assert_eq!(server.seen()[0].header("connection"), Some("close"));
    assert_eq!(server.accepts(), 2, "a request that said close does not leave its connection pooled");
}

#[test]
fn keep_alive_off_says_close() {
    let server = ok_server();
    fetch(&server.url("/"), 0, 0, |t| t.set_keep_alive(std::time::Duration::ZERO)).ok();
    assert_eq!(server.seen()[0].header("connection"), Some("close"), "Workflow sends close when it will not keep");
}

#[test]
fn http_10_response_without_keep_alive_is_not_reused() {
    let server = RawServer::spawn(|_| Reply::SendAndClose(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()));
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!((o.ok().resp.http_version(), o.body().as_str()), ("HTTP/1.0", "ok"));
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    assert_eq!(server.accepts(), 2);
}

#[test]
fn retries_count_attempts() {
    // The server reads each request and hangs up: a system error, retried.
    let server = RawServer::spawn(|_| Reply::Close);
    let o = fetch(&server.url("/"), 0, 2, |_| {});
    assert_eq!(o.state, State::SysError, "{}", o.error);
    assert_eq!(server.accepts(), 3, "one attempt and two retries");
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn refused_connection_is_a_system_error() {
    let port = closed_port();
    let o = fetch(&format!("http://127.0.0.1:{port}/"), 0, 3, |_| {});
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNREFUSED), "{}", o.error);
}

#[test]
fn bad_urls() {
    for (url, expected) in [
        ("not a url", code::URI_PARSE_FAILED),
        ("http://", code::URI_PARSE_FAILED),
        ("ftp://127.0.0.1:21/", code::URI_SCHEME_INVALID),
        ("redis://127.0.0.1/", code::URI_SCHEME_INVALID),
        ("http://127.0.0.1:99999/", code::URI_PORT_INVALID),
        ("http://127.0.0.1:port/", code::URI_PORT_INVALID),
    ] {
        let o = fetch(url, 0, 3, |_| {});
        assert_eq!((o.state, o.error.code()), (State::TaskError, expected), "{url}: {}", o.error);
    }
}

#[test]
fn malformed_response_is_a_system_error() {
    let server = RawServer::spawn(|_| {
        Reply::SendAndClose(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec())
    });
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::EBADMSG), "{}", o.error);
}

#[test]
fn fragment_is_not_sent() {
    let server = ok_server();
    fetch(&server.url("/page?q=1#section"), 0, 0, |_| {}).ok();
    assert_eq!(server.seen()[0].target, "/page?q=1");
}

#[test]
fn ipv6_host_header() {
    let server = RawServer::spawn_on("::1".parse().unwrap(), |_| Reply::Send(response("200 OK", &[], "v6")));
    let port = server.addr().port();
    let o = fetch(&format!("http://[::1]:{port}/"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "v6");
    assert_eq!(server.seen()[0].header("host"), Some(format!("[::1]:{port}").as_str()));
}

#[test]
fn large_response_body() {
    let big = "0123456789abcdef".repeat(64 * 1024);
    let body = big.clone();
    let server = RawServer::spawn(move |_| Reply::Send(response("200 OK", &[], &body)));
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.ok().resp.body_len(), big.len());
    assert!(o.body() == big);
}

#[test]
fn stale_pooled_connection_is_replaced() {
    // The server closes after each reply without saying so: the pooled
    // connection is dead when the next task wants it.
    let server = RawServer::spawn(|_| Reply::SendAndClose(response("200 OK", &[], "once")));
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.state, State::Success, "a dead pooled connection failed a task without retries: {}", o.error);
    assert_eq!(server.accepts(), 2);
}

#[test]
fn server_keep_alive_timeout_is_honoured() {
    let server = RawServer::spawn(|_| Reply::Send(response("200 OK", &["Keep-Alive: timeout=1"], "ok")));
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    assert_eq!(server.accepts(), 1, "reused within the timeout");
    std::thread::sleep(std::time::Duration::from_millis(1300));
    fetch(&server.url("/"), 0, 0, |_| {}).ok();
    assert_eq!(server.accepts(), 2, "not reused after the server's timeout=1");
}
