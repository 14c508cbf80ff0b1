//! Streaming both ways: `HttpStream` writes pieces as they are produced and
//! `create_http_chunked_task` calls back per piece as it arrives.

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use wf_core::State;
use wf_http::{HttpServer, HttpStream, create_http_chunked_task, create_http_task};

fn sse_server() -> HttpServer {
    let server = HttpServer::new(|task| {
        task.resp_mut().set_header("Content-Type", "text/event-stream");
        task.resp_mut().append_body("data: start\n\n");
        let stream = HttpStream::begin(task);
        wf_core::series_of(task).push_back(wf_core::create_go_task("sse-test", move || {
            for i in 0..3 {
                std::thread::sleep(Duration::from_millis(100));
                assert!(stream.send(format!("data: {i}\n\n")));
            }
        }));
        // Appended after begin: goes out as the last piece.
        task.resp_mut().append_body("data: end\n\n");
    });
    server.start_on("127.0.0.1", 0).unwrap();
    server
}

#[test]
fn pieces_arrive_as_they_are_produced() {
    let server = sse_server();
    let url = format!("http://127.0.0.1:{}/events", server.listen_addr().unwrap().port());
    let start = Instant::now();
    let pieces = Arc::new(Mutex::new(Vec::new()));
    let seen = pieces.clone();
    let (tx, rx) = mpsc::channel();
    let mut task = create_http_chunked_task(
        &url,
        0,
        move |t| {
            let piece = t.chunk().expect("no header call unless asked for");
            seen.lock().unwrap().push((start.elapsed(), String::from_utf8_lossy(piece).into_owned()));
        },
        move |t| tx.send((t.state(), t.error_text(), t.resp().status_code(), t.resp().body_len())).unwrap(),
    );
    task.set_watch_timeout(Duration::from_secs(2));
    task.set_chunk_timeout(Duration::from_secs(2));
    task.start();
    let (state, err, status, body_len) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(state, State::Success, "{err}");
    assert_eq!((status, body_len), (200, 0));
    let pieces = pieces.lock().unwrap();
    let text: String = pieces.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(text, "data: start\n\ndata: 0\n\ndata: 1\n\ndata: 2\n\ndata: end\n\n");
    // The first piece came long before the last: delivered as produced.
    let first = pieces.first().unwrap().0;
    let last = pieces.last().unwrap().0;
    assert!(last - first >= Duration::from_millis(250), "{pieces:?}");
    assert!(pieces.len() >= 4, "{pieces:?}");
    server.stop();
}

#[test]
fn a_plain_task_reads_the_whole_stream() {
    let server = sse_server();
    let url = format!("http://127.0.0.1:{}/events", server.listen_addr().unwrap().port());
    let (tx, rx) = mpsc::channel();
    create_http_task(&url, 0, 0, move |t| {
        tx.send((t.state(), t.resp().is_chunked(), t.resp().body())).unwrap();
    })
    .start();
    let (state, chunked, body) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!((state, chunked), (State::Success, true));
    assert_eq!(&body[..], b"data: start\n\ndata: 0\n\ndata: 1\n\ndata: 2\n\ndata: end\n\n");
    server.stop();
}

#[test]
fn silence_between_pieces_times_out() {
    let server = HttpServer::new(|task| {
        let stream = HttpStream::begin(task);
        stream.send("first");
        wf_core::series_of(task).push_back(wf_core::create_go_task("sse-test", || {
            std::thread::sleep(Duration::from_millis(800));
        }));
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let url = format!("http://127.0.0.1:{}/", server.listen_addr().unwrap().port());
    let (tx, rx) = mpsc::channel();
    let got = Arc::new(Mutex::new(String::new()));
    let g = got.clone();
    let mut task = create_http_chunked_task(
        &url,
        0,
        move |t| g.lock().unwrap().push_str(&String::from_utf8_lossy(t.chunk().unwrap())),
        move |t| tx.send(t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0))).unwrap(),
    );
    task.set_chunk_timeout(Duration::from_millis(200));
    task.start();
    let e = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(e.timeout_reason(), wf_core::TimeoutReason::Transmit);
    assert_eq!(*got.lock().unwrap(), "first");
    server.stop();
}
