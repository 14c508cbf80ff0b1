//! Lookups against a real dnsmasq.

use std::net::SocketAddr;
use std::time::Duration;

use testkit::Dnsmasq;
use wf_srv::{DnsError, Resolver, SrvServer};

fn resolver(dns: &Dnsmasq) -> Resolver {
    Resolver::new(dns.addr()).timeout(Duration::from_secs(5))
}

fn server(addr: &str, target: &str, priority: u16, weight: u16) -> SrvServer {
    SrvServer { addr: addr.parse().unwrap(), target: target.into(), priority, weight }
}

#[tokio::test]
async fn srv_with_addresses_in_the_reply() {
    let dns = Dnsmasq::builder()
        .srv("_http._tcp.example.test", "a.example.test", 8080, 10, 5)
        .srv("_http._tcp.example.test", "b.example.test", 8081, 20, 0)
        .host("a.example.test", "127.0.0.1")
        .host("b.example.test", "127.0.0.2")
        .host("b.example.test", "::1")
        .ttl(7)
        .start();
    let mut found = resolver(&dns).lookup_srv("_http._tcp.Example.Test.").await.unwrap();
    found.servers.sort_by_key(|s| s.addr);
    assert_eq!(
        found.servers,
        [
            server("127.0.0.1:8080", "a.example.test", 10, 5),
            server("127.0.0.2:8081", "b.example.test", 20, 0),
            server("[::1]:8081", "b.example.test", 20, 0),
        ]
    );
    assert_eq!(found.ttl, Duration::from_secs(7));
}

#[tokio::test]
async fn targets_without_additional_records_are_asked_for() {
    // `--address` names are not put in the additional section: the
    // resolver asks for them (A and AAAA), and skips one that is unknown.
    let dns = Dnsmasq::builder()
        .srv("_db._tcp.example.test", "c.example.test", 5432, 1, 1)
        .srv("_db._tcp.example.test", "unknown.example.test", 5433, 1, 1)
        .arg("--address=/c.example.test/127.0.0.3")
        .start();
    let found = resolver(&dns).lookup_srv("_db._tcp.example.test").await.unwrap();
    assert_eq!(found.servers, [server("127.0.0.3:5432", "c.example.test", 1, 1)]);
    let log = dns.log();
    assert!(log.contains("query[A] c.example.test") && log.contains("query[AAAA] c.example.test"), "{log}");
}

#[tokio::test]
async fn truncated_udp_reply_is_asked_again_over_tcp() {
    // 30 records with long targets do not fit 512 bytes: dnsmasq sets TC.
    let mut b = Dnsmasq::builder();
    for i in 0..30u16 {
        let target = format!("target-number-{i}.some-long-domain-name.example.test");
        b = b.srv("_big._tcp.example.test", &target, 9000 + i, 10, 1).host(&target, "127.0.0.1");
    }
    let dns = b.start();
    let found = resolver(&dns).lookup_srv("_big._tcp.example.test").await.unwrap();
    let mut ports: Vec<u16> = found.servers.iter().map(|s| s.addr.port()).collect();
    ports.sort();
    assert_eq!(ports, (9000..9030).collect::<Vec<_>>());
    assert!(found.servers.iter().all(|s| s.addr.ip() == std::net::Ipv4Addr::LOCALHOST));
}

#[tokio::test]
async fn no_service_and_unknown_names() {
    let dns = Dnsmasq::builder().arg("--srv-host=_none._tcp.example.test").host("h.example.test", "127.0.0.9").start();
    let r = resolver(&dns);
    // Target "." only: no service.
    assert_eq!(r.lookup_srv("_none._tcp.example.test").await, Err(DnsError::NoRecords));
    // dnsmasq without upstreams refuses what it does not know (REFUSED = 5).
    assert_eq!(r.lookup_srv("_nothing._tcp.example.test").await, Err(DnsError::ServerError(5)));
    let (ips, _) = r.lookup_ip("h.example.test").await.unwrap();
    assert_eq!(ips, ["127.0.0.9".parse::<std::net::IpAddr>().unwrap()]);
    assert!(matches!(r.query("a..b", 33).await, Err(DnsError::InvalidName(_))));
}

#[tokio::test]
async fn server_down_is_an_error_not_a_hang() {
    let mut dns = Dnsmasq::builder().srv("_x._tcp.example.test", "a.example.test", 1, 1, 1).start();
    let addr: SocketAddr = dns.addr();
    dns.stop();
    let r = Resolver::new(addr).timeout(Duration::from_millis(300)).attempts(2);
    let e = r.lookup_srv("_x._tcp.example.test").await.unwrap_err();
    // Port unreachable is "connection refused" on a connected UDP socket;
    // a lost one is a timeout.
    assert!(matches!(e, DnsError::Io(std::io::ErrorKind::ConnectionRefused, _) | DnsError::Timeout), "{e:?}");
    let wf = wf_core::Error::from(e);
    assert!(matches!(wf.state(), wf_core::State::DnsError | wf_core::State::SysError), "{wf:?}");
}
