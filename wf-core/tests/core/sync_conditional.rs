//! Conditionals: signal before or after start, the message lands in the wrapped task's user data,
//! named conditionals and `signal_by_name` with `max`.

use crate::support;

use std::sync::mpsc;
use std::time::Duration;

use support::{Drops, Log, recv, wait_until};
use wf_core::{
    State, create_conditional, create_empty_task, create_go_task, create_named_conditional, create_series_work,
    signal_by_name,
};

#[test]
fn signal_before_start() {
    let (tx, rx) = mpsc::channel();
    let go = create_go_task("sync_conditional", || 1).with_callback(move |t| {
        tx.send((t.state(), t.take_user_data::<String>())).unwrap();
    });
    let c = create_conditional(go);
    let h = c.handle();
    assert!(h.signal("before".to_string()));
    assert!(!h.signal("twice".to_string()), "a conditional is signaled once");
    c.start();
    assert_eq!(recv(&rx), (State::Success, Some("before".to_string())));
}

#[test]
fn signal_after_start() {
    let log = Log::<String>::new();
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let wrapped = create_empty_task().with_callback(move |t| l.push(format!("wrapped {:?}", t.user_data::<u32>())));
    let c = create_conditional(wrapped).with_callback({
        let l = log.clone();
        move |c| l.push(format!("conditional {:?}", c.state()))
    });
    let h = c.handle();
    let l = log.clone();
    let mut s = create_series_work(c, move |_| tx.send(()).unwrap());
    s.push_back(create_empty_task().with_callback(move |_| l.push("next".to_string())));
    s.start();
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "the series waits for the signal");
    assert!(log.get().is_empty(), "{:?}", log.get());
    assert!(h.signal(5u32));
    recv(&rx);
    // The wrapped task runs right after the conditional, before what was queued.
    assert_eq!(log.get(), ["conditional Success", "wrapped Some(5)", "next"]);
}

/// Signaling with `()` leaves the wrapped task's user data alone.
#[test]
fn unit_signal_keeps_user_data() {
    let (tx, rx) = mpsc::channel();
    let mut wrapped = create_empty_task().with_callback(move |t| tx.send(t.take_user_data::<&str>()).unwrap());
    wrapped.set_user_data("mine");
    let c = create_conditional(wrapped);
    c.handle().signal(());
    c.start();
    assert_eq!(recv(&rx), Some("mine"));
}

/// A dismissed conditional drops the wrapped task without running it.
#[test]
fn dropped_conditional_drops_wrapped_task() {
    let drops = Drops::new();
    let tok = drops.token();
    let c = create_conditional(create_empty_task().with_callback(move |_| drop(tok)));
    let h = c.handle();
    drop(c);
    assert_eq!(drops.count(), 1);
    // Signaling a dismissed conditional is harmless.
    h.signal(1u8);
}

#[test]
fn signal_by_name_with_max() {
    let name = "sync_conditional::by-name";
    let (tx, rx) = mpsc::channel();
    for i in 0..3 {
        let tx = tx.clone();
        let wrapped = create_empty_task().with_callback(move |t| tx.send((i, t.take_user_data::<&str>())).unwrap());
        create_named_conditional(name, wrapped).start();
    }
    assert_eq!(signal_by_name(name, "two of them", 2), 2);
    let mut got = vec![recv(&rx), recv(&rx)];
    got.sort();
    assert_eq!(got, [(0, Some("two of them")), (1, Some("two of them"))]);
    assert!(rx.recv_timeout(Duration::from_millis(20)).is_err(), "the third waits");
    assert_eq!(signal_by_name(name, "the rest", usize::MAX), 1);
    assert_eq!(recv(&rx), (2, Some("the rest")));
    assert_eq!(signal_by_name(name, "nobody", 10), 0);
    assert_eq!(signal_by_name("sync_conditional::unknown", (), 10), 0);
}

/// Named conditionals may be signaled before they start.
#[test]
fn signal_by_name_before_start() {
    let name = "sync_conditional::before-start";
    let (tx, rx) = mpsc::channel();
    let c = create_named_conditional(
        name,
        create_empty_task().with_callback(move |t| tx.send(t.take_user_data::<i32>()).unwrap()),
    );
    assert_eq!(signal_by_name(name, -3i32, 1), 1);
    c.start();
    assert_eq!(recv(&rx), Some(-3));
}

/// A dismissed named conditional leaves the registry.
#[test]
fn dropped_named_conditional_is_unregistered() {
    let name = "sync_conditional::dropped";
    drop(create_named_conditional(name, create_empty_task()));
    assert_eq!(signal_by_name(name, (), 10), 0);
}

/// A named conditional signaled through its handle is no longer a target of `signal_by_name`
/// (C++: `WFConditional::signal` on a named conditional removes it from the name list), so
/// `max` counts only conditionals still waiting for a signal.
#[test]
fn signal_by_name_skips_conditional_signaled_by_handle() {
    let name = "sync_conditional::signaled-by-handle";
    let (tx, rx) = mpsc::channel();
    let named = |i: u32| {
        let tx = tx.clone();
        create_named_conditional(
            name,
            create_empty_task().with_callback(move |t| tx.send((i, t.take_user_data::<&str>())).unwrap()),
        )
    };
    // The first is signaled directly and not started yet; the second waits.
    let first = named(0);
    assert!(first.handle().signal("direct"));
    named(1).start();
    assert_eq!(signal_by_name(name, "by name", 1), 1, "the waiting conditional is signaled");
    assert_eq!(recv(&rx), (1, Some("by name")));
    first.start();
    assert_eq!(recv(&rx), (0, Some("direct")));
}

/// A conditional nothing can signal (no handle left, no name) fails with `TASK_ERROR`/`ORPHANED`
/// and its task is dismissed, instead of holding its series forever.
#[test]
fn conditional_nobody_can_signal_fails_orphaned() {
    let (tx, rx) = mpsc::channel();
    let drops = Drops::new();
    let (token, ran) = (drops.token(), tx.clone());
    let go = create_go_task("sync_conditional", || ()).with_callback(move |_| {
        let _kept = &token;
        ran.send((State::Undefined, -1)).unwrap();
    });
    let mut c = create_conditional(go);
    c.set_callback(move |c| tx.send((c.state(), c.error_code())).unwrap());
    let h1 = c.handle();
    let h2 = h1.clone();
    c.start();
    drop(h1);
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "one handle is left");
    drop(h2);
    assert_eq!(recv(&rx), (State::TaskError, wf_core::code::ORPHANED));
    assert!(wait_until(support::WAIT, || drops.count() == 1), "the wrapped task is dropped");
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "the wrapped task was dismissed");
}

/// The array form: each waiting conditional of the name gets its own message, in creation order;
/// the messages left over stay with the caller.
#[test]
fn signal_by_name_each_gives_each_its_own_message() {
    let name = "sync_conditional::each";
    let (tx, rx) = mpsc::channel();
    for i in 0..2 {
        let tx = tx.clone();
        let go = create_go_task("sync_conditional", || ())
            .with_callback(move |t| tx.send((i, t.take_user_data::<u32>())).unwrap());
        create_named_conditional(name, go).start();
    }
    let mut msgs = std::collections::VecDeque::from([10u32, 20, 30]);
    assert_eq!(wf_core::signal_by_name_each(name, &mut msgs), 2);
    assert_eq!(msgs, [30]);
    let mut got = [recv(&rx), recv(&rx)];
    got.sort();
    assert_eq!(got, [(0, Some(10)), (1, Some(20))]);
}
