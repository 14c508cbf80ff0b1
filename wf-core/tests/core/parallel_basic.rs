//! Parallels: the callback sees every sub-series in insertion order with its context; empty
//! parallels; canceling one branch leaves its siblings and the parent series alone.

use crate::support;

use std::sync::mpsc;
use std::time::Duration;

use support::{Drops, Log, recv};
use wf_core::{
    State, create_empty_task, create_go_task, create_parallel_work, create_series_work, series_of, start_parallel_work,
};

/// Branches finish in reverse order; the callback still sees them in insertion order.
#[test]
fn callback_sees_series_in_insertion_order_with_context() {
    let finish = Log::<usize>::new();
    let (tx, rx) = mpsc::channel();
    let mut p = create_parallel_work(move |p| {
        let contexts: Vec<usize> = p.iter().map(|s| *s.context::<usize>().unwrap()).collect();
        let by_index: Vec<usize> =
            (0..p.size()).map(|i| *p.series_at(i).unwrap().context::<usize>().unwrap()).collect();
        let all_finished = p.iter().all(|s| s.is_finished() && !s.is_canceled());
        let ctx = p.context::<&str>().copied();
        tx.send((p.state(), p.size(), contexts, by_index, all_finished, ctx, p.series_at(5).is_none())).unwrap();
    });
    for i in 0..5usize {
        let f = finish.clone();
        let go = create_go_task("parallel_basic", move || {
            std::thread::sleep(Duration::from_millis(10 * (5 - i) as u64));
            i * 100
        })
        .with_callback(move |t| {
            let v = t.take_result().unwrap();
            *series_of(t).context_mut::<usize>().unwrap() = v;
        });
        let mut s = create_series_work(go, move |_| f.push(i));
        s.set_context(usize::MAX);
        p.add_series(s);
    }
    p.set_context("parallel context");
    assert_eq!(p.size(), 5);
    p.start();
    let (state, size, contexts, by_index, all_finished, ctx, past_end) = recv(&rx);
    assert_eq!(state, State::Success);
    assert_eq!(size, 5);
    assert_eq!(contexts, [0, 100, 200, 300, 400]);
    assert_eq!(by_index, contexts);
    assert!(all_finished);
    assert_eq!(ctx, Some("parallel context"));
    assert!(past_end);
    assert_eq!(finish.len(), 5);
}

#[test]
fn empty_parallel_completes() {
    let (tx, rx) = mpsc::channel();
    create_parallel_work(move |p| tx.send((p.state(), p.size())).unwrap()).start();
    assert_eq!(recv(&rx), (State::Success, 0));

    let (tx, rx) = mpsc::channel();
    start_parallel_work(Vec::new(), move |p| tx.send((p.state(), p.size())).unwrap());
    assert_eq!(recv(&rx), (State::Success, 0));
}

/// `start_parallel_work` runs every series it is given.
#[test]
fn start_parallel_work_runs_all() {
    let ran = Log::<u32>::new();
    let series: Vec<_> = (0..10)
        .map(|i| {
            let r = ran.clone();
            create_series_work(create_empty_task().with_callback(move |_| r.push(i)), |_| {})
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    let r = ran.clone();
    start_parallel_work(series, move |p| tx.send((p.size(), r.len())).unwrap());
    assert_eq!(recv(&rx), (10, 10));
    let mut got = ran.get();
    got.sort();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

/// One branch cancels itself: its queued task is dropped, the sibling branch and the parent
/// series carry on.
#[test]
fn canceled_branch_does_not_cancel_siblings_or_parent() {
    let log = Log::<String>::new();
    let drops = Drops::new();
    let branch = |name: &'static str, cancel: bool| {
        let l = log.clone();
        let first = create_empty_task().with_callback(move |t| {
            l.push(format!("{name} first"));
            if cancel {
                series_of(t).cancel();
            }
        });
        let mut s = create_series_work(first, |_| {});
        let (l, tok) = (log.clone(), drops.token());
        s.push_back(create_go_task("parallel_basic", || ()).with_callback(move |_| {
            l.push(format!("{name} second"));
            drop(tok);
        }));
        s
    };
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut p = create_parallel_work(move |p| {
        let canceled: Vec<bool> = p.iter().map(|s| s.is_canceled()).collect();
        l.push(format!("parallel {canceled:?}"));
    });
    p.add_series(branch("a", true));
    p.add_series(branch("b", false));
    let mut outer = create_series_work(p, move |s| tx.send(s.is_canceled()).unwrap());
    let l = log.clone();
    outer.push_back(create_empty_task().with_callback(move |_| l.push("after parallel".to_string())));
    outer.start();
    assert!(!recv(&rx), "the parent series is not canceled");
    let got = log.get();
    assert!(got.contains(&"a first".to_string()));
    assert!(got.contains(&"b first".to_string()));
    assert!(got.contains(&"b second".to_string()), "{got:?}");
    assert!(!got.contains(&"a second".to_string()), "{got:?}");
    assert_eq!(&got[got.len() - 2..], ["parallel [true, false]", "after parallel"]);
    assert_eq!(drops.count(), 2, "both second tasks were dropped (one after running)");
}

/// `series_at_mut` lets the parallel callback take a branch's context out.
#[test]
fn parallel_callback_takes_contexts() {
    let (tx, rx) = mpsc::channel();
    let mut p = create_parallel_work(move |p| {
        let taken: Vec<Option<String>> = (0..p.size()).map(|i| p.series_at_mut(i).unwrap().take_context()).collect();
        let left = p.iter_mut().filter(|s| s.context::<String>().is_some()).count();
        tx.send((taken, left)).unwrap();
    });
    for i in 0..3 {
        let mut s = create_series_work(create_empty_task(), |_| {});
        s.set_context(format!("branch {i}"));
        p.add_series(s);
    }
    p.start();
    let (taken, left) = recv(&rx);
    assert_eq!(taken, [Some("branch 0".to_string()), Some("branch 1".to_string()), Some("branch 2".to_string())]);
    assert_eq!(left, 0);
}
