//! The asynchronous resolver (the default `Settings::resolver`) with its
//! own `resolv.conf` and hosts file pointing at a hermetic dnsmasq: names
//! in URLs resolve through the hosts file, the search list and the name
//! server, A and AAAA asked both; an expired name is served stale while
//! one lookup refreshes it, and after a failed refresh. (`init` needs a
//! process of its own.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use wf_core::net::route::{DnsRoute, Pick, Route, Routed, async_trait, set_default_route};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, Uri, create_client_task};
use wf_core::{Error, Settings, State, init};

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

/// A default route counting the URLs it routes, by scheme, then DNS.
#[derive(Default)]
struct Counting {
    dns: AtomicUsize,
    other: AtomicUsize,
}

#[async_trait]
impl Route for Counting {
    async fn route(&self, uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error> {
        let n = if uri.scheme().starts_with("dns") { &self.dns } else { &self.other };
        n.fetch_add(1, Ordering::SeqCst);
        DnsRoute::shared().route(uri, pick).await
    }
}

/// Whether the host has a route to `addr` (a UDP connect sends nothing).
fn routable(addr: &str) -> bool {
    let local = if addr.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" };
    std::net::UdpSocket::bind(local).and_then(|s| s.connect(addr)).is_ok()
}

// The only test in this binary: `init` must come first.
#[test]
fn resolver_reads_resolv_conf_and_hosts() {
    let mut dns = testkit::Dnsmasq::builder()
        .host("a.example.test", "127.0.0.1")
        .host("both.example.test", "127.0.0.1")
        .host("both.example.test", "::1")
        .arg("--local=/example.test/")
        .start();
    let dir = testkit::TempDir::new("dns_resolver");
    let conf = dir.write(
        "resolv.conf",
        format!("nameserver 127.0.0.1:{}\nsearch example.test\noptions ndots:1 timeout:2 attempts:1\n", dns.port()),
    );
    let hosts = dir.write("hosts", "127.0.0.1 fromhosts.test\n");
    let mut s = Settings::default();
    s.resolv_conf_path = conf;
    s.hosts_path = hosts;
    s.dns_ttl_default = Duration::from_secs(1);
    s.dns_ttl_min = Duration::from_secs(1);
    init(s).unwrap();
    // The user's default route carries their requests, never the
    // resolver's own queries to its name servers.
    let counting = Arc::new(Counting::default());
    set_default_route(Some(counting.clone()));

    let server = Server::new(Tlv::default(), |t| {
        let v = t.req().value().clone();
        *t.resp_mut() = TlvMessage::new(1, v);
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.listen_addr().unwrap().port();

    // Through the name server.
    call(&format!("tlv://a.example.test:{port}")).unwrap();
    // The search list.
    call(&format!("tlv://a:{port}")).unwrap();
    // The hosts file, never asked of the server.
    call(&format!("tlv://fromhosts.test:{port}")).unwrap();
    // localhost needs no server either.
    call(&format!("tlv://localhost:{port}")).unwrap();
    let log = dns.log();
    assert!(!log.contains("fromhosts") && !log.contains("localhost"), "{log}");
    assert!(log.contains("query[A] a.example.test"), "{log}");
    // AAAA is asked unless the host has an IPv4 route only (AI_ADDRCONFIG).
    let v4_only = routable("192.0.2.1:53") && !routable("[2001:db8::1]:53");
    assert_eq!(log.contains("query[AAAA] a.example.test"), !v4_only, "{log}");

    // A and AAAA both used: the IPv4 address answers (the server listens
    // on IPv4 only, tried first).
    call(&format!("tlv://both.example.test:{port}")).unwrap();

    // A name nobody has.
    let e = call(&format!("tlv://nothere.example.test:{port}")).unwrap_err();
    assert_eq!((e.state(), e.code()), (State::DnsError, libc::EAI_NONAME), "{e}");
    let e = call(&format!("tlv://x.invalid:{port}")).unwrap_err();
    assert_eq!(e.state(), State::DnsError);

    // Past the TTL with the name server silent: the first caller
    // refreshes, callers meanwhile get the stale addresses, and when the
    // refresh fails (after the resolv.conf timeout) the first caller gets
    // them too (serve-stale).
    dns.stop();
    let _silent = std::net::UdpSocket::bind(("127.0.0.1", dns.port())).expect("the name server's port");
    std::thread::sleep(Duration::from_millis(1200));
    let url = format!("tlv://a.example.test:{port}");
    let first = std::thread::spawn({
        let url = url.clone();
        move || call(&url)
    });
    std::thread::sleep(Duration::from_millis(300));
    let second = call(&url);
    let first = first.join().unwrap();
    assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
    assert_eq!(counting.dns.load(Ordering::SeqCst), 0);
    assert!(counting.other.load(Ordering::SeqCst) > 0);
    server.stop();
}
