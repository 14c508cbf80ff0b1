//! Stopping a server: requests in flight are still answered, `stop()`
//! returns only once they are, and afterwards nothing listens any more.
#![cfg(feature = "net")]

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use support::net::{Outcome, start_local, tlv_task, tlv_url};
use support::{Log, WAIT, recv, wait_until};
use wf_core::net::Server;
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::{State, series_of};
use wf_timer::create_timer_task;

#[test]
fn stop_waits_for_requests_in_flight() {
    const N: u32 = 10;
    let received = Arc::new(AtomicUsize::new(0));
    let replied: Log<(u32, State)> = Log::new();
    let (seen, log) = (received.clone(), replied.clone());
    let server = Server::new(Tlv::default(), move |task| {
        seen.fetch_add(1, Ordering::SeqCst);
        let req = task.req().clone();
        *task.resp_mut() = req.clone();
        series_of(task).push_back(create_timer_task(Duration::from_millis(200), |_| {}));
        let log = log.clone();
        task.set_callback(move |t| log.push((req.tlv_type(), t.state())));
    });
    let url = tlv_url(start_local(&server));

    let (tx, rx) = mpsc::channel::<Outcome>();
    for i in 0..N {
        let (mut t, task_rx) = tlv_task(&url, 0);
        *t.req_mut() = TlvMessage::new(i, format!("request {i}"));
        t.start();
        let tx = tx.clone();
        std::thread::spawn(move || tx.send(recv(&task_rx)).unwrap());
    }
    assert!(wait_until(WAIT, || received.load(Ordering::SeqCst) == N as usize));

    let start = Instant::now();
    server.stop();
    let stopped_after = start.elapsed();
    // Every reply was written (each server task's callback ran) before stop
    // returned.
    let mut replied = replied.get();
    replied.sort_by_key(|&(i, _)| i);
    assert_eq!(replied, (0..N).map(|i| (i, State::Success)).collect::<Vec<_>>());
    assert!(stopped_after < WAIT, "{stopped_after:?}");
    assert_eq!(server.conn_count(), 0);

    let mut outcomes: Vec<Outcome> = (0..N).map(|_| recv(&rx)).collect();
    outcomes.sort_by_key(|o| o.resp.tlv_type());
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o.state, State::Success, "task {i}: {}", o.error);
        assert_eq!(o.resp, TlvMessage::new(i as u32, format!("request {i}")));
    }

    // Nothing listens any more.
    let (t, rx) = tlv_task(&url, 0);
    t.start();
    let o = recv(&rx);
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNREFUSED), "{}", o.error);
}

/// `stop()` on an idle server closes its listener before it returns: a
/// connection attempt right after is refused, never accepted and then
/// dropped.
#[test]
fn listener_closed_when_stop_returns() {
    for round in 0..20 {
        let server = Server::new(Tlv::default(), |_| {});
        let addr = start_local(&server);
        server.stop();
        let r = std::net::TcpStream::connect(addr);
        assert_eq!(
            r.as_ref().map_err(|e| e.kind()).err(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "round {round}: {r:?}"
        );
    }
}

/// `shutdown()` does not wait; `wait_finish()` then does.
#[test]
fn shutdown_then_wait_finish() {
    let server = Server::new(Tlv::default(), |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
        series_of(task).push_back(create_timer_task(Duration::from_millis(300), |_| {}));
    });
    let url = tlv_url(start_local(&server));
    let (mut t, rx) = tlv_task(&url, 0);
    t.req_mut().set_value("late");
    t.start();
    assert!(wait_until(WAIT, || server.conn_count() == 1));
    std::thread::sleep(Duration::from_millis(50));

    let start = Instant::now();
    server.shutdown();
    let shutdown_took = start.elapsed();
    // The reply is still pending: the client has not heard back.
    assert!(rx.try_recv().is_err(), "the reply came before shutdown returned");
    server.wait_finish();
    assert!(shutdown_took < start.elapsed());
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"late");
    assert_eq!(server.conn_count(), 0);
}

/// A stopped server can be started again.
#[test]
fn restart_after_stop() {
    let server = Server::new(Tlv::default(), |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    for round in 0..2 {
        let url = tlv_url(start_local(&server));
        let (mut t, rx) = tlv_task(&url, 0);
        t.req_mut().set_value(format!("round {round}"));
        t.start();
        let o = recv(&rx);
        assert_eq!(o.state, State::Success, "round {round}: {}", o.error);
        server.stop();
    }
}

/// Tasks the server task's callback pushes after the reply still belong to
/// the request's series: `stop()` waits for them too.
#[test]
fn stop_waits_for_tasks_pushed_after_the_reply() {
    let after: Log<&str> = Log::new();
    let log = after.clone();
    let server = Server::new(Tlv::default(), move |task| {
        let log = log.clone();
        task.set_callback(move |t| {
            let log = log.clone();
            series_of(t).push_back(create_timer_task(Duration::from_millis(300), move |_| log.push("after")));
        });
    });
    let url = tlv_url(start_local(&server));
    let (t, rx) = tlv_task(&url, 0);
    t.start();
    assert_eq!(recv(&rx).state, State::Success);
    server.stop();
    assert_eq!(after.get(), ["after"]);
}

/// `wait_finish_timeout`: false while a request is held in its series
/// (nothing changes, the request goes on), true once it is answered; on a
/// finished server, true at once even with no time to wait.
#[test]
fn wait_finish_timeout_says_whether_finished() {
    let (release, held) = mpsc::channel::<()>();
    let held = Arc::new(std::sync::Mutex::new(held));
    let received = Arc::new(AtomicUsize::new(0));
    let seen = received.clone();
    let server = Server::new(Tlv::default(), move |task| {
        seen.fetch_add(1, Ordering::SeqCst);
        let req = task.req().clone();
        *task.resp_mut() = req;
        // Held on a compute thread until the test releases it.
        let held = held.clone();
        let hold = wf_core::create_go_task("net_server_stop", move || {
            let _ = held.lock().unwrap().recv_timeout(WAIT);
        });
        series_of(task).push_back(hold);
    });
    let url = tlv_url(start_local(&server));
    let (mut t, rx) = tlv_task(&url, 0);
    t.req_mut().set_value("held");
    t.start();
    assert!(wait_until(WAIT, || received.load(Ordering::SeqCst) == 1));

    server.shutdown();
    assert!(!server.wait_finish_timeout(Duration::ZERO), "a request is in flight");
    assert!(!server.wait_finish_timeout(Duration::from_millis(100)), "a request is in flight");
    assert!(rx.try_recv().is_err(), "the held request was not answered yet");

    release.send(()).unwrap();
    assert!(server.wait_finish_timeout(WAIT), "finished once the request is answered");
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"held");
    assert_eq!(server.conn_count(), 0);
    assert!(server.wait_finish_timeout(Duration::ZERO), "finished: no wait needed");
    // A timeout too long to be a deadline is no timeout.
    assert!(server.wait_finish_timeout(Duration::MAX));
}
