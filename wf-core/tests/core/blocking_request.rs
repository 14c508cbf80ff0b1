//! `wf_core::request` (Workflow's `WFFacilities::request`): blocking for a task from plain threads,
//! and a clear `EDEADLK` where blocking could deadlock.

use std::sync::mpsc;
use std::time::Duration;

use crate::support::recv;
use wf_core::{
    Executor, State, create_counter_task, create_go_task, create_go_task_on, create_sort_task, request, request_timeout,
};

const Q: &str = "blocking_request";

fn is_deadlock<T>(r: Result<T, wf_core::Error>) -> bool {
    r.err().is_some_and(|e| e.state() == State::SysError && e.code() == libc::EDEADLK)
}

#[test]
fn blocks_until_the_callback_ran() {
    let (tx, rx) = mpsc::channel();
    let t = request(create_go_task(Q, || 6 * 7).with_callback(move |_| tx.send(()).unwrap())).unwrap();
    assert_eq!(t.state(), State::Success);
    assert_eq!(t.result(), Some(&42));
    rx.try_recv().expect("the callback ran before request returned");
}

#[test]
fn from_a_thread_of_the_programs_own() {
    let t = std::thread::spawn(|| request(create_sort_task(Q, vec![2, 1], |_| {})).unwrap()).join().unwrap();
    assert_eq!(t.result(), Some(&[1, 2][..]));
}

#[test]
fn from_a_user_executor_thread() {
    let exec = Executor::new("blocking-exec", 1);
    let t =
        request(create_go_task_on(&exec.queue("q"), || request(create_go_task(Q, || 1)).map(|t| *t.result().unwrap())))
            .unwrap();
    assert_eq!(t.result().unwrap().as_ref().ok(), Some(&1));
}

#[test]
fn refused_in_a_callback() {
    let (tx, rx) = mpsc::channel();
    create_go_task(Q, || ())
        .with_callback(move |_| tx.send(is_deadlock(request(create_go_task(Q, || ())))).unwrap())
        .start();
    assert!(recv(&rx));
}

#[test]
fn refused_in_a_series_callback() {
    let (tx, rx) = mpsc::channel();
    wf_core::create_series_work(create_go_task(Q, || ()), move |_| {
        tx.send(is_deadlock(request(create_go_task(Q, || ())))).unwrap()
    })
    .start();
    assert!(recv(&rx));
    // Also when the series ends on a thread of an executor of the program's own.
    let exec = Executor::new("blocking-series", 1);
    let (tx, rx) = mpsc::channel();
    wf_core::create_series_work(create_go_task_on(&exec.queue("q"), || ()), move |_| {
        tx.send(is_deadlock(request(create_go_task(Q, || ())))).unwrap()
    })
    .start();
    assert!(recv(&rx));
}

#[test]
fn refused_on_the_compute_pool() {
    let t = request(create_go_task(Q, || is_deadlock(request(create_go_task(Q, || ()))))).unwrap();
    assert_eq!(t.result(), Some(&true));
}

#[test]
fn refused_in_async_code() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let refused = rt.block_on(async { is_deadlock(request(create_go_task(Q, || ()))) });
    assert!(refused);
    let refused = wf_core::handle().block_on(async { is_deadlock(request(create_go_task(Q, || ()))) });
    assert!(refused);
}

#[test]
fn timeout_gives_etimedout() {
    // A counter nobody counts (the handle keeps it from failing as an orphan).
    let counter = create_counter_task(1, |_| {});
    let handle = counter.handle();
    let e = request_timeout(counter, Duration::from_millis(50)).unwrap_err();
    assert_eq!((e.state(), e.code()), (State::SysError, libc::ETIMEDOUT));
    assert!(handle.count(), "the task ran on after the timeout");
    let t = request_timeout(create_go_task(Q, || 3), Duration::from_secs(10)).unwrap();
    assert_eq!(t.result(), Some(&3));
}
