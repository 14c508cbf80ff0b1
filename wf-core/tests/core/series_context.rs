//! Series context: typed access from callbacks, `take_context`, awaiting a series, and
//! `series_of`/`try_series_of` outside callbacks.

use crate::support;

use std::sync::mpsc;

use support::{Drops, recv};
use wf_core::{create_empty_task, create_go_task, create_series_work, series_of, try_series_of};

#[derive(Debug, PartialEq)]
struct Ctx {
    values: Vec<u32>,
}

/// Every task callback reaches the same typed context; a wrong type gives `None`.
#[test]
fn context_is_shared_by_callbacks() {
    let (tx, rx) = mpsc::channel();
    let mut series = create_series_work(create_empty_task(), move |s| {
        let wrong_type = s.context::<String>().is_none();
        let taken = s.take_context::<Ctx>();
        tx.send((wrong_type, taken, s.context::<Ctx>().is_none())).unwrap();
    });
    series.set_context(Ctx { values: vec![] });
    for i in 1..=3u32 {
        series.push_back(create_go_task("series_context", move || i * 10).with_callback(|t| {
            let v = t.take_result().unwrap();
            series_of(t).context_mut::<Ctx>().unwrap().values.push(v);
        }));
    }
    series.start();
    let (wrong_type, taken, gone) = recv(&rx);
    assert!(wrong_type);
    assert_eq!(taken, Some(Ctx { values: vec![10, 20, 30] }));
    assert!(gone, "take_context leaves no context");
}

/// `take_context` with the wrong type leaves the context in place.
#[test]
fn take_context_wrong_type_keeps_it() {
    let mut s = create_series_work(create_empty_task(), |_| {});
    s.set_context(5u8);
    assert_eq!(s.take_context::<u16>(), None);
    assert_eq!(s.context::<u8>(), Some(&5));
    *s.context_mut::<u8>().unwrap() += 1;
    assert_eq!(s.take_context::<u8>(), Some(6));
    assert_eq!(s.context::<u8>(), None);
}

/// Awaiting a series resolves after its callback, to the series with its context.
#[tokio::test]
async fn awaited_series_keeps_its_context() {
    let drops = Drops::new();
    let mut series = create_series_work(create_go_task("series_context", || 2u64), |s| {
        *s.context_mut::<u64>().unwrap() *= 100;
    });
    series.set_context(0u64);
    series.push_back(create_go_task("series_context", || 3u64).with_callback(|t| {
        let v = t.take_result().unwrap();
        *series_of(t).context_mut::<u64>().unwrap() += v;
    }));
    let token = drops.token();
    series.push_back(create_empty_task().with_callback(move |_| drop(token)));
    let mut done = series.await;
    assert!(done.is_finished());
    assert!(!done.is_canceled());
    assert!(done.is_empty());
    assert_eq!(done.take_context::<u64>(), Some(300));
    assert_eq!(drops.count(), 1);
}

/// Outside of its callback a task has no series.
#[test]
fn try_series_of_outside_callback_is_none() {
    let mut t = create_empty_task();
    assert!(try_series_of(&mut t).is_none());
    // Inside another task's callback, a different task still has none.
    let (tx, rx) = mpsc::channel();
    let mut other = create_empty_task();
    create_empty_task()
        .with_callback(move |me| {
            let mine = try_series_of(me).is_some();
            let theirs = try_series_of(&mut other).is_some();
            tx.send((mine, theirs)).unwrap();
        })
        .start();
    assert_eq!(recv(&rx), (true, false));
}

#[test]
#[should_panic(expected = "series_of")]
fn series_of_outside_callback_panics() {
    let mut t = create_empty_task();
    let _ = series_of(&mut t);
}
