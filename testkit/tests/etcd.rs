//! testkit's etcd: it starts healthy on ports of its own, answers the v3
//! JSON gateway, keeps its data across a stop, a kill and a restart, and is
//! gone when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use testkit::etcd::Etcd;

/// `POST path` with a JSON body on the gateway, the reply's body.
fn gateway(etcd: &Etcd, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(etcd.addr()).expect("connect to etcd");
    s.set_read_timeout(Some(testkit::WAIT)).unwrap();
    let req = format!(
        "POST {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200"), "{reply}");
    reply[reply.find("\r\n\r\n").expect("a head") + 4..].to_owned()
}

#[test]
fn etcd_serves_the_gateway_and_keeps_its_data_across_restarts() {
    let mut etcd = Etcd::start();
    assert_eq!(etcd.url(), format!("http://127.0.0.1:{}", etcd.port()));
    etcd.ctl_ok(&["put", "/wf/k", "v1"]);
    // The gateway: base64 of "/wf/k" is L3dmL2s=, of "v1" djE=.
    let range = gateway(&etcd, "/v3/kv/range", r#"{"key":"L3dmL2s="}"#);
    assert!(range.contains(r#""value":"djE=""#), "{range}");

    let port = etcd.port();
    etcd.stop();
    assert!(!etcd.is_running());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens once stopped");
    etcd.restart();
    assert_eq!(etcd.port(), port);
    assert_eq!(etcd.ctl_ok(&["get", "/wf/k", "--print-value-only"]), "v1\n");

    etcd.ctl_ok(&["put", "/wf/k", "v2"]);
    etcd.kill();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens once killed");
    etcd.restart();
    assert_eq!(etcd.ctl_ok(&["get", "/wf/k", "--print-value-only"]), "v2\n");

    drop(etcd);
    assert!(
        testkit::wait_until(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_err()),
        "etcd still listens after drop"
    );
}

#[test]
fn two_etcd_at_once_are_separate() {
    let (a, b) = (Etcd::start(), Etcd::start());
    assert_ne!(a.port(), b.port());
    a.ctl_ok(&["put", "/only-a", "1"]);
    assert_eq!(b.ctl_ok(&["get", "/only-a", "--print-value-only"]), "");
    assert_eq!(a.ctl_ok(&["get", "/only-a", "--print-value-only"]), "1\n");
}
