//! Per-connection context: set while answering one request, seen by the
//! later requests of the same connection (and by no other connection), and
//! dropped when the connection closes.
#![cfg(feature = "net")]

use crate::support;

use std::time::Duration;

use support::net::{connect, round_trip, start_local, tlv_task, tlv_url};
use support::{Drops, Token, WAIT, recv, wait_until};
use wf_core::State;
use wf_core::net::Server;
use wf_core::net::tlv::{Tlv, TlvMessage};

/// What a connection remembers: how many requests it carried.
struct Ctx {
    requests: u32,
    conn_id: u64,
    _token: Token,
}

/// Answers each request with `"<n> <first>"`: the number of requests on
/// its connection so far and the first request's value, from the context.
fn counting_server(drops: &Drops) -> Server<Tlv> {
    let drops = drops.clone();
    Server::new(Tlv::default(), move |task| {
        let conn = task.connection().clone();
        let id = conn.id();
        let seen = conn.with_context(|c: &mut (Ctx, String)| {
            assert_eq!(c.0.conn_id, id);
            c.0.requests += 1;
            (c.0.requests, c.1.clone())
        });
        let (n, first) = match seen {
            Some(s) => s,
            None => {
                assert_eq!(task.task_seq(), 0, "the context vanished");
                let first = String::from_utf8_lossy(task.req().value()).into_owned();
                conn.set_context((Ctx { requests: 1, conn_id: id, _token: drops.token() }, first.clone()));
                (1, first)
            }
        };
        *task.resp_mut() = TlvMessage::new(n, format!("{n} {first}"));
    })
}

#[test]
fn context_lives_as_long_as_the_connection() {
    let drops = Drops::new();
    let server = counting_server(&drops);
    let addr = start_local(&server);

    let mut a = connect(addr);
    let mut b = connect(addr);
    assert_eq!(round_trip(&mut a, 0, b"a"), TlvMessage::new(1, "1 a"));
    assert_eq!(round_trip(&mut a, 0, b"x"), TlvMessage::new(2, "2 a"));
    // Another connection has its own context.
    assert_eq!(round_trip(&mut b, 0, b"b"), TlvMessage::new(1, "1 b"));
    assert_eq!(round_trip(&mut a, 0, b"y"), TlvMessage::new(3, "3 a"));
    assert_eq!(round_trip(&mut b, 0, b"z"), TlvMessage::new(2, "2 b"));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(drops.count(), 0, "a context was dropped while its connection was open");

    drop(a);
    assert!(wait_until(WAIT, || drops.count() == 1), "closing the connection did not drop its context");
    assert_eq!(round_trip(&mut b, 0, b"w"), TlvMessage::new(3, "3 b"));
    drop(b);
    assert!(wait_until(WAIT, || drops.count() == 2));
    server.stop();
}

/// The same through wf client tasks on a keep-alive connection; the
/// context goes when the client's keep-alive closes the connection.
#[test]
fn context_with_a_keep_alive_client() {
    let drops = Drops::new();
    let server = counting_server(&drops);
    let url = tlv_url(start_local(&server));
    for n in 1..=3 {
        let (mut t, rx) = tlv_task(&url, 0);
        t.set_keep_alive(Duration::from_millis(300));
        t.req_mut().set_value(format!("task {n}"));
        t.start();
        let o = recv(&rx);
        assert_eq!(o.state, State::Success, "{}", o.error);
        assert_eq!(o.resp, TlvMessage::new(n, format!("{n} task 1")));
    }
    assert_eq!(drops.count(), 0);
    assert!(wait_until(WAIT, || drops.count() == 1), "the context outlived the connection");
    server.stop();
}

/// Stopping the server closes idle connections and drops their contexts.
#[test]
fn stop_drops_contexts() {
    let drops = Drops::new();
    let server = counting_server(&drops);
    let addr = start_local(&server);
    let mut a = connect(addr);
    round_trip(&mut a, 0, b"a");
    server.stop();
    assert_eq!(drops.count(), 1);
    drop(a);
}
