//! Guards: tasks guarded by one name never overlap and run in the order they queued;
//! `release_guard` passes a message to the next holder and says whether there was one.

use crate::support;

use std::sync::mpsc;
use std::time::Duration;

use support::{Concurrency, Log, probe, recv};
use wf_core::{create_empty_task, create_go_task, create_guard, create_series_work, release_guard};

#[test]
fn guarded_tasks_never_overlap_and_run_in_queue_order() {
    let name = "sync_guard::fifo";
    let conc = Concurrency::default();
    let order = Log::<(usize, Option<usize>)>::new();
    let released = Log::<bool>::new();
    let (tx, rx) = mpsc::channel();
    for i in 0..3usize {
        let (c, o, r) = (conc.clone(), order.clone(), released.clone());
        let go = create_go_task("sync_guard", move || {
            c.enter();
            std::thread::sleep(Duration::from_millis(20));
            c.leave();
        })
        .with_callback(move |t| {
            o.push((i, t.take_user_data::<usize>()));
            // Hand the guard to the next holder, telling it who released it.
            r.push(release_guard(name, i));
        });
        let (task, polled) = probe(create_guard(name, go));
        let tx = tx.clone();
        create_series_work(task, move |_| tx.send(()).unwrap()).start();
        // The next guard is started only once this one took the guard or queued for it.
        recv(&polled);
    }
    for _ in 0..3 {
        recv(&rx);
    }
    assert_eq!(conc.peak(), 1, "guarded tasks never overlap");
    assert_eq!(order.get(), [(0, None), (1, Some(0)), (2, Some(1))]);
    assert_eq!(released.get(), [true, true, false], "the last release finds no waiter");
}

/// Without waiters `release_guard` returns false and the guard is free again.
#[test]
fn release_without_waiters() {
    let name = "sync_guard::no-waiters";
    assert!(!release_guard(name, ()), "a guard nobody took");
    let (tx, rx) = mpsc::channel();
    let t = create_empty_task().with_callback(move |_| tx.send(release_guard(name, ())).unwrap());
    create_guard(name, t).start();
    assert!(!recv(&rx), "nobody waited");
    // The guard is free: the next one runs at once.
    let (tx, rx) = mpsc::channel();
    let t = create_empty_task().with_callback(move |_| tx.send(release_guard(name, ())).unwrap());
    create_guard(name, t).start();
    assert!(!recv(&rx));
}

/// A holder that does not release keeps the next one waiting.
#[test]
fn unreleased_guard_blocks_the_next() {
    let name = "sync_guard::blocks";
    let (tx, rx) = mpsc::channel();
    let tx1 = tx.clone();
    let (first, polled) = probe(create_guard(name, create_empty_task().with_callback(move |_| tx1.send(1).unwrap())));
    first.start();
    recv(&polled);
    assert_eq!(recv(&rx), 1);
    let tx2 = tx.clone();
    let (second, polled) = probe(create_guard(name, create_empty_task().with_callback(move |_| tx2.send(2).unwrap())));
    second.start();
    recv(&polled);
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "the second waits for the guard");
    assert!(release_guard(name, ()), "the second was waiting");
    assert_eq!(recv(&rx), 2);
    assert!(!release_guard(name, ()));
}

/// `release_guard_safe` (Workflow's form that never runs the next holder on the releasing thread):
/// released from a plain thread, the next holder runs on the runtime, not on that thread.
#[test]
fn release_guard_safe_never_runs_the_next_holder_inline() {
    let name = "sync_guard::safe";
    let (tx, rx) = mpsc::channel();
    let (held_tx, held) = mpsc::channel();
    let first = create_empty_task().with_callback(move |_| held_tx.send(()).unwrap());
    create_guard(name, first).start();
    recv(&held);
    let tx2 = tx.clone();
    let second = create_go_task("sync_guard", || ()).with_callback(move |_| {
        tx2.send(std::thread::current().id()).unwrap();
        wf_core::release_guard(name, ());
    });
    create_guard(name, second).start();
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "the first holder has the guard");
    let releaser = std::thread::spawn(move || {
        assert!(wf_core::release_guard_safe(name, ()));
        std::thread::current().id()
    })
    .join()
    .unwrap();
    assert_ne!(recv(&rx), releaser);
    drop(tx);
}
