//! SrvDiscovery against a real dnsmasq, feeding an upstream that HTTP
//! tasks go through.

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

use testkit::{Dnsmasq, WAIT, recv, wait_until};
use wf_core::upstream::{ServerType, Upstream};
use wf_http::{HttpServer, create_http_task};
use wf_srv::SrvDiscovery;

const SRV: &str = "_http._tcp.example.test";

/// An HTTP server on 127.0.0.1 answering `tag` to every request.
fn http_server(tag: &'static str) -> (HttpServer, u16) {
    let server = HttpServer::new(move |task| task.resp_mut().append_body(tag));
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.listen_addr().unwrap().port();
    (server, port)
}

/// dnsmasq with one SRV record per (port, priority, weight), all on the
/// target `local.example.test` = 127.0.0.1.
fn records(srv: &[(u16, u16, u16)]) -> testkit::DnsmasqBuilder {
    let mut b = Dnsmasq::builder().host("local.example.test", "127.0.0.1");
    for &(port, priority, weight) in srv {
        b = b.srv(SRV, "local.example.test", port, priority, weight);
    }
    b
}

/// GETs `url` `n` times, one after another; the bodies.
fn get_bodies(url: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let (tx, rx) = mpsc::channel();
            create_http_task(url, 0, 1, move |t| {
                let _ = tx.send((t.state(), t.error_text(), String::from_utf8_lossy(&t.resp().body()).into_owned()));
            })
            .start();
            let (state, err, body) = recv(&rx);
            assert_eq!(state, wf_core::State::Success, "GET {url}: {err}");
            body
        })
        .collect()
}

fn servers(u: &Upstream) -> Vec<(String, u16, bool)> {
    let mut s: Vec<_> =
        u.servers().into_iter().map(|(a, p)| (a, p.weight, p.server_type == ServerType::Main)).collect();
    s.sort();
    s
}

#[tokio::test]
async fn priorities_and_weights_become_main_backup_and_weights() {
    let dns = records(&[(8080, 10, 5), (8081, 20, 0), (8082, 30, 9)]).start();
    let d = SrvDiscovery::builder("srv-test-mapping", SRV).server(dns.addr()).start().await.unwrap();
    assert_eq!(d.upstream().name(), "srv-test-mapping");
    assert_eq!(
        servers(d.upstream()),
        [("127.0.0.1:8080".into(), 5, true), ("127.0.0.1:8081".into(), 1, false), ("127.0.0.1:8082".into(), 9, false)]
    );
    assert_eq!(d.upstream().main_addresses(), ["127.0.0.1:8080"]);
    let st = d.status();
    assert_eq!((st.refreshes, st.failures, st.servers), (1, 0, 3));
    // dnsmasq's TTL is 0: clamped to the 5 s default floor.
    assert_eq!(st.next_refresh, Duration::from_secs(5));
    drop(d);
    assert!(Upstream::delete("srv-test-mapping"));
}

#[tokio::test]
async fn http_requests_reach_the_servers_found() {
    let (a, port_a) = http_server("a");
    let (b, port_b) = http_server("b");
    let (backup, port_backup) = http_server("backup");
    let dns = records(&[(port_a, 1, 1), (port_b, 1, 1), (port_backup, 2, 1)]).start();
    let _d = SrvDiscovery::builder("srv-test-http", SRV).server(dns.addr()).start().await.unwrap();
    let bodies = tokio::task::spawn_blocking(|| get_bodies("http://srv-test-http/", 40)).await.unwrap();
    let seen: HashSet<&str> = bodies.iter().map(String::as_str).collect();
    // Both mains serve (weighted random: each is missed 40 times in a row
    // with probability 2^-40); the backup waits while they are up.
    assert_eq!(seen, HashSet::from(["a", "b"]));
    for s in [a, b, backup] {
        s.stop();
    }
    Upstream::delete("srv-test-http");
}

#[tokio::test]
async fn changed_records_are_picked_up_at_the_next_refresh() {
    let (old, port_old) = http_server("old");
    let (new, port_new) = http_server("new");
    let mut dns = records(&[(port_old, 1, 1)]).start();
    let d = SrvDiscovery::builder("srv-test-change", SRV)
        .server(dns.addr())
        .ttl_bounds(Duration::from_millis(50), Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    assert_eq!(d.upstream().main_addresses(), [format!("127.0.0.1:{port_old}")]);
    dns.restart_with(records(&[(port_new, 1, 7), (port_old, 5, 1)]));
    let want = vec![(format!("127.0.0.1:{port_new}"), 7, true), (format!("127.0.0.1:{port_old}"), 1, false)];
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert!(wait_until(WAIT, || servers(d.upstream()) == want_sorted), "{:?}", servers(d.upstream()));
    let bodies = tokio::task::spawn_blocking(|| get_bodies("http://srv-test-change/", 5)).await.unwrap();
    assert!(bodies.iter().all(|b| b == "new"), "{bodies:?}");
    old.stop();
    new.stop();
    drop(d);
    Upstream::delete("srv-test-change");
}

#[tokio::test]
async fn dns_down_keeps_the_last_list() {
    let (web, port) = http_server("web");
    let mut dns = records(&[(port, 1, 3)]).start();
    let d = SrvDiscovery::builder("srv-test-down", SRV)
        .server(dns.addr())
        .timeout(Duration::from_millis(200), 1)
        .ttl_bounds(Duration::from_millis(50), Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let before = servers(d.upstream());
    dns.stop();
    assert!(wait_until(WAIT, || d.status().failures >= 3), "{:?}", d.status());
    let st = d.status();
    assert!(st.last_error.is_some());
    assert_eq!(st.servers, 1);
    assert_eq!(servers(d.upstream()), before);
    // Requests still go through.
    let bodies = tokio::task::spawn_blocking(|| get_bodies("http://srv-test-down/", 2)).await.unwrap();
    assert_eq!(bodies, ["web", "web"]);
    // A refresh asked for by hand fails the same way, list kept.
    assert!(d.refresh().await.is_err());
    assert_eq!(servers(d.upstream()), before);
    // Back, with other records: picked up.
    dns.restart_with(records(&[(port, 1, 9)]));
    assert!(wait_until(WAIT, || servers(d.upstream()) == [(format!("127.0.0.1:{port}"), 9, true)]));
    assert_eq!(d.refresh().await.unwrap(), 1);
    web.stop();
    drop(d);
    Upstream::delete("srv-test-down");
}

#[tokio::test]
async fn a_failed_first_lookup_creates_nothing() {
    let mut dns = records(&[(80, 1, 1)]).start();
    let addr = dns.addr();
    dns.stop();
    let e = SrvDiscovery::builder("srv-test-nothing", SRV)
        .server(addr)
        .timeout(Duration::from_millis(200), 1)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(e.state(), wf_core::State::DnsError | wf_core::State::SysError), "{e:?}");
    assert!(Upstream::get("srv-test-nothing").is_none());
    // No SRV records at all (target "."): a DNS error too.
    let dns = Dnsmasq::builder().arg(&format!("--srv-host={SRV}")).start();
    let e = SrvDiscovery::builder("srv-test-nothing", SRV).server(dns.addr()).start().await.unwrap_err();
    assert_eq!(e.state(), wf_core::State::DnsError, "{e:?}");
    assert!(Upstream::get("srv-test-nothing").is_none());
}

#[tokio::test]
async fn a_lookup_is_bounded_as_a_whole() {
    // SRV answered with 100 targets; their A/AAAA queries never are. Each
    // query alone is bounded (100 ms); the whole lookup is bounded too
    // (4 × 1 × 100 ms), so far fewer than the 64 target queries go out.
    let fake = crate::support::FakeDns::start(|q| {
        if crate::support::qtype(q) != 33 {
            return Vec::new();
        }
        let mut r = crate::support::reply_head(q, 0, [1, 100, 0, 0]);
        for i in 0..100 {
            r.extend_from_slice(&crate::support::srv_record(60, 1, 1, 80, &format!("t{i}.example.test")));
        }
        vec![r]
    });
    let e = SrvDiscovery::builder("srv-test-stall", SRV)
        .server(fake.addr())
        .timeout(Duration::from_millis(100), 1)
        .start()
        .await
        .unwrap_err();
    assert_eq!((e.state(), e.code()), (wf_core::State::DnsError, libc::EAI_AGAIN), "{e:?}");
    assert!(fake.queries() < 1 + 2 * wf_srv::MAX_TARGET_QUERIES, "{} queries", fake.queries());
    assert!(Upstream::get("srv-test-stall").is_none());
}

#[tokio::test]
async fn params_reach_the_servers_and_backups_serve_when_mains_are_down() {
    let (main, port_main) = http_server("main");
    let (backup, port_backup) = http_server("backup");
    let dns = records(&[(port_main, 1, 1), (port_backup, 2, 1)]).start();
    let mut params = wf_core::upstream::AddressParams::default();
    params.max_fails = 1;
    params.group = Some(7);
    let d = SrvDiscovery::builder("srv-test-backup", SRV).server(dns.addr()).params(params).start().await.unwrap();
    for (_, p) in d.upstream().servers() {
        assert_eq!((p.max_fails, p.group), (1, Some(7)));
    }
    let first = tokio::task::spawn_blocking(|| get_bodies("http://srv-test-backup/", 3)).await.unwrap();
    assert_eq!(first, ["main", "main", "main"]);
    // The main goes away: after one failure (max_fails 1) it is fused and
    // the backup of its group serves.
    main.stop();
    let served = tokio::task::spawn_blocking(|| {
        (0..20).find_map(|_| {
            let (tx, rx) = mpsc::channel();
            create_http_task("http://srv-test-backup/", 0, 1, move |t| {
                let _ = tx.send((t.state(), String::from_utf8_lossy(&t.resp().body()).into_owned()));
            })
            .start();
            let (state, body) = recv(&rx);
            (state == wf_core::State::Success).then_some(body)
        })
    })
    .await
    .unwrap();
    assert_eq!(served.as_deref(), Some("backup"));
    backup.stop();
    drop(d);
    Upstream::delete("srv-test-backup");
}
