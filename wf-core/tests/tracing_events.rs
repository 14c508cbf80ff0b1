//! `tracing` events where wf retries or drops something: a subscriber of
//! our own, installed process-wide (wf's work runs on its own threads),
//! records them. A binary of its own: the subscriber is global.
#![cfg(all(feature = "net", feature = "tracing"))]

use std::io::Read;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wf_core::State;
use wf_core::net::tlv::Tlv;
use wf_core::net::{Server, create_client_task};

/// Every event's message and fields, as text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "wf"
    }
    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _span: &Id, _values: &Record<'_>) {}
    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(format!("{}", event.metadata().level()));
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _span: &Id) {}
    fn exit(&self, _span: &Id) {}
}

fn recorder() -> Recorder {
    static ONCE: std::sync::OnceLock<Recorder> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let r = Recorder::default();
        tracing::subscriber::set_global_default(r.clone()).expect("the only subscriber");
        r
    })
    .clone()
}

fn wait_for(r: &Recorder, what: &str) -> String {
    for _ in 0..200 {
        if let Some(l) = r.0.lock().unwrap().iter().find(|l| l.contains(what)) {
            return l.clone();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no event with {what:?} in {:?}", r.0.lock().unwrap());
}

#[test]
fn retries_and_failed_tasks_are_reported() {
    let r = recorder();
    // A port nobody listens on: every attempt is refused.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    create_client_task(Tlv::default(), &format!("tlv://127.0.0.1:{port}"), 2, move |t| {
        tx.send(t.state()).unwrap();
    })
    .start();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), State::SysError);
    let retry = wait_for(&r, "retrying a failed attempt");
    assert!(retry.contains("Connection refused"), "{retry}");
    wait_for(&r, "retry=2");
    let failed = wait_for(&r, "client task failed");
    assert!(failed.contains("SysError"), "{failed}");
}

#[test]
fn a_refused_tls_handshake_is_reported() {
    let r = recorder();
    let pki_cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let tls = wf_core::net::tls::TlsServer::from_pem(
        pki_cert.cert.pem().as_bytes(),
        pki_cert.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let server = Server::new(Tlv::default(), |_| {});
    server.set_tls(tls);
    server.start_on("127.0.0.1", 0).unwrap();
    let addr = server.listen_addr().unwrap();
    // Plain text to a TLS server: its handshake fails, and says so.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut s, b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let _ = s.read(&mut [0; 64]);
    let line = wait_for(&r, "TLS handshake with a client failed");
    assert!(line.contains("SSL Error"), "{line}");
    server.stop();
}
