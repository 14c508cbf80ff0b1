//! A `redis-server` restarted on the same port while its connections sit
//! in wf's pool: tasks with retries succeed on a fresh connection (the
//! stale one is dropped), shared pipelined connections and exclusive ones
//! alike; a task to a stopped server fails with a `SYS_ERROR`.

use crate::support;

use std::sync::mpsc;

use support::{Outcome, WAIT, outcome_of, query, run, s, status, task};
use wf_core::State;

/// Runs `n` concurrent `GET key` tasks with `retry_max` and returns their outcomes.
fn concurrent_gets(url: &str, key: &str, n: usize, retry_max: u32) -> Vec<Outcome> {
    let (tx, rx) = mpsc::channel();
    for _ in 0..n {
        let tx = tx.clone();
        let mut t = task(url, retry_max);
        t.set_request("GET", [key]);
        t.set_callback(move |t| {
            let _ = tx.send(outcome_of(t));
        });
        t.start();
    }
    (0..n).map(|_| rx.recv_timeout(WAIT).expect("a GET finishes")).collect()
}

#[test]
fn tasks_with_retries_succeed_after_a_restart() {
    let mut redis = testkit::RedisServer::start();
    let url = redis.url();
    for o in concurrent_gets(&url, "restart:k", 20, 0) {
        assert_eq!(o.value(), &wf_redis::RedisValue::Nil);
    }
    assert_eq!(query(&url, "SET", ["restart:k", "before"]), status("OK"));
    let port = redis.port();
    redis.restart();
    assert_eq!(redis.port(), port);
    // The data is gone (no persistence); the pooled connection is stale.
    let mut t = task(&url, 2);
    t.set_request("SET", ["restart:k", "after"]);
    assert_eq!(run(t).value(), &status("OK"));
    for o in concurrent_gets(&url, "restart:k", 20, 2) {
        assert_eq!(o.value(), &s("after"));
    }
}

#[test]
fn concurrent_tasks_on_a_stale_shared_connection_all_retry() {
    let mut redis = testkit::RedisServer::start();
    let url = redis.url();
    assert_eq!(query(&url, "SET", ["restart:k", "v1"]), status("OK"));
    // Many tasks share the one pipelined connection.
    for o in concurrent_gets(&url, "restart:k", 30, 0) {
        assert_eq!(o.value(), &s("v1"));
    }
    redis.restart();
    support::cli(&redis, &["SET", "restart:k", "v2"]);
    // All of them pile onto the stale connection at once.
    for o in concurrent_gets(&url, "restart:k", 30, 3) {
        assert_eq!(o.value(), &s("v2"));
    }
}

#[test]
fn exclusive_connections_are_retried_too() {
    let mut redis = testkit::RedisServer::start();
    let url = redis.url();
    // BLPOP takes (and returns to the pool) a connection of its own.
    let mut t = task(&url, 0);
    t.set_request("BLPOP", ["restart:list", "0.01"]);
    assert_eq!(run(t).value(), &wf_redis::RedisValue::Nil);
    let mut t = task(&url, 0);
    t.req_mut().push_command("MULTI", support::NONE);
    t.req_mut().push_command("INCR", ["restart:n"]);
    t.req_mut().push_command("EXEC", support::NONE);
    assert_eq!(run(t).ok().results.len(), 3);
    redis.restart();
    support::cli(&redis, &["RPUSH", "restart:list", "x"]);
    let mut t = task(&url, 2);
    t.set_request("BLPOP", ["restart:list", "5"]);
    assert_eq!(run(t).value(), &wf_redis::RedisValue::Array(vec![s("restart:list"), s("x")]));
    let mut t = task(&url, 2);
    t.req_mut().push_command("MULTI", support::NONE);
    t.req_mut().push_command("INCR", ["restart:n"]);
    t.req_mut().push_command("EXEC", support::NONE);
    let o = run(t);
    assert_eq!(o.ok().results[2], wf_redis::RedisValue::Array(vec![support::int(1)]));
}

#[test]
fn stopped_server_fails_then_comes_back() {
    let mut redis = testkit::RedisServer::start();
    let url = redis.url();
    assert_eq!(query(&url, "PING", support::NONE), status("PONG"));
    redis.stop();
    let mut t = task(&url, 1);
    t.set_request("PING", support::NONE);
    let o = run(t);
    assert_eq!(o.state, State::SysError, "{:?}", o.error);
    redis.restart();
    let mut t = task(&url, 2);
    t.set_request("PING", support::NONE);
    assert_eq!(run(t).value(), &status("PONG"));
}
