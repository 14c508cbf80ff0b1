//! Discovery: the first read, then every change through the watch, and
//! resuming after a partition without missing one.

use testkit::Etcd as EtcdServer;
use wf_core::upstream::{Policy, Upstream};
use wf_etcd::Etcd;

use crate::proxy::Proxy;
use crate::{etcd_revision, main, servers, unique, wait_servers};

fn upstream(name: &str) -> Upstream {
    Upstream::create(name, Policy::RoundRobin { try_another: false })
}

#[test]
fn discover_reads_the_service_then_applies_each_change() {
    let etcd = EtcdServer::start();
    let client = Etcd::new(&etcd.url());
    let name = unique("disc");
    let key = |a: &str| client.key(&name, a).unwrap();
    etcd.ctl_ok(&["put", &key("10.0.0.1:80"), r#"{"address":"10.0.0.1:80","weight":2}"#]);
    etcd.ctl_ok(&["put", &key("10.0.0.2:80"), r#"{"address":"10.0.0.2:80","backup":true,"group":3}"#]);
    // Not this service: a longer name with the same start, another prefix.
    etcd.ctl_ok(&["put", &client.key(&format!("{name}x"), "10.9.9.9:1").unwrap(), "{}"]);
    etcd.ctl_ok(&["put", &format!("/other/{name}/10.9.9.8:1"), "{}"]);

    let u = upstream(&name);
    let d = client.discover_blocking(&u).expect("discover");
    let backup = ("10.0.0.2:80".to_owned(), 1, true, Some(3));
    assert_eq!(servers(&u), [main("10.0.0.1:80", 2), backup.clone()]);
    assert_eq!(d.revision(), etcd_revision(&etcd));
    assert_eq!(d.upstream().name(), name);

    // Add (the address from the key when the value has none).
    etcd.ctl_ok(&["put", &key("10.0.0.3:80"), "{}"]);
    wait_servers(&u, &[main("10.0.0.1:80", 2), backup.clone(), main("10.0.0.3:80", 1)]);
    // Change.
    etcd.ctl_ok(&["put", &key("10.0.0.1:80"), r#"{"address":"10.0.0.1:80","weight":9}"#]);
    wait_servers(&u, &[main("10.0.0.1:80", 9), backup.clone(), main("10.0.0.3:80", 1)]);
    // Remove.
    etcd.ctl_ok(&["del", &key("10.0.0.2:80")]);
    wait_servers(&u, &[main("10.0.0.1:80", 9), main("10.0.0.3:80", 1)]);
    // A bad record drops its server and nothing else; an address the
    // upstream cannot parse is skipped the same way.
    etcd.ctl_ok(&["put", &key("10.0.0.3:80"), r#"{"weight":0}"#]);
    wait_servers(&u, &[main("10.0.0.1:80", 9)]);
    etcd.ctl_ok(&["put", &key("bad"), r#"{"address":"no such:host:99999"}"#]);
    etcd.ctl_ok(&["put", &key("10.0.0.4:80"), "{}"]);
    wait_servers(&u, &[main("10.0.0.1:80", 9), main("10.0.0.4:80", 1)]);
    // Several deletes at one revision arrive as one message.
    etcd.ctl_ok(&["del", &format!("{}{name}/", client.prefix()), "--prefix"]);
    wait_servers(&u, &[]);
    assert!(testkit::wait_until(testkit::WAIT, || d.revision() == etcd_revision(&etcd)));
}

#[test]
fn an_empty_service_fills_later() {
    let etcd = EtcdServer::start();
    let client = Etcd::new(&etcd.url());
    let name = unique("empty");
    let u = upstream(&name);
    let _d = client.discover_blocking(&u).expect("discover");
    assert_eq!(servers(&u), []);
    etcd.ctl_ok(&["put", &client.key(&name, "127.0.0.1:1").unwrap(), "{}"]);
    wait_servers(&u, &[main("127.0.0.1:1", 1)]);
}

#[test]
fn dropping_the_discovery_stops_following() {
    let etcd = EtcdServer::start();
    let client = Etcd::new(&etcd.url());
    let name = unique("drop");
    let u = upstream(&name);
    let d = client.discover_blocking(&u).expect("discover");
    etcd.ctl_ok(&["put", &client.key(&name, "127.0.0.1:1").unwrap(), "{}"]);
    wait_servers(&u, &[main("127.0.0.1:1", 1)]);
    drop(d);
    etcd.ctl_ok(&["put", &client.key(&name, "127.0.0.1:2").unwrap(), "{}"]);
    std::thread::sleep(crate::SETTLE);
    assert_eq!(servers(&u), [main("127.0.0.1:1", 1)], "the last list stays, unchanged");
}

/// The watch is cut (etcd runs on, hidden by a partition); changes made
/// meanwhile, then the partition heals: every change is applied, deletes
/// included. A watcher that re-watched from "now" would miss them all.
#[test]
fn the_watch_resumes_after_a_partition_without_missing_a_change() {
    let etcd = EtcdServer::start();
    let proxy = Proxy::start(etcd.addr());
    let client = Etcd::new(&proxy.url());
    let name = unique("part");
    let key = |a: &str| client.key(&name, a).unwrap();
    etcd.ctl_ok(&["put", &key("10.0.0.1:80"), "{}"]);
    etcd.ctl_ok(&["put", &key("10.0.0.2:80"), "{}"]);
    let u = upstream(&name);
    let d = client.discover_blocking(&u).expect("discover");
    assert!(testkit::wait_until(testkit::WAIT, || d.is_watching()), "the watch is established");
    let before = d.revision();

    proxy.pause();
    assert!(testkit::wait_until(testkit::WAIT, || !d.is_watching()), "the watcher saw the cut");
    etcd.ctl_ok(&["put", &key("10.0.0.3:80"), "{}"]);
    etcd.ctl_ok(&["del", &key("10.0.0.1:80")]);
    etcd.ctl_ok(&["put", &key("10.0.0.2:80"), r#"{"weight":5}"#]);
    std::thread::sleep(crate::SETTLE);
    assert_eq!(servers(&u), [main("10.0.0.1:80", 1), main("10.0.0.2:80", 1)], "the last list serves meanwhile");
    assert_eq!(d.revision(), before);

    proxy.resume();
    wait_servers(&u, &[main("10.0.0.2:80", 5), main("10.0.0.3:80", 1)]);
    assert!(testkit::wait_until(testkit::WAIT, || d.is_watching()));
    assert_eq!(d.revision(), etcd_revision(&etcd));
}

/// Same, but etcd compacts the revisions the watcher would resume from:
/// it must read the whole service again.
#[test]
fn a_compacted_revision_reads_the_service_again() {
    let etcd = EtcdServer::start();
    let proxy = Proxy::start(etcd.addr());
    let client = Etcd::new(&proxy.url());
    let name = unique("compact");
    let key = |a: &str| client.key(&name, a).unwrap();
    etcd.ctl_ok(&["put", &key("10.0.0.1:80"), "{}"]);
    let u = upstream(&name);
    let d = client.discover_blocking(&u).expect("discover");
    assert!(testkit::wait_until(testkit::WAIT, || d.is_watching()));

    proxy.pause();
    assert!(testkit::wait_until(testkit::WAIT, || !d.is_watching()));
    etcd.ctl_ok(&["del", &key("10.0.0.1:80")]);
    etcd.ctl_ok(&["put", &key("10.0.0.2:80"), "{}"]);
    etcd.ctl_ok(&["put", &key("10.0.0.3:80"), "{}"]);
    etcd.ctl_ok(&["compaction", &etcd_revision(&etcd).to_string()]);

    proxy.resume();
    wait_servers(&u, &[main("10.0.0.2:80", 1), main("10.0.0.3:80", 1)]);
    assert!(testkit::wait_until(testkit::WAIT, || d.revision() == etcd_revision(&etcd)));
    // And it watches on from there.
    etcd.ctl_ok(&["put", &key("10.0.0.4:80"), "{}"]);
    wait_servers(&u, &[main("10.0.0.2:80", 1), main("10.0.0.3:80", 1), main("10.0.0.4:80", 1)]);
}

/// etcd itself behind a wf upstream name (several members in real life):
/// the gateway's requests go through the upstream like any other.
#[test]
fn etcd_can_be_reached_through_an_upstream_name() {
    let etcd = EtcdServer::start();
    let members = upstream(&unique("etcd-members"));
    members.add_server(&etcd.addr().to_string()).unwrap();
    let client = Etcd::new(&format!("http://{}", members.name()));
    let name = unique("via");
    let u = upstream(&name);
    let _d = client.discover_blocking(&u).expect("discover through the upstream");
    let r = client
        .register_blocking(&name, "10.0.0.9:80", &Default::default(), std::time::Duration::from_secs(600))
        .expect("register through the upstream");
    wait_servers(&u, &[main("10.0.0.9:80", 1)]);
    r.deregister_blocking().unwrap();
    wait_servers(&u, &[]);
}
