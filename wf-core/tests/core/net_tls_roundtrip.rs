//! TLV over TLS end to end: a TLS server (`set_tls` or `start_tls` from PEM
//! files) and `tlvs://` client tasks trusting a private CA; the default
//! (verifying) client refuses the unknown CA with `SSL_ERROR`; plain TLV
//! to the TLS server, or TLS to a plain server, fails.
#![cfg(feature = "tls")]

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::net::{Outcome, TempDir, echo_server, start_local, tlv_task};
use support::{Log, recv};
use wf_core::net::Server;
use wf_core::net::tls::{TlsClient, TlsServer};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::{EndpointParams, Error, State, TimeoutReason};

/// A private CA, a certificate it signed for `localhost` and 127.0.0.1,
/// and one for `localhost` only.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
    name_only: (String, String),
}

fn pki() -> Pki {
    let ca = testkit::Pki::new("wf net test CA");
    let name_only = ca.issue(&["localhost"]);
    Pki {
        ca_pem: ca.ca_pem,
        cert_pem: ca.cert_pem,
        key_pem: ca.key_pem,
        name_only: (name_only.cert_pem, name_only.key_pem),
    }
}

/// A TLS echo server (type + 1) logging its connection ids.
fn tls_server(pki: &Pki) -> (Server<Tlv>, u16, Log<u64>) {
    tls_server_with(&pki.cert_pem, &pki.key_pem)
}

fn tls_server_with(cert_pem: &str, key_pem: &str) -> (Server<Tlv>, u16, Log<u64>) {
    let log = Log::new();
    let seen = log.clone();
    let server = Server::new(Tlv::default(), move |task| {
        seen.push(task.connection().id());
        let mut resp = task.req().clone();
        resp.set_type(resp.tlv_type() + 1);
        *task.resp_mut() = resp;
    });
    server.set_tls(TlsServer::from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap());
    let port = start_local(&server).port();
    (server, port, log)
}

fn run(url: &str, tls: Option<TlsClient>) -> Outcome {
    let (mut t, rx) = tlv_task(url, 0);
    if let Some(tls) = tls {
        t.options_mut().set_tls(tls);
    }
    *t.req_mut() = TlvMessage::new(7, "secret");
    t.start();
    recv(&rx)
}

fn assert_echoed(o: &Outcome, url: &str) {
    assert_eq!(o.state, State::Success, "{url}: {:?} {}", o.error, o.error);
    assert_eq!(o.resp, TlvMessage::new(8, "secret"), "{url}");
}

#[test]
fn round_trip_with_a_private_ca() {
    let pki = pki();
    let (server, port, _) = tls_server(&pki);
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    for url in [format!("tlvs://localhost:{port}"), format!("tlvs://127.0.0.1:{port}")] {
        let o = run(&url, Some(client.clone()));
        assert_echoed(&o, &url);
        assert_eq!(o.peer.map(|p| p.port()), Some(port));
    }
    server.stop();
}

#[test]
fn insecure_client_accepts_any_certificate() {
    let pki = pki();
    let (server, port, _) = tls_server(&pki);
    let url = format!("tlvs://127.0.0.1:{port}");
    assert_echoed(&run(&url, Some(TlsClient::insecure())), &url);
    server.stop();
}

#[test]
fn default_client_rejects_an_unknown_ca() {
    let pki = pki();
    let (server, port, log) = tls_server(&pki);
    for url in [format!("tlvs://localhost:{port}"), format!("tlvs://127.0.0.1:{port}")] {
        let o = run(&url, None);
        assert_eq!((o.state, o.error.code()), (State::SslError, 1), "{url}: {:?}", o.error);
        assert_eq!(o.error.text(), "SSL Error SSL");
        // rustls's reason is kept: shown after the text, and as the source.
        assert!(o.error.to_string().starts_with("SSL Error SSL: invalid peer certificate"), "{}", o.error);
        assert!(std::error::Error::source(&o.error).is_some());
    }
    // A TLS failure is not a SYS_ERROR: not retried.
    let (t, rx) = tlv_task(&format!("tlvs://127.0.0.1:{port}"), 3);
    t.start();
    assert_eq!(recv(&rx).state, State::SslError);
    server.stop();
    assert!(log.get().is_empty(), "a request got through: {:?}", log.get());
}

#[test]
fn name_not_in_the_certificate_is_rejected() {
    let pki = pki();
    let (server, port, log) = tls_server_with(&pki.name_only.0, &pki.name_only.1);
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    let url = format!("tlvs://localhost:{port}");
    assert_echoed(&run(&url, Some(client.clone())), &url);
    // The certificate names `localhost` but not its address.
    let url = format!("tlvs://127.0.0.1:{port}");
    let o = run(&url, Some(client));
    assert_eq!((o.state, o.error.code()), (State::SslError, 1), "{url}: {:?}", o.error);
    server.stop();
    assert_eq!(log.len(), 1);
}

#[test]
fn plain_client_to_a_tls_server_fails() {
    let pki = pki();
    let (server, port, log) = tls_server(&pki);
    let url = format!("tlv://127.0.0.1:{port}");
    let o = run(&url, None);
    // The server drops the connection when the handshake fails.
    assert_eq!(o.state, State::SysError, "{url}: {:?}", o.error);
    server.stop();
    assert!(log.get().is_empty());
}

#[test]
fn tls_client_to_a_plain_server_fails() {
    let (server, addr) = echo_server();
    let url = format!("tlvs://127.0.0.1:{}", addr.port());
    let (mut t, rx) = tlv_task(&url, 0);
    t.options_mut().set_tls(TlsClient::insecure());
    let mut p = EndpointParams::default();
    p.ssl_connect_timeout = Some(Duration::from_millis(500));
    t.options_mut().set_endpoint_params(p);
    t.start();
    let o = recv(&rx);
    // The TLV server takes the ClientHello for the header of a TLV
    // request longer than its `request_size_limit` (1 MiB): it closes at
    // once, and the handshake ends with the connection, not a timeout.
    assert_eq!(o.state, State::SysError, "{url}: {}", o.error);
    assert_ne!(o.error, Error::timeout(TimeoutReason::Connect), "{url}: {}", o.error);
    server.stop();
}

#[test]
fn start_tls_from_pem_files() {
    let pki = pki();
    let dir = TempDir::new("net-tls");
    let cert = dir.write("cert.pem", &pki.cert_pem);
    let key = dir.write("key.pem", &pki.key_pem);
    let server = Server::new(Tlv::default(), |task| {
        let mut resp = task.req().clone();
        resp.set_type(resp.tlv_type() + 1);
        *task.resp_mut() = resp;
    });
    server.start_tls("127.0.0.1", 0, &cert, &key).unwrap();
    let port = server.listen_addr().unwrap().port();
    let url = format!("tlvs://localhost:{port}");
    assert_echoed(&run(&url, Some(TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap())), &url);
    server.stop();

    // Unreadable files: the error comes from start_tls, nothing listens.
    let server = Server::new(Tlv::default(), |_| {});
    let err = server.start_tls("127.0.0.1", 0, &dir.path().join("missing.pem"), &key).unwrap_err();
    assert_eq!((err.state(), err.code()), (State::SysError, libc::ENOENT));
    assert_eq!(server.listen_addr(), None);
}

/// A keep-alive TLS connection is reused by the next task with the same
/// TLS configuration.
#[test]
fn tls_connection_reuse() {
    let pki = pki();
    let (server, port, log) = tls_server(&pki);
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    let url = format!("tlvs://127.0.0.1:{port}");
    for _ in 0..3 {
        let (mut t, rx) = tlv_task(&url, 0);
        t.options_mut().set_tls(client.clone());
        t.set_keep_alive(Duration::from_secs(10));
        *t.req_mut() = TlvMessage::new(7, "secret");
        t.start();
        assert_echoed(&recv(&rx), &url);
    }
    let ids: BTreeSet<u64> = log.get().into_iter().collect();
    assert_eq!(ids.len(), 1, "{:?}", log.get());
    server.stop();
}

/// A client that connects and never starts the handshake is dropped after
/// `ssl_accept_timeout`.
#[test]
fn silent_client_dropped_after_ssl_accept_timeout() {
    let pki = pki();
    let mut params = wf_core::net::ServerParams::default();
    params.ssl_accept_timeout = Some(Duration::from_millis(200));
    let server = Server::with_params(Tlv::default(), params, |_| {});
    server.set_tls(TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap());
    let addr = start_local(&server);
    let start = std::time::Instant::now();
    let mut s = support::net::connect(addr);
    support::net::expect_closed(&mut s);
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < support::WAIT, "{elapsed:?}");
    server.stop();
}
