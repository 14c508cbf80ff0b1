//! Empty tasks: succeed at once, with their callback, in a series or alone.

use crate::support;

use std::sync::mpsc;

use support::recv;
use wf_core::{State, create_empty_task, create_series_work};

#[test]
fn empty_task_succeeds() {
    let (tx, rx) = mpsc::channel();
    let t = create_empty_task().with_callback(move |t| tx.send((t.state(), t.error_code(), t.error_text())).unwrap());
    t.start();
    assert_eq!(recv(&rx), (State::Success, 0, "Success".to_string()));
}

#[test]
fn empty_task_before_start_is_undefined() {
    let t = create_empty_task();
    assert_eq!(t.state(), State::Undefined);
}

#[test]
fn series_of_empty_tasks() {
    let (tx, rx) = mpsc::channel();
    let mut s = create_series_work(create_empty_task(), move |s| tx.send(s.is_canceled()).unwrap());
    for _ in 0..10 {
        s.push_back(create_empty_task());
    }
    s.start();
    assert!(!recv(&rx));
}
