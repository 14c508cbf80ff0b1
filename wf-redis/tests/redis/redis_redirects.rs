//! Cluster redirects, with fake `RedisServer`s in front of a real
//! `redis-server`: `MOVED` is followed to the named node and counted in
//! `redirects()`; `ASK` sends `ASKING` before the command to the named
//! node; redirects stop after 3 and the last `MOVED` is the result; a
//! pipeline is never redirected.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use support::{NONE, exec, fake_server, name, query, run, s, status, task};
use wf_core::State;
use wf_redis::RedisValue;

#[test]
fn moved_is_followed_to_the_real_server() {
    let redis = testkit::RedisServer::start();
    let target = redis.port();
    assert_eq!(query(&redis.url(), "SET", ["k", "from-real"]), status("OK"));
    let (front, port, seen) = fake_server(move |_| RedisValue::error(format!("MOVED 1 127.0.0.1:{target}")));
    let o = exec(&format!("redis://127.0.0.1:{port}"), "GET", ["k"]);
    assert_eq!(o.value(), &s("from-real"));
    assert_eq!(o.redirects, 1);
    assert_eq!(o.peer, Some(redis.addr()));
    assert_eq!(seen.lines(), ["GET k"]);
    front.stop();
}

/// `RedisClient::uri()` is documented as "the URL the reply came from
/// (after cluster redirects)".
#[test]
fn uri_after_moved_is_the_node_that_answered() {
    let redis = testkit::RedisServer::start();
    let target = redis.port();
    let (front, port, _) = fake_server(move |_| RedisValue::error(format!("MOVED 1 127.0.0.1:{target}")));
    let o = exec(&format!("redis://127.0.0.1:{port}"), "GET", ["k"]);
    assert_eq!(o.value(), &RedisValue::Nil);
    assert_eq!(o.redirects, 1);
    let uri = o.uri.expect("the task's URL");
    assert_eq!(
        uri.trim_end_matches('/'),
        format!("redis://127.0.0.1:{target}"),
        "uri() after a MOVED to port {target} (front: {port})"
    );
    front.stop();
}

#[test]
fn moved_keeps_credentials_database_and_resp() {
    let redis = testkit::RedisServer::builder().password("pw").start();
    let target = redis.port();
    support::cli(&redis, &["-n", "5", "SET", "k", "in-five"]);
    // The front accepts any AUTH and SELECT, and redirects the rest.
    let (front, port, seen) = fake_server(move |words| match name(words).as_str() {
        "AUTH" | "SELECT" => RedisValue::ok(),
        "HELLO" => RedisValue::Map(vec![]),
        _ => RedisValue::error(format!("MOVED 42 127.0.0.1:{target}")),
    });
    let o = exec(&format!("redis://:pw@127.0.0.1:{port}/5"), "GET", ["k"]);
    assert_eq!(o.value(), &s("in-five"));
    assert_eq!(o.redirects, 1);
    assert_eq!(seen.lines(), ["AUTH pw", "SELECT 5", "GET k"]);
    let o = exec(&format!("redis://:pw@127.0.0.1:{port}/5?protocol=3"), "HGETALL", ["h"]);
    assert_eq!(o.value(), &RedisValue::Map(vec![]), "RESP3 kept: an empty map, not an empty array");
    assert_eq!(o.redirects, 1);
    front.stop();
}

#[test]
fn ask_sends_asking_first_to_the_target() {
    let (target, target_port, target_seen) = fake_server(|words| match name(words).as_str() {
        "ASKING" => RedisValue::ok(),
        _ => RedisValue::from("asked"),
    });
    let (front, port, front_seen) = fake_server(move |_| RedisValue::error(format!("ASK 7 127.0.0.1:{target_port}")));
    let o = exec(&format!("redis://127.0.0.1:{port}"), "GET", ["k"]);
    assert_eq!(o.value(), &s("asked"), "the ASKING reply is not the result");
    assert_eq!(o.results.len(), 1);
    assert_eq!(o.redirects, 1);
    assert_eq!(target_seen.lines(), ["ASKING", "GET k"]);
    assert_eq!(front_seen.lines(), ["GET k"]);
    // ASK is one-off: the next task goes to the front again.
    let o = exec(&format!("redis://127.0.0.1:{port}"), "GET", ["k2"]);
    assert_eq!(o.value(), &s("asked"));
    assert_eq!(front_seen.lines(), ["GET k", "GET k2"]);
    assert_eq!(target_seen.lines(), ["ASKING", "GET k", "ASKING", "GET k2"]);
    // A plain command to the target afterwards: no ASKING left over.
    assert_eq!(query(&format!("redis://127.0.0.1:{target_port}"), "GET", ["plain"]), s("asked"));
    assert_eq!(target_seen.lines().last().map(String::as_str), Some("GET plain"));
    assert_eq!(target_seen.lines().iter().filter(|l| *l == "ASKING").count(), 2);
    front.stop();
    target.stop();
}

#[test]
fn ask_to_a_real_server() {
    let redis = testkit::RedisServer::start();
    let target = redis.port();
    support::cli(&redis, &["SET", "k", "real"]);
    let (front, port, _) = fake_server(move |_| RedisValue::error(format!("ASK 7 127.0.0.1:{target}")));
    // (A non-cluster Redis answers ASKING with an error, which is dropped.)
    let o = exec(&format!("redis://127.0.0.1:{port}"), "GET", ["k"]);
    assert_eq!(o.results.len(), 1, "{:?}", o.results);
    assert_eq!(o.value(), &s("real"));
    front.stop();
}

#[test]
fn redirect_loop_stops_after_three() {
    // A server that redirects to itself (its port is known once it listens).
    let own_port = Arc::new(AtomicU16::new(0));
    let p = own_port.clone();
    let (looping, port, seen) =
        fake_server(move |_| RedisValue::error(format!("MOVED 1 127.0.0.1:{}", p.load(Ordering::SeqCst))));
    own_port.store(port, Ordering::SeqCst);
    let o = exec(&format!("redis://127.0.0.1:{port}"), "GET", ["k"]);
    assert_eq!(o.state, State::Success, "{:?}", o.error);
    assert_eq!(o.redirects, 3);
    let v = o.value();
    assert!(v.is_error() && v.as_str().unwrap().starts_with(&format!("MOVED 1 127.0.0.1:{port}")), "{v:?}");
    assert_eq!(seen.lines(), ["GET k"; 4], "the first request and 3 redirects");
    looping.stop();
}

#[test]
fn moved_without_a_host_stays_on_the_same_host() {
    let redis = testkit::RedisServer::start();
    let target = redis.port();
    support::cli(&redis, &["SET", "k", "same-host"]);
    let (front, port, _) = fake_server(move |_| RedisValue::error(format!("MOVED 1 :{target}")));
    let o = exec(&format!("redis://127.0.0.1:{port}"), "GET", ["k"]);
    assert_eq!(o.value(), &s("same-host"));
    assert_eq!(o.redirects, 1);
    front.stop();
}

#[test]
fn pipelines_and_other_errors_are_not_redirected() {
    let redis = testkit::RedisServer::start();
    let target = redis.port();
    let (front, port, seen) = fake_server(move |words| match name(words).as_str() {
        "GET" => RedisValue::error(format!("MOVED 1 127.0.0.1:{target}")),
        _ => RedisValue::error("ERR MOVED is not the first word"),
    });
    let url = format!("redis://127.0.0.1:{port}");
    let mut t = task(&url, 0);
    t.req_mut().push_command("GET", ["a"]);
    t.req_mut().push_command("GET", ["b"]);
    let o = run(t);
    o.ok();
    assert_eq!(o.redirects, 0);
    assert!(o.results.iter().all(|r| r.as_str().is_some_and(|e| e.starts_with("MOVED"))), "{:?}", o.results);
    let o = exec(&url, "PING", NONE);
    assert_eq!(o.value(), &RedisValue::error("ERR MOVED is not the first word"));
    assert_eq!(o.redirects, 0);
    assert_eq!(seen.lines(), ["GET a", "GET b", "PING"]);
    front.stop();
}

#[test]
fn moved_to_a_dead_node_fails() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (front, port, _) = fake_server(move |_| RedisValue::error(format!("MOVED 1 127.0.0.1:{dead}")));
    let o = exec(&format!("redis://127.0.0.1:{port}"), "GET", ["k"]);
    o.assert_failed(State::SysError, libc::ECONNREFUSED);
    front.stop();
}
