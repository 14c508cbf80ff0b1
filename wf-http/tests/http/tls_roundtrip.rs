//! HTTPS end to end: `HttpServer` with `set_tls`, `HttpTask` to
//! `https://localhost:PORT` verifying against a private CA, keep-alive over
//! TLS, and refusal of untrusted or mismatched certificates.

use crate::support;

use support::{Pki, fetch, pki, pki_for, start};
use wf_core::State;
use wf_core::net::tls::{TlsClient, TlsServer};
use wf_http::HttpServer;

fn tls_server(pki: &Pki) -> (HttpServer, u16) {
    let server = HttpServer::new(|task| {
        let body = format!("{} {} seq={}", task.req().method(), task.req().request_uri(), task.task_seq());
        task.resp_mut().append_body(body);
        let req_body = task.req().body();
        task.resp_mut().append_body(req_body);
    });
    server.set_tls(TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap());
    let port = start(&server).port();
    (server, port)
}

fn trusting(pki: &Pki) -> TlsClient {
    TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap()
}

#[test]
fn https_round_trip_with_keep_alive() {
    let pki = pki();
    let (server, port) = tls_server(&pki);
    let tls = trusting(&pki);
    for (i, path) in ["/a", "/b", "/c"].iter().enumerate() {
        let tls = tls.clone();
        let o = fetch(&format!("https://localhost:{port}{path}"), 0, 0, move |t| {
            t.options_mut().set_tls(tls);
        });
        assert_eq!(o.ok().body(), format!("GET {path} seq={i}"), "one TLS connection, reused");
        assert_eq!(o.resp.header("connection"), Some("Keep-Alive"));
    }
    assert_eq!(server.conn_count(), 1);
    server.stop();
}

#[test]
fn https_post_body() {
    let pki = pki();
    let (server, port) = tls_server(&pki);
    let tls = trusting(&pki);
    let big = "x".repeat(100_000);
    let sent = big.clone();
    let o = fetch(&format!("https://127.0.0.1:{port}/upload"), 0, 0, move |t| {
        t.options_mut().set_tls(tls);
        t.req_mut().set_method("POST");
        t.req_mut().append_body(sent);
    });
    assert_eq!(o.ok().body(), format!("POST /upload seq=0{big}"));
    server.stop();
}

#[test]
fn untrusted_certificate_is_refused() {
    let pki_a = pki();
    let pki_b = pki();
    let (server, port) = tls_server(&pki_a);
    // Another CA.
    let other = trusting(&pki_b);
    let o = fetch(&format!("https://localhost:{port}/"), 0, 0, move |t| {
        t.options_mut().set_tls(other);
    });
    assert_eq!(o.state, State::SslError, "{}", o.error);
    // The system roots do not know the private CA either.
    let o = fetch(&format!("https://localhost:{port}/"), 0, 0, |_| {});
    assert_eq!(o.state, State::SslError, "{}", o.error);
    server.stop();
}

#[test]
fn name_mismatch_is_refused() {
    // A certificate from the trusted CA, but for another name.
    let pki = pki_for(&["other.test"]);
    let (server, port) = tls_server(&pki);
    let tls = trusting(&pki);
    let o = fetch(&format!("https://localhost:{port}/"), 0, 0, move |t| {
        t.options_mut().set_tls(tls);
    });
    assert_eq!(o.state, State::SslError, "a certificate without that name was accepted: {}", o.error);
    server.stop();
}

#[test]
fn plain_http_to_a_tls_server_fails() {
    let pki = pki();
    let (server, port) = tls_server(&pki);
    let o = fetch(&format!("http://127.0.0.1:{port}/"), 0, 0, |_| {});
    assert_ne!(o.state, State::Success);
    server.stop();
}
