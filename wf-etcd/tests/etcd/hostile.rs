//! A hostile or broken gateway: replies that never end, that are not
//! etcd's, that nest forever, a watch message without end. Each gives a
//! clear error, never a panic or a hang, and nothing unbounded is kept.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testkit::RawServer;
use wf_core::State;
use wf_core::upstream::{Policy, Upstream};
use wf_etcd::{Etcd, code};

use crate::{main, servers, unique};

/// Reads one request: its path, or `None` at the end of the connection.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split(' ').nth(1)?.to_owned();
    let mut length = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    Some(path)
}

/// A gateway whose every reply is `reply` (head and body).
fn replying(reply: &'static [u8]) -> RawServer {
    RawServer::spawn(move |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        while read_request(&mut r).is_some() {
            let _ = (&s).write_all(reply);
        }
    })
}

fn client(server: &RawServer) -> Etcd {
    Etcd::new(&format!("http://{}", server.addr()))
        .with_max_message(64 << 10)
        .with_request_timeout(Duration::from_secs(5))
}

fn discover_error(server: &RawServer) -> wf_core::Error {
    let u = Upstream::create(&unique("hostile"), Policy::RoundRobin { try_another: false });
    client(server).discover_blocking(&u).map(drop).expect_err("discover must fail")
}

#[test]
fn a_range_reply_that_never_ends_is_cut_at_the_limit() {
    let sent = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let (counted, saw_close) = (sent.clone(), closed.clone());
    let server = RawServer::spawn(move |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        if read_request(&mut r).is_none() {
            return;
        }
        let mut s = s;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n{\"kvs\":[");
        let chunk = vec![b' '; 64 << 10];
        while s.write_all(&chunk).is_ok() {
            counted.fetch_add(chunk.len(), Ordering::SeqCst);
        }
        saw_close.store(true, Ordering::SeqCst);
    });
    let e = discover_error(&server);
    assert_eq!((e.state(), e.code()), (State::SysError, libc::EMSGSIZE), "{e}");
    // The client closed the connection: the writer's write failed (a
    // client that stopped reading but kept the connection would block it
    // instead), well before it sent 64 MiB.
    assert!(testkit::wait_until(testkit::WAIT, || closed.load(Ordering::SeqCst)), "the connection stayed open");
    assert!(sent.load(Ordering::SeqCst) < 64 << 20, "the writer went on: {}", sent.load(Ordering::SeqCst));
}

#[test]
fn replies_that_are_not_etcds_give_clear_errors() {
    let cases: [(&str, &str, i32, &str); 5] = [
        ("200 OK", "<html>", code::BAD_REPLY, "not a JSON object"),
        ("200 OK", r#"{"header":{}}"#, code::BAD_REPLY, "header.revision"),
        ("200 OK", r#"{"header":{"revision":"1"},"kvs":[{"key":"%%"}]}"#, code::BAD_REPLY, "base64"),
        (
            "503 Service Unavailable",
            r#"{"error":"x","message":"etcdserver: no leader","code":14}"#,
            code::ETCD_ERROR,
            "no leader",
        ),
        ("404 Not Found", "Not Found", code::ETCD_ERROR, "HTTP 404"),
    ];
    for (status, body, code, why) in cases {
        let reply = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let e = discover_error(&replying(reply.into_bytes().leak()));
        assert_eq!((e.state(), e.code()), (State::TaskError, code), "{e}");
        assert!(e.to_string().contains(why), "{e}");
    }
}

#[test]
fn a_reply_nested_without_end_is_an_error_not_a_stack_overflow() {
    let mut body = b"{\"header\":{\"revision\":\"1\"},\"kvs\":".to_vec();
    body.extend(std::iter::repeat_n(b'[', 60_000));
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    let reply: &'static [u8] = [head.as_bytes(), &body].concat().leak();
    let e = discover_error(&replying(reply));
    assert_eq!(e.code(), code::BAD_REPLY, "{e}");
}

/// How the endless watch message is framed.
#[derive(Clone, Copy)]
enum Framing {
    /// Chunks of 64 KiB.
    SmallChunks,
    /// One chunk announced as 1 TiB.
    OneHugeChunk,
    /// No framing: the body ends when the connection does.
    UntilClose,
}

/// The range is fine; the watch stream sends one message without end. The
/// watcher cuts it at the limit and reconnects, again and again, keeping
/// the list it read.
fn endless_watch_message(framing: Framing) {
    let watches = Arc::new(AtomicUsize::new(0));
    let sent_per_watch = Arc::new(Mutex::new(Vec::new()));
    let (w, spw) = (watches.clone(), sent_per_watch.clone());
    let server = RawServer::spawn(move |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut s = s;
        while let Some(path) = read_request(&mut r) {
            if path == "/v3/kv/range" {
                let body = br#"{"header":{"revision":"5"},"kvs":[{"key":"eA==","value":"eyJhZGRyZXNzIjoiMTAuMC4wLjE6ODAifQ=="}]}"#;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body));
                continue;
            }
            w.fetch_add(1, Ordering::SeqCst);
            let piece = "a".repeat(64 << 10);
            // `{"result":{"x":"` and then a string without end.
            let (head, first, each) = match framing {
                Framing::SmallChunks => (
                    "Transfer-Encoding: chunked\r\n",
                    "10\r\n{\"result\":{\"x\":\"\r\n".to_owned(),
                    format!("{:x}\r\n{piece}\r\n", piece.len()),
                ),
                Framing::OneHugeChunk => {
                    ("Transfer-Encoding: chunked\r\n", format!("{:x}\r\n{{\"result\":{{\"x\":\"", 1u64 << 40), piece)
                }
                Framing::UntilClose => ("Connection: close\r\n", "{\"result\":{\"x\":\"".to_owned(), piece),
            };
            let _ = s.write_all(format!("HTTP/1.1 200 OK\r\n{head}\r\n{first}").as_bytes());
            let mut sent = 0usize;
            while s.write_all(each.as_bytes()).is_ok() {
                sent += each.len();
            }
            spw.lock().unwrap().push(sent);
            return;
        }
    });
    let u = Upstream::create(&unique("endless"), Policy::RoundRobin { try_another: false });
    let d = client(&server).discover_blocking(&u).expect("the range is fine");
    assert_eq!(servers(&u), [main("10.0.0.1:80", 1)]);
    assert!(
        testkit::wait_until(testkit::WAIT, || sent_per_watch.lock().unwrap().len() >= 2),
        "the watcher did not cut the endless message and reconnect ({} watches)",
        watches.load(Ordering::SeqCst)
    );
    assert_eq!(servers(&u), [main("10.0.0.1:80", 1)], "the list read first stays");
    assert_eq!(d.revision(), 5);
    for sent in sent_per_watch.lock().unwrap().iter() {
        // 64 KiB allowed; the rest is what socket buffers took.
        assert!(*sent < 32 << 20, "{sent} bytes went into one watch");
    }
}

#[test]
fn an_endless_watch_message_in_small_chunks_is_cut_and_the_watcher_retries() {
    endless_watch_message(Framing::SmallChunks);
}

#[test]
fn an_endless_watch_message_in_one_huge_chunk_is_cut_and_the_watcher_retries() {
    endless_watch_message(Framing::OneHugeChunk);
}

#[test]
fn an_endless_unframed_watch_body_is_cut_and_the_watcher_retries() {
    endless_watch_message(Framing::UntilClose);
}
