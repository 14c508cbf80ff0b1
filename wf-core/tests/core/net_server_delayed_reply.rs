//! The delayed reply: tasks that `process` pushes into the request's series
//! run before the reply, in order, and may fill the response; the server
//! task's callback runs once the reply is written. Pipelined requests on
//! one connection are answered in request order, however long each takes.
#![cfg(feature = "net")]

use crate::support;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use support::net::{connect, encode, read_tlv, start_local, tlv_task, tlv_url};
use support::{Log, recv};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, ServerKind};
use wf_core::{State, create_go_task, series_of};
use wf_timer::create_timer_task;

/// Appends `part` to the response of the server task ending `series`.
fn append(series: &mut wf_core::SeriesWork, part: &str) {
    let server_task = series.last_task_mut::<ServerKind<Tlv>>().expect("the server task ends the series");
    let mut v = server_task.kind().resp().value().to_vec();
    v.extend_from_slice(part.as_bytes());
    server_task.kind_mut().resp_mut().set_value(v);
}

#[test]
fn pushed_tasks_fill_the_reply_in_order() {
    let log: Log<String> = Log::new();
    let events = log.clone();
    let server = Server::new(Tlv::default(), move |task| {
        events.push("process".into());
        assert_eq!(task.state(), State::ToReply);
        let value = task.req().value().clone();
        task.resp_mut().set_value(value);
        for (name, delay) in [("go1", 150u64), ("go2", 0)] {
            let events = events.clone();
            let go = create_go_task("net_server_delayed_reply", move || {
                std::thread::sleep(Duration::from_millis(delay));
                name
            })
            .with_callback(move |t| {
                let name = *t.result().unwrap();
                events.push(name.into());
                append(series_of(t), &format!("+{name}"));
            });
            series_of(task).push_back(go);
        }
        let events = events.clone();
        task.set_callback(move |t| {
            events.push(format!("reply-callback {:?} {:?}", t.state(), t.kind().resp().value()));
        });
    });
    let url = tlv_url(start_local(&server));
    let (mut t, rx) = tlv_task(&url, 0);
    t.req_mut().set_value("req");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"req+go1+go2");
    server.stop();
    assert_eq!(
        log.get(),
        ["process", "go1", "go2", "reply-callback Success b\"req+go1+go2\""].map(String::from).to_vec()
    );
}

/// Tasks pushed from a pushed task's callback still run before the reply.
#[test]
fn nested_pushes_run_before_the_reply() {
    let server = Server::new(Tlv::default(), |task| {
        let outer = create_timer_task(Duration::from_millis(50), |t| {
            append(series_of(t), "a");
            let inner = create_timer_task(Duration::from_millis(50), |t| append(series_of(t), "b"));
            series_of(t).push_back(inner);
        });
        series_of(task).push_back(outer);
    });
    let url = tlv_url(start_local(&server));
    let (t, rx) = tlv_task(&url, 0);
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"ab");
    server.stop();
}

#[test]
fn pipelined_replies_keep_request_order() {
    const N: u32 = 10;
    let finished: Log<u32> = Log::new();
    let done = finished.clone();
    // Every request's timer fires at a time fixed from the first request
    // (earlier requests later, 20 ms apart, after 300 ms to absorb a slow
    // start), so the finishing order does not depend on how quickly a
    // loaded machine gets through `process`.
    let first = Arc::new(std::sync::OnceLock::new());
    let server = Server::new(Tlv::default(), move |task| {
        let i = task.req().tlv_type();
        assert_eq!(task.task_seq(), u64::from(i));
        task.resp_mut().set_type(i);
        let done = done.clone();
        let t0 = *first.get_or_init(std::time::Instant::now);
        let at = t0 + Duration::from_millis(300 + u64::from(N - i) * 20);
        let delay = at.saturating_duration_since(std::time::Instant::now());
        let timer = create_timer_task(delay, move |t| {
            done.push(i);
            append(series_of(t), &format!("reply {i}"));
        });
        series_of(task).push_back(timer);
    });
    let addr = start_local(&server);
    let mut s = connect(addr);
    let all: Vec<u8> = (0..N).flat_map(|i| encode(i, format!("request {i}").as_bytes())).collect();
    s.write_all(&all).unwrap();
    for i in 0..N {
        let reply = read_tlv(&mut s).unwrap().expect("a reply");
        assert_eq!(reply, TlvMessage::new(i, format!("reply {i}")));
    }
    // The requests were processed at once, so the later (shorter) ones
    // finished first: the order of the replies is the server's doing.
    let order = finished.get();
    assert_eq!(order.len(), N as usize);
    assert_eq!(order[0], N - 1, "{order:?}");
    assert_eq!(*order.last().unwrap(), 0, "{order:?}");
    drop(s);
    server.stop();
}

/// More pipelined requests than the server reads ahead at once (64): all
/// are answered, in order.
#[test]
fn long_pipeline_is_answered_in_order() {
    const N: u32 = 300;
    let server = Server::new(Tlv::default(), |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
        if task.task_seq() % 7 == 0 {
            series_of(task).push_back(create_timer_task(Duration::from_millis(5), |_| {}));
        }
    });
    let addr = start_local(&server);
    let mut s = connect(addr);
    let all: Vec<u8> = (0..N).flat_map(|i| encode(i, &i.to_be_bytes())).collect();
    let mut writer = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&all).unwrap());
    for i in 0..N {
        let reply = read_tlv(&mut s).unwrap().expect("a reply");
        assert_eq!(reply, TlvMessage::new(i, i.to_be_bytes().to_vec()));
    }
    sender.join().unwrap();
    drop(s);
    server.stop();
}

/// `reply_handle`: `process` takes a handle to its own reply (built so far) and a later task fills
/// it, from a compute thread too (the proxy pattern); once the reply is sent the handle refuses
/// (`lock` gives `None`, `set` gives the response back) and the task's callback sees what was sent.
#[test]
fn reply_handle_fills_the_reply_from_a_later_task() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = Server::new(Tlv::default(), move |task| {
        task.resp_mut().set_type(7);
        let reply = task.reply_handle();
        assert!(!reply.is_sent());
        assert_eq!(reply.lock().expect("not sent yet").tlv_type(), 7, "the reply built so far moved in");
        let again = task.reply_handle();
        let value = task.req().value().clone();
        let fill = create_go_task("net_server_delayed_reply", move || {
            std::thread::sleep(Duration::from_millis(20));
            value
        })
        .with_callback(move |t| {
            let value = t.take_result().unwrap();
            let mut resp = reply.lock().expect("not sent yet");
            let mut v = value.to_vec();
            v.extend_from_slice(b"+filled");
            resp.set_value(v);
        });
        series_of(task).push_back(fill);
        let tx = tx.clone();
        task.set_callback(move |t| {
            let refused = again.set(TlvMessage::new(9, "late")).is_err();
            tx.send((again.is_sent(), again.lock().is_none(), refused, t.kind().resp().clone())).unwrap();
        });
    });
    let url = tlv_url(start_local(&server));
    let (mut t, rx_client) = tlv_task(&url, 0);
    t.req_mut().set_value("req");
    t.start();
    let o = recv(&rx_client);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp, TlvMessage::new(7, "req+filled"));
    let (sent, none, refused, seen) = recv(&rx);
    assert!(sent && none && refused, "after the reply the handle refuses");
    assert_eq!(seen, TlvMessage::new(7, "req+filled"), "the callback sees the reply sent");
    server.stop();
}

/// A handle whose server task was dropped unanswered (its series canceled) reads as sent; the
/// connection is closed rather than left waiting.
#[test]
fn reply_handle_of_a_dropped_task_reads_as_sent() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = Server::new(Tlv::default(), move |task| {
        let reply = task.reply_handle();
        let tx = tx.clone();
        let check = create_timer_task(Duration::from_millis(1), move |t| {
            series_of(t).cancel();
            // The server task (the series' last task) is dropped with the cancel, after this
            // callback: look from a new series once this one is gone.
            wf_core::create_go_task("net_server_delayed_reply", move || {
                std::thread::sleep(Duration::from_millis(50));
                reply.is_sent() && reply.lock().is_none()
            })
            .with_callback(move |t| tx.send(*t.result().unwrap()).unwrap())
            .start();
        });
        series_of(task).push_back(check);
    });
    let url = tlv_url(start_local(&server));
    let (t, rx_client) = tlv_task(&url, 0);
    t.start();
    let o = recv(&rx_client);
    assert_ne!(o.state, State::Success, "no reply comes");
    assert!(recv(&rx), "the handle reads as sent once its task is gone");
    server.stop();
}
