//! The default pollers: each poller thread its own event loop (Workflow's
//! model, `Settings::work_stealing = false`). Server connections are
//! spread over the loops, and so are new series, so that a parallel uses
//! every poller thread, whether it starts from outside wf or from a
//! callback on a poller.
#![cfg(feature = "net")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, create_client_task};
use wf_core::{
    ParallelWork, State, create_empty_task, create_go_task, create_parallel_work, create_series_work, series_of,
};

/// How long a rendezvous waits for its partner before it gives up (only a
/// failing test waits that long).
const PARTNER_WAIT: Duration = Duration::from_secs(20);

/// A meeting point for `n` callbacks: each blocks its thread until all `n`
/// are in, which only happens if they run on `n` threads at once.
struct Rendezvous {
    arrived: Mutex<usize>,
    all_in: Condvar,
    n: usize,
}

impl Rendezvous {
    fn new(n: usize) -> Arc<Rendezvous> {
        Arc::new(Rendezvous { arrived: Mutex::new(0), all_in: Condvar::new(), n })
    }

    /// Arrives and waits for the others; false if they did not all come.
    fn meet(&self) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_in.notify_all();
        let (arrived, _) = self.all_in.wait_timeout_while(arrived, PARTNER_WAIT, |a| *a < self.n).unwrap();
        *arrived >= self.n
    }
}

/// A parallel of two series whose first tasks' callbacks block their
/// poller thread until both are running: it can only succeed if the two
/// series run on two loops at once. Sends (met, thread name) per series.
fn two_loops_at_once(tx: mpsc::Sender<(bool, String)>) -> ParallelWork {
    let meeting = Rendezvous::new(2);
    let mut p = create_parallel_work(|_| {});
    for _ in 0..2 {
        let (meeting, tx) = (meeting.clone(), tx.clone());
        let t = create_empty_task().with_callback(move |_| {
            let met = meeting.meet();
            tx.send((met, std::thread::current().name().unwrap_or("").to_string())).unwrap();
        });
        p.add_series(create_series_work(t, |_| {}));
    }
    p
}

fn assert_two_loops(rx: &mpsc::Receiver<(bool, String)>) {
    let a = rx.recv_timeout(2 * PARTNER_WAIT).unwrap();
    let b = rx.recv_timeout(2 * PARTNER_WAIT).unwrap();
    assert!(a.0 && b.0, "the two series of a parallel ran one after the other: {a:?} {b:?}");
    assert_ne!(a.1, b.1);
    assert!(a.1.starts_with("wf-poller-") && b.1.starts_with("wf-poller-"), "{a:?} {b:?}");
}

#[test]
fn engine_and_server_on_event_loops() {
    let mut settings = wf_core::Settings::default();
    assert!(!settings.work_stealing, "event loops are the default");
    settings.poller_threads = 2;
    wf_core::init(settings).unwrap();

    // A parallel started from this thread runs its series on both loops
    // at once; so does one started in a callback, on a poller thread.
    let (tx, rx) = mpsc::channel();
    two_loops_at_once(tx.clone()).start();
    assert_two_loops(&rx);
    let inner = tx.clone();
    create_empty_task().with_callback(move |t| series_of(t).push_back(two_loops_at_once(inner))).start();
    assert_two_loops(&rx);
    wf_core::wait_finish();

    // A chain of go tasks and a parallel of timer-free series.
    let done = Arc::new(AtomicUsize::new(0));
    let mut p = create_parallel_work(|_| {});
    for _ in 0..100 {
        let d = done.clone();
        let first = create_go_task("loops", || ()).with_callback(move |t| {
            let d = d.clone();
            series_of(t).push_back(create_go_task("loops", || ()).with_callback(move |_| {
                d.fetch_add(1, Ordering::Relaxed);
            }));
        });
        p.add_series(create_series_work(first, |_| {}));
    }
    p.start();
    wf_core::wait_finish();
    assert_eq!(done.load(Ordering::Relaxed), 100);

    // A server whose connections are spread over both loops, each request
    // delayed through its series.
    let threads = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let seen = threads.clone();
    let server = Server::new(Tlv::default(), move |task| {
        seen.lock().unwrap().insert(std::thread::current().name().unwrap_or("").to_string());
        let v = task.req().value().clone();
        let go = create_go_task("loops", move || v).with_callback(|t| {
            let v = t.take_result().unwrap();
            let reply = series_of(t).last_task_mut::<wf_core::net::ServerKind<Tlv>>().unwrap();
            *reply.resp_mut() = TlvMessage::new(2, v);
        });
        series_of(task).push_back(go);
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let url = format!("tlv://127.0.0.1:{}", server.listen_addr().unwrap().port());
    let (tx, rx) = mpsc::channel();
    for i in 0..200u32 {
        let tx = tx.clone();
        let mut t = create_client_task(Tlv::default(), &url, 0, move |t| {
            tx.send((t.state(), t.error_text(), t.resp().clone(), i)).unwrap();
        });
        *t.req_mut() = TlvMessage::new(1, format!("request {i}"));
        t.start();
    }
    for _ in 0..200 {
        let (state, err, resp, i) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(state, State::Success, "{err}");
        assert_eq!(resp, TlvMessage::new(2, format!("request {i}")));
    }
    // Blocking for a task from this thread works on event loops too: a
    // network task, and a timeout on a loop's timers.
    let mut t = create_client_task(Tlv::default(), &url, 0, |_| {});
    *t.req_mut() = TlvMessage::new(1, "blocking".to_string());
    let t = wf_core::request(t).unwrap();
    assert_eq!(t.resp(), &TlvMessage::new(2, "blocking".to_string()));
    let counter = wf_core::create_counter_task(1, |_| {});
    let handle = counter.handle();
    let e = wf_core::request_timeout(counter, Duration::from_millis(50)).unwrap_err();
    assert_eq!(e.code(), libc::ETIMEDOUT);
    assert!(handle.count());
    server.stop();
    let names = threads.lock().unwrap();
    assert!(names.iter().all(|n| n.starts_with("wf-poller")), "{names:?}");
    assert_eq!(names.len(), 2, "connections ran on both loops: {names:?}");
}
