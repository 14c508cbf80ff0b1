//! `wait_finish`: waits for every started series, including series started from callbacks of
//! other series; `wait_finish_timeout` says whether they finished. (One test: `wait_finish`
//! waits for the whole process.)

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use wf_core::{create_counter_task, create_go_task, create_series_work, wait_finish, wait_finish_timeout};

#[test]
fn wait_finish_waits_for_chained_series() {
    // Nothing started: returns at once.
    assert!(wait_finish_timeout(Duration::ZERO));
    wait_finish();

    // A started counter nobody counted keeps wait_finish waiting.
    let c = create_counter_task(1, |_| {});
    let h = c.handle();
    c.start();
    assert!(!wait_finish_timeout(Duration::from_millis(20)));
    h.count();
    assert!(wait_finish_timeout(support::WAIT));

    // Series started from callbacks, three levels deep, are waited for too.
    let done = Arc::new(AtomicBool::new(false));
    let series_ran = Arc::new(AtomicUsize::new(0));
    let (d, n) = (done.clone(), series_ran.clone());
    create_series_work(create_go_task("rt_wait_finish", || ()), move |_| {
        n.fetch_add(1, Ordering::SeqCst);
        let n2 = n.clone();
        create_series_work(
            create_go_task("rt_wait_finish", || std::thread::sleep(Duration::from_millis(20))),
            move |_| {
                n2.fetch_add(1, Ordering::SeqCst);
                create_go_task("rt_wait_finish", move || {
                    std::thread::sleep(Duration::from_millis(20));
                    d.store(true, Ordering::SeqCst);
                })
                .start();
            },
        )
        .start();
    })
    .start();
    wait_finish();
    assert!(done.load(Ordering::SeqCst), "wait_finish returned before the last series finished");
    assert_eq!(series_ran.load(Ordering::SeqCst), 2);
}
