//! Thread tasks: C++ task_unittest `WFThreadTask`; typed input and output.

use crate::support;

use std::sync::mpsc;

use support::recv;
use wf_core::{State, create_thread_task};

/// C++ `WFThreadTask`: input (a, b) gives output a * b and SUCCESS.
#[test]
fn thread_task_multiplies() {
    let (tx, rx) = mpsc::channel();
    create_thread_task(
        "task_thread",
        (6i32, 7i32),
        |io: &mut (i32, i32)| io.0 * io.1,
        move |t| tx.send((t.state(), t.input().copied(), t.output().copied())).unwrap(),
    )
    .start();
    assert_eq!(recv(&rx), (State::Success, Some((6, 7)), Some(42)));
}

/// The routine may change its input; the callback sees the changed input,
/// and `input_mut` lets the input be filled before the start.
#[test]
fn thread_task_input_is_mutable() {
    let (tx, rx) = mpsc::channel();
    let mut t = create_thread_task(
        "task_thread",
        Vec::<u32>::new(),
        |v: &mut Vec<u32>| {
            v.push(4);
            v.iter().sum::<u32>()
        },
        move |t| tx.send((t.input().cloned(), t.take_output(), t.output().copied())).unwrap(),
    );
    t.input_mut().unwrap().extend([1, 2, 3]);
    t.start();
    assert_eq!(recv(&rx), (Some(vec![1, 2, 3, 4]), Some(10), None));
}
