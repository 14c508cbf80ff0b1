//! Unix domain sockets: a server on a socket path and a client whose URL
//! host is that path, percent-encoded (`tlv://%2Ftmp%2Fx.sock`). Neither
//! side has a peer address.
#![cfg(feature = "net")]

use crate::support;

use std::path::Path;
use std::time::Duration;

use support::net::{TempDir, tlv_task};
use support::{Log, recv};
use wf_core::State;
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Host, Server};

/// `tlv://` + the path with every byte but ASCII letters and digits
/// percent-encoded.
fn unix_url(path: &Path) -> String {
    let mut url = String::from("tlv://");
    for b in path.to_str().expect("a UTF-8 temp path").bytes() {
        if b.is_ascii_alphanumeric() {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

fn echo_on_unix(path: &Path) -> (Server<Tlv>, Log<(Option<std::net::SocketAddr>, u64)>) {
    let log = Log::new();
    let seen = log.clone();
    let server = Server::new(Tlv::default(), move |task| {
        seen.push((task.peer_addr(), task.connection().id()));
        let mut resp = task.req().clone();
        resp.set_type(resp.tlv_type() + 1);
        *task.resp_mut() = resp;
    });
    server.start_unix(path).expect("listen on the socket path");
    (server, log)
}

#[test]
fn round_trip_over_a_unix_socket() {
    let dir = TempDir::new("net-unix");
    let path = dir.path().join("echo.sock");
    let (server, log) = echo_on_unix(&path);
    assert_eq!(server.listen_addr(), None);

    let url = unix_url(&path);
    let (mut t, rx) = tlv_task(&url, 0);
    assert_eq!(t.kind().uri().unwrap().host(), &Host::Unix(path.clone()));
    *t.req_mut() = TlvMessage::new(41, "over a unix socket");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{url}: {}", o.error);
    assert_eq!(o.resp, TlvMessage::new(42, "over a unix socket"));
    assert_eq!(o.peer, None);
    server.stop();
    let log = log.get();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, None);
}

/// Keep-alive reuse works over Unix sockets too.
#[test]
fn keep_alive_over_a_unix_socket() {
    let dir = TempDir::new("net-unix-ka");
    let path = dir.path().join("ka.sock");
    let (server, log) = echo_on_unix(&path);
    let url = unix_url(&path);
    for i in 0..3 {
        let (mut t, rx) = tlv_task(&url, 0);
        t.set_keep_alive(Duration::from_secs(10));
        *t.req_mut() = TlvMessage::new(i, "again");
        t.start();
        let o = recv(&rx);
        assert_eq!(o.state, State::Success, "{}", o.error);
        assert_eq!(o.resp.tlv_type(), i + 1);
    }
    let ids: std::collections::BTreeSet<u64> = log.get().iter().map(|&(_, id)| id).collect();
    assert_eq!(ids.len(), 1, "{:?}", log.get());
    server.stop();
}

#[test]
fn missing_socket_is_a_system_error() {
    let dir = TempDir::new("net-unix-missing");
    let url = unix_url(&dir.path().join("nobody.sock"));
    let (t, rx) = tlv_task(&url, 0);
    t.start();
    let o = recv(&rx);
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ENOENT), "{}", o.error);
}
