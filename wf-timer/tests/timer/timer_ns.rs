//! `create_timer_task_ns`: nanoseconds outside [0, 1e9) or negative seconds fail with
//! SYS_ERROR/EINVAL when the timer runs; seconds == -1 waits forever.

use std::sync::mpsc;
use std::time::Duration;

use testkit::WAIT;
use wf_core::State;
use wf_timer::{cancel_by_name, create_named_timer_task, create_timer_task_ns};

#[test]
fn out_of_range_is_einval_at_run() {
    for (secs, nanos) in [(0, 1_000_000_000), (0, -1), (1, i64::MAX), (-2, 0), (i64::MIN, 0)] {
        let (tx, rx) = mpsc::channel();
        let t =
            create_timer_task_ns(secs, nanos, move |t| tx.send((t.state(), t.error_code(), t.error_text())).unwrap());
        assert_eq!(t.delay(), None, "({secs}, {nanos})");
        assert!(rx.try_recv().is_err(), "the error is reported when the timer runs, not at creation");
        t.start();
        assert_eq!(
            rx.recv_timeout(WAIT).unwrap(),
            (State::SysError, libc::EINVAL, "Invalid argument".to_string()),
            "({secs}, {nanos})"
        );
    }
}

#[test]
fn largest_valid_nanoseconds() {
    let t = create_timer_task_ns(0, 999_999_999, |_| {});
    assert_eq!(t.delay(), Some(Duration::new(0, 999_999_999)));
}

/// seconds == -1 is forever: such a timer never fires on its own (here it is dismissed).
#[test]
fn minus_one_is_forever() {
    let (tx, rx) = mpsc::channel::<()>();
    let t = create_timer_task_ns(-1, 0, move |_| tx.send(()).unwrap());
    assert_eq!(t.delay(), None);
    drop(t);
    assert!(rx.recv_timeout(Duration::from_millis(10)).is_err());
}

/// A named forever timer waits until it is canceled.
#[test]
fn named_forever_timer_until_canceled() {
    let name = "timer_ns::forever";
    let (tx, rx) = mpsc::channel();
    let t = create_named_timer_task(name, None, move |t| tx.send((t.state(), t.error_code())).unwrap());
    assert_eq!(t.delay(), None);
    assert_eq!(t.name(), Some(name));
    t.start();
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "still waiting");
    assert_eq!(cancel_by_name(name, 1), 1);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (State::SysError, libc::ECANCELED));
    assert_eq!(cancel_by_name(name, 1), 0);
}

/// `create_named_timer_task_ns`, Workflow's named `(seconds, nanoseconds)` form: fires after its
/// delay, or is canceled by name; bad values fail with EINVAL when it runs.
#[test]
fn named_timer_from_seconds_and_nanoseconds() {
    let name = "timer_ns::named_ns";
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let tx3 = tx.clone();
    let t = wf_timer::create_named_timer_task_ns(name, 0, 5_000_000, move |t| {
        tx.send((1, t.state(), t.error_code())).unwrap()
    });
    assert_eq!(t.delay(), Some(Duration::from_millis(5)));
    assert_eq!(t.name(), Some(name));
    t.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (1, State::Success, 0));

    wf_timer::create_named_timer_task_ns(name, 3600, 0, move |t| tx2.send((2, t.state(), t.error_code())).unwrap())
        .start();
    assert_eq!(cancel_by_name(name, 1), 1);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (2, State::SysError, libc::ECANCELED));

    wf_timer::create_named_timer_task_ns(name, 0, -1, move |t| tx3.send((3, t.state(), t.error_code())).unwrap())
        .start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (3, State::SysError, libc::EINVAL));
}
