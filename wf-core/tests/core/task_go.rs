//! Go tasks: C++ task_unittest `WFGoTask`; results, queues and the threads closures and callbacks run on.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use support::recv;
use wf_core::{State, create_go_task, create_go_task_on, get_exec_queue};

/// C++ `WFGoTask`: the closure's side effects are visible in the callback
/// and its return value is kept in the task.
#[test]
fn go_task_side_effects_and_result() {
    let target = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let t = target.clone();
    let side = target.clone();
    create_go_task("task_go", move || {
        t.store(7, Ordering::SeqCst);
        6 * 7
    })
    .with_callback(move |task| {
        tx.send((
            task.state(),
            task.result().copied(),
            side.load(Ordering::SeqCst),
            task.take_result(),
            task.result().copied(),
        ))
        .unwrap();
    })
    .start();
    let (state, result, side_effect, taken, after_take) = recv(&rx);
    assert_eq!(state, State::Success);
    assert_eq!(result, Some(42));
    assert_eq!(side_effect, 7);
    assert_eq!(taken, Some(42));
    assert_eq!(after_take, None);
    assert_eq!(target.load(Ordering::SeqCst), 7);
}

/// The closure runs on a compute thread; the callback on one of wf's threads (a poller thread, or,
/// as in Workflow, the compute thread that ran the closure), never on the caller's thread.
#[test]
fn go_task_threads() {
    let (tx, rx) = mpsc::channel();
    create_go_task("task_go", || std::thread::current().name().map(str::to_string))
        .with_callback(move |t| {
            let closure_thread = t.take_result().flatten();
            tx.send((closure_thread, std::thread::current().name().map(str::to_string))).unwrap();
        })
        .start();
    let (closure_thread, callback_thread) = recv(&rx);
    let closure_thread = closure_thread.expect("compute threads are named");
    assert!(closure_thread.starts_with("wf-compute-"), "closure ran on {closure_thread}");
    let callback_thread = callback_thread.expect("wf threads are named");
    assert!(
        callback_thread == "wf-poller" || callback_thread.starts_with("wf-compute-"),
        "callback ran on {callback_thread}"
    );
}

/// `create_go_task_on` takes a queue handle; the task remembers its queue.
#[test]
fn go_task_on_queue_handle() {
    let q = get_exec_queue("task_go::named-queue");
    assert_eq!(q.name(), "task_go::named-queue");
    let (tx, rx) = mpsc::channel();
    create_go_task_on(&q, || String::from("on queue"))
        .with_callback(move |t| tx.send((t.queue().name().to_string(), t.take_result())).unwrap())
        .start();
    assert_eq!(recv(&rx), ("task_go::named-queue".to_string(), Some("on queue".to_string())));
}

/// Many go tasks on one queue all run and return their own values.
#[test]
fn many_go_tasks_each_return_their_value() {
    let (tx, rx) = mpsc::channel();
    for i in 0..100u64 {
        let tx = tx.clone();
        create_go_task("task_go::many", move || i * i)
            .with_callback(move |t| tx.send((i, t.take_result())).unwrap())
            .start();
    }
    let mut got: Vec<_> = (0..100).map(|_| recv(&rx)).collect();
    got.sort();
    let want: Vec<_> = (0..100u64).map(|i| (i, Some(i * i))).collect();
    assert_eq!(got, want);
}
