//! Runtime settings: `init` applies once, before first use; the compute pool and the runtime
//! get the requested number of threads. (The only test binary that calls `init`.)

mod support;

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

use support::recv;
use wf_core::{
    AlreadyInitialized, Settings, create_empty_task, create_go_task, create_parallel_work, create_series_work, handle,
    init, settings,
};

// The only test in this binary: `init` must run before anything else in this process uses wf.
#[test]
fn init_once_and_thread_counts() {
    // 3 rather than 2: on a 2-CPU machine the default is already 2 and the test could not tell.
    let mut s = Settings::default();
    s.compute_threads = 3;
    s.poller_threads = 3;
    assert_eq!(init(s.clone()), Ok(()));
    assert_eq!(init(s), Err(AlreadyInitialized));
    assert_eq!(init(Settings::default()), Err(AlreadyInitialized));
    assert_eq!(settings().compute_threads, 3);
    assert_eq!(settings().poller_threads, 3);
    assert!(!AlreadyInitialized.to_string().is_empty());

    let (tx, rx) = mpsc::channel();
    for _ in 0..50 {
        let tx = tx.clone();
        create_go_task("rt_settings", || {
            std::thread::sleep(Duration::from_millis(5));
            std::thread::current().name().map(str::to_string)
        })
        .with_callback(move |t| tx.send(t.take_result().flatten()).unwrap())
        .start();
    }
    let names: HashSet<String> = (0..50).map(|_| recv(&rx).expect("compute threads are named")).collect();
    assert!(names.iter().all(|n| n.starts_with("wf-compute-")), "{names:?}");
    assert_eq!(names.len(), 3, "exactly the configured compute threads ran the closures: {names:?}");
    // The pollers: one event loop each (the default), the series of a
    // parallel spread over all of them.
    assert!(!settings().work_stealing);
    assert_eq!(handle().metrics().num_workers(), 1, "each poller its own loop");
    let (tx, rx) = mpsc::channel();
    let mut p = create_parallel_work(|_| {});
    for _ in 0..30 {
        let tx = tx.clone();
        let t = create_empty_task().with_callback(move |_| {
            tx.send(std::thread::current().name().map(str::to_string)).unwrap();
        });
        p.add_series(create_series_work(t, |_| {}));
    }
    p.start();
    let names: HashSet<String> = (0..30).map(|_| recv(&rx).expect("poller threads are named")).collect();
    assert!(names.iter().all(|n| n.starts_with("wf-poller-")), "{names:?}");
    assert_eq!(names.len(), 3, "every configured poller ran series of the parallel: {names:?}");
}
