//! Hostile servers against the HTTP client (issue 12): an endless or
//! oversized response fails with `EMSGSIZE` at the task's response size
//! limit (64 MiB by default) instead of growing without bound; a response
//! dripped forever ends at the task's deadline; a streaming task, which
//! buffers nothing, has no size limit.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, sleep};
use std::time::Duration;

use support::fetch;
use wf_core::{State, TimeoutReason};
use wf_http::create_http_chunked_task;

/// A server that answers every connection with `head`, then `body_piece`
/// over and over until the client goes away (or `pieces` were sent).
fn hostile(head: &'static str, body_piece: Vec<u8>, pieces: usize, gap: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            let piece = body_piece.clone();
            thread::spawn(move || serve(&mut s, head, &piece, pieces, gap));
        }
    });
    format!("http://127.0.0.1:{port}/")
}

fn serve(s: &mut TcpStream, head: &str, piece: &[u8], pieces: usize, gap: Duration) {
    let mut req = [0u8; 4096];
    let _ = s.read(&mut req);
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    for _ in 0..pieces {
        if s.write_all(piece).is_err() {
            return;
        }
        if !gap.is_zero() {
            sleep(gap);
        }
    }
}

fn chunk(size: usize) -> Vec<u8> {
    let mut c = format!("{size:x}\r\n").into_bytes();
    c.extend(std::iter::repeat_n(b'z', size));
    c.extend_from_slice(b"\r\n");
    c
}

#[test]
fn an_endless_chunked_body_fails_at_the_task_limit() {
    let url = hostile("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk(4096), usize::MAX, Duration::ZERO);
    let o = fetch(&url, 0, 0, |t| t.set_response_size_limit(Some(1 << 20)));
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::EMSGSIZE), "{}", o.error);
}

#[test]
fn a_10_gb_content_length_fails_at_the_default_limit() {
    // The default is 64 MiB: the old client grew to the whole body.
    let url = hostile(
        "HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\n",
        vec![b'z'; 64 << 10],
        usize::MAX,
        Duration::ZERO,
    );
    let o = fetch(&url, 0, 0, |_| {});
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::EMSGSIZE), "{}", o.error);
}

#[test]
fn a_body_read_until_close_fails_at_the_task_limit() {
    let url = hostile("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", vec![b'z'; 8192], usize::MAX, Duration::ZERO);
    let o = fetch(&url, 0, 0, |t| t.set_response_size_limit(Some(256 << 10)));
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::EMSGSIZE), "{}", o.error);
}

#[test]
fn a_dripped_response_ends_at_the_deadline() {
    // One byte every 50 ms: each read is well within the 10 s response
    // timeout, so only the deadline ends it.
    let url =
        hostile("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", vec![b'z'], usize::MAX, Duration::from_millis(50));
    let o = fetch(&url, 0, 0, |t| t.set_deadline(Duration::from_millis(600)));
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ETIMEDOUT), "{}", o.error);
    assert_eq!(o.error.timeout_reason(), TimeoutReason::Deadline);
}

#[test]
fn a_streaming_task_has_no_size_limit() {
    // 80 MiB, past the 64 MiB default, in 64 KiB chunks, then the end.
    let pieces = 80 * 16;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        serve(
            &mut s,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            &chunk(64 << 10),
            pieces,
            Duration::ZERO,
        );
        let _ = s.write_all(b"0\r\n\r\n");
    });
    let got = Arc::new(AtomicUsize::new(0));
    let counted = got.clone();
    let (tx, rx) = mpsc::channel();
    let task = create_http_chunked_task(
        &format!("http://127.0.0.1:{port}/"),
        0,
        move |t| {
            counted.fetch_add(t.chunk().map_or(0, |piece| piece.len()), Ordering::Relaxed);
        },
        move |t| {
            let _ = tx.send((t.state(), t.error_code()));
        },
    );
    task.start();
    let (state, code) = testkit::recv(&rx);
    assert_eq!((state, code), (State::Success, 0));
    assert_eq!(got.load(Ordering::Relaxed), pieces * (64 << 10));
}

#[test]
fn an_oversized_reply_is_not_retried() {
    // The same request would get the same reply: retry_max does not
    // apply to EMSGSIZE.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            counted.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || {
                serve(&mut s, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n", &[b'z'; 4096], 256, Duration::ZERO)
            });
        }
    });
    let o = fetch(&format!("http://127.0.0.1:{port}/"), 0, 3, |t| t.set_response_size_limit(Some(64 << 10)));
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::EMSGSIZE), "{}", o.error);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
