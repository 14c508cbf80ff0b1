//! Graph tasks: C++ graph_unittest `WFGraphTask1` (order constraints of a small DAG) and
//! `WFGraphTask2` (4095-node reverse heap).

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use support::{Log, recv};
use wf_core::{GraphNode, State, create_empty_task, create_go_task, create_graph_task, series_of};

/// C++ `WFGraphTask1`: a-->b<--c-->d-->a; c-->a.
#[test]
fn graph_task1_order_constraints() {
    for _ in 0..20 {
        let seq = Log::<&'static str>::new();
        let (tx, rx) = mpsc::channel();
        let mut g = create_graph_task(move |g| tx.send((g.state(), g.size())).unwrap());
        let mut node = |name: &'static str| {
            let s = seq.clone();
            g.create_graph_node(create_go_task("graph_order", || ()).with_callback(move |_| s.push(name)))
        };
        let (a, b, c, d) = (node("a"), node("b"), node("c"), node("d"));
        g.precede(a, b);
        g.succeed(b, c);
        g.precede(c, d);
        g.precede(d, a);
        g.precede(c, a);
        g.start();
        assert_eq!(recv(&rx), (State::Success, 4));
        let order = seq.get();
        let pos = |n| order.iter().position(|&x| x == n).unwrap();
        assert_eq!(order.len(), 4);
        assert!(pos("a") < pos("b"), "{order:?}");
        assert!(pos("c") < pos("b"), "{order:?}");
        assert!(pos("c") < pos("d"), "{order:?}");
        assert!(pos("d") < pos("a"), "{order:?}");
        assert!(pos("c") < pos("a"), "{order:?}");
    }
}

/// C++ `WFGraphTask2`: 4095 nodes, node i precedes node (i-1)/2: every child finishes before its
/// parent and the root finishes last.
#[test]
fn graph_task2_reverse_heap() {
    const N: usize = 4095;
    let clock = Arc::new(AtomicUsize::new(0));
    let finished_at = Arc::new(Mutex::new(vec![usize::MAX; N]));
    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| tx.send((g.state(), g.size())).unwrap());
    let nodes: Vec<_> = (0..N)
        .map(|i| {
            let (clock, finished_at) = (clock.clone(), finished_at.clone());
            g.create_graph_node(create_empty_task().with_callback(move |_| {
                let at = clock.fetch_add(1, Ordering::SeqCst);
                finished_at.lock().unwrap()[i] = at;
            }))
        })
        .collect();
    for i in 1..N {
        g.precede(nodes[i], nodes[(i - 1) / 2]);
    }
    g.start();
    assert_eq!(recv(&rx), (State::Success, N));
    let at = finished_at.lock().unwrap();
    assert!(at.iter().all(|&t| t < N), "every node ran once");
    for i in 1..N {
        assert!(at[i] < at[(i - 1) / 2], "child {i} finished at {} after its parent at {}", at[i], at[(i - 1) / 2]);
    }
    assert_eq!(at[0], N - 1);
}

/// A node's task may push more tasks into its series; successors wait for them.
#[test]
fn successors_wait_for_tasks_pushed_into_a_node_series() {
    let seq = Log::<&'static str>::new();
    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| tx.send(g.state()).unwrap());
    let (s1, s2, s3) = (seq.clone(), seq.clone(), seq.clone());
    let a = g.create_graph_node(create_empty_task().with_callback(move |t| {
        s1.push("a");
        series_of(t).push_back(create_go_task("graph_order", || ()).with_callback(move |_| s2.push("a pushed")));
    }));
    let b = g.create_graph_node(create_empty_task().with_callback(move |_| s3.push("b")));
    g.precede(a, b);
    assert!(g.node_series(a).is_some());
    g.start();
    assert_eq!(recv(&rx), State::Success);
    assert_eq!(seq.get(), ["a", "a pushed", "b"]);
}

/// Nodes of a graph can be reached after it ran: their series are handed back.
#[test]
fn graph_callback_sees_node_series() {
    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| {
        let a = *g.user_data::<GraphNode>().unwrap();
        let ctx = g.node_series(a).and_then(|s| s.context::<u32>().copied());
        tx.send(ctx).unwrap();
    });
    let a = g.create_graph_node(create_go_task("graph_order", || 9u32).with_callback(|t| {
        let v = t.take_result().unwrap();
        series_of(t).set_context(v);
    }));
    g.set_user_data(a);
    g.start();
    assert_eq!(recv(&rx), Some(9));
}

/// The same edge given twice is harmless: the successor runs once, after its predecessor.
#[test]
fn duplicate_edges() {
    let seq = Log::<&'static str>::new();
    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| tx.send(g.state()).unwrap());
    let (s1, s2) = (seq.clone(), seq.clone());
    let a = g.create_graph_node(create_go_task("graph_order", || ()).with_callback(move |_| s1.push("a")));
    let b = g.create_graph_node(create_empty_task().with_callback(move |_| s2.push("b")));
    g.precede(a, b);
    g.precede(a, b);
    g.succeed(b, a);
    g.start();
    assert_eq!(recv(&rx), State::Success);
    assert_eq!(seq.get(), ["a", "b"]);
}
