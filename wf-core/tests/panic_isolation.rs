//! Panic isolation: a panic in a task callback, a go closure, a series callback or a parallel
//! branch cancels only that series; its series callback still runs and the process carries on.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::{Drops, Log, recv};
use wf_core::{
    State, code, create_dynamic_task, create_empty_task, create_go_task, create_parallel_work, create_series_work,
    wait_finish_timeout,
};

#[test]
fn panicking_task_callback_cancels_its_series() {
    let log = Log::<String>::new();
    let drops = Drops::new();
    let l = log.clone();
    let first = create_empty_task().with_callback(move |_| {
        l.push("first".to_string());
        panic!("test panic in a task callback");
    });
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut s = create_series_work(first, move |s| {
        l.push("series".to_string());
        tx.send(s.is_canceled()).unwrap();
    });
    let (l, tok) = (log.clone(), drops.token());
    s.push_back(create_empty_task().with_callback(move |_| {
        l.push("second".to_string());
        drop(tok);
    }));
    s.start();
    assert!(recv(&rx), "the series was canceled");
    assert_eq!(log.get(), ["first", "series"]);
    assert_eq!(drops.count(), 1, "the queued task was dropped");
    // The process (and wf) carry on.
    let (tx, rx) = mpsc::channel();
    create_go_task("panic_isolation", || 1).with_callback(move |t| tx.send(t.take_result()).unwrap()).start();
    assert_eq!(recv(&rx), Some(1));
}

#[test]
fn panicking_go_closure_fails_the_task_and_cancels_the_series() {
    let log = Log::<String>::new();
    let (tx, rx) = mpsc::channel();
    let go = create_go_task("panic_isolation", || -> u32 { panic!("test panic in a go closure") }).with_callback({
        let tx = tx.clone();
        move |t| tx.send(format!("go {:?} {} {:?}", t.state(), t.error_code(), t.result())).unwrap()
    });
    let l = log.clone();
    let mut s = create_series_work(go, move |s| tx.send(format!("series canceled={}", s.is_canceled())).unwrap());
    s.push_back(create_empty_task().with_callback(move |_| l.push("next".to_string())));
    s.start();
    assert_eq!(recv(&rx), format!("go {:?} {} None", State::TaskError, code::PANICKED));
    assert_eq!(recv(&rx), "series canceled=true");
    assert!(log.get().is_empty());
}

#[test]
fn panicking_series_callback_still_ends_the_series() {
    let (tx, rx) = mpsc::channel();
    let mut s = create_series_work(create_empty_task(), |_| panic!("test panic in a series callback"));
    s.push_back(create_empty_task().with_callback(move |_| tx.send(()).unwrap()));
    s.start();
    recv(&rx);
    assert!(wait_finish_timeout(Duration::from_secs(10)), "wait_finish returns");
}

/// Awaited series and tasks resolve even when their callbacks panic.
#[tokio::test]
async fn awaited_work_resolves_after_panics() {
    let s = create_series_work(create_empty_task(), |_| panic!("test panic in an awaited series callback"));
    let s = s.await;
    assert!(s.is_finished());
    let t = create_go_task("panic_isolation", || 3)
        .with_callback(|_| panic!("test panic in an awaited task callback"))
        .await;
    assert_eq!(t.state(), State::Success);
    assert_eq!(t.result(), Some(&3));
}

#[test]
fn panic_in_parallel_branch_does_not_stop_the_parallel() {
    let log = Log::<String>::new();
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut p = create_parallel_work(move |p| {
        let canceled: Vec<bool> = p.iter().map(|s| s.is_canceled()).collect();
        l.push(format!("parallel {canceled:?}"));
    });
    // Branch 0: a task callback panics.
    let l = log.clone();
    let mut b0 =
        create_series_work(create_empty_task().with_callback(|_| panic!("test panic in a branch task")), |_| {});
    b0.push_back(create_empty_task().with_callback(move |_| l.push("b0 second".to_string())));
    p.add_series(b0);
    // Branch 1: the series callback panics.
    let l = log.clone();
    p.add_series(create_series_work(create_empty_task().with_callback(move |_| l.push("b1 task".to_string())), |_| {
        panic!("test panic in a branch series callback")
    }));
    // Branch 2: fine.
    let l = log.clone();
    p.add_series(create_series_work(
        create_go_task("panic_isolation", || ()).with_callback(move |_| l.push("b2 task".to_string())),
        |_| {},
    ));
    let l = log.clone();
    let mut outer = create_series_work(p, move |s| tx.send(s.is_canceled()).unwrap());
    outer.push_back(create_empty_task().with_callback(move |_| l.push("after".to_string())));
    outer.start();
    assert!(!recv(&rx), "the outer series is not canceled");
    let got = log.get();
    assert!(!got.contains(&"b0 second".to_string()), "{got:?}");
    assert!(got.contains(&"b1 task".to_string()), "{got:?}");
    assert!(got.contains(&"b2 task".to_string()), "{got:?}");
    assert_eq!(&got[got.len() - 2..], ["parallel [true, false, false]", "after"]);
}

/// A panic in a parallel's own callback cancels the series the parallel is in.
#[test]
fn panic_in_parallel_callback_cancels_its_series() {
    let log = Log::<String>::new();
    let mut p = create_parallel_work(|_| panic!("test panic in a parallel callback"));
    p.add_series(create_series_work(create_empty_task(), |_| {}));
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let mut s = create_series_work(p, move |s| tx.send(s.is_canceled()).unwrap());
    s.push_back(create_empty_task().with_callback(move |_| l.push("after".to_string())));
    s.start();
    assert!(recv(&rx));
    assert!(log.get().is_empty());
}

/// A panic in a dynamic task's `create` fails that task with PANICKED and cancels its series.
#[test]
fn panic_in_dynamic_create() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let d = create_dynamic_task(|_| panic!("test panic in a dynamic create"))
        .with_callback(move |t| tx2.send(format!("{:?} {}", t.state(), t.error_code())).unwrap());
    let mut s = create_series_work(d, move |s| tx.send(format!("canceled={}", s.is_canceled())).unwrap());
    s.push_back(create_empty_task());
    s.start();
    assert_eq!(recv(&rx), format!("{:?} {}", State::TaskError, code::PANICKED));
    assert_eq!(recv(&rx), "canceled=true");
}

/// Many panicking series in a row do not exhaust anything: wf keeps working.
#[test]
fn many_panics() {
    let (tx, rx) = mpsc::channel();
    for i in 0..50 {
        let tx = tx.clone();
        let go = create_go_task("panic_isolation", move || if i % 2 == 0 { panic!("test panic {i}") } else { i });
        create_series_work(go, move |s| tx.send(s.is_canceled()).unwrap()).start();
    }
    let canceled = (0..50).filter(|_| recv(&rx)).count();
    assert_eq!(canceled, 25);
}
