//! `set_prepare`: a server task's hook runs once, after its series and
//! before the reply is encoded; a client task's runs before each send,
//! on retries too.
#![cfg(feature = "net")]

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::net::{RawServer, echo_server, start_local, tlv_task, tlv_url};
use support::{WAIT, wait_until};
use wf_core::net::Server;
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::{State, series_of};
use wf_timer::create_timer_task;

#[test]
fn a_server_prepare_hook_sees_the_reply_the_series_built() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let server = Server::new(Tlv::default(), move |task| {
        *task.resp_mut() = TlvMessage::new(1, "from process");
        let counted = counted.clone();
        task.set_prepare(move |t| {
            counted.fetch_add(1, Ordering::SeqCst);
            // After the timer below: the series' last word.
            let before = t.resp().value().clone();
            *t.resp_mut() = TlvMessage::new(2, [&before[..], b" + prepare"].concat());
        });
        series_of(task).push_back(create_timer_task(Duration::from_millis(20), |t| {
            let server_task = series_of(t).last_task_mut::<wf_core::net::ServerKind<Tlv>>().expect("the server task");
            *server_task.resp_mut() = TlvMessage::new(1, "from the series");
        }));
    });
    let addr = start_local(&server);
    let (mut task, rx) = tlv_task(&tlv_url(addr), 0);
    *task.req_mut() = TlvMessage::new(1, "x");
    task.start();
    let out = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(out.state, State::Success, "{}", out.error);
    assert_eq!(out.resp, TlvMessage::new(2, "from the series + prepare"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    server.stop();
}

#[test]
fn a_client_prepare_hook_fills_the_request_before_each_send() {
    let (server, addr) = echo_server();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let (mut task, rx) = tlv_task(&tlv_url(addr), 0);
    task.kind_mut().set_prepare(move |req: &mut TlvMessage| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        *req = TlvMessage::new(7, format!("late {n}"));
    });
    task.start();
    let out = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(out.state, State::Success, "{}", out.error);
    assert_eq!(out.resp, TlvMessage::new(7, "late 0"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.stop();
}

/// A server that resets the first two connections: the task's two
/// retries each send again, and the hook runs before each send.
#[test]
fn a_client_prepare_hook_runs_again_on_a_retry() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = accepted.clone();
    let raw = RawServer::spawn(move |mut s| {
        if seen.fetch_add(1, Ordering::SeqCst) < 2 {
            drop(s); // closed before any reply
            return;
        }
        let req = support::net::read_tlv(&mut s).unwrap().unwrap();
        use std::io::Write;
        s.write_all(&support::net::encode(req.tlv_type(), req.value())).unwrap();
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let (mut task, rx) = tlv_task(&raw.url(), 2);
    task.kind_mut().set_prepare(move |req: &mut TlvMessage| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        *req = TlvMessage::new(1, format!("attempt {n}"));
    });
    task.start();
    let out = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(out.state, State::Success, "{}", out.error);
    assert_eq!(out.resp, TlvMessage::new(1, "attempt 2"));
    assert!(wait_until(WAIT, || calls.load(Ordering::SeqCst) == 3));
}
