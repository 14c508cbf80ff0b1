//! Counter tasks: C++ task_unittest `WFCounterTask1`/`WFCounterTask2`, named counters spreading counts
//! over several counters, handles and target 0.

use crate::support;

use std::sync::mpsc;
use std::time::Duration;

use support::recv;
use wf_core::{State, count_by_name, create_counter_task, create_named_counter_task};

/// C++ `WFCounterTask1`: a named counter with target 2, started, then counted 200 times by name.
#[test]
fn counter_task1_named_counted_200_times() {
    let name = "task_counter::counter_task1";
    let (tx, rx) = mpsc::channel();
    let task = create_named_counter_task(name, 2, move |t| {
        let state = t.state();
        // Counting again inside the callback is harmless.
        let by_name_0 = count_by_name(name, 0);
        t.count();
        let by_name_1 = count_by_name(name, 1);
        tx.send((state, by_name_0, by_name_1)).unwrap();
    });
    task.start();
    let woken: usize = (0..200).map(|_| count_by_name(name, 1)).sum();
    let (state, by_name_0, by_name_1) = recv(&rx);
    assert_eq!(state, State::Success);
    assert_eq!(woken, 1, "exactly one count_by_name call reaches the target");
    assert_eq!((by_name_0, by_name_1), (0, 0));
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "the callback runs once");
}

/// C++ `WFCounterTask2`: count before start, start, count again.
#[test]
fn counter_task2_count_before_and_after_start() {
    let name = "task_counter::counter_task2";
    let (tx, rx) = mpsc::channel();
    let task = create_named_counter_task(name, 2, move |t| tx.send(t.state()).unwrap());
    task.count();
    task.start();
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "one count is missing");
    assert_eq!(count_by_name(name, 1), 1);
    assert_eq!(recv(&rx), State::Success);
}

/// Counts by name are spread over same-name counters in creation order.
#[test]
fn named_counters_share_counts_in_creation_order() {
    let name = "task_counter::spread";
    let (tx, rx) = mpsc::channel();
    for (i, target) in [2u32, 3, 4].into_iter().enumerate() {
        let tx = tx.clone();
        create_named_counter_task(name, target, move |t| tx.send((i, t.state())).unwrap()).start();
    }
    // 4 counts: the first takes 2 and completes, the second gets the other 2 (2 of 3).
    assert_eq!(count_by_name(name, 4), 1);
    assert_eq!(recv(&rx), (0, State::Success));
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "only the first counter completed");
    // 5 counts: 1 completes the second, 4 complete the third.
    assert_eq!(count_by_name(name, 5), 2);
    let mut rest = vec![recv(&rx), recv(&rx)];
    rest.sort_by_key(|r| r.0);
    assert_eq!(rest, vec![(1, State::Success), (2, State::Success)]);
    // Every counter of that name is done: over-counting does nothing.
    assert_eq!(count_by_name(name, 1), 0);
    assert_eq!(count_by_name("task_counter::nobody-uses-this-name", 3), 0);
}

/// A count larger than every remaining target completes all of them and
/// the surplus is ignored.
#[test]
fn named_count_surplus_is_ignored() {
    let name = "task_counter::surplus";
    let (tx, rx) = mpsc::channel();
    for i in 0..3 {
        let tx = tx.clone();
        create_named_counter_task(name, 1, move |t| tx.send((i, t.state())).unwrap()).start();
    }
    assert_eq!(count_by_name(name, 100), 3);
    let mut got: Vec<_> = (0..3).map(|_| recv(&rx)).collect();
    got.sort_by_key(|r| r.0);
    assert_eq!(got, vec![(0, State::Success), (1, State::Success), (2, State::Success)]);
    assert_eq!(count_by_name(name, 1), 0);
}

/// Unnamed counter: local counts before start carry over to the handle;
/// the handle reports the count that reached the target.
#[test]
fn counter_handle_reports_reaching_count() {
    let (tx, rx) = mpsc::channel();
    let c = create_counter_task(3, move |t| tx.send((t.state(), t.target())).unwrap());
    c.count();
    let h = c.handle();
    c.start();
    assert!(!h.count(), "2 of 3");
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    assert!(h.count(), "3 of 3 reaches the target");
    assert!(!h.count(), "over-counting is harmless and reaches nothing");
    assert_eq!(recv(&rx), (State::Success, 3));
}

/// A counter with target 0 completes as soon as it starts.
#[test]
fn counter_target_zero_completes_at_start() {
    let (tx, rx) = mpsc::channel();
    create_counter_task(0, move |t| tx.send(t.state()).unwrap()).start();
    assert_eq!(recv(&rx), State::Success);

    let name = "task_counter::zero";
    let (tx, rx) = mpsc::channel();
    create_named_counter_task(name, 0, move |t| tx.send(t.state()).unwrap()).start();
    assert_eq!(recv(&rx), State::Success);
    assert_eq!(count_by_name(name, 1), 0);
}

/// Counts made through the task before start are enough on their own.
#[test]
fn counter_counted_fully_before_start() {
    let (tx, rx) = mpsc::channel();
    let c = create_counter_task(2, move |t| tx.send(t.state()).unwrap());
    c.count();
    c.count();
    c.count();
    c.start();
    assert_eq!(recv(&rx), State::Success);
}

/// `count_by_name` from many threads at once: every count lands exactly once.
#[test]
fn concurrent_count_by_name() {
    let name = "task_counter::concurrent";
    let (tx, rx) = mpsc::channel();
    for i in 0..10 {
        let tx = tx.clone();
        create_named_counter_task(name, 100, move |t| tx.send((i, t.state())).unwrap()).start();
    }
    let threads: Vec<_> =
        (0..8).map(|_| std::thread::spawn(move || (0..125).map(|_| count_by_name(name, 1)).sum::<usize>())).collect();
    let woken: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(woken, 10, "1000 counts complete ten counters of 100");
    let mut got: Vec<_> = (0..10).map(|_| recv(&rx)).collect();
    got.sort_by_key(|g| g.0);
    assert!(got.iter().enumerate().all(|(i, g)| *g == (i, State::Success)), "{got:?}");
    assert_eq!(count_by_name(name, 1), 0);
}

/// A counter started short of its target with no handle and no name can never be counted: it fails
/// with `TASK_ERROR`/`ORPHANED` at once instead of keeping `wait_finish` waiting forever.
#[test]
fn counter_without_handle_or_name_fails_orphaned() {
    let (tx, rx) = mpsc::channel();
    let c = create_counter_task(2, move |t| tx.send((t.state(), t.error_code(), t.error_text())).unwrap());
    c.count();
    c.start();
    assert_eq!(recv(&rx), (State::TaskError, wf_core::code::ORPHANED, "Task Orphaned".to_string()));
}

/// The last handle going away while the counter waits ends it the same way; a handle still alive
/// keeps it waiting, and a counter that reached its target does not care.
#[test]
fn counter_whose_last_handle_drops_fails_orphaned() {
    let (tx, rx) = mpsc::channel();
    let c = create_counter_task(2, move |t| tx.send(t.state()).unwrap());
    let h1 = c.handle();
    let h2 = h1.clone();
    c.start();
    h1.count();
    drop(h1);
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "one handle is left");
    drop(h2);
    assert_eq!(recv(&rx), State::TaskError);

    let (tx, rx) = mpsc::channel();
    let c = create_counter_task(1, move |t| tx.send(t.state()).unwrap());
    let h = c.handle();
    assert!(h.count());
    drop(h);
    c.start();
    assert_eq!(recv(&rx), State::Success);
}

/// A handle taken before the start counts after it from another thread; the task's own count
/// before the start and the handle's counts add up (the count goes to the same place).
#[test]
fn counting_by_task_and_handle_add_up_after_start() {
    let (tx, rx) = mpsc::channel();
    let c = create_counter_task(3, move |t| tx.send(t.state()).unwrap());
    c.count();
    let h = c.handle();
    c.start();
    assert!(!h.count());
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "two of three counts");
    std::thread::spawn(move || assert!(h.count())).join().unwrap();
    assert_eq!(recv(&rx), State::Success);
}

/// A named counter needs no handle: `count_by_name` reaches it after the start.
#[test]
fn named_counter_without_handle_is_not_orphaned() {
    let name = "task_counter::named_no_handle";
    let (tx, rx) = mpsc::channel();
    create_named_counter_task(name, 1, move |t| tx.send(t.state()).unwrap()).start();
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "waits for its count");
    assert_eq!(count_by_name(name, 1), 1);
    assert_eq!(recv(&rx), State::Success);
}
