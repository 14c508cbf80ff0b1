//! Error text: a finished task's `error()` displays as Workflow's `get_error_string`.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use support::{WAIT, recv, wait_until};
use wf_core::{
    Error, SelectorTask, State, TimeoutReason, code, create_empty_task, create_go_task, create_graph_task,
    create_selector_task, create_timedgo_task, get_error_string,
};

#[test]
fn selector_enomsg_text() {
    let (tx, rx) = mpsc::channel();
    let s = create_selector_task(1, move |s: &mut SelectorTask<()>| {
        tx.send(s.error().cloned().unwrap_or_else(|| wf_core::Error::new(s.state(), 0))).unwrap()
    });
    let h = s.handle();
    s.start();
    h.submit(None);
    let e = recv(&rx);
    assert_eq!((e.state(), e.code()), (State::SysError, libc::ENOMSG));
    assert_eq!(e.to_string(), "No message of desired type");
    assert_eq!(get_error_string(e.state(), e.code()), "No message of desired type");
}

#[test]
fn timed_go_etimedout_text() {
    let gate = Arc::new(AtomicBool::new(false));
    let g = gate.clone();
    let (tx, rx) = mpsc::channel();
    create_timedgo_task(Duration::from_millis(1), "error_text", move || {
        wait_until(WAIT, || g.load(Ordering::SeqCst));
    })
    .with_callback(move |t| tx.send(t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0))).unwrap())
    .start();
    let e = recv(&rx);
    gate.store(true, Ordering::SeqCst);
    assert_eq!(e.to_string(), "Connection timed out");
    assert_eq!(e.timeout_reason(), TimeoutReason::NotTimeout);
    assert!(e.is_timeout());
}

#[test]
fn panicked_and_graph_cycle_text() {
    let (tx, rx) = mpsc::channel();
    create_go_task("error_text", || panic!("test panic for its error text"))
        .with_callback(move |t| {
            tx.send(t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0))).unwrap()
        })
        .start();
    let e = recv(&rx);
    assert_eq!(e, Error::task(code::PANICKED));
    assert_eq!(e.to_string(), "Task Panicked");

    let (tx, rx) = mpsc::channel();
    let mut g = create_graph_task(move |g| {
        tx.send(g.error().cloned().unwrap_or_else(|| wf_core::Error::new(g.state(), 0))).unwrap()
    });
    let (a, b) = (g.create_graph_node(create_empty_task()), g.create_graph_node(create_empty_task()));
    g.precede(a, b);
    g.precede(b, a);
    g.start();
    assert_eq!(recv(&rx).to_string(), "Graph Has A Cycle");
}

#[test]
fn success_and_errno_texts() {
    let (tx, rx) = mpsc::channel();
    create_empty_task()
        .with_callback(move |t| tx.send((t.error().cloned(), t.error_code(), t.error_text())).unwrap())
        .start();
    let (e, code, text) = recv(&rx);
    assert!(e.is_none(), "a task that did not fail has no error");
    assert_eq!((code, text.as_str()), (0, "Success"));
    assert_eq!(Error::sys(libc::ECANCELED).to_string(), "Operation canceled");
    assert_eq!(Error::sys(libc::EINVAL).to_string(), "Invalid argument");
    assert_eq!(Error::sys(libc::ETIMEDOUT).to_string(), "Connection timed out");
    assert_eq!(Error::new(State::Undefined, 0).to_string(), "Undefined");
}
