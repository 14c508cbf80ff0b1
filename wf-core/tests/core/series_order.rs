//! Series ordering: each callback runs before the next task starts, pushes from callbacks,
//! `push_front` before queued tasks, the last task, and the series callback after everything.

use crate::support;

use std::sync::mpsc;

use support::{Log, recv};
use wf_core::{EmptyTask, create_empty_task, create_go_task, create_series_work, series_of};

fn named(log: &Log<String>, name: &str) -> EmptyTask {
    let log = log.clone();
    let name = name.to_string();
    create_empty_task().with_callback(move |_| log.push(name))
}

/// Closures and callbacks of go tasks interleave strictly; tasks pushed by the last callback run
/// before the series callback.
#[test]
fn callbacks_run_before_next_task_and_series_callback_last() {
    let log = Log::<String>::new();
    let go = |i: u32| {
        let (l1, l2) = (log.clone(), log.clone());
        create_go_task("series_order", move || l1.push(format!("run{i}")))
            .with_callback(move |_| l2.push(format!("cb{i}")))
    };
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut series = create_series_work(go(1), move |s| {
        l.push("series".to_string());
        tx.send(s.is_canceled()).unwrap();
    });
    series.push_back(go(2));
    let l = log.clone();
    let four = go(4);
    series.push_back(go(3).with_callback(move |t| {
        l.push("cb3".to_string());
        series_of(t).push_back(four);
    }));
    series.start();
    assert!(!recv(&rx), "the series was not canceled");
    assert_eq!(log.get(), ["run1", "cb1", "run2", "cb2", "run3", "cb3", "run4", "cb4", "series"]);
}

/// `push_front` puts a task right next (the latest push_front first), before tasks already queued
/// and before those pushed back.
#[test]
fn push_front_runs_before_queued_tasks() {
    let log = Log::<String>::new();
    let (b, a, x) = (named(&log, "B"), named(&log, "A"), named(&log, "X"));
    let l = log.clone();
    let first = create_empty_task().with_callback(move |t| {
        l.push("t1".to_string());
        let s = series_of(t);
        s.push_back(x);
        s.push_front(a);
        s.push_front(b);
    });
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut series = create_series_work(first, move |_| {
        l.push("series".to_string());
        tx.send(()).unwrap();
    });
    series.push_back(named(&log, "t2"));
    series.push_back(named(&log, "t3"));
    assert_eq!(series.len(), 3);
    series.start();
    recv(&rx);
    assert_eq!(log.get(), ["t1", "B", "A", "t2", "t3", "X", "series"]);
}

/// Before start, the first task stays first (as in Workflow): `F`, then what was pushed to the
/// front, then what was pushed to the back.
#[test]
fn push_front_before_start_runs_after_first_task() {
    let log = Log::<String>::new();
    let (tx, rx) = mpsc::channel();
    let mut series = create_series_work(named(&log, "F"), move |_| tx.send(()).unwrap());
    series.push_front(named(&log, "X"));
    series.push_back(named(&log, "Y"));
    series.push_front(named(&log, "W"));
    series.start();
    recv(&rx);
    assert_eq!(log.get(), ["F", "W", "X", "Y"]);
}

/// An empty series given tasks only by `push_front` runs them latest-first.
#[test]
fn push_front_into_empty_series() {
    let log = Log::<String>::new();
    let (tx, rx) = mpsc::channel();
    let mut series = wf_core::SeriesWork::empty();
    series.set_callback(move |_| tx.send(()).unwrap());
    series.push_front(named(&log, "b"));
    series.push_front(named(&log, "a"));
    series.push_back(named(&log, "c"));
    series.start();
    recv(&rx);
    assert_eq!(log.get(), ["a", "b", "c"]);
}

/// A task pushed from the series callback is a programming error: the push panics (the panic is
/// caught as any callback's), the task is dismissed, and the series still ends.
#[test]
fn push_from_series_callback_panics() {
    let log = Log::<String>::new();
    let (tx, rx) = mpsc::channel();
    let late = named(&log, "late");
    let l = log.clone();
    let series = create_series_work(named(&log, "first"), move |s| {
        assert!(s.is_finished());
        let pushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.push_back(late)));
        let message = pushed.expect_err("push_back from the series callback must panic");
        let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
        l.push(message);
        let front = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.push_front(create_empty_task())));
        tx.send((front.is_err(), s.is_empty())).unwrap();
    });
    series.start();
    assert_eq!(recv(&rx), (true, true), "push_front panics too, and nothing was queued");
    let log = log.get();
    assert_eq!(log.len(), 2, "the late task never ran: {log:?}");
    assert_eq!(log[0], "first");
    assert!(log[1].contains("push_back") && log[1].contains("finished"), "a clear message: {}", log[1]);
}

/// The last task runs after the queue drained, tasks pushed by callbacks included.
#[test]
fn last_task_runs_after_pushed_tasks() {
    let log = Log::<String>::new();
    let x = named(&log, "X");
    let l = log.clone();
    let first = create_empty_task().with_callback(move |t| {
        l.push("first".to_string());
        series_of(t).push_back(x);
    });
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut series = create_series_work(first, move |_| {
        l.push("series".to_string());
        tx.send(()).unwrap();
    });
    series.set_last_task(named(&log, "last"));
    assert!(series.last_task_mut::<wf_core::Empty>().is_some());
    series.push_back(named(&log, "second"));
    series.start();
    recv(&rx);
    assert_eq!(log.get(), ["first", "second", "X", "last", "series"]);
}

/// A long series (more tasks than the driver runs per poll) keeps its order.
#[test]
fn long_series_keeps_order() {
    let log = Log::<usize>::new();
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut series = create_series_work(create_empty_task(), move |_| tx.send(l.len()).unwrap());
    for i in 0..1000 {
        let l = log.clone();
        series.push_back(create_empty_task().with_callback(move |_| l.push(i)));
    }
    series.start();
    assert_eq!(recv(&rx), 1000);
    assert_eq!(log.get(), (0..1000).collect::<Vec<_>>());
}
