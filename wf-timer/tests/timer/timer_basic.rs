//! Timer tasks: C++ task_unittest `WFTimerTask` (a 1 s timer succeeds, elapsed between the delay
//! and 10 s), timers in a series, and awaiting a timer.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use testkit::WAIT;
use wf_core::{State, create_series_work, series_of};
use wf_timer::{create_timer_task, create_timer_task_ns};

/// C++ `WFTimerTask`.
#[test]
fn one_second_timer() {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let t = create_timer_task(Duration::from_secs(1), move |t| {
        tx.send((t.state(), t.error_code(), start.elapsed())).unwrap()
    });
    assert_eq!(t.delay(), Some(Duration::from_secs(1)));
    assert_eq!(t.name(), None);
    t.start();
    let (state, code, elapsed) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((state, code), (State::Success, 0));
    assert!(elapsed >= Duration::from_secs(1), "fired after {elapsed:?}");
    assert!(elapsed <= Duration::from_secs(10), "fired after {elapsed:?}");
}

/// `create_timer_task_ns(seconds, nanoseconds, cb)` as in Workflow.
#[test]
fn seconds_and_nanoseconds() {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let t = create_timer_task_ns(0, 50_000_000, move |t| tx.send((t.state(), start.elapsed())).unwrap());
    assert_eq!(t.delay(), Some(Duration::from_millis(50)));
    t.start();
    let (state, elapsed) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(state, State::Success);
    assert!(elapsed >= Duration::from_millis(50), "fired after {elapsed:?}");
}

/// Timers in a series run one after another; a callback can push the next timer.
#[test]
fn timers_in_a_series() {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let first = create_timer_task(Duration::from_millis(30), |t| {
        let at = t.delay();
        series_of(t).context_mut::<Vec<Option<Duration>>>().unwrap().push(at);
        series_of(t).push_back(create_timer_task(Duration::from_millis(20), |t| {
            let at = t.delay();
            series_of(t).context_mut::<Vec<Option<Duration>>>().unwrap().push(at);
        }));
    });
    let mut s = create_series_work(first, move |s| {
        let log = s.take_context::<Vec<Option<Duration>>>().unwrap();
        tx.send((log, start.elapsed())).unwrap();
    });
    s.set_context(Vec::<Option<Duration>>::new());
    s.push_back(create_timer_task(Duration::from_millis(10), |t| {
        let at = t.delay();
        series_of(t).context_mut::<Vec<Option<Duration>>>().unwrap().push(at);
    }));
    s.start();
    let (log, elapsed) = rx.recv_timeout(WAIT).unwrap();
    let ms = |m| Some(Duration::from_millis(m));
    assert_eq!(log, [ms(30), ms(10), ms(20)]);
    assert!(elapsed >= Duration::from_millis(60), "the delays add up: {elapsed:?}");
}

/// A timer right after a go task (whose series continues on the compute thread) still fires.
#[test]
fn timer_after_go_task() {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let mut s =
        create_series_work(wf_core::create_go_task("timer_basic", || ()), move |_| tx.send(start.elapsed()).unwrap());
    for _ in 0..3 {
        s.push_back(create_timer_task(Duration::from_millis(10), |_| {}));
        s.push_back(wf_core::create_go_task("timer_basic", || ()));
    }
    s.start();
    let elapsed = rx.recv_timeout(WAIT).unwrap();
    assert!(elapsed >= Duration::from_millis(30), "{elapsed:?}");
}

#[tokio::test]
async fn await_timer() {
    let start = Instant::now();
    let t = create_timer_task(Duration::from_millis(20), |_| {}).await;
    assert_eq!(t.state(), State::Success);
    assert!(start.elapsed() >= Duration::from_millis(20));
}
