//! Upstreams end to end with TLV servers: a URL whose host is an upstream
//! name goes to its servers by policy; failing servers are fused and
//! retries go elsewhere; per-server endpoint parameters apply; Unix
//! sockets and host names work as server addresses. Each test uses
//! upstream names of its own (the registry is process-wide). TLV has no
//! default port, so the URLs name one; the servers' addresses' ports win.
#![cfg(feature = "net")]

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use crate::support::net::{RawServer, TempDir, closed_port, start_local, tlv_task};
use crate::support::recv;
use wf_core::net::Server;
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::upstream::{AddressParams, Policy, Upstream};
use wf_core::{EndpointParams, State, TimeoutReason, code};

/// A TLV server that answers every request with its `id`.
fn id_server(id: &str) -> (Server<Tlv>, SocketAddr) {
    let id = id.as_bytes().to_vec();
    let server = Server::new(Tlv::default(), move |task| {
        *task.resp_mut() = TlvMessage::new(0, id.clone());
    });
    let addr = start_local(&server);
    (server, addr)
}

/// Runs one request to `url`; the id of the server that answered, or the
/// error's (state, code).
fn ask(url: &str, retry_max: u32) -> Result<String, (State, i32)> {
    let (mut t, rx) = tlv_task(url, retry_max);
    t.req_mut().set_value("who");
    t.start();
    let o = recv(&rx);
    match o.state {
        State::Success => Ok(String::from_utf8(o.resp.value().to_vec()).unwrap()),
        _ => Err((o.state, o.error.code())),
    }
}

fn weighted(weight: u16) -> AddressParams {
    let mut p = AddressParams::default();
    p.weight = weight;
    p
}

#[test]
fn requests_go_to_the_servers_by_weight() {
    let servers: Vec<_> = ["s1", "s2", "s3"].iter().map(|id| id_server(id)).collect();
    let up = Upstream::create("up-tlv-weights", Policy::Vnswrr);
    for ((_, addr), w) in servers.iter().zip([1, 1, 2]) {
        up.add_server_with(&addr.to_string(), weighted(w)).unwrap();
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..40 {
        *seen.entry(ask("tlv://up-tlv-weights:1/", 0).unwrap()).or_default() += 1;
    }
    // Smooth weighted round robin: exact shares over whole cycles.
    assert_eq!((seen["s1"], seen["s2"], seen["s3"]), (10, 10, 20));
    for (s, _) in servers {
        s.stop();
    }
    assert!(Upstream::delete("up-tlv-weights"));
}

#[test]
fn a_failing_server_is_fused_and_retries_go_elsewhere() {
    // Accepts, then closes at once: every attempt on it fails.
    let bad = RawServer::spawn(drop);
    let (good, good_addr) = id_server("good");
    let up = Upstream::create("up-tlv-fuse", Policy::RoundRobin { try_another: true });
    let mut p = AddressParams::default();
    p.max_fails = 2;
    up.add_server_with(&bad.addr().to_string(), p).unwrap();
    up.add_server(&good_addr.to_string()).unwrap();
    up.set_mttr(Duration::from_secs(3600));
    // Every request succeeds: a retry never goes back to the server tried.
    for _ in 0..10 {
        assert_eq!(ask("tlv://up-tlv-fuse:1/", 1), Ok("good".into()));
    }
    // Two failures fused the bad server: no attempt reached it since.
    assert_eq!(bad.accepts(), 2);
    // Without retries, nothing fails either: the fused server is not picked.
    for _ in 0..4 {
        assert_eq!(ask("tlv://up-tlv-fuse:1/", 0), Ok("good".into()));
    }
    assert_eq!(bad.accepts(), 2);
    good.stop();
}

#[test]
fn every_server_fused_is_upstream_unavailable() {
    let up = Upstream::create("up-tlv-down", Policy::WeightedRandom { try_another: true });
    let mut p = AddressParams::default();
    p.max_fails = 1;
    up.add_server_with(&closed_port().to_string(), p).unwrap();
    up.set_mttr(Duration::from_secs(3600));
    assert_eq!(ask("tlv://up-tlv-down:1/", 0), Err((State::SysError, libc::ECONNREFUSED)));
    assert_eq!(ask("tlv://up-tlv-down:1/", 3), Err((State::TaskError, code::UPSTREAM_UNAVAILABLE)));
    // No server at all: unavailable too.
    up.set_servers(Vec::new()).unwrap();
    assert_eq!(ask("tlv://up-tlv-down:1/", 0), Err((State::TaskError, code::UPSTREAM_UNAVAILABLE)));
}

#[test]
fn a_disabled_server_without_try_another_is_unavailable_until_enabled() {
    let (server, addr) = id_server("only");
    let up = Upstream::create("up-tlv-disable", Policy::WeightedRandom { try_another: false });
    up.add_server(&addr.to_string()).unwrap();
    assert_eq!(up.disable_server(&addr.to_string()), 1);
    assert_eq!(ask("tlv://up-tlv-disable:1/", 2), Err((State::TaskError, code::UPSTREAM_UNAVAILABLE)));
    assert_eq!(up.enable_server(&addr.to_string()), 1);
    assert_eq!(ask("tlv://up-tlv-disable:1/", 0), Ok("only".into()));
    server.stop();
}

#[test]
fn a_servers_endpoint_params_apply_to_its_connections() {
    // Accepts, reads, never answers (until the client closes).
    let silent = RawServer::spawn(|mut s| {
        let mut buf = [0u8; 256];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let up = Upstream::create("up-tlv-endpoint", Policy::RoundRobin { try_another: false });
    let mut ep = EndpointParams::default();
    ep.response_timeout = Some(Duration::from_millis(200));
    let mut p = AddressParams::default();
    p.endpoint = Some(ep);
    up.add_server_with(&silent.addr().to_string(), p).unwrap();
    let (mut t, rx) = tlv_task("tlv://up-tlv-endpoint:1/", 0);
    // The default response timeout (10 s) would meet this deadline first.
    t.set_deadline(Duration::from_secs(8));
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::SysError, "{}", o.error);
    assert_eq!(o.error.code(), libc::ETIMEDOUT);
    assert_ne!(o.error.timeout_reason(), TimeoutReason::Deadline, "{}", o.error);
}

#[test]
fn unix_sockets_and_host_names_as_server_addresses() {
    let dir = TempDir::new("up-unix");
    let path = dir.path().join("s.sock");
    let unix = Server::new(Tlv::default(), |task| *task.resp_mut() = TlvMessage::new(0, b"unix".to_vec()));
    unix.start_unix(&path).expect("listen on the socket path");
    let up = Upstream::create("up-tlv-unix", Policy::RoundRobin { try_another: false });
    up.add_server(path.to_str().unwrap()).unwrap();
    assert_eq!(ask("tlv://up-tlv-unix:1/", 0), Ok("unix".into()));
    unix.stop();

    let (named, addr) = id_server("named");
    let up = Upstream::create("up-tlv-name", Policy::RoundRobin { try_another: false });
    // The address's port wins over the URL's.
    up.add_server(&format!("localhost:{}", addr.port())).unwrap();
    // localhost may be ::1 first; the server listens on 127.0.0.1 only,
    // so one retry may be needed.
    assert_eq!(ask("tlv://up-tlv-name:1/", 1), Ok("named".into()));
    named.stop();
}

#[cfg(feature = "tls")]
#[test]
fn tls_to_a_host_name_server_names_that_host() {
    use wf_core::net::tls::{TlsClient, TlsServer};
    let ca = testkit::Pki::new("wf upstream test CA");
    let leaf = ca.issue(&["localhost"]);
    let server = Server::new(Tlv::default(), |task| *task.resp_mut() = TlvMessage::new(0, b"tls".to_vec()));
    server.set_tls(TlsServer::from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap());
    let port = start_local(&server).port();
    let client = TlsClient::with_root_pem(ca.ca_pem.as_bytes()).unwrap();
    let run = |url: &str| {
        // localhost may be ::1 first; the server listens on 127.0.0.1.
        let (mut t, rx) = tlv_task(url, 1);
        t.options_mut().set_tls(client.clone());
        t.start();
        recv(&rx)
    };
    // A host-name server: TLS names (and verifies) `localhost`, not the
    // upstream's name.
    let up = Upstream::create("up-tlv-tls", Policy::RoundRobin { try_another: false });
    up.add_server(&format!("localhost:{port}")).unwrap();
    let o = run("tlvs://up-tlv-tls:1/");
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"tls");
    // An IP address server: the URL's host (the upstream name), which the
    // certificate does not name.
    up.set_servers(vec![(format!("127.0.0.1:{port}"), AddressParams::default())]).unwrap();
    assert_eq!(run("tlvs://up-tlv-tls:1/").state, State::SslError);
    server.stop();
}
