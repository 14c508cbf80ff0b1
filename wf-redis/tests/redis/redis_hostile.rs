//! Issue 12's RESP findings, replayed with raw sockets and exact bytes.
//!
//! Hostile clients against a `RedisServer`: a nesting bomb (`*1\r\n`
//! 10,000 times aborted the process), lengths and counts redis-server
//! refuses (`invalid bulk length`, `invalid multibulk length`, which wf
//! left waiting), requests over the size limit (the default 1 MiB and an
//! explicit one), and a 1,000,000-argument request dripped in small
//! pieces (quadratic before: re-parsed on every read). Each is answered
//! with redis-server's `-ERR Protocol error: …` and the connection
//! closes; the server keeps serving.
//!
//! Hostile servers against wf clients (a `RawServer` playing Redis): a
//! nesting bomb fails the task with `EBADMSG` (it overflowed the stack),
//! on pipelined, pooled and subscriber connections alike; a reply
//! declaring a huge array fails by the size limit or waits for its data
//! without allocating for it (it spun at 100 % CPU and 1 GB).

use crate::support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use support::{NONE, WAIT, exec, run, start_local};
use testkit::RawServer;
use wf_core::State;
use wf_core::net::ServerParams;
use wf_redis::{Redis, RedisServer, RedisServerTask, RedisSubscriber, RedisValue, create_redis_task_with};

// ---------------------------------------------------------------------------
// Hostile clients

/// `PING` is `+PONG`; any other command is answered with its number of
/// words.
fn counting(task: &mut RedisServerTask) {
    let reply = match task.req().commands().next() {
        Some(c) if c[0].eq_ignore_ascii_case(b"PING") => RedisValue::status("PONG"),
        Some(c) => RedisValue::Integer(c.len() as i64),
        None => RedisValue::error("ERR none"),
    };
    task.resp_mut().set_result(reply);
}

fn server_with_limit(limit: Option<usize>) -> (RedisServer, u16) {
    let mut params = ServerParams::default();
    params.request_size_limit = limit;
    let server = RedisServer::with_params(params, counting);
    let port = start_local(&server);
    (server, port)
}

/// Writes `bytes` on a new connection and reads until the server closes
/// it: what came back. Panics if the connection stays open for
/// [`WAIT`]. A write cut short by the close, or a reset for bytes the
/// server left unread, is the close.
#[track_caller]
fn until_closed(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let _ = c.write_all(bytes);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("the connection was not closed ({e}); received {:?}", out.escape_ascii().to_string()),
        }
    }
}

/// The server still answers, on a new connection.
#[track_caller]
fn still_serves(port: u16) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 7];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn a_nesting_bomb_is_refused_and_the_server_lives() {
    let (server, port) = server_with_limit(Some(1 << 20));
    let bomb = b"*1\r\n".repeat(10_000);
    assert_eq!(until_closed(port, &bomb), b"-ERR Protocol error: expected '$', got '*'\r\n");
    // A command before it is answered first.
    let mut wire = b"*1\r\n$4\r\nPING\r\n".to_vec();
    wire.extend_from_slice(&bomb);
    assert_eq!(until_closed(port, &wire), b"+PONG\r\n-ERR Protocol error: expected '$', got '*'\r\n");
    still_serves(port);
    server.stop();
}

#[test]
fn lengths_redis_server_refuses_are_refused_alike() {
    let (server, port) = server_with_limit(None);
    let cases: &[(&[u8], &[u8])] = &[
        (b"*1\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*2147483648\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n:4\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    ];
    for (wire, answer) in cases {
        assert_eq!(until_closed(port, wire), *answer, "{}", wire.escape_ascii());
    }
    // As redis-server: a count up to 2^31 - 1 and a bulk of 512 MiB wait
    // for their data (no limit is set here, so 1 GiB); `*-5` and `*0` are
    // no command.
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(b"*-5\r\n*0\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$536870912\r\n").unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b":2\r\n");
    still_serves(port);
    drop(c);
    server.stop();
}

#[test]
fn a_million_arguments_in_small_pieces() {
    const N: usize = 1_000_000;
    let (server, port) = server_with_limit(Some(64 << 20));
    let mut wire = format!("*{}\r\n$4\r\nMSET\r\n", N + 1).into_bytes();
    for i in 0..N {
        let arg = (i % 100).to_string();
        wire.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    for piece in wire.chunks(512) {
        c.write_all(piece).unwrap();
    }
    let mut buf = [0u8; 10];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b":1000001\r\n");
    server.stop();
}

#[test]
fn requests_over_an_explicit_limit_are_refused() {
    let (server, port) = server_with_limit(Some(4096));
    let text = "-ERR Protocol error: request too large (limit 4096 bytes)\r\n";
    // Declared: refused at the header, before the data is sent.
    assert_eq!(until_closed(port, b"*2\r\n$3\r\nSET\r\n$5000\r\n"), text.as_bytes());
    assert_eq!(until_closed(port, b"*1000\r\n"), text.as_bytes());
    // Small arguments past the limit: refused as the buffer passes it.
    let mut wire = b"*600\r\n".to_vec();
    wire.extend(b"$1\r\nx\r\n".repeat(600));
    assert_eq!(until_closed(port, &wire), text.as_bytes());
    // An inline command over the limit.
    assert_eq!(until_closed(port, &[b'a'; 5000]), b"-ERR Protocol error: too big inline request\r\n");
    // What fits is served.
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let mut wire = b"*2\r\n$3\r\nSET\r\n$4000\r\n".to_vec();
    wire.extend([b'v'; 4000]);
    wire.extend(b"\r\n");
    c.write_all(&wire).unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b":2\r\n");
    server.stop();
}

#[test]
fn the_default_request_limit_is_1_mib() {
    use wf_core::net::ServerProtocol;
    assert_eq!(Redis::default().server_params().request_size_limit, Some(1 << 20));
    let server = RedisServer::new(counting);
    let port = start_local(&server);
    let text = b"-ERR Protocol error: request too large (limit 1048576 bytes)\r\n";
    assert_eq!(until_closed(port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n"), text);
    let mut wire = b"*170000\r\n".to_vec();
    wire.extend(b"$1\r\nx\r\n".repeat(170_000));
    assert_eq!(until_closed(port, &wire), text);
    // Just under it: served.
    let o = exec(&format!("redis://127.0.0.1:{port}"), "SET", [&b"k"[..], &vec![b'v'; (1 << 20) - 64]]);
    assert_eq!(o.value(), &RedisValue::Integer(3));
    server.stop();
}

// ---------------------------------------------------------------------------
// Hostile servers

/// A server that reads a request, then writes `reply` and closes.
fn hostile(reply: Vec<u8>) -> RawServer {
    RawServer::spawn(move |mut s| {
        let mut buf = [0u8; 1024];
        if matches!(s.read(&mut buf), Ok(n) if n > 0) {
            let _ = s.write_all(&reply);
        }
    })
}

fn url(server: &RawServer) -> String {
    format!("redis://{}", server.addr())
}

#[test]
fn a_nesting_bomb_fails_the_task() {
    let server = hostile(b"*1\r\n".repeat(10_000));
    // Pipelined (GET) and pooled (BLPOP) connections.
    let o = exec(&url(&server), "GET", ["k"]);
    o.assert_failed(State::SysError, libc::EBADMSG);
    let o = exec(&url(&server), "BLPOP", ["q", "0"]);
    o.assert_failed(State::SysError, libc::EBADMSG);
    // Deep but within 128 levels: a value.
    let mut deep = b"*1\r\n".repeat(127);
    deep.extend_from_slice(b":1\r\n");
    let server = hostile(deep);
    let mut v = exec(&url(&server), "GET", ["k"]).value().clone();
    let mut depth = 0;
    while let RedisValue::Array(mut a) = v {
        v = a.pop().unwrap();
        depth += 1;
    }
    assert_eq!((depth, v), (127, RedisValue::Integer(1)));
}

#[test]
fn a_nesting_bomb_ends_a_subscription() {
    let server = hostile(b"*1\r\n".repeat(10_000));
    let (tx, rx) = mpsc::channel();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let task = RedisSubscriber::new(&url(&server)).create_subscribe_task(
        ["ch"],
        move |_, v| s.lock().unwrap().push(v),
        move |t| {
            let _ = tx.send((t.state(), t.error().map(wf_core::Error::code)));
        },
    );
    task.start();
    let (state, code) = rx.recv_timeout(WAIT).expect("the subscription ends");
    assert_eq!((state, code), (State::SysError, Some(libc::EBADMSG)));
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn a_huge_array_fails_by_the_limit_or_waits_for_its_data() {
    // More elements than the size limit (512 MiB) could hold: at once.
    let server = hostile(b"*2147483647\r\n".to_vec());
    exec(&url(&server), "GET", ["k"]).assert_failed(State::SysError, libc::EMSGSIZE);
    let server = hostile(b"*200000000\r\n".to_vec());
    exec(&url(&server), "GET", ["k"]).assert_failed(State::SysError, libc::EMSGSIZE);
    // One that could fit: the task waits for data that never comes, then
    // fails when the server closes (before: 100 % CPU, 1 GB).
    let server = hostile(b"*100000000\r\n:1\r\n:2\r\n".to_vec());
    exec(&url(&server), "GET", ["k"]).assert_failed(State::SysError, libc::ECONNRESET);
    // Elements streamed without end: the size limit ends it.
    let server = RawServer::spawn(|mut s| {
        let mut buf = [0u8; 1024];
        if matches!(s.read(&mut buf), Ok(n) if n > 0) {
            let _ = s.write_all(b"*100000000\r\n");
            let chunk = b":1\r\n".repeat(1024);
            while s.write_all(&chunk).is_ok() {}
        }
    });
    let mut t = create_redis_task_with(Redis::with_size_limit(1 << 20), &url(&server), 0, |_| {});
    t.set_request("GET", ["k"]);
    run(t).assert_failed(State::SysError, libc::EMSGSIZE);
}

#[test]
fn a_reply_dripped_byte_by_byte() {
    let (tx, rx) = mpsc::channel();
    let server = RawServer::spawn(move |mut s| {
        let mut req = [0u8; 14];
        s.read_exact(&mut req).unwrap();
        let _ = tx.send(req);
        for b in b"*3\r\n$2\r\nhi\r\n:-7\r\n*0\r\n" {
            s.write_all(&[*b]).unwrap();
        }
        testkit::drain(s);
    });
    let o = exec(&url(&server), "PING", NONE);
    assert_eq!(&rx.recv_timeout(WAIT).unwrap(), b"*1\r\n$4\r\nPING\r\n");
    let expected = RedisValue::Array(vec![RedisValue::from("hi"), RedisValue::Integer(-7), RedisValue::Array(vec![])]);
    assert_eq!(o.value(), &expected);
}
