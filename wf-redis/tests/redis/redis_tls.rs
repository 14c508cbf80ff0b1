//! `rediss://` end to end: a `RedisServer` serving TLS with a certificate
//! from a private CA, and tasks (and a subscriber's options) trusting that
//! CA; the default verifying client refuses the unknown CA with
//! `SSL_ERROR`; plain `redis://` to the TLS port, or `rediss://` to a
//! plain server, fails.
#![cfg(feature = "tls")]

use crate::support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use support::{Outcome, Seen, int, run, s, start_local, status, task};
use testkit::Pki;
use wf_core::State;
use wf_core::net::tls::{TlsClient, TlsServer};
use wf_redis::{RedisServer, RedisValue};

fn pki() -> Pki {
    Pki::new("wf-redis test CA")
}

/// A key-value `RedisServer` (SET, GET, PING; AUTH accepted), recording
/// commands.
fn kv_server(tls: Option<&Pki>) -> (RedisServer, u16, Seen) {
    let store: Arc<Mutex<HashMap<Vec<u8>, RedisValue>>> = Arc::default();
    let seen = Seen::default();
    let log = seen.clone();
    let server = RedisServer::new(move |task| {
        let words = log.record(task);
        let p = task.req().params().to_vec();
        let mut store = store.lock().unwrap();
        let reply = match support::name(&words).as_str() {
            "SET" => {
                store.insert(p[0].to_vec(), RedisValue::String(p[1].clone()));
                RedisValue::ok()
            }
            "GET" => store.get(p[0].as_ref()).cloned().unwrap_or_default(),
            "PING" => status("PONG"),
            "AUTH" => RedisValue::ok(),
            other => RedisValue::error(format!("ERR unknown command '{other}'")),
        };
        task.resp_mut().set_result(reply);
    });
    if let Some(pki) = tls {
        server.set_tls(TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap());
    }
    let port = start_local(&server);
    (server, port, seen)
}

fn exec_tls(url: &str, tls: Option<TlsClient>, command: &str, params: &[&str]) -> Outcome {
    let mut t = task(url, 0);
    if let Some(tls) = tls {
        t.options_mut().set_tls(tls);
    }
    t.set_request(command, params.iter().copied());
    run(t)
}

#[test]
fn rediss_round_trip_with_a_private_ca() {
    let pki = pki();
    let (server, port, seen) = kv_server(Some(&pki));
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("rediss://{host}:{port}");
        let o = exec_tls(&url, Some(client.clone()), "SET", &["k", host]);
        assert_eq!(o.value(), &status("OK"), "{url}");
        let o = exec_tls(&url, Some(client.clone()), "GET", &["k"]);
        assert_eq!(o.value(), &s(host), "{url}");
        assert_eq!(o.peer.map(|p| p.port()), Some(port));
    }
    // With a password: AUTH goes out over TLS first.
    let url = format!("rediss://:pw@localhost:{port}");
    assert_eq!(exec_tls(&url, Some(client), "PING", &[]).value(), &status("PONG"));
    assert_eq!(seen.lines().iter().filter(|l| *l == "AUTH pw").count(), 1);
    server.stop();
}

#[test]
fn insecure_client_accepts_the_certificate() {
    let pki = pki();
    let (server, port, _) = kv_server(Some(&pki));
    let o = exec_tls(&format!("rediss://127.0.0.1:{port}"), Some(TlsClient::insecure()), "PING", &[]);
    assert_eq!(o.value(), &status("PONG"));
    server.stop();
}

#[test]
fn default_client_rejects_the_unknown_ca() {
    let pki = pki();
    let (server, port, seen) = kv_server(Some(&pki));
    let o = exec_tls(&format!("rediss://localhost:{port}"), None, "PING", &[]);
    assert_eq!(o.state, State::SslError, "{:?}", o.error);
    assert!(seen.get().is_empty(), "a command got through: {:?}", seen.get());
    server.stop();
}

#[test]
fn plain_redis_to_a_tls_port_fails() {
    let pki = pki();
    let (server, port, seen) = kv_server(Some(&pki));
    let o = exec_tls(&format!("redis://127.0.0.1:{port}"), None, "PING", &[]);
    assert_ne!(o.state, State::Success, "{o:?}");
    assert!(o.results.is_empty());
    assert!(seen.get().is_empty(), "a plain command got through: {:?}", seen.get());
    server.stop();
}

#[test]
fn rediss_to_a_plain_server_fails() {
    let (server, port, _) = kv_server(None);
    let client = TlsClient::insecure();
    let o = exec_tls(&format!("rediss://127.0.0.1:{port}"), Some(client), "PING", &[]);
    assert_ne!(o.state, State::Success, "{o:?}");
    server.stop();
}

#[test]
fn tls_and_plain_connections_to_one_port_are_not_mixed() {
    // The same host and port once over TLS (a TLS server), once plain (a
    // plain server on another port): each task goes to its own kind of
    // connection.
    let pki = pki();
    let (tls_server, tls_port, _) = kv_server(Some(&pki));
    let (plain_server, plain_port, _) = kv_server(None);
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    for _ in 0..3 {
        let tls = exec_tls(&format!("rediss://localhost:{tls_port}"), Some(client.clone()), "PING", &[]);
        assert_eq!(tls.value(), &status("PONG"));
        let plain = exec_tls(&format!("redis://localhost:{plain_port}"), None, "PING", &[]);
        assert_eq!(plain.value(), &status("PONG"));
    }
    tls_server.stop();
    plain_server.stop();
}

#[test]
fn start_tls_from_pem_files() {
    let pki = pki();
    let dir = std::env::temp_dir().join(format!("wf-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let server = RedisServer::new(|task| task.resp_mut().set_result(status("PONG")));
    server.start_tls("127.0.0.1", 0, &cert, &key).unwrap();
    let port = server.listen_addr().unwrap().port();
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    let o = exec_tls(&format!("rediss://localhost:{port}"), Some(client), "PING", &[]);
    assert_eq!(o.value(), &status("PONG"));
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    // A missing key file is an error at start.
    let server = RedisServer::new(|_| {});
    assert!(server.start_tls("127.0.0.1", 0, &dir.join("none.pem"), &dir.join("none.key")).is_err());
}

#[test]
fn subscriber_over_tls() {
    // The subscriber's options carry the TLS client; a fake server answers
    // SUBSCRIBE with its confirmation.
    let pki = pki();
    let server = RedisServer::new(|task| {
        let reply = match (task.req().command(), task.req().params()) {
            (Some("SUBSCRIBE"), [channel]) => {
                RedisValue::Array(vec![s("subscribe"), RedisValue::String(channel.clone()), int(1)])
            }
            _ => RedisValue::ok(),
        };
        task.resp_mut().set_result(reply);
    });
    server.set_tls(TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap());
    let port = start_local(&server);
    let mut subscriber = wf_redis::RedisSubscriber::new(&format!("rediss://localhost:{port}"));
    subscriber.options_mut().set_tls(TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let (etx, ended) = std::sync::mpsc::channel();
    let task = subscriber.create_subscribe_task(
        ["secure"],
        move |_, v| {
            let _ = tx.send(v);
        },
        move |t| {
            let _ = etx.send(t.state());
        },
    );
    let handle = task.handle();
    task.start();
    let v = rx.recv_timeout(support::WAIT).expect("the confirmation over TLS");
    assert_eq!(v, RedisValue::Array(vec![s("subscribe"), s("secure"), int(1)]));
    handle.quit().unwrap();
    assert_eq!(ended.recv_timeout(support::WAIT).expect("QUIT ends the subscription"), State::Success);
    server.stop();
}
