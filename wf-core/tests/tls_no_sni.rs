//! `Settings::use_tls_sni = false` (Workflow's default): wf's TLS client
//! configurations send no server name, so a server choosing its
//! certificate by SNI presents its default one. (`init` needs a process of
//! its own.)
#![cfg(feature = "tls")]

use std::sync::mpsc;
use std::time::Duration;

use wf_core::net::tls::{TlsClient, TlsServer};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, create_client_task};
use wf_core::{Settings, State, init};

#[test]
fn no_sni_when_disabled() {
    let mut s = Settings::default();
    s.use_tls_sni = false;
    init(s).unwrap();
    assert!(!TlsClient::verified().config().enable_sni);
    assert!(!TlsClient::insecure().config().enable_sni);

    // The default certificate is for another name; "localhost" gets its
    // own only when the client says it wants localhost.
    let pki = testkit::Pki::for_names("tls_no_sni CA", &["default.test"]);
    let localhost = pki.issue(&["localhost"]);
    let tls = TlsServer::builder(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes())
        .unwrap()
        .add_sni_pem("localhost", localhost.cert_pem.as_bytes(), localhost.key_pem.as_bytes())
        .unwrap()
        .build();
    let server = Server::new(Tlv::default(), |t| {
        let v = t.req().value().clone();
        *t.resp_mut() = TlvMessage::new(1, v);
    });
    server.set_tls(tls);
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.listen_addr().unwrap().port();
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    assert!(!client.config().enable_sni);

    let (tx, rx) = mpsc::channel();
    let mut t = create_client_task(Tlv::default(), &format!("tlvs://localhost:{port}"), 0, move |t| {
        let _ = tx.send(t.state());
    });
    t.options_mut().set_tls(client);
    t.req_mut().set_value("x");
    t.start();
    // Without SNI the server shows the default.test certificate, which is
    // not valid for localhost.
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), State::SslError);
    server.stop();
}
