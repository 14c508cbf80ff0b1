//! HTTP client fault injection: a keep-alive connection the server closes
//! as it is reused (a `GET` is sent again, a `POST` is not), a response
//! cut in the middle (never sent again unasked), and an in-process
//! `HttpServer` stopped and started again on the same port while tasks
//! keep coming: every callback runs once, with a clear state, in time,
//! and tasks after the restart succeed. (The rules are
//! `ClientProtocol`'s "Retry rules".)

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use support::{RawServer, Reply, WAIT, fetch, response};
use wf_core::{Error, State};
use wf_http::{HttpServer, create_http_task};

/// Answers each connection's requests but the second, on which it closes
/// without a reply.
fn on_conn_second_closes() -> RawServer {
    let per_conn = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<usize, usize>::new()));
    RawServer::spawn(move |seen| {
        let mut m = per_conn.lock().unwrap();
        let k = m.entry(seen.conn).or_default();
        *k += 1;
        if *k == 2 {
            Reply::Close
        } else {
            Reply::Send(response("200 OK", &[], &format!("{} {}", seen.method, seen.target)))
        }
    })
}

#[test]
fn get_on_a_connection_closed_at_reuse_is_sent_again() {
    let server = on_conn_second_closes();
    assert_eq!(fetch(&server.url("/a"), 0, 0, |_| {}).ok().body(), "GET /a");
    let o = fetch(&server.url("/b"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "GET /b");
    assert_eq!(server.accepts(), 2);
    // Seen: /a and /b on the first connection, /b again on the second.
    let targets: Vec<(usize, String)> = server.seen().into_iter().map(|s| (s.conn, s.target)).collect();
    assert_eq!(targets, [(0, "/a".into()), (0, "/b".into()), (1, "/b".into())]);
}

#[test]
fn post_on_a_connection_closed_at_reuse_is_not_sent_again() {
    let server = on_conn_second_closes();
    assert_eq!(fetch(&server.url("/a"), 0, 0, |_| {}).ok().body(), "GET /a");
    let o = fetch(&server.url("/order"), 0, 0, |t| {
        t.req_mut().set_method("POST");
        t.req_mut().append_body("buy one");
    });
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNRESET), "{}", o.error);
    assert_eq!(server.accepts(), 1);
    assert_eq!(server.seen().iter().filter(|s| s.method == "POST").count(), 1, "the POST was sent twice");
    // With retry_max the task asked for it: sent again, and answered.
    let o = fetch(&server.url("/order"), 0, 1, |t| {
        t.req_mut().set_method("POST");
        t.req_mut().append_body("buy one");
    });
    // (The pooled connection from /a is gone; this one is fresh.)
    assert_eq!(o.ok().body(), "POST /order");
}

/// A response cut in the middle (its `Content-Length` not reached) then a
/// close: `SYS_ERROR`, and the request is not sent again (its reply began),
/// even for a `GET`.
#[test]
fn response_cut_in_the_middle_is_never_sent_again() {
    let server = RawServer::spawn(|_| {
        let mut r = response("200 OK", &[], &"x".repeat(100));
        r.truncate(r.len() - 50);
        Reply::SendAndClose(r)
    });
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNRESET), "{}", o.error);
    assert_eq!(server.accepts(), 1);
    assert_eq!(server.seen().len(), 1);
}

/// A head cut in the middle, then a close: the same (the codec calls a
/// partial head at the end of the stream a bad message today).
#[test]
fn head_cut_in_the_middle_fails_once() {
    let server = RawServer::spawn(|_| Reply::SendAndClose(b"HTTP/1.1 200 OK\r\nContent-Le".to_vec()));
    let o = fetch(&server.url("/"), 0, 0, |_| {});
    assert_eq!(o.state, State::SysError, "{}", o.error);
    assert!([libc::ECONNRESET, libc::EBADMSG].contains(&o.error.code()), "{:?}: {}", o.error, o.error);
    assert_eq!(server.seen().len(), 1);
}

fn echo_server() -> HttpServer {
    HttpServer::new(|task| {
        let body = task.req().request_uri().to_owned();
        task.resp_mut().append_body(body);
    })
}

/// Starts `n` GETs to `base` + `/i` and returns (callbacks run, outcomes
/// by task) once all ran; panics if one is missing after `WAIT` or runs
/// twice.
fn burst(base: &str, n: usize, retry_max: u32, calls: &Arc<AtomicUsize>) -> Vec<(State, Error, String)> {
    let (tx, rx) = mpsc::channel();
    for i in 0..n {
        let (tx, calls) = (tx.clone(), calls.clone());
        let mut t = create_http_task(&format!("{base}/{i}"), 0, retry_max, move |t| {
            calls.fetch_add(1, Ordering::SeqCst);
            let e = t.error().cloned().unwrap_or_else(|| Error::new(t.state(), 0));
            let _ = tx.send((i, t.state(), e, String::from_utf8_lossy(&t.resp().body()).into_owned()));
        });
        t.set_keep_alive(Duration::from_secs(30));
        t.start();
    }
    let mut out = vec![None; n];
    for _ in 0..n {
        let (i, state, e, body) = rx.recv_timeout(WAIT).expect("every callback runs within WAIT");
        assert!(out[i].replace((state, e, body)).is_none(), "task {i}'s callback ran twice");
    }
    out.into_iter().map(Option::unwrap).collect()
}

/// An `HttpServer` stopped while GETs keep coming, then started again on
/// the same port: each callback runs once, a success (with its own body)
/// or a connection error; those after the restart all succeed, on
/// connections pooled before the stop included.
#[test]
fn server_stopped_and_restarted_under_load() {
    let server = echo_server();
    let addr = support::start(&server);
    let base = format!("http://{addr}");
    let calls = Arc::new(AtomicUsize::new(0));
    // Fill the pool.
    for (i, (state, e, body)) in burst(&base, 50, 0, &calls).into_iter().enumerate() {
        assert_eq!((state, body), (State::Success, format!("/{i}")), "{e}");
    }
    // Tasks racing the stop.
    let racing = {
        let (base, calls) = (base.clone(), calls.clone());
        std::thread::spawn(move || {
            let mut all = Vec::new();
            for _ in 0..10 {
                all.extend(burst(&base, 30, 0, &calls));
            }
            all
        })
    };
    std::thread::sleep(Duration::from_millis(5));
    server.stop();
    let raced = racing.join().unwrap();
    let mut failed = 0;
    for (i, (state, e, body)) in raced.iter().enumerate() {
        match state {
            State::Success => assert_eq!(body, &format!("/{}", i % 30)),
            _ => {
                failed += 1;
                assert_eq!(*state, State::SysError, "{e}");
                assert!(
                    [libc::ECONNREFUSED, libc::ECONNRESET, libc::EPIPE, libc::ENOTCONN].contains(&e.code()),
                    "{e:?}: {e}"
                );
            }
        }
    }
    // While stopped: refused.
    let (state, e, _) = burst(&base, 1, 0, &calls).pop().unwrap();
    assert_eq!((state, e.code()), (State::SysError, libc::ECONNREFUSED), "{e}");
    // Started again on the same port: everything succeeds.
    let again = echo_server();
    again.start_on("127.0.0.1", addr.port()).expect("the port is free again");
    for (i, (state, e, body)) in burst(&base, 100, 0, &calls).into_iter().enumerate() {
        assert_eq!((state, body), (State::Success, format!("/{i}")), "{e}");
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), 50 + 300 + 1 + 100, "a callback ran twice");
    eprintln!("racing the stop: {failed} of 300 failed with a connection error");
    again.stop();
}
