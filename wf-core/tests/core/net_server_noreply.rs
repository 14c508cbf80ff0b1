//! `noreply()`: the connection is closed instead of answered, after the
//! replies to earlier requests; the server task's callback still runs,
//! with `State::NoReply`.
#![cfg(feature = "net")]

use crate::support;

use std::io::Write;
use std::time::Duration;

use support::net::{Closed, connect, encode, expect_closed, read_tlv, round_trip, start_local, tlv_task, tlv_url};
use support::{Log, WAIT, recv, wait_until};
use wf_core::State;
use wf_core::net::Server;
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_timer::create_timer_task;

/// Echoes requests, except `drop`, which gets no reply. Logs the state of
/// every server task's callback.
fn server() -> (Server<Tlv>, Log<(Vec<u8>, State)>) {
    let log = Log::new();
    let states = log.clone();
    let server = Server::new(Tlv::default(), move |task| {
        let req = task.req().clone();
        if req.value().as_ref() == b"drop" {
            task.noreply();
            assert_eq!(task.state(), State::NoReply);
        } else {
            *task.resp_mut() = req.clone();
        }
        let states = states.clone();
        let value = req.value().to_vec();
        task.set_callback(move |t| states.push((value, t.state())));
    });
    (server, log)
}

#[test]
fn noreply_closes_the_connection() {
    let (server, log) = server();
    let addr = start_local(&server);
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, b"hello"), TlvMessage::new(1, "hello"));
    s.write_all(&encode(2, b"drop")).unwrap();
    assert_eq!(expect_closed(&mut s), Closed::Eof);
    assert!(wait_until(WAIT, || log.len() == 2));
    assert_eq!(log.get(), vec![(b"hello".to_vec(), State::Success), (b"drop".to_vec(), State::NoReply)]);
    assert!(wait_until(WAIT, || server.conn_count() == 0));
    server.stop();
}

/// Pipelined behind a slow request, `drop` still waits for that reply; a
/// request after it is never answered.
#[test]
fn earlier_replies_are_sent_first() {
    let processed = Log::new();
    let seen = processed.clone();
    let server = Server::new(Tlv::default(), move |task| {
        let req = task.req().clone();
        seen.push(req.value().to_vec());
        if req.value().as_ref() == b"drop" {
            task.noreply();
            return;
        }
        *task.resp_mut() = req;
        wf_core::series_of(task).push_back(create_timer_task(Duration::from_millis(100), |_| {}));
    });
    let addr = start_local(&server);
    let mut s = connect(addr);
    let mut wire = encode(1, b"slow");
    wire.extend(encode(2, b"drop"));
    wire.extend(encode(3, b"after"));
    s.write_all(&wire).unwrap();
    assert_eq!(read_tlv(&mut s).unwrap(), Some(TlvMessage::new(1, "slow")));
    assert_eq!(expect_closed(&mut s), Closed::Eof);
    server.stop();
    // Pipelined requests are processed concurrently, in any order.
    let processed = processed.get();
    assert!(processed.contains(&b"slow".to_vec()) && processed.contains(&b"drop".to_vec()), "{processed:?}");
}

/// A wf client sees a connection closed without a reply as a system error.
#[test]
fn client_sees_a_closed_connection() {
    let (server, log) = server();
    let addr = start_local(&server);
    let (mut t, rx) = tlv_task(&tlv_url(addr), 0);
    t.req_mut().set_value("drop");
    t.start();
    let o = recv(&rx);
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNRESET), "{}", o.error);
    server.stop();
    assert_eq!(log.get(), vec![(b"drop".to_vec(), State::NoReply)]);
}

/// `ReplyHandle::noreply` from a later task of the series (Workflow allows
/// `noreply()` anywhere in the series): the connection is closed without
/// a reply, after the reply to the request before it; the server task
/// finishes as `NoReply`; once the reply was sent the handle refuses.
#[test]
fn noreply_through_a_handle_from_a_later_task() {
    let log: Log<(Vec<u8>, State, bool)> = Log::new();
    let states = log.clone();
    let server = Server::new(Tlv::default(), move |task| {
        let req = task.req().clone();
        *task.resp_mut() = req.clone();
        let reply = task.reply_handle();
        let late = reply.clone();
        let drop_it = req.value().as_ref() == b"drop";
        // Decided after `process` returned, by a timer's callback.
        let decide = create_timer_task(Duration::from_millis(20), move |_| {
            if drop_it {
                assert!(reply.noreply(), "the reply was not sent yet");
            }
        });
        wf_core::series_of(task).push_back(decide);
        let states = states.clone();
        let value = req.value().to_vec();
        task.set_callback(move |t| states.push((value, t.state(), late.noreply())));
    });
    let addr = start_local(&server);
    let mut s = connect(addr);
    let mut wire = encode(1, b"kept");
    wire.extend(encode(2, b"drop"));
    s.write_all(&wire).unwrap();
    assert_eq!(read_tlv(&mut s).unwrap(), Some(TlvMessage::new(1, "kept")));
    assert_eq!(expect_closed(&mut s), Closed::Eof);
    assert!(wait_until(WAIT, || log.len() == 2));
    let mut seen = log.get();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![(b"drop".to_vec(), State::NoReply, false), (b"kept".to_vec(), State::Success, false)],
        "the callbacks see the outcome; after it the handle refuses"
    );
    server.stop();
}
