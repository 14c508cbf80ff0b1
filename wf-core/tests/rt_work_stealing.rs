//! `Settings::work_stealing = true` (the opt-in): the pollers are the
//! workers of one tokio multi-thread runtime. The engine and a server with
//! many connections work as on the default event loops.
#![cfg(feature = "net")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, create_client_task};
use wf_core::{State, create_go_task, create_parallel_work, create_series_work, series_of};

#[test]
fn engine_and_server_on_a_work_stealing_runtime() {
    let mut settings = wf_core::Settings::default();
    settings.poller_threads = 2;
    settings.work_stealing = true;
    wf_core::init(settings).unwrap();

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

    // A server, each request delayed through its series.
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
    // Blocking for a task from this thread: a network task, and a
    // timeout on the runtime's timers.
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
    assert_eq!(wf_core::handle().metrics().num_workers(), 2);
}
