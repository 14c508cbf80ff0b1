//! Compute queue fairness: a queue with a long backlog does not starve a queue with one job
//! (Workflow's executor keeps one ready entry per queue), whether the backlog is many series or
//! long series of go tasks continuing on their compute thread.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use support::{WAIT, recv, wait_until};
use wf_core::create_go_task;

/// The tests saturate the whole compute pool: one at a time.
static POOL: Mutex<()> = Mutex::new(());

#[test]
fn light_queue_is_not_starved_by_busy_queue() {
    let _pool = wf_core::lock::lock(&POOL);
    const BUSY: usize = 200;
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (busy_tx, busy_rx) = mpsc::channel();
    for _ in 0..BUSY {
        let (s, f, tx) = (started.clone(), finished.clone(), busy_tx.clone());
        create_go_task("compute_queue_fairness::busy", move || {
            s.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2));
            f.fetch_add(1, Ordering::SeqCst);
        })
        .with_callback(move |_| tx.send(()).unwrap())
        .start();
    }
    // The pool is saturated with the busy backlog.
    assert!(wait_until(WAIT, || started.load(Ordering::SeqCst) >= 4));
    let at_submit = finished.load(Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    let f = finished.clone();
    let f2 = finished.clone();
    create_go_task("compute_queue_fairness::light", move || f.load(Ordering::SeqCst))
        .with_callback(move |t| tx.send((t.take_result().unwrap(), f2.load(Ordering::SeqCst))).unwrap())
        .start();
    let (at_run, at_callback) = recv(&rx);
    for _ in 0..BUSY {
        recv(&busy_rx);
    }
    assert!(at_submit < BUSY / 2, "the backlog had barely started ({at_submit} done)");
    // FIFO over all jobs would have run the light job after the whole backlog (~200 done).
    assert!(at_run < BUSY / 2, "light job ran after {at_run} of {BUSY} busy jobs (submitted at {at_submit})");
    assert!(at_callback < BUSY / 2, "light callback ran after {at_callback} of {BUSY} busy jobs");
    assert_eq!(finished.load(Ordering::SeqCst), BUSY);
}

/// Two long series of go tasks on one queue keep every compute thread busy; a job on another
/// queue still gets a thread after one busy job, not after a whole series.
#[test]
fn light_queue_is_not_starved_by_long_series() {
    let _pool = wf_core::lock::lock(&POOL);
    const SERIES: usize = 2;
    const PER: usize = 100;
    const BUSY: usize = SERIES * PER;
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (busy_tx, busy_rx) = mpsc::channel();
    for _ in 0..SERIES {
        let busy = || {
            let (s, f) = (started.clone(), finished.clone());
            create_go_task("compute_queue_fairness::series", move || {
                s.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                f.fetch_add(1, Ordering::SeqCst);
            })
        };
        let tx = busy_tx.clone();
        let mut series = wf_core::create_series_work(busy(), move |_| tx.send(()).unwrap());
        for _ in 1..PER {
            series.push_back(busy());
        }
        series.start();
    }
    assert!(wait_until(WAIT, || started.load(Ordering::SeqCst) >= 4));
    let at_submit = finished.load(Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    let f = finished.clone();
    create_go_task("compute_queue_fairness::light-2", move || f.load(Ordering::SeqCst))
        .with_callback(move |t| tx.send(t.take_result().unwrap()).unwrap())
        .start();
    let at_run = recv(&rx);
    for _ in 0..SERIES {
        recv(&busy_rx);
    }
    assert!(at_submit < BUSY / 2, "the backlog had barely started ({at_submit} done)");
    assert!(at_run < BUSY / 2, "light job ran after {at_run} of {BUSY} busy jobs (submitted at {at_submit})");
    assert_eq!(finished.load(Ordering::SeqCst), BUSY);
}
