//! Client keep-alive: an idle pooled connection is closed when its
//! keep-alive runs out, and a pooled connection the server has closed is
//! never handed out: the task quietly uses a new connection, without
//! spending a retry (one closed as the request went out fails, see
//! `connection_closed_at_reuse_is_not_resent`).
#![cfg(feature = "net")]

use crate::support;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use support::net::{RawServer, encode, read_tlv, start_local, tlv_task, tlv_url};
use support::{Log, WAIT, recv, wait_until};
use wf_core::State;
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, ServerParams};

fn recording_server(params: ServerParams) -> (Server<Tlv>, Log<u64>, String) {
    let log = Log::new();
    let seen = log.clone();
    let server = Server::with_params(Tlv::default(), params, move |task| {
        seen.push(task.connection().id());
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    let url = tlv_url(start_local(&server));
    (server, log, url)
}

#[test]
fn idle_connection_closed_when_keep_alive_expires() {
    let (server, _log, url) = recording_server(ServerParams::default());
    let keep_alive = Duration::from_millis(300);
    let (mut t, rx) = tlv_task(&url, 0);
    t.set_keep_alive(keep_alive);
    t.req_mut().set_value("ping");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    // The client keeps the connection: the server still has it.
    assert_eq!(server.conn_count(), 1);
    assert!(wait_until(WAIT, || server.conn_count() == 0), "the idle connection was never closed");
    let closed_after = o.at.elapsed();
    assert!(closed_after >= keep_alive - Duration::from_millis(50), "closed after {closed_after:?}");
    server.stop();
}

#[test]
fn server_closed_idle_connection_is_replaced() {
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(Duration::from_millis(100));
    let (server, log, url) = recording_server(params);

    let (mut t, rx) = tlv_task(&url, 0);
    t.set_keep_alive(Duration::from_secs(10));
    t.req_mut().set_value("one");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);

    // The server closes the idle connection after 100 ms; the client still
    // holds it for 10 s.
    assert!(wait_until(WAIT, || server.conn_count() == 0), "the server kept the idle connection");
    std::thread::sleep(Duration::from_millis(100));

    let (mut t, rx) = tlv_task(&url, 0);
    t.set_keep_alive(Duration::from_secs(10));
    t.req_mut().set_value("two");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"two");
    let ids: BTreeSet<u64> = log.get().into_iter().collect();
    assert_eq!(ids.len(), 2, "{:?}", log.get());
    server.stop();
}

/// The race the liveness check cannot see: the server closes a pooled
/// connection only when the next request arrives on it. The request went
/// out and the server may have run it: with `retry_max = 0` it is not
/// sent again (TLV requests are not idempotent; `net_client_faults` has
/// the idempotent case, which is re-sent), and the task fails with the
/// connection's error; the next task connects again.
#[test]
fn connection_closed_at_reuse_is_not_resent() {
    let server = RawServer::spawn(|mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        // Answer the first request; close (without answering) on the next.
        if let Ok(Some(req)) = read_tlv(&mut s) {
            let _ = s.write_all(&encode(req.tlv_type(), req.value()));
            let _ = read_tlv(&mut s);
        }
    });
    let (mut t, rx) = tlv_task(&server.url(), 0);
    t.set_keep_alive(Duration::from_secs(10));
    *t.req_mut() = TlvMessage::new(1, "one");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(server.accepts(), 1);

    let (mut t, rx) = tlv_task(&server.url(), 0);
    t.set_keep_alive(Duration::from_secs(10));
    *t.req_mut() = TlvMessage::new(2, "two");
    t.start();
    let o = recv(&rx);
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNRESET), "{}", o.error);
    assert_eq!(server.accepts(), 1);

    let (mut t, rx) = tlv_task(&server.url(), 0);
    *t.req_mut() = TlvMessage::new(3, "three");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(server.accepts(), 2);
}

/// A server that replies and then closes is a failure for nobody; the
/// next task just connects again (the closed connection is not reused).
#[test]
fn connection_closed_after_reply_is_not_reused() {
    let server = RawServer::spawn(|mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        if let Ok(Some(req)) = read_tlv(&mut s) {
            let _ = s.write_all(&encode(req.tlv_type(), req.value()));
        }
        // Dropping `s` closes the connection after the reply.
    });
    for i in 1..=3u32 {
        let (mut t, rx) = tlv_task(&server.url(), 0);
        t.set_keep_alive(Duration::from_secs(10));
        *t.req_mut() = TlvMessage::new(i, "x");
        t.start();
        let o = recv(&rx);
        assert_eq!(o.state, State::Success, "task {i}: {}", o.error);
        assert_eq!(o.resp.tlv_type(), i);
        // Let the close arrive before the next task looks at the pool.
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.accepts(), 3);
}
