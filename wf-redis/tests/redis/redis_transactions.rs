//! Transactions and blocking commands: `MULTI`…`EXEC` in one task gets
//! every reply; a task that leaves its connection inside `MULTI` or
//! watching keys does not hand that state to the next task; a `BLPOP`
//! waiting in one series does not hold up commands of other series.

use crate::support;

use std::sync::mpsc;

use support::{NONE, WAIT, cli, int, query, run, s, status, task, wait_until};
use wf_core::{State, series_of};
use wf_redis::{RedisValue, create_redis_task};

fn transaction(url: &str, commands: &[&[&str]]) -> Vec<RedisValue> {
    let mut t = task(url, 0);
    for c in commands {
        t.req_mut().push_command(c[0], c[1..].iter().copied());
    }
    let o = run(t);
    o.ok();
    assert_eq!(o.results.len(), commands.len());
    o.results
}

#[test]
fn multi_exec_in_one_task() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let r = transaction(&url, &[&["MULTI"], &["INCR", "tx:n"], &["INCR", "tx:n"], &["EXEC"]]);
    assert_eq!(r, vec![status("OK"), status("QUEUED"), status("QUEUED"), RedisValue::Array(vec![int(1), int(2)])]);
    assert_eq!(cli(&redis, &["GET", "tx:n"]), "2");
}

#[test]
fn exec_with_a_failing_command_and_discard() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let r = transaction(&url, &[&["MULTI"], &["SET", "tx:s", "a"], &["INCR", "tx:s"], &["EXEC"]]);
    assert_eq!(r[..3], [status("OK"), status("QUEUED"), status("QUEUED")]);
    let exec = &r[3];
    assert_eq!(exec[0], status("OK"));
    assert!(exec[1].is_error(), "{exec:?}");
    let r = transaction(&url, &[&["MULTI"], &["SET", "tx:s", "b"], &["DISCARD"]]);
    assert_eq!(r, vec![status("OK"), status("QUEUED"), status("OK")]);
    assert_eq!(query(&url, "GET", ["tx:s"]), s("a"));
    // A syntax error inside MULTI aborts the EXEC.
    let r = transaction(&url, &[&["MULTI"], &["SET", "tx:s"], &["EXEC"]]);
    assert!(r[1].is_error() && r[2].is_error(), "{r:?}");
    assert!(r[2].as_str().unwrap().starts_with("EXECABORT"), "{r:?}");
}

#[test]
fn an_unfinished_multi_is_not_inherited() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let r = transaction(&url, &[&["MULTI"], &["INCR", "tx:open"]]);
    assert_eq!(r, vec![status("OK"), status("QUEUED")]);
    // Neither a plain command nor the next transaction lands in that MULTI.
    for _ in 0..3 {
        let plain = query(&url, "INCR", ["tx:plain"]);
        assert!(plain.is_int(), "a plain INCR was queued in a MULTI left open: {plain:?}");
        let r = transaction(&url, &[&["MULTI"], &["INCR", "tx:open"], &["EXEC"]]);
        assert_eq!(r[0], status("OK"), "MULTI nested in a connection left inside MULTI: {r:?}");
        assert!(r[2].is_array(), "{r:?}");
    }
    assert_eq!(query(&url, "GET", ["tx:open"]), s("3"));
}

#[test]
fn a_watch_is_not_inherited() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let r = transaction(&url, &[&["WATCH", "tx:w"]]);
    assert_eq!(r, vec![status("OK")]);
    // The watched key changes; a later transaction on a pooled connection
    // must not be aborted by that old WATCH.
    cli(&redis, &["SET", "tx:w", "changed"]);
    let r = transaction(&url, &[&["MULTI"], &["SET", "tx:w", "mine"], &["EXEC"]]);
    assert_eq!(r[2], RedisValue::Array(vec![status("OK")]), "EXEC aborted by a WATCH of another task");
    // WATCH … EXEC in one task works as Redis says: nothing changed, it commits.
    let r = transaction(&url, &[&["WATCH", "tx:w"], &["MULTI"], &["SET", "tx:w", "again"], &["EXEC"]]);
    assert_eq!(r[3], RedisValue::Array(vec![status("OK")]));
    assert_eq!(query(&url, "GET", ["tx:w"]), s("again"));
}

#[test]
fn blpop_in_one_series_does_not_delay_other_series() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let (tx, rx) = mpsc::channel::<(&str, State, RedisValue)>();

    // Series A: a BLPOP on an empty list, waiting until something is pushed.
    let blpop_tx = tx.clone();
    let mut blpop = create_redis_task(&url, 0, move |t| {
        let _ = blpop_tx.send(("blpop", t.state(), t.result().clone()));
    });
    blpop.set_request("BLPOP", ["tx:queue", "25"]);
    blpop.set_watch_timeout(WAIT);
    blpop.start();
    assert!(wait_until(WAIT, || support::info_field(&redis, "clients", "blocked_clients") == 1), "BLPOP never blocked");

    // Series B..: GETs, each callback pushing the next, finishing while
    // the BLPOP still waits.
    const SERIES: usize = 5;
    const STEPS: usize = 20;
    query(&url, "SET", ["tx:k", "v"]);
    for _ in 0..SERIES {
        fn next(url: String, left: usize, tx: mpsc::Sender<(&'static str, State, RedisValue)>) -> wf_redis::RedisTask {
            let u = url.clone();
            let mut t = create_redis_task(&u, 0, move |t| {
                if t.state() != State::Success || left == 0 {
                    let _ = tx.send(("gets", t.state(), t.result().clone()));
                } else {
                    series_of(t).push_back(next(url, left - 1, tx));
                }
            });
            t.set_request("GET", ["tx:k"]);
            t
        }
        next(url.clone(), STEPS, tx.clone()).start();
    }
    for _ in 0..SERIES {
        let (what, state, v) = rx.recv_timeout(WAIT).expect("the GET series finish");
        assert_eq!(what, "gets", "the BLPOP finished before the GETs");
        assert_eq!(state, State::Success);
        assert_eq!(v, s("v"));
    }
    // Still blocked; now wake it.
    assert_eq!(support::info_field(&redis, "clients", "blocked_clients"), 1);
    assert_eq!(query(&url, "RPUSH", ["tx:queue", "item"]), int(1));
    let (what, state, v) = rx.recv_timeout(WAIT).expect("the BLPOP finishes");
    assert_eq!((what, state), ("blpop", State::Success));
    assert_eq!(v, RedisValue::Array(vec![s("tx:queue"), s("item")]));
    assert_eq!(query(&url, "PING", NONE), status("PONG"));
}

#[test]
fn concurrent_blocking_commands_each_get_a_connection() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let (tx, rx) = mpsc::channel();
    const N: usize = 4;
    for i in 0..N {
        let tx = tx.clone();
        let mut t = create_redis_task(&url, 0, move |t| {
            let _ = tx.send((t.state(), t.result().clone()));
        });
        t.set_request("BLPOP", [format!("tx:q{i}"), "25".into()]);
        t.set_watch_timeout(WAIT);
        t.start();
    }
    assert!(
        wait_until(WAIT, || support::info_field(&redis, "clients", "blocked_clients") == N as u64),
        "the BLPOPs did not all block at once"
    );
    for i in 0..N {
        query(&url, "RPUSH", [format!("tx:q{i}"), format!("v{i}")]);
    }
    let mut got: Vec<String> = (0..N)
        .map(|_| {
            let (state, v) = rx.recv_timeout(WAIT).expect("a BLPOP finishes");
            assert_eq!(state, State::Success);
            v[1].as_str().unwrap().to_owned()
        })
        .collect();
    got.sort();
    assert_eq!(got, (0..N).map(|i| format!("v{i}")).collect::<Vec<_>>());
}
