//! The per-target connection limit (`EndpointParams::max_connections`):
//! with no free slot a task fails at once with `EAGAIN`, or waits up to
//! its wait timeout for one (`ETIMEDOUT` with `TimeoutReason::Wait`).
#![cfg(feature = "net")]

use crate::support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use support::net::{Outcome, start_local, tlv_task, tlv_url};
use support::{WAIT, recv, wait_until};
use wf_core::net::ClientTask;
use wf_core::net::Server;
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::{CounterHandle, EndpointParams, State, TimeoutReason, create_counter_task, series_of};

/// A server that holds every reply until the test counts the handle it
/// gets for that request.
struct HoldingServer {
    server: Server<Tlv>,
    addr: SocketAddr,
    received: Arc<AtomicUsize>,
    holds: mpsc::Receiver<CounterHandle>,
}

fn holding_server() -> HoldingServer {
    let received = Arc::new(AtomicUsize::new(0));
    let (tx, holds) = mpsc::channel();
    let tx = Mutex::new(tx);
    let seen = received.clone();
    let server = Server::new(Tlv::default(), move |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
        let hold = create_counter_task(1, |_| {});
        tx.lock().unwrap().send(hold.handle()).unwrap();
        series_of(task).push_back(hold);
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let addr = start_local(&server);
    HoldingServer { server, addr, received, holds }
}

/// A task limited to one connection to its target.
fn one_slot_task(addr: SocketAddr, value: &str) -> (ClientTask<Tlv>, mpsc::Receiver<Outcome>) {
    let (mut t, rx) = tlv_task(&tlv_url(addr), 0);
    let mut p = EndpointParams::default();
    p.max_connections = 1;
    t.options_mut().set_endpoint_params(p);
    *t.req_mut() = TlvMessage::new(1, value.to_string());
    (t, rx)
}

/// Starts a first task and waits until the server holds its request, so
/// that it occupies the only slot.
fn occupy(s: &HoldingServer) -> (mpsc::Receiver<Outcome>, CounterHandle) {
    let (first, rx) = one_slot_task(s.addr, "first");
    first.start();
    let hold = s.holds.recv_timeout(WAIT).expect("the server got the first request");
    assert!(wait_until(WAIT, || s.received.load(Ordering::SeqCst) == 1));
    (rx, hold)
}

#[test]
fn no_free_slot_fails_at_once_with_eagain() {
    let s = holding_server();
    let (first_rx, hold) = occupy(&s);

    let (second, second_rx) = one_slot_task(s.addr, "second");
    second.start();
    let o = recv(&second_rx);
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::EAGAIN), "{}", o.error);
    assert_eq!(o.error.timeout_reason(), TimeoutReason::NotTimeout);
    // It failed while the first was still held, and never reached the server.
    assert!(first_rx.try_recv().is_err(), "the first task finished before the second failed");
    assert_eq!(s.received.load(Ordering::SeqCst), 1);

    hold.count();
    let o = recv(&first_rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"first");
    s.server.stop();
}

#[test]
fn wait_timeout_waits_for_the_slot() {
    let s = holding_server();
    let (first_rx, hold) = occupy(&s);

    let (mut second, second_rx) = one_slot_task(s.addr, "second");
    second.set_wait_timeout(Duration::from_secs(5));
    second.start();
    // Still waiting for the slot: not failed, not at the server.
    std::thread::sleep(Duration::from_millis(100));
    assert!(second_rx.try_recv().is_err(), "the second task did not wait");
    assert_eq!(s.received.load(Ordering::SeqCst), 1);

    let released = Instant::now();
    hold.count();
    let first = recv(&first_rx);
    assert_eq!(first.state, State::Success, "{}", first.error);
    // The second now gets the slot; release its hold too.
    let hold2 = s.holds.recv_timeout(WAIT).expect("the server got the second request");
    hold2.count();
    let second = recv(&second_rx);
    assert_eq!(second.state, State::Success, "{}", second.error);
    assert_eq!(second.resp.value().as_ref(), b"second");
    assert!(second.at >= released && second.at >= first.at);
    assert_eq!(s.received.load(Ordering::SeqCst), 2);
    s.server.stop();
}

#[test]
fn short_wait_timeout_expires() {
    let s = holding_server();
    let (first_rx, hold) = occupy(&s);

    let (mut second, second_rx) = one_slot_task(s.addr, "second");
    second.set_wait_timeout(Duration::from_millis(100));
    let start = Instant::now();
    second.start();
    let o = recv(&second_rx);
    let elapsed = o.at - start;
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ETIMEDOUT), "{}", o.error);
    assert_eq!(o.error.timeout_reason(), TimeoutReason::Wait);
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < WAIT, "{elapsed:?}");
    assert!(first_rx.try_recv().is_err(), "the first task finished before the wait expired");
    assert_eq!(s.received.load(Ordering::SeqCst), 1);

    hold.count();
    assert_eq!(recv(&first_rx).state, State::Success);
    s.server.stop();
}

/// A task waiting for the slot gets the connection the first task gives
/// back for keep-alive: one connection serves both.
#[test]
fn waiting_task_reuses_the_released_connection() {
    let conns = support::Log::new();
    let seen = conns.clone();
    let (tx, holds) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Server::new(Tlv::default(), move |task| {
        seen.push(task.connection().id());
        let req = task.req().clone();
        *task.resp_mut() = req;
        let hold = create_counter_task(1, |_| {});
        tx.lock().unwrap().send(hold.handle()).unwrap();
        series_of(task).push_back(hold);
    });
    let addr = start_local(&server);

    let (mut first, first_rx) = one_slot_task(addr, "first");
    first.set_keep_alive(Duration::from_secs(10));
    first.start();
    let hold = holds.recv_timeout(WAIT).unwrap();
    let (mut second, second_rx) = one_slot_task(addr, "second");
    second.set_keep_alive(Duration::from_secs(10));
    second.set_wait_timeout(Duration::from_secs(5));
    second.start();
    std::thread::sleep(Duration::from_millis(50));
    hold.count();
    assert_eq!(recv(&first_rx).state, State::Success);
    holds.recv_timeout(WAIT).expect("the server got the second request").count();
    let o = recv(&second_rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    let conns = conns.get();
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0], conns[1], "the second task opened another connection");
    server.stop();
}
