//! Timed go and thread tasks: the deadline fails the task with SYS_ERROR/ETIMEDOUT while the
//! closure runs on; a deadline that is not reached changes nothing.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{WAIT, recv, wait_until};
use wf_core::{State, create_timed_thread_task, create_timedgo_task};

/// A closure that blocks until the test opens `gate` (the brief's "sleeps 300 ms", without
/// depending on timing), then sets `done`.
fn blocked(gate: &Arc<AtomicBool>, done: &Arc<AtomicBool>) -> impl FnOnce() + Send + 'static {
    let (gate, done) = (gate.clone(), done.clone());
    move || {
        wait_until(WAIT, || gate.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(10));
        done.store(true, Ordering::SeqCst);
    }
}

#[test]
fn timed_go_task_times_out_while_closure_runs_on() {
    let (gate, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let work = blocked(&gate, &done);
    let d = done.clone();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    create_timedgo_task(Duration::from_millis(20), "compute_timed", move || {
        work();
        5
    })
    .with_callback(move |t| {
        let e = t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0));
        tx.send((t.state(), e.code(), t.result().copied(), e.is_timeout(), d.load(Ordering::SeqCst), start.elapsed()))
            .unwrap()
    })
    .start();
    let (state, code, result, is_timeout, closure_done, elapsed) = recv(&rx);
    assert_eq!((state, code, result, is_timeout), (State::SysError, libc::ETIMEDOUT, None, true));
    assert!(!closure_done, "the callback did not wait for the closure");
    assert!(elapsed >= Duration::from_millis(20), "timed out after {elapsed:?}");
    gate.store(true, Ordering::SeqCst);
    assert!(wait_until(WAIT, || done.load(Ordering::SeqCst)), "the closure still completes");
}

#[test]
fn timed_go_task_within_deadline_succeeds() {
    let (tx, rx) = mpsc::channel();
    create_timedgo_task(Duration::from_secs(10), "compute_timed", || 6 * 7)
        .with_callback(move |t| tx.send((t.state(), t.take_result())).unwrap())
        .start();
    assert_eq!(recv(&rx), (State::Success, Some(42)));
}

#[test]
fn timed_thread_task_times_out_while_routine_runs_on() {
    let (gate, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let work = blocked(&gate, &done);
    let d = done.clone();
    let (tx, rx) = mpsc::channel();
    create_timed_thread_task(
        Duration::from_millis(20),
        "compute_timed",
        3u32,
        move |x: &mut u32| {
            work();
            *x * 2
        },
        move |t| {
            let closure_done = d.load(Ordering::SeqCst);
            tx.send((t.state(), t.error_code(), t.output().copied(), t.input().copied(), closure_done)).unwrap()
        },
    )
    .start();
    assert_eq!(recv(&rx), (State::SysError, libc::ETIMEDOUT, None, None, false));
    gate.store(true, Ordering::SeqCst);
    assert!(wait_until(WAIT, || done.load(Ordering::SeqCst)), "the routine still completes");
}

#[test]
fn timed_thread_task_within_deadline_succeeds() {
    let (tx, rx) = mpsc::channel();
    create_timed_thread_task(
        Duration::from_secs(10),
        "compute_timed",
        21u32,
        |x: &mut u32| *x * 2,
        move |t| tx.send((t.state(), t.output().copied(), t.input().copied())).unwrap(),
    )
    .start();
    assert_eq!(recv(&rx), (State::Success, Some(42), Some(21)));
}
