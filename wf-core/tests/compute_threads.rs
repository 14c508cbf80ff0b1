//! Compute threads added and removed at run time (Workflow's `increase_compute_thread` /
//! `decrease_compute_thread`): a process of its own, as it changes the process's compute pool.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use support::{WAIT, recv};
use wf_core::{
    Settings, create_go_task, decrease_compute_thread, get_compute_executor, increase_compute_thread, init, request,
};

const Q: &str = "compute_threads";

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

// One test: the steps share the pool and must run in order.
#[test]
fn compute_threads_grow_and_shrink_at_run_time() {
    let mut s = Settings::default();
    s.compute_threads = 1;
    init(s).unwrap();
    assert_eq!(get_compute_executor().threads(), 1);

    // One thread: of two jobs that need each other, the second waits for the first.
    let (a_tx, a_rx) = mpsc::channel::<()>();
    let (b_tx, b_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    let d = done_tx.clone();
    create_go_task(Q, move || {
        a_tx.send(()).unwrap();
        b_rx.recv_timeout(WAIT).is_ok()
    })
    .with_callback(move |t| d.send(t.take_result().unwrap()).unwrap())
    .start();
    create_go_task(Q, move || b_tx.send(()).is_ok())
        .with_callback(move |t| done_tx.send(t.take_result().unwrap()).unwrap())
        .start();
    a_rx.recv_timeout(WAIT).unwrap();
    assert!(done_rx.recv_timeout(Duration::from_millis(300)).is_err(), "one thread, one job at a time");
    assert_eq!(increase_compute_thread().unwrap(), 2);
    assert!(recv(&done_rx) && recv(&done_rx), "the added thread ran the second job");

    // Four threads: closures land on four of them, and psort spreads over them.
    assert_eq!(increase_compute_thread().unwrap(), 3);
    assert_eq!(increase_compute_thread().unwrap(), 4);
    let (tx, rx) = mpsc::channel();
    for _ in 0..80 {
        let tx = tx.clone();
        create_go_task(Q, || {
            std::thread::sleep(Duration::from_millis(3));
            thread_name()
        })
        .with_callback(move |t| tx.send(t.take_result().unwrap()).unwrap())
        .start();
    }
    let names: HashSet<String> = (0..80).map(|_| recv(&rx)).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    let data: Vec<u64> = (0..1_000_003u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7).collect();
    let mut want = data.clone();
    want.sort_unstable();
    let ran_on = Arc::new(Mutex::new(HashSet::new()));
    let t = request(create_psort_task_by_thread(data, ran_on.clone())).unwrap();
    assert_eq!(t.result(), Some(&want[..]));
    assert!(ran_on.lock().unwrap().len() >= 2, "the runs were sorted on several threads: {ran_on:?}");

    // Shrinking while jobs are queued drops none of them.
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let gate_rx = Arc::new(Mutex::new(gate_rx));
    let (held_tx, held_rx) = mpsc::channel();
    for _ in 0..4 {
        let (gate, held) = (gate_rx.clone(), held_tx.clone());
        create_go_task(Q, move || {
            held.send(()).unwrap();
            let _ = gate.lock().unwrap().recv_timeout(WAIT);
        })
        .start();
    }
    for _ in 0..4 {
        recv(&held_rx);
    }
    let (tx, rx) = mpsc::channel();
    for i in 0..200 {
        let tx = tx.clone();
        create_go_task(Q, move || {
            // Long enough that every thread still there would take some.
            std::thread::sleep(Duration::from_millis(2));
            (i, thread_name())
        })
        .with_callback(move |t| tx.send(t.take_result().unwrap()).unwrap())
        .start();
    }
    for left in (1..4).rev() {
        assert_eq!(decrease_compute_thread().unwrap(), left);
    }
    assert!(decrease_compute_thread().is_err(), "the pool keeps one thread");
    drop(gate_tx);
    let mut seen = Vec::new();
    let mut names = HashSet::new();
    for _ in 0..200 {
        let (i, name) = recv(&rx);
        seen.push(i);
        names.insert(name);
    }
    seen.sort();
    assert_eq!(seen, (0..200).collect::<Vec<_>>(), "every queued job ran");
    assert_eq!(names.len(), 1, "one thread is left: {names:?}");
    assert_eq!(get_compute_executor().threads(), 1);
}

/// A psort whose comparator records the threads it ran on.
fn create_psort_task_by_thread(data: Vec<u64>, ran_on: Arc<Mutex<HashSet<String>>>) -> wf_core::AlgoTask<u64> {
    wf_core::create_psort_task_by(
        Q,
        data,
        move |a: &u64, b: &u64| {
            if a & 0xffff == 0 {
                ran_on.lock().unwrap().insert(thread_name());
            }
            a.cmp(b)
        },
        |_| {},
    )
}
