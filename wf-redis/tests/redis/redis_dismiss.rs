//! A `RedisTask` dropped without being started is dismissed: its callback
//! never runs and nothing reaches the server; one awaited from async code
//! resolves after its callback; tasks in a series or a parallel run as
//! usual.

use crate::support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use support::{NONE, WAIT, fake_server, s, status, task};
use wf_core::{State, create_parallel_work, create_series_work};
use wf_redis::{RedisValue, create_redis_task};

#[test]
fn dropped_task_never_runs_and_sends_nothing() {
    let (server, port, seen) = fake_server(|_| RedisValue::ok());
    let url = format!("redis://127.0.0.1:{port}");
    let called = Arc::new(AtomicBool::new(false));
    for _ in 0..10 {
        let c = called.clone();
        let mut t = create_redis_task(&url, 3, move |_| c.store(true, Ordering::SeqCst));
        t.set_request("SET", ["k", "v"]);
        drop(t);
    }
    // A task that ran afterwards is the first the server saw.
    assert_eq!(support::query(&url, "PING", NONE), RedisValue::ok());
    assert_eq!(seen.lines(), ["PING"]);
    assert!(!called.load(Ordering::SeqCst), "a dismissed task's callback ran");
    server.stop();
}

#[test]
fn task_dropped_with_its_series_never_runs() {
    let (server, port, seen) = fake_server(|_| RedisValue::ok());
    let url = format!("redis://127.0.0.1:{port}");
    let called = Arc::new(AtomicUsize::new(0));
    let c = called.clone();
    let mut series =
        create_series_work(create_redis_task(&url, 0, move |_| _ = c.fetch_add(1, Ordering::SeqCst)), |_| {});
    let c = called.clone();
    let mut second = create_redis_task(&url, 0, move |_| _ = c.fetch_add(1, Ordering::SeqCst));
    second.set_request("GET", ["k"]);
    series.push_back(second);
    drop(series);
    assert_eq!(support::query(&url, "PING", NONE), RedisValue::ok());
    assert_eq!(seen.lines(), ["PING"]);
    assert_eq!(called.load(Ordering::SeqCst), 0);
    server.stop();
}

#[test]
fn tasks_in_a_series_and_a_parallel() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let (tx, rx) = mpsc::channel();
    // A parallel of 5 SETs, then a series GETting them.
    let mut parallel = create_parallel_work(|_| {});
    for i in 0..5 {
        let mut t = task(&url, 0);
        t.set_request("SET", [format!("d:{i}"), format!("v{i}")]);
        parallel.add_series(create_series_work(t, |_| {}));
    }
    let mut series = create_series_work(parallel, move |_| {
        let _ = tx.send(());
    });
    for i in 0..5 {
        let mut t = task(&url, 0);
        t.set_request("GET", [format!("d:{i}")]);
        t.set_callback(move |t| assert_eq!(t.result(), &s(&format!("v{i}"))));
        series.push_back(t);
    }
    series.start();
    rx.recv_timeout(WAIT).expect("the series finishes");
    assert_eq!(support::cli(&redis, &["GET", "d:4"]), "v4");
}

#[test]
fn awaiting_a_task() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut t = task(&url, 0);
        t.set_request("SET", ["await", "yes"]);
        let t = tokio::time::timeout(WAIT, t.into_future()).await.expect("the SET finishes");
        assert_eq!(t.state(), State::Success);
        assert_eq!(t.result(), &status("OK"));
        let mut t = task(&url, 0);
        t.set_request("GET", ["await"]);
        let mut t = t.await;
        assert_eq!(t.resp_mut().take_result(), s("yes"));
        // Several awaited concurrently.
        let tasks = (0..10).map(|i| {
            let mut t = task(&url, 0);
            t.set_request("ECHO", [i.to_string()]);
            t.into_future()
        });
        for (i, t) in futures_join(tasks.collect()).await.into_iter().enumerate() {
            assert_eq!(t.result(), &s(&i.to_string()));
        }
    });
}

/// Awaits every future in order (they run concurrently: each task started
/// when `into_future` was called).
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(tokio::time::timeout(WAIT, f).await.expect("an awaited task finishes"));
    }
    out
}

#[test]
fn user_data_and_timeouts_are_set_before_start() {
    let (server, port, _) = fake_server(|_| RedisValue::ok());
    let url = format!("redis://127.0.0.1:{port}");
    let (tx, rx) = mpsc::channel();
    let mut t = create_redis_task(&url, 0, move |t| {
        let _ = tx.send((t.state(), t.user_data::<u32>().copied()));
    });
    t.set_user_data(7u32);
    t.set_send_timeout(Duration::from_secs(5));
    t.set_receive_timeout(Duration::from_secs(5));
    t.set_watch_timeout(Duration::from_secs(5));
    t.set_wait_timeout(Duration::from_secs(5));
    t.set_keep_alive(Duration::ZERO);
    t.set_request("PING", NONE);
    t.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (State::Success, Some(7)));
    // keep-alive zero: the connection is closed after the reply.
    assert!(support::wait_until(WAIT, || server.conn_count() == 0), "{} connections", server.conn_count());
    server.stop();
}
