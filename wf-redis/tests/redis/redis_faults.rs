//! Client fault injection: a `redis-server` killed (SIGKILL) while many
//! pipelined tasks are in flight on the shared connections, and started
//! again on the same port while tasks keep coming. Every callback runs
//! exactly once, with a clear state (a reply, or `SYS_ERROR` with a
//! connection errno), none hangs, and tasks after the restart succeed,
//! each run once (the count of `INCR`s is exact).

use crate::support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use support::{Outcome, WAIT, outcome_of, query, task};
use wf_core::State;
use wf_redis::RedisValue;

/// Starts an `INCR key` task whose outcome is sent on `tx`, counting
/// callbacks in `calls`.
fn incr(url: &str, key: &str, calls: &Arc<AtomicUsize>, tx: &mpsc::Sender<Outcome>) {
    let (calls, tx) = (calls.clone(), tx.clone());
    let mut t = task(url, 0);
    t.set_request("INCR", [key]);
    t.set_callback(move |t| {
        calls.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(outcome_of(t));
    });
    t.start();
}

#[track_caller]
fn assert_clear(o: &Outcome) {
    match o.state {
        State::Success => assert!(matches!(o.results[..], [RedisValue::Integer(n)] if n > 0), "{:?}", o.results),
        State::SysError if o.error.is_timeout() => {
            assert_ne!(o.error.timeout_reason(), wf_core::TimeoutReason::NotTimeout, "{:?}", o.error)
        }
        State::SysError => assert!(
            [libc::ECONNRESET, libc::ECONNREFUSED, libc::EPIPE, libc::ENOTCONN].contains(&o.error.code()),
            "{:?}: {}",
            o.error,
            o.error
        ),
        _ => panic!("unclear outcome {:?}: {}", o.state, o.error),
    }
}

#[test]
fn killed_and_restarted_under_pipelined_load() {
    let mut redis = testkit::RedisServer::start();
    let url = redis.url();
    assert_eq!(query(&url, "PING", support::NONE), support::status("PONG"));

    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (url, calls, tx, stop) = (url.clone(), calls.clone(), tx.clone(), stop.clone());
        thread::spawn(move || {
            let mut started = 0usize;
            while !stop.load(Ordering::SeqCst) {
                for _ in 0..100 {
                    incr(&url, "faults:n", &calls, &tx);
                }
                started += 100;
                thread::sleep(Duration::from_millis(2));
            }
            started
        })
    };
    thread::sleep(Duration::from_millis(200));
    redis.kill();
    thread::sleep(Duration::from_millis(100));
    redis.restart();
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let started = load.join().unwrap();

    let (mut ok, mut failed) = (0, 0);
    for i in 0..started {
        let o = rx.recv_timeout(WAIT).unwrap_or_else(|_| panic!("{} of {started} callbacks after WAIT", i));
        assert_clear(&o);
        if o.state == State::Success { ok += 1 } else { failed += 1 }
    }
    thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), started, "a callback ran twice");
    assert!(ok > 0, "nothing succeeded");
    eprintln!("{started} pipelined INCRs across a SIGKILL and restart: {ok} ok, {failed} failed");

    // After the restart: every task succeeds and runs once.
    let n = 500;
    for _ in 0..n {
        incr(&url, "faults:after", &calls, &tx);
    }
    for _ in 0..n {
        let o = rx.recv_timeout(WAIT).expect("a callback");
        assert_eq!(o.state, State::Success, "{}", o.error);
    }
    assert_eq!(query(&url, "GET", ["faults:after"]), support::s(&n.to_string()));
}
