//! WaitGroup: C++ facilities_unittest `WaitGroup` (100 go tasks, n <= 0), timeouts, `add`, and
//! waiting from async code.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wf_core::{WaitGroup, create_go_task};

#[test]
fn hundred_go_tasks() {
    let wg = WaitGroup::new(100);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let (wg, ran) = (wg.clone(), ran.clone());
        create_go_task("sync_wait_group", move || ran.fetch_add(1, Ordering::SeqCst))
            .with_callback(move |_| wg.done())
            .start();
    }
    wg.wait();
    assert_eq!(ran.load(Ordering::SeqCst), 100);
}

#[test]
fn zero_or_negative_is_already_done() {
    let start = Instant::now();
    WaitGroup::new(-100).wait();
    WaitGroup::new(0).wait();
    assert!(WaitGroup::new(0).wait_timeout(Duration::ZERO));
    assert!(WaitGroup::new(-1).wait_timeout(Duration::from_secs(5)));
    assert!(start.elapsed() < Duration::from_secs(5), "no wait blocked");
}

#[test]
fn wait_timeout_false_until_done() {
    let wg = WaitGroup::new(2);
    assert!(!wg.wait_timeout(Duration::from_millis(20)));
    wg.done();
    assert!(!wg.wait_timeout(Duration::from_millis(20)));
    let w = wg.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        w.done();
    });
    assert!(wg.wait_timeout(support::WAIT));
}

#[test]
fn add_raises_the_count() {
    let wg = WaitGroup::new(0);
    wg.add(2);
    assert!(!wg.wait_timeout(Duration::from_millis(10)));
    wg.done();
    wg.done();
    assert!(wg.wait_timeout(Duration::ZERO));
    // Extra done() calls keep it done.
    wg.done();
    assert!(wg.wait_timeout(Duration::ZERO));
}

#[tokio::test]
async fn wait_async_wakes_when_done() {
    let wg = WaitGroup::new(10);
    for i in 0..10u64 {
        let wg = wg.clone();
        create_go_task("sync_wait_group", move || std::thread::sleep(Duration::from_millis(i)))
            .with_callback(move |_| wg.done())
            .start();
    }
    tokio::time::timeout(support::WAIT, wg.wait_async()).await.expect("wait_async returned");
    assert!(wg.wait_timeout(Duration::ZERO));
    // Already done: returns at once.
    WaitGroup::new(0).wait_async().await;
}
