//! The streaming client's header point (Workflow's `extract_on_header`),
//! chunk access through the task, stopping from `extract`, and an endless
//! chunked reply kept bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use wf_core::State;
use wf_http::{HttpClient, HttpTask, create_http_chunked_task};

/// A server for one connection: reads the request head, then runs `serve`.
fn one_shot(serve: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(testkit::WAIT)).unwrap();
        s.set_nodelay(true).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match s.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        serve(s);
    });
    addr
}

/// Reads until the peer closes the connection (true) or `WAIT` passes.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Head { status: u16, stream: Option<String>, method: String },
    Chunk { text: String, status: u16 },
}

fn events_of(t: &HttpClient) -> Event {
    match t.chunk() {
        None => Event::Head {
            status: t.resp().status_code(),
            stream: t.resp().header("x-stream").map(str::to_string),
            method: t.req().method().to_string(),
        },
        Some(c) => Event::Chunk { text: String::from_utf8_lossy(c).into_owned(), status: t.resp().status_code() },
    }
}

type Done = (State, i32, bool, u16, usize);

fn done(t: &mut HttpTask) -> Done {
    (t.state(), t.error_code(), t.is_stopped(), t.resp().status_code(), t.resp().body_len())
}

#[test]
fn headers_come_before_the_first_chunk_and_chunks_in_order() {
    const CHUNKS: usize = 5;
    let (saw_head_tx, saw_head_rx) = mpsc::channel::<()>();
    let addr = one_shot(move |mut s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nX-Stream: yes\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        // The first chunk is not even sent before the task saw the head.
        if saw_head_rx.recv_timeout(testkit::WAIT).is_err() {
            return;
        }
        for i in 0..CHUNKS {
            let data = format!("chunk-{i};");
            s.write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes()).unwrap();
            thread::sleep(Duration::from_millis(30));
        }
        let _ = s.write_all(b"0\r\n\r\n");
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let saw_head_tx = Mutex::new(Some(saw_head_tx));
    let (tx, rx) = mpsc::channel();
    let mut task = create_http_chunked_task(
        &format!("http://{addr}/s"),
        0,
        move |t| {
            let event = events_of(t);
            if matches!(event, Event::Head { .. }) {
                let _ = saw_head_tx.lock().unwrap().take().map(|tx| tx.send(()));
            }
            seen.lock().unwrap().push(event);
        },
        move |t| tx.send(done(t)).unwrap(),
    );
    task.req_mut().set_method("POST");
    task.extract_on_header(true);
    task.set_chunk_timeout(testkit::WAIT);
    task.start();
    let outcome = rx.recv_timeout(testkit::WAIT * 2).unwrap();
    assert_eq!(outcome, (State::Success, 0, false, 200, 0));
    let events = events.lock().unwrap();
    assert_eq!(
        events[0],
        Event::Head { status: 200, stream: Some("yes".into()), method: "POST".into() },
        "the header call comes first, with the request as set: {events:?}"
    );
    // Every chunk, in order; a piece never spans two chunks.
    let mut text = String::new();
    for e in &events[1..] {
        let Event::Chunk { text: piece, status } = e else { panic!("a second header call: {events:?}") };
        assert_eq!(*status, 200, "resp() holds the head while chunks arrive");
        assert_eq!(piece.matches(';').count(), usize::from(piece.ends_with(';')), "{piece:?} spans chunks");
        text.push_str(piece);
    }
    let all: String = (0..CHUNKS).map(|i| format!("chunk-{i};")).collect();
    assert_eq!(text, all);
}

#[test]
fn without_the_header_point_extract_sees_chunks_only() {
    let addr = one_shot(|mut s| {
        s.write_all(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").unwrap();
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let (tx, rx) = mpsc::channel();
    create_http_chunked_task(
        &format!("http://{addr}/"),
        0,
        move |t| seen.lock().unwrap().push(events_of(t)),
        move |t| tx.send(done(t)).unwrap(),
    )
    .start();
    assert_eq!(rx.recv_timeout(testkit::WAIT).unwrap(), (State::Success, 0, false, 201, 0));
    assert_eq!(*events.lock().unwrap(), [Event::Chunk { text: "abc".into(), status: 201 }]);
}

#[test]
fn extract_can_stop_at_the_header() {
    let closed = Arc::new(AtomicBool::new(false));
    let saw_close = closed.clone();
    let addr = one_shot(move |mut s| {
        // A 404 head, then silence: the body never comes.
        s.write_all(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        saw_close.store(closed_by_peer(&mut s), Ordering::SeqCst);
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let (tx, rx) = mpsc::channel();
    let mut task = create_http_chunked_task(
        &format!("http://{addr}/"),
        0,
        move |t| {
            counted.fetch_add(1, Ordering::SeqCst);
            if t.chunk().is_none() && t.resp().status_code() != 200 {
                t.stop();
            }
        },
        move |t| tx.send((done(t), t.req().method().to_string())).unwrap(),
    );
    task.extract_on_header(true);
    // Far longer than the test may take: the stop, not a timeout, ends it.
    task.set_chunk_timeout(Duration::from_secs(60));
    let started = Instant::now();
    task.start();
    let (outcome, method) = rx.recv_timeout(testkit::WAIT).unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(outcome, (State::Success, 0, true, 404, 0));
    assert_eq!((method.as_str(), calls.load(Ordering::SeqCst)), ("GET", 1));
    // The connection was closed, not kept with a body half read.
    assert!(testkit::wait_until(testkit::WAIT, || closed.load(Ordering::SeqCst)), "the connection stayed open");
}

/// Writes 16 KiB chunks until the peer goes, or 30 s or 4 GiB pass (a
/// bound on the test, never reached when wf behaves); true when the peer
/// closed the connection.
fn flood(s: &mut TcpStream) -> bool {
    const CHUNK: usize = 16 << 10;
    let mut frame = format!("{CHUNK:x}\r\n").into_bytes();
    frame.extend(std::iter::repeat_n(b'x', CHUNK));
    frame.extend_from_slice(b"\r\n");
    if s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err() {
        return true;
    }
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    let mut sent = 0usize;
    while Instant::now() < until && sent < 4 << 30 {
        match s.write_all(&frame) {
            Ok(()) => sent += frame.len(),
            Err(e) => return e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut,
        }
    }
    false
}

#[test]
fn an_endless_chunked_reply_is_bounded() {
    // 1. extract stops after 8 MiB: nothing accumulated on the way (each
    //    piece is at most one 16 KiB chunk), and the connection goes.
    let closed = Arc::new(AtomicBool::new(false));
    let saw_close = closed.clone();
    let addr = one_shot(move |mut s| saw_close.store(flood(&mut s), Ordering::SeqCst));
    let (bytes, largest) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (b, l) = (bytes.clone(), largest.clone());
    let (tx, rx) = mpsc::channel();
    create_http_chunked_task(
        &format!("http://{addr}/"),
        0,
        move |t| {
            let n = t.chunk().map_or(0, |c| c.len());
            l.fetch_max(n, Ordering::SeqCst);
            if b.fetch_add(n, Ordering::SeqCst) + n >= 8 << 20 {
                t.stop();
            }
        },
        move |t| tx.send(done(t)).unwrap(),
    )
    .start();
    assert_eq!(rx.recv_timeout(testkit::WAIT * 4).unwrap(), (State::Success, 0, true, 200, 0));
    assert!(bytes.load(Ordering::SeqCst) >= 8 << 20);
    assert!(largest.load(Ordering::SeqCst) <= 16 << 10, "a piece of {} bytes", largest.load(Ordering::SeqCst));
    assert!(testkit::wait_until(testkit::WAIT, || closed.load(Ordering::SeqCst)), "the flood went on");

    // 2. With a response size limit and no stop, the task fails at the
    //    limit (EMSGSIZE) having delivered no more than it.
    let addr = one_shot(|mut s| {
        flood(&mut s);
    });
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let (tx, rx) = mpsc::channel();
    let mut task = create_http_chunked_task(
        &format!("http://{addr}/"),
        0,
        move |t| {
            g.fetch_add(t.chunk().map_or(0, |c| c.len()), Ordering::SeqCst);
        },
        move |t| tx.send(done(t)).unwrap(),
    );
    task.set_response_size_limit(Some(1 << 20));
    task.start();
    let (state, code, stopped, ..) = rx.recv_timeout(testkit::WAIT * 4).unwrap();
    assert_eq!((state, code, stopped), (State::SysError, libc::EMSGSIZE, false));
    let delivered = got.load(Ordering::SeqCst);
    assert!(delivered > 0 && delivered <= 1 << 20, "{delivered} bytes delivered");
}
