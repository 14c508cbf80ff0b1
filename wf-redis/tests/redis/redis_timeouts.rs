//! Timeouts on shared (pipelined) connections: a task whose reply takes
//! longer than its watch timeout fails with `ETIMEDOUT`, and the reply
//! that arrives later is not handed to another task; connection state set
//! by a task (`CLIENT SETNAME`, `QUIT`) is not inherited by the next one.

use crate::support;

use std::sync::mpsc;
use std::time::Duration;

use support::{NONE, Outcome, WAIT, outcome_of, query, run, s, status, task};
use wf_core::State;
use wf_redis::RedisValue;

fn debug_server() -> testkit::RedisServer {
    testkit::RedisServer::builder().arg("--enable-debug-command").arg("yes").start()
}

#[test]
fn watch_timeout_on_a_shared_connection_keeps_replies_in_step() {
    let redis = debug_server();
    let url = redis.url();
    assert_eq!(query(&url, "SET", ["k", "mine"]), status("OK"));
    let (tx, rx) = mpsc::channel::<(&str, Outcome)>();
    // The server sleeps 2 s on this one; the task gives up after 100 ms.
    let slow_tx = tx.clone();
    let mut slow = task(&url, 0);
    slow.req_mut().push_command("DEBUG", ["SLEEP", "2"]);
    slow.req_mut().push_command("ECHO", ["slow"]);
    slow.set_watch_timeout(Duration::from_millis(100));
    slow.set_callback(move |t| {
        let _ = slow_tx.send(("slow", outcome_of(t)));
    });
    slow.start();
    // Others queued behind it on the same connection meanwhile.
    for i in 0..5 {
        let tx = tx.clone();
        let mut t = task(&url, 0);
        t.set_request("ECHO", [format!("after-{i}")]);
        t.set_callback(move |t| {
            let _ = tx.send(("after", outcome_of(t)));
        });
        t.start();
    }
    let mut afters = Vec::new();
    for _ in 0..6 {
        let (what, o) = rx.recv_timeout(WAIT).expect("every task finishes");
        if what == "slow" {
            assert_eq!((o.state, o.error.code()), (State::SysError, libc::ETIMEDOUT), "{o:?}");
        } else {
            afters.push(o);
        }
    }
    // Whatever happened to the tasks queued behind the slow one (their
    // own replies, or a failure with the connection), none got another
    // task's reply.
    for o in &afters {
        if o.state == State::Success {
            let text = o.results[0].as_str().unwrap_or_default().to_owned();
            assert!(text.starts_with("after-"), "a task got someone else's reply: {:?}", o.results);
        }
    }
    let mut got: Vec<String> =
        afters.iter().filter(|o| o.state == State::Success).map(|o| o.results[0].to_string()).collect();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), afters.iter().filter(|o| o.state == State::Success).count(), "duplicate replies: {got:?}");
    // And later tasks get their own replies.
    for i in 0..10 {
        assert_eq!(query(&url, "ECHO", [format!("later-{i}")]), s(&format!("later-{i}")));
    }
    assert_eq!(query(&url, "GET", ["k"]), s("mine"));
}

#[test]
fn each_echo_gets_its_own_reply_after_a_timeout() {
    let redis = debug_server();
    let url = redis.url();
    let mut slow = task(&url, 0);
    slow.set_request("DEBUG", ["SLEEP", "1"]);
    slow.set_watch_timeout(Duration::from_millis(50));
    run(slow).assert_failed(State::SysError, libc::ETIMEDOUT);
    // Sent after the timed-out task: the late "+OK" must not be its reply.
    for i in 0..20 {
        let v = query(&url, "ECHO", [i.to_string()]);
        assert_eq!(v, s(&i.to_string()), "reply {i}");
    }
}

#[test]
fn client_setname_is_not_inherited() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    assert_eq!(query(&url, "CLIENT", ["SETNAME", "named"]), status("OK"));
    for _ in 0..3 {
        assert_eq!(query(&url, "CLIENT", ["GETNAME"]), RedisValue::Nil, "a pooled connection kept another task's name");
    }
    // In one task, the name holds.
    let mut t = task(&url, 0);
    t.req_mut().push_command("CLIENT", ["SETNAME", "mine"]);
    t.req_mut().push_command("CLIENT", ["GETNAME"]);
    assert_eq!(run(t).ok().results, vec![status("OK"), s("mine")]);
}

#[test]
fn quit_from_a_task() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    assert_eq!(query(&url, "PING", NONE), status("PONG"));
    let o = support::exec(&url, "QUIT", NONE);
    assert_eq!(o.value(), &status("OK"));
    // The next tasks are not sent on the closed connection.
    for i in 0..5 {
        assert_eq!(query(&url, "ECHO", [i.to_string()]), s(&i.to_string()));
    }
}
