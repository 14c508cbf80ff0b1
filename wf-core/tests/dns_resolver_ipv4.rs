//! `Settings::address_family = Ipv4` with the asynchronous resolver: only
//! A records are asked, IPv6 addresses of the hosts file are left out, and
//! a name with only an IPv6 address does not resolve. (`init` needs a
//! process of its own.)

use std::sync::mpsc;
use std::time::Duration;

use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, create_client_task};
use wf_core::{AddressFamily, Error, Settings, State, init};

fn call(url: &str) -> Result<(), Error> {
    let (tx, rx) = mpsc::channel();
    let mut t = create_client_task(Tlv::default(), url, 0, move |t| {
        let _ = tx.send(match t.state() {
            State::Success => Ok(()),
            _ => Err(t.error().cloned().unwrap_or_else(|| Error::new(t.state(), 0))),
        });
    });
    t.req_mut().set_value("ping");
    t.start();
    rx.recv_timeout(Duration::from_secs(30)).expect("the task called back")
}

#[test]
fn ipv4_only() {
    let dns = testkit::Dnsmasq::builder()
        .host("both.example.test", "::1")
        .host("both.example.test", "127.0.0.1")
        .host("v6only.example.test", "::1")
        .arg("--local=/example.test/")
        .start();
    let dir = testkit::TempDir::new("dns_resolver_ipv4");
    let conf = dir.write("resolv.conf", format!("nameserver 127.0.0.1:{}\n", dns.port()));
    // IPv6 listed first: left out all the same.
    let hosts = dir.write("hosts", "::1 hosts6.test\n::1 hostsboth.test\n127.0.0.1 hostsboth.test\n");
    let mut s = Settings::default();
    s.resolv_conf_path = conf;
    s.hosts_path = hosts;
    s.address_family = AddressFamily::Ipv4;
    init(s).unwrap();

    let server = Server::new(Tlv::default(), |t| {
        let v = t.req().value().clone();
        *t.resp_mut() = TlvMessage::new(1, v);
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.listen_addr().unwrap().port();

    call(&format!("tlv://hostsboth.test:{port}")).unwrap();
    call(&format!("tlv://both.example.test:{port}")).unwrap();
    let e = call(&format!("tlv://v6only.example.test:{port}")).unwrap_err();
    assert_eq!((e.state(), e.code()), (State::DnsError, libc::EAI_NONAME), "{e}");
    // Only in the hosts file as IPv6: asked of the server, which has nothing.
    let e = call(&format!("tlv://hosts6.test:{port}")).unwrap_err();
    assert_eq!(e.state(), State::DnsError, "{e}");
    let log = dns.log();
    assert!(log.contains("query[A] both.example.test") && !log.contains("query[AAAA]"), "{log}");
    server.stop();
}
