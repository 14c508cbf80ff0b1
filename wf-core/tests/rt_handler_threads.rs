//! `Settings::handler_threads`: series (task callbacks, a server's
//! `process`, series callbacks) run on a pool of handler threads apart
//! from the pollers (Workflow's model), so a `process` that blocks holds up
//! only its own request, not the other connections of its poller.
#![cfg(feature = "net")]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, create_client_task};
use wf_core::{State, create_go_task, create_series_work, series_of};
use wf_timer::create_timer_task;

const WAIT: Duration = Duration::from_secs(20);

/// One poller (so that a blocking `process` on it would stall every
/// connection) and two handler threads.
fn init() {
    let mut settings = wf_core::Settings::default();
    settings.poller_threads = 1;
    settings.handler_threads = 2;
    // Both tests of this binary ask for the same settings.
    let _ = wf_core::init(settings);
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_string()
}

/// A request whose `process` sleeps 1 s on one connection does not delay
/// the reply to another connection: the second reply arrives well before
/// the first.
#[test]
fn a_blocking_process_does_not_delay_other_connections() {
    init();
    let (started_tx, started) = mpsc::channel();
    let server = Server::new(Tlv::default(), move |task| {
        if task.req().value().as_ref() == b"slow" {
            started_tx.send(thread_name()).unwrap();
            std::thread::sleep(Duration::from_secs(1));
        }
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let url = format!("tlv://127.0.0.1:{}", server.listen_addr().unwrap().port());
    let (tx, replies) = mpsc::channel();
    let request = |value: &'static str| {
        let tx = tx.clone();
        // A task of its own each, so each has a connection of its own.
        let mut t = create_client_task(Tlv::default(), &url, 0, move |t| {
            tx.send((value, t.state(), t.error_text(), t.resp().clone(), Instant::now())).unwrap();
        });
        *t.req_mut() = TlvMessage::new(1, value);
        t.start();
    };
    request("slow");
    let on = started.recv_timeout(WAIT).expect("the slow request is processed");
    assert!(on.starts_with("wf-handler"), "process runs on a handler thread, not {on:?}");
    let sent_fast = Instant::now();
    request("fast");
    let mut at = std::collections::HashMap::new();
    for _ in 0..2 {
        let (value, state, error, resp, when) = replies.recv_timeout(WAIT).expect("a reply");
        assert_eq!(state, State::Success, "{value}: {error}");
        assert_eq!(resp, TlvMessage::new(1, value));
        at.insert(value, when);
    }
    let (fast, slow) = (at["fast"], at["slow"]);
    assert!(fast < slow, "the fast reply came first");
    assert!(
        slow.duration_since(fast) >= Duration::from_millis(500),
        "the fast reply came well before the slow one (fast after {:?}, slow {:?} later)",
        fast.duration_since(sent_fast),
        slow.duration_since(fast),
    );
    server.stop();
}

/// Task callbacks and series callbacks run on handler threads too, also
/// after a compute task (whose work runs on a compute thread) and a timer.
#[test]
fn callbacks_run_on_handler_threads() {
    init();
    let (tx, rx) = mpsc::channel();
    let (t1, t2, t3) = (tx.clone(), tx.clone(), tx.clone());
    let first = create_timer_task(Duration::from_millis(1), move |t| {
        t1.send(("timer", thread_name())).unwrap();
        let t2 = t2.clone();
        let go = create_go_task("rt_handler_threads", thread_name).with_callback(move |t| {
            t2.send(("go work", t.take_result().unwrap())).unwrap();
            // After the compute work: a task that waits, so the series comes back from the
            // compute thread.
            series_of(t).push_back(create_timer_task(Duration::from_millis(1), move |_| {
                t2.send(("timer after go", thread_name())).unwrap();
            }));
        });
        series_of(t).push_back(go);
    });
    create_series_work(first, move |_| t3.send(("series", thread_name())).unwrap()).start();
    assert!(wf_core::wait_finish_timeout(WAIT));
    drop(tx);
    let seen: Vec<(&str, String)> = rx.iter().collect();
    let names: Vec<&str> = seen.iter().map(|(what, _)| *what).collect();
    assert_eq!(names, ["timer", "go work", "timer after go", "series"]);
    for (what, thread) in &seen {
        let expected = if *what == "go work" { "wf-compute" } else { "wf-handler" };
        assert!(thread.starts_with(expected), "{what} ran on {thread:?}, not on {expected}");
    }
}

/// The proxy pattern on handler threads: `process` pushes a client task (its socket is created
/// on a handler thread, registered with the pollers) whose callback fills the reply through
/// `reply_handle`.
#[test]
fn proxy_through_reply_handle_on_handler_threads() {
    init();
    let origin = Server::new(Tlv::default(), |task| {
        let mut v = task.req().value().to_vec();
        v.extend_from_slice(b" (origin)");
        *task.resp_mut() = TlvMessage::new(2, v);
    });
    origin.start_on("127.0.0.1", 0).unwrap();
    let origin_url = format!("tlv://127.0.0.1:{}", origin.listen_addr().unwrap().port());
    let proxy = Server::new(Tlv::default(), move |task| {
        let reply = task.reply_handle();
        let mut forward = create_client_task(Tlv::default(), &origin_url, 0, move |t| {
            let on = thread_name();
            if let Some(mut resp) = reply.lock() {
                let mut v = t.resp().value().to_vec();
                v.extend_from_slice(format!(" via {}", &on[..10.min(on.len())]).as_bytes());
                *resp = TlvMessage::new(t.resp().tlv_type(), v);
            }
        });
        *forward.req_mut() = task.req().clone();
        series_of(task).push_back(forward);
    });
    proxy.start_on("127.0.0.1", 0).unwrap();
    let url = format!("tlv://127.0.0.1:{}", proxy.listen_addr().unwrap().port());
    let (tx, rx) = mpsc::channel();
    let mut t = create_client_task(Tlv::default(), &url, 0, move |t| {
        tx.send((t.state(), t.error_text(), t.resp().clone())).unwrap();
    });
    *t.req_mut() = TlvMessage::new(1, "hello");
    t.start();
    let (state, error, resp) = rx.recv_timeout(WAIT).expect("a reply");
    assert_eq!(state, State::Success, "{error}");
    assert_eq!(resp, TlvMessage::new(2, "hello (origin) via wf-handler"));
    proxy.stop();
    origin.stop();
}

/// Datagram requests follow the setting too: a UDP server's `process` runs
/// on a handler thread, and a slow one does not hold up the next datagram.
#[test]
fn udp_requests_run_on_handler_threads() {
    init();
    let (started_tx, started) = mpsc::channel();
    let server = Server::new(Tlv::default(), move |task| {
        if task.req().value().as_ref() == b"slow" {
            std::thread::sleep(Duration::from_secs(1));
        }
        started_tx.send(thread_name()).unwrap();
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    server.start_udp("127.0.0.1", 0).unwrap();
    let url = format!("tlv://127.0.0.1:{}", server.udp_addr().unwrap().port());
    let udp = Tlv::default().with_transport(wf_core::net::Transport::Datagram);
    let (tx, replies) = mpsc::channel();
    for value in ["slow", "fast"] {
        let tx = tx.clone();
        let mut t = create_client_task(udp.clone(), &url, 0, move |t| {
            tx.send((value, t.state(), t.resp().clone())).unwrap();
        });
        *t.req_mut() = TlvMessage::new(1, value);
        t.start();
        if value == "slow" {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let first = replies.recv_timeout(WAIT).expect("a reply");
    let second = replies.recv_timeout(WAIT).expect("another reply");
    assert_eq!((first.0, first.1), ("fast", State::Success), "the fast datagram is answered first");
    assert_eq!((second.0, second.1), ("slow", State::Success));
    assert_eq!(second.2.value().as_ref(), b"slow");
    for _ in 0..2 {
        let on = started.recv_timeout(WAIT).unwrap();
        assert!(on.starts_with("wf-handler"), "process runs on a handler thread, not {on:?}");
    }
    server.stop();
}

/// `stop()` waits for a datagram request handed to the handler threads: `process` is still
/// running (and has not counted the request anywhere else yet) when `stop()` is called, and
/// `stop()` returns only after the reply was sent.
#[test]
fn udp_stop_waits_for_a_request_on_a_handler_thread() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    init();
    let (started_tx, started) = mpsc::channel();
    let done = Arc::new(AtomicBool::new(false));
    let process_done = done.clone();
    let server = Server::new(Tlv::default(), move |task| {
        started_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let req = task.req().clone();
        *task.resp_mut() = req;
        process_done.store(true, Ordering::Release);
    });
    server.start_udp("127.0.0.1", 0).unwrap();
    let url = format!("tlv://127.0.0.1:{}", server.udp_addr().unwrap().port());
    let udp = Tlv::default().with_transport(wf_core::net::Transport::Datagram);
    let (tx, replies) = mpsc::channel();
    let mut t = create_client_task(udp, &url, 0, move |t| {
        tx.send((t.state(), t.error_text(), t.resp().clone())).unwrap();
    });
    *t.req_mut() = TlvMessage::new(1, "late");
    t.start();
    started.recv_timeout(WAIT).expect("the request is processed");
    server.stop();
    assert!(done.load(Ordering::Acquire), "stop() returned while process was still running");
    let (state, error, resp) = replies.recv_timeout(WAIT).expect("a reply");
    assert_eq!(state, State::Success, "{error}");
    assert_eq!(resp, TlvMessage::new(1, "late"));
}
