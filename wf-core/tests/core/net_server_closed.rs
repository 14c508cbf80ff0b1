//! `ServerTask::closed()`: true once the client is gone before the
//! reply, seen from `process` and from later tasks of the series, over
//! TCP and Unix sockets.
#![cfg(feature = "net")]

use crate::support;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::net::{connect, encode, round_trip, start_local};
use support::{Log, WAIT, wait_until};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, ServerKind};
use wf_core::{State, series_of};
use wf_timer::{TimerTask, create_timer_task};

/// A step of "expensive work": every 20 ms, at most `left` more times,
/// it asks whether the client is still there, and stops when it is not.
fn work_step(left: u32, gone: mpsc::Sender<bool>) -> TimerTask {
    create_timer_task(Duration::from_millis(20), move |t| {
        let closed = series_of(t).last_task_mut::<ServerKind<Tlv>>().expect("the server task").closed();
        if closed || left == 0 {
            let _ = gone.send(closed);
        } else {
            series_of(t).push_back(work_step(left - 1, gone));
        }
    })
}

/// A server whose requests `work` run up to 10 s unless the client goes
/// (`short`: 100 ms); all are echoed. Tells whether `process` saw the client
/// there, whether the work saw it gone, and the server tasks' states.
fn server() -> (Server<Tlv>, mpsc::Receiver<bool>, mpsc::Receiver<bool>, Log<State>) {
    let (seen_tx, seen) = mpsc::channel();
    let (gone_tx, gone) = mpsc::channel();
    let states = Log::new();
    let log = states.clone();
    let server = Server::new(Tlv::default(), move |task| {
        let req = task.req().clone();
        *task.resp_mut() = req.clone();
        let steps = match req.value().as_ref() {
            b"work" => 500,
            b"short" => 5,
            _ => return,
        };
        let _ = seen_tx.send(task.closed());
        let log = log.clone();
        task.set_callback(move |t| log.push(t.state()));
        series_of(task).push_back(work_step(steps, gone_tx.clone()));
    });
    (server, seen, gone, states)
}

#[test]
fn closed_turns_true_when_a_tcp_client_leaves_mid_request() {
    let (server, seen, gone, states) = server();
    let addr = start_local(&server);
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, b"ping"), TlvMessage::new(1, "ping"));
    s.write_all(&encode(1, b"work")).unwrap();
    assert_eq!(seen.recv_timeout(WAIT), Ok(false), "the client is there while process runs");
    let left = Instant::now();
    drop(s);
    assert_eq!(gone.recv_timeout(WAIT), Ok(true), "the work saw the client gone");
    assert!(left.elapsed() < Duration::from_secs(5), "noticed long after: {:?}", left.elapsed());
    // The task still finishes: its reply goes to a socket the client
    // closed (the kernel may take it before the client's reset comes).
    assert!(wait_until(WAIT, || states.len() == 1));
    assert!(matches!(states.get()[..], [State::Success | State::SysError]), "{:?}", states.get());
    server.stop();
}

#[test]
fn closed_stays_false_while_the_client_waits() {
    let (server, seen, gone, states) = server();
    let addr = start_local(&server);
    let mut s = connect(addr);
    s.write_all(&encode(1, b"short")).unwrap();
    assert_eq!(seen.recv_timeout(WAIT), Ok(false));
    assert_eq!(gone.recv_timeout(WAIT), Ok(false), "the work ran to its end, the client there");
    assert_eq!(support::net::read_tlv(&mut s).unwrap(), Some(TlvMessage::new(1, "short")));
    assert!(wait_until(WAIT, || states.len() == 1));
    assert_eq!(states.get(), [State::Success]);
    server.stop();
}

#[test]
fn closed_turns_true_when_a_unix_client_leaves() {
    let (server, seen, gone, _states) = server();
    let dir = std::env::temp_dir().join(format!("wf-closed-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    server.start_unix(&path).unwrap();
    let mut s = UnixStream::connect(&path).unwrap();
    s.write_all(&encode(1, b"work")).unwrap();
    assert_eq!(seen.recv_timeout(WAIT), Ok(false));
    drop(s);
    assert_eq!(gone.recv_timeout(WAIT), Ok(true));
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Over TLS, with wf's own client giving up (its watch timeout) and
/// closing its connection while the request is processed.
#[cfg(feature = "tls")]
#[test]
fn closed_turns_true_when_a_tls_client_gives_up() {
    use wf_core::net::tls::{TlsClient, TlsServer};
    let ca = testkit::Pki::new("wf closed test CA");
    let (server, seen, gone, _states) = server();
    server.set_tls(TlsServer::from_pem(ca.cert_pem.as_bytes(), ca.key_pem.as_bytes()).unwrap());
    let port = start_local(&server).port();
    let (mut task, rx) = support::net::tlv_task(&format!("tlvs://localhost:{port}"), 0);
    task.options_mut().set_tls(TlsClient::with_root_pem(ca.ca_pem.as_bytes()).unwrap());
    task.set_watch_timeout(Duration::from_millis(100));
    *task.req_mut() = TlvMessage::new(1, "work");
    task.start();
    assert_eq!(seen.recv_timeout(WAIT), Ok(false));
    let out = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(out.state, State::SysError, "the client gave up: {}", out.error);
    assert_eq!(gone.recv_timeout(WAIT), Ok(true), "the work saw the client gone");
    server.stop();
}
