//! Named timers and `cancel_by_name`: `max`, oldest first, cancel before start, uncanceled
//! timers of the same name still succeed, finished and dismissed timers leave the registry.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use testkit::WAIT;
use wf_core::{State, create_series_work};
use wf_timer::{cancel_by_name, create_named_timer_task, create_timer_task};

#[test]
fn cancel_with_max_oldest_first() {
    let name = "timer_cancel::max";
    let (tx, rx) = mpsc::channel();
    for i in 0..5 {
        let tx = tx.clone();
        create_named_timer_task(name, Some(Duration::from_millis(300)), move |t| {
            tx.send((i, t.state(), t.error_code())).unwrap()
        })
        .start();
    }
    assert_eq!(cancel_by_name(name, 3), 3);
    // The canceled timers call back at once, before the others fire.
    let mut canceled: Vec<_> = (0..3).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    canceled.sort_by_key(|c| c.0);
    assert_eq!(
        canceled,
        [
            (0, State::SysError, libc::ECANCELED),
            (1, State::SysError, libc::ECANCELED),
            (2, State::SysError, libc::ECANCELED)
        ]
    );
    let mut rest: Vec<_> = (0..2).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    rest.sort_by_key(|c| c.0);
    assert_eq!(rest, [(3, State::Success, 0), (4, State::Success, 0)], "the uncanceled timers still succeed");
    assert_eq!(cancel_by_name(name, 10), 0, "finished timers left the registry");
}

#[test]
fn cancel_before_start_reports_ecanceled_at_start() {
    let name = "timer_cancel::before-start";
    let (tx, rx) = mpsc::channel();
    let t = create_named_timer_task(name, Some(Duration::from_secs(60)), move |t| {
        tx.send((t.state(), t.error_code())).unwrap()
    });
    assert_eq!(cancel_by_name(name, 1), 1);
    assert!(rx.try_recv().is_err(), "nothing runs before the start");
    let start = Instant::now();
    t.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (State::SysError, libc::ECANCELED));
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn cancel_unknown_name_or_zero_max() {
    assert_eq!(cancel_by_name("timer_cancel::nobody", 10), 0);
    let name = "timer_cancel::zero-max";
    let (tx, rx) = mpsc::channel();
    create_named_timer_task(name, Some(Duration::from_millis(10)), move |t| tx.send(t.state()).unwrap()).start();
    assert_eq!(cancel_by_name(name, 0), 0);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), State::Success);
}

/// A canceled timer in a series: the series goes on (cancel is the timer's error, not the
/// series').
#[test]
fn canceled_timer_in_series() {
    let name = "timer_cancel::series";
    let (tx, rx) = mpsc::channel();
    let t1 = tx.clone();
    let first = create_named_timer_task(name, None, move |t| t1.send(format!("timer {:?}", t.error_code())).unwrap());
    let t2 = tx.clone();
    let mut s = create_series_work(first, move |s| t2.send(format!("series canceled={}", s.is_canceled())).unwrap());
    let t3 = tx.clone();
    s.push_back(create_timer_task(Duration::ZERO, move |t| t3.send(format!("next {:?}", t.state())).unwrap()));
    s.start();
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err());
    assert_eq!(cancel_by_name(name, usize::MAX), 1);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), format!("timer {}", libc::ECANCELED));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), format!("next {:?}", State::Success));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "series canceled=false");
}

/// Dismissed named timers leave the registry.
#[test]
fn dismissed_named_timer_is_unregistered() {
    let name = "timer_cancel::dismissed";
    drop(create_named_timer_task(name, None, |_| {}));
    drop(create_named_timer_task(name, Some(Duration::from_secs(1)), |_| {}));
    assert_eq!(cancel_by_name(name, 10), 0);
}

/// A named zero-delay timer that already fired cannot be canceled.
#[test]
fn fired_timer_cannot_be_canceled() {
    let name = "timer_cancel::fired";
    let (tx, rx) = mpsc::channel();
    create_named_timer_task(name, Some(Duration::ZERO), move |t| tx.send(t.state()).unwrap()).start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), State::Success);
    assert_eq!(cancel_by_name(name, 10), 0);
}

/// Workflow's `create_timer_task(callback)`: a timer canceled before it starts calls back with
/// `SYS_ERROR`/`ECANCELED` once started, and the series goes on after it.
#[test]
fn timer_created_canceled() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let mut s = create_series_work(
        wf_timer::create_canceled_timer_task(move |t| tx.send((1, t.state(), t.error_code())).unwrap()),
        |_| {},
    );
    s.push_back(create_timer_task(Duration::ZERO, move |t| tx2.send((2, t.state(), t.error_code())).unwrap()));
    assert!(rx.recv_timeout(Duration::from_millis(20)).is_err(), "nothing runs before the start");
    s.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (1, State::SysError, libc::ECANCELED));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (2, State::Success, 0));
}

/// `usleep` (Workflow's `WFFacilities::usleep`) blocks the calling thread on a timer for at least
/// the delay and reports success.
#[test]
fn usleep_blocks_for_the_delay() {
    let start = Instant::now();
    assert_eq!(wf_timer::usleep(Duration::from_millis(30)), State::Success);
    assert!(start.elapsed() >= Duration::from_millis(30));
}

/// `usleep` in a callback would block the thread its own timer needs: it is refused at once
/// with `SysError` instead of hanging.
#[test]
fn usleep_in_a_callback_is_refused() {
    let (tx, rx) = mpsc::channel();
    create_timer_task(Duration::from_millis(1), move |_| {
        tx.send(wf_timer::usleep(Duration::from_secs(3600))).unwrap();
    })
    .start();
    assert_eq!(rx.recv_timeout(WAIT).expect("usleep returned"), State::SysError);
}
