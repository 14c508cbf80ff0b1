//! `ServerParams::max_connections`: when full, a new connection closes the
//! least recently used idle keep-alive connection to get in; when every
//! connection is busy, the new one is refused (closed without a reply).
#![cfg(feature = "net")]

use crate::support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use support::net::{connect, encode, expect_closed, read_tlv, round_trip, start_local};
use support::{WAIT, wait_until};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, ServerParams};
use wf_core::{CounterHandle, create_counter_task, series_of};

fn params(max_connections: usize) -> ServerParams {
    let mut p = ServerParams::default();
    p.max_connections = max_connections;
    p
}

/// Lets the server mark a connection idle after its reply.
fn settle() {
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn least_recently_used_idle_connection_makes_room() {
    let server = Server::with_params(Tlv::default(), params(2), |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    let addr = start_local(&server);

    let mut a = connect(addr);
    assert_eq!(round_trip(&mut a, 1, b"a"), TlvMessage::new(1, "a"));
    settle();
    let mut b = connect(addr);
    assert_eq!(round_trip(&mut b, 2, b"b"), TlvMessage::new(2, "b"));
    settle();
    assert_eq!(server.conn_count(), 2);

    // A third gets in; `a`, idle for longest, is closed.
    let mut c = connect(addr);
    assert_eq!(round_trip(&mut c, 3, b"c"), TlvMessage::new(3, "c"));
    expect_closed(&mut a);
    // `b` was kept and still works.
    assert_eq!(round_trip(&mut b, 4, b"b again"), TlvMessage::new(4, "b again"));
    assert_eq!(server.conn_count(), 2);
    drop((b, c));
    server.stop();
}

/// Using an idle connection again makes it the most recently used.
#[test]
fn reuse_refreshes_the_order() {
    let server = Server::with_params(Tlv::default(), params(2), |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    let addr = start_local(&server);

    let mut a = connect(addr);
    round_trip(&mut a, 1, b"a");
    settle();
    let mut b = connect(addr);
    round_trip(&mut b, 2, b"b");
    settle();
    round_trip(&mut a, 3, b"a again");
    settle();

    let mut c = connect(addr);
    assert_eq!(round_trip(&mut c, 4, b"c"), TlvMessage::new(4, "c"));
    expect_closed(&mut b);
    assert_eq!(round_trip(&mut a, 5, b"a still"), TlvMessage::new(5, "a still"));
    drop((a, c));
    server.stop();
}

#[test]
fn busy_server_refuses_new_connections() {
    let processed = Arc::new(AtomicUsize::new(0));
    let (tx, holds) = mpsc::channel::<CounterHandle>();
    let tx = Mutex::new(tx);
    let seen = processed.clone();
    let server = Server::with_params(Tlv::default(), params(2), move |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
        let hold = create_counter_task(1, |_| {});
        tx.lock().unwrap().send(hold.handle()).unwrap();
        series_of(task).push_back(hold);
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let addr = start_local(&server);

    let mut a = connect(addr);
    a.write_all(&encode(1, b"a")).unwrap();
    let mut b = connect(addr);
    b.write_all(&encode(2, b"b")).unwrap();
    assert!(wait_until(WAIT, || processed.load(Ordering::SeqCst) == 2), "both requests are being processed");

    // Both connections are busy: a third is closed without a reply.
    let mut c = connect(addr);
    let _ = c.write_all(&encode(3, b"c"));
    expect_closed(&mut c);
    assert_eq!(processed.load(Ordering::SeqCst), 2);

    for _ in 0..2 {
        holds.recv_timeout(WAIT).unwrap().count();
    }
    assert_eq!(read_tlv(&mut a).unwrap(), Some(TlvMessage::new(1, "a")));
    assert_eq!(read_tlv(&mut b).unwrap(), Some(TlvMessage::new(2, "b")));

    // Idle now: a new connection gets in again.
    settle();
    let mut d = connect(addr);
    d.write_all(&encode(4, b"d")).unwrap();
    holds.recv_timeout(WAIT).expect("the server got the request").count();
    assert_eq!(read_tlv(&mut d).unwrap(), Some(TlvMessage::new(4, "d")));
    assert_eq!(processed.load(Ordering::SeqCst), 3);
    drop((a, b, d));
    server.stop();
}
