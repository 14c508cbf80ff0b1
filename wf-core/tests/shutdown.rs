//! `wf_core::shutdown()`: every task still waiting finishes `Aborted` with its callback run, compute
//! tasks still queued do not run, tasks started afterwards abort at once, and `wait_finish`
//! returns. Shutdown is process-wide and final: one test, in a binary of its own, with one compute
//! thread so that "queued" is certain.

mod support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use support::{WAIT, recv, wait_until};
use wf_core::{
    MailboxTask, ResourcePool, SelectorTask, Settings, State, count_by_name, create_conditional, create_counter_task,
    create_empty_task, create_go_task, create_guard, create_mailbox_task, create_named_counter_task,
    create_selector_task, create_series_work, create_thread_task, create_timedgo_task, release_guard,
};

type Report = (&'static str, State);

fn report(tx: &mpsc::Sender<Report>, what: &'static str) -> impl FnOnce(State) + Send + 'static {
    let tx = tx.clone();
    move |state| tx.send((what, state)).unwrap()
}

#[test]
fn shutdown_aborts_what_waits_and_lets_the_program_exit() {
    let mut settings = Settings::default();
    settings.compute_threads = 1;
    wf_core::init(settings).unwrap();
    let (tx, rx) = mpsc::channel::<Report>();
    let mut expected: Vec<Report> = Vec::new();

    // Timers: a long one, and a named one that waits forever.
    let r = report(&tx, "timer");
    wf_timer::create_timer_task(Duration::from_secs(3600), move |t| r(t.state())).start();
    let r = report(&tx, "named forever timer");
    wf_timer::create_named_timer_task("shutdown::forever", None, move |t| r(t.state())).start();
    expected.extend([("timer", State::Aborted), ("named forever timer", State::Aborted)]);

    // A blocking sleep on a timer returns early.
    let (slept_tx, slept) = mpsc::channel();
    std::thread::spawn(move || slept_tx.send(wf_timer::usleep(Duration::from_secs(3600))).unwrap());

    // Counters (through a handle kept alive, by name), a mailbox, a selector.
    let r = report(&tx, "counter");
    let counter = create_counter_task(2, move |t| r(t.state()));
    let counter_handle = counter.handle();
    counter.start();
    let r = report(&tx, "named counter");
    create_named_counter_task("shutdown::named", 1, move |t| r(t.state())).start();
    let r = report(&tx, "mailbox");
    let mailbox = create_mailbox_task(move |t: &mut MailboxTask<u8>| r(t.state()));
    let mailbox_handle = mailbox.handle();
    mailbox.start();
    let r = report(&tx, "selector");
    let selector = create_selector_task(1, move |t: &mut SelectorTask<u8>| r(t.state()));
    let selector_handle = selector.handle();
    selector.start();
    expected.extend([
        ("counter", State::Aborted),
        ("named counter", State::Aborted),
        ("mailbox", State::Aborted),
        ("selector", State::Aborted),
    ]);

    // A conditional: aborted, and the task it wraps is dismissed.
    let wrapped_ran = Arc::new(AtomicBool::new(false));
    let ran = wrapped_ran.clone();
    let mut conditional =
        create_conditional(create_empty_task().with_callback(move |_| ran.store(true, Ordering::SeqCst)));
    let r = report(&tx, "conditional");
    conditional.set_callback(move |t| r(t.state()));
    let conditional_handle = conditional.handle();
    conditional.start();
    expected.push(("conditional", State::Aborted));

    // A guard held by a task that never releases it, and a waiter.
    let (held_tx, held) = mpsc::channel();
    create_guard("shutdown::guard", create_empty_task().with_callback(move |_| held_tx.send(()).unwrap())).start();
    recv(&held);
    let mut waiter = create_guard("shutdown::guard", create_empty_task());
    let r = report(&tx, "guard waiter");
    waiter.set_callback(move |t| r(t.state()));
    waiter.start();
    expected.push(("guard waiter", State::Aborted));

    // A resource pool with nothing in it, and a waiter.
    let pool = ResourcePool::<u32>::new([]);
    let mut waiter = pool.get(create_empty_task());
    let r = report(&tx, "pool waiter");
    waiter.set_callback(move |t| r(t.state()));
    waiter.start();
    expected.push(("pool waiter", State::Aborted));

    // A repeater that never says `None` (a periodic job): it ends `Aborted` instead of creating
    // task after task, each aborted at once.
    let r = report(&tx, "endless repeater");
    wf_core::create_repeater_task(
        |_| Some(wf_timer::create_timer_task(Duration::from_secs(3600), |_| {}).into()),
        move |t| r(t.state()),
    )
    .start();
    expected.push(("endless repeater", State::Aborted));

    // A series: a counter nobody counts, then a go task. Both finish aborted with their callbacks;
    // the go task's closure never runs; the series callback runs.
    let go_ran = Arc::new(AtomicBool::new(false));
    let r = report(&tx, "series counter");
    let series_counter = create_counter_task(1, move |t| r(t.state()));
    let series_counter_handle = series_counter.handle();
    let r = report(&tx, "series callback");
    let mut series = create_series_work(series_counter, move |_| r(State::Success));
    let (r, ran) = (report(&tx, "go after the counter"), go_ran.clone());
    series.push_back(
        create_go_task("shutdown", move || ran.store(true, Ordering::SeqCst)).with_callback(move |t| r(t.state())),
    );
    series.start();
    expected.extend([
        ("series counter", State::Aborted),
        ("go after the counter", State::Aborted),
        ("series callback", State::Success),
    ]);

    // The one compute thread is busy; what queues behind it never runs.
    let (gate_tx, gate) = mpsc::channel::<()>();
    let busy = Arc::new(AtomicBool::new(false));
    let b = busy.clone();
    let r = report(&tx, "running go");
    create_go_task("shutdown", move || {
        b.store(true, Ordering::SeqCst);
        gate.recv().unwrap();
    })
    .with_callback(move |t| r(t.state()))
    .start();
    assert!(wait_until(WAIT, || busy.load(Ordering::SeqCst)), "the compute thread is taken");
    let queued_ran = Arc::new(AtomicUsize::new(0));
    let (r, q) = (report(&tx, "queued go"), queued_ran.clone());
    create_go_task("shutdown", move || q.fetch_add(1, Ordering::SeqCst)).with_callback(move |t| r(t.state())).start();
    let (r, q) = (report(&tx, "queued timed go"), queued_ran.clone());
    create_timedgo_task(Duration::from_secs(3600), "shutdown", move || q.fetch_add(1, Ordering::SeqCst))
        .with_callback(move |t| r(t.state()))
        .start();
    let (r, q) = (report(&tx, "queued thread task"), queued_ran.clone());
    create_thread_task("shutdown", (), move |_| q.fetch_add(1, Ordering::SeqCst), move |t| r(t.state())).start();
    // Algorithm tasks: one moved to the compute thread (sort), one forking from a poller (psort).
    let r = report(&tx, "queued sort");
    wf_core::create_sort_task("shutdown", vec![2, 1], move |t| r(t.state())).start();
    let r = report(&tx, "queued psort");
    wf_core::create_psort_task("shutdown", vec![2, 1], move |t| r(t.state())).start();
    expected.extend([
        ("running go", State::Success),
        ("queued go", State::Aborted),
        ("queued timed go", State::Aborted),
        ("queued thread task", State::Aborted),
        ("queued sort", State::Aborted),
        ("queued psort", State::Aborted),
    ]);

    // Let every waiting task reach its wait (either way it ends aborted; this exercises the wake).
    std::thread::sleep(Duration::from_millis(200));
    assert!(rx.try_recv().is_err(), "nothing finished before the shutdown");
    assert!(!wf_core::is_shutting_down());

    wf_core::shutdown();
    wf_core::shutdown(); // twice is harmless
    assert!(wf_core::is_shutting_down());
    gate_tx.send(()).unwrap();

    // Started after the shutdown: aborted at once, callbacks run.
    let r = report(&tx, "timer after");
    wf_timer::create_timer_task(Duration::from_secs(3600), move |t| r(t.state())).start();
    let (r, q) = (report(&tx, "go after"), queued_ran.clone());
    create_go_task("shutdown", move || q.fetch_add(1, Ordering::SeqCst)).with_callback(move |t| r(t.state())).start();
    expected.extend([("timer after", State::Aborted), ("go after", State::Aborted)]);

    assert!(wf_core::wait_finish_timeout(WAIT), "wait_finish returns after shutdown");
    let mut got: Vec<Report> = (0..expected.len()).map(|_| recv(&rx)).collect();
    got.sort_by_key(|r| r.0);
    expected.sort_by_key(|r| r.0);
    assert_eq!(got, expected);
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "each callback ran once");
    assert_eq!(recv(&slept), State::Aborted, "usleep returns when shut down");
    assert_eq!(queued_ran.load(Ordering::SeqCst), 0, "queued compute work never ran");
    assert!(!go_ran.load(Ordering::SeqCst), "a task started after shutdown does no work");
    assert!(!wrapped_ran.load(Ordering::SeqCst), "an aborted conditional's task is dismissed");

    // Signals after the end go nowhere; what a pool or a guard would have given an aborted waiter
    // stays (the pool keeps the item, the guard finds nobody to take it).
    assert!(!counter_handle.count());
    assert_eq!(count_by_name("shutdown::named", 1), 0);
    assert_eq!(mailbox_handle.send(1), Err(1));
    assert!(!selector_handle.submit(Some(1)));
    assert!(!conditional_handle.signal(()));
    assert!(!series_counter_handle.count());
    assert!(!release_guard("shutdown::guard", ()));
    pool.post(7);
    assert_eq!(pool.available(), 1);
    let mut msgs = VecDeque::from([1u8]);
    assert_eq!(wf_core::send_by_name_each("shutdown::nobody", &mut msgs), 0);
}
