//! Nested parallels: a parallel inside a series inside a parallel inside a series inside a
//! parallel (three levels) completes inside out, in order.

use crate::support;

use std::sync::mpsc;

use support::{Log, recv};
use wf_core::{SeriesWork, create_go_task, create_parallel_work, create_series_work};

fn go(log: &Log<String>, name: &str) -> wf_core::GoTask<()> {
    let l = log.clone();
    let name = name.to_string();
    create_go_task("parallel_nested", || ()).with_callback(move |_| l.push(name))
}

fn series(log: &Log<String>, name: &str, first: impl Into<wf_core::AnyTask>) -> SeriesWork {
    let l = log.clone();
    let name = name.to_string();
    create_series_work(first, move |_| l.push(format!("series {name}")))
}

fn pos(log: &[String], what: &str) -> usize {
    log.iter().position(|e| e == what).unwrap_or_else(|| panic!("{what} missing from {log:?}"))
}

#[test]
fn three_levels_complete_inside_out() {
    let log = Log::<String>::new();
    // Level 3: two series of one go task each.
    let l = log.clone();
    let mut p3 = create_parallel_work(move |p| l.push(format!("p3 {}", p.size())));
    p3.add_series(series(&log, "c1", go(&log, "c1")));
    p3.add_series(series(&log, "c2", go(&log, "c2")));
    // Level 2: series b = [b1, p3, b2], next to series b' = [b'1].
    let mut sb = series(&log, "b", go(&log, "b1"));
    sb.push_back(p3);
    sb.push_back(go(&log, "b2"));
    let l = log.clone();
    let mut p2 = create_parallel_work(move |p| l.push(format!("p2 {}", p.size())));
    p2.add_series(sb);
    p2.add_series(series(&log, "b'", go(&log, "b'1")));
    // Level 1: series a = [a1, p2, a2].
    let mut sa = series(&log, "a", go(&log, "a1"));
    sa.push_back(p2);
    sa.push_back(go(&log, "a2"));
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut p1 = create_parallel_work(move |p| {
        l.push(format!("p1 {}", p.size()));
        tx.send(()).unwrap();
    });
    p1.add_series(sa);
    p1.start();
    recv(&rx);
    let got = log.get();
    assert_eq!(got.len(), 15, "{got:?}");
    let chain = ["a1", "b1", "c1", "series c1", "p3 2", "b2", "series b", "p2 2", "a2", "series a", "p1 1"];
    for w in chain.windows(2) {
        assert!(pos(&got, w[0]) < pos(&got, w[1]), "{} before {}: {got:?}", w[0], w[1]);
    }
    for (before, after) in [("c2", "series c2"), ("series c2", "p3 2"), ("b'1", "series b'"), ("series b'", "p2 2")] {
        assert!(pos(&got, before) < pos(&got, after), "{before} before {after}: {got:?}");
    }
    assert_eq!(got.last().map(String::as_str), Some("p1 1"));
}

/// A parallel of 100 series each running a parallel of 10 series: every leaf runs once.
#[test]
fn wide_nesting_runs_every_leaf() {
    let leaves = Log::<(u32, u32)>::new();
    let (tx, rx) = mpsc::channel();
    let mut outer = create_parallel_work(move |p| tx.send(p.size()).unwrap());
    for i in 0..100 {
        let mut inner = create_parallel_work(|_| {});
        for j in 0..10 {
            let l = leaves.clone();
            inner.add_series(create_series_work(create_go_task("parallel_nested", move || l.push((i, j))), |_| {}));
        }
        outer.add_series(create_series_work(inner, |_| {}));
    }
    outer.start();
    assert_eq!(recv(&rx), 100);
    let mut got = leaves.get();
    got.sort();
    let want: Vec<_> = (0..100).flat_map(|i| (0..10).map(move |j| (i, j))).collect();
    assert_eq!(got, want);
}
