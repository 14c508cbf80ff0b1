//! Dynamic tasks: `create` is called when the task starts and the task it returns runs in its
//! place, before tasks already queued.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use support::{Log, recv};
use wf_core::{AnyTask, create_dynamic_task, create_empty_task, create_go_task, create_series_work};

#[test]
fn dynamic_runs_created_task_in_its_place() {
    let log = Log::<String>::new();
    let called = Arc::new(AtomicBool::new(false));
    let (l, c) = (log.clone(), called.clone());
    let d = create_dynamic_task(move |_| {
        c.store(true, Ordering::SeqCst);
        l.push("create".to_string());
        let l = l.clone();
        create_go_task("control_dynamic", || 7)
            .with_callback(move |t| l.push(format!("created {:?}", t.result())))
            .into()
    });
    let l = log.clone();
    let first = create_empty_task().with_callback(move |_| l.push("first".to_string()));
    let (tx, rx) = mpsc::channel();
    let mut s = create_series_work(first, move |_| tx.send(()).unwrap());
    s.push_back(d);
    let l = log.clone();
    s.push_back(create_empty_task().with_callback(move |_| l.push("queued".to_string())));
    assert!(!called.load(Ordering::SeqCst), "create is not called before the task starts");
    s.start();
    recv(&rx);
    assert_eq!(log.get(), ["first", "create", "created Some(7)", "queued"]);
}

/// `create` decides at start time, from state set by earlier tasks.
#[test]
fn dynamic_decides_at_start() {
    let flag = Arc::new(AtomicBool::new(false));
    let log = Log::<&'static str>::new();
    let f = flag.clone();
    let first = create_empty_task().with_callback(move |_| f.store(true, Ordering::SeqCst));
    let (f, l) = (flag.clone(), log.clone());
    let d = create_dynamic_task(move |_| -> AnyTask {
        let l = l.clone();
        if f.load(Ordering::SeqCst) {
            create_empty_task().with_callback(move |_| l.push("flag set")).into()
        } else {
            create_empty_task().with_callback(move |_| l.push("flag unset")).into()
        }
    });
    let (tx, rx) = mpsc::channel();
    let mut s = create_series_work(first, move |_| tx.send(()).unwrap());
    s.push_back(d);
    s.start();
    recv(&rx);
    assert_eq!(log.get(), ["flag set"]);
}

/// A dismissed dynamic task never calls `create`.
#[test]
fn dropped_dynamic_never_creates() {
    let called = Arc::new(AtomicBool::new(false));
    let c = called.clone();
    let d = create_dynamic_task(move |_| {
        c.store(true, Ordering::SeqCst);
        create_empty_task().into()
    });
    drop(d);
    assert!(!called.load(Ordering::SeqCst));
}

/// `create` gets the dynamic task itself: its user data, and through `series_of` its series.
#[test]
fn create_gets_the_dynamic_task() {
    let log = Log::<String>::new();
    let l = log.clone();
    let mut d = create_dynamic_task(move |d: &mut wf_core::DynamicTask| -> AnyTask {
        let name = d.take_user_data::<String>().expect("user data");
        let l2 = l.clone();
        wf_core::series_of(d).push_back(create_empty_task().with_callback(move |_| l2.push("pushed".to_string())));
        let l = l.clone();
        create_empty_task().with_callback(move |_| l.push(name)).into()
    });
    d.set_user_data("created".to_string());
    let (tx, rx) = mpsc::channel();
    create_series_work(d, move |_| tx.send(()).unwrap()).start();
    recv(&rx);
    assert_eq!(log.get(), ["created", "pushed"]);
}
