//! Series cancel: queued tasks are dropped without their callbacks, the running task finishes
//! normally and the series callback still runs with `is_canceled()`.

use crate::support;

use std::sync::mpsc;

use support::{Drops, Log, recv};
use wf_core::{State, create_empty_task, create_go_task, create_series_work, series_of};

#[test]
fn cancel_drops_queued_tasks_without_callbacks() {
    let log = Log::<String>::new();
    let queued = Drops::new();
    let l = log.clone();
    let first = create_go_task("series_cancel", || 1).with_callback(move |t| {
        l.push(format!("first {:?}", t.state()));
        let before = series_of(t).is_canceled();
        series_of(t).cancel();
        l.push(format!("canceled {before} -> {}", series_of(t).is_canceled()));
    });
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut series = create_series_work(first, move |s| {
        l.push("series".to_string());
        tx.send((s.is_canceled(), s.is_empty(), s.is_finished())).unwrap();
    });
    for i in 0..3 {
        let l = log.clone();
        let token = queued.token();
        let (l2, token2) = (log.clone(), queued.token());
        let mut t = create_go_task("series_cancel", move || {
            l2.push(format!("closure {i}"));
            drop(token2);
        })
        .with_callback(move |_| {
            l.push(format!("queued {i}"));
            drop(token);
        });
        t.set_user_data(queued.token());
        series.push_back(t);
    }
    series.set_last_task(create_empty_task().with_callback({
        let l = log.clone();
        move |_| l.push("last".to_string())
    }));
    series.start();
    assert_eq!(recv(&rx), (true, true, true));
    assert_eq!(log.get(), [format!("first {:?}", State::Success), "canceled false -> true".into(), "series".into()]);
    // Each queued task held three tokens: user data, closure, callback.
    assert_eq!(queued.count(), 9);
}

/// Canceling in a later task's callback keeps what already ran and drops the rest.
#[test]
fn cancel_in_middle() {
    let log = Log::<usize>::new();
    let drops = Drops::new();
    let (tx, rx) = mpsc::channel();
    let mut series = create_series_work(create_empty_task(), move |s| tx.send(s.is_canceled()).unwrap());
    for i in 0..6 {
        let l = log.clone();
        let token = drops.token();
        series.push_back(create_empty_task().with_callback(move |t| {
            l.push(i);
            drop(token);
            if i == 2 {
                series_of(t).cancel();
            }
        }));
    }
    series.start();
    assert!(recv(&rx));
    assert_eq!(log.get(), [0, 1, 2]);
    assert_eq!(drops.count(), 6, "run and dropped callbacks alike release what they hold");
}

/// Tasks pushed after `cancel()` in the same callback are dropped too.
#[test]
fn push_after_cancel_is_dropped() {
    let drops = Drops::new();
    let ran = Log::<&str>::new();
    let (r, token) = (ran.clone(), drops.token());
    let pushed = create_empty_task().with_callback(move |_| {
        r.push("pushed");
        drop(token);
    });
    let first = create_empty_task().with_callback(move |t| {
        series_of(t).cancel();
        series_of(t).push_back(pushed);
    });
    let (tx, rx) = mpsc::channel();
    create_series_work(first, move |s| tx.send(s.is_canceled()).unwrap()).start();
    assert!(recv(&rx));
    assert!(ran.get().is_empty());
    assert_eq!(drops.count(), 1);
}
