//! Dismissing: dropping a never-started series drops every task, callback and context without
//! running anything; tasks pushed in a series callback are refused (the push panics) and dropped.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use support::{Drops, Token, WAIT, recv, wait_until};
use wf_core::{Task, TaskKind, create_empty_task, create_go_task, create_parallel_work, create_series_work};

/// A task callback that counts its run and holds `tok`.
fn callback<K: TaskKind>(ran: &Arc<AtomicUsize>, tok: Token) -> impl FnOnce(&mut Task<K>) + Send + 'static {
    let ran = ran.clone();
    move |_| {
        ran.fetch_add(1, Ordering::SeqCst);
        drop(tok);
    }
}

#[test]
fn dropping_unstarted_series_runs_nothing_and_drops_everything() {
    let drops = Drops::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut created = 0;
    let mut token = || {
        created += 1;
        drops.token()
    };
    let mut first = create_empty_task().with_callback(callback(&ran, token()));
    first.set_user_data(token());
    let series_token = token();
    let r = ran.clone();
    let mut series = create_series_work(first, move |_| {
        r.fetch_add(1, Ordering::SeqCst);
        drop(series_token);
    });
    series.set_context(token());
    let closure_token = token();
    let r = ran.clone();
    series.push_back(
        create_go_task("series_dismiss", move || {
            r.fetch_add(1, Ordering::SeqCst);
            drop(closure_token);
        })
        .with_callback(callback(&ran, token())),
    );
    // A nested parallel with a series of its own.
    let mut p = create_parallel_work(callback(&ran, token()));
    let mut inner = create_series_work(create_empty_task().with_callback(callback(&ran, token())), {
        let (r, t) = (ran.clone(), token());
        move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            drop(t);
        }
    });
    inner.set_context(token());
    p.add_series(inner);
    p.set_context(token());
    series.push_back(p);
    series.set_last_task(create_empty_task().with_callback(callback(&ran, token())));
    assert_eq!(drops.count(), 0);
    drop(series);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "no callback or closure ran");
    assert_eq!(drops.count(), created, "everything the series held was dropped");
    assert_eq!(created, 12);
}

/// Dropping a never-started task dismisses it: no callback, its captures dropped.
#[test]
fn dropping_unstarted_task_runs_nothing() {
    let drops = Drops::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let (r, tok, tok2) = (ran.clone(), drops.token(), drops.token());
    let mut t = create_go_task("series_dismiss", move || drop(tok2)).with_callback(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
        drop(tok);
    });
    t.set_user_data(drops.token());
    drop(t);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(drops.count(), 3);
}

/// A task pushed from the series callback is refused: the push panics (a programming error, as in
/// Workflow) and the task is dropped there, never run.
#[test]
fn tasks_pushed_in_series_callback_are_refused_and_dropped() {
    let drops = Drops::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let (r, tok) = (ran.clone(), drops.token());
    let late = create_empty_task().with_callback(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
        drop(tok);
    });
    let d = drops.clone();
    let series = create_series_work(create_empty_task(), move |s| {
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.push_back(late))).is_err();
        tx.send((refused, s.len(), d.count())).unwrap();
    });
    series.start();
    let (refused, pending_in_callback, dropped_in_callback) = recv(&rx);
    assert!(refused, "the push panics");
    assert_eq!(pending_in_callback, 0, "nothing was queued");
    assert_eq!(dropped_in_callback, 1, "the pushed task was dropped at once");
    assert!(wait_until(WAIT, || drops.count() == 1));
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the pushed task never ran");
}
