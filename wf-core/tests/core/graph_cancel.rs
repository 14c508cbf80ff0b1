//! Graph edge cases: cycles (no node runs), canceling a node cancels its successors recursively
//! while unrelated nodes run, and the empty graph.

use crate::support;

use std::sync::mpsc;

use support::{Drops, Log, WAIT, recv, wait_until};
use wf_core::{State, code, create_empty_task, create_graph_task, create_series_work, series_of};

/// A cycle fails the graph with TASK_ERROR/GRAPH_CYCLE; no node runs, every node is dropped.
#[test]
fn cycle_fails_and_runs_nothing() {
    let ran = Log::<&'static str>::new();
    let drops = Drops::new();
    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| tx.send((g.state(), g.error_code(), g.size())).unwrap());
    let mut node = |name: &'static str| {
        let (r, tok) = (ran.clone(), drops.token());
        g.create_graph_node(create_empty_task().with_callback(move |_| {
            r.push(name);
            drop(tok);
        }))
    };
    let (a, b, c, free) = (node("a"), node("b"), node("c"), node("free"));
    g.precede(a, b);
    g.precede(b, c);
    g.precede(c, a);
    let _ = free;
    let (done_tx, done_rx) = mpsc::channel();
    create_series_work(g, move |_| done_tx.send(()).unwrap()).start();
    assert_eq!(recv(&rx), (State::TaskError, code::GRAPH_CYCLE, 4));
    recv(&done_rx);
    assert!(ran.get().is_empty(), "no node ran: {:?}", ran.get());
    assert!(wait_until(WAIT, || drops.count() == 4), "every node was dropped ({} of 4)", drops.count());
}

/// A self-loop is a cycle too.
#[test]
fn self_loop_is_a_cycle() {
    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| {
        tx.send(g.error().cloned().unwrap_or_else(|| wf_core::Error::new(g.state(), 0))).unwrap()
    });
    let a = g.create_graph_node(create_empty_task());
    g.precede(a, a);
    g.start();
    let e = recv(&rx);
    assert_eq!((e.state(), e.code()), (State::TaskError, code::GRAPH_CYCLE));
    assert_eq!(e.to_string(), "Graph Has A Cycle");
}

/// a-->b-->c, a-->d, e: a cancels its series; b, c and d never run their tasks (dropped), e runs.
#[test]
fn canceled_node_cancels_successors_recursively() {
    let ran = Log::<&'static str>::new();
    let drops = Drops::new();
    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| {
        let canceled: Vec<bool> = (0..g.size())
            .map(|i| {
                // Nodes are numbered in creation order.
                let n = g.user_data::<Vec<wf_core::GraphNode>>().unwrap()[i];
                g.node_series(n).unwrap().is_canceled()
            })
            .collect();
        tx.send((g.state(), canceled)).unwrap();
    });
    let mut node = |name: &'static str, cancel: bool| {
        let (r, tok) = (ran.clone(), drops.token());
        g.create_graph_node(create_empty_task().with_callback(move |t| {
            r.push(name);
            drop(tok);
            if cancel {
                series_of(t).cancel();
            }
        }))
    };
    let nodes = vec![node("a", true), node("b", false), node("c", false), node("d", false), node("e", false)];
    let [a, b, c, d, _e] = nodes[..] else { unreachable!() };
    g.precede(a, b);
    g.precede(b, c);
    g.precede(a, d);
    g.set_user_data(nodes);
    g.start();
    let (state, canceled) = recv(&rx);
    assert_eq!(state, State::Success);
    assert_eq!(canceled, [true, true, true, true, false]);
    let mut got = ran.get();
    got.sort();
    assert_eq!(got, ["a", "e"]);
    assert_eq!(drops.count(), 5, "run and canceled nodes alike were released");
}

/// A node with two predecessors is canceled when either of them is.
#[test]
fn join_node_canceled_by_one_predecessor() {
    let ran = Log::<&'static str>::new();
    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| tx.send(g.state()).unwrap());
    let mut node = |name: &'static str, cancel: bool| {
        let r = ran.clone();
        g.create_graph_node(create_empty_task().with_callback(move |t| {
            r.push(name);
            if cancel {
                series_of(t).cancel();
            }
        }))
    };
    let (a, b, j) = (node("a", false), node("b", true), node("join", false));
    g.precede(a, j);
    g.precede(b, j);
    g.start();
    assert_eq!(recv(&rx), State::Success);
    let mut got = ran.get();
    got.sort();
    assert_eq!(got, ["a", "b"]);
}

#[test]
fn empty_graph_completes() {
    let (tx, rx) = mpsc::channel();
    create_graph_task(move |g| tx.send((g.state(), g.size())).unwrap()).start();
    assert_eq!(recv(&rx), (State::Success, 0));
}
