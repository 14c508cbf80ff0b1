//! Repeater tasks: `create` is called until it returns `None`; `repeated()` counts the runs; tasks
//! pushed by a repeated task's callback run before the next repetition.

use crate::support;

use std::sync::mpsc;

use support::{Log, recv};
use wf_core::{AnyTask, create_empty_task, create_go_task, create_repeater_task, series_of};

#[test]
fn repeats_until_none() {
    let log = Log::<String>::new();
    let l = log.clone();
    let mut n = 0;
    let (tx, rx) = mpsc::channel();
    let r = create_repeater_task(
        move |_| -> Option<AnyTask> {
            n += 1;
            l.push(format!("create {n}"));
            if n > 3 {
                return None;
            }
            let (l, l2) = (l.clone(), l.clone());
            let i = n;
            Some(
                create_go_task("control_repeater", move || i * 10)
                    .with_callback(move |t| {
                        l.push(format!("run {:?}", t.result()));
                        series_of(t)
                            .push_back(create_empty_task().with_callback(move |_| l2.push(format!("pushed {i}"))));
                    })
                    .into(),
            )
        },
        move |r| tx.send((r.state(), r.repeated())).unwrap(),
    );
    r.start();
    assert_eq!(recv(&rx), (wf_core::State::Success, 3));
    assert_eq!(
        log.get(),
        [
            "create 1",
            "run Some(10)",
            "pushed 1",
            "create 2",
            "run Some(20)",
            "pushed 2",
            "create 3",
            "run Some(30)",
            "pushed 3",
            "create 4",
        ]
    );
}

#[test]
fn none_at_once_repeats_zero_times() {
    let (tx, rx) = mpsc::channel();
    create_repeater_task(|_| None, move |r| tx.send(r.repeated()).unwrap()).start();
    assert_eq!(recv(&rx), 0);
}

/// More repetitions than the engine runs per poll.
#[test]
fn many_repetitions() {
    let mut n = 0u32;
    let (tx, rx) = mpsc::channel();
    create_repeater_task(
        move |_| {
            n += 1;
            (n <= 1000).then(|| create_empty_task().into())
        },
        move |r| tx.send(r.repeated()).unwrap(),
    )
    .start();
    assert_eq!(recv(&rx), 1000);
}

/// `create` gets the repeater task itself (Workflow's `create(WFRepeaterTask *)`): its repeated
/// count, its user data, and through `series_of` the series it runs in.
#[test]
fn create_gets_the_repeater_task() {
    let (tx, rx) = mpsc::channel();
    let mut r = create_repeater_task(
        |r: &mut wf_core::RepeaterTask| {
            let limit = *r.user_data::<usize>().expect("user data");
            let seen = r.repeated();
            series_of(r).context_mut::<Vec<usize>>().expect("the outer series' context").push(seen);
            (seen < limit).then(|| create_empty_task().into())
        },
        |_| {},
    );
    r.set_user_data(3usize);
    let mut s = wf_core::create_series_work(r, move |s| tx.send(s.take_context::<Vec<usize>>()).unwrap());
    s.set_context(Vec::<usize>::new());
    s.start();
    assert_eq!(recv(&rx), Some(vec![0, 1, 2, 3]));
}
