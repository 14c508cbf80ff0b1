//! Zero-delay timers: each completes (asynchronously); 1000 in one parallel, and 10,000 series of
//! 10 timers each in one parallel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use testkit::WAIT;
use wf_core::{State, create_parallel_work, create_series_work};
use wf_timer::{create_timer_task, create_timer_task_ns};

#[test]
fn thousand_zero_timers_in_a_parallel() {
    let ok = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let mut p = create_parallel_work(move |p| tx.send(p.size()).unwrap());
    for i in 0..1000 {
        let ok = ok.clone();
        let cb = move |t: &mut wf_timer::TimerTask| {
            if t.state() == State::Success {
                ok.fetch_add(1, Ordering::SeqCst);
            }
        };
        // Both spellings of "no delay".
        let t = if i % 2 == 0 { create_timer_task(Duration::ZERO, cb) } else { create_timer_task_ns(0, 0, cb) };
        p.add_series(create_series_work(t, |_| {}));
    }
    p.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 1000);
    assert_eq!(ok.load(Ordering::SeqCst), 1000);
}

#[test]
fn ten_thousand_series_of_ten_zero_timers() {
    const SERIES: usize = 10_000;
    const PER: usize = 10;
    let callbacks = Arc::new(AtomicUsize::new(0));
    let series_done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let mut p = create_parallel_work(move |p| tx.send(p.size()).unwrap());
    for _ in 0..SERIES {
        let cb = || {
            let c = callbacks.clone();
            create_timer_task(Duration::ZERO, move |t| {
                if t.state() == State::Success {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let d = series_done.clone();
        let mut s = create_series_work(cb(), move |_| {
            d.fetch_add(1, Ordering::Relaxed);
        });
        for _ in 1..PER {
            s.push_back(cb());
        }
        p.add_series(s);
    }
    p.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), SERIES);
    assert_eq!(callbacks.load(Ordering::SeqCst), SERIES * PER);
    assert_eq!(series_done.load(Ordering::SeqCst), SERIES);
}
