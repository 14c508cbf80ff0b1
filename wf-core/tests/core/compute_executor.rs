//! Executors a program creates (Workflow's user `Executor`/`ExecQueue`): their tasks run on their
//! threads, the thread count changes at run time, and shrinking never drops queued work.

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{WAIT, recv};
use wf_core::{Executor, State, create_go_task_on, create_series_work, create_thread_task_on, request};

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

#[test]
fn tasks_run_on_the_executors_threads() {
    let exec = Executor::new("exec-own", 3);
    assert_eq!(exec.threads(), 3);
    let q = exec.queue("q");
    assert_eq!(q.name(), "q");
    let (tx, rx) = mpsc::channel();
    for _ in 0..60 {
        let tx = tx.clone();
        create_go_task_on(&q, || {
            std::thread::sleep(Duration::from_millis(2));
            thread_name()
        })
        .with_callback(move |t| tx.send(t.take_result().unwrap()).unwrap())
        .start();
    }
    let names: HashSet<String> = (0..60).map(|_| recv(&rx)).collect();
    assert!(names.iter().all(|n| n.starts_with("exec-own-")), "{names:?}");
    assert!(names.len() >= 2, "several of its threads ran jobs: {names:?}");
    assert!(names.len() <= 3, "{names:?}");
}

#[test]
fn thread_tasks_run_on_the_executor() {
    let exec = Executor::new("exec-thread", 1);
    let t = create_thread_task_on(&exec.queue("q"), 6, |x: &mut i32| (*x * 7, thread_name()), |_| {});
    let t = request(t).unwrap();
    assert_eq!(t.output(), Some(&(42, "exec-thread-0".to_string())));
}

#[test]
fn a_series_continues_on_the_executor() {
    let exec = Executor::new("exec-series", 1);
    let q = exec.queue("q");
    let (tx, rx) = mpsc::channel();
    let q2 = q.clone();
    let mut series = create_series_work(create_go_task_on(&q, thread_name), move |_| {});
    series.push_back(create_go_task_on(&q2, thread_name).with_callback(move |t| tx.send(t.take_result()).unwrap()));
    series.start();
    assert_eq!(recv(&rx).as_deref(), Some("exec-series-0"));
}

/// Two jobs that need each other to run at once: one thread cannot, two can.
#[test]
fn increasing_threads_is_observable() {
    let exec = Executor::new("exec-grow", 1);
    let q = exec.queue("q");
    let (a_tx, a_rx) = mpsc::channel::<()>();
    let (b_tx, b_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    let d = done_tx.clone();
    create_go_task_on(&q, move || {
        a_tx.send(()).unwrap();
        b_rx.recv_timeout(WAIT).is_ok()
    })
    .with_callback(move |t| d.send(("a", t.take_result().unwrap())).unwrap())
    .start();
    create_go_task_on(&q, move || b_tx.send(()).is_ok())
        .with_callback(move |t| done_tx.send(("b", t.take_result().unwrap())).unwrap())
        .start();
    a_rx.recv_timeout(WAIT).expect("the first job runs");
    // The only thread is busy with the first job: the second waits.
    assert!(done_rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(exec.increase_threads().unwrap(), 2);
    assert_eq!(exec.threads(), 2);
    let mut done: Vec<_> = (0..2).map(|_| recv(&done_rx)).collect();
    done.sort();
    assert_eq!(done, [("a", true), ("b", true)], "the new thread ran the second job");
}

#[test]
fn decreasing_threads_never_drops_queued_work() {
    let exec = Executor::new("exec-shrink", 3);
    let q = exec.queue("q");
    // Hold every thread so that the jobs below stay queued while threads go.
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let gate_rx = std::sync::Arc::new(std::sync::Mutex::new(gate_rx));
    let (held_tx, held_rx) = mpsc::channel();
    for _ in 0..3 {
        let (gate, held) = (gate_rx.clone(), held_tx.clone());
        create_go_task_on(&q, move || {
            held.send(()).unwrap();
            let _ = gate.lock().unwrap().recv_timeout(WAIT);
        })
        .start();
    }
    for _ in 0..3 {
        recv(&held_rx);
    }
    let (tx, rx) = mpsc::channel();
    for i in 0..100 {
        let tx = tx.clone();
        create_go_task_on(&q, move || {
            // Long enough that every thread still there would take some.
            std::thread::sleep(Duration::from_millis(2));
            (i, thread_name())
        })
        .with_callback(move |t| tx.send(t.take_result().unwrap()).unwrap())
        .start();
    }
    assert_eq!(exec.decrease_threads().unwrap(), 2);
    assert_eq!(exec.decrease_threads().unwrap(), 1);
    let last = exec.decrease_threads().expect_err("the last thread stays");
    assert_eq!(last.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(exec.threads(), 1);
    drop(gate_tx); // release the held threads: two of them exit, one runs the queue
    let mut seen: Vec<usize> = Vec::new();
    let mut names = HashSet::new();
    for _ in 0..100 {
        let (i, name) = recv(&rx);
        seen.push(i);
        names.insert(name);
    }
    seen.sort();
    assert_eq!(seen, (0..100).collect::<Vec<_>>(), "every queued job ran");
    // Threads that were asked to go took no job after finishing the one they held.
    assert_eq!(names.len(), 1, "{names:?}");
    // Growing again after shrinking works.
    assert_eq!(exec.increase_threads().unwrap(), 2);
    let t = request(create_go_task_on(&q, || 5)).unwrap();
    assert_eq!((t.state(), t.result()), (State::Success, Some(&5)));
}

#[test]
fn dropping_the_executor_finishes_queued_jobs() {
    let exec = Executor::new("exec-drop", 1);
    let q = exec.queue("q");
    let (tx, rx) = mpsc::channel();
    for i in 0..20 {
        let tx = tx.clone();
        create_go_task_on(&q, move || {
            std::thread::sleep(Duration::from_millis(1));
            i
        })
        .with_callback(move |t| tx.send(t.take_result().unwrap()).unwrap())
        .start();
    }
    drop(q);
    drop(exec);
    let mut seen: Vec<i32> = (0..20).map(|_| recv(&rx)).collect();
    seen.sort();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
}
